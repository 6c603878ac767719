"""The live verdict: what the examiner watches while a scan runs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from fieldlab.hashsets.profiles import ordered_categories
from fieldlab.problems import problems_summary
from fieldlab.triage.scan import ScanProgress


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} TB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def render_progress(p: ScanProgress) -> Table:
    rate = p.bytes_read_this_run / p.elapsed if p.elapsed > 0 else 0.0
    remaining = max(p.bytes_listed - p.bytes_read, 0)
    if p.walk_complete and rate > 0:
        eta = _duration(remaining / rate)
    else:
        eta = "listing…"
    total = max(p.bytes_listed, 1)
    stats = Table.grid(padding=(0, 2))
    stats.add_row(
        Text(f"exhibit {p.exhibit}", style="bold"),
        f"files {p.files_read:,}/{p.files_listed:,}{'' if p.walk_complete else '+'}",
        f"{_size(p.bytes_read)} of {_size(p.bytes_listed)}",
        f"{_size(rate)}/s",
        f"ETA {eta}",
    )
    # One line each, in a fixed order: an 80-column terminal never wraps one statement into the next.
    known = Text()
    if p.hit_items:
        known.append(f"KNOWN MATERIAL: {p.hit_items:,} item(s)  ", style="bold red")
        counts = "  ".join(f"{label}: {p.hits_by_category[label]:,}" for label in ordered_categories(p.hits_by_category))
        known.append(counts, style="red")
    else:
        known.append("no known material so far", style="green")
    near = Text()
    if p.near_by_category:
        near.append(f"near matches (indicative, to confirm): {sum(p.near_by_category.values()):,}  ", style="bold yellow")
        near.append("  ".join(f"{label}: {p.near_by_category[label]:,}" for label in ordered_categories(p.near_by_category)),
                    style="yellow")
    found = Text(f"media {p.media:,} (decoded {p.media_decoded:,})   known good {p.known_good:,}   "
                 f"elapsed {_duration(p.elapsed)}")
    problems = Text(f"problems: {problems_summary(p.problems)}", style="yellow" if p.errors else "")
    if p.hash_state == "checking":
        problems.append(f"   verifying image hash {100 * p.verify_done // max(p.verify_total, 1)}%")
    elif p.hash_state:
        problems.append(f"   image hash: {p.hash_state}", style="green" if p.hash_state == "verified" else "yellow")
    layout = Table.grid()
    layout.add_row(ProgressBar(total=total, completed=min(p.bytes_read, total), width=60))
    layout.add_row(stats)
    for line in (known, near, found, problems):
        if line:
            layout.add_row(line)
    return layout


class LiveDisplay:
    """A ScanObserver that redraws the terminal a few times a second."""

    def __init__(self, console: Console) -> None:
        self._live = Live(console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveDisplay:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    def update(self, progress: ScanProgress) -> None:
        self._live.update(render_progress(progress))
