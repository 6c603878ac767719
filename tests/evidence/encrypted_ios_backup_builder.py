"""Encrypted iTunes/Finder backups written the way iOS 10.2 and later write them, for tests.

From a real plain backup (mvt's) and extra files, two twins are built: the plain backup as it would have been, and
the same backup encrypted with a password: a keybag of our own class keys wrapped with the password's key, a
ManifestKey, ``Manifest.db`` and every stored file AES-256-CBC encrypted (zero IV, PKCS#7 padding), each stored
file under its own key recorded in its MBFile.  The real backup's files do not match the sizes its manifest
records (mvt trimmed them), so both twins record each present file's true size, as a real backup does.
"""

from __future__ import annotations

import copy
import hashlib
import os
import plistlib
import random
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from fieldlab.validation import phones
from tests.conftest import REALDATA

MVT_BACKUP = REALDATA / "mvt-project__mvt" / "tests" / "artifacts" / "ios_backup"
MANIFEST_CLASS = 4
APPLE_ITER, APPLE_DPIC = 10_000, 10_000_000


@dataclass(frozen=True)
class ExtraFile:
    """A file added to the backup, as the phone had it (replacing the manifest record of the same path, if any)."""

    domain: str
    relative: str
    data: bytes
    protection_class: int = 3
    mtime: int = 1_650_000_000

    @property
    def file_id(self) -> str:
        return phones.file_id(self.domain, self.relative)

    @property
    def device_path(self) -> str:
        return f"{self.domain}/{self.relative}"


@dataclass
class BuiltBackups:
    plain: Path
    encrypted: Path
    password: str
    class_keys: dict[int, bytes]
    file_keys: dict[str, bytes] = field(default_factory=dict)  # fileID -> its key, for every file record


def keybag(password: str, class_keys: dict[int, bytes], iterations: int, dp_iterations: int | None,
           seed: int = 1) -> bytes:
    """A backup keybag: head (salts, rounds), then one block per class key, wrapped with the password's key."""
    rng = random.Random(seed)
    salt, dp_salt = rng.randbytes(20), rng.randbytes(20)
    secret = password.encode()
    if dp_iterations is not None:
        secret = hashlib.pbkdf2_hmac("sha256", secret, dp_salt, dp_iterations, 32)
    password_key = hashlib.pbkdf2_hmac("sha1", secret, salt, iterations, 32)
    records = [(b"VERS", _u32(3)), (b"TYPE", _u32(1)), (b"UUID", rng.randbytes(16)), (b"HMCK", rng.randbytes(40)),
               (b"WRAP", _u32(0)), (b"SALT", salt), (b"ITER", _u32(iterations))]
    if dp_iterations is not None:
        records += [(b"DPWT", _u32(1)), (b"DPIC", _u32(dp_iterations)), (b"DPSL", dp_salt)]
    for protection_class, key in sorted(class_keys.items()):
        records += [(b"UUID", rng.randbytes(16)), (b"CLAS", _u32(protection_class)), (b"WRAP", _u32(2)),
                    (b"KTYP", _u32(0)), (b"WPKY", aes_key_wrap(password_key, key))]
    return tlv(records)


