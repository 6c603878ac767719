"""Importing sightings: which internet address offered which file, when, from a peer-to-peer monitoring export.

The default layout is a CSV with a header row naming these columns (any order, extra columns ignored)::

    timestamp_utc,ip,port,network,client_guid,file_hash,file_name,file_size
    2024-05-01T13:45:00Z,203.0.113.7,6346,gnutella,7F3A...,9e107d9d372bb6826bd81d3542a419d6,a.jpg,123456

``--columns`` maps fields to another export's columns by header name or 1-based position:
``timestamp=First Seen (UTC),ip=IP Address,hash=SHA1`` (``timestamp``, ``ip`` and ``hash`` are required).

Every row is checked: the time must carry its zone (``Z`` or an offset) unless ``--zone`` names the zone the
export was written in (a local time the clocks made ambiguous is refused); the address is IPv4 or IPv6 and not a
private one; the hash is an MD5, a SHA-1 (hex, or Gnutella's base32 ``urn:sha1:``), a BitTorrent infohash or an
eD2k hash.  A bad row is reported with its line number and the rest are imported.  A sighting already held (same
network, address, port, GUID, hash and time) is counted as a duplicate, never twice.  Each file hash is looked up
in the hash-set library; each address is placed in an area, and sightings outside the force's own areas are kept
but set aside.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import ipaddress
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from fieldlab.case.read_rows import deciding_category
from fieldlab.errors import OpsError
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.hashsets.matcher import DigestQuery, HashMatcher
from fieldlab.ops.areas import load_index
from fieldlab.ops.database import OpsDatabase, serialise
from fieldlab.ops.schema import import_problems, imports, sightings
from fieldlab.ops.settings import load_settings
from fieldlab.ops.torrents import torrent_matches
from fieldlab.sql import inserted_id

DEFAULT_LAYOUT = {"timestamp": "timestamp_utc", "ip": "ip", "port": "port", "network": "network",
                  "guid": "client_guid", "hash": "file_hash", "file_name": "file_name", "file_size": "file_size"}
FIELDS = tuple(DEFAULT_LAYOUT)
REQUIRED = ("timestamp", "ip", "hash")
PROBLEMS_KEPT = 1000
BATCH = 5000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
_HEX = re.compile(r"^[0-9a-f]+$")
_BASE32 = re.compile(r"^[A-Z2-7]{32}$")
_NOT_SUBSCRIBERS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                      "100.64.0.0/10", "fc00::/7")]
_ED2K_NETWORKS = frozenset({"ed2k", "edonkey", "emule", "kad"})
_TORRENT_NETWORKS = frozenset({"bittorrent", "bt", "torrent"})


class SightingsError(OpsError, ValueError):
    """The file cannot be imported as asked (layout, zone); the message says what to change."""


@dataclass(frozen=True)
class ImportProblem:
    line: int
    message: str


@dataclass(frozen=True)
class ParsedSighting:
    line: int
    seen_us: int
    ip: str
    port: int | None
    network: str
    guid: str
    hash_kind: str
    file_hash: str
    file_name: str
    file_size: int | None
    # what fieldlab's own BitTorrent observer adds (None for exported sightings)
    share: float | None = None
    client: str | None = None
    found_by: str | None = None
    observer: str | None = None

    @property
    def key(self) -> str:
        """The sighting's identity: the same network, address, port, GUID, hash and time is the same sighting."""
        parts = (self.network, self.ip, "" if self.port is None else str(self.port), self.guid, self.hash_kind,
                 self.file_hash, str(self.seen_us))
        return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ImportReport:
    import_id: int
    file_name: str
    sha256: str
    rows: int
    added: int
    duplicates: int
    malformed: int
    set_aside: int  # added, but outside the force's areas (kept, not deleted)
    known: int  # added sightings of files a hash set knows
    problems: tuple[ImportProblem, ...]  # the first PROBLEMS_KEPT, by line


