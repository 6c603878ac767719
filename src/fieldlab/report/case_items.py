"""What every evidence export reads from a case: its exhibits, and its items streamed one at a time.

The exports (VICS, CASE/UCO, DFXML, the items CSV) share these rows so an item's flags, times and place on the media
mean the same in each.  Items are read with ``yield_per``: a case of millions of items never sits in memory.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Iterator, Mapping

from sqlalchemy import select

from fieldlab.case.schema import case_info, exhibits, items
from fieldlab.case.store import CaseStore
from fieldlab.locator import Locator, LocatorError, parse_run
from fieldlab.report.charging import CountedItem

DELETED = frozenset({"deleted", "orphan", "reallocated"})  # a name the file system no longer lists as live
UNALLOCATED = frozenset({"carved", "unallocated"})  # found in free space, not through any file system entry
_BATCH = 1000
ITEMS_QUERY = select(exhibits.c.ref, items).select_from(items.join(exhibits, exhibits.c.id == items.c.exhibit_id))
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class ExhibitRow:
    ref: str
    source: str  # the folder, device or image as given to the scan
    source_kind: str
    scan_started_at: float | None
    scan_finished_at: float | None
    hash_sets: str | None
    hash_state: str | None
    media_hashes: dict[str, str]  # of a disk image, computed when its hash was checked: {"md5": hex, ...}


@dataclass(frozen=True)
class ItemRow:
    """One item of an exhibit, with its category and basis when the charging table counts it."""

    exhibit: str
    item_id: int
    locator: str
    path: str
    origin: str | None
    app: str | None
    place: str | None
    kind: str
    flags: str
    state: str
    size: int
    mtime: float | None
    atime: float | None
    ctime: float | None
    btime: float | None
    file_type: str | None
    mime: str | None
    family: str | None
    extension_mismatch: bool | None
    known_good: bool
    link_target: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    category: str | None = None
    basis: str | None = None
    how: str | None = None
    hash_set: str | None = None

    @property
    def flag_set(self) -> frozenset[str]:
        return frozenset(filter(None, self.flags.split(",")))


@dataclass(frozen=True)
class CarvedRun:
    offset: int
    length: int
    parent: str | None  # the locator of the item it was carved from; None: the exhibit's media itself


def exhibit_rows(store: CaseStore) -> list[ExhibitRow]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(exhibits).order_by(exhibits.c.id)).all()
    return [ExhibitRow(r.ref, r.source, r.source_kind, r.scan_started_at, r.scan_finished_at, r.hash_sets,
                       r.hash_state, _computed(r.hash_detail)) for r in rows]


def iter_items(store: CaseStore, counted: Mapping[int, CountedItem] | None = None) -> Iterator[ItemRow]:
    """Every item of every exhibit, in exhibit then item order; ``counted`` (by item id) adds category and basis."""
    counted = counted or {}
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=_BATCH).execute(ITEMS_QUERY.order_by(items.c.exhibit_id, items.c.id)):
            yield item_row(r, counted.get(r.id))


def item_row(row, counted: CountedItem | None = None) -> ItemRow:  # noqa: ANN001 - a SQLAlchemy row of ITEMS_QUERY
    item = ItemRow(
        exhibit=row.ref, item_id=row.id, locator=row.locator, path=row.path, origin=row.origin, app=row.app,
        place=row.place, kind=row.kind, flags=row.flags or "", state=row.state, size=row.size, mtime=row.mtime,
        atime=row.atime, ctime=row.ctime, btime=row.btime, file_type=row.file_type, mime=row.mime, family=row.family,
        extension_mismatch=row.extension_mismatch, known_good=bool(row.known_good), link_target=row.link_target,
        md5=row.md5, sha1=row.sha1, sha256=row.sha256,
    )
    if counted is None:
        return item
    return replace(item, category=counted.category, basis=counted.basis, how=counted.how, hash_set=counted.hash_set)


def case_uuid(store: CaseStore) -> uuid.UUID:
    """A stable identifier of the case (from its creation record), so every export of it names the same case."""
    with store.engine.connect() as conn:
        created = conn.execute(select(case_info.c.value).where(case_info.c.key == "created_at")).scalar_one_or_none()
    return uuid.uuid5(uuid.NAMESPACE_URL, f"fieldlab:case:{created or store.case_dir.resolve()}")


def utc_iso(seconds: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC (``...Z``); None for no time or one no calendar holds."""
    if seconds is None or not math.isfinite(seconds):
        return None
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def carved_run(locator: str) -> CarvedRun | None:
    """Where a carved item lies, from its locator's last ``carved:<offset>+<length>`` layer."""
    try:
        parsed = Locator.parse(locator)
        if not parsed.layers or parsed.layers[-1].kind != "carved":
            return None
        offset, length = parse_run(parsed.layers[-1].value)
    except LocatorError:
        return None
    return CarvedRun(offset, length, parsed.parent.to_text() if parsed.parent else None)


def file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def folder_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold (control characters, lone surrogates) as ``\\xNN`` escapes.

    Markup characters are left alone: the XML writer escapes those.
    """
    return _NOT_XML.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def _computed(detail: str | None) -> dict[str, str]:
    try:
        computed = json.loads(detail).get("computed") if detail else None
    except (ValueError, AttributeError):
        return {}
    return {k: v for k, v in computed.items() if isinstance(v, str)} if isinstance(computed, dict) else {}
