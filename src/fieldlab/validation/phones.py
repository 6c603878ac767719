"""The phone extractions of the validation corpus, written in the formats the tools that make them write and
fieldlab reads: an iTunes/Finder backup folder (``Manifest.db`` and files stored under hashed names), an
Android ``adb backup`` file (``.ab``) and a Cellebrite UFDR package.  Fixed times and only seeded randomness, so
the same content gives the same bytes.  The tests build their phone evidence with these writers too, so their
options (an encrypted ``.ab``, a deleted file in a UFDR) live here rather than in a second writer under tests/.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import random
import re
import sqlite3
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fieldlab.validation.content import FIXED_MTIME, zip_of

_BACKUP_TIME = datetime.fromtimestamp(FIXED_MTIME, timezone.utc).replace(tzinfo=None)
_DEVICE = {"Device Name": "Alex's iPhone", "Product Type": "iPhone12,1", "Product Version": "17.4.1",
           "Build Version": "21E236", "Serial Number": "F2LZK0AAN72J", "IMEI": "356789104563217"}


def ios_backup(folder: Path, udid: str, files: dict[tuple[str, str], bytes]) -> Path:
    """An unencrypted iOS backup in ``folder/udid``: ``files`` maps (domain, relative path) to content.

    As iOS 10 and later write it: each file stored as ``<fileID[:2]>/<fileID>``, the fileID being the SHA-1 of
    ``domain-relativePath``; ``Manifest.db``'s ``Files`` table maps it back, with an NSKeyedArchiver ``MBFile``
    record of size and times; ``Info.plist``, ``Manifest.plist`` and ``Status.plist`` beside it."""
    root = folder / udid
    root.mkdir(parents=True)
    rows: list[tuple[str, str, str, int, bytes]] = []
    for (domain, relative), data in sorted(files.items()):
        stored = root / stored_name(domain, relative)
        stored.parent.mkdir(exist_ok=True)
        stored.write_bytes(data)
        file_id = stored.name
        rows.append((file_id, domain, relative, 1, _mbfile(relative, len(data), len(rows) + 1)))
    connection = sqlite3.connect(root / "Manifest.db")
    try:
        connection.execute("CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, "
                           "flags INTEGER, file BLOB)")
        connection.execute("CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)")
        connection.executemany("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", rows)
        connection.commit()
    finally:
        connection.close()
    device = {**_DEVICE, "Unique Identifier": udid.upper(), "Target Identifier": udid,
              "Last Backup Date": _BACKUP_TIME}
    (root / "Info.plist").write_bytes(plistlib.dumps(device, sort_keys=True))
    (root / "Manifest.plist").write_bytes(plistlib.dumps(
        {"IsEncrypted": False, "Version": "10.0", "Date": _BACKUP_TIME, "WasPasscodeSet": True,
         "Lockdown": {"ProductVersion": _DEVICE["Product Version"], "ProductType": _DEVICE["Product Type"],
                      "BuildVersion": _DEVICE["Build Version"], "UniqueDeviceID": udid,
                      "SerialNumber": _DEVICE["Serial Number"], "DeviceName": _DEVICE["Device Name"]}},
        fmt=plistlib.FMT_BINARY, sort_keys=True))
    (root / "Status.plist").write_bytes(plistlib.dumps(
        {"IsFullBackup": False, "Version": "3.3", "BackupState": "new", "Date": _BACKUP_TIME,
         "SnapshotState": "finished", "UUID": udid.upper()}, fmt=plistlib.FMT_BINARY, sort_keys=True))
    for path in root.rglob("*"):
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    return root


def stored_name(domain: str, relative: str) -> str:
    """Where a backup stores a file: ``<fileID[:2]>/<fileID>``."""
    name = file_id(domain, relative)
    return f"{name[:2]}/{name}"


def file_id(domain: str, relative: str) -> str:
    """The name a backup gives a file and its ``Manifest.db`` row: the SHA-1 of ``domain-relativePath``."""
    return hashlib.sha1(f"{domain}-{relative}".encode()).hexdigest()


def _mbfile(relative: str, size: int, inode: int) -> bytes:
    """The archived ``MBFile`` a manifest row carries (NSKeyedArchiver, binary plist)."""
    record = {"$class": plistlib.UID(3), "RelativePath": plistlib.UID(2), "Size": size, "Mode": 0o100644,
              "LastModified": FIXED_MTIME, "LastStatusChange": FIXED_MTIME, "Birth": FIXED_MTIME,
              "InodeNumber": 1_000_000 + inode, "UserID": 501, "GroupID": 501, "Flags": 0, "ProtectionClass": 3}
    archive = {"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)},
               "$objects": ["$null", record, relative, {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}]}
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY, sort_keys=True)


def android_backup(tar: bytes, *, version: int = 5, compressed: bool = True, password: str | None = None,
                   rounds: int = 10_000, seed: int = 1) -> bytes:
    """An ``adb backup`` file of ``tar``: the header lines, then the tar, deflated by zlib if ``compressed``.

    With a ``password``, encrypted as Android's backup manager does it: a random master key (from ``seed``, so the
    bytes repeat) encrypts the payload; the master key, its IV and a checksum of it are encrypted with a key
    derived from the password (PBKDF2-SHA1, ``rounds``).  Version 1 checksums the raw master key, later versions
    the Java-chars form of it, and version 1 took the password as Latin-1 where later ones take UTF-8."""
    payload = zlib.compress(tar, 6) if compressed else tar
    header = b"ANDROID BACKUP\n%d\n%d\n" % (version, compressed)
    if password is None:
        return header + b"none\n" + payload
    rng = random.Random(seed)
    user_salt, checksum_salt, user_iv = rng.randbytes(64), rng.randbytes(64), rng.randbytes(16)
    master_key, master_iv = rng.randbytes(32), rng.randbytes(16)
    secret = password.encode("utf-8") if version >= 2 else bytes(ord(c) & 0xFF for c in password)
    user_key = hashlib.pbkdf2_hmac("sha1", secret, user_salt, rounds, 32)
    key_as_given = _java_chars_utf8(master_key) if version >= 2 else master_key
    checksum = hashlib.pbkdf2_hmac("sha1", key_as_given, checksum_salt, rounds, 32)
    blob = aes_cbc(user_key, user_iv, bytes([16]) + master_iv + bytes([32]) + master_key + bytes([32]) + checksum)
    lines = [b"AES-256", user_salt.hex().upper().encode(), checksum_salt.hex().upper().encode(), b"%d" % rounds,
             user_iv.hex().upper().encode(), blob.hex().upper().encode()]
    return header + b"\n".join(lines) + b"\n" + aes_cbc(master_key, master_iv, payload)


def _java_chars_utf8(key: bytes) -> bytes:
    """What Java's ``(char) byte`` then UTF-8 makes of a key: the signed byte is widened to 16 bits."""
    return "".join(chr(((b ^ 0x80) - 0x80) & 0xFFFF) for b in key).encode("utf-8")


