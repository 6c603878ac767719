"""Examiners' categorisations of items: recorded with who and when, audit-logged, the latest one standing.

A decision is the examiner's, not a hash set's: reports keep the two apart,
and a force grows its own hash sets from these (``hashset from-case``).

Decisions are never changed or removed.  An examiner who sets an item back to
``uncategorised`` withdraws their category: the item is undecided again, and
whatever a hash set says of it stands.  Undo (``undo_last``) is a new decision
per item restoring the one it had before, so the trail shows the mistake and
its correction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator, Sequence

from sqlalchemy import Connection, ScalarSelect, func, select

from fieldlab.case.audit import current_actor
from fieldlab.case.schema import decisions, items, media
from fieldlab.case.store import CaseError, CaseStore
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED

UNDO_NOTE = "undo of decision "  # + the first decision id of the categorisation undone


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


@dataclass(frozen=True)
class Undone:
    first_decision: int  # the categorisation undone, by its first decision id
    category: str  # what it had set
    restored: dict[int, str]  # item -> its category again (uncategorised: no decision stands)


def categorise(
    store: CaseStore, item_ids: Sequence[int], category: str, *, profile: str = "uk", examiner: str | None = None,
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
        previous = _standing(conn, wanted, profile)
        conn.execute(decisions.insert(), [
            {"item_id": i, "profile": profile, "category": category, "examiner": examiner, "at": now, "note": note}
            for i in wanted
        ])
    store.audit.append("items_categorised", {"items": wanted, "profile": profile, "category": category,
                                             "note": note, "previous": _by_item(previous, wanted)}, actor=examiner)
    return len(wanted)


def undo_last(store: CaseStore, examiner: str, profile: str = "uk") -> Undone | None:
    """Reverse ``examiner``'s latest categorisation under ``profile`` that is not an undo and was not undone yet:
    each of its items gets back the category it had before it (new decision rows), or is withdrawn
    (``uncategorised``) where it had none.  Repeated, it steps further back.  None when nothing is left to undo."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(decisions.c.id, decisions.c.item_id, decisions.c.category, decisions.c.at, decisions.c.note)
            .where(decisions.c.examiner == examiner, decisions.c.profile == profile).order_by(decisions.c.id)
        ).all()
    undone = {int(r.note[len(UNDO_NOTE):]) for r in rows if r.note and r.note.startswith(UNDO_NOTE)}
    batches: dict[float, list] = {}
    for r in rows:  # one categorise call writes its rows with one time stamp
        batches.setdefault(r.at, []).append(r)
    target = next((b for b in reversed(batches.values())
                   if not (b[0].note or "").startswith(UNDO_NOTE) and b[0].id not in undone), None)
    if target is None:
        return None
    first = target[0].id
    wanted = sorted({r.item_id for r in target})
    now = time.time()
    with store.engine.begin() as conn:
        before = _standing(conn, wanted, profile, before_id=first)
        current = _standing(conn, wanted, profile)
        restored = {i: before.get(i) or UNCATEGORISED for i in wanted}
        conn.execute(decisions.insert(), [
            {"item_id": i, "profile": profile, "category": restored[i], "examiner": examiner, "at": now,
             "note": f"{UNDO_NOTE}{first}"} for i in wanted
        ])
    store.audit.append("categorisation_undone", {"undid_decision": first, "items": wanted, "profile": profile,
                                                 "restored": _by_item(restored, wanted),
                                                 "previous": _by_item(current, wanted)}, actor=examiner)
    return Undone(first, target[0].category, restored)


def _standing(conn: Connection, item_ids: list[int], profile: str, before_id: int | None = None) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start:start + 500]
        where = [decisions.c.item_id.in_(chunk), decisions.c.profile == profile]
        if before_id is not None:
            where.append(decisions.c.id < before_id)
        latest = select(func.max(decisions.c.id)).where(*where).group_by(decisions.c.item_id).scalar_subquery()
        found.update(conn.execute(select(decisions.c.item_id, decisions.c.category)
                                  .where(decisions.c.id.in_(latest))).all())
    return found


def _by_item(categories: dict[int, str], item_ids: list[int]) -> dict[str, str | None]:
    return {str(i): categories.get(i) for i in item_ids}


def standing_decision_ids(profile: str | None = None) -> ScalarSelect:
    """Ids of the decisions that stand: each item's latest (under ``profile`` when given), unless it withdrew the
    category (``uncategorised``): that item is undecided again.  The one definition every reader of decisions uses."""
    latest = select(func.max(decisions.c.id)).group_by(decisions.c.item_id)
    if profile is not None:
        latest = latest.where(decisions.c.profile == profile)
    return (select(decisions.c.id)
            .where(decisions.c.id.in_(latest.scalar_subquery()), decisions.c.category != UNCATEGORISED)
            .scalar_subquery())


def decided_items(store: CaseStore) -> Iterator[DecidedItem]:
    """Each categorised item once, with the decision that stands."""
    query = (
        select(items.c.id, items.c.path, items.c.family, items.c.md5, items.c.sha1, media.c.pdq, media.c.pdq_quality,
               decisions.c.profile, decisions.c.category)
        .select_from(decisions.join(items, items.c.id == decisions.c.item_id)
                     .outerjoin(media, media.c.item_id == items.c.id))
        .where(decisions.c.id.in_(standing_decision_ids()))
        .order_by(items.c.id)
    )
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            yield DecidedItem(r.id, r.path, r.family, r.md5, r.sha1, r.pdq, r.pdq_quality, r.profile, r.category)
