"""Examiner welfare: how pictures are shown to each examiner, and what each examiner saw and for how long.

Pictures are blurred and greyscale unless the examiner looks at one on
purpose.  Every such look is an *exposure*: who, which item, when, how long.
The exposure log serves the examiner's welfare (a break is suggested after a
set time of exposure) and the evidential record (every view is also in the
case's audit trail).

What the server knows is logged by the server: every picture it sends
(``pictures_sent`` and the audit trail: who, which item, when, which session).
How long a look lasted only the browser can tell; that claim is accepted only
for a picture this session was actually sent, and capped by the time since.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from fieldlab.case.schema import examiner_settings, exposure_log, pictures_sent
from fieldlab.case.store import CaseStore
from fieldlab.errors import WebError
from fieldlab.web.accounts import Session, User

BLUR_RANGE = (4, 40)  # pixels; never zero: a blurred picture is the default, not an option
BREAK_RANGE = (5, 240)  # minutes of exposure
HOW = ("hover", "key", "reveal")  # reveal: a known-hash hit shown on request
REVEAL_VALID_SECONDS = 15 * 60  # a reveal lets its picture be fetched for this long
MAX_EXPOSURE_SECONDS = 4 * 3600


class ExposureRefused(WebError):
    """A browser's claim of a look that the server cannot have made possible: the message says why."""


@dataclass(frozen=True)
class WelfareSettings:
    blur_px: int = 18
    greyscale: bool = True
    break_minutes: int = 30
    break_taken_at: float | None = None


def settings_for(store: CaseStore, user_id: int) -> WelfareSettings:
    with store.engine.connect() as conn:
        row = conn.execute(select(examiner_settings).where(examiner_settings.c.user_id == user_id)).first()
    if row is None:
        return WelfareSettings()
    return WelfareSettings(row.blur_px, bool(row.greyscale), row.break_minutes, row.break_taken_at)


def save_settings(store: CaseStore, user: User, blur_px: int, greyscale: bool, break_minutes: int) -> WelfareSettings:
    """Store the examiner's choices, held within sane bounds."""
    blur_px = min(max(int(blur_px), BLUR_RANGE[0]), BLUR_RANGE[1])
    break_minutes = min(max(int(break_minutes), BREAK_RANGE[0]), BREAK_RANGE[1])
    current = settings_for(store, user.id)
    values = {"blur_px": blur_px, "greyscale": bool(greyscale), "break_minutes": break_minutes}
    _upsert(store, user.id, values, current)
    store.audit.append("welfare_settings_changed", values, actor=user.name)
    return WelfareSettings(blur_px, bool(greyscale), break_minutes, current.break_taken_at)


def take_break(store: CaseStore, user: User) -> None:
    """Exposure is counted afresh from now."""
    _upsert(store, user.id, {"break_taken_at": time.time()}, settings_for(store, user.id))


def _upsert(store: CaseStore, user_id: int, values: dict, current: WelfareSettings) -> None:
    with store.engine.begin() as conn:
        if conn.execute(select(examiner_settings.c.user_id).where(examiner_settings.c.user_id == user_id)).first():
            conn.execute(update(examiner_settings).where(examiner_settings.c.user_id == user_id).values(**values))
        else:
            row = {"blur_px": current.blur_px, "greyscale": current.greyscale,
                   "break_minutes": current.break_minutes, "break_taken_at": current.break_taken_at} | values
            conn.execute(insert(examiner_settings).values(user_id=user_id, **row))


def start_reveal(store: CaseStore, user: User, item_id: int) -> int:
    """An explicit reveal of a known-hash hit: logged before the picture is sent.  Its length is added when the
    browser says the reveal ended (``end_exposure``)."""
    with store.engine.begin() as conn:
        exposure_id = conn.execute(insert(exposure_log).values(
            user_id=user.id, examiner=user.name, item_id=item_id, how="reveal", revealed_at=time.time(),
        )).inserted_primary_key[0]
    store.audit.append("item_revealed", {"item": item_id, "exposure": exposure_id}, actor=user.name)
    return exposure_id


def record_picture_sent(store: CaseStore, session: Session, item_id: int) -> None:
    """A picture is leaving the server for this session: logged, with its audit entry, before it is sent."""
    with store.engine.begin() as conn:
        conn.execute(insert(pictures_sent).values(user_id=session.user.id, examiner=session.user.name,
                                                  session=session.token_hash, item_id=item_id, sent_at=time.time()))
        entry = store.audit.append_in(conn, "picture_sent", {"item": item_id}, actor=session.user.name)
    store.audit.record_head(entry)


