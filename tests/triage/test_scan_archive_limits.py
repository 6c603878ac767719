"""Scans of archives at their limits: cut short, bombs stopped, nested deeper than the limit.

Each must end with what could be read recorded (hashed, matched, flagged ``truncated``) and the stop reported in
words, never with an item silently empty or a scan that does not end.
"""

from __future__ import annotations

import gzip
import random
import sqlite3
from pathlib import Path

import py7zr
from typer.testing import CliRunner

import fieldlab
from fieldlab.cli import app
from fieldlab.demo import procedural_jpeg
from tests.builders import KnownFile, tar_bytes, write_csv_hashset
from tests.evidence.test_archives_truncated_and_bombs import _Zeros


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


def _evidence(tmp_path: Path, files: dict[str, bytes]) -> Path:
    evidence = tmp_path / "evidence"
    for name, data in files.items():
        (evidence / name).parent.mkdir(parents=True, exist_ok=True)
        (evidence / name).write_bytes(data)
    return evidence


def test_a_known_picture_in_a_gzip_without_its_footer_is_hashed_matched_and_flagged_truncated(tmp_path: Path) -> None:
    picture = procedural_jpeg(41, 640, 480)
    evidence = _evidence(tmp_path, {"photo.jpg.gz": gzip.compress(picture, mtime=0)[:-8]})  # like dfvfs corrupt1.gz
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("k", picture, "A")]), name="known")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    size, flags, state = db.execute("SELECT size, flags, state FROM items WHERE path LIKE 'photo.jpg.gz › %'").fetchone()
    assert (size, state) == (len(picture), "done") and "truncated" in flags
    assert {h.path for h in fieldlab.hits(tmp_path / "case")} == {"photo.jpg.gz › content"}
    (kind, message), = db.execute("SELECT kind, message FROM errors WHERE path LIKE 'photo.jpg.gz › %'").fetchall()
    assert kind == "truncated" and f"{len(picture):,} bytes readable" in message
    assert db.execute("SELECT COUNT(*) FROM media JOIN items ON items.id = media.item_id "
                      "WHERE items.path LIKE 'photo.jpg.gz › %' AND media.pdq IS NOT NULL").fetchone() == (1,)


def test_a_cut_tar_gz_gives_its_complete_members_and_the_readable_part_of_the_cut_one(tmp_path: Path) -> None:
    picture = procedural_jpeg(42)
    noise = random.Random(7).randbytes(400_000)
    packed = gzip.compress(tar_bytes({"a/k.jpg": picture, "a/noise.bin": noise, "a/late.txt": b"never reached"}), mtime=0)
    evidence = _evidence(tmp_path, {"backup.tar.gz": packed[: len(packed) - 200_000]})
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("k", picture, "B")]), name="known")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    rows = {path.rsplit(" › ", 1)[-1]: (size, flags) for path, size, flags in
            db.execute("SELECT path, size, flags FROM items WHERE path LIKE 'backup.tar.gz › %'")}
    assert set(rows) == {"content", "a/k.jpg", "a/noise.bin"}
    assert "truncated" in rows["content"][1] and "truncated" not in rows["a/k.jpg"][1]
    assert "truncated" in rows["a/noise.bin"][1] and 0 < rows["a/noise.bin"][0] < len(noise)
    assert {h.path for h in fieldlab.hits(tmp_path / "case")} == {"backup.tar.gz › content › a/k.jpg"}
    kinds = set(db.execute("SELECT path, kind FROM errors WHERE path LIKE 'backup.tar.gz › %'"))
    assert kinds == {("backup.tar.gz › content", "truncated"),  # the gzip stream cut, its tar listed up to the cut
                     ("backup.tar.gz › content › a/noise.bin", "truncated")}


