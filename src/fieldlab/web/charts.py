"""Charts as plain geometry, drawn as SVG by the templates: no chart library, nothing to fetch, works offline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 56
PLAUSIBLE_FROM = datetime(1990, 1, 1, tzinfo=timezone.utc).timestamp()  # earlier file times are a reset clock


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # the class that colours it
    tooltip: str


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    x_labels: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[str, str], ...]  # (css class, text)
    note: str = ""

    @property
    def baseline(self) -> float:
        return self.height - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.bars


def category_bars(per_exhibit: list[tuple[str, dict[str, tuple[int, int]]]], categories: tuple[str, ...]) -> Chart:
    """Per exhibit, a bar per category: images counted (hash set or examiner) with indicative ones stacked on top."""
    peak = max((sum(v) for _, cats in per_exhibit for v in cats.values()), default=0)
    scale = _scale(peak)
    slots = max(len(per_exhibit), 1)
    slot = (WIDTH - LEFT - RIGHT) / slots
    bar_width = min(28.0, slot * 0.8 / max(len(categories), 1))
    bars, labels = [], []
    for i, (exhibit, counts) in enumerate(per_exhibit):
        start = LEFT + i * slot + (slot - bar_width * len(categories)) / 2
        for j, category in enumerate(categories):
            counted, indicative = counts.get(category, (0, 0))
            x = start + j * bar_width
            base: float = HEIGHT - BOTTOM
            for value, css, what in ((counted, f"cat-{_css(category)}", "counted"),
                                     (indicative, "indicative", "indicative")):
                if value:
                    h = value / scale * (HEIGHT - TOP - BOTTOM)
                    bars.append(Bar(x + 1, base - h, bar_width - 2, h, css, f"{exhibit}: {category} {what} {value:,}"))
                    base -= h
        labels.append((LEFT + i * slot + slot / 2, exhibit))
    legend = tuple((f"cat-{_css(c)}", c) for c in categories) + (("indicative", "indicative (near match, unconfirmed)"),)
    return Chart("Images per category and exhibit", WIDTH, HEIGHT, tuple(bars), tuple(labels), _ticks(scale), legend)


def time_histogram(mtimes: list[float], now: float) -> Chart:
    """Pictures and videos by file modification time: months (days when they span under 90 days, years over 20)."""
    plausible = sorted(t for t in mtimes if PLAUSIBLE_FROM <= t <= now + 86400)
    outliers = len(mtimes) - len(plausible)
    note = f"{outliers:,} file(s) with a time before 1990 or in the future are left out" if outliers else ""
    if not plausible:
        return Chart("Pictures and videos by modification time", WIDTH, HEIGHT, (), (), (), (), note)
    first, last = (datetime.fromtimestamp(t, timezone.utc) for t in (plausible[0], plausible[-1]))
    span_days = (last - first).days
    unit = "day" if span_days < 90 else "year" if span_days > 20 * 365 else "month"
    keys = [_bucket(datetime.fromtimestamp(t, timezone.utc), unit) for t in plausible]
    buckets = _buckets(keys[0], keys[-1], unit)
    counts = dict.fromkeys(buckets, 0)
    for key in keys:
        counts[key] += 1
    scale = _scale(max(counts.values()))
    slot = (WIDTH - LEFT - RIGHT) / len(buckets)
    bars, labels = [], []
    every = max(1, math.ceil(len(buckets) / 12))
    for i, key in enumerate(buckets):
        value = counts[key]
        if value:
            h = value / scale * (HEIGHT - TOP - BOTTOM)
            bars.append(Bar(LEFT + i * slot + 0.5, HEIGHT - BOTTOM - h, max(slot - 1, 0.5), h, "time",
                            f"{_label(key, unit)}: {value:,}"))
        if i % every == 0:
            labels.append((LEFT + i * slot + slot / 2, _label(key, unit)))
    return Chart(f"Pictures and videos by modification time (per {unit})", WIDTH, HEIGHT, tuple(bars),
                 tuple(labels), _ticks(scale), (("time", "files"),), note)


def _bucket(moment: datetime, unit: str) -> tuple[int, ...]:
    if unit == "day":
        return moment.year, moment.month, moment.day
    if unit == "month":
        return moment.year, moment.month
    return (moment.year,)


def _buckets(first: tuple[int, ...], last: tuple[int, ...], unit: str) -> list[tuple[int, ...]]:
    if unit == "year":
        return [(y,) for y in range(first[0], last[0] + 1)]
    if unit == "month":
        found: list[tuple[int, ...]] = []
        y, m = first
        while (y, m) <= last:
            found.append((y, m))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return found
    start = datetime(first[0], first[1], first[2], tzinfo=timezone.utc).toordinal()
    end = datetime(last[0], last[1], last[2], tzinfo=timezone.utc).toordinal()
    return [_bucket(datetime.fromordinal(d), "day") for d in range(start, end + 1)]


def _label(key: tuple[int, ...], unit: str) -> str:
    return "-".join(f"{part:02d}" if i else str(part) for i, part in enumerate(key))


def _scale(peak: int) -> float:
    """A round top for the y axis, at least the peak."""
    if peak <= 5:
        return 5.0
    magnitude = 10 ** math.floor(math.log10(peak))
    return float(next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= peak))


def _ticks(scale: float) -> tuple[tuple[float, str], ...]:
    return tuple((HEIGHT - BOTTOM - f * (HEIGHT - TOP - BOTTOM), f"{scale * f:,.1f}".removesuffix(".0"))
                 for f in (0, 0.5, 1))


def _css(category: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in category.lower())
