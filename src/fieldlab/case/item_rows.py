"""Exhibits and items as the report and the exports read them: one typed row each, items streamed one at a time.

The exports (VICS, CASE/UCO, DFXML, the items CSV) share these rows so an item's flags, times and place on the media
mean the same in each.  Items are read with ``yield_per``: a case of millions of items never sits in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import not_, select, tuple_

from fieldlab.case.schema import case_info, exhibits, items, media
from fieldlab.case.store import CaseStore
from fieldlab.evidence.item import ItemFlag, parsed_flags

_BATCH = 1000
_CHUNK = 500  # ids or keys in one IN (...)
ITEMS_WITH_REF = select(exhibits.c.ref, items).select_from(items.join(exhibits, exhibits.c.id == items.c.exhibit_id))
_WITH_MEDIA = ITEMS_WITH_REF.add_columns(media.c.pdq, media.c.exif).outerjoin(media, media.c.item_id == items.c.id)


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
    facts: str | None = None  # what the scan recorded of a disk image, JSON as stored
    hash_detail: str | None = None  # the media hash check, JSON as stored (stored and computed hashes, message)


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
    def flag_set(self) -> frozenset[ItemFlag]:
        return parsed_flags(self.flags)


@dataclass(frozen=True)
class MediaItemRow:
    """A picture's or video's row with what the scan recorded of its pixels: its PDQ hash and EXIF facts (JSON)."""

    item: ItemRow
    pdq: str | None  # hex, as media.pdq holds it
    exif: str | None


def exhibit_rows(store: CaseStore) -> list[ExhibitRow]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(exhibits).order_by(exhibits.c.id)).all()
    return [ExhibitRow(r.ref, r.source, r.source_kind, r.scan_started_at, r.scan_finished_at, r.hash_sets,
                       r.hash_state, _computed(r.hash_detail), r.facts, r.hash_detail) for r in rows]


def iter_items(store: CaseStore) -> Iterator[ItemRow]:
    """Every item of every exhibit, in exhibit then item order."""
    with store.engine.connect() as conn:
        ordered = ITEMS_WITH_REF.order_by(items.c.exhibit_id, items.c.id)
        for r in conn.execution_options(yield_per=_BATCH).execute(ordered):
            yield item_row(r)


def items_by_id(store: CaseStore, item_ids: Sequence[int]) -> dict[int, ItemRow]:
    """The rows of ``item_ids`` that exist, by id."""
    found: dict[int, ItemRow] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(item_ids), _CHUNK):
            for r in conn.execute(ITEMS_WITH_REF.where(items.c.id.in_(item_ids[start:start + _CHUNK]))):
                found[r.id] = item_row(r)
    return found


def items_at(store: CaseStore, places: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ItemRow]:
    """The items at each (exhibit reference, locator) that exists."""
    found: dict[tuple[str, str], ItemRow] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(places), _CHUNK):
            chunk = places[start:start + _CHUNK]
            for r in conn.execute(ITEMS_WITH_REF.where(tuple_(exhibits.c.ref, items.c.locator).in_(chunk))):
                found[(r.ref, r.locator)] = item_row(r)
    return found


def media_items_by_id(store: CaseStore, item_ids: Sequence[int]) -> dict[int, MediaItemRow]:
    """The rows of ``item_ids`` that exist, by id, each with its PDQ hash and EXIF facts."""
    found: dict[int, MediaItemRow] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(item_ids), _CHUNK):
            for r in conn.execute(_WITH_MEDIA.where(items.c.id.in_(item_ids[start:start + _CHUNK]))):
                found[r.id] = MediaItemRow(item_row(r), r.pdq, r.exif)
    return found


def iter_pictures_and_videos_by_md5(store: CaseStore) -> Iterator[MediaItemRow]:
    """Every picture and video with an MD5 that is neither known-good nor a duplicate record, in MD5 order."""
    query = (_WITH_MEDIA
             .where(items.c.family.in_(("image", "video")), items.c.md5.is_not(None),
                    not_(items.c.known_good), not_(items.c.flags.like("%duplicate%")))
             .order_by(items.c.md5, items.c.id))
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=_CHUNK).execute(query):
            yield MediaItemRow(item_row(r), r.pdq, r.exif)


def case_created_at(store: CaseStore) -> str | None:
    """When the case was created, as its creation record holds it."""
    with store.engine.connect() as conn:
        return conn.execute(select(case_info.c.value).where(case_info.c.key == "created_at")).scalar_one_or_none()


def item_row(row) -> ItemRow:  # noqa: ANN001 - a SQLAlchemy row of ITEMS_WITH_REF (or any with its columns)
    return ItemRow(
        exhibit=row.ref, item_id=row.id, locator=row.locator, path=row.path, origin=row.origin, app=row.app,
        place=row.place, kind=row.kind, flags=row.flags or "", state=row.state, size=row.size, mtime=row.mtime,
        atime=row.atime, ctime=row.ctime, btime=row.btime, file_type=row.file_type, mime=row.mime, family=row.family,
        extension_mismatch=row.extension_mismatch, known_good=bool(row.known_good), link_target=row.link_target,
        md5=row.md5, sha1=row.sha1, sha256=row.sha256,
    )


def _computed(detail: str | None) -> dict[str, str]:
    try:
        computed = json.loads(detail).get("computed") if detail else None
    except (ValueError, AttributeError):
        return {}
    return {k: v for k, v in computed.items() if isinstance(v, str)} if isinstance(computed, dict) else {}