def aes_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-CBC with PKCS#7 padding, as both phone backups encrypt (an iOS backup with a zero IV)."""
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


@dataclass(frozen=True)
class ExtractedFile:
    """A file in a UFDR package: where it was on the phone, where the package keeps it, and whether it was
    recovered deleted."""

    phone_path: str
    local_path: str  # inside the package, '/'-separated
    data: bytes
    deleted: bool = False


def ufdr(device: dict[str, str], files: list[ExtractedFile], *, device_name: str = "Android",
         extraction_type: str = "FileSystem", extracted_at: datetime = _BACKUP_TIME) -> bytes:
    """A UFDR package: ``report.xml`` as UFED writes it (project, extraction, device info, one ``<file>`` per
    extracted file with its phone path and ``Local Path``) and the files sorted by category.  ``extracted_at`` (UTC)
    is when the extraction started and each file's creation time; ``extraction_type`` is UFED's name for the kind
    of extraction (``FileSystem``, ``FullFileSystem``)."""
    info = "".join(f'<item name="{escape(k)}"><![CDATA[{v}]]></item>' for k, v in device.items())
    tagged = "".join(
        f'<file fs={quoteattr(device_name)} fsid="fs1" path={quoteattr(f.phone_path)} size="{len(f.data)}" id="f{n}" '
        f'extractionId="0" deleted="{"Deleted" if f.deleted else "Intact"}" embedded="false"><accessInfo>'
        f'<timestamp name="CreationTime">{extracted_at:%Y-%m-%dT%H:%M:%S}.000+00:00</timestamp></accessInfo>'
        f'<metadata section="File"><item name="Local Path"><![CDATA[{f.local_path.replace("/", chr(92))}]]></item>'
        f'<item name="Tags"><![CDATA[Image]]></item></metadata></file>'
        for n, f in enumerate(files))
    extraction_name = quoteattr(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", extraction_type))
    report = ('<?xml version="1.0" encoding="utf-8"?><project id="validation" name="VALIDATION" '
              'reportVersion="7.60.0.0" containsGarbage="False" xmlns="http://pa.cellebrite.com/report/2.0">'
              f'<sourceExtractions><extractionInfo id="0" name={extraction_name} isCustomName="False" '
              f'type={quoteattr(extraction_type)} deviceName={quoteattr(device_name)} fullName={extraction_name} '
              'index="0" IsPartialData="False"/></sourceExtractions>'
              '<metadata section="Extraction Data"><item name="DeviceInfoExtractionStartDateTime">'
              f'<![CDATA[{extracted_at:%d/%m/%Y %H:%M:%S}(UTC+0)]]></item></metadata>'
              f'<metadata section="Device Info">{info}</metadata><taggedFiles>{tagged}</taggedFiles></project>')
    return zip_of({"report.xml": report.encode("utf-8"), **{f.local_path: f.data for f in files}})
