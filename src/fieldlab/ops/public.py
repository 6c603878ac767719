"""The public figures: children safeguarded, warrants executed, arrests and charges, month by month.

What the public may see is decided here and nowhere else: counts per calendar month and nothing finer, only
complete months (a month still running would tell, day by day, when something happened), and small numbers
suppressed.  A month's count from 1 to N-1 is shown as "fewer than N".  A period's total is exact only when none
of its months is suppressed; otherwise it is the range the months allow ("between 7 and 15"), so no choice of
periods can subtract one total from another to recover a suppressed month.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import select

from fieldlab.errors import OpsError
from fieldlab.ops.database import OpsDatabase
from fieldlab.ops.schema import operations, safeguarding
from fieldlab.ops.settings import load_settings

MEASURES = (
    ("children_safeguarded", "Children safeguarded"),
    ("warrants_executed", "Search warrants executed"),
    ("arrests", "Arrests"),
    ("charges", "People charged"),
)
MAX_MONTHS = 120
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(OpsError, ValueError):
    """The period asked for is not one the page can show; the message says why."""


@dataclass(frozen=True)
class Figure:
    shown: str
    value: int | None  # None when suppressed
    at_least: int
    at_most: int

    @property
    def suppressed(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM
    figures: dict[str, Figure]


@dataclass(frozen=True)
class PublicFigures:
    title: str
    first: str
    last: str
    threshold: int
    totals: dict[str, Figure]
    months: tuple[MonthFigures, ...]
    advice_text: str
    advice_links: tuple[tuple[str, str], ...]

    def to_json(self) -> dict:
        def figure(f: Figure) -> dict:
            return {"shown": f.shown, "value": f.value, "suppressed": f.suppressed, "at_least": f.at_least,
                    "at_most": f.at_most}

        return {
            "title": self.title,
            "period": {"from": self.first, "to": self.last},
            "suppression": f"counts from 1 to {self.threshold - 1} are shown as 'fewer than {self.threshold}'"
            if self.threshold > 1 else "none",
            "measures": [{"key": key, "title": title, "total": figure(self.totals[key])} for key, title in MEASURES],
            "months": [{"month": m.month, **{key: figure(m.figures[key]) for key, _ in MEASURES}} for m in self.months],
            "advice": {"text": self.advice_text, "links": [{"title": t, "url": u} for t, u in self.advice_links]},
        }


def _month_index(text: str) -> int:
    found = _MONTH.match(text or "")
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        raise PeriodError(f"{(text or '')[:20]!r} is not a month: use YYYY-MM, e.g. 2024-05")
    return int(found.group(1)) * 12 + int(found.group(2)) - 1


def _month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def latest_complete_month(today: date | None = None) -> int:
    today = today or datetime.now(timezone.utc).date()
    return today.year * 12 + today.month - 2


def period(first: str | None, last: str | None, today: date | None = None) -> tuple[int, int]:
    newest = latest_complete_month(today)
    end = _month_index(last) if last else newest
    start = _month_index(first) if first else end - 11
    if end > newest:
        raise PeriodError(f"figures are published for complete months only: the latest is {_month_text(newest)}")
    if start > end:
        raise PeriodError("the period starts after it ends")
    if end - start + 1 > MAX_MONTHS:
        raise PeriodError(f"a period is at most {MAX_MONTHS} months")
    return start, end


def monthly_counts(db: OpsDatabase) -> dict[str, dict[int, int]]:
    """Per measure, month index -> count (every month that has any)."""
    counts: dict[str, dict[int, int]] = {key: defaultdict(int) for key, _ in MEASURES}
    with db.engine.connect() as conn:
        for safeguarded in conn.execute(select(safeguarding.c.on_date, safeguarding.c.children)):
            counts["children_safeguarded"][_index(safeguarded.on_date)] += safeguarded.children
        for row in conn.execute(select(operations.c.warrant_executed_on, operations.c.arrested_on,
                                       operations.c.persons_arrested, operations.c.charged_on,
                                       operations.c.persons_charged)):
            if row.warrant_executed_on:
                counts["warrants_executed"][_index(row.warrant_executed_on)] += 1
            if row.arrested_on:
                counts["arrests"][_index(row.arrested_on)] += row.persons_arrested
            if row.charged_on:
                counts["charges"][_index(row.charged_on)] += row.persons_charged
    return counts


def _index(day: date) -> int:
    return day.year * 12 + day.month - 1


def suppressed(value: int, threshold: int) -> Figure:
    if 0 < value < threshold:
        return Figure(f"fewer than {threshold}", None, 1, threshold - 1)
    return Figure(f"{value:,}", value, value, value)


def total_of(months: list[Figure], threshold: int) -> Figure:
    low = sum(f.at_least for f in months)
    high = sum(f.at_most for f in months)
    if low == high:
        return Figure(f"{low:,}", low, low, low)
    if high < threshold:
        return Figure(f"fewer than {threshold}", None, low, high)
    return Figure(f"between {low:,} and {high:,}", None, low, high)


def public_figures(db: OpsDatabase, *, first: str | None = None, last: str | None = None,
                   today: date | None = None) -> PublicFigures:
    settings = load_settings(db)
    start, end = period(first, last, today)
    counts = monthly_counts(db)
    threshold = settings.suppress_below
    months = tuple(MonthFigures(_month_text(m), {key: suppressed(counts[key].get(m, 0), threshold)
                                                 for key, _ in MEASURES}) for m in range(start, end + 1))
    totals = {key: total_of([m.figures[key] for m in months], threshold) for key, _ in MEASURES}
    return PublicFigures(settings.public_title, _month_text(start), _month_text(end), threshold, totals, months,
                         settings.advice_text, settings.advice_links)