def tlv(records: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(tag + len(value).to_bytes(4, "big") + value for tag, value in records)


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def encrypt(key: bytes, data: bytes) -> bytes:
    return phones.aes_cbc(key, bytes(16), data)


def wrapped_with_class(class_keys: dict[int, bytes], protection_class: int, key: bytes) -> bytes:
    return protection_class.to_bytes(4, "little") + aes_key_wrap(class_keys[protection_class], key)


def build_backups(target: Path, password: str, extra: list[ExtraFile] = (), iterations: int = 10,
                  dp_iterations: int | None = 10, recorded_sizes: dict[str, int] | None = None,
                  source: Path = MVT_BACKUP, seed: int = 7) -> BuiltBackups:
    """``target/plain`` and ``target/encrypted``; ``recorded_sizes`` overrides the Size the manifest records for
    some fileIDs (a damaged record)."""
    rng = random.Random(seed)
    class_keys = {c: rng.randbytes(32) for c in range(1, 12)}
    built = BuiltBackups(target / "plain", target / "encrypted", password, class_keys)
    work = target / "work"
    for folder in (built.plain, built.encrypted, work):
        folder.mkdir(parents=True)
    stored = {p.name: p.read_bytes() for p in source.glob("??/*") if p.is_file()}
    stored.update({f.file_id: f.data for f in extra})
    manifest = _manifest(source, work, extra, stored, class_keys, built.file_keys, rng, recorded_sizes or {})

    for name in ("Info.plist", "Status.plist"):
        if (source / name).is_file():
            for backup in (built.plain, built.encrypted):
                (backup / name).write_bytes((source / name).read_bytes())
    lockdown = {"ProductVersion": "14.3", "ProductType": "iPhone9,3", "BuildVersion": "18C66"}
    (built.plain / "Manifest.plist").write_bytes(plistlib.dumps(
        {"IsEncrypted": False, "Version": "10.0", "Lockdown": lockdown}, fmt=plistlib.FMT_BINARY))
    manifest_key = rng.randbytes(32)
    (built.encrypted / "Manifest.plist").write_bytes(plistlib.dumps({
        "IsEncrypted": True, "Version": "10.0", "Lockdown": lockdown, "WasPasscodeSet": False,
        "BackupKeyBag": keybag(password, class_keys, iterations, dp_iterations),
        "ManifestKey": wrapped_with_class(class_keys, MANIFEST_CLASS, manifest_key),
    }, fmt=plistlib.FMT_BINARY))
    (built.plain / "Manifest.db").write_bytes(manifest)
    (built.encrypted / "Manifest.db").write_bytes(encrypt(manifest_key, manifest))
    for file_id, data in stored.items():
        key = built.file_keys.get(file_id)
        for backup, content in ((built.plain, data), (built.encrypted, encrypt(key, data) if key else data)):
            (backup / file_id[:2]).mkdir(exist_ok=True)
            (backup / file_id[:2] / file_id).write_bytes(content)
    shutil.rmtree(work)
    return built


def _manifest(source: Path, work: Path, extra: list[ExtraFile], stored: dict[str, bytes],
              class_keys: dict[int, bytes], file_keys: dict[str, bytes], rng: random.Random,
              recorded_sizes: dict[str, int]) -> bytes:
    """The real manifest, every file record given its own key (and its true size where present), extras added."""
    for suffix in ("", "-wal"):
        if (source / f"Manifest.db{suffix}").is_file():
            shutil.copyfile(source / f"Manifest.db{suffix}", work / f"Manifest.db{suffix}")
    os.chmod(work / "Manifest.db", 0o600)
    db = sqlite3.connect(work / "Manifest.db")
    db.execute("PRAGMA journal_mode=DELETE")
    template = None
    for file_id, blob in db.execute("SELECT fileID, file FROM Files WHERE flags = 1").fetchall():
        archive = plistlib.loads(blob)
        template = template or copy.deepcopy(archive)
        root = _root(archive)
        protection_class = root.get("ProtectionClass", 4)
        file_keys[file_id] = rng.randbytes(32)
        _set_key(archive, wrapped_with_class(class_keys, protection_class, file_keys[file_id]))
        if file_id in stored:
            root["Size"] = len(stored[file_id])
        if file_id in recorded_sizes:
            root["Size"] = recorded_sizes[file_id]
        db.execute("UPDATE Files SET file = ? WHERE fileID = ?", (plistlib.dumps(archive, fmt=plistlib.FMT_BINARY),
                                                                  file_id))
    for added in extra:
        archive = copy.deepcopy(template)
        root = _root(archive)
        archive["$objects"][root["RelativePath"].data] = added.relative
        root.update(Size=recorded_sizes.get(added.file_id, len(added.data)), ProtectionClass=added.protection_class,
                    LastModified=added.mtime, Birth=added.mtime, LastStatusChange=added.mtime)
        file_keys[added.file_id] = rng.randbytes(32)
        _set_key(archive, wrapped_with_class(class_keys, added.protection_class, file_keys[added.file_id]))
        db.execute("INSERT OR REPLACE INTO Files VALUES (?, ?, ?, 1, ?)", (added.file_id, added.domain, added.relative,
                                                                plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)))
    db.commit()
    db.execute("VACUUM")
    db.close()
    return (work / "Manifest.db").read_bytes()


def _root(archive: dict) -> dict:
    return archive["$objects"][archive["$top"]["root"].data]


def _set_key(archive: dict, key: bytes) -> None:
    holder = archive["$objects"][_root(archive)["EncryptionKey"].data]
    holder["NS.data"] = key


def replace_manifest_plist(backup: Path, **changes: object) -> None:
    """Edit the encrypted twin's Manifest.plist (a damaged keybag, absurd rounds)."""
    path = backup / "Manifest.plist"
    manifest = plistlib.loads(path.read_bytes())
    manifest.update(changes)
    path.write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
