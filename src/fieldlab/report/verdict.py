"""The verdict table an examiner reads on the doorstep: per exhibit, files, media, hits per category, errors."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from rich.table import Table
from rich.text import Text

from fieldlab.case.queries import ExhibitCounts
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED
from fieldlab.problems import ProblemKind


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


def problems_summary(problems: Mapping[str, int]) -> str:
    """Recorded problems by kind, compactly: errors first, then what was not opened for depth, then what is normal.

    "2 damaged, 1 truncated · not opened: nesting limit 1 · 3 normal": a damaged file is never called changed,
    and a normal empty cache never reads as an error."""
    counts = {ProblemKind(kind): n for kind, n in problems.items() if n}
    errors = ", ".join(f"{counts[k]:,} {k.label}" for k in ProblemKind
                       if k in counts and k.is_error and k is not ProblemKind.NESTING)
    parts = [errors] if errors else []
    if ProblemKind.NESTING in counts:
        parts.append(f"{ProblemKind.NESTING.label} {counts[ProblemKind.NESTING]:,}")
    if ProblemKind.NORMAL in counts:
        parts.append(f"{counts[ProblemKind.NORMAL]:,} normal")
    return " · ".join(parts) or "none"


def deleted_summary(ex: ExhibitCounts) -> str:
    """Deleted user files, with how many are names alone; pseudo-entries of the file system are not among them."""
    return f"{ex.deleted:,}" + (f" ({ex.deleted_names_only:,} names only)" if ex.deleted_names_only else "")


def verdict_table(counts: Sequence[ExhibitCounts], title: str = "Verdict", details: str | None = None) -> Table:
    """``details``: where the examiner finds each problem (the ``fieldlab errors`` command for this case), said
    under the table when any exhibit has one."""
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
    table.add_column("Problems")
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
            deleted_summary(ex),
            f"{ex.extension_mismatches:,}",
            Text(problems_summary(ex.problems), style="yellow" if ex.errors else ""),
            *([Text(ex.hash_state or "-", style=_HASH_STYLES.get(ex.hash_state or "", "yellow"))] if show_hash else []),
        )
    if details and any(ex.problems for ex in counts):
        table.caption = f"Each problem, by kind: {details}"
        table.caption_justify = "left"
    return table


def _near_summary(ex: ExhibitCounts) -> str:
    parts = ", ".join(f"{label} {ex.near_by_category[label]:,}" for label in ordered_categories(ex.near_by_category))
    return f"{ex.near_items:,}" + (f" ({parts})" if parts else "")


def summary_json(ex: ExhibitCounts) -> dict:
    """One exhibit's verdict counts for ``fieldlab summary --json``: problems by kind, deleted files apart from
    names only and from the file system's pseudo-entries."""
    return {
        "exhibit": ex.ref, "source": ex.source, "walk_complete": ex.walk_complete, "finished": ex.finished,
        "files": ex.files, "files_read": ex.files_read, "bytes": ex.bytes, "bytes_read": ex.bytes_read,
        "media": ex.media, "media_decoded": ex.media_decoded, "known_items": ex.hit_items,
        "hits_by_category": dict(ex.hits_by_category), "near_items": ex.near_items,
        "near_by_category": dict(ex.near_by_category), "known_good": ex.known_good,
        "deleted": ex.deleted, "deleted_names_only": ex.deleted_names_only, "pseudo_entries": ex.pseudo_entries,
        "extension_mismatches": ex.extension_mismatches, "errors": ex.errors,
        "problems": {kind.value: ex.problems[kind.value] for kind in ProblemKind if ex.problems.get(kind.value)},
        "image_hash": ex.hash_state,
    }
