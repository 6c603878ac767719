"""A real iTunes-style iOS backup as an exhibit: device facts, every manifest record, real paths, files not present."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

import fieldlab
from tests.conftest import REALDATA

BACKUP = REALDATA / "mvt-project__mvt" / "tests" / "artifacts" / "ios_backup"
CAMERA_ROLL = REALDATA / "_derived" / "mvt" / "manifest_cameraroll.csv"


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("ios") / "case"
    fieldlab.scan(BACKUP, case, exhibit_ref="IPHONE")
    return case


def test_the_device_is_named_from_the_backup_info_plist(scanned: Path) -> None:
    (facts,) = [json.loads(f) for (f,) in _db(scanned).execute("SELECT facts FROM devices")]
    assert facts["product_type"] == "iPhone9,3"
    assert facts["os_version"] == "14.3"
    assert facts["build"] == "18C66"
    assert facts["serial"] == "F1234567890"
    assert facts["platform"] == "ios"


def test_every_manifest_record_is_kept(scanned: Path) -> None:
    db = _db(scanned)
    assert db.execute("SELECT COUNT(*) FROM phone_records WHERE database = 'manifest'").fetchone() == (3721,)
    kinds = dict(db.execute("SELECT kind, COUNT(*) FROM phone_records GROUP BY kind").fetchall())
    assert kinds == {"file": 1089, "folder": 2618, "link": 14}


def test_camera_roll_media_are_listed_as_referenced_but_not_present(scanned: Path) -> None:
    with open(CAMERA_ROLL, newline="") as handle:
        expected = {row["fileID"] for row in csv.DictReader(handle)
                    if row["flags(1=file,2=dir,4=symlink)"] == "1" and row["present_in_test_backup"] == "False"}
    rows = _db(scanned).execute(
        "SELECT record, item_id, device_path FROM phone_records WHERE device_path LIKE 'CameraRollDomain/%' "
        "AND kind = 'file'").fetchall()
    assert {record for record, _, _ in rows} == expected
    assert all(item_id is None for _, item_id, _ in rows)
    assert "CameraRollDomain/Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0024.PNG/5003.JPG" in {p for _, _, p in rows}


def test_files_present_in_the_backup_carry_their_real_path_and_app(scanned: Path) -> None:
    db = _db(scanned)
    present = db.execute("SELECT COUNT(*) FROM phone_records WHERE item_id IS NOT NULL").fetchone()[0]
    stored = {p.name for p in BACKUP.glob("??/*") if p.is_file()}
    assert len(stored) == 11 and present == 10  # this real backup holds one file its manifest does not name
    unnamed = "e794f6ffcc3c222535f47684a63d5178da3c4500"
    assert db.execute("SELECT origin FROM items WHERE path = ?", (f"e7/{unnamed}",)).fetchone() == (None,)
    origins = db.execute("SELECT path, origin FROM items WHERE origin IS NOT NULL").fetchall()
    assert len(origins) == 10
    for path, origin in origins:
        file_id = path.rsplit("/", 1)[-1]
        assert path == f"{file_id[:2]}/{file_id}"
        assert db.execute("SELECT device_path FROM phone_records WHERE record = ?", (file_id,)).fetchone() == (origin,)


def test_a_backup_found_inside_a_zip_on_a_laptop_is_understood_the_same_way(tmp_path: Path) -> None:
    evidence = tmp_path / "laptop"
    backup_folder = "Users/bob/AppData/Roaming/Apple Computer/MobileSync/Backup/00008030-001"
    archive = evidence / "Users/bob/Desktop/phone.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as out:
        for path in BACKUP.rglob("*"):
            if path.is_file():
                out.write(path, f"{backup_folder}/{path.relative_to(BACKUP)}")
    loose = evidence / backup_folder
    shutil.copytree(BACKUP, loose)
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="LAPTOP")
    db = _db(tmp_path / "case")
    per_source = db.execute(
        "SELECT i.path, COUNT(*), SUM(r.item_id IS NOT NULL) FROM phone_records r JOIN items i ON i.id = r.source_item_id "
        "GROUP BY r.source_item_id ORDER BY i.path").fetchall()
    assert [(count, present) for _, count, present in per_source] == [(3721, 10), (3721, 10)]
    assert db.execute("SELECT COUNT(*) FROM devices").fetchone() == (1,)  # the same phone twice is one device
    assert db.execute("SELECT COUNT(*) FROM items WHERE origin IS NOT NULL").fetchone() == (20,)


def test_the_gallery_database_of_a_backup_is_read_though_stored_under_a_hashed_name(tmp_path: Path) -> None:
    from fieldlab.demo import procedural_jpeg
    from tests.evidence.encrypted_ios_backup_builder import ExtraFile, build_backups
    from tests.phone_builders import photos_db

    picture = procedural_jpeg(77, 320, 240)
    built = build_backups(tmp_path / "backups", "unused", extra=[
        ExtraFile("CameraRollDomain", "Media/PhotoData/Photos.sqlite", photos_db(tmp_path)),
        ExtraFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", picture)])
    fieldlab.scan(built.plain, tmp_path / "case", exhibit_ref="IPHONE")
    db = _db(tmp_path / "case")
    records = {path: (item is not None, hidden, trashed) for path, item, hidden, trashed in db.execute(
        "SELECT device_path, item_id, hidden, trashed FROM phone_records WHERE database = 'photos'")}
    media = "/private/var/mobile/Media/DCIM/100APPLE"
    assert records == {f"{media}/IMG_0001.JPG": (True, 0, 0), f"{media}/IMG_0002.JPG": (False, 1, 0),
                       f"{media}/IMG_0003.JPG": (False, 0, 1)}
