"""Known torrents: infohashes of torrents known to hold indecent material, with their category and description.

They come from three places: a CSV list (``infohash,category,description[,name]``; an infohash is a v1 SHA-1 in
hex or base32, or a v2 SHA-256 in hex), ``.torrent`` files (the infohashes are computed: SHA-1 of the ``info``
dictionary's bytes as written for v1 and hybrid torrents, SHA-256 of them for v2 and hybrid; a file's category is
given on the command line), and magnet links (``xt=urn:btih:`` and ``xt=urn:btmh:1220...``).  The observer
watches every one of them; a ``.torrent`` file also gives its piece count (so a peer's share can be told) and its
trackers.

Importing the same torrent again completes it (a .torrent file fills in pieces and trackers a CSV row lacked) and
replaces its category and description.  Every infohash sighting, imported or observed, is matched against them:
the known ones get the torrent's category, and existing sightings are matched again after every import.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from sqlalchemy import Connection, and_, or_, select, update

from fieldlab.errors import OpsError
from fieldlab.hashsets.profiles import PROFILES
from fieldlab.ops.bencode import BencodeError, decode, info_span
from fieldlab.ops.database import OpsDatabase
from fieldlab.ops.schema import known_torrents, sightings

MAX_TORRENT_FILE = 64 * 1024 * 1024
MAX_TRACKERS = 50
MAX_FILES = 100_000
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BASE32 = re.compile(r"^[A-Z2-7]{32}$")


class TorrentError(OpsError, ValueError):
    """A torrent, magnet link or list cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TorrentFacts:
    """What one source says of one torrent."""

    infohash_v1: str | None
    infohash_v2: str | None
    name: str
    pieces: int | None
    trackers: tuple[str, ...]
    category: str | None = None  # as the source words it (mapped through the profile on import)
    description: str = ""


@dataclass(frozen=True)
class KnownTorrent:
    id: int
    infohash_v1: str | None
    infohash_v2: str | None
    name: str
    category: str
    profile: str
    description: str
    pieces: int | None
    trackers: tuple[str, ...]

    @property
    def wire_hash(self) -> bytes:
        """The 20 bytes a peer handshake and the DHT use: the v1 hash, else the v2 hash truncated (BEP 52)."""
        return bytes.fromhex(self.infohash_v1 or self.infohash_v2[:40])  # type: ignore[index]

    @property
    def sighting_hash(self) -> tuple[str, str]:
        """(hash kind, hex) an observed sighting of it records."""
        return ("btih", self.infohash_v1) if self.infohash_v1 else ("btmh", self.infohash_v2)  # type: ignore[return-value]


@dataclass(frozen=True)
class TorrentImport:
    added: int
    updated: int
    rematched: int  # sightings whose category changed
    problems: tuple[str, ...]


def parse_infohash(text: str) -> tuple[str | None, str | None]:
    """(v1 hex, v2 hex) of one infohash as lists write it."""
    value = text.strip()
    lowered = value.lower()
    for prefix in ("urn:btih:", "btih:", "urn:btmh:", "btmh:"):
        if lowered.startswith(prefix):
            value, lowered = value[len(prefix):], lowered[len(prefix):]
    if _HEX40.match(lowered):
        return lowered, None
    if _HEX64.match(lowered):
        return None, lowered
    if len(lowered) == 68 and lowered.startswith("1220") and _HEX64.match(lowered[4:]):  # multihash SHA-256
        return None, lowered[4:]
    if _BASE32.match(value.upper()):
        try:
            return base64.b32decode(value.upper()).hex(), None
        except (binascii.Error, ValueError):
            pass
    raise TorrentError(f"{text.strip()[:80]!r} is not an infohash (40 hex or 32 base32 for v1, 64 hex for v2)")