@dataclass(frozen=True)
class Layout:
    columns: dict[str, str]  # field -> header name, or "#N" for the N-th column
    header: bool = True

    def to_json(self) -> str:
        return json.dumps({"columns": self.columns, "header": self.header}, sort_keys=True)


def parse_layout(text: str | None, *, header: bool = True) -> Layout:
    """``field=column`` pairs separated by commas or new lines; fields not named keep the default column name."""
    columns = dict(DEFAULT_LAYOUT) if header else {}
    for part in re.split(r"[,\n]", text or ""):
        if not part.strip():
            continue
        name, equals, column = part.partition("=")
        name, column = name.strip().lower(), column.strip()
        if not equals or name not in FIELDS or not column:
            raise SightingsError(f"--columns: {part.strip()!r} is not field=column; fields are {', '.join(FIELDS)}")
        if column.isdigit():
            column = f"#{column}"
        if column.startswith("#") and not (column[1:].isdigit() and int(column[1:]) >= 1):
            raise SightingsError(f"--columns: {column!r} is not a column position (1 is the first column)")
        columns[name] = column
    if not header and any(not c.startswith("#") for c in columns.values()):
        raise SightingsError("a file without a header row needs every field as a column position: timestamp=1,ip=2,...")
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise SightingsError(f"--columns must say where {', '.join(missing)} are")
    return Layout(columns, header)


