"""The photo databases of phones: what the gallery knows, including what the user hid, trashed or lost.

A phone's gallery keeps a database of its media.  It lists pictures the
gallery hides, pictures waiting in "Recently Deleted" or the trash, and rows
whose files have since gone; each is a lead the file system alone does not
give.  ``photo_database_kind`` recognises such a database by its path on the
device and ``read_photo_database`` lists its media as ``PhotoRecord``.

Android, MediaStore (``external.db`` of ``com.android.providers.media``, from
Android 11 the ``...providers.media.module``; before Android 5 a removable
card's database was ``external-<FAT volume id>.db``).  The ``files`` table has a row
per file; its columns grew from Android 4 to 14 (AOSP MediaProvider
``DatabaseHelper``), so they are discovered and whatever exists is read.
Pictures and videos are the rows with ``media_type`` 1 or 3 or an image/video
``mime_type``: MediaProvider gives files in ``.nomedia`` or hidden folders
``media_type`` 0, which galleries skip, but keeps their MIME type; such rows
are read and say so.
``date_added``, ``date_modified`` and ``date_expires`` are in seconds,
``datetaken`` in milliseconds.  From Android 11 the trash is MediaStore's
``is_trashed``: the file is renamed ``.trashed-<expiry>-<name>`` and expires
30 days after it was trashed, so the trash time is estimated from the expiry
(and says so).

iOS, ``PhotoData/Photos.sqlite`` (Core Data): assets are in ``ZGENERICASSET``
up to iOS 13 and ``ZASSET`` from iOS 14; ``ZADDITIONALASSETATTRIBUTES`` (the
original file name and size, the importing app) hangs off each asset's
``ZADDITIONALATTRIBUTES``, or points back through its own ``ZASSET``.  Times are
seconds since 2001-01-01 UTC.  ``ZDIRECTORY`` is relative to
``/private/var/mobile/Media``.

Every value is suspect-controlled: the schema is discovered, never assumed,
and only real tables are read (a view could run anything);
texts are cut at ``MAX_TEXT`` characters inside SQLite, before Python sees
them; numbers of the wrong type or times outside 1900-2100 become None (the
raw value is shown in ``extra``); and reading stops after ``MAX_ROWS`` rows.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fieldlab.errors import EvidenceError

MAX_ROWS = 5_000_000  # a phone with a million pictures is rare; this bounds a hostile or looping file
MAX_TEXT = 4096  # PATH_MAX on both systems; longer values are cut and marked

MEDIASTORE = "mediastore"
PHOTOS = "photos"

_MEDIASTORE_PATH = re.compile(
    r"(?:^|/)com\.(?:google\.)?android\.providers\.media(?:\.module)?/databases/external(?:-[0-9a-f]+)?\.db\Z",
    re.IGNORECASE)
_PHOTOS_PATH = re.compile(r"(?:^|/)PhotoData/Photos\.sqlite\Z", re.IGNORECASE)
_LABELS = {MEDIASTORE: "Android MediaStore database (external.db)", PHOTOS: "iOS Photos.sqlite"}

_SQLITE_MAGIC = b"SQLite format 3\x00"
_CORE_DATA_EPOCH = 978_307_200  # 2001-01-01T00:00:00Z in Unix seconds
_EARLIEST = -2_208_988_800  # 1900-01-01: older "times" are damage or a wrong unit
_LATEST = 4_102_444_800  # 2100-01-01
_ANDROID_TRASH_DAYS = 30  # MediaProvider DEFAULT_DURATION_TRASHED
_IOS_MEDIA = "/private/var/mobile/Media"
_IOS_KINDS: dict[float, str] = {0: "image", 1: "video"}  # ZKIND
_IOS_SUBTYPES: dict[float, str] = {2: "live photo", 10: "screenshot", 101: "slow motion", 102: "time-lapse"}

# the columns read, where the table has them
_MEDIASTORE_COLUMNS = (
    "_id", "_data", "_display_name", "relative_path", "volume_name", "_user_id", "media_type", "mime_type",
    "_size", "width", "height", "datetaken", "date_modified", "date_added", "is_trashed", "date_expires",
    "is_pending", "is_favorite", "owner_package_name", "download_uri", "referer_uri",
)
_ASSET_COLUMNS = (
    "Z_PK", "ZDIRECTORY", "ZFILENAME", "ZKIND", "ZKINDSUBTYPE", "ZUNIFORMTYPEIDENTIFIER", "ZWIDTH", "ZHEIGHT",
    "ZDATECREATED", "ZMODIFICATIONDATE", "ZADDEDDATE", "ZTRASHEDSTATE", "ZTRASHEDDATE", "ZHIDDEN", "ZFAVORITE",
    "ZVISIBILITYSTATE", "ZCLOUDLOCALSTATE", "ZUUID", "ZADDITIONALATTRIBUTES",
)
_ATTRIBUTE_COLUMNS = (
    "ZORIGINALFILENAME", "ZORIGINALFILESIZE", "ZIMPORTEDBYBUNDLEIDENTIFIER", "ZCREATORBUNDLEID",
    "ZIMPORTEDBYDISPLAYNAME",
)


@dataclass(frozen=True)
class PhotoRecord:
    database: str  # "mediastore" | "photos"
    row_id: int  # MediaStore _id, Photos.sqlite Z_PK (-1: the row's key is not a number; see extra)
    path: str  # the file's path on the device as the database records it: not normalised, may hold ".."
    original_name: str | None  # iOS ZORIGINALFILENAME; Android _display_name (kept when a trashed file is renamed)
    kind: str | None  # image | video | other
    size: int | None  # bytes
    width: int | None
    height: int | None
    created: float | None  # UTC seconds: when taken (Android datetaken, iOS ZDATECREATED)
    modified: float | None
    added: float | None  # when the gallery first listed it
    trashed: bool  # in "Recently Deleted" / the trash
    trashed_at: float | None  # iOS ZTRASHEDDATE; Android: estimated from the expiry (extra says so)
    hidden: bool  # iOS ZHIDDEN; Android has no such flag (a .nomedia folder shows in extra)
    owner_app: str | None  # Android owner_package_name, iOS importing app's bundle id
    extra: tuple[tuple[str, str], ...] = ()  # more to show: favourite, pending, cloud state, unreadable values...


class PhotoDatabaseError(EvidenceError):
    """The database is not one this module reads, or is damaged; the message says which and where."""


def photo_database_kind(path: str) -> str | None:
    """"mediastore" or "photos" for a phone's photo database, from its path on the device; else None."""
    path = path.replace("\\", "/")
    if _MEDIASTORE_PATH.search(path):
        return MEDIASTORE
    if _PHOTOS_PATH.search(path):
        return PHOTOS
    return None


