"""The dashboard's figures: per exhibit, how far the scan is, what it found, what went wrong."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fieldlab.case.queries import exhibit_counts, exhibit_problems, media_mtimes
from fieldlab.case.read_rows import ExhibitCounts
from fieldlab.case.store import CaseStore
from fieldlab.report.charging import BASES, MEDIUMS, TOTAL, ChargingTable, charging_table
from fieldlab.web.charts import Chart, category_bars, time_histogram


@dataclass(frozen=True)
class Progress:
    exhibit_id: int
    ref: str
    files: int
    files_read: int
    media: int
    media_decoded: int
    errors: int
    hit_items: int
    near_items: int
    walk_complete: bool
    finished: bool

    @property
    def percent(self) -> int:
        return int(100 * self.files_read / self.files) if self.files else (100 if self.finished else 0)

    @property
    def status(self) -> str:
        if self.finished:
            return "scan finished"
        if not self.walk_complete:
            return "listing files"
        return "reading files" if self.files_read < self.files else "decoding pictures and videos"


@dataclass(frozen=True)
class ExhibitPanel:
    progress: Progress
    counts: ExhibitCounts
    charging: list[tuple[str, str, dict[str, int]]]  # (basis, medium, images per category)
    recent_errors: list[tuple[str, str, str, str]]  # (kind label, stage, path, message), newest first


@dataclass(frozen=True)
class Dashboard:
    panels: list[ExhibitPanel]
    categories: tuple[str, ...]
    totals: list[tuple[str, str, dict[str, int]]]
    not_indecent: int
    category_chart: Chart
    time_chart: Chart


def progress(store: CaseStore) -> list[Progress]:
    ids = {e.ref: e.id for e in store.exhibits()}
    return [Progress(ids[c.ref], c.ref, c.files, c.files_read, c.media, c.media_decoded, c.errors, c.hit_items,
                     c.near_items, c.walk_complete, c.finished) for c in exhibit_counts(store)]


def dashboard(store: CaseStore, profile: str) -> Dashboard:
    counts = exhibit_counts(store)
    ids = {e.ref: e.id for e in store.exhibits()}
    table = charging_table(store, profile)
    panels = []
    for c in counts:
        exhibit_id = ids[c.ref]
        panels.append(ExhibitPanel(
            Progress(exhibit_id, c.ref, c.files, c.files_read, c.media, c.media_decoded, c.errors, c.hit_items,
                     c.near_items, c.walk_complete, c.finished),
            c, _charging_rows(table, c.ref), _recent_errors(store, exhibit_id),
        ))
    per_exhibit = []
    for c in counts:
        bars: dict[str, tuple[int, int]] = {}
        for category in table.categories:
            counted = sum(table.images(c.ref, basis, medium, category) for basis in BASES[:2] for medium in MEDIUMS)
            indicative = sum(table.images(c.ref, "indicative", medium, category) for medium in MEDIUMS)
            bars[category] = (counted, indicative)
        per_exhibit.append((c.ref, bars))
    return Dashboard(panels, table.categories, _charging_rows(table, TOTAL), table.not_indecent,
                     category_bars(per_exhibit, table.categories), time_histogram(media_mtimes(store), time.time()))


def _charging_rows(table: ChargingTable, scope: str) -> list[tuple[str, str, dict[str, int]]]:
    rows = []
    for basis in BASES:
        for medium in MEDIUMS:
            cells = {c: table.images(scope, basis, medium, c) for c in table.categories}
            if any(cells.values()):
                rows.append((basis, medium, cells))
    return rows


def _recent_errors(store: CaseStore, exhibit_id: int, limit: int = 10) -> list[tuple[str, str, str, str]]:
    newest = exhibit_problems(store, exhibit_id, limit=limit, newest_first=True)
    return [(p.kind.label, p.stage, p.path, p.message) for p in newest]


def exhibit_errors(store: CaseStore, exhibit_id: int, limit: int = 5000) -> list[tuple[str, str, str, str, float]]:
    """(kind label, stage, path, message, when) of an exhibit's problems, in the order recorded."""
    return [(p.kind.label, p.stage, p.path, p.message, p.at) for p in exhibit_problems(store, exhibit_id, limit=limit)]


