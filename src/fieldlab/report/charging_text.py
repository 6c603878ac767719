"""The charging table on the terminal: what an examiner reads out to the officer in charge before any report
is printed.  One table per basis, never summed across bases; the total first, then each exhibit."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from fieldlab.report.charging import BASES, TOTAL, ChargingTable

_BASIS_TITLES = {"hash set": "matched to a hash set's category", "examiner": "categorised by an examiner in this case",
                 "indicative": "indicative only (near match or unconfirmed thumbnail): not for counting"}


def charging_tables(table: ChargingTable) -> list[Table]:
    tables = []
    for basis in BASES:
        rows = [r for r in table.rows if r.basis == basis]
        if not rows:
            continue
        shown = Table(title=f"{basis.capitalize()}: {_BASIS_TITLES[basis]}", title_justify="left")
        shown.add_column("Exhibit")
        shown.add_column("Medium")
        for category in table.categories:
            shown.add_column(category, justify="right")
        shown.add_column("of which live / deleted or carved only / thumbnail only", justify="right")
        for scope in (TOTAL, *table.exhibits):
            for medium in ("still", "movie", "other"):
                cells = [table.cell(scope, basis, medium, c) for c in table.categories]
                if not any(cells):
                    continue
                counts = [f"{c.images:,} ({c.copies:,})" if c else "0" for c in cells]
                live = sum(c.live for c in cells if c)
                gone = sum(c.deleted_or_carved_only for c in cells if c)
                thumbnails = sum(c.thumbnail_only for c in cells if c)
                shown.add_row(f"[bold]{escape(scope)}[/]" if scope == TOTAL else escape(scope), medium, *counts,
                              f"{live:,} / {gone:,} / {thumbnails:,}")
        tables.append(shown)
    return tables
