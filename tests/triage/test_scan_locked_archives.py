"""RAR archives and password-protected archives through a real ``fieldlab scan``: known pictures inside them are
hits, what cannot be opened is listed by name and reported, and passwords never reach the case."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

from typer.testing import CliRunner

import fieldlab
from fieldlab.cli import app
from fieldlab.demo import procedural_jpeg
from tests.builders import KnownFile, write_csv_hashset, write_tree
from tests.encrypted_zip_builder import encrypted_zip
from tests.evidence.test_archives_passwords import seven_zip
from tests.rar_builder import RarMember, dos_time_as_utc, rar4, rar5

runner = CliRunner()
PASSWORD = "correct horse 7"


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _scan(evidence: Path, case: Path, *options: str) -> None:
    result = runner.invoke(app, ["scan", str(evidence), "--case", str(case), "--exhibit", "EX1", "--workers", "2",
                                 *options])
    assert result.exit_code == 0, result.output


def test_known_pictures_in_rar4_rar5_and_a_rar_inside_a_zip_are_hits_and_damage_is_reported(tmp_path: Path) -> None:
    pictures = [procedural_jpeg(500 + n, 320, 240) for n in range(5)]
    known = [KnownFile(f"k{n}", data, "A") for n, data in enumerate(pictures)]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")
    truncated = rar4([RarMember("first.jpg", pictures[3]), RarMember("second.bin", bytes(200_000))])
    write_tree(tmp_path / "evidence", {
        "Downloads/photos.rar": rar5([RarMember("2023/k0.jpg", pictures[0], mtime=1_690_000_000),
                                      RarMember("readme.txt", b"hello")], solid=True),
        "Downloads/old.rar": rar4([RarMember("k1.jpg", pictures[1], mtime=1_200_000_000)]),
        "Downloads/bundle.zip": _zip({"inner/nested.rar": rar5([RarMember("k2.jpg", pictures[2])])}),
        "Downloads/cut.rar": truncated[:len(truncated) - 150_000],
        "Downloads/locked.rar": rar5([RarMember("secret.jpg", procedural_jpeg(599), encrypted=True)]),
        "Pictures/k4.jpg": pictures[4],  # after the damaged archives: the scan went on
    })
    _scan(tmp_path / "evidence", tmp_path / "case")
    hits = {h.md5: h.path for h in fieldlab.hits(tmp_path / "case")}
    assert set(hits) == {k.md5 for k in known}
    assert hits[known[2].md5] == "Downloads/bundle.zip › inner/nested.rar › k2.jpg"
    db = _db(tmp_path / "case")
    rows = {path: (kind, size, mtime) for path, kind, size, mtime in db.execute("SELECT path, kind, size, mtime FROM items")}
    assert rows["Downloads/photos.rar › 2023/k0.jpg"] == ("file", len(pictures[0]), 1_690_000_000.0)
    assert rows["Downloads/old.rar › k1.jpg"][2] == dos_time_as_utc(1_200_000_000)
    assert rows["Downloads/locked.rar › secret.jpg"][:2] == ("name_only", len(procedural_jpeg(599)))
    errors = dict(db.execute("SELECT path, message FROM errors"))
    assert "damaged or unreadable RAR archive" in errors["Downloads/cut.rar"]
    assert "encrypted" in errors["Downloads/locked.rar"]
    kinds = dict(db.execute("SELECT path, kind FROM errors"))
    assert kinds["Downloads/cut.rar"] == "truncated" and kinds["Downloads/locked.rar"] == "encrypted"
    assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'pending'").fetchone() == (0,)


def test_password_protected_zip_and_7z_are_opened_with_the_examiners_passwords_and_only_then(tmp_path: Path) -> None:
    pictures = [procedural_jpeg(600 + n, 320, 240) for n in range(4)]
    known = [KnownFile(f"k{n}", data, "B") for n, data in enumerate(pictures)]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")
    write_tree(tmp_path / "evidence", {
        "zipcrypto.zip": encrypted_zip({"DCIM/k0.jpg": pictures[0]}, PASSWORD),
        "aes.zip": encrypted_zip({"DCIM/k1.jpg": pictures[1]}, PASSWORD, aes=True),
        "photos.7z": seven_zip({"holiday/k2.jpg": pictures[2]}, PASSWORD),
        "names.7z": seven_zip({"hidden/k3.jpg": pictures[3]}, PASSWORD, encrypt_names=True),
    })
    locked_paths = ["zipcrypto.zip › DCIM/k0.jpg", "aes.zip › DCIM/k1.jpg", "photos.7z › holiday/k2.jpg"]

    _scan(tmp_path / "evidence", tmp_path / "without")
    assert not list(fieldlab.hits(tmp_path / "without"))
    db = _db(tmp_path / "without")
    kinds = dict(db.execute("SELECT path, kind FROM items"))
    assert all(kinds[path] == "name_only" for path in locked_paths)  # listed by name, content not read
    errors = dict(db.execute("SELECT path, message FROM errors"))
    assert all("encrypted" in errors[path.split(" › ")[0]] for path in locked_paths)
    assert "names are encrypted too" in errors["names.7z"]
    assert set(dict(db.execute("SELECT path, kind FROM errors")).values()) == {"encrypted"}

    (tmp_path / "passwords.txt").write_text(f"not this one\n{PASSWORD}\n", encoding="utf-8")
    _scan(tmp_path / "evidence", tmp_path / "with", "--password", "wrong guess", "--password-file",
          str(tmp_path / "passwords.txt"))
    hits = {h.md5: h.path for h in fieldlab.hits(tmp_path / "with")}
    assert hits == {known[0].md5: locked_paths[0], known[1].md5: locked_paths[1], known[2].md5: locked_paths[2],
                    known[3].md5: "names.7z › hidden/k3.jpg"}
    db = _db(tmp_path / "with")
    assert db.execute("SELECT path, message FROM errors").fetchall() == []
    decoded = db.execute("SELECT COUNT(*) FROM media WHERE pdq IS NOT NULL AND error IS NULL").fetchone()
    assert decoded == (4,)  # the decoding workers opened the members with the passwords too
    started = next(json.loads(detail) for action, detail in db.execute("SELECT action, detail FROM audit_log")
                   if action == "scan_started")
    assert started["archive_passwords"] == 3
    db.close()
    for path in (tmp_path / "with").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_password_file_that_cannot_be_read_stops_the_scan_before_it_starts_with_a_clear_line(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    (tmp_path / "latin1.txt").write_bytes("Mädchen\n".encode("latin-1"))
    for path, expected in ((tmp_path / "latin1.txt", "is not UTF-8 text"), (tmp_path / "missing.txt", "cannot read")):
        result = runner.invoke(app, ["scan", str(tmp_path / "evidence"), "--case", str(tmp_path / "case"),
                                     "--password-file", str(path)])
        assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output
    assert not (tmp_path / "case").exists()