def zone_named(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SightingsError(f"--zone {name!r} is not a time zone name (e.g. UTC, Europe/London)") from None


class RowError(OpsError, ValueError):
    """One row cannot be read; the message is shown with its line number."""


def parse_time(text: str, zone: ZoneInfo | None, now: datetime) -> int:
    """Microseconds since 1970 UTC of an ISO 8601 time."""
    value = text.strip()
    if len(value) <= 10:
        raise RowError(f"timestamp {value[:40]!r} has no time of day (ISO 8601, e.g. 2024-05-01T13:45:00Z)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"timestamp {value[:40]!r} is not ISO 8601 (e.g. 2024-05-01T13:45:00Z)") from None
    if moment.tzinfo is None:
        if zone is None:
            raise RowError(f"timestamp {value[:40]!r} has no zone: the export must say UTC (Z) or an offset, "
                           "or give the zone it was written in with --zone")
        early, late = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
        if early.utcoffset() != late.utcoffset():
            raise RowError(f"timestamp {value[:40]!r} is ambiguous or does not exist in {zone.key} "
                           "(the clocks changed): the export must give UTC")
        moment = early
    if moment < EARLIEST or moment > now + timedelta(days=1):
        raise RowError(f"timestamp {value[:40]!r} is before 2000 or in the future: a wrong clock or column?")
    return (moment - EPOCH) // timedelta(microseconds=1)


def parse_address(text: str) -> str:
    value = text.strip().strip("[]")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise RowError(f"{value[:60]!r} is not an IPv4 or IPv6 address") from None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if (address.is_loopback or address.is_link_local or address.is_multicast or address.is_unspecified
            or address.is_reserved or any(address in n for n in _NOT_SUBSCRIBERS if n.version == address.version)):
        raise RowError(f"{address} is a private, shared or reserved address: it cannot lead to a subscriber")
    return str(address)


def parse_hash(text: str, network: str) -> tuple[str, str]:
    """(kind, lower-case hex) of a file hash or infohash."""
    value = text.strip()
    lowered = value.lower()
    kind = None
    for prefix, named in (("urn:sha1:", "sha1"), ("urn:btih:", "btih"), ("sha1:", "sha1"), ("md5:", "md5"),
                          ("btih:", "btih"), ("ed2k:", "ed2k")):
        if lowered.startswith(prefix):
            kind, value, lowered = named, value[len(prefix):], lowered[len(prefix):]
            break
    if _BASE32.match(value.upper()) and kind in (None, "sha1", "btih") and not _HEX.match(lowered):
        try:
            return kind or "sha1", base64.b32decode(value.upper()).hex()
        except (binascii.Error, ValueError):
            pass
    if not _HEX.match(lowered) or len(lowered) not in (32, 40):
        raise RowError(f"file hash {text.strip()[:80]!r} is not an MD5, SHA-1, infohash or eD2k hash")
    if kind is None:
        if len(lowered) == 40:
            kind = "btih" if network in _TORRENT_NETWORKS else "sha1"
        else:
            kind = "ed2k" if network in _ED2K_NETWORKS else "md5"
    if (kind in ("sha1", "btih")) != (len(lowered) == 40):
        raise RowError(f"file hash {text.strip()[:80]!r} has the wrong length for {kind}")
    return kind, lowered


def _clean_text(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if len(value) > limit:
        raise RowError(f"{what} is longer than {limit} characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise RowError(f"{what} is not UTF-8 text")
    return value


def parse_row(line: int, values: dict[str, str], zone: ZoneInfo | None, *, now: datetime) -> ParsedSighting:
    network = _clean_text(values.get("network", ""), 40, "network").lower()
    guid = _clean_text(values.get("guid", ""), 200, "client GUID")
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in guid):
        raise RowError("the client GUID has control or space characters")
    kind, file_hash = parse_hash(values["hash"], network)
    port_text = values.get("port", "").strip()
    size_text = values.get("file_size", "").strip()
    try:
        port = int(port_text) if port_text else None
        size = int(size_text) if size_text else None
    except ValueError:
        raise RowError("port and file size are whole numbers") from None
    if port is not None and not 0 <= port <= 65535:
        raise RowError(f"port {port} is not 0-65535")
    if size is not None and size < 0:
        raise RowError("a file size cannot be negative")
    return ParsedSighting(line, parse_time(values["timestamp"], zone, now), parse_address(values["ip"]), port,
                          network, guid, kind, file_hash, _clean_text(values.get("file_name", ""), 1000, "file name"),
                          size)


def read_rows(text: io.TextIOBase, layout: Layout, zone: ZoneInfo | None,
              *, now: datetime) -> Iterator[ParsedSighting | ImportProblem]:
    reader = csv.reader(text)
    positions = _positions(reader, layout) if layout.header else {
        f: int(c[1:]) - 1 for f, c in layout.columns.items()}
    width = max(positions.values()) + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the csv module's limit, a NUL byte: that line, not the import
            yield ImportProblem(reader.line_num, f"not a CSV row: {exc}")
            continue
        line = reader.line_num
        if not row or not "".join(row).strip():
            continue
        if len(row) < width:
            yield ImportProblem(line, f"{len(row)} fields, expected at least {width}")
            continue
        try:
            yield parse_row(line, {f: row[i] for f, i in positions.items()}, zone, now=now)
        except RowError as exc:
            yield ImportProblem(line, str(exc))


def _positions(reader, layout: Layout) -> dict[str, int]:  # noqa: ANN001 - csv reader
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise SightingsError(f"the header row is not CSV: {exc}") from None
    if header is None:
        raise SightingsError("the file is empty")
    names = {h.strip().lower(): i for i, h in enumerate(header)}
    positions, missing = {}, []
    for field, column in layout.columns.items():
        if column.startswith("#"):
            positions[field] = int(column[1:]) - 1
        elif column.lower() in names:
            positions[field] = names[column.lower()]
        elif field in REQUIRED:
            missing.append(f"{field} (column {column!r})")
    if missing:
        raise SightingsError(f"the header row has no column for {', '.join(missing)}; its columns are "
                           f"{', '.join(repr(h) for h in header[:20])}: map them with --columns")
    return positions


class _HashingReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.digest = raw, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        data = self.raw.read(len(buffer))
        self.digest.update(data)
        buffer[:len(data)] = data
        return len(data)


def import_sightings(db: OpsDatabase, source: Path | BinaryIO, *, file_name: str | None = None,
                     layout: Layout | None = None, zone: str | None = None, home: Path | None = None,
                     actor: str | None = None, now: datetime | None = None) -> ImportReport:
    """Import one export; it lands whole (with its audit entry) or not at all.  Targets are regrouped after."""
    from fieldlab.ops.targets import regroup

    layout = layout or Layout(dict(DEFAULT_LAYOUT))
    zone_info = zone_named(zone)
    now = now or datetime.now(timezone.utc)
    name = (file_name or (source.name if isinstance(source, Path) else "upload"))[:255]
    library = HashSetLibrary(home)
    matcher = HashMatcher(library.load() if any(i.format != "blocks" for i in library.list()) else [])
    settings = load_settings(db)
    index = load_index(db)
    handle = open(source, "rb") if isinstance(source, Path) else source
    hashing = _HashingReader(handle)
    text = io.TextIOWrapper(io.BufferedReader(hashing), encoding="utf-8-sig", errors="surrogateescape", newline="")
    counts = dict(rows=0, added=0, duplicates=0, malformed=0, set_aside=0, known=0)
    problems: list[ImportProblem] = []
    try:
        with db.change("sightings_imported", actor, file=name) as change:
            conn = change.conn
            serialise(conn, "sightings", "targets")
            import_id = inserted_id(conn.execute(imports.insert().values(
                file_name=name, sha256="", layout=layout.to_json(), zone=zone_info.key if zone_info else None,
                imported_at=time.time(), imported_by=actor or "", rows=0, added=0, duplicates=0, malformed=0,
                set_aside=0)))
            seen: set[str] = set()
            batch: list[ParsedSighting] = []
            for parsed in read_rows(text, layout, zone_info, now=now):
                counts["rows"] += 1
                if isinstance(parsed, ImportProblem):
                    counts["malformed"] += 1
                    if len(problems) < PROBLEMS_KEPT:
                        problems.append(parsed)
                    continue
                batch.append(parsed)
                if len(batch) >= BATCH:
                    _store(conn, import_id, batch, seen, matcher, index, settings, counts)
                    batch = []
            _store(conn, import_id, batch, seen, matcher, index, settings, counts)
            if problems:
                conn.execute(import_problems.insert(), [{"import_id": import_id, "line": p.line, "message": p.message}
                                                        for p in problems])
            digest = hashing.digest.hexdigest()
            conn.execute(imports.update().where(imports.c.id == import_id).values(
                sha256=digest, rows=counts["rows"], added=counts["added"], duplicates=counts["duplicates"],
                malformed=counts["malformed"], set_aside=counts["set_aside"]))
            change.detail.update(import_id=import_id, sha256=digest, **counts)
            change.detail["targets"] = regroup(conn, settings)
    finally:
        if isinstance(source, Path):
            handle.close()
    return ImportReport(import_id, name, digest, counts["rows"], counts["added"], counts["duplicates"],
                        counts["malformed"], counts["set_aside"], counts["known"], tuple(problems))


def store_observed(db: OpsDatabase, batch: Sequence[ParsedSighting], *, run_id: int, observer: str,
                   home: Path | None = None, actor: str | None = None) -> ImportReport:
    """One batch of the BitTorrent observer's sightings, through the same path as an export: matched, placed,
    duplicates never twice, targets regrouped; the batch is an ``imports`` row of source ``observer`` (its SHA-256
    over the batch's sighting keys) and an audit entry, in one transaction."""
    from fieldlab.ops.targets import regroup

    library = HashSetLibrary(home)
    matcher = HashMatcher(library.load() if any(i.format != "blocks" for i in library.list()) else [])
    settings = load_settings(db)
    index = load_index(db)
    digest = hashlib.sha256("\n".join(sorted(p.key for p in batch)).encode()).hexdigest()
    counts = dict(rows=len(batch), added=0, duplicates=0, malformed=0, set_aside=0, known=0)
    name = f"observer run {run_id} at {observer}"[:255]
    with db.change("observation_batch", actor, run=run_id, observer=observer, sha256=digest) as change:
        conn = change.conn
        serialise(conn, "sightings", "targets")
        import_id = inserted_id(conn.execute(imports.insert().values(
            file_name=name, sha256=digest, layout=json.dumps({"observer_run": run_id}), zone=None,
            imported_at=time.time(), imported_by=actor or "", rows=len(batch), added=0, duplicates=0, malformed=0,
            set_aside=0, source="observer")))
        _store(conn, import_id, list(batch), set(), matcher, index, settings, counts)
        conn.execute(imports.update().where(imports.c.id == import_id).values(
            added=counts["added"], duplicates=counts["duplicates"], set_aside=counts["set_aside"]))
        change.detail.update(import_id=import_id, **counts)
        change.detail["targets"] = regroup(conn, settings)
    return ImportReport(import_id, name, digest, counts["rows"], counts["added"], counts["duplicates"], 0,
                        counts["set_aside"], counts["known"], ())


def _store(conn, import_id: int, batch: list[ParsedSighting], seen: set[str], matcher: HashMatcher,  # noqa: ANN001
           index, settings, counts: dict[str, int]) -> None:  # noqa: ANN001
    if not batch:
        return
    keyed = []
    for parsed in batch:
        key = parsed.key
        if key in seen:
            counts["duplicates"] += 1
            continue
        seen.add(key)
        keyed.append((key, parsed))
    held = set()
    for start in range(0, len(keyed), 500):
        wanted = [k for k, _ in keyed[start:start + 500]]
        held.update(conn.execute(select(sightings.c.key).where(sightings.c.key.in_(wanted))).scalars())
    fresh = [(k, p) for k, p in keyed if k not in held]
    counts["duplicates"] += len(keyed) - len(fresh)
    if not fresh:
        return
    known = match_files([p for _, p in fresh], matcher)
    torrents = torrent_matches(conn, [(p.hash_kind, p.file_hash) for _, p in fresh])
    known = [found if found[0] is not None else torrents.get((p.hash_kind, p.file_hash), found)
             for found, (_, p) in zip(known, fresh)]
    areas = (index.areas_of([p.ip for _, p in fresh]) if index is not None else [None] * len(fresh))
    rows = []
    for (key, parsed), (category, profile, sets), area in zip(fresh, known, areas):
        in_area = settings.is_force_area(area)
        counts["set_aside"] += not in_area
        counts["known"] += category is not None
        rows.append(dict(import_id=import_id, line=parsed.line, key=key, seen_us=parsed.seen_us, ip=parsed.ip,
                         port=parsed.port, network=parsed.network, guid=parsed.guid, hash_kind=parsed.hash_kind,
                         file_hash=parsed.file_hash, file_name=parsed.file_name, file_size=parsed.file_size,
                         category=category, profile=profile, hash_sets=sets, area=area, in_area=in_area,
                         target_id=None, share=parsed.share, client=parsed.client, found_by=parsed.found_by,
                         observer=parsed.observer))
    conn.execute(sightings.insert(), rows)
    counts["added"] += len(rows)


def match_files(found: Sequence[ParsedSighting], matcher: HashMatcher) -> list[tuple[str | None, str | None, str | None]]:
    """Per sighting (category, profile, set versions); (None, None, None) for files no set knows.  Known-good sets
    (NSRL) decide nothing: such a file is named with its set but has no category."""
    queries = [DigestQuery(md5=p.file_hash) if p.hash_kind == "md5" else DigestQuery(sha1=p.file_hash)
               if p.hash_kind == "sha1" else DigestQuery() for p in found]
    per_query: dict[int, list] = {}
    for match in matcher.match(queries) if matcher.sets else []:
        per_query.setdefault(match.query_index, []).append(match)
    result: list[tuple[str | None, str | None, str | None]] = []
    for position in range(len(found)):
        matches = per_query.get(position, [])
        decisive = [m for m in matches if not m.known_good]
        sets = ",".join(sorted({f"{m.hash_set}@{m.hash_set_sha256[:12]}" + (" (known good)" if m.known_good else "")
                                for m in matches})) or None
        if decisive:
            category = deciding_category([(m.trust_rank, m.profile, m.category) for m in decisive])
            profile = next(m.profile for m in decisive if m.category == category)
            result.append((category, profile, sets))
        else:
            result.append((None, None, sets))
    return result
