"""Near-duplicate groups, examiners' categorisations, and hash sets grown from them."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import fieldlab
from fieldlab.case.decisions import categorise, decided_items
from fieldlab.case.groups import group_of, group_pictures
from fieldlab.case.store import CaseError, CaseStore
from fieldlab.cli import app
from fieldlab.hashsets.library import HashSetLibrary
from tests.detect.media_builders import encoded, picture, procedural_video, reencode_video

runner = CliRunner()


def _item_ids(case_dir: Path) -> dict[str, int]:
    return dict(sqlite3.connect(case_dir / "case.sqlite").execute("SELECT path, id FROM items"))


@pytest.fixture()
def scanned(tmp_path: Path) -> Path:
    """Two families of copies (three and two pictures), one picture on its own, one video."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    first, second = picture(61), picture(62)
    files = {
        "a1.jpg": encoded(first, quality=90), "a2.jpg": encoded(first.resize((600, 450)), quality=60),
        "a3.png": encoded(first.reduce(3), "PNG"),
        "b1.jpg": encoded(second, quality=90), "b2.webp": encoded(second, "WEBP", quality=70),
        "alone.jpg": encoded(picture(63), quality=90),
    }
    for name, stream in files.items():
        (evidence / name).write_bytes(stream.getvalue())
    procedural_video(evidence / "clip.mp4", seed=64, seconds=4)
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    return tmp_path / "case"


def test_copies_of_one_picture_form_one_group_and_a_lone_picture_none(scanned: Path) -> None:
    store = CaseStore.open(scanned, create=False)
    summary = group_pictures(store)
    ids = _item_ids(scanned)
    assert (summary.groups, summary.grouped_items, summary.largest) == (2, 5, 3)
    assert group_of(store, ids["a2.jpg"]) == sorted(ids[n] for n in ("a1.jpg", "a2.jpg", "a3.png"))
    assert group_of(store, ids["b2.webp"]) == sorted(ids[n] for n in ("b1.jpg", "b2.webp"))
    assert group_of(store, ids["alone.jpg"]) == [ids["alone.jpg"]]
    assert group_pictures(store, radius=0).groups <= 1  # recomputed, not added to: tight radius, fewer groups


def test_a_categorisation_is_recorded_with_its_examiner_and_the_latest_stands(scanned: Path) -> None:
    store = CaseStore.open(scanned, create=False)
    ids = _item_ids(scanned)
    categorise(store, [ids["a1.jpg"]], "C", examiner="examiner-1")
    categorise(store, [ids["a1.jpg"], ids["b1.jpg"]], "B", examiner="examiner-2", note="second look")
    decided = {d.path: d.category for d in decided_items(store)}
    assert decided == {"a1.jpg": "B", "b1.jpg": "B"}
    actions = [e.action for e in store.audit.entries()]
    assert actions.count("items_categorised") == 2 and store.audit.verify().ok
    with pytest.raises(CaseError, match="not a category"):
        categorise(store, [ids["a1.jpg"]], "Z")
    with pytest.raises(CaseError, match="no item"):
        categorise(store, [999_999], "A")


def test_sets_built_from_decisions_match_the_same_material_in_the_next_case(scanned: Path, tmp_path: Path) -> None:
    ids = _item_ids(scanned)
    assert runner.invoke(app, ["group", str(scanned)]).exit_code == 0
    result = runner.invoke(app, ["categorise", str(scanned), str(ids["a1.jpg"]), str(ids["clip.mp4"]),
                                 "--category", "A", "--whole-group"])
    assert result.exit_code == 0 and "4 item(s) categorised A" in result.output, result.output
    built = runner.invoke(app, ["hashset", "from-case", str(scanned), "--name", "own"])
    assert built.exit_code == 0, built.output
    names = {info.name: info for info in HashSetLibrary().list()}
    assert names["own"].counts == {"md5": 4, "sha1": 4, "pdq": 3}  # the video by its digests too
    assert names["own-videos"].counts["videos"] == 1

    # the next suspect holds an exact copy, a new resize of the family, and the video re-encoded
    evidence = tmp_path / "next"
    evidence.mkdir()
    (evidence / "same.jpg").write_bytes((scanned.parent / "evidence" / "a1.jpg").read_bytes())
    (evidence / "smaller.jpg").write_bytes(encoded(picture(61).resize((400, 300)), quality=70).getvalue())
    (evidence / "rotated.jpg").write_bytes(encoded(picture(61).transpose(Image.Transpose.ROTATE_270), quality=80).getvalue())
    reencode_video(scanned.parent / "evidence" / "clip.mp4", evidence / "forwarded.mp4", size=(320, 240), crf=32)
    fieldlab.scan(evidence, tmp_path / "next-case", exhibit_ref="EX2")
    found = {(h.path, h.method, h.category) for h in fieldlab.hits(tmp_path / "next-case")}
    assert ("same.jpg", "md5", "A") in found
    assert ("smaller.jpg", "pdq", "A") in found and ("rotated.jpg", "pdq", "A") in found
    assert ("forwarded.mp4", "vpdq", "A") in found


def test_building_a_set_from_a_case_without_decisions_is_refused(scanned: Path) -> None:
    result = runner.invoke(app, ["hashset", "from-case", str(scanned), "--name", "own"])
    assert result.exit_code == 2 and "categorised" in result.output


def test_a_case_from_an_earlier_layout_is_refused_with_advice(tmp_path: Path) -> None:
    CaseStore.open(tmp_path / "case").close()
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    db.execute("ALTER TABLE hits DROP COLUMN transform")
    db.commit()
    db.close()
    with pytest.raises(CaseError, match="earlier fieldlab.*hits.transform"):
        CaseStore.open(tmp_path / "case")


def test_a_set_name_that_is_a_path_is_refused_before_anything_is_written(scanned: Path, tmp_path: Path) -> None:
    store = CaseStore.open(scanned, create=False)
    categorise(store, [_item_ids(scanned)["a1.jpg"]], "A")
    from fieldlab.hashsets.from_case import build_from_case
    from fieldlab.hashsets.library import HashSetError

    escaped = Path(tempfile.gettempdir()).parent / f"{tmp_path.name}-escaped.csv"  # where ../../ leads from the work folder
    with pytest.raises(HashSetError, match="use letters"):
        build_from_case(store, HashSetLibrary(), f"../../{tmp_path.name}-escaped")
    assert not escaped.exists()
