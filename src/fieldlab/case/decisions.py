"""Examiners' categorisations of items: recorded with who and when, audit-logged, the latest one standing.

A decision is the examiner's, not a hash set's: reports keep the two apart,
and a force grows its own hash sets from these (``hashset from-case``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator, Sequence

from sqlalchemy import func, select

from fieldlab.case.audit import current_actor
from fieldlab.case.schema import decisions, items, media
from fieldlab.case.store import CaseError, CaseStore
from fieldlab.hashsets.profiles import PROFILES


@dataclass(frozen=True)
class DecidedItem:
    item_id: int
    path: str
    family: str | None
    md5: str | None
    sha1: str | None
    pdq: str | None
    pdq_quality: int | None
    profile: str
    category: str


def categorise(
    store: CaseStore, item_ids: Sequence[int], category: str, profile: str = "uk", examiner: str | None = None,
    note: str | None = None,
) -> int:
    if profile not in PROFILES or category not in PROFILES[profile].labels:
        labels = ", ".join(PROFILES[profile].labels) if profile in PROFILES else ""
        raise CaseError(f"{category!r} is not a category of profile {profile!r}" + (f" (use one of {labels})" if labels else ""))
    wanted = sorted(set(item_ids))
    with store.engine.connect() as conn:
        known = {r.id for r in conn.execute(select(items.c.id).where(items.c.id.in_(wanted)))}
    if missing := [i for i in wanted if i not in known]:
        raise CaseError(f"no item with id {', '.join(map(str, missing[:10]))} in this case")
    examiner = examiner or current_actor()
    now = time.time()
    with store.engine.begin() as conn:
        conn.execute(decisions.insert(), [
            {"item_id": i, "profile": profile, "category": category, "examiner": examiner, "at": now, "note": note}
            for i in wanted
        ])
    store.audit.append("items_categorised", {"items": wanted, "profile": profile, "category": category,
                                             "note": note}, actor=examiner)
    return len(wanted)


def decided_items(store: CaseStore) -> Iterator[DecidedItem]:
    """Each categorised item once, with its latest decision."""
    latest = select(decisions.c.item_id, func.max(decisions.c.id).label("id")).group_by(decisions.c.item_id).subquery()
    query = (
        select(items.c.id, items.c.path, items.c.family, items.c.md5, items.c.sha1, media.c.pdq, media.c.pdq_quality,
               decisions.c.profile, decisions.c.category)
        .select_from(latest.join(decisions, decisions.c.id == latest.c.id).join(items, items.c.id == latest.c.item_id)
                     .outerjoin(media, media.c.item_id == items.c.id))
        .order_by(items.c.id)
    )
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            yield DecidedItem(r.id, r.path, r.family, r.md5, r.sha1, r.pdq, r.pdq_quality, r.profile, r.category)
