"""The perceptual stage of a scan: altered copies of known pictures and videos are found as near matches."""

from __future__ import annotations

import ctypes
import faulthandler
import os
import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance

import fieldlab
from fieldlab.case.store import MediaResult
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.detect.video import video_pdq
from fieldlab.evidence.sources import SourceSpec
from fieldlab.problems import ProblemKind
from fieldlab.triage.media_pool import CRASHED, HUNG, MediaPool
from fieldlab.triage.perceive import MediaTask, perceive_batch
from tests.builders import KnownFile, write_csv_hashset
from tests.detect.media_builders import crop_each_side, encoded, picture, procedural_video, reencode_video


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


def _near_hits(case_dir: Path) -> dict[str, tuple[str, str, int, str | None]]:
    rows = _db(case_dir).execute(
        "SELECT i.path, h.method, h.category, h.distance, h.transform FROM hits h JOIN items i ON i.id = h.item_id "
        "WHERE h.method IN ('pdq', 'vpdq')"
    )
    return {path: (method, category, distance, transform) for path, method, category, distance, transform in rows}


@pytest.fixture()
def altered_copies(tmp_path: Path) -> tuple[Path, Path]:
    """A known picture's altered copies, an unrelated picture and a broken one; a PDQ set holding the original."""
    original = picture(21)
    evidence = tmp_path / "evidence"
    (evidence / "Pictures").mkdir(parents=True)
    variants = {
        "half.jpg": encoded(original.resize((600, 450)), quality=80),
        "recompressed.jpg": encoded(original, quality=35),
        "cropped.jpg": encoded(crop_each_side(original, 0.01), quality=90),
        "thumb.png": encoded(original.copy().reduce(4), "PNG"),
        "rotated.jpg": encoded(original.transpose(Image.Transpose.ROTATE_90), quality=90),
        "mirrored.webp": encoded(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "WEBP", quality=80),
        "brighter.jpg": encoded(ImageEnhance.Brightness(original).enhance(1.3), quality=85),
        "unrelated.jpg": encoded(picture(22), quality=90),
        "broken.jpg": encoded(picture(23), quality=90),
    }
    for name, stream in variants.items():
        data = stream.getvalue()
        (evidence / "Pictures" / name).write_bytes(data[: len(data) // 3] if name == "broken.jpg" else data)
    known = image_pdq(encoded(original, quality=95))
    hash_list = tmp_path / "known.pdq"
    hash_list.write_text(f"pdq {pdq_hex(known.pdq)}\n")
    return evidence, hash_list


def test_altered_copies_of_a_known_picture_are_near_matches_and_unrelated_ones_are_not(
    tmp_path: Path, altered_copies: tuple[Path, Path]
) -> None:
    evidence, hash_list = altered_copies
    fieldlab.import_hashset(hash_list, name="pdq-known")
    result = fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    found = _near_hits(tmp_path / "case")
    assert set(found) == {f"Pictures/{n}" for n in ("half.jpg", "recompressed.jpg", "cropped.jpg", "thumb.png",
                                                    "rotated.jpg", "mirrored.webp", "brighter.jpg")}
    assert all(method == "pdq" and distance <= 31 for method, _, distance, _ in found.values())
    assert found["Pictures/half.jpg"][3] == "original"
    assert found["Pictures/rotated.jpg"][3] not in (None, "original")
    assert found["Pictures/mirrored.webp"][3] not in (None, "original")
    assert result.progress.hit_items == 0  # a near match never counts as a confirmed known item
    assert sum(result.progress.near_by_category.values()) == 7
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.near_items == 7 and counts.hit_items == 0 and counts.media_decoded == 9
    errors = _db(tmp_path / "case").execute("SELECT stage, path FROM errors").fetchall()
    assert errors == [("decode", "Pictures/broken.jpg")]


def test_near_matches_appear_in_the_hits_export_with_distance_and_transform(
    tmp_path: Path, altered_copies: tuple[Path, Path]
) -> None:
    evidence, hash_list = altered_copies
    fieldlab.import_hashset(hash_list, name="pdq-known")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    rows = {h.path: h for h in fieldlab.hits(tmp_path / "case")}
    rotated = rows["Pictures/rotated.jpg"]
    assert rotated.method == "pdq" and rotated.distance is not None and rotated.transform
    assert rotated.matched_hash == hash_list.read_text().split()[1]


def test_without_the_perceptual_stage_nothing_is_decoded(tmp_path: Path, altered_copies: tuple[Path, Path]) -> None:
    evidence, hash_list = altered_copies
    fieldlab.import_hashset(hash_list, name="pdq-known")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1", perceptual=False)
    assert _db(tmp_path / "case").execute("SELECT COUNT(*) FROM media").fetchone() == (0,)


def test_a_set_imported_after_the_scan_matches_decoded_pictures_when_the_scan_is_run_again(
    tmp_path: Path, altered_copies: tuple[Path, Path]
) -> None:
    evidence, hash_list = altered_copies
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    assert _near_hits(tmp_path / "case") == {}
    fieldlab.import_hashset(hash_list, name="pdq-known")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    assert len(_near_hits(tmp_path / "case")) == 7


def test_known_good_pictures_are_not_decoded(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    logo = encoded(picture(30), quality=90).getvalue()
    (evidence / "logo.jpg").write_bytes(logo)
    (evidence / "photo.jpg").write_bytes(encoded(picture(31), quality=90).getvalue())
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "good.csv", [KnownFile("logo.jpg", logo, "")]),
                            name="nsrl-like", known_good=True)
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    decoded = _db(tmp_path / "case").execute("SELECT i.path FROM media m JOIN items i ON i.id = m.item_id").fetchall()
    assert decoded == [("photo.jpg",)]


def test_a_re_encoded_smaller_copy_of_a_known_video_is_matched_by_vpdq(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    original = procedural_video(work / "original.mp4", seed=7)
    known = tmp_path / "known-videos"
    known.mkdir()
    hashed = video_pdq(str(original))
    (known / "clip-7.txt").write_text(
        "".join(f"{f.frame},{f.quality},{pdq_hex(f.pdq)},{f.timestamp:.3f}\n" for f in hashed.frames)
    )
    fieldlab.import_hashset(known, name="known-videos", category="A")
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    reencode_video(original, evidence / "forwarded.mp4", size=(320, 240), crf=35)
    procedural_video(evidence / "other.mp4", seed=42)
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    found = _near_hits(tmp_path / "case")
    assert set(found) == {"forwarded.mp4"}
    method, category, percent, _ = found["forwarded.mp4"]
    assert (method, category) == ("vpdq", "A") and percent >= 80
    frames = _db(tmp_path / "case").execute(
        "SELECT COUNT(*) FROM video_frames f JOIN items i ON i.id = f.item_id WHERE i.path = 'other.mp4'"
    ).fetchone()[0]
    assert frames >= 9  # about one per second of ten, kept so known-video sets can be built from evidence


def _crash_on_second(spec: SourceSpec, tasks: list[MediaTask]) -> list[MediaResult]:
    """A decoding worker that dies as a native decoder would on the item numbered 2."""
    if any(t.item_id == 2 for t in tasks):
        faulthandler.disable()  # pytest's handler would print the crash as if the test run had failed
        ctypes.string_at(0)  # segmentation fault
    return perceive_batch(spec, tasks)


def _hang_on_second(spec: SourceSpec, tasks: list[MediaTask]) -> list[MediaResult]:
    """A decoding worker stuck, as a native decoder looping on crafted input would be, on the item numbered 2."""
    if any(t.item_id == 2 for t in tasks):
        while True:
            time.sleep(1)
    return perceive_batch(spec, tasks)


@pytest.mark.parametrize(("decode", "reason"), [(_crash_on_second, CRASHED), (_hang_on_second, HUNG.format(2))])
def test_a_decoder_crash_or_hang_costs_only_the_file_that_caused_it(tmp_path: Path, decode, reason: str) -> None:  # noqa: ANN001
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(1, 6):
        (evidence / f"{n}.jpg").write_bytes(encoded(picture(50 + n), quality=85).getvalue())
    spec = SourceSpec(str(evidence), "folder")
    tasks = [MediaTask(n, f"file:{n}.jpg", "image", os.path.getsize(evidence / f"{n}.jpg")) for n in range(1, 6)]
    results: dict[int, MediaResult] = {}
    with MediaPool(spec, 2, decode=decode, seconds_per_item=2) as pool:
        pool.submit(tasks[:3], {t.item_id: f"{t.item_id}.jpg" for t in tasks[:3]})
        pool.submit(tasks[3:], {t.item_id: f"{t.item_id}.jpg" for t in tasks[3:]})
        while pool.busy:
            for batch, _paths in pool.collect(block=False):
                results.update({r.item_id: r for r in batch})
            time.sleep(0.05)
    assert sorted(results) == [1, 2, 3, 4, 5]
    assert results[2].error.message == reason
    assert results[2].error.kind is (ProblemKind.LIMIT if decode is _hang_on_second else ProblemKind.DAMAGED)
    assert all(results[n].error is None and results[n].pdq for n in (1, 3, 4, 5))


def test_pictures_inside_a_disk_image_are_decoded_from_the_file_system_deleted_ones_too(tmp_path: Path) -> None:
    from tests.evidence.disk_builders import PlantedFile, build_disk

    original = picture(71)
    files = [
        PlantedFile("Users/sam/Pictures/copy.jpg", encoded(original.resize((800, 600)), quality=75).getvalue()),
        PlantedFile("Users/sam/Pictures/gone.png", encoded(original.reduce(2), "PNG").getvalue(), deleted=True),
        PlantedFile("Users/sam/Pictures/other.jpg", encoded(picture(72), quality=80).getvalue()),
    ]
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "disk.raw", "mbr", [("ntfs", 24, files)])
    hash_list = tmp_path / "known.pdq"
    hash_list.write_text(f"pdq {pdq_hex(image_pdq(encoded(original, quality=95)).pdq)}\n")
    fieldlab.import_hashset(hash_list, name="pdq-known")
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="HDD")
    found = _near_hits(tmp_path / "case")
    assert {p.rsplit("/", 1)[-1] for p in found} == {"copy.jpg", "gone.png"}


