"""The verdict as a terminal shows it: the same rows from scan to scan, nothing cut or wrapped mid-word at 80
columns, more exhibits side by side on a wider terminal.  Compared with stored snapshots (tests/report/snapshots):
a layout change must be a decision, made by rewriting them (FIELDLAB_UPDATE_SNAPSHOTS=1)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from fieldlab.case.read_rows import ExhibitCounts
from fieldlab.report.verdict import verdict_table

SNAPSHOTS = Path(__file__).parent / "snapshots"

EXHIBITS = [
    ExhibitCounts("DEMO-1", "/evidence/demo", files=1234, files_read=1234, media=120, media_decoded=118, hit_items=5,
                  hits_by_category=Counter({"A": 1, "B": 2, "C": 2}), near_items=2, near_by_category=Counter({"A": 2}),
                  known_good=12, deleted=3, deleted_names_only=1, extension_mismatches=1,
                  problems=Counter({"damaged": 2, "truncated": 1, "nesting": 1, "normal": 3}), walk_complete=True,
                  finished=True, hash_state="no stored hash"),
    ExhibitCounts("DFTT/8", "/evidence/dftt8.E01", files=31764, files_read=20000, media=1538, walk_complete=True,
                  hash_state="verified"),
    ExhibitCounts("JD/3", "/media/usb0", files=10, files_read=10, walk_complete=True, finished=True),
]


def _render(counts: list[ExhibitCounts], width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))
    console.print(verdict_table(counts, title="Verdict: /cases/op-ash", details="fieldlab errors /cases/op-ash"))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120])
def test_the_verdict_matches_its_snapshot_at_80_and_120_columns(width: int) -> None:
    shown = _render(EXHIBITS, width)
    snapshot = SNAPSHOTS / f"verdict-{width}.txt"
    if os.environ.get("FIELDLAB_UPDATE_SNAPSHOTS"):
        snapshot.write_text(shown, encoding="utf-8")
    assert shown == snapshot.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_nothing_is_wider_than_the_terminal_and_no_heading_or_value_is_cut(width: int) -> None:
    shown = _render(EXHIBITS, width)
    assert max(len(line.rstrip()) for line in shown.splitlines()) <= width
    assert "…" not in shown
    for whole in ("Media (decoded)", "no stored hash", "20,000/31,764", "fieldlab errors /cases/op-ash"):
        assert whole in shown


def test_a_wider_terminal_shows_more_exhibits_side_by_side() -> None:
    def tables(width: int) -> int:
        return _render(EXHIBITS, width).count("┃ Exhibit")

    assert tables(80) == 2 and tables(120) == 1


def test_the_rows_are_the_same_with_or_without_hits() -> None:
    def row_labels(counts: list[ExhibitCounts]) -> list[str]:
        cells = [line.split("│")[1].strip() for line in _render(counts, 80).splitlines() if line.startswith("│")]
        return [label for label in cells if label]  # a wrapped value continues on a line with no label

    assert row_labels(EXHIBITS[:1]) == row_labels(EXHIBITS[2:]) == row_labels(EXHIBITS[1:2])
    assert "Cat A" in row_labels(EXHIBITS[2:]) and "Image hash" in row_labels(EXHIBITS[2:])


def test_where_the_problems_are_listed_is_said_only_when_there_are_problems() -> None:
    assert "Each problem, by kind: fieldlab errors /cases/op-ash" in _render(EXHIBITS[:1], 80)
    assert "fieldlab errors" not in _render(EXHIBITS[2:], 80)


def test_the_title_is_never_wrapped_to_a_narrow_tables_width() -> None:
    case = "/cases/run-20261206T174140Z/case"
    console = Console(width=80, record=True, color_system=None, file=open(os.devnull, "w"))
    console.print(verdict_table(EXHIBITS[2:], title=f"Verdict: {case}"))
    assert f"Verdict: {case}" in console.export_text().splitlines()[0]