def read_photo_database(db_file: Path, kind: str) -> Iterator[PhotoRecord]:
    """The media ``db_file`` lists, in table order; ``kind`` as from ``photo_database_kind``.

    ``db_file`` must be a private copy (with its ``-wal`` / ``-journal`` beside
    it): it is opened read-only, except that a rollback journal left by an
    interrupted write is applied to the copy, as the phone itself would have.
    Raises PhotoDatabaseError before the first record when the file is not
    such a database, and after the last readable one when it is damaged.
    """
    if kind not in _LABELS:
        raise ValueError(f"unknown photo database kind {kind!r}: expected {MEDIASTORE!r} or {PHOTOS!r}")
    label = _LABELS[kind]
    try:
        with closing(_open(db_file, label)) as db:
            rows = _mediastore_rows(db, label) if kind == MEDIASTORE else _photos_rows(db, label)
            yield from _bounded(rows, kind, label)
    except PhotoDatabaseError as error:
        shortfall = _shortfall(db_file)
        if shortfall is None:
            raise
        raise PhotoDatabaseError(f"{error}. {shortfall}") from None


# --------------------------------------------------------------------------- opening and reading


def _open(db_file: Path, label: str) -> sqlite3.Connection:
    try:
        with db_file.open("rb") as stream:
            head = stream.read(len(_SQLITE_MAGIC))
    except OSError as error:
        raise PhotoDatabaseError(f"{label}: the copy cannot be read ({error.strerror})") from None
    if head != _SQLITE_MAGIC:
        what = "it is empty" if not head else f"it starts with {head!r}"
        raise PhotoDatabaseError(f"{label}: not an SQLite database ({what}); the file is damaged or not this database")
    try:
        return _connect(db_file, "ro")
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", "") != "SQLITE_READONLY_ROLLBACK":
            raise _unreadable(label, error) from None
    # the phone was interrupted mid-write: rolling the private copy back gives its last committed state
    try:
        return _connect(db_file, "rw")
    except sqlite3.DatabaseError as error:
        raise _unreadable(label, error) from None


