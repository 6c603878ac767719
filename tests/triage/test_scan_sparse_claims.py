"""Containers claiming a huge media (a QCOW2 of 1 PiB, a VHDX of 64 TiB, a .dmg whose one table entry claims a
pebibyte of zeros) scan in seconds: the file system's picture is found by hash, a picture planted in its free
clusters is carved, the examiner is told what the media claims and what is stored.

Before the allocation maps each of these scans carved and hashed the claimed media byte by byte, for days: the scan
runs in a child process under a timeout, so a regression fails here quickly instead of hanging the suite."""

from __future__ import annotations

import os
import plistlib
import signal
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import pytsk3

import fieldlab
from fieldlab.demo import procedural_jpeg, procedural_png
from fieldlab.evidence.unallocated import unallocated_runs
from tests.builders import KnownFile, write_csv_hashset
from tests.conftest import REALDATA
from tests.evidence.chain_builders import run
from tests.evidence.disk_builders import PlantedFile, build_disk
from tests.evidence.test_udif import EXT2_SHA256

SCAN_SECONDS = 90  # each scan takes 2-15 s; the claimed media read whole would take days
DMG = REALDATA / "log2timeline__dfvfs" / "test_data" / "hfsplus_zlib.dmg"
CLAIM_NOTE = "claims a media of "


def _scan_within(seconds: float, image: Path, case: Path) -> None:
    """``fieldlab.scan`` of ``image`` in a child process (and its workers, in its own session), killed whole if it
    has not ended within ``seconds``."""
    code = "import sys, fieldlab; fieldlab.scan(sys.argv[1], sys.argv[2], exhibit_ref='VM', workers=1, sha256=True)"
    process = subprocess.Popen([sys.executable, "-c", code, str(image), str(case)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, errors = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"the scan of {image.name} did not end within {seconds} s")
    assert process.returncode == 0, errors[-3000:]


def _walk_notes(case: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(case / "case.sqlite")
    try:
        return db.execute("SELECT kind, message FROM errors WHERE stage = 'walk' ORDER BY id").fetchall()
    finally:
        db.close()


def _sha256s(case: Path) -> set[str]:
    db = sqlite3.connect(case / "case.sqlite")
    try:
        return {digest for (digest,) in db.execute("SELECT sha256 FROM items WHERE sha256 IS NOT NULL")}
    finally:
        db.close()


def _hash_state(case: Path) -> str:
    db = sqlite3.connect(case / "case.sqlite")
    try:
        return db.execute("SELECT hash_state FROM exhibits").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("fmt, claimed, options", [
    ("qcow2", "1P", []), ("vhdx", "64T", []), ("vpc", "2040G", []), ("vmdk", "4T", []),
    ("vmdk", "4T", ["-o", "subformat=streamOptimized"]),
], ids=["qcow2-1PiB", "vhdx-64TiB", "vhd-2040GiB", "vmdk-4TiB", "vmdk-stream-4TiB"])
def test_a_container_claiming_a_huge_media_scans_in_seconds_and_finds_and_carves_its_pictures(
        tmp_path: Path, fmt: str, claimed: str, options: list[str]) -> None:
    (tmp_path / "work").mkdir()
    listed_jpeg, wiped_png = procedural_jpeg(140, 640, 480), procedural_png(141, 320, 240)
    disk = build_disk(tmp_path / "work" / "disk.raw", "mbr",
                      [("fat32", 40, [PlantedFile("DCIM/holiday.jpg", listed_jpeg)])], gap_mib=1)
    part = disk.partitions[0]
    image = pytsk3.Img_Info(str(disk.path))
    free = list(unallocated_runs(pytsk3.FS_Info(image, offset=part.start_offset), "fat32", part.start_offset,
                                 part.size, lambda o, n: image.read(o, n)))
    start, length = free[-1]
    planted = start + length // 2 // 4096 * 4096  # in the middle of the last free run: no name points at it
    with open(disk.path, "r+b") as raw:
        raw.seek(planted)
        raw.write(wiped_png)
    (tmp_path / "evidence").mkdir()
    container = tmp_path / "evidence" / f"vm.{fmt}"
    run("qemu-img", "create", "-q", "-f", fmt, *options, str(container), claimed)
    run("qemu-img", "convert", "-n", "--target-is-zero", "-f", "raw", "-O", fmt, str(disk.path), str(container))
    _scan_finds_the_listed_and_the_carved(tmp_path, container, listed_jpeg, wiped_png, planted)
    notes = [(kind, message) for kind, message in _walk_notes(tmp_path / "case") if CLAIM_NOTE in message]
    assert [kind for kind, _ in notes] == ["normal"]
    assert "only the stored parts are carved" in notes[0][1]
    assert _hash_state(tmp_path / "case") == "no stored hash"  # nothing to compare with, and far too big to hash


def _scan_finds_the_listed_and_the_carved(tmp_path: Path, container: Path, listed: bytes, wiped: bytes,
                                          planted: int) -> None:
    """Scanned (within its time limit) against a set of both pictures: the file system's picture is a hit by its
    listing and the wiped one by the carved run at ``planted``."""
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [
        KnownFile("holiday.jpg", listed, "A"), KnownFile("wiped.png", wiped, "C")]), name="known")

    _scan_within(SCAN_SECONDS, container, tmp_path / "case")

    hits = {(h.category, h.locator.startswith("carved:")): h.locator for h in fieldlab.hits(tmp_path / "case")}
    assert set(hits) == {("A", False), ("C", True)}
    assert hits[("C", True)] == f"carved:{planted}+{len(wiped)}"


