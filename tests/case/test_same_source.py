"""One source, two exhibit references: refused with the existing exhibit named, unless a second copy is meant."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fieldlab
from fieldlab.case.same_source import source_identity, why_same
from fieldlab.case.store import DATABASE_FILE, CaseError
from fieldlab.cli import app
from fieldlab.evidence.containers import device_ids
from tests.conftest import REALDATA

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    evidence = tmp_path / "usb"
    (evidence / "DCIM").mkdir(parents=True)
    (evidence / "DCIM" / "a.txt").write_bytes(b"a file\n")
    return evidence


def scan(source: Path, case: Path, ref: str, **options: object) -> None:
    fieldlab.scan(source, case, exhibit_ref=ref, workers=1, perceptual=False, **options)


def test_the_same_folder_under_a_second_reference_is_refused_naming_the_first(folder: Path, tmp_path: Path) -> None:
    scan(folder, tmp_path / "case", "EX1")
    with pytest.raises(CaseError, match=r"already scanned as exhibit 'EX1'.*same path.*--second-copy"):
        scan(folder, tmp_path / "case", "EX2")
    assert [r.ref for r in fieldlab.summary(tmp_path / "case")] == ["EX1"]


def test_a_second_copy_on_purpose_is_accepted_and_audited(folder: Path, tmp_path: Path) -> None:
    scan(folder, tmp_path / "case", "EX1")
    scan(folder, tmp_path / "case", "EX2", second_copy=True)
    assert [r.ref for r in fieldlab.summary(tmp_path / "case")] == ["EX1", "EX2"]
    with sqlite3.connect(tmp_path / "case" / DATABASE_FILE) as db:
        details = [json.loads(d) for (d,) in db.execute("SELECT detail FROM audit_log WHERE action = 'scan_started'")]
    assert [d.get("second_copy_of") for d in details] == [None, "EX1"]


def test_resuming_the_same_exhibit_is_not_a_second_copy(folder: Path, tmp_path: Path) -> None:
    scan(folder, tmp_path / "case", "EX1")
    scan(folder, tmp_path / "case", "EX1")


def test_the_same_folder_through_a_link_or_a_folder_inside_it_is_refused(folder: Path, tmp_path: Path) -> None:
    scan(folder, tmp_path / "case", "EX1")
    (tmp_path / "link").symlink_to(folder)
    with pytest.raises(CaseError, match="'EX1'.*same path"):
        scan(tmp_path / "link", tmp_path / "case", "EX2")
    with pytest.raises(CaseError, match="'EX1'.*inside the folder"):
        scan(folder / "DCIM", tmp_path / "case", "EX3")


def test_a_hard_link_to_a_scanned_image_is_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    image = shutil.copyfile(DFVFS / "ext2.qcow2", tmp_path / "a" / "disk.qcow2")
    os.link(image, tmp_path / "b" / "copy.qcow2")
    scan(image, tmp_path / "case", "HDD1", verify=False)
    with pytest.raises(CaseError, match="'HDD1'.*same file"):
        scan(tmp_path / "b" / "copy.qcow2", tmp_path / "case", "HDD2")


def test_an_image_with_the_media_hash_an_earlier_exhibit_verified_is_refused(tmp_path: Path) -> None:
    # the split raw set's media hash is computed by the first scan; the E01 stores the same MD5 from acquisition
    scan(DFVFS / "ext2.splitraw.000", tmp_path / "case", "RAW")
    with pytest.raises(CaseError, match="'RAW'.*same hash \\(md5 196066add11fb71c4c49cf1bb50d6d24\\)"):
        scan(DFVFS / "ext2.E01", tmp_path / "case", "EWF")
    scan(DFVFS / "ext2.E01", tmp_path / "case", "EWF", second_copy=True)


def test_a_device_is_known_by_its_udev_names_whatever_node_it_gets(tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    node = tmp_path / "sdc"
    node.write_bytes(b"")
    (by_id / "ata-SAMSUNG_SSD_S3Z9NB0K123456").symlink_to(node)
    (by_id / "ata-OTHER_DISK_1").symlink_to(tmp_path / "sdd")
    assert device_ids(node, by_id) == ("ata-SAMSUNG_SSD_S3Z9NB0K123456",)
    earlier = source_identity("/dev/sdb", "image", {"container": {"device_ids": ["ata-SAMSUNG_SSD_S3Z9NB0K123456"]}})
    now = source_identity(str(node), "image", {"container": {"device_ids": list(device_ids(node, by_id))}})
    assert why_same(now, earlier) == "it is the same device (by-id ata-SAMSUNG_SSD_S3Z9NB0K123456)"


def test_two_acquisitions_of_one_disk_share_its_model_and_serial() -> None:
    first = source_identity("/ev/a.E01", "image", {"container": {"headers": {"model": "ST500", "serial_number": "Z1"}}})
    second = source_identity("/ev/b.E01", "image", {"container": {"headers": {"model": "ST500", "serial_number": "Z1"}}})
    other = source_identity("/ev/c.E01", "image", {"container": {"headers": {"model": "ST500", "serial_number": "Z2"}}})
    assert why_same(second, first) == "it is the same device (serial ST500/Z1)"
    assert why_same(other, first) is None


def test_different_sources_are_accepted(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "phone"
    other.mkdir()
    (other / "b.txt").write_bytes(b"b\n")
    scan(folder, tmp_path / "case", "EX1")
    scan(other, tmp_path / "case", "EX2")
    assert [r.ref for r in fieldlab.summary(tmp_path / "case")] == ["EX1", "EX2"]


def test_the_scan_help_explains_what_the_same_source_is() -> None:
    said = " ".join(CliRunner().invoke(app, ["scan", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "--second-copy" in said and "same media hash" in said and "/dev/disk/by-id" in said
