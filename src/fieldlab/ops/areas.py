"""Which area an internet address is in, from IP-range data the force supplies.

Two layouts are read:

- MaxMind GeoLite2 (or GeoIP2) CSV: ``*-Blocks-IPv4.csv`` / ``*-Blocks-IPv6.csv`` (``network,geoname_id,...``)
  with the ``*-Locations-<lang>.csv`` they refer to.  An area is named from the location down to a chosen level:
  ``GB/England/West Yorkshire/Leeds`` (country code, subdivisions, city; ``postal`` adds the block's postal code).
- A simple CSV of ``cidr,area`` (header optional, ``#`` comments), for a force's own list.

Every network becomes a range of 16-byte big-endian keys (IPv4 as IPv4-mapped IPv6, so one sorted table holds both
families).  Nested networks are flattened so the most specific wins, adjacent ranges of one area are merged, and a
look-up is a binary search (``numpy.searchsorted``, a vectorised ``bisect``) over the sorted starts.  The compiled
table is stored in the database in compressed chunks, so every server and command of a team sees the same data.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import json
import socket
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import Connection, delete, desc, select

from fieldlab.errors import OpsError
from fieldlab.ops.database import OpsDatabase
from fieldlab.ops.schema import area_chunks, area_sources
from fieldlab.sql import inserted_id

LEVELS = ("country", "subdivision_1", "subdivision_2", "city", "postal")
MAPPED_V4 = 0xFFFF << 32  # ::ffff:0:0/96
CHUNK = 65536
PROBLEMS_KEPT = 100
_KEY = "S16"


class AreaError(OpsError, ValueError):
    """Area data cannot be read as given; the message says which file and why."""


@dataclass(frozen=True)
class AreaProblem:
    file: str
    line: int
    message: str


@dataclass(frozen=True)
class AreaImport:
    source_id: int
    format: str
    networks: int
    ranges: int
    areas: int
    problems: tuple[AreaProblem, ...]
    problem_count: int


class AreaIndex:
    """Disjoint, sorted ranges: ``first[i] <= key <= last[i]`` is in area ``names[area[i]]``."""

    def __init__(self, first: np.ndarray, last: np.ndarray, area: np.ndarray, names: Sequence[str]) -> None:
        self.first, self.last, self.area, self.names = first, last, area, list(names)

    def __len__(self) -> int:
        return len(self.first)

    def lookup_keys(self, keys: np.ndarray) -> np.ndarray:
        """Area numbers of 16-byte keys (``S16``), -1 where no range holds the key."""
        if len(self) == 0 or len(keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        slot = np.searchsorted(self.first, keys, side="right") - 1
        safe = np.maximum(slot, 0)
        inside = (slot >= 0) & (keys <= self.last[safe])
        return np.where(inside, self.area[safe].astype(np.int64), -1)

    def areas_of(self, addresses: Sequence[str]) -> list[str | None]:
        """Areas of addresses in text form (as ``ipaddress`` writes them)."""
        keys = np.array([text_key(a) for a in addresses], dtype=_KEY)
        return [self.names[n] if n >= 0 else None for n in self.lookup_keys(keys)]


def address_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    value = int(address) | MAPPED_V4 if address.version == 4 else int(address)
    return value.to_bytes(16, "big")


_V4_PREFIX = (MAPPED_V4 >> 32).to_bytes(12, "big")  # the first 12 bytes of ::ffff:a.b.c.d


def text_key(address: str) -> bytes:
    """``address_key`` of an address in text form, without building an ``ipaddress`` object (10 times faster)."""
    if ":" in address:
        return socket.inet_pton(socket.AF_INET6, address)
    return _V4_PREFIX + socket.inet_pton(socket.AF_INET, address)


def network_range(text: str) -> tuple[int, int]:
    """(first, last) of a CIDR network as integer keys; ``AreaError`` if it is not one (host bits set, bad prefix)."""
    address, slash, prefix_text = text.strip().partition("/")
    try:
        if ":" in address:
            value, bits = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big"), 128
        else:
            value, bits = int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big"), 32
        prefix = int(prefix_text) if slash else bits
    except (OSError, ValueError):
        raise AreaError(f"{text.strip()[:60]!r} is not an IPv4 or IPv6 network (e.g. 203.0.113.0/24)") from None
    if not 0 <= prefix <= bits:
        raise AreaError(f"{text.strip()[:60]!r}: the prefix length must be 0 to {bits}")
    size = 1 << (bits - prefix)
    if value & (size - 1):
        raise AreaError(f"{text.strip()[:60]!r} has host bits set (a network starts at a multiple of its size)")
    if bits == 32:
        value |= MAPPED_V4
    return value, value + size - 1


class _Names:
    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def number(self, name: str) -> int:
        found = self.numbers.get(name)
        if found is None:
            found = self.numbers[name] = len(self.numbers)
        return found

    @property
    def names(self) -> list[str]:
        return list(self.numbers)


class _Problems:
    def __init__(self) -> None:
        self.kept: list[AreaProblem] = []
        self.count = 0

    def add(self, file: str, line: int, message: str) -> None:
        self.count += 1
        if len(self.kept) < PROBLEMS_KEPT:
            self.kept.append(AreaProblem(file, line, message))


def read_cidr_csv(path: Path, names: _Names, problems: _Problems) -> Iterator[tuple[int, int, int]]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if reader.line_num == 1 and row[0].strip().lower() in ("cidr", "network"):
                continue
            if len(row) < 2 or not row[1].strip():
                problems.add(path.name, reader.line_num, "expected cidr,area")
                continue
            try:
                first, last = network_range(row[0])
            except AreaError as exc:
                problems.add(path.name, reader.line_num, str(exc))
                continue
            yield first, last, names.number(row[1].strip()[:200])


def read_geolite_locations(path: Path, level: str) -> dict[str, str]:
    """geoname_id -> area name at ``level`` (``postal`` is named at city level here; blocks add the code)."""
    depth = {"country": 1, "subdivision_1": 2, "subdivision_2": 3, "city": 4, "postal": 4}[level]
    found: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            parts = [row.get("country_iso_code") or row.get("continent_code") or "", row.get("subdivision_1_name", ""),
                     row.get("subdivision_2_name", ""), row.get("city_name", "")][:depth]
            found[row["geoname_id"]] = "/".join(p.strip() for p in parts if p and p.strip()) or "unknown"
    return found


def read_geolite_blocks(path: Path, places: dict[str, str], level: str, *, names: _Names,
                        problems: _Problems) -> Iterator[tuple[int, int, int]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        try:
            network_at, geoname_at = header.index("network"), header.index("geoname_id")
            registered_at = header.index("registered_country_geoname_id")
        except ValueError:
            raise AreaError(f"{path.name}: not a GeoLite2 blocks file (its header lacks network, geoname_id)") from None
        postal_at = header.index("postal_code") if "postal_code" in header else None
        for row in reader:
            try:
                first, last = network_range(row[network_at])
            except (AreaError, IndexError) as exc:
                problems.add(path.name, reader.line_num, str(exc) if isinstance(exc, AreaError) else "too few fields")
                continue
            place = places.get(row[geoname_at]) or places.get(row[registered_at])
            if place is None:
                problems.add(path.name, reader.line_num, "its geoname_id is not in the locations file")
                continue
            if level == "postal" and postal_at is not None and row[postal_at].strip():
                place = f"{place}/{row[postal_at].strip()}"
            yield first, last, names.number(place)


def compile_ranges(networks: Iterable[tuple[int, int, int]], names: Sequence[str],
                   problems: _Problems | None = None) -> AreaIndex:
    """Disjoint ranges from networks that may nest (the most specific wins); adjacent ranges of one area merged."""
    ordered = sorted(networks, key=lambda n: (n[0], -n[1]))
    starts: list[int] = []
    ends: list[int] = []
    areas: list[int] = []

    def emit(first: int, last: int, area: int) -> None:
        if first > last:
            return
        if ends and ends[-1] + 1 == first and areas[-1] == area:
            ends[-1] = last
        else:
            starts.append(first)
            ends.append(last)
            areas.append(area)

    stack: list[tuple[int, int]] = []  # (last, area) of the networks enclosing the position
    position = 0
    previous = None
    for first, last, area in ordered:
        if previous == (first, last):
            if problems is not None:
                problems.add("", 0, f"a network is listed twice: {_key_text(first)}-{_key_text(last)}; the first kept")
            continue
        previous = (first, last)
        while stack and stack[-1][0] < first:
            enclosing_last, enclosing_area = stack.pop()
            emit(position, enclosing_last, enclosing_area)
            position = enclosing_last + 1
        if stack:
            emit(position, first - 1, stack[-1][1])
        stack.append((last, area))
        position = first
    while stack:
        enclosing_last, enclosing_area = stack.pop()
        emit(position, enclosing_last, enclosing_area)
        position = enclosing_last + 1
    return AreaIndex(_keys(starts), _keys(ends), np.array(areas, dtype=np.uint32), names)


def _keys(values: list[int]) -> np.ndarray:
    return np.array([v.to_bytes(16, "big") for v in values], dtype=_KEY)


def _key_text(value: int) -> str:
    if value >> 32 == 0xFFFF:
        return str(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address(value))


def read_area_files(paths: Sequence[Path], level: str = "subdivision_2") -> tuple[str, AreaIndex, int, _Problems]:
    """(format, index, networks read, problems) of GeoLite2 blocks + locations, or of cidr,area files."""
    if level not in LEVELS:
        raise AreaError(f"the area level is one of {', '.join(LEVELS)}")
    files = _expand(paths)
    kinds = {path: _kind(path) for path in files}
    names, problems = _Names(), _Problems()
    networks: list[tuple[int, int, int]] = []
    if "blocks" in kinds.values() or "locations" in kinds.values():
        locations = [p for p, k in kinds.items() if k == "locations"]
        blocks = [p for p, k in kinds.items() if k == "blocks"]
        others = [p.name for p, k in kinds.items() if k not in ("blocks", "locations")]
        if len(locations) != 1 or not blocks or others:
            raise AreaError("GeoLite2 data is its Blocks-IPv4/IPv6 files and one Locations file"
                            + (f"; not {', '.join(others)}" if others else ""))
        places = read_geolite_locations(locations[0], level)
        for path in blocks:
            networks.extend(read_geolite_blocks(path, places, level, names=names, problems=problems))
        fmt = "geolite"
    else:
        for path in files:
            networks.extend(read_cidr_csv(path, names, problems))
        fmt = "cidr"
    index = compile_ranges(networks, names.names, problems)
    return fmt, index, len(networks), problems


def _expand(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv"))
        elif path.is_file():
            files.append(path)
        else:
            raise AreaError(f"{path}: no such file or folder")
    if not files:
        raise AreaError("no area files given (GeoLite2 CSV files, or a cidr,area CSV)")
    return files


def _kind(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline().strip().lower()
    if header.startswith("network,geoname_id"):
        return "blocks"
    if header.startswith("geoname_id,locale_code"):
        return "locations"
    return "cidr"


def import_areas(db: OpsDatabase, paths: Sequence[Path], *, level: str = "subdivision_2",
                 actor: str | None = None) -> AreaImport:
    """Read, compile and store area data in place of the current data; every sighting is placed again (and its
    targets regrouped) in the same transaction."""
    from fieldlab.ops.targets import refresh  # placing and grouping build on this module

    files = _expand(paths)
    fmt, index, networks, problems = read_area_files(files, level)
    described = [{"name": p.name, "sha256": _sha256(p)} for p in files]
    with db.change("areas_imported", actor, format=fmt, files=described, level=level) as change:
        source_id = store_index(change.conn, index, fmt=fmt, files=described, level=level if fmt == "geolite" else None,
                                networks=networks, actor=actor or "")
        db.cache["areas"] = (source_id, index)
        change.detail.update(networks=networks, ranges=len(index), areas=len(index.names), problems=problems.count)
        change.detail["placed"] = refresh(db, change.conn)
    return AreaImport(source_id, fmt, networks, len(index), len(index.names), tuple(problems.kept), problems.count)


def store_index(conn: Connection, index: AreaIndex, *, fmt: str, files: list[dict], level: str | None, networks: int,
                actor: str) -> int:
    source_id = inserted_id(conn.execute(area_sources.insert().values(
        format=fmt, files=json.dumps(files), level=level, networks=networks, ranges=len(index),
        names=json.dumps(index.names), imported_at=time.time(), imported_by=actor)))
    conn.execute(delete(area_chunks))  # earlier data is replaced; its source row stays as the record of it
    for seq, start in enumerate(range(0, len(index), CHUNK)):
        part = slice(start, start + CHUNK)
        raw = (index.first[part].tobytes() + index.last[part].tobytes()
               + index.area[part].astype("<u4").tobytes())
        conn.execute(area_chunks.insert().values(source_id=source_id, seq=seq, ranges=len(index.first[part]),
                                                 data=zlib.compress(raw, 1)))
    return source_id


def load_index(db: OpsDatabase, conn: Connection | None = None) -> AreaIndex | None:
    """The current area data (cached per process until another import replaces it); None if none was imported."""
    own = conn is None
    conn = conn or db.engine.connect()
    try:
        source = conn.execute(select(area_sources.c.id, area_sources.c.names)
                              .order_by(desc(area_sources.c.id)).limit(1)).first()
        if source is None:
            return None
        cached = db.cache.get("areas")
        if cached is not None and cached[0] == source.id:
            return cached[1]
        firsts, lasts, areas = [], [], []
        for chunk in conn.execute(select(area_chunks.c.ranges, area_chunks.c.data)
                                  .where(area_chunks.c.source_id == source.id).order_by(area_chunks.c.seq)):
            raw, n = zlib.decompress(chunk.data), chunk.ranges
            firsts.append(np.frombuffer(raw, dtype=_KEY, count=n))
            lasts.append(np.frombuffer(raw, dtype=_KEY, count=n, offset=16 * n))
            areas.append(np.frombuffer(raw, dtype="<u4", count=n, offset=32 * n))
    finally:
        if own:
            conn.close()
    if firsts:
        index = AreaIndex(np.concatenate(firsts), np.concatenate(lasts), np.concatenate(areas), json.loads(source.names))
    else:
        empty = np.array([], dtype=_KEY)
        index = AreaIndex(empty, empty.copy(), np.array([], dtype=np.uint32), json.loads(source.names))
    db.cache["areas"] = (source.id, index)
    return index


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
