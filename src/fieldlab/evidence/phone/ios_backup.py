"""iTunes/Finder backups of iPhones and iPads: the real path of every file, and the device they came from.

A backup stores each file under the SHA-1 of its domain and path
(``Manifest.db``'s ``Files`` table maps ``fileID`` -> ``domain``,
``relativePath``, with an archived ``MBFile`` record of size and times), so a
folder of hex names becomes ``CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC``
and ``AppDomainGroup-group.net.whatsapp.WhatsApp.shared/Message/Media/...``
again.  Files the manifest lists but the backup lacks (the camera roll when
iCloud Photos holds it, files left out of a partial backup) are "referenced,
not present": the phone had them.

``Info.plist`` beside it names the device.  Backups are found wherever they
are (a laptop's ``MobileSync/Backup/<udid>`` folder, a zip), and everything in
them is the suspect's: the manifest is read from a private copy, rows and blob
sizes are bounded, and plist values are kept only when of the expected type.
"""

from __future__ import annotations

import datetime as dt
import plistlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from fieldlab.device import DeviceFacts
from fieldlab.errors import EvidenceError
from fieldlab.problems import Problem, ProblemKind

MAX_RECORDS = 5_000_000
MAX_BLOB = 64 << 10
MAX_TEXT = 4096
FLAG_FILE, FLAG_FOLDER, FLAG_LINK = 1, 2, 4


class BackupError(EvidenceError):
    """The manifest cannot be read; the message says why (encrypted, damaged), the kind what that is."""

    def __init__(self, message: str, kind: ProblemKind = ProblemKind.DAMAGED) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def problem(self) -> Problem:
        return Problem(self.kind, str(self))


@dataclass(frozen=True)
class ManifestRecord:
    file_id: str  # 40 hex digits: also the stored file's name, in the folder named by its first two
    domain: str
    relative_path: str
    flags: int  # 1 file, 2 folder, 4 symbolic link
    size: int | None
    mtime: float | None
    btime: float | None
    encryption_key: bytes | None = None  # encrypted backups: 4-byte little-endian protection class + wrapped key

    @property
    def device_path(self) -> str:
        return f"{self.domain}/{self.relative_path}" if self.relative_path else self.domain

    @property
    def stored_as(self) -> str:
        return f"{self.file_id[:2]}/{self.file_id}"


def read_manifest(db_file: Path) -> Iterator[ManifestRecord]:
    """Every record of a (copied) ``Manifest.db``; BackupError when it is encrypted or not a manifest."""
    with open(db_file, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\0":
            raise BackupError("Manifest.db is not a SQLite database: the backup is encrypted "
                              "(its files are listed by their stored names only; scan the backup's own folder "
                              "with --password to decrypt it)")
    try:
        connection = sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"Manifest.db cannot be opened: {exc}") from exc
    try:
        rows = connection.execute("SELECT fileID, domain, relativePath, flags, file FROM Files LIMIT ?",
                                  (MAX_RECORDS,))
        for row in rows:
            if record := manifest_record(*row):
                yield record
    except sqlite3.Error as exc:
        raise BackupError(f"Manifest.db is damaged: {exc}") from exc
    finally:
        connection.close()


def manifest_record(file_id: object, domain: object, relative: object, flags: object,
                    blob: object) -> ManifestRecord | None:
    """One row of the ``Files`` table; None when its fileID is not 40 hex digits."""
    if not isinstance(file_id, str) or len(file_id) != 40 or not _is_hex(file_id):
        return None
    size, mtime, btime, key = _file_details(blob)
    return ManifestRecord(file_id.lower(), _text(domain), _text(relative), flags if isinstance(flags, int) else 0,
                          size, mtime, btime, key)


def device_from_info_plist(data: bytes, source: str) -> DeviceFacts:
    """The device named by a backup's ``Info.plist``; BackupError when it is not a property list."""
    info = _plist(data, "Info.plist")

    def value(key: str) -> str | None:
        found = info.get(key)
        return _text(found) or None if isinstance(found, (str, int)) else None

    backup_date = info.get("Last Backup Date")
    return DeviceFacts(
        platform="ios", source=source, make="Apple", model=None, product_type=value("Product Type"),
        os_version=value("Product Version"), build=value("Build Version"), serial=value("Serial Number"),
        imei=value("IMEI"), iccid=value("ICCID"), phone_number=value("Phone Number"),
        device_name=value("Device Name"), extraction="iTunes/Finder backup",
        extracted_at=backup_date.replace(tzinfo=dt.timezone.utc).timestamp() if isinstance(backup_date, dt.datetime) else None,
    )


def device_from_system_version(data: bytes, source: str) -> DeviceFacts:
    """An iOS full file system names its OS release in SystemVersion.plist (the model is not there)."""
    info = _plist(data, "SystemVersion.plist")
    version, build = info.get("ProductVersion"), info.get("ProductBuildVersion")
    return DeviceFacts(platform="ios", source=source, make="Apple",
                       os_version=_text(version) or None if isinstance(version, str) else None,
                       build=_text(build) or None if isinstance(build, str) else None, extraction="full file system")


def container_identifier(data: bytes) -> str | None:
    """The bundle id an app container's metadata plist names (``MCMMetadataIdentifier``)."""
    found = _plist(data, "container metadata").get("MCMMetadataIdentifier")
    return _text(found) or None if isinstance(found, str) else None


def _plist(data: bytes, what: str) -> dict:
    try:
        value = plistlib.loads(data)
    except Exception as exc:  # plistlib raises several types on malformed input
        raise BackupError(f"{what} cannot be read: {exc}") from exc
    if not isinstance(value, dict):
        raise BackupError(f"{what} does not hold a dictionary")
    return value


def _file_details(blob: object) -> tuple[int | None, float | None, float | None, bytes | None]:
    """Size, modification and birth time, and the wrapped key of an encrypted backup, from the archived MBFile;
    nothing when the blob is odd."""
    if not isinstance(blob, bytes) or len(blob) > MAX_BLOB:
        return None, None, None, None
    try:
        archive = plistlib.loads(blob)
        objects = archive["$objects"]
        root = objects[archive["$top"]["root"].data]
    except Exception:  # a damaged record loses its details, not the record
        return None, None, None, None
    if not isinstance(root, dict):
        return None, None, None, None

    def number(key: str) -> int | None:
        found = root.get(key)
        return found if isinstance(found, int) and 0 <= found < 1 << 62 else None

    return number("Size"), _epoch(number("LastModified")), _epoch(number("Birth")), _archived_data(objects, root)


def _archived_data(objects: list, root: dict) -> bytes | None:
    """``EncryptionKey``: a reference to an NSData (bytes) or NSMutableData (``{"NS.data": bytes}``) object."""
    try:
        found = objects[root["EncryptionKey"].data]
    except (KeyError, AttributeError, IndexError, TypeError):
        return None
    if isinstance(found, dict):
        found = found.get("NS.data")
    return found if isinstance(found, bytes) and len(found) <= MAX_TEXT else None


def _epoch(value: int | None) -> float | None:
    return float(value) if value is not None and 0 < value < 1 << 34 else None


def _text(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        return ""
    return value[:MAX_TEXT].replace("\0", "")


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
