"""An encrypted iTunes/Finder backup as an exhibit: with the password it is scanned as the plain backup would be
(files hashed as plaintext under their real paths, the same device and manifest records); without it, the scan
still completes, lists every file by its stored name and names the device."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fieldlab
from fieldlab.cli import app
from fieldlab.demo import procedural_jpeg
from tests.builders import KnownFile, write_csv_hashset
from tests.evidence.encrypted_ios_backup_builder import BuiltBackups, ExtraFile, build_backups

PASSWORD = "s3cret backup pass"
PHOTO = ExtraFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0101.JPG", procedural_jpeg(71, 320, 240))
ZIPPED = procedural_jpeg(72, 256, 192)
_archive = io.BytesIO()
with zipfile.ZipFile(_archive, "w") as _zip:
    _zip.writestr("sent/IMG_2.jpg", ZIPPED)
DOCUMENT = ExtraFile("AppDomain-com.apple.DocumentsApp", "Documents/photos.zip", _archive.getvalue())
runner = CliRunner()


def _db(case: Path) -> sqlite3.Connection:
    return sqlite3.connect(case / "case.sqlite")


def _scan(evidence: Path, case: Path, *options: str) -> None:
    result = runner.invoke(app, ["scan", str(evidence), "--case", str(case), "--exhibit", "IPHONE", "--workers", "2",
                                 *options])
    assert result.exit_code == 0, result.output


def _records(case: Path) -> list[tuple]:
    return _db(case).execute(
        "SELECT record, database, device_path, name, kind, size, created, modified, item_id IS NOT NULL "
        "FROM phone_records ORDER BY record").fetchall()


def _devices(case: Path) -> list[dict]:
    return [json.loads(facts) for (facts,) in _db(case).execute("SELECT facts FROM devices")]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltBackups, Path, Path]:
    root = tmp_path_factory.mktemp("encrypted-ios")
    built = build_backups(root / "evidence", PASSWORD, [PHOTO, DOCUMENT])
    known = [KnownFile("photo", PHOTO.data, "A"), KnownFile("zipped", ZIPPED, "B")]
    os.environ["FIELDLAB_HOME"] = str(root / "home")  # module-scoped: the autouse library fixture is per test
    try:
        fieldlab.import_hashset(write_csv_hashset(root / "known.csv", known), name="known")
        _scan(built.plain, root / "plain-case")
        _scan(built.encrypted, root / "encrypted-case", "--password", "not this one", "--password", PASSWORD)
    finally:
        del os.environ["FIELDLAB_HOME"]
    return built, root / "plain-case", root / "encrypted-case"


def test_known_pictures_in_an_encrypted_backup_are_hits_under_their_real_paths(scanned) -> None:
    _, _, case = scanned
    hits = {h.md5: h.path for h in fieldlab.hits(case)}
    assert hits == {hashlib.md5(PHOTO.data).hexdigest(): PHOTO.device_path,
                    hashlib.md5(ZIPPED).hexdigest(): f"{DOCUMENT.device_path} › sent/IMG_2.jpg"}
    placed = _db(case).execute("SELECT origin, app, place FROM items WHERE path = ?", (PHOTO.device_path,)).fetchone()
    assert placed == (PHOTO.device_path, "Photos (iOS)", "camera")
    decoded = _db(case).execute("SELECT COUNT(*) FROM media m JOIN items i ON i.id = m.item_id WHERE m.pdq IS NOT NULL "
                                "AND m.error IS NULL AND i.md5 IN (?, ?)",
                                tuple(hashlib.md5(d).hexdigest() for d in (PHOTO.data, ZIPPED))).fetchone()
    assert decoded == (2,)  # the decoding workers decrypted them too


def test_every_file_decrypts_to_the_plain_backups_content(scanned) -> None:
    _, plain, encrypted = scanned
    by_origin = {}
    for case in (plain, encrypted):
        rows = _db(case).execute("SELECT origin, md5, size FROM items WHERE origin IS NOT NULL").fetchall()
        by_origin[case] = {origin: (md5, size) for origin, md5, size in rows}
    assert len(by_origin[plain]) == 12 and by_origin[encrypted] == by_origin[plain]
    assert _db(encrypted).execute("SELECT path, message FROM errors").fetchall() == []


def test_the_device_and_every_manifest_record_are_as_for_the_plain_backup(scanned) -> None:
    _, plain, encrypted = scanned
    assert _devices(encrypted) == _devices(plain)
    assert _devices(encrypted)[0]["product_type"] == "iPhone9,3"
    records = _records(encrypted)
    assert records == _records(plain)
    assert len(records) == 3721 + 2
    assert sum(present for *_, present in records) == 12  # ten real files, the photo and the zip


def test_the_password_is_written_nowhere_in_the_case(scanned) -> None:
    _, _, case = scanned
    started = next(json.loads(detail) for action, detail in _db(case).execute("SELECT action, detail FROM audit_log")
                   if action == "scan_started")
    assert started["archive_passwords"] == 2
    for path in case.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("options", [(), ("--password", "wrong")])
def test_without_the_password_the_scan_completes_lists_stored_files_and_names_the_device(
        tmp_path: Path, options: tuple[str, ...]) -> None:
    built = build_backups(tmp_path / "evidence", PASSWORD, [PHOTO])
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("photo", PHOTO.data, "A")]),
                            name="known")
    _scan(built.encrypted, tmp_path / "case", *options)
    db = _db(tmp_path / "case")
    assert list(fieldlab.hits(tmp_path / "case")) == []
    paths = {path for (path,) in db.execute("SELECT path FROM items WHERE kind = 'file'")}
    assert f"{PHOTO.file_id[:2]}/{PHOTO.file_id}" in paths and len(paths) == 15
    assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'pending'").fetchone() == (0,)
    errors = dict(db.execute("SELECT path, message FROM errors"))
    reason = "no password given (--password)" if not options else "the password does not open it"
    assert errors["/"] == f"encrypted iOS backup: {reason}; files are listed by their stored names only, as ciphertext"
    assert errors["Manifest.db"] == f"Manifest.db is encrypted and cannot be read: {reason}"
    kinds = dict(db.execute("SELECT path, kind FROM errors"))
    assert kinds == {"/": "encrypted", "Manifest.db": "encrypted"}
    assert [d["serial"] for d in _devices(tmp_path / "case")] == ["F1234567890"]


def test_a_truncated_file_and_a_record_larger_than_its_file_are_errors_of_those_items(tmp_path: Path) -> None:
    long_photo = ExtraFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0102.JPG", procedural_jpeg(73))
    built = build_backups(tmp_path / "evidence", PASSWORD, [PHOTO, long_photo],
                          recorded_sizes={long_photo.file_id: len(long_photo.data) + 4096})
    cut = built.encrypted / PHOTO.file_id[:2] / PHOTO.file_id
    os.truncate(cut, cut.stat().st_size - 100)
    _scan(built.encrypted, tmp_path / "case", "--password", PASSWORD)
    db = _db(tmp_path / "case")
    errors = dict(db.execute("SELECT path, message FROM errors"))
    assert errors == {
        PHOTO.device_path: f"cannot be opened: the stored file is {cut.stat().st_size:,} bytes, not whole AES blocks: "
                           "truncated or damaged",
        long_photo.device_path: f"cannot be opened: the manifest records {len(long_photo.data) + 4096:,} bytes but "
                                f"the stored file holds only {(len(long_photo.data) // 16 + 1) * 16:,} (encrypted): "
                                "truncated, or its record is wrong",
    }
    assert db.execute("SELECT COUNT(*) FROM items WHERE md5 IS NOT NULL").fetchone() == (14,)  # all the others
