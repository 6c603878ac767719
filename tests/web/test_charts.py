"""The dashboard's charts: geometry that fits, time buckets that suit the span, implausible times set aside."""

from __future__ import annotations

from datetime import datetime, timezone

from fieldlab.web.charts import HEIGHT, category_bars, time_histogram


def _t(*parts: int) -> float:
    return datetime(*parts, tzinfo=timezone.utc).timestamp()


def test_file_times_over_two_years_are_counted_per_month_with_bogus_clocks_left_out() -> None:
    now = _t(2024, 1, 1)
    chart = time_histogram([_t(2021, 3, 4), _t(2021, 3, 20), _t(2022, 12, 1), 0.0, _t(2030, 1, 1)], now)
    assert "per month" in chart.title and "2 file(s)" in chart.note
    assert sorted(b.tooltip for b in chart.bars) == ["2021-03: 2", "2022-12: 1"]
    assert all(0 <= b.y and b.y + b.height <= HEIGHT for b in chart.bars)


def test_a_short_span_is_counted_per_day_and_nothing_gives_an_empty_chart() -> None:
    chart = time_histogram([_t(2023, 5, 1, 10), _t(2023, 5, 3)], _t(2024, 1, 1))
    assert "per day" in chart.title and len(chart.bars) == 2
    assert time_histogram([], _t(2024, 1, 1)).empty


def test_category_bars_stack_indicative_on_counted() -> None:
    chart = category_bars([("EX1", {"A": (3, 1), "B": (0, 0)}), ("EX2", {"B": (2, 0)})], ("A", "B", "uncategorised"))
    tips = [b.tooltip for b in chart.bars]
    assert tips == ["EX1: A counted 3", "EX1: A indicative 1", "EX2: B counted 2"]
    counted, indicative = chart.bars[:2]
    assert abs(indicative.y + indicative.height - counted.y) < 1e-6  # on top of it
