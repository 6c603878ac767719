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

from fieldlab.case import welfare as stored
from fieldlab.case.store import CaseStore
from fieldlab.case.welfare import WelfareSettings, settings_for
from fieldlab.errors import WebError
from fieldlab.web.accounts import Session, User

BLUR_RANGE = (4, 40)  # pixels; never zero: a blurred picture is the default, not an option
BREAK_RANGE = (5, 240)  # minutes of exposure
HOW = ("hover", "key", "reveal")  # reveal: a known-hash hit shown on request
REVEAL_VALID_SECONDS = 15 * 60  # a reveal lets its picture be fetched for this long
MAX_EXPOSURE_SECONDS = 4 * 3600


class ExposureRefused(WebError):
    """A browser's claim of a look that the server cannot have made possible: the message says why."""


def save_settings(
    store: CaseStore, user: User, *, blur_px: int, greyscale: bool, break_minutes: int,
) -> WelfareSettings:
    """Store the examiner's choices, held within sane bounds."""
    blur_px = min(max(int(blur_px), BLUR_RANGE[0]), BLUR_RANGE[1])
    break_minutes = min(max(int(break_minutes), BREAK_RANGE[0]), BREAK_RANGE[1])
    current = settings_for(store, user.id)
    values = {"blur_px": blur_px, "greyscale": bool(greyscale), "break_minutes": break_minutes}
    stored.store_settings(store, user.id, values=values, current=current)
    store.audit.append("welfare_settings_changed", values, actor=user.name)
    return WelfareSettings(blur_px, bool(greyscale), break_minutes, current.break_taken_at)


def take_break(store: CaseStore, user: User) -> None:
    """Exposure is counted afresh from now."""
    stored.store_settings(store, user.id, values={"break_taken_at": time.time()}, current=settings_for(store, user.id))


def start_reveal(store: CaseStore, user: User, item_id: int) -> int:
    """An explicit reveal of a known-hash hit: logged before the picture is sent.  Its length is added when the
    browser says the reveal ended (``end_exposure``)."""
    exposure_id = stored.log_exposure(store, user.id, user.name, item_id=item_id, how="reveal", revealed_at=time.time())
    store.audit.append("item_revealed", {"item": item_id, "exposure": exposure_id}, actor=user.name)
    return exposure_id


def record_picture_sent(store: CaseStore, session: Session, item_id: int) -> None:
    """A picture is leaving the server for this session: logged, with its audit entry, before it is sent."""
    stored.log_picture_sent(store, session.user.id, session.user.name, session_hash=session.token_hash, item_id=item_id,
                            sent_at=time.time())


def end_exposure(store: CaseStore, session: Session, exposure_id: int, *, seconds: float) -> bool:
    """The length of the session user's own reveal ``exposure_id``, at most the time since its picture was sent to
    this session; False if it is not theirs or already has one; ExposureRefused if the picture was never sent."""
    user = session.user
    reveal = stored.open_reveal(store, exposure_id, user.id)
    if reveal is None:
        return False
    sent = stored.first_sent(store, session.token_hash, reveal.item_id, since=reveal.revealed_at)
    if sent is None:
        raise ExposureRefused("the revealed picture was never sent to this session: no exposure to record")
    seconds = min(max(float(seconds), 0.0), MAX_EXPOSURE_SECONDS, time.time() - sent)
    done = stored.close_reveal(store, exposure_id, round(seconds, 1))
    if done:
        store.audit.append("item_viewed", {"exposure": exposure_id, "seconds": round(seconds, 1), "how": "reveal"},
                           actor=user.name)
    return done


def record_exposure(store: CaseStore, session: Session, item_id: int, *, how: str, seconds: float) -> int:
    """A look that has ended (the picture unblurred by hover or key), timed by the browser, stamped by the server.
    Only a picture sent to this session can have been looked at, and for no longer than since it was first sent,
    less the looks at it already recorded: ExposureRefused otherwise, and the length capped."""
    if how not in HOW or how == "reveal":
        raise ValueError(f"an ended exposure is one of hover, key; not {how!r}")
    user = session.user
    sent = stored.first_sent(store, session.token_hash, item_id)
    if sent is None:
        raise ExposureRefused("no picture of this item was sent to this session: no exposure to record")
    now = time.time()
    claimed = stored.claimed_seconds(store, user.id, item_id, since=sent)
    seconds = round(max(0.0, min(float(seconds), MAX_EXPOSURE_SECONDS, now - sent - claimed)), 1)
    exposure_id = stored.log_exposure(store, user.id, user.name, item_id=item_id, how=how, revealed_at=now - seconds,
                                      seconds=seconds)
    store.audit.append("item_viewed", {"item": item_id, "exposure": exposure_id, "seconds": seconds, "how": how},
                       actor=user.name)
    return exposure_id


def has_revealed(store: CaseStore, user: User, item_ids: list[int], *, within: float = REVEAL_VALID_SECONDS) -> bool:
    return stored.revealed_since(store, user.id, item_ids, since=time.time() - within)


def exposure_since_break(store: CaseStore, user_id: int) -> float:
    since = settings_for(store, user_id).break_taken_at or 0.0
    return stored.exposure_seconds_since(store, user_id, since)
