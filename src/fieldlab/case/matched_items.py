"""The items a profile's charging table weighs: each hit under the profile and each examiner's decision that stands.

Rows come item by item (in item id order, hits in the order recorded), each with the facts of its item the table
shows; which copies count and under which category is the report's to decide (``report.charging``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from fieldlab.case.decisions import standing_decision_ids
from fieldlab.case.schema import decisions, exhibits, hits, items, media
from fieldlab.case.store import CaseStore

_COLUMNS = (items.c.id, exhibits.c.ref, items.c.locator, items.c.path, items.c.origin, items.c.size, items.c.md5,
            items.c.sha1, items.c.sha256, items.c.mtime, items.c.atime, items.c.ctime, items.c.btime, items.c.flags,
            items.c.family, items.c.known_good, media.c.kind.label("media_kind"))
_BASE = items.join(exhibits, exhibits.c.id == items.c.exhibit_id).outerjoin(media, media.c.item_id == items.c.id)


@dataclass(frozen=True)
class MatchedItem:
    id: int
    exhibit: str
    locator: str
    path: str
    origin: str | None
    size: int
    md5: str | None
    sha1: str | None
    sha256: str | None
    mtime: float | None
    atime: float | None
    ctime: float | None
    btime: float | None
    flags: str
    family: str | None
    known_good: bool
    media_kind: str | None  # what decoding found it to be (image, video), where it was decoded


@dataclass(frozen=True)
class ProfileHit:
    item: MatchedItem
    trust_rank: int
    profile: str
    category: str
    hash_set: str
    hash_set_sha256: str
    method: str
    distance: int | None


@dataclass(frozen=True)
class StandingDecision:
    item: MatchedItem
    decision_id: int
    category: str
    examiner: str
    at: float


def iter_profile_hits(store: CaseStore, profile: str) -> Iterator[ProfileHit]:
    """Every hit under ``profile``, by item then as recorded."""
    query = (select(*_COLUMNS, hits.c.trust_rank, hits.c.profile, hits.c.category, hits.c.hash_set,
                    hits.c.hash_set_sha256, hits.c.method, hits.c.distance)
             .select_from(_BASE.join(hits, hits.c.item_id == items.c.id))
             .where(hits.c.profile == profile).order_by(items.c.id, hits.c.id))
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            yield ProfileHit(_matched_item(r), r.trust_rank, r.profile, r.category, r.hash_set, r.hash_set_sha256,
                             r.method, r.distance)


def iter_standing_decisions(store: CaseStore, profile: str) -> Iterator[StandingDecision]:
    """Every examiner's decision that stands under ``profile``, by item."""
    query = (select(*_COLUMNS, decisions.c.id.label("decision"), decisions.c.category, decisions.c.examiner,
                    decisions.c.at)
             .select_from(_BASE.join(decisions, decisions.c.item_id == items.c.id))
             .where(decisions.c.id.in_(standing_decision_ids(profile)))
             .order_by(items.c.id))
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            yield StandingDecision(_matched_item(r), r.decision, r.category, r.examiner, r.at)


def _matched_item(row) -> MatchedItem:  # noqa: ANN001 - a SQLAlchemy row of _COLUMNS
    return MatchedItem(row.id, row.ref, row.locator, row.path, row.origin, row.size, row.md5, row.sha1, row.sha256,
                       row.mtime, row.atime, row.ctime, row.btime, row.flags or "", row.family, bool(row.known_good),
                       row.media_kind)
