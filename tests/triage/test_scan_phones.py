"""Phone extractions as exhibits: Android and iOS full file systems (tar, zip) and a UFDR package, generated the
way real ones are laid out; every planted known picture found and attributed to its app and place."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

import fieldlab
from fieldlab.case.phone import first_generation_candidates
from fieldlab.case.store import CaseStore
from fieldlab.demo import procedural_jpeg
from fieldlab.validation.content import tar_of
from fieldlab.validation.phones import ExtractedFile, android_backup, ufdr
from tests.builders import KnownFile, write_csv_hashset
from tests.conftest import REALDATA
from tests.phone_builders import (
    MEDIASTORE_PATH,
    PHOTOS_PATH,
    android_ffs_tar,
    android_planted,
    camera_jpeg,
    ios_ffs_zip,
    ios_planted,
    mediastore_db,
    photos_db,
)


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


def _known(count: int) -> list[bytes]:
    return [procedural_jpeg(300 + n, 256, 192) for n in range(count)]


def _import(tmp_path: Path, pictures: list[bytes]) -> None:
    known = [KnownFile(f"k{n}", data, "ABC"[n % 3]) for n, data in enumerate(pictures)]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")


def _placed(case: Path) -> dict[str, tuple[str | None, str | None]]:
    rows = _db(case).execute("SELECT i.md5, i.app, i.place FROM hits h JOIN items i ON i.id = h.item_id").fetchall()
    return {md5: (app, place) for md5, app, place in rows}


def test_an_android_full_file_system_tar_is_scanned_with_apps_places_and_the_device(tmp_path: Path) -> None:
    import hashlib

    pictures = _known(5)
    planted = android_planted(pictures, camera_jpeg(7, "samsung", "SM-G960F"))
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    android_ffs_tar(evidence / "SM-G960F_FFS.tar", planted, extra={MEDIASTORE_PATH: mediastore_db(tmp_path, planted)})
    _import(tmp_path, pictures)
    fieldlab.scan(evidence / "SM-G960F_FFS.tar", tmp_path / "case", exhibit_ref="PHONE1")
    placed = _placed(tmp_path / "case")
    expected = {hashlib.md5(p.data).hexdigest(): (p.app, p.place) for p in planted if p.data in pictures}
    assert placed == expected
    db = _db(tmp_path / "case")
    (facts,) = [json.loads(f) for (f,) in db.execute("SELECT facts FROM devices")]
    assert (facts["platform"], facts["model"], facts["make"], facts["os_version"]) == ("android", "SM-G960F", "samsung", "13")
    assert facts["source"].endswith("system/build.prop")
    records = {path: (item, trashed) for path, item, trashed in db.execute(
        "SELECT device_path, item_id, trashed FROM phone_records WHERE database = 'mediastore'")}
    assert records["/storage/emulated/0/DCIM/Camera/IMG_20240101_000000.jpg"] == (None, 0)  # referenced, gone
    trashed_path = "/storage/emulated/0/DCIM/Camera/.trashed-1718000000-IMG_0002.jpg"
    assert records[trashed_path][1] == 1 and records[trashed_path][0] is not None
    assert sum(item is not None for item, _ in records.values()) == 5

    store = CaseStore.open(tmp_path / "case", create=False)
    try:
        (match,) = first_generation_candidates(store)
    finally:
        store.close()
    assert match.path.endswith("DCIM/Camera/IMG_20240506_070809.jpg") and match.camera == "samsung SM-G960F"


def test_an_ios_full_file_system_zip_attributes_app_group_media_through_the_container_metadata(tmp_path: Path) -> None:
    import hashlib

    pictures = _known(3)
    planted = ios_planted(pictures)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    ios_ffs_zip(evidence / "iPhone_FFS.zip", planted, extra={PHOTOS_PATH: photos_db(tmp_path)})
    _import(tmp_path, pictures)
    fieldlab.scan(evidence / "iPhone_FFS.zip", tmp_path / "case", exhibit_ref="PHONE2")
    assert _placed(tmp_path / "case") == {hashlib.md5(p.data).hexdigest(): (p.app, p.place) for p in planted}
    db = _db(tmp_path / "case")
    (facts,) = [json.loads(f) for (f,) in db.execute("SELECT facts FROM devices")]
    assert (facts["platform"], facts["os_version"], facts["build"]) == ("ios", "16.5", "20F66")
    records = {path: (item is not None, name, hidden, trashed) for path, item, name, hidden, trashed in db.execute(
        "SELECT device_path, item_id, name, hidden, trashed FROM phone_records WHERE database = 'photos'")}
    media = "/private/var/mobile/Media/DCIM/100APPLE"
    assert records == {f"{media}/IMG_0001.JPG": (True, "original_1.jpg", 0, 0),
                       f"{media}/IMG_0002.JPG": (False, "original_2.jpg", 1, 0),
                       f"{media}/IMG_0003.JPG": (False, "original_3.jpg", 0, 1)}


def test_a_ufdr_package_maps_files_to_their_phone_paths_and_keeps_the_deleted_state(tmp_path: Path) -> None:
    pictures = _known(2)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "Apple_iPhone_XR.ufdr").write_bytes(ufdr(
        {"DeviceInfoDetectedManufacturer": "Apple", "DeviceInfoDetectedModel": "iPhone XR",
         "DeviceInfoOSVersion": "17.1", "IMEI": "356789012345678", "ICCID": "8944100000000000001"},
        [ExtractedFile("/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG", "files/Image/IMG_0001.JPG", pictures[0]),
         ExtractedFile("/private/var/mobile/Containers/Data/Application/X/Library/Caches/x.jpg", "files/Image/x.jpg",
                       pictures[1], deleted=True),
         ExtractedFile("/private/var/mobile/Media/DCIM/100APPLE/IMG_0003.JPG", "files/Image/IMG_0003.JPG", b"")],
        device_name="iPhone", extraction_type="FullFileSystem", extracted_at=datetime(2024, 5, 6, 10, 0)))
    _import(tmp_path, pictures)
    fieldlab.scan(evidence / "Apple_iPhone_XR.ufdr", tmp_path / "case", exhibit_ref="PHONE3")
    db = _db(tmp_path / "case")
    rows = dict(db.execute("SELECT i.origin, i.flags FROM hits h JOIN items i ON i.id = h.item_id").fetchall())
    assert set(rows) == {"/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG",
                         "/private/var/mobile/Containers/Data/Application/X/Library/Caches/x.jpg"}
    assert "deleted" in rows["/private/var/mobile/Containers/Data/Application/X/Library/Caches/x.jpg"].split(",")
    assert "deleted" not in rows["/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG"].split(",")
    (facts,) = [json.loads(f) for (f,) in db.execute("SELECT facts FROM devices")]
    assert facts["model"] == "iPhone XR" and facts["imei"] == "356789012345678" and facts["platform"] == "ios"
    assert facts["extraction"] == "UFDR FullFileSystem" and facts["extracted_at"] == 1714989600.0
    assert db.execute("SELECT COUNT(*) FROM phone_records WHERE database = 'ufdr'").fetchone() == (3,)


def test_a_damaged_report_and_a_damaged_build_prop_are_errors_and_the_scan_goes_on(tmp_path: Path) -> None:
    pictures = _known(1)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    android_ffs_tar(evidence / "ffs.tar", [], extra={
        "system/build.prop": b"\x00\xff garbage without keys",
        "data/media/0/Download/report.xml": b"<project><metadata section='Device Info'><item name='IMEI'>1</item>",
        "data/media/0/Download/known.jpg": pictures[0],
        "data/media/0/Download/Manifest.db": b"not a database at all" * 10,
    })
    _import(tmp_path, pictures)
    fieldlab.scan(evidence / "ffs.tar", tmp_path / "case", exhibit_ref="BAD")
    db = _db(tmp_path / "case")
    assert db.execute("SELECT COUNT(DISTINCT item_id) FROM hits").fetchone() == (1,)
    messages = [m for (m,) in db.execute("SELECT message FROM errors WHERE stage = 'phone'")]
    assert any("names no device" in m for m in messages)
    assert any("not a SQLite database" in m for m in messages)
    assert any("damaged" in m for m in messages)


@pytest.mark.parametrize("name", ["../../escape.jpg", "a/../../../b.jpg"])
def test_member_paths_that_climb_out_are_only_names(tmp_path: Path, name: str) -> None:
    """Archive member names are display text and locator keys, never used as paths to write or open."""
    pictures = _known(1)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    android_ffs_tar(evidence / "ffs.tar", [], extra={name: pictures[0]})
    _import(tmp_path, pictures)
    fieldlab.scan(evidence / "ffs.tar", tmp_path / "case", exhibit_ref="CLIMB")
    assert _db(tmp_path / "case").execute("SELECT COUNT(DISTINCT item_id) FROM hits").fetchone() == (1,)
    assert not (tmp_path / "escape.jpg").exists() and not (tmp_path.parent / "escape.jpg").exists()


AB_FOLDER = REALDATA / "mvt-project__mvt" / "tests" / "artifacts" / "android_backup"


@pytest.mark.parametrize(("name", "passwords", "members"), [
    ("backup.ab", [], 2),  # an SMS and an MMS backup; the rest of its tar entries are folders
    ("backup2.ab", ["123456"], 2),
    ("backup3.ab", [], 2),
])
def test_mvts_real_android_backups_open_as_exhibits(tmp_path: Path, name: str, passwords: list[str],
                                                    members: int) -> None:
    result = fieldlab.scan(AB_FOLDER / name, tmp_path / "case", exhibit_ref="AB", passwords=passwords)
    db = _db(tmp_path / "case")
    listed = [p for (p,) in db.execute("SELECT path FROM items WHERE path LIKE ? ORDER BY id", (f"{name} › %",))]
    assert len(listed) == members
    assert f"{name} › apps/com.android.providers.telephony/d_f/000000_sms_backup" in listed
    assert db.execute("SELECT COUNT(*) FROM items WHERE state != 'done'").fetchone() == (0,)
    assert result.progress.errors == 0


def test_an_encrypted_android_backup_without_its_password_fails_clearly_and_the_scan_completes(tmp_path: Path) -> None:
    fieldlab.scan(AB_FOLDER / "backup2.ab", tmp_path / "case", exhibit_ref="AB")
    db = _db(tmp_path / "case")
    (message,) = [m for (m,) in db.execute("SELECT message FROM errors")]
    assert message.startswith("encrypted Android backup: no password given")
    assert db.execute("SELECT kind, stage FROM errors").fetchall() == [("encrypted", "read")]
    assert db.execute("SELECT COUNT(*) FROM items").fetchone() == (1,)
    assert db.execute("SELECT scan_finished_at IS NOT NULL FROM exhibits").fetchone() == (1,)


def test_known_pictures_in_an_encrypted_android_backup_are_found_and_placed_by_app(tmp_path: Path) -> None:
    pictures = _known(3)
    files = {"apps/com.whatsapp/ef/WhatsApp/Media/WhatsApp Images/IMG-1.jpg": pictures[0],
             "shared/0/DCIM/Camera/IMG_2.jpg": pictures[1],
             "apps/com.netqin.ps/f/hidden/3.bin": pictures[2],
             "apps/com.whatsapp/_manifest": b"manifest"}
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "phone.ab").write_bytes(android_backup(tar_of(files), password="s3cret"))
    _import(tmp_path, pictures)
    fieldlab.scan(evidence / "phone.ab", tmp_path / "case", exhibit_ref="AB", passwords=["wrong", "s3cret"])
    placed = _placed(tmp_path / "case")
    import hashlib

    assert placed == {hashlib.md5(pictures[0]).hexdigest(): ("WhatsApp", None),
                      hashlib.md5(pictures[1]).hexdigest(): (None, "camera"),
                      hashlib.md5(pictures[2]).hexdigest(): ("Vault app", None)}