def _first_sent(store: CaseStore, session: Session, item_id: int, since: float = 0.0) -> float | None:
    with store.engine.connect() as conn:
        return conn.execute(select(func.min(pictures_sent.c.sent_at)).where(
            pictures_sent.c.session == session.token_hash, pictures_sent.c.item_id == item_id,
            pictures_sent.c.sent_at >= since)).scalar()


def end_exposure(store: CaseStore, session: Session, exposure_id: int, seconds: float) -> bool:
    """The length of the session user's own reveal ``exposure_id``, at most the time since its picture was sent to
    this session; False if it is not theirs or already has one; ExposureRefused if the picture was never sent."""
    user = session.user
    with store.engine.connect() as conn:
        reveal = conn.execute(select(exposure_log.c.item_id, exposure_log.c.revealed_at).where(
            exposure_log.c.id == exposure_id, exposure_log.c.user_id == user.id, exposure_log.c.seconds.is_(None),
            exposure_log.c.how == "reveal")).first()
    if reveal is None:
        return False
    sent = _first_sent(store, session, reveal.item_id, since=reveal.revealed_at)
    if sent is None:
        raise ExposureRefused("the revealed picture was never sent to this session: no exposure to record")
    seconds = min(max(float(seconds), 0.0), MAX_EXPOSURE_SECONDS, time.time() - sent)
    with store.engine.begin() as conn:
        done = conn.execute(update(exposure_log).where(
            exposure_log.c.id == exposure_id, exposure_log.c.seconds.is_(None),
        ).values(seconds=round(seconds, 1))).rowcount
    if done:
        store.audit.append("item_viewed", {"exposure": exposure_id, "seconds": round(seconds, 1), "how": "reveal"},
                           actor=user.name)
    return bool(done)


def record_exposure(store: CaseStore, session: Session, item_id: int, how: str, seconds: float) -> int:
    """A look that has ended (the picture unblurred by hover or key), timed by the browser, stamped by the server.
    Only a picture sent to this session can have been looked at, and for no longer than since it was first sent,
    less the looks at it already recorded: ExposureRefused otherwise, and the length capped."""
    if how not in HOW or how == "reveal":
        raise ValueError(f"an ended exposure is one of hover, key; not {how!r}")
    user = session.user
    sent = _first_sent(store, session, item_id)
    if sent is None:
        raise ExposureRefused("no picture of this item was sent to this session: no exposure to record")
    now = time.time()
    with store.engine.connect() as conn:
        claimed = conn.execute(select(func.coalesce(func.sum(exposure_log.c.seconds), 0.0)).where(
            exposure_log.c.user_id == user.id, exposure_log.c.item_id == item_id, exposure_log.c.how != "reveal",
            exposure_log.c.revealed_at >= sent)).scalar()
    seconds = round(max(0.0, min(float(seconds), MAX_EXPOSURE_SECONDS, now - sent - float(claimed))), 1)
    with store.engine.begin() as conn:
        exposure_id = conn.execute(insert(exposure_log).values(
            user_id=user.id, examiner=user.name, item_id=item_id, how=how, revealed_at=now - seconds,
            seconds=seconds,
        )).inserted_primary_key[0]
    store.audit.append("item_viewed", {"item": item_id, "exposure": exposure_id, "seconds": seconds, "how": how},
                       actor=user.name)
    return exposure_id


def has_revealed(store: CaseStore, user: User, item_ids: list[int], within: float = REVEAL_VALID_SECONDS) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(select(exposure_log.c.id).where(
            exposure_log.c.user_id == user.id, exposure_log.c.item_id.in_(item_ids), exposure_log.c.how == "reveal",
            exposure_log.c.revealed_at > time.time() - within,
        ).limit(1)).first() is not None


def exposure_since_break(store: CaseStore, user_id: int) -> float:
    since = settings_for(store, user_id).break_taken_at or 0.0
    with store.engine.connect() as conn:
        total = conn.execute(select(func.coalesce(func.sum(exposure_log.c.seconds), 0.0)).where(
            exposure_log.c.user_id == user_id, exposure_log.c.revealed_at > since)).scalar()
    return float(total)


@dataclass(frozen=True)
class ExposureTotal:
    examiner: str
    views: int
    seconds: float
    last: float | None


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
