"""Scanning disk images end to end: deleted files and streams matched, the evidence untouched and verified."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

import fieldlab
from fieldlab.case.store import DATABASE_FILE, CaseError
from tests.conftest import REALDATA

DFTT8 = REALDATA / "sleuthkit__sleuthkit_test_data" / "from_brian" / "8-jpeg-search.zip"
CHUNK = 64 * 512  # ewfacquire's default: 64 sectors a chunk
KNOWN = {  # deleted, alternate data stream, allocated with a lying extension
    "del1/file6.jpg": ("afd55222024a4e22f7f5a3a665320763", "A"),
    "misc/file13.dll:here": ("9b787e63e3b64562730c5aecaab1e1f8", "B"),
    "alloc/file2.dat": ("de5d83153339931371719f4e5c924eba", "C"),
}


@pytest.fixture()
def dftt8(tmp_path: Path) -> Path:
    evidence = tmp_path / "evidence"
    with zipfile.ZipFile(DFTT8) as archive:
        archive.extract("8-jpeg-search/8-jpeg-search.dd", evidence)
    return evidence / "8-jpeg-search" / "8-jpeg-search.dd"


def _known_set(tmp_path: Path) -> Path:
    path = tmp_path / "known.csv"
    path.write_text("md5,category\n" + "".join(f"{md5},{cat}\n" for md5, cat in KNOWN.values()))
    return path


def test_known_files_are_found_in_deleted_entries_and_streams_of_an_image(dftt8: Path, tmp_path: Path) -> None:
    fieldlab.import_hashset(_known_set(tmp_path), name="known")
    before = hashlib.sha256(dftt8.read_bytes()).hexdigest()
    result = fieldlab.scan(dftt8, tmp_path / "case", exhibit_ref="HDD1")
    assert hashlib.sha256(dftt8.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in dftt8.parent.iterdir()) == ["8-jpeg-search.dd"]  # nothing written beside it
    hits = {(h.path, h.category) for h in fieldlab.hits(tmp_path / "case")}
    assert hits == {(path, category) for path, (_, category) in KNOWN.items()}
    assert result.progress.hash_state == "no stored hash"
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.deleted >= 2 and counts.hits_by_category == {"A": 1, "B": 1, "C": 1}


def test_the_exhibit_records_the_partition_layout_and_a_verified_ewf_hash(tmp_path: Path) -> None:
    image = REALDATA / "log2timeline__plaso" / "test_data" / "image-split.E01"
    fieldlab.scan(image, tmp_path / "case", exhibit_ref="USB1")
    db = sqlite3.connect(tmp_path / "case" / DATABASE_FILE)
    facts_json, state, detail = db.execute("SELECT facts, hash_state, hash_detail FROM exhibits").fetchone()
    facts = json.loads(facts_json)
    assert facts["container"]["kind"] == "ewf" and len(facts["container"]["segments"]) == 2
    assert facts["partition_scheme"] == "dos"
    assert [v["file_system"] for v in facts["volumes"]] == [None, "ext2"]
    assert state == "verified" and json.loads(detail)["stored"]["md5"] == json.loads(detail)["computed"]["md5"]
    regions = db.execute("SELECT kind, offset, length FROM regions ORDER BY offset").fetchall()
    assert ("volume", 512, 350 * 512) in regions and ("gap", 351 * 512, 512) in regions
    errors = [row[0] for row in db.execute("SELECT message FROM errors")]
    assert errors == ["no file system recognised (its space is kept for carving)"]  # the empty first partition


def test_a_corrupted_image_is_reported_as_a_hash_mismatch(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    segments = [tmp_path / "evidence" / "image-split.E01", tmp_path / "evidence" / "image-split.E02"]
    for segment in segments:
        shutil.copy(REALDATA / "log2timeline__plaso" / "test_data" / segment.name, segment)
    result = fieldlab.scan(segments[0], tmp_path / "cases" / "c1", exhibit_ref="X")
    assert result.progress.hash_state == "verified"
    data = bytearray(segments[0].read_bytes())
    data[203704] ^= 0xFF  # one bit pattern inside a stored chunk of media data (found by trying offsets)
    segments[0].write_bytes(bytes(data))
    result = fieldlab.scan(segments[0], tmp_path / "cases" / "c2", exhibit_ref="X")
    assert result.progress.hash_state in ("mismatch", "unreadable")


def test_a_scan_records_an_acquired_e01_as_verified_and_a_tampered_copy_as_a_mismatch(tmp_path: Path) -> None:
    """The hash is checked by a background process during the scan; the verdict is the same either way."""
    from tests.evidence.disk_builders import PlantedFile, build_disk, random_bytes, to_e01

    known = PlantedFile("DCIM/IMG_0001.JPG", random_bytes(11, 20_000))
    other = PlantedFile("Documents/notes.bin", random_bytes(12, 200_000))
    disk = build_disk(tmp_path / "disk.raw", "mbr", [("fat16", 8, [known, other])])
    image = to_e01(disk.path, tmp_path / "evidence" / "disk")[0]
    fieldlab.import_hashset(_write(tmp_path / "k.csv", f"md5,category\n{known.md5},A\n"), name="k")
    tampered = tmp_path / "tampered" / "disk.E01"
    tampered.parent.mkdir()
    # one byte of a chunk that holds only the other file's data (a damaged chunk reads as libewf reads it, whole);
    # chunks are stored plain, so those bytes are in the E01 as they are on the disk
    start = disk.path.read_bytes().index(other.data[:4096])
    inside = (start // CHUNK + 2) * CHUNK + 100 - start
    data = bytearray(image.read_bytes())
    data[data.index(other.data[inside:inside + 4096])] ^= 0xFF
    tampered.write_bytes(bytes(data))
    for source, case, state in ((image, "c1", "verified"), (tampered, "c2", "mismatch")):
        result = fieldlab.scan(source, tmp_path / case, exhibit_ref="PC-1")
        assert result.progress.hash_state == state
        assert [h.path.split("/", 1)[1] for h in fieldlab.hits(tmp_path / case)] == [known.path]
        db = sqlite3.connect(tmp_path / case / DATABASE_FILE)
        assert db.execute("SELECT hash_state FROM exhibits").fetchone()[0] == state
        events = [json.loads(row[0]) for row in db.execute("SELECT detail FROM audit_log WHERE action = 'evidence_verified'")]
        assert [e["state"] for e in events] == [state]


def test_a_case_folder_beside_an_image_is_refused(dftt8: Path) -> None:
    with pytest.raises(CaseError, match="beside the evidence"):
        fieldlab.scan(dftt8, dftt8.parent / "case")
    assert sorted(p.name for p in dftt8.parent.iterdir()) == ["8-jpeg-search.dd"]


def test_workers_reopen_apfs_items_from_their_locators(tmp_path: Path) -> None:
    fieldlab.scan(REALDATA / "log2timeline__dfvfs" / "test_data" / "apfs.raw", tmp_path / "case", exhibit_ref="MAC")
    db = sqlite3.connect(tmp_path / "case" / DATABASE_FILE)
    rows = dict(db.execute("SELECT path, sha256 FROM items WHERE state = 'done' AND kind = 'file'").fetchall())
    assert rows["apfs0/passwords.txt"] is None  # SHA-256 only on request
    md5 = dict(db.execute("SELECT path, md5 FROM items").fetchall())
    assert md5["apfs0/a_directory/another_file"] == "d54ff73404ed6041a3bd66850b061bff"
    assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'error'").fetchone()[0] == 0


def test_a_block_device_is_scanned_read_only(tmp_path: Path) -> None:
    import subprocess

    from tests.evidence.disk_builders import PlantedFile, build_disk, random_bytes

    known = PlantedFile("DCIM/100CAM/IMG_0001.JPG", random_bytes(9, 4096))
    disk = build_disk(tmp_path / "stick.img", "mbr", [("fat16", 8, [known])])
    before = hashlib.sha256(disk.path.read_bytes()).hexdigest()
    device = subprocess.run(["losetup", "--find", "--show", "--read-only", str(disk.path)],
                            check=True, capture_output=True, text=True).stdout.strip()
    try:
        fieldlab.import_hashset(_write(tmp_path / "k.csv", f"md5,category\n{known.md5},A\n"), name="k")
        result = fieldlab.scan(device, tmp_path / "case", exhibit_ref="USB-STICK")
        facts = json.loads(sqlite3.connect(tmp_path / "case" / DATABASE_FILE).execute("SELECT facts FROM exhibits").fetchone()[0])
    finally:
        subprocess.run(["losetup", "--detach", device], check=True)
    assert facts["container"]["kind"] == "device"
    assert [h.path.split("/", 1)[1] for h in fieldlab.hits(tmp_path / "case")] == ["DCIM/100CAM/IMG_0001.JPG"]
    assert result.progress.hash_state == "no stored hash"
    assert hashlib.sha256(disk.path.read_bytes()).hexdigest() == before


def test_a_block_device_gives_the_items_and_digests_of_the_same_bytes_as_a_file(dftt8: Path, tmp_path: Path) -> None:
    """The on-scene path (a disk behind a write blocker, here ``losetup -r``) must find exactly what the image file
    gives: every listed, deleted and carved item at the same locator, with the same size, state and digests."""
    import subprocess

    device = subprocess.run(["losetup", "--find", "--show", "--read-only", str(dftt8)],
                            check=True, capture_output=True, text=True).stdout.strip()
    try:
        fieldlab.scan(device, tmp_path / "from-device", exhibit_ref="DEV", perceptual=False, verify=False)
    finally:
        subprocess.run(["losetup", "--detach", device], check=True)
    fieldlab.scan(dftt8, tmp_path / "from-file", exhibit_ref="FILE", perceptual=False, verify=False)

    def recorded(case: str) -> list[tuple]:
        with sqlite3.connect(tmp_path / case / DATABASE_FILE) as db:
            return db.execute("SELECT locator, kind, size, state, flags, md5, sha1 FROM items ORDER BY locator").fetchall()

    from_file = recorded("from-file")
    assert len(from_file) > 20 and any("deleted" in row[4] for row in from_file)
    assert recorded("from-device") == from_file


def test_a_virtualbox_vdi_of_the_image_gives_the_same_items_and_hits(dftt8: Path, tmp_path: Path) -> None:
    """qemu-img's dynamic VDI of the image: found by content (named .img, not .vdi), its NTFS walked through the
    block map, every item (deleted and carved included) at the same locator with the same digests, the same hits."""
    from tests.evidence.chain_builders import run

    fieldlab.import_hashset(_known_set(tmp_path), name="known")
    (tmp_path / "vm").mkdir()
    vdi = tmp_path / "vm" / "disk.img"
    run("qemu-img", "convert", "-f", "raw", "-O", "vdi", str(dftt8), str(vdi))
    before = hashlib.sha256(vdi.read_bytes()).hexdigest()
    fieldlab.scan(vdi, tmp_path / "from-vdi", exhibit_ref="VDI", perceptual=False, verify=False)
    fieldlab.scan(dftt8, tmp_path / "from-raw", exhibit_ref="RAW", perceptual=False, verify=False)
    assert hashlib.sha256(vdi.read_bytes()).hexdigest() == before

    def recorded(case: str) -> tuple[str, list[tuple], set[tuple[str, str]]]:
        with sqlite3.connect(tmp_path / case / DATABASE_FILE) as db:
            kind = json.loads(db.execute("SELECT facts FROM exhibits").fetchone()[0])["container"]["kind"]
            items = db.execute("SELECT locator, kind, size, state, flags, md5, sha1 FROM items ORDER BY locator").fetchall()
        return kind, items, {(h.path, h.category) for h in fieldlab.hits(tmp_path / case)}

    kind, items, hits = recorded("from-vdi")
    assert kind == "vdi" and hits == {(path, category) for path, (_, category) in KNOWN.items()}
    assert (items, hits) == recorded("from-raw")[1:]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_known_file_inside_an_lvm_logical_volume_is_a_hit(tmp_path: Path) -> None:
    known = tmp_path / "known.csv"  # passwords.txt of dfvfs's lvm.qcow2 (its ext2 logical volume)
    known.write_text("md5,category\n39cb097008d17660abd0539891a672af,A\n")
    fieldlab.import_hashset(known, name="known")
    fieldlab.scan(REALDATA / "log2timeline__dfvfs" / "test_data" / "lvm.qcow2", tmp_path / "case", exhibit_ref="LVM1")
    assert {(h.path, h.category) for h in fieldlab.hits(tmp_path / "case")} == {
        ("lvm:test_logical_volume/passwords.txt", "A")}
    db = sqlite3.connect(tmp_path / "case" / DATABASE_FILE)
    [volume] = json.loads(db.execute("SELECT facts FROM exhibits").fetchone()[0])["volumes"]
    assert volume["file_system"] == "lvm" and volume["logical_volumes"][0]["file_system"] == "ext2"
    assert db.execute("SELECT message FROM errors").fetchall() == []


def test_a_known_file_inside_a_compressed_dmg_is_a_hit_and_the_dmg_is_untouched(tmp_path: Path) -> None:
    import subprocess

    raw = REALDATA / "log2timeline__dfvfs" / "test_data" / "hfsplus.raw"  # the same files in a raw HFS+ volume
    passwords = subprocess.run(["icat", str(raw), "20"], check=True, capture_output=True).stdout  # its passwords.txt
    fieldlab.import_hashset(_write(tmp_path / "k.csv", f"md5,category\n{hashlib.md5(passwords).hexdigest()},A\n"),
                            name="k")
    (tmp_path / "evidence").mkdir()
    dmg = Path(shutil.copy(REALDATA / "log2timeline__dfvfs" / "test_data" / "hfsplus_zlib.dmg", tmp_path / "evidence"))
    before = hashlib.sha256(dmg.read_bytes()).hexdigest()
    result = fieldlab.scan(dmg, tmp_path / "case", exhibit_ref="MAC-DMG")
    assert [(h.path, h.category) for h in fieldlab.hits(tmp_path / "case")] == [("vol4@20480/passwords.txt", "A")]
    assert result.progress.hash_state == "no stored hash"
    db = sqlite3.connect(tmp_path / "case" / DATABASE_FILE)
    facts = json.loads(db.execute("SELECT facts FROM exhibits").fetchone()[0])
    assert facts["container"]["kind"] == "dmg" and facts["volumes"][0]["file_system"] == "hfs"
    assert db.execute("SELECT message FROM errors").fetchall() == []
    assert hashlib.sha256(dmg.read_bytes()).hexdigest() == before
    assert [p.name for p in dmg.parent.iterdir()] == ["hfsplus_zlib.dmg"]  # nothing written beside it


def test_a_dmg_cut_short_is_scanned_to_the_end_with_its_problem_recorded(tmp_path: Path) -> None:
    data = (REALDATA / "log2timeline__dfvfs" / "test_data" / "hfsplus_zlib.dmg").read_bytes()
    (tmp_path / "evidence").mkdir()
    cut = tmp_path / "evidence" / "cut.dmg"
    cut.write_bytes(data[:len(data) // 2])
    result = fieldlab.scan(cut, tmp_path / "case", exhibit_ref="CUT")
    assert not result.interrupted and result.progress.hash_state == "no stored hash"
    db = sqlite3.connect(tmp_path / "case" / DATABASE_FILE)
    [(kind, message)] = db.execute("SELECT kind, message FROM errors").fetchall()
    assert kind == "unsupported" and "as an Apple disk image (UDIF .dmg) starts" in message


def test_a_dmg_chunk_that_fails_to_inflate_is_recorded_where_it_was_met_and_the_scan_goes_on(tmp_path: Path) -> None:
    from tests.evidence.test_udif import _chunk, _damaged

    # the chunk holding the three small files' data (HFS+ blocks 462-466); TSK reads it when it opens the volume
    offset, length = _chunk(3736)
    (tmp_path / "evidence").mkdir()
    dmg = _damaged(tmp_path / "evidence", {offset + length // 2: b"\xff" * 8})
    result = fieldlab.scan(dmg, tmp_path / "case", exhibit_ref="DMG")
    assert not result.interrupted and result.progress.hash_state == "unreadable"
    db = sqlite3.connect(tmp_path / "case" / DATABASE_FILE)
    errors = {(stage, kind): message for stage, kind, message in db.execute("SELECT stage, kind, message FROM errors")}
    assert set(errors) == {("walk", "damaged"), ("carve", "unreadable")}
    assert errors["walk", "damaged"].startswith("a read failed while its file system was opened (pymodi_handle_read_")
    assert "unable to decompress block chunk" in errors["carve", "unreadable"]
