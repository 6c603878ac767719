"""The verdict table an examiner reads on the doorstep: per exhibit, files, media, hits per category, errors."""

from __future__ import annotations

from typing import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from fieldlab.case.read_rows import ExhibitCounts
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED, ordered_categories
from fieldlab.problems import ProblemKind, problems_summary

_HASH_STYLES = {"verified": "green", "mismatch": "bold red", "unreadable": "bold red"}


def deleted_summary(ex: ExhibitCounts) -> str:
    """Deleted user files, with how many are names alone; pseudo-entries of the file system are not among them."""
    return f"{ex.deleted:,}" + (f" ({ex.deleted_names_only:,} names only)" if ex.deleted_names_only else "")


def cloud_only_note(ex: ExhibitCounts) -> str | None:
    """What an examiner must know of an exhibit's cloud placeholders: they are listed but their content (for a
    production order to the provider) is not on the disk, so nothing about them was hashed or matched."""
    if not ex.cloud_only:
        return None
    files = "1 file is a cloud-only placeholder" if ex.cloud_only == 1 else \
        f"{ex.cloud_only:,} files are cloud-only placeholders"
    return f"{files}: names listed, content not on this disk (held by the cloud provider)"


def shown_categories(counts: Sequence[ExhibitCounts]) -> list[str]:
    """The category rows: the UK indecent categories and uncategorised always, so the layout is the same from
    scan to scan; any other label (a US profile, non-indecent) only when some exhibit has it."""
    always = [label for label in PROFILES["uk"].labels if label in PROFILES["uk"].indecent] + [UNCATEGORISED]
    present = {c for ex in counts for c in ex.hits_by_category}
    return ordered_categories(set(always) | present)


def _category_label(label: str) -> str:
    return f"  Cat {label}" if len(label) <= 2 else f"  {label}"


def _exhibit_cells(ex: ExhibitCounts, categories: Sequence[str]) -> list[Text]:
    status = "complete" if ex.finished else ("reading" if ex.walk_complete else "incomplete")
    return [
        Text(status, style="" if ex.finished else "yellow"),
        Text(f"{ex.files_read:,}/{ex.files:,}"),
        Text(f"{ex.media:,} ({ex.media_decoded:,})"),
        Text(f"{ex.hit_items:,}", style="bold red" if ex.hit_items else "green"),
        *(Text(f"{ex.hits_by_category.get(label, 0):,}", style="red" if ex.hits_by_category.get(label) else "")
          for label in categories),
        Text(_near_summary(ex), style="yellow" if ex.near_items else ""),
        Text(f"{ex.known_good:,}"),
        Text(deleted_summary(ex)),
        Text(f"{ex.extension_mismatches:,}"),
        Text(problems_summary(ex.problems), style="yellow" if ex.errors else ""),
        Text(ex.hash_state or "-", style=_HASH_STYLES.get(ex.hash_state or "", "yellow") if ex.hash_state else ""),
    ]


_MEASURES_BEFORE = ("Status", "Files read", "Media (decoded)", "Known items")
_MEASURES_AFTER = ("Near (to confirm)", "Known good", "Deleted", "Extension lies", "Problems", "Image hash")
_MIN_COLUMN, _MAX_COLUMN, _WIDEST_COLUMN = 10, 28, 72  # an exhibit's column: 28 when exhibits compete for room,
# up to 72 when there is room to spare; longer text (a long problems line) wraps at words


class VerdictTable:
    """The verdict, one column per exhibit and one row per measure: the rows never change from scan to scan, and
    the exhibits are laid side by side as far as the terminal allows (80 columns: one or two; wider: more), the
    rest in further tables below.  A rich renderable, as the width is known only when it is drawn."""

    def __init__(self, counts: Sequence[ExhibitCounts], title: str, details: str | None) -> None:
        self.counts = list(counts)
        self.title = title
        self.details = details
        self.categories = shown_categories(self.counts)
        self.measures = [*_MEASURES_BEFORE, *map(_category_label, self.categories), *_MEASURES_AFTER]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.counts:
            yield Text(f"{self.title}: no exhibit scanned yet.")
            return
        cells = [_exhibit_cells(ex, self.categories) for ex in self.counts]
        label_width = max(len(m) for m in self.measures)
        natural = [min(max(_MIN_COLUMN, len(ex.ref), *(c.cell_len for c in column)), _WIDEST_COLUMN)
                   for ex, column in zip(self.counts, cells)]
        chunks: list[list[int]] = [[]]
        used = label_width + 4  # the label column's borders and padding
        for index, width in enumerate(natural):
            width = min(width, _MAX_COLUMN)
            if chunks[-1] and used + width + 3 > options.max_width:
                chunks.append([])
                used = label_width + 4
            chunks[-1].append(index)
            used += width + 3
        # the title on a line of its own: as a table's title it would wrap to the table's width, and one narrow
        # exhibit column would break the case's path mid-name
        yield Text(self.title, style="italic", overflow="fold")
        for chunk in chunks:
            widths = {index: min(natural[index], _MAX_COLUMN) for index in chunk}
            room = options.max_width - label_width - 4 - sum(w + 3 for w in widths.values())
            for index in chunk:  # a wider terminal unwraps the long values (problems) first
                extra = max(0, min(natural[index] - widths[index], room))
                widths[index] += extra
                room -= extra
            table = Table()
            table.add_column("Exhibit", no_wrap=True, style="bold")
            for index in chunk:
                table.add_column(Text(self.counts[index].ref), min_width=widths[index], max_width=widths[index])
            for row, measure in enumerate(self.measures):
                table.add_row(measure, *(cells[index][row] for index in chunk))
            yield table
        for ex in self.counts:
            if note := cloud_only_note(ex):
                yield Text(f"{ex.ref}: {note}.", overflow="fold")
        if self.details and any(ex.problems for ex in self.counts):  # under all the tables, never wrapped into one
            yield Text.from_markup(f"Each problem, by kind: {self.details}")


def verdict_table(counts: Sequence[ExhibitCounts], title: str = "Verdict", details: str | None = None) -> VerdictTable:
    """``details``: where the examiner finds each problem (the ``fieldlab errors`` command for this case), said
    under the table when any exhibit has one."""
    return VerdictTable(counts, title, details)


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
        "cloud_only": ex.cloud_only,
        "extension_mismatches": ex.extension_mismatches, "errors": ex.errors,
        "problems": {kind.value: ex.problems[kind.value] for kind in ProblemKind if ex.problems.get(kind.value)},
        "image_hash": ex.hash_state,
    }
