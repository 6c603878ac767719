"""The verdict table an examiner reads on the doorstep: per exhibit, files, media, hits per category, errors."""

from __future__ import annotations

from typing import Iterable, Sequence

from rich.table import Table
from rich.text import Text

from fieldlab.case.queries import ExhibitCounts
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED


def category_columns(counts: Sequence[ExhibitCounts]) -> list[str]:
    return ordered_categories({c for ex in counts for c in ex.hits_by_category})


def ordered_categories(present: Iterable[str]) -> list[str]:
    """Categories in the order of their profile (most serious first), UK before US, only those present."""
    present = set(present)
    ordered = [label for profile in PROFILES.values() for label in profile.labels]
    columns = [label for label in dict.fromkeys(ordered) if label in present and label != UNCATEGORISED]
    if UNCATEGORISED in present:
        columns.append(UNCATEGORISED)
    return columns + sorted(present - set(columns))


_HASH_STYLES = {"verified": "green", "mismatch": "bold red", "unreadable": "bold red"}


def verdict_table(counts: Sequence[ExhibitCounts], title: str = "Verdict") -> Table:
    columns = category_columns(counts)
    table = Table(title=title, title_justify="left")
    table.add_column("Exhibit")
    table.add_column("Status")
    table.add_column("Files", justify="right")
    table.add_column("Media (decoded)", justify="right")
    table.add_column("Known items", justify="right")
    for label in columns:
        table.add_column(f"Cat {label}" if len(label) <= 2 else label, justify="right")
    show_near = any(ex.near_items for ex in counts)
    if show_near:  # kept apart: a near match is indicative until an examiner confirms it
        table.add_column("Near matches", justify="right")
    table.add_column("Known good", justify="right")
    table.add_column("Deleted", justify="right")
    table.add_column("Ext. lies", justify="right")
    table.add_column("Errors", justify="right")
    show_hash = any(ex.hash_state for ex in counts)
    if show_hash:
        table.add_column("Image hash")
    for ex in counts:
        status = "complete" if ex.finished else ("reading" if ex.walk_complete else "incomplete")
        known = Text(str(ex.hit_items), style="bold red" if ex.hit_items else "green")
        table.add_row(
            Text(ex.ref),
            status,
            f"{ex.files_read:,}/{ex.files:,}",
            f"{ex.media:,} ({ex.media_decoded:,})",
            known,
            *(f"{ex.hits_by_category.get(label, 0):,}" for label in columns),
            *([Text(_near_summary(ex), style="yellow" if ex.near_items else "")] if show_near else []),
            f"{ex.known_good:,}",
            f"{ex.deleted:,}",
            f"{ex.extension_mismatches:,}",
            Text(f"{ex.errors:,}", style="yellow" if ex.errors else ""),
            *([Text(ex.hash_state or "-", style=_HASH_STYLES.get(ex.hash_state or "", "yellow"))] if show_hash else []),
        )
    return table


def _near_summary(ex: ExhibitCounts) -> str:
    parts = ", ".join(f"{label} {ex.near_by_category[label]:,}" for label in ordered_categories(ex.near_by_category))
    return f"{ex.near_items:,}" + (f" ({parts})" if parts else "")