def test_a_multi_member_gzip_bomb_stops_early_and_keeps_its_prefix_as_a_truncated_item(tmp_path: Path) -> None:
    """Like logs.gz: members of 16 MiB of zeros, 12.5 GiB in all; the scan stops it soon after 64 MiB."""
    member = gzip.compress(bytes(16 << 20), compresslevel=9, mtime=0)
    evidence = _evidence(tmp_path, {"logs.gz": member * 800, "photo.jpg": procedural_jpeg(43)})
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    size, flags, md5 = db.execute("SELECT size, flags, md5 FROM items WHERE path = 'logs.gz › content'").fetchone()
    assert (64 << 20) < size < (96 << 20) and "truncated" in flags and md5 is not None
    (kind, message), = db.execute("SELECT kind, message FROM errors WHERE path = 'logs.gz › content'").fetchall()
    assert kind == "bomb" and f"{size:,} bytes" in message
    assert db.execute("SELECT state FROM items WHERE path = 'photo.jpg'").fetchone() == ("done",)


def test_a_solid_7z_bomb_before_many_small_members_ends_with_the_members_not_opened_reported(tmp_path: Path) -> None:
    path = tmp_path / "archive.7z"
    with py7zr.SevenZipFile(path, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 0}]) as archive:
        archive.writestr(procedural_jpeg(45), "first.jpg")
        archive.writef(_Zeros(100 << 20), "zeros.bin")
        for n in range(300):
            archive.writestr(f"after {n}".encode(), f"after/{n}.txt")
    evidence = _evidence(tmp_path, {"archive.7z": path.read_bytes()})
    path.unlink()
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    states = dict(db.execute("SELECT path, state FROM items"))
    assert states["archive.7z › first.jpg"] == "done" and len(states) == 1 + 1 + 1 + 300
    size, flags = db.execute("SELECT size, flags FROM items WHERE path = 'archive.7z › zeros.bin'").fetchone()
    assert 0 < size < (100 << 20) and "truncated" in flags  # stopped by the archive's budget, prefix kept
    not_opened = db.execute("SELECT kind, message FROM errors WHERE path LIKE 'archive.7z › after/%'").fetchall()
    assert len(not_opened) == 300 and all(kind == "limit" and "expansion budget" in m for kind, m in not_opened)
    assert db.execute("SELECT kind FROM errors WHERE path = 'archive.7z › zeros.bin'").fetchone() == ("bomb",)


def _nested_tar_gz(picture: bytes, levels: int) -> bytes:
    data, name = picture, "k.jpg"
    for level in range(levels, 0, -1):
        data, name = gzip.compress(tar_bytes({name: data}), mtime=0), f"level{level}.tar.gz"
    return data


def test_a_known_picture_12_archives_deep_is_reached_with_max_depth_13_and_reported_as_nesting_without(
    tmp_path: Path,
) -> None:
    """A .tar.gz counts as one archive level (the gzip's content is the tar), as an examiner counts them."""
    picture = procedural_jpeg(44)
    evidence = _evidence(tmp_path, {"deep.tar.gz": _nested_tar_gz(picture, 12)})
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("k", picture, "A")]), name="known")

    fieldlab.scan(evidence, tmp_path / "limited", exhibit_ref="EX1")
    assert list(fieldlab.hits(tmp_path / "limited")) == []
    (path, kind, message), = _db(tmp_path / "limited").execute("SELECT path, kind, message FROM errors").fetchall()
    assert kind == "nesting" and path in message
    assert path.endswith("› level6.tar.gz")  # five archives opened (deep.tar.gz, level2..5): the sixth is not

    result = CliRunner().invoke(app, ["scan", str(evidence), "--case", str(tmp_path / "deep"), "--exhibit", "EX1",
                                      "--max-depth", "13"])
    assert result.exit_code == 0, result.output
    hits = list(fieldlab.hits(tmp_path / "deep"))
    assert {(hit.md5, hit.path.count(" › ")) for hit in hits} == {(KnownFile("k", picture, "A").md5, 24)}
    assert _db(tmp_path / "deep").execute("SELECT COUNT(*) FROM errors").fetchone() == (0,)
