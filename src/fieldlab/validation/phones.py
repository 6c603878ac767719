"""The phone extractions of the validation corpus, written in the formats the tools that make them write and
fieldlab reads: an iTunes/Finder backup folder (``Manifest.db`` and files stored under hashed names), an
Android ``adb backup`` file (``.ab``) and a Cellebrite UFDR package.  Fixed times and no randomness, so the same
content gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import sqlite3
import zlib
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from fieldlab.validation.content import FIXED_MTIME, tar_of, zip_of

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
    """Where a backup stores a file: ``<fileID[:2]>/<fileID>``, the fileID the SHA-1 of ``domain-relativePath``."""
    file_id = hashlib.sha1(f"{domain}-{relative}".encode()).hexdigest()
    return f"{file_id[:2]}/{file_id}"


def _mbfile(relative: str, size: int, inode: int) -> bytes:
    """The archived ``MBFile`` a manifest row carries (NSKeyedArchiver, binary plist)."""
    record = {"$class": plistlib.UID(3), "RelativePath": plistlib.UID(2), "Size": size, "Mode": 0o100644,
              "LastModified": FIXED_MTIME, "LastStatusChange": FIXED_MTIME, "Birth": FIXED_MTIME,
              "InodeNumber": 1_000_000 + inode, "UserID": 501, "GroupID": 501, "Flags": 0, "ProtectionClass": 3}
    archive = {"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)},
               "$objects": ["$null", record, relative, {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}]}
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY, sort_keys=True)


def android_backup(members: dict[str, bytes]) -> bytes:
    """An unencrypted, compressed ``adb backup`` (version 5): the header lines, then the tar deflated by zlib."""
    return b"ANDROID BACKUP\n5\n1\nnone\n" + zlib.compress(tar_of(members), 6)


def ufdr(device: dict[str, str], files: list[tuple[str, str, bytes]]) -> bytes:
    """A UFDR package: ``report.xml`` as UFED writes it (project, device info, one ``<file>`` per extracted file
    with its phone path and ``Local Path``) and the files sorted by category.  ``files``: (phone path, local path
    in the package, content)."""
    info = "".join(f'<item name="{escape(k)}"><![CDATA[{v}]]></item>' for k, v in device.items())
    tagged = "".join(
        f'<file fs="Android" fsid="fs1" path={quoteattr(phone_path)} size="{len(data)}" id="f{n}" '
        f'extractionId="0" deleted="Intact" embedded="false"><accessInfo><timestamp name="CreationTime">'
        f'2024-05-17T12:30:00.000+00:00</timestamp></accessInfo><metadata section="File">'
        f'<item name="Local Path"><![CDATA[{local.replace("/", chr(92))}]]></item>'
        f'<item name="Tags"><![CDATA[Image]]></item></metadata></file>'
        for n, (phone_path, local, data) in enumerate(files))
    report = ('<?xml version="1.0" encoding="utf-8"?><project id="validation" name="VALIDATION" '
              'reportVersion="7.60.0.0" containsGarbage="False" xmlns="http://pa.cellebrite.com/report/2.0">'
              '<sourceExtractions><extractionInfo id="0" name="File System" isCustomName="False" type="FileSystem" '
              'deviceName="Android" fullName="File System" index="0" IsPartialData="False"/></sourceExtractions>'
              '<metadata section="Extraction Data"><item name="DeviceInfoExtractionStartDateTime">'
              '<![CDATA[17/05/2024 12:30:00(UTC+0)]]></item></metadata>'
              f'<metadata section="Device Info">{info}</metadata><taggedFiles>{tagged}</taggedFiles></project>')
    return zip_of({"report.xml": report.encode("utf-8"), **{local: data for _, local, data in files}})
