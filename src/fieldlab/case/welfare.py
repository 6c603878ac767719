"""The welfare records the review app keeps in the case: each examiner's display settings, every picture sent to a
session, and the exposure log (every look: who, which item, when, how long).

Rows in, rows out: what a look may claim, and the bounds of every setting, are ``web.welfare``'s to decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from fieldlab.case.schema import examiner_settings, exposure_log, pictures_sent
from fieldlab.case.store import CaseStore
from fieldlab.sql import inserted_id


@dataclass(frozen=True)
class WelfareSettings:
    blur_px: int = 18
    greyscale: bool = True
    break_minutes: int = 30
    break_taken_at: float | None = None


@dataclass(frozen=True)
class OpenReveal:
    """An explicit reveal whose length the browser has not yet told."""

    item_id: int
    revealed_at: float


@dataclass(frozen=True)
class ExposureTotal:
    examiner: str
    views: int
    seconds: float
    last: float | None


def settings_for(store: CaseStore, user_id: int) -> WelfareSettings:
    """The examiner's stored settings, or the defaults."""
    with store.engine.connect() as conn:
        row = conn.execute(select(examiner_settings).where(examiner_settings.c.user_id == user_id)).first()
    if row is None:
        return WelfareSettings()
    return WelfareSettings(row.blur_px, bool(row.greyscale), row.break_minutes, row.break_taken_at)


def store_settings(store: CaseStore, user_id: int, *, values: dict, current: WelfareSettings) -> None:
    """Change ``values`` of the examiner's settings; the first change stores ``current`` with them."""
    with store.engine.begin() as conn:
        if conn.execute(select(examiner_settings.c.user_id).where(examiner_settings.c.user_id == user_id)).first():
            conn.execute(update(examiner_settings).where(examiner_settings.c.user_id == user_id).values(**values))
        else:
            row = {"blur_px": current.blur_px, "greyscale": current.greyscale,
                   "break_minutes": current.break_minutes, "break_taken_at": current.break_taken_at} | values
            conn.execute(insert(examiner_settings).values(user_id=user_id, **row))


def log_exposure(store: CaseStore, user_id: int, examiner: str, *, item_id: int, how: str, revealed_at: float,
                 seconds: float | None = None) -> int:
    """A look, its length still open (``seconds`` None) for an explicit reveal; the new entry's id."""
    with store.engine.begin() as conn:
        return inserted_id(conn.execute(insert(exposure_log).values(
            user_id=user_id, examiner=examiner, item_id=item_id, how=how, revealed_at=revealed_at, seconds=seconds,
        )))


def log_picture_sent(store: CaseStore, user_id: int, examiner: str, *, session_hash: str, item_id: int,
                     sent_at: float) -> None:
    """A picture leaving the server for a session, with its audit entry in the same transaction."""
    with store.engine.begin() as conn:
        conn.execute(insert(pictures_sent).values(user_id=user_id, examiner=examiner, session=session_hash,
                                                  item_id=item_id, sent_at=sent_at))
        entry = store.audit.append_in(conn, "picture_sent", {"item": item_id}, actor=examiner)
    store.audit.record_head(entry)


def first_sent(store: CaseStore, session_hash: str, item_id: int, *, since: float = 0.0) -> float | None:
    """When the item's picture was first sent to the session (at or after ``since``), or None."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.min(pictures_sent.c.sent_at)).where(
            pictures_sent.c.session == session_hash, pictures_sent.c.item_id == item_id,
            pictures_sent.c.sent_at >= since)).scalar()


def open_reveal(store: CaseStore, exposure_id: int, user_id: int) -> OpenReveal | None:
    """The user's own explicit reveal ``exposure_id``, if its length is still open."""
    with store.engine.connect() as conn:
        row = conn.execute(select(exposure_log.c.item_id, exposure_log.c.revealed_at).where(
            exposure_log.c.id == exposure_id, exposure_log.c.user_id == user_id, exposure_log.c.seconds.is_(None),
            exposure_log.c.how == "reveal")).first()
    return OpenReveal(row.item_id, row.revealed_at) if row is not None else None


def close_reveal(store: CaseStore, exposure_id: int, seconds: float) -> bool:
    """Record a reveal's length; False when another request recorded one first."""
    with store.engine.begin() as conn:
        return bool(conn.execute(update(exposure_log).where(
            exposure_log.c.id == exposure_id, exposure_log.c.seconds.is_(None),
        ).values(seconds=seconds)).rowcount)


def claimed_seconds(store: CaseStore, user_id: int, item_id: int, *, since: float) -> float:
    """How long the user's looks (not reveals) at the item since ``since`` already claim."""
    with store.engine.connect() as conn:
        return float(conn.execute(select(func.coalesce(func.sum(exposure_log.c.seconds), 0.0)).where(
            exposure_log.c.user_id == user_id, exposure_log.c.item_id == item_id, exposure_log.c.how != "reveal",
            exposure_log.c.revealed_at >= since)).scalar_one())


def revealed_since(store: CaseStore, user_id: int, item_ids: list[int], *, since: float) -> bool:
    """Whether the user explicitly revealed any of the items after ``since``."""
    with store.engine.connect() as conn:
        return conn.execute(select(exposure_log.c.id).where(
            exposure_log.c.user_id == user_id, exposure_log.c.item_id.in_(item_ids), exposure_log.c.how == "reveal",
            exposure_log.c.revealed_at > since,
        ).limit(1)).first() is not None


def exposure_seconds_since(store: CaseStore, user_id: int, since: float) -> float:
    with store.engine.connect() as conn:
        return float(conn.execute(select(func.coalesce(func.sum(exposure_log.c.seconds), 0.0)).where(
            exposure_log.c.user_id == user_id, exposure_log.c.revealed_at > since)).scalar_one())


def exposure_totals(store: CaseStore, since: float = 0.0) -> list[ExposureTotal]:
    """Per examiner: how many looks and how long, for a supervisor's welfare oversight."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(exposure_log.c.examiner, func.count(), func.coalesce(func.sum(exposure_log.c.seconds), 0.0),
                   func.max(exposure_log.c.revealed_at))
            .where(exposure_log.c.revealed_at > since).group_by(exposure_log.c.examiner)
            .order_by(exposure_log.c.examiner)
        ).all()
    return [ExposureTotal(r[0], r[1], float(r[2]), r[3]) for r in rows]