def _shortfall(db_file: Path) -> str | None:
    """What is missing when the file is shorter than its header says: the usual damage of a cut-short copy."""
    try:
        with db_file.open("rb") as stream:
            header = stream.read(100)
        size = db_file.stat().st_size
    except OSError:
        return None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC) or header[24:28] != header[92:96]:
        return None  # the header's page count is only valid while its two change counters agree
    page_size = int.from_bytes(header[16:18], "big")
    expected = (65_536 if page_size == 1 else page_size) * int.from_bytes(header[28:32], "big")
    if size >= expected:
        return None
    return (f"The file is {size:,} bytes but its header says {expected:,}: it was cut short "
            f"(an incomplete copy or extraction)")


def _connect(db_file: Path, mode: str) -> sqlite3.Connection:
    """A connection whose schema has been read (so damage and hot journals show here), unable to write."""
    db = sqlite3.connect(f"{db_file.absolute().as_uri()}?mode={mode}", uri=True)
    try:
        # a file shorter than its header says is refused whole unless the schema is "writable"; this lets a
        # cut-short extraction yield the rows it holds (nothing is written: the connection is read-only or,
        # after a rollback, query-only)
        db.execute("PRAGMA writable_schema = ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        db.execute("PRAGMA query_only = ON")
        db.execute("PRAGMA trusted_schema = OFF")  # no functions with side effects from the file's schema
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def _unreadable(label: str, error: sqlite3.Error) -> PhotoDatabaseError:
    return PhotoDatabaseError(f"{label}: the database cannot be read ({error}); it is damaged or cut short")


def _columns(db: sqlite3.Connection, label: str, table: str) -> frozenset[str] | None:
    """The upper-case column names of ``table`` (SQLite compares names case-insensitively); None if no such table."""
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                      (table,)).fetchone() is None:
            return None
        columns = frozenset(str(name).upper() for (name,) in
                            db.execute("SELECT name FROM pragma_table_info(?)", (table,)))
    except sqlite3.DatabaseError as error:
        raise _unreadable(label, error) from None
    return columns or None


