"""A target's priority: a score made of parts an officer can read, each with its points and the facts behind it.

The parts: *volume* (distinct known files offered), *severity* (those files by category, A before B before C),
*recency* (how long since the last sighting), *persistence* (on how many different days it was seen) and the
*risk facts* officers entered.  An officer may override the score; the computed score and its reasons stay shown
beside the override and its note.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED
from fieldlab.ops.models import DAY_US, Reason, RiskFact, SightingRow, utc_day
from fieldlab.ops.settings import RISK_KINDS, ScoreWeights


def is_known(category: str | None, profile: str | None) -> bool:
    """A file counts as known material if a set calls it indecent, or knows it without a category."""
    if category is None:
        return False
    return category == UNCATEGORISED or (profile in PROFILES and category in PROFILES[profile].indecent)


def score(seen: Sequence[SightingRow], risks: Sequence[RiskFact], weights: ScoreWeights,
          *, now_us: int) -> tuple[int, tuple[Reason, ...]]:
    """(score, reasons): the score is exactly the sum of the reasons' points."""
    reasons: list[Reason] = []
    files = {(s.hash_kind, s.file_hash): s.category for s in seen
             if s.category is not None and is_known(s.category, s.profile)}
    volume = min(weights.volume_cap, weights.per_known_file * len(files))
    reasons.append(Reason("volume", volume, f"{len(files)} distinct known file(s) offered × {weights.per_known_file}"
                          + _capped(weights.per_known_file * len(files), weights.volume_cap)))
    by_category = Counter(files.values())
    order = sorted(by_category, key=lambda c: (-weights.severity.get(c, 0), c))
    raw = sum(weights.severity.get(c, 0) * n for c, n in by_category.items())
    severity = min(weights.severity_cap, raw)
    terms = ", ".join(f"{by_category[c]} {_label(c)} × {weights.severity.get(c, 0)}" for c in order)
    reasons.append(Reason("severity", severity, f"by category: {terms or 'no known files'}"
                          + (f" = {raw}" if raw > severity else "") + _capped(raw, weights.severity_cap)))
    if seen:
        last = max(s.seen_us for s in seen)
        days = max(0.0, (now_us - last) / DAY_US)
        if days <= weights.recency_full_days:
            recency = weights.recency_points
        elif days >= weights.recency_zero_days:
            recency = 0
        else:
            span = weights.recency_zero_days - weights.recency_full_days
            recency = round(weights.recency_points * (weights.recency_zero_days - days) / span)
        reasons.append(Reason("recency", recency, f"last seen {utc_day(last)}, {int(days)} day(s) ago "
                              f"(all {weights.recency_points} within {weights.recency_full_days} days, "
                              f"none after {weights.recency_zero_days})"))
        day_count = len({s.seen_us // DAY_US for s in seen})
        persistence = min(weights.persistence_cap, weights.per_day * day_count)
        reasons.append(Reason("persistence", persistence, f"seen on {day_count} different day(s) (UTC) × "
                              f"{weights.per_day}" + _capped(weights.per_day * day_count, weights.persistence_cap)))
    for risk in risks:
        if risk.withdrawn:
            continue
        described = RISK_KINDS.get(risk.kind, (risk.kind, None))[0]
        reasons.append(Reason("risk", risk.points, f"{described}: {risk.note} (entered by {risk.entered_by})"))
    return sum(r.points for r in reasons), tuple(reasons)


def _capped(raw: int, cap: int) -> str:
    return f", at most {cap}" if raw > cap else ""


def _label(category: str) -> str:
    return category if category == UNCATEGORISED else f"category {category}"
