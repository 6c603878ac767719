"""A category from a shared perceptual list reaches every output a near match appears in.

The sets are written the way other organisations exchange them: a ``pdq,category`` CSV with no file digests,
and a folder of vPDQ hash files with a ``categories.csv`` naming the videos.  Altered copies of the known
(generated) picture and video are scanned; the category must be on the hits, in the charging table's indicative
basis, in the exports, and in ``hashset lookup --pdq``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import fieldlab
from fieldlab.api import export_case
from fieldlab.case.store import CaseStore
from fieldlab.cli import app
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.detect.video import video_pdq
from fieldlab.report.charging import TOTAL, charging_table
from fieldlab.report.hits import write_hits_csv
from tests.detect.media_builders import encoded, picture, procedural_video, reencode_video


@dataclass(frozen=True)
class NearCase:
    case: Path
    home: Path
    known_pdq: str


@pytest.fixture(scope="module")
def near_case(tmp_path_factory: pytest.TempPathFactory) -> NearCase:
    root = tmp_path_factory.mktemp("near-categories")
    home = root / "home"
    original = picture(61, 640, 480)
    known_pdq = pdq_hex(image_pdq(encoded(original, quality=95)).pdq)
    shared = root / "shared-pdq.csv"  # as exchanged: PDQ and category, no file digest; another picture beside it
    shared.write_text(f"pdq,category\n{known_pdq},B\n{pdq_hex(image_pdq(encoded(picture(62))).pdq)},A\n")
    fieldlab.import_hashset(shared, name="shared-pdq", home=home)

    work = root / "work"
    work.mkdir()
    known_video = procedural_video(work / "clip.mp4", seed=63, seconds=4.0, size=(320, 240))
    videos = root / "known-videos"
    videos.mkdir()
    (videos / "clip.txt").write_text("".join(f"{f.frame},{f.quality},{pdq_hex(f.pdq)},{f.timestamp:.3f}\n"
                                             for f in video_pdq(str(known_video)).frames))
    (videos / "categories.csv").write_text("File Name;Category\nclip.mp4;C\n")
    fieldlab.import_hashset(videos, name="shared-videos", category="A", home=home)

    evidence = root / "evidence"
    (evidence / "Pictures").mkdir(parents=True)
    (evidence / "Pictures" / "resized.jpg").write_bytes(encoded(original.resize((320, 240)), quality=70).getvalue())
    (evidence / "Pictures" / "rotated.jpg").write_bytes(
        encoded(original.transpose(Image.Transpose.ROTATE_90), quality=85).getvalue())
    (evidence / "Pictures" / "unrelated.jpg").write_bytes(encoded(picture(64, 640, 480), quality=85).getvalue())
    reencode_video(known_video, evidence / "forwarded.mp4", size=(240, 180), crf=35)
    fieldlab.scan(evidence, root / "case", exhibit_ref="EX1", home=home)
    return NearCase(root / "case", home, known_pdq)


def test_near_hits_carry_the_lists_category_into_the_hits_csv(near_case: NearCase) -> None:
    out = io.StringIO()
    write_hits_csv(fieldlab.hits(near_case.case), out)
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert set(rows) == {"Pictures/resized.jpg", "Pictures/rotated.jpg", "forwarded.mp4"}
    for path in ("Pictures/resized.jpg", "Pictures/rotated.jpg"):
        assert (rows[path]["method"], rows[path]["category"], rows[path]["hash_set"]) == ("pdq", "B", "shared-pdq")
        assert rows[path]["matched_hash"] == near_case.known_pdq
    video = rows["forwarded.mp4"]
    assert (video["method"], video["category"], video["matched_hash"]) == ("vpdq", "C", "clip")


def test_the_charging_table_counts_them_as_indicative_under_the_lists_category(near_case: NearCase) -> None:
    store = CaseStore.open(near_case.case, create=False)
    try:
        table = charging_table(store, "uk")
    finally:
        store.close()
    assert table.images(TOTAL, "indicative", "still", "B") == 2
    assert table.images(TOTAL, "indicative", "movie", "C") == 1
    assert {r.basis for r in table.rows} == {"indicative"}  # a near match is a lead, never a hash-set count
    hows = {i.path: i.how for i in table.items}
    assert hows["Pictures/resized.jpg"].startswith("pdq distance ") and hows["Pictures/resized.jpg"].endswith(
        " in shared-pdq")
    assert hows["forwarded.mp4"].startswith("vpdq distance ") and hows["forwarded.mp4"].endswith(" in shared-videos")


def test_the_vics_export_marks_them_suspected_with_the_lists_category(near_case: NearCase, tmp_path: Path) -> None:
    written = export_case(near_case.case, "vics", tmp_path / "case.vics.json")
    media = json.loads(written.output.read_text(encoding="utf-8"))["value"][0]["Media"]
    by_name = {m["MediaFiles"][0]["FileName"]: m for m in media}
    assert set(by_name) == {"resized.jpg", "rotated.jpg", "forwarded.mp4"}
    assert [by_name[n]["Category"] for n in ("resized.jpg", "rotated.jpg", "forwarded.mp4")] == ["B", "B", "C"]
    assert all(m["IsSuspected"] and m["PrecategorizationSource"].startswith("shared-") for m in media)


@pytest.mark.parametrize("fmt", ["items-csv", "dfxml", "case-uco"])
def test_the_other_exports_carry_the_category_of_a_near_match(near_case: NearCase, tmp_path: Path, fmt: str) -> None:
    written = export_case(near_case.case, fmt, tmp_path / f"case.{fmt}")
    text = written.output.read_text(encoding="utf-8")
    assert "pdq distance" in text and "in shared-pdq" in text and "vpdq distance" in text
    if fmt == "items-csv":
        rows = {r["path"]: r for r in csv.DictReader(io.StringIO(text))}
        assert (rows["Pictures/rotated.jpg"]["category"], rows["Pictures/rotated.jpg"]["basis"]) == ("B", "indicative")
        assert rows["forwarded.mp4"]["category"] == "C" and rows["Pictures/unrelated.jpg"]["category"] == ""
    elif fmt == "dfxml":
        assert text.count('basis="indicative"') == 3
        assert text.count(">B</fieldlab:category>") == 2 and text.count(">C</fieldlab:category>") == 1
    else:
        assert text.count('"uk category B"') == 2 and text.count('"uk category C"') == 1


def test_lookup_with_pdq_shows_the_lists_category(near_case: NearCase) -> None:
    result = CliRunner().invoke(app, ["hashset", "lookup", "--pdq", "--home", str(near_case.home),
                                      near_case.known_pdq], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "shared-pdq" in result.output and "B (uk)" in result.output