def parse_torrent_file(data: bytes, source: str = "") -> TorrentFacts:
    """The infohashes, name, piece count and trackers of a .torrent file."""
    if len(data) > MAX_TORRENT_FILE:
        raise TorrentError(f"{source}: larger than {MAX_TORRENT_FILE // 2**20} MiB: not a .torrent file")
    try:
        top = decode(data)
        start, end = info_span(data)
    except BencodeError as exc:
        raise TorrentError(f"{source}: not a .torrent file ({exc})") from None
    if not isinstance(top, dict):  # info_span found an info dictionary, so this never happens
        raise TorrentError(f"{source}: not a .torrent file (not a dictionary)")
    info = top[b"info"]
    raw = data[start:end]
    version = info.get(b"meta version")
    has_v1 = isinstance(info.get(b"pieces"), bytes)
    has_v2 = version == 2 and isinstance(info.get(b"file tree"), dict)
    if not has_v1 and not has_v2:
        raise TorrentError(f"{source}: the info dictionary has neither v1 pieces nor a v2 file tree")
    piece_length = info.get(b"piece length")
    if not isinstance(piece_length, int) or piece_length < 16384:
        raise TorrentError(f"{source}: the piece length is missing or below 16 KiB")
    if has_v1:
        pieces = len(info[b"pieces"]) // 20
    else:
        pieces = sum(-(-length // piece_length) for length in _v2_file_lengths(info[b"file tree"], source))
    name = info.get(b"name")
    return TorrentFacts(
        hashlib.sha1(raw).hexdigest() if has_v1 else None, hashlib.sha256(raw).hexdigest() if has_v2 else None,
        _text(name) if isinstance(name, bytes) else "", pieces, _trackers(top))


def _v2_file_lengths(tree: dict, source: str) -> list[int]:
    """File lengths of a BEP 52 file tree (each file starts a new piece), walked without recursion."""
    lengths: list[int] = []
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 64 or len(lengths) > MAX_FILES:
            raise TorrentError(f"{source}: the file tree is deeper or larger than fieldlab reads")
        for key, child in node.items():
            if not isinstance(child, dict):
                continue
            if key == b"" and isinstance(child.get(b"length"), int):
                if child[b"length"] > 0:
                    lengths.append(child[b"length"])
            else:
                stack.append((child, depth + 1))
    return lengths


def _trackers(top: dict) -> tuple[str, ...]:
    found: list[bytes] = []
    if isinstance(top.get(b"announce"), bytes):
        found.append(top[b"announce"])
    for tier in top.get(b"announce-list", [])[:MAX_TRACKERS] if isinstance(top.get(b"announce-list"), list) else []:
        if isinstance(tier, list):
            found += [u for u in tier[:MAX_TRACKERS] if isinstance(u, bytes)]
    return _clean_trackers(_text(u) for u in found)


def _clean_trackers(urls: Iterable[str]) -> tuple[str, ...]:
    kept = []
    for url in urls:
        url = url.strip()
        if len(url) <= 500 and urllib.parse.urlsplit(url).scheme in ("http", "https", "udp") and url not in kept:
            kept.append(url)
    return tuple(kept[:MAX_TRACKERS])


def _text(value: bytes) -> str:
    text = value[:1000].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "?" for c in text)


def parse_magnet(link: str) -> TorrentFacts:
    parts = urllib.parse.urlsplit(link.strip())
    if parts.scheme != "magnet":
        raise TorrentError(f"{link.strip()[:80]!r} is not a magnet link")
    query = urllib.parse.parse_qs(parts.query)
    v1 = v2 = None
    for topic in query.get("xt", []):
        found_v1, found_v2 = parse_infohash(topic) if topic.lower().startswith(("urn:btih:", "urn:btmh:")) else (None, None)
        v1, v2 = v1 or found_v1, v2 or found_v2
    if v1 is None and v2 is None:
        raise TorrentError(f"the magnet link {link.strip()[:80]!r} names no BitTorrent infohash (xt=urn:btih:...)")
    return TorrentFacts(v1, v2, (query.get("dn") or [""])[0][:1000], None, _clean_trackers(query.get("tr", [])))


def read_torrent_list(text: str) -> tuple[list[TorrentFacts], list[str]]:
    """Rows of a CSV list with a header naming ``infohash`` and ``category`` (``description``, ``name`` optional);
    (torrents, problems by line)."""
    reader = csv.DictReader(io.StringIO(text))
    names = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    if "infohash" not in names or "category" not in names:
        raise TorrentError("the list's header must name infohash and category columns (description, name optional)")
    found, problems = [], []
    for row in reader:
        line = reader.line_num
        value = (row.get(names["infohash"]) or "").strip()
        if not value:
            continue
        try:
            v1, v2 = parse_infohash(value)
        except TorrentError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        category = (row.get(names["category"]) or "").strip()
        description = (row.get(names.get("description", ""), "") or "").strip()[:2000] if "description" in names else ""
        name = (row.get(names["name"]) or "").strip()[:1000] if "name" in names else ""
        found.append(TorrentFacts(v1, v2, name, None, (), category, description))
    return found, problems


def import_torrents(db: OpsDatabase, found: Sequence[TorrentFacts], *, source: str, source_name: str,
                    profile: str = "uk", category: str | None = None, description: str | None = None,
                    actor: str | None = None, problems: Sequence[str] = ()) -> TorrentImport:
    """Add or complete known torrents (one audited transaction), then match every infohash sighting again.
    ``category``/``description`` apply to torrents whose source gives none (.torrent files, magnet links)."""
    if profile not in PROFILES:
        raise TorrentError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    labels = PROFILES[profile]
    problems = list(problems)
    counts = {"added": 0, "updated": 0}
    with db.change("known_torrents_imported", actor, source=source, name=source_name[:255]) as change:
        conn = change.conn
        for facts in found:
            raw = facts.category if facts.category is not None else category
            label = labels.map(raw) if raw is not None else None
            if label is None:
                problems.append(f"{facts.infohash_v1 or facts.infohash_v2}: category {raw!r} is not one of the "
                                f"{profile} profile's ({', '.join(labels.labels)}): give --category")
                continue
            _upsert(conn, facts, label, profile, facts.description or description or "", source, source_name,
                    actor, counts)
        rematched = rematch_sightings(conn)
        change.detail.update(counts, rematched=rematched, problems=len(problems))
    return TorrentImport(counts["added"], counts["updated"], rematched, tuple(problems))


def _upsert(conn: Connection, facts: TorrentFacts, label: str, profile: str, description: str, source: str,
            source_name: str, actor: str | None, counts: dict[str, int]) -> None:
    match = [c == v for c, v in ((known_torrents.c.infohash_v1, facts.infohash_v1),
                                 (known_torrents.c.infohash_v2, facts.infohash_v2)) if v is not None]
    held = conn.execute(select(known_torrents).where(or_(*match))).first()
    if held is None:
        conn.execute(known_torrents.insert().values(
            infohash_v1=facts.infohash_v1, infohash_v2=facts.infohash_v2, name=facts.name, category=label,
            profile=profile, description=description, pieces=facts.pieces, trackers=json.dumps(facts.trackers),
            source=source, source_name=source_name[:255], imported_at=time.time(), imported_by=actor or ""))
        counts["added"] += 1
        return
    trackers = list(json.loads(held.trackers)) + [t for t in facts.trackers if t not in held.trackers]
    conn.execute(update(known_torrents).where(known_torrents.c.id == held.id).values(
        infohash_v1=held.infohash_v1 or facts.infohash_v1, infohash_v2=held.infohash_v2 or facts.infohash_v2,
        name=held.name or facts.name, category=label, profile=profile, description=description or held.description,
        pieces=facts.pieces if facts.pieces is not None else held.pieces, trackers=json.dumps(trackers[:MAX_TRACKERS])))
    counts["updated"] += 1


def list_known(conn: Connection) -> list[KnownTorrent]:
    return [KnownTorrent(r.id, r.infohash_v1, r.infohash_v2, r.name, r.category, r.profile, r.description, r.pieces,
                         tuple(json.loads(r.trackers)))
            for r in conn.execute(select(known_torrents).order_by(known_torrents.c.id))]


def torrent_matches(conn: Connection, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(kind, hex) -> (category, profile, what knows it) for the infohashes among ``wanted`` that are known."""
    v1 = sorted({h for k, h in wanted if k == "btih"})
    v2 = sorted({h for k, h in wanted if k == "btmh"})
    found: dict[tuple[str, str], tuple[str, str, str]] = {}
    for column, kind, values in ((known_torrents.c.infohash_v1, "btih", v1), (known_torrents.c.infohash_v2, "btmh", v2)):
        for start in range(0, len(values), 500):
            for r in conn.execute(select(known_torrents).where(column.in_(values[start:start + 500]))):
                found[(kind, getattr(r, column.name))] = (r.category, r.profile, f"known torrent {r.id} ({r.source})")
    return found


def rematch_sightings(conn: Connection) -> int:
    """Give infohash sightings no hash set decided the category of the known torrent they name; returns how many
    changed.  (A hash set's category, set at import, is left as it is.)"""
    rows = conn.execute(select(sightings.c.id, sightings.c.hash_kind, sightings.c.file_hash, sightings.c.category,
                               sightings.c.profile, sightings.c.hash_sets)
                        .where(and_(sightings.c.hash_kind.in_(("btih", "btmh")),
                                    or_(sightings.c.category.is_(None),
                                        sightings.c.hash_sets.like("known torrent %"))))).all()
    known = torrent_matches(conn, [(r.hash_kind, r.file_hash) for r in rows])
    changed = 0
    for r in rows:
        now = known.get((r.hash_kind, r.file_hash))
        if now is not None and (r.category, r.profile, r.hash_sets) != now:
            conn.execute(update(sightings).where(sightings.c.id == r.id).values(
                category=now[0], profile=now[1], hash_sets=now[2]))
            changed += 1
    return changed


def read_sources(paths: Sequence[Path]) -> list[tuple[str, str, list[TorrentFacts], list[str]]]:
    """(source kind, file name, torrents, problems) per file: ``.torrent`` files, ``.csv`` lists, and text files of
    magnet links (one a line)."""
    read: list[tuple[str, str, list[TorrentFacts], list[str]]] = []
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TORRENT_FILE + 1)
        if path.suffix.lower() == ".torrent":
            read.append(("torrent", path.name, [parse_torrent_file(data, path.name)], []))
            continue
        text = data.decode("utf-8-sig", "replace")
        if path.suffix.lower() == ".csv":
            found, problems = read_torrent_list(text)
            read.append(("csv", path.name, found, problems))
            continue
        found, problems = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    found.append(parse_magnet(line))
                except TorrentError as exc:
                    problems.append(f"line {number}: {exc}")
        read.append(("magnet", path.name, found, problems))
    return read
