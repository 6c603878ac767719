"""Resuming and re-running: a scan killed at any point of any stage and resumed, or run again once finished,
records exactly what one uninterrupted scan records (items, hits, media, errors)."""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import fieldlab
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.detect.video import video_pdq
from fieldlab.triage.kill_point import VARIABLE as KILL_VARIABLE
from tests.builders import KnownFile, write_csv_hashset
from tests.detect.media_builders import encoded, picture, procedural_video, reencode_video
from tests.evidence.disk_builders import PlantedFile, build_disk

SEED = 1613  # issue 16.13: the kill points are drawn from it, so a failure is reproduced by running again
SMALL_FILES = 2300  # more than one walk step (2000 entries) and several reading batches (1000 files)


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    return encoded(image, quality=quality).getvalue()


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An NTFS disk whose free space holds a deleted known picture (carved again: a duplicate) and, in the gap after
    the partition, a known picture no file lists; known pictures in MD5/SHA-1 and PDQ sets, an altered copy, a flat
    picture whose PDQ is known but too weak to match, a known-good picture, a known video re-encoded, a zip holding
    a known picture, a truncated picture and a truncated zip, and enough small files for several walk steps and
    reading batches.  Returns the disk and the fieldlab home holding the sets."""
    root = tmp_path_factory.mktemp("resume")
    known = {name: picture(seed, 640, 480) for name, seed in (("kept", 31), ("gone", 32), ("zipped", 33), ("gap", 34))}
    flat = Image.new("RGB", (640, 480), (128, 128, 128))
    files = [
        PlantedFile("Users/sam/Pictures/kept.jpg", _jpeg(known["kept"])),
        PlantedFile("Users/sam/Pictures/gone.jpg", _jpeg(known["gone"]), deleted=True),
        PlantedFile("Users/sam/Pictures/altered.jpg", _jpeg(known["kept"].resize((400, 300)), 60)),
        PlantedFile("Users/sam/Pictures/grey.jpg", _jpeg(flat)),
        PlantedFile("Users/sam/Pictures/other.png", encoded(picture(35, 320, 240), "PNG").getvalue()),
        PlantedFile("Users/sam/Pictures/broken.jpg", _jpeg(picture(36, 640, 480))[:5000]),
        PlantedFile("Users/sam/Downloads/pics.zip", _zip({"inside.jpg": _jpeg(known["zipped"]),
                                                          "also.jpg": _jpeg(picture(37, 320, 240))})),
        PlantedFile("Users/sam/Downloads/cut.zip",
                    _zip({"a.txt": b"x" * 3000, "b.jpg": _jpeg(picture(39, 320, 240))})[:-900]),
    ]
    work = root / "work"
    work.mkdir()
    original = procedural_video(work / "clip.mp4", seed=38, seconds=3, size=(320, 240))
    copy = reencode_video(original, work / "copy.mp4", (240, 180)).read_bytes()
    files.append(PlantedFile("Users/sam/Videos/clip.mp4", copy))
    files += [PlantedFile(f"Windows/Logs/{n // 500:02d}/log{n:05d}.txt", f"entry {n}\n".encode())
              for n in range(SMALL_FILES)]
    (root / "evidence").mkdir()
    disk = build_disk(root / "evidence" / "disk.raw", "mbr", [("ntfs", 32, files)], gap_mib=2)
    gap_picture = _jpeg(known["gap"])
    with open(disk.path, "r+b") as raw:
        raw.seek(disk.gaps[0][0] + 8192)
        raw.write(gap_picture)

    sets = root / "hashsets"
    sets.mkdir()
    exact = [KnownFile("kept", files[0].data, "A"), KnownFile("gone", files[1].data, "B"),
             KnownFile("zipped", _jpeg(known["zipped"]), "C"), KnownFile("gap", gap_picture, "A")]
    write_csv_hashset(sets / "exact.csv", exact)
    write_csv_hashset(sets / "good.csv", [KnownFile("other", files[4].data, "non-indecent")])
    pdqs = [image_pdq(encoded(image, quality=95)).pdq for image in (*known.values(), flat)]
    (sets / "pictures.pdq").write_text("".join(f"pdq {pdq_hex(p)}\n" for p in pdqs))
    videos = sets / "videos"
    videos.mkdir()
    (videos / "clip-38.txt").write_text("".join(f"{f.frame},{f.quality},{pdq_hex(f.pdq)},{f.timestamp:.3f}\n"
                                                for f in video_pdq(str(original)).frames))
    home = root / "fieldlab-home"
    _import_sets(sets, home)
    return disk.path, home


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def _import_sets(sets: Path, home: Path) -> None:
    fieldlab.import_hashset(sets / "exact.csv", name="exact", home=home)
    fieldlab.import_hashset(sets / "good.csv", name="good", home=home, known_good=True)
    fieldlab.import_hashset(sets / "pictures.pdq", name="pictures", category="B", home=home)
    fieldlab.import_hashset(sets / "videos", name="videos", category="A", home=home)


def _scan(source: Path, home: Path, case_dir: Path, kill_at: str | None = None, **options: object) -> int | None:
    """A scan in a child process of its own (forked: no second start-up), as ``fieldlab scan`` runs one; with
    ``kill_at``, it kills itself there (SIGKILL); ``options`` go to ``fieldlab.scan``.  Returns the child's exit
    code."""
    child = multiprocessing.get_context("fork").Process(target=_scan_in_child,
                                                        args=(source, home, case_dir, kill_at, options))
    child.start()
    child.join(timeout=120)
    return child.exitcode


def _scan_in_child(source: Path, home: Path, case_dir: Path, kill_at: str | None, options: dict) -> None:
    os.environ.pop(KILL_VARIABLE, None)
    if kill_at:
        os.environ[KILL_VARIABLE] = kill_at
    fieldlab.scan(source, case_dir, home=home, workers=2, **{"exhibit_ref": "HDD", **options})


def _rows(db: sqlite3.Connection, table: str, leave_out: set[str]) -> list[tuple]:
    """Every row of ``table`` without ids and times, its item named by locator: comparable across cases."""
    columns = [c for (_, c, *_) in db.execute(f"PRAGMA table_info({table})") if c not in leave_out]
    named = ", ".join("(SELECT locator FROM items WHERE id = t.item_id)" if c == "item_id" else f"t.{c}"
                      for c in columns)
    return sorted(db.execute(f"SELECT {named} FROM {table} t").fetchall(), key=repr)


def _recorded(case_dir: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(case_dir / "case.sqlite")
    try:
        return {
            "items": _rows(db, "items", {"id", "exhibit_id"}),
            "hits": _rows(db, "hits", {"id"}),
            "media": _rows(db, "media", set()),
            "video_frames": _rows(db, "video_frames", set()),
            "errors": _rows(db, "errors", {"id", "exhibit_id", "at"}),
            "regions": _rows(db, "regions", {"id", "exhibit_id", "carved_at"}),
            "exhibit": db.execute("SELECT walk_complete, hash_state, scan_finished_at IS NOT NULL, "
                                  "(SELECT COUNT(*) FROM regions WHERE carved_at IS NULL) FROM exhibits").fetchall(),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def uninterrupted(
    evidence: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, list[tuple]]]:
    """The case of one scan run start to end, and what it recorded."""
    disk, home = evidence
    case_dir = tmp_path_factory.mktemp("case") / "uninterrupted"
    assert _scan(disk, home, case_dir) == 0
    return case_dir, _recorded(case_dir)



def _copy_case(case_dir: Path, to: Path) -> Path:
    """The case folder copied with its database through SQLite's backup: a plain file copy races the -wal file,
    which the last connection to close (here or a garbage-collected one) checkpoints and deletes mid-copy."""
    shutil.copytree(case_dir, to, ignore=shutil.ignore_patterns("case.sqlite*"))
    source, copy = sqlite3.connect(case_dir / "case.sqlite"), sqlite3.connect(to / "case.sqlite")
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return to


def _differences(expected: dict[str, list[tuple]], found: dict[str, list[tuple]]) -> dict[str, tuple[list, list]]:
    """Per table, the rows only the uninterrupted scan has and the rows only the other has."""
    return {table: ([r for r in rows if r not in found[table]], [r for r in found[table] if r not in rows])
            for table, rows in expected.items() if rows != found[table]}


def test_the_uninterrupted_scan_meets_every_rule_the_comparisons_rely_on(
    uninterrupted: tuple[Path, dict[str, list[tuple]]]
) -> None:
    """Without these, the comparisons below could pass on evidence that never exercises a rule."""
    db = sqlite3.connect(uninterrupted[0] / "case.sqlite")
    methods = dict(db.execute("SELECT i.path, group_concat(h.method) FROM items i LEFT JOIN hits h ON h.item_id = i.id "
                              "WHERE i.flags LIKE '%duplicate%' OR i.path LIKE '%kept.jpg' OR i.path LIKE '%grey.jpg' "
                              "OR i.path LIKE '%clip.mp4' GROUP BY i.id"))
    duplicates = [path for path in methods if path.startswith("$Unallocated")]
    assert len(duplicates) == 1 and methods[duplicates[0]] is None  # the deleted known picture, carved again
    assert sorted(methods[next(p for p in methods if p.endswith("kept.jpg"))].split(",")) == ["md5", "pdq", "sha1"]
    assert methods[next(p for p in methods if p.endswith("grey.jpg"))] is None  # its PDQ is known, but too weak
    assert methods[next(p for p in methods if p.endswith("clip.mp4"))] == "vpdq"
    good = db.execute("SELECT i.path, COUNT(h.id), COUNT(m.item_id) FROM items i LEFT JOIN hits h ON h.item_id = i.id "
                      "LEFT JOIN media m ON m.item_id = i.id WHERE i.known_good GROUP BY i.id").fetchall()
    assert [(path.rsplit("/", 1)[-1], hit_count, decoded) for path, hit_count, decoded in good] == [("other.png", 0, 0)]
    assert {stage for (stage, *_) in db.execute("SELECT stage FROM errors")} >= {"decode"}
    assert db.execute("SELECT COUNT(*) FROM errors").fetchone()[0] >= 2


def test_running_scan_again_on_a_finished_exhibit_changes_nothing(
    evidence: tuple[Path, Path], uninterrupted: tuple[Path, dict[str, list[tuple]]], tmp_path: Path
) -> None:
    disk, home = evidence
    case_dir, first = uninterrupted
    again = _copy_case(case_dir, tmp_path / "again")
    assert _scan(disk, home, again) == 0
    assert _differences(first, _recorded(again)) == {}


# Units each stage surely has on this evidence (see kill_point.py), so a kill drawn among them always lands:
# the walk's entries, reading batches of at most 1000 files, the regions of free space, decoding batches of at
# most 8 of the 10 pictures and videos, the 8 MiB chunks of a 35 MiB disk.
UNITS = {"walk": SMALL_FILES, "read": 3, "carve": 7, "decode": 2, "verify": 4}


@pytest.mark.parametrize("stage", list(UNITS))
def test_a_scan_killed_at_a_random_point_of_any_stage_resumes_to_the_uninterrupted_result(
    evidence: tuple[Path, Path], uninterrupted: tuple[Path, dict[str, list[tuple]]], tmp_path: Path, stage: str
) -> None:
    disk, home = evidence
    unit = random.Random(f"{SEED}:{stage}").randint(1, UNITS[stage])
    assert _scan(disk, home, tmp_path / "case", kill_at=f"{stage}:{unit}") == -signal.SIGKILL, f"{stage}:{unit}"
    assert _scan(disk, home, tmp_path / "case") == 0
    assert _differences(uninterrupted[1], _recorded(tmp_path / "case")) == {}


def test_a_scan_killed_in_every_stage_in_turn_and_resumed_each_time_ends_as_the_uninterrupted_one(
    evidence: tuple[Path, Path], uninterrupted: tuple[Path, dict[str, list[tuple]]], tmp_path: Path
) -> None:
    """Five kills into one case, as an examiner's machine might crash again and again.  Each resumed run counts
    units from its own start; the first unit of read, carve and decode is always still to come at that point."""
    disk, home = evidence
    draw = random.Random(SEED)
    kills = [f"walk:{draw.randint(1, SMALL_FILES)}", "read:1", "carve:1", "decode:1", f"verify:{draw.randint(1, 4)}"]
    for kill_at in kills:
        assert _scan(disk, home, tmp_path / "case", kill_at) == -signal.SIGKILL, kill_at
    assert _scan(disk, home, tmp_path / "case") == 0
    assert _differences(uninterrupted[1], _recorded(tmp_path / "case")) == {}