def test_nothing_is_decoded_before_every_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(12):
        (evidence / f"{n:02}.jpg").write_bytes(encoded(picture(80 + n, 640, 480), quality=85).getvalue())
    for n in range(3000):  # enough files that reading outlasts the first pictures' decoding
        (evidence / f"note{n}.txt").write_bytes(b"x" * (n % 97))
    procedural_video(evidence / "clip.mp4", seed=3, seconds=3)
    case = tmp_path / "case"
    submitted: list[tuple[set[str], int]] = []  # at each batch: its families, items still unread
    submit = MediaPool.submit

    def noting(pool: MediaPool, tasks: list[MediaTask], paths: dict[int, str], alone: bool = False) -> None:
        (unread,) = _db(case).execute("SELECT COUNT(*) FROM items WHERE state = 'pending'").fetchone()
        submitted.append(({t.family for t in tasks}, unread))
        submit(pool, tasks, paths, alone)

    monkeypatch.setattr(MediaPool, "submit", noting)
    fieldlab.scan(evidence, case, exhibit_ref="EX1")
    assert submitted and all(unread == 0 for _, unread in submitted)
    assert any("video" in families for families, _ in submitted)
    assert _db(case).execute("SELECT COUNT(*) FROM media WHERE pdq IS NOT NULL OR item_id IN "
                             "(SELECT item_id FROM video_frames)").fetchone() == (13,)


def test_the_image_verification_is_hurried_when_decoding_starts_not_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldlab.evidence.verify import BackgroundVerification
    from tests.evidence.disk_builders import PlantedFile, build_disk

    files = [PlantedFile(f"Users/sam/Pictures/{n}.jpg", encoded(picture(90 + n, 320, 240), quality=80).getvalue())
             for n in range(20)]
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "disk.raw", "mbr", [("ntfs", 24, files)])
    events: list[str] = []
    hurry, submit = BackgroundVerification.hurry, MediaPool.submit
    monkeypatch.setattr(BackgroundVerification, "hurry", lambda v: (events.append("verification"), hurry(v))[1])
    monkeypatch.setattr(MediaPool, "submit", lambda pool, *a, **k: (events.append("batch"), submit(pool, *a, **k))[1])
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="HDD")
    assert events[0] == "verification" and events.count("verification") == 1
    assert "batch" in events