def _missing(db: sqlite3.Connection, label: str, wanted: str) -> PhotoDatabaseError:
    try:
        tables = sorted(str(name) for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    except sqlite3.DatabaseError:
        tables = []
    shown = ", ".join(tables[:10]) + (f" and {len(tables) - 10} more" if len(tables) > 10 else "")
    holds = f"it holds {shown}" if tables else "it holds no tables"
    return PhotoDatabaseError(f"{label}: {wanted} is missing ({holds}); the file is not this database or is damaged")


def _bounded_column(expression: str) -> str:
    """``expression`` with text and blobs cut inside SQLite, so a 1 GB cell never reaches Python."""
    return (f"CASE typeof({expression}) WHEN 'text' THEN substr({expression}, 1, {MAX_TEXT + 1}) "
            f"WHEN 'blob' THEN substr({expression}, 1, {MAX_TEXT + 1}) ELSE {expression} END")


def _select(db: sqlite3.Connection, sql: str, columns: list[str]) -> Iterator[dict[str, object]]:
    for values in db.execute(sql):
        yield dict(zip(columns, values))


def _bounded(rows: Iterator[dict[str, object]], kind: str, label: str) -> Iterator[PhotoRecord]:
    make = _mediastore_record if kind == MEDIASTORE else _photos_record
    number = 0
    try:
        for number, row in enumerate(rows, 1):
            if number > MAX_ROWS:
                raise PhotoDatabaseError(f"{label}: more than {MAX_ROWS:,} rows; reading stopped there")
            yield make(_Row(row))
    except sqlite3.DatabaseError as error:
        raise PhotoDatabaseError(f"{label}: the database is damaged after row {number:,}; "
                                 f"reading stopped ({error})") from None


# --------------------------------------------------------------------------- values


class _Row:
    """One row's values, read defensively; what cannot be used goes to ``extra`` instead of being lost."""

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values
        self.extra: list[tuple[str, str]] = []
        self._cut: list[str] = []
        self._unreadable: list[str] = []

    def text(self, column: str) -> str | None:
        value = self.values.get(column)
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        value = str(value).replace("\x00", "\N{REPLACEMENT CHARACTER}")
        if len(value) > MAX_TEXT:
            self._cut.append(column)
            value = value[:MAX_TEXT]
        return value

    def number(self, column: str) -> int | float | None:
        value = self.values.get(column)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self._unreadable.append(f"{column}={_shown(value)}")
            return None
        return value

    def count(self, column: str) -> int | None:
        """A non-negative whole number (size, width, height)."""
        value = self.number(column)
        if value is None:
            return None
        if value < 0 or value != int(value) or value >= 1 << 63:
            self._unreadable.append(f"{column}={value!r}")
            return None
        return int(value)

    def flag(self, column: str) -> bool:
        value = self.number(column)
        return value is not None and value != 0

    def time(self, column: str, *, per_second: int = 1, epoch: int = 0, zero_unset: bool = False) -> float | None:
        """Unix seconds from a count of ``1/per_second`` seconds since ``epoch``; None when absent or absurd."""
        value = self.number(column)
        if value is None or (zero_unset and value == 0):
            return None
        seconds = value / per_second + epoch
        if not _EARLIEST <= seconds < _LATEST:
            self._unreadable.append(f"{column}={value!r}")
            return None
        return float(seconds)

    def add(self, key: str, value: str | None) -> None:
        if value:
            self.extra.append((key, value))

    def finished_extra(self) -> tuple[tuple[str, str], ...]:
        if self._cut:
            self.extra.append(("cut short", f"{', '.join(self._cut)} longer than {MAX_TEXT:,} characters"))
        if self._unreadable:
            self.extra.append(("unreadable values", "; ".join(self._unreadable)))
        return tuple(self.extra)


def _shown(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _utc(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _row_id(row: _Row, column: str) -> int:
    value = row.values.get(column)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    row.add("row key", _shown(value))
    return -1


# --------------------------------------------------------------------------- Android MediaStore


def _mediastore_rows(db: sqlite3.Connection, label: str) -> Iterator[dict[str, object]]:
    present = _columns(db, label, "files")
    if present is None:
        raise _missing(db, label, "the 'files' table")
    columns = [column for column in _MEDIASTORE_COLUMNS if column.upper() in present]
    if "_data" not in columns and "_display_name" not in columns:
        raise _missing(db, label, "a path column (_data or _display_name) in 'files'")
    media = []
    if "media_type" in columns:
        media.append('"media_type" IN (1, 3)')
    if "mime_type" in columns:
        media.append("\"mime_type\" LIKE 'image/%' OR \"mime_type\" LIKE 'video/%'")
    where = f" WHERE {' OR '.join(media)}" if media else ""
    listed = ", ".join(_bounded_column(f'"{column}"') for column in columns)
    return _select(db, f'SELECT {listed} FROM "files"{where}', columns)


def _mediastore_record(row: _Row) -> PhotoRecord:
    row_id = _row_id(row, "_id")
    name = row.text("_display_name")
    mime = row.text("mime_type")
    media_type = row.number("media_type")
    trashed = row.flag("is_trashed")
    pending = row.flag("is_pending")
    expires = row.time("date_expires", zero_unset=True)
    row.add("mime type", mime)
    trashed_at = None
    if trashed and expires is not None:
        trashed_at = _plausible(expires - _ANDROID_TRASH_DAYS * 86_400)
        row.add("trashed at", f"estimated: expiry minus Android's {_ANDROID_TRASH_DAYS}-day trash period")
    if media_type == 0 and _kind_from_mime(mime) is not None:
        row.add("gallery", "not listed (media_type 0: how Android marks files in .nomedia or hidden folders)")
    row.add("pending", "yes: being written by an app" if pending else None)
    row.add("expires", _utc(expires))
    row.add("favourite", "yes" if row.flag("is_favorite") else None)
    row.add("downloaded from", row.text("download_uri"))
    row.add("download referrer", row.text("referer_uri"))
    return PhotoRecord(
        database=MEDIASTORE,
        row_id=row_id,
        path=_android_path(row, name),
        original_name=name,
        kind=_android_kind(media_type, mime),
        size=row.count("_size"),
        width=row.count("width"),
        height=row.count("height"),
        created=row.time("datetaken", per_second=1000, zero_unset=True),
        modified=row.time("date_modified", zero_unset=True),
        added=row.time("date_added", zero_unset=True),
        trashed=trashed,
        trashed_at=trashed_at,
        hidden=False,
        owner_app=row.text("owner_package_name"),
        extra=row.finished_extra(),
    )


def _plausible(seconds: float) -> float | None:
    return seconds if _EARLIEST <= seconds < _LATEST else None


def _android_path(row: _Row, name: str | None) -> str:
    """``_data``; rows without it (never seen, but possible) get the path Android builds from its parts."""
    data = row.text("_data")
    if data:
        return data
    relative = row.text("relative_path") or ""
    volume = row.text("volume_name")
    user = row.count("_user_id") or 0
    root = f"/storage/emulated/{user}" if volume in (None, "external_primary") else f"/storage/{volume.upper()}"
    row.add("path", "rebuilt from volume_name, relative_path and _display_name: _data is empty")
    return f"{root}/{relative.strip('/')}/{name or ''}".replace("//", "/")


def _kind_from_mime(mime: str | None) -> str | None:
    if mime is None:
        return None
    major = mime.split("/", 1)[0].strip().lower()
    return major if major in ("image", "video") else None


def _android_kind(media_type: int | float | None, mime: str | None) -> str:
    if media_type == 1:
        return "image"
    if media_type == 3:
        return "video"
    return _kind_from_mime(mime) or "other"


# --------------------------------------------------------------------------- iOS Photos.sqlite


def _photos_rows(db: sqlite3.Connection, label: str) -> Iterator[dict[str, object]]:
    for asset_table in ("ZASSET", "ZGENERICASSET"):
        asset = _columns(db, label, asset_table)
        if asset is not None and "Z_PK" in asset:
            break
    else:
        raise _missing(db, label, "the asset table (ZASSET from iOS 14, ZGENERICASSET before)")
    columns = [column for column in _ASSET_COLUMNS if column in asset]
    listed = [_bounded_column(f'a."{column}"') for column in columns]
    join = ""
    attributes = _columns(db, label, "ZADDITIONALASSETATTRIBUTES") or frozenset()
    if "Z_PK" in attributes:
        if "ZADDITIONALATTRIBUTES" in asset:
            join = ' LEFT JOIN "ZADDITIONALASSETATTRIBUTES" AS x ON x."Z_PK" = a."ZADDITIONALATTRIBUTES"'
        elif "ZASSET" in attributes:
            join = ' LEFT JOIN "ZADDITIONALASSETATTRIBUTES" AS x ON x."ZASSET" = a."Z_PK"'
    if join:
        joined = [column for column in _ATTRIBUTE_COLUMNS if column in attributes]
        columns += joined
        listed += [_bounded_column(f'x."{column}"') for column in joined]
    return _select(db, f'SELECT {", ".join(listed)} FROM "{asset_table}" AS a{join}', columns)


def _photos_record(row: _Row) -> PhotoRecord:
    row_id = _row_id(row, "Z_PK")
    kind = row.number("ZKIND")
    subtype = row.number("ZKINDSUBTYPE")
    visibility = row.number("ZVISIBILITYSTATE")
    row.add("uuid", row.text("ZUUID"))
    row.add("type", row.text("ZUNIFORMTYPEIDENTIFIER"))
    row.add("subtype", _IOS_SUBTYPES.get(subtype) if subtype is not None else None)
    row.add("favourite", "yes" if row.flag("ZFAVORITE") else None)
    row.add("visibility", f"not shown in the library ({visibility!r})" if visibility else None)
    row.add("icloud photos", "synced or to be synced" if row.number("ZCLOUDLOCALSTATE") == 1 else None)
    row.add("imported by", row.text("ZIMPORTEDBYDISPLAYNAME"))
    return PhotoRecord(
        database=PHOTOS,
        row_id=row_id,
        path=_ios_path(row.text("ZDIRECTORY"), row.text("ZFILENAME")),
        original_name=row.text("ZORIGINALFILENAME"),
        kind=None if kind is None else _IOS_KINDS.get(kind, "other"),
        size=row.count("ZORIGINALFILESIZE"),
        width=row.count("ZWIDTH"),
        height=row.count("ZHEIGHT"),
        created=row.time("ZDATECREATED", epoch=_CORE_DATA_EPOCH),
        modified=row.time("ZMODIFICATIONDATE", epoch=_CORE_DATA_EPOCH),
        added=row.time("ZADDEDDATE", epoch=_CORE_DATA_EPOCH),
        trashed=row.flag("ZTRASHEDSTATE"),
        trashed_at=row.time("ZTRASHEDDATE", epoch=_CORE_DATA_EPOCH),
        hidden=row.flag("ZHIDDEN"),
        owner_app=row.text("ZIMPORTEDBYBUNDLEIDENTIFIER") or row.text("ZCREATORBUNDLEID"),
        extra=row.finished_extra(),
    )


def _ios_path(directory: str | None, filename: str | None) -> str:
    """ZDIRECTORY is relative to the Media folder ("DCIM/100APPLE"); an absolute one is kept as it is."""
    parts = [part.strip("/") for part in (directory, filename) if part]
    joined = "/".join(part for part in parts if part)
    if directory and directory.startswith("/"):
        return "/" + joined
    return f"{_IOS_MEDIA}/{joined}" if joined else ""
