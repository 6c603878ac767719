"""What a force configures for its operations: its own areas, how sightings are grouped, how targets are scored,
and what the public page says.  Kept in the database (table ``settings``), changed with an audit entry."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from fieldlab.errors import OpsError
from fieldlab.ops.database import OpsDatabase
from fieldlab.ops.schema import settings as settings_table

RISK_KINDS: dict[str, tuple[str, int | None]] = {  # kind -> (what the officer attests, points; None: the officer's)
    "access_to_children": ("has access to children (at home, at work or as a volunteer)", 40),
    "previous_conviction": ("has a previous conviction for a sexual offence", 30),
    "registered_sex_offender": ("is subject to sex offender notification requirements", 30),
    "other": ("other risk fact", None),
}
OTHER_RISK_MAX = 40

DEFAULT_ADVICE = (
    "If you are worried about your own sexual thoughts or behaviour towards children, or about someone else's, "
    "you can get confidential help and advice. If a child is in immediate danger, call 999."
)
DEFAULT_LINKS = (
    ("Stop It Now: confidential help for anyone worried about their own or someone else's behaviour",
     "https://www.stopitnow.org.uk/"),
    ("CEOP: report online sexual abuse of a child", "https://www.ceop.police.uk/"),
    ("Internet Watch Foundation: report images of child sexual abuse", "https://report.iwf.org.uk/"),
)


class SettingsError(OpsError, ValueError):
    """A setting was given a value it cannot take; the message says which and why."""


@dataclass(frozen=True)
class ScoreWeights:
    """The priority score's parts: every one is shown beside the score with the numbers it came from."""

    per_known_file: int = 1  # volume: each distinct known file
    volume_cap: int = 30
    severity: dict[str, int] = field(default_factory=lambda: {"A": 5, "B": 3, "C": 1, "1": 5, "2": 2, "3": 1})
    severity_cap: int = 60
    recency_points: int = 20  # last seen within recency_full_days: all of them, then falling to 0 at recency_zero_days
    recency_full_days: int = 7
    recency_zero_days: int = 90
    per_day: int = 2  # persistence: each distinct UTC day with a sighting
    persistence_cap: int = 20


@dataclass(frozen=True)
class OpsSettings:
    force_areas: tuple[str, ...] = ()  # area names (or name prefixes ending at a "/") that are the force's own
    window_days: int = 7  # sightings of one IP address this close in time are one target
    suppress_below: int = 5  # public figures under this are shown as "fewer than N"
    public_title: str = "Protecting children from online sexual abuse"
    advice_text: str = DEFAULT_ADVICE
    advice_links: tuple[tuple[str, str], ...] = DEFAULT_LINKS
    weights: ScoreWeights = field(default_factory=ScoreWeights)

    def is_force_area(self, area: str | None) -> bool:
        if area is None:
            return False
        return any(area == own or area.startswith(own.rstrip("/") + "/") for own in self.force_areas)


def load_settings(db: OpsDatabase) -> OpsSettings:
    with db.engine.connect() as conn:
        stored = {r.key: json.loads(r.value) for r in conn.execute(select(settings_table))}
    return _from_stored(stored)


def save_settings(db: OpsDatabase, actor: str | None = None, **changes: object) -> OpsSettings:
    """Validate and store ``changes`` (fields of ``OpsSettings``), audited; a change of the force's areas or of the
    grouping window places every sighting and groups the targets again, in the same transaction."""
    current = load_settings(db)
    unknown = set(changes) - {f.name for f in fields(OpsSettings)}
    if unknown:
        raise SettingsError(f"no setting named {', '.join(sorted(unknown))}")
    updated = _validated(replace(current, **{k: _tupled(k, v) for k, v in changes.items()}))
    with db.change("settings_changed", actor, fields=sorted(changes)) as change:
        for key in changes:
            value = json.dumps(_stored(updated, key))
            found = change.conn.execute(select(settings_table.c.key).where(settings_table.c.key == key)).first()
            if found is None:
                change.conn.execute(settings_table.insert().values(key=key, value=value))
            else:
                change.conn.execute(settings_table.update().where(settings_table.c.key == key).values(value=value))
        change.detail["values"] = {k: _stored(updated, k) for k in changes if k != "advice_text"}
        if {"force_areas", "window_days"} & set(changes):
            from fieldlab.ops.targets import refresh  # targets build on settings

            change.detail["placed"] = refresh(db, change.conn, updated)
    return updated


def _tupled(key: str, value: Any) -> Any:
    """A setting as stored (JSON) or given, in the form its field takes; Any, because ``_validated`` checks it."""
    if key == "force_areas":
        return tuple(str(v).strip() for v in value)
    if key == "advice_links":
        return tuple((str(t).strip(), str(u).strip()) for t, u in value)
    if key == "weights" and isinstance(value, dict):
        return ScoreWeights(**value)
    return value


def _validated(s: OpsSettings) -> OpsSettings:
    if any(not a or len(a) > 200 for a in s.force_areas) or len(s.force_areas) > 500:
        raise SettingsError("force areas: 1-200 characters each, at most 500 of them")
    if not 1 <= int(s.window_days) <= 365:
        raise SettingsError("the grouping window is 1 to 365 days")
    if not 1 <= int(s.suppress_below) <= 1000:
        raise SettingsError("the public page's suppression threshold is 1 to 1000 (1: nothing suppressed)")
    if not s.public_title.strip() or len(s.public_title) > 200:
        raise SettingsError("the public page's title is 1-200 characters")
    if len(s.advice_text) > 4000:
        raise SettingsError("the advice text is at most 4000 characters")
    if len(s.advice_links) > 20:
        raise SettingsError("at most 20 advice links")
    for title, url in s.advice_links:
        parts = urlsplit(url)
        if not title or len(title) > 200 or parts.scheme != "https" or not parts.netloc or len(url) > 500:
            raise SettingsError(f"advice link {title!r}: a title and an https:// address (at most 500 characters)")
    w = s.weights
    numbers = [getattr(w, f.name) for f in fields(ScoreWeights) if f.name != "severity"] + list(w.severity.values())
    if (any(not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 1000 for n in numbers)
            or any(not isinstance(k, str) for k in w.severity) or w.recency_zero_days <= w.recency_full_days):
        raise SettingsError("score weights are whole numbers from 0 to 1000 (severity: category -> points), and "
                            "recency fades to nothing after it is full")
    return replace(s, window_days=int(s.window_days), suppress_below=int(s.suppress_below))


def _stored(s: OpsSettings, key: str) -> object:
    value = getattr(s, key)
    return asdict(value) if key == "weights" else value


def _from_stored(stored: dict[str, object]) -> OpsSettings:
    known = {f.name for f in fields(OpsSettings)}
    values = {k: _tupled(k, v) for k, v in stored.items() if k in known}
    return OpsSettings(**values)