def test_a_huge_file_systems_free_space_is_carved_only_where_the_container_stores_it(tmp_path: Path) -> None:
    """An ext4 of 256 GiB (64M blocks, most of its block groups never written) in a QCOW2 of 1 PiB: its free
    space is looked for and carved only in the clusters the QCOW2 stores."""
    listed_jpeg, wiped_png = procedural_jpeg(150, 640, 480), procedural_png(151, 320, 240)
    staging, work = tmp_path / "staging", tmp_path / "work"
    staging.mkdir(), work.mkdir()
    (staging / "holiday.jpg").write_bytes(listed_jpeg)
    raw = work / "volume.raw"
    with raw.open("wb") as f:
        f.truncate(256 << 30)
    run("mkfs.ext4", "-q", "-F", "-d", str(staging), "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", str(raw))
    planted = (128 << 30) + 12_345 * 4096  # half-way in, in a block group nothing was ever written to
    with raw.open("r+b") as f:
        f.seek(planted)
        f.write(wiped_png)
    (tmp_path / "evidence").mkdir()
    container = tmp_path / "evidence" / "vm.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(container), "1P")
    run("qemu-img", "convert", "-n", "--target-is-zero", "-f", "raw", "-O", "qcow2", str(raw), str(container))
    raw.unlink()
    _scan_finds_the_listed_and_the_carved(tmp_path, container, listed_jpeg, wiped_png, planted)


def _dmg_claiming(claimed_sectors: int) -> bytes:
    """dfvfs's .dmg with one more chunk table entry (40 bytes): zero fill of ``claimed_sectors`` sectors after its
    last, the trailer's sector count raised to match."""
    data = DMG.read_bytes()
    trailer = bytearray(data[-512:])
    plist_offset, plist_length = struct.unpack_from(">QQ", trailer, 216)
    plist = plistlib.loads(data[plist_offset:plist_offset + plist_length])
    last = plist["resource-fork"]["blkx"][-1]
    table = bytearray(last["Data"])
    chunks, sectors = struct.unpack_from(">I", table, 200)[0], struct.unpack_from(">Q", table, 16)[0]
    end = 204 + 40 * (chunks - 1)  # the terminator, moved after the new entry
    zero_fill = struct.pack(">IIQQQQ", 0, 0, sectors, claimed_sectors, 0, 0)
    terminator = bytearray(table[end:end + 40])
    struct.pack_into(">Q", terminator, 8, sectors + claimed_sectors)
    table = table[:end] + zero_fill + terminator
    struct.pack_into(">I", table, 200, chunks + 1)
    struct.pack_into(">Q", table, 16, sectors + claimed_sectors)
    last["Data"] = bytes(table)
    new_plist = plistlib.dumps(plist)
    struct.pack_into(">QQ", trailer, 216, plist_offset, len(new_plist))
    struct.pack_into(">Q", trailer, 492, struct.unpack_from(">Q", trailer, 492)[0] + claimed_sectors)
    return data[:plist_offset] + new_plist + bytes(trailer)


def test_a_dmg_whose_one_table_entry_claims_a_pebibyte_of_zeros_scans_in_seconds(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    forged = tmp_path / "evidence" / "huge.dmg"
    forged.write_bytes(_dmg_claiming(1 << 41))

    _scan_within(SCAN_SECONDS, forged, tmp_path / "case")

    assert set(EXT2_SHA256.values()) <= _sha256s(tmp_path / "case")  # the HFS+ volume's files, read whole
    notes = [(kind, message) for kind, message in _walk_notes(tmp_path / "case") if CLAIM_NOTE in message]
    assert notes == [("normal", (
        f"claims a media of 1,125,899,908,796,928 bytes (1.0 PiB) from {forged.stat().st_size:,} bytes of files; "
        "its allocation table stores 1,954,304 bytes (1.9 MiB) of it, the rest reads as zeros: only the stored "
        "parts are carved"))]
    assert _hash_state(tmp_path / "case") == "no stored hash"
