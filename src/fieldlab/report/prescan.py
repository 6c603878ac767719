"""The pre-scan's result as rich tables: what was sampled, what matched, and the verdict with its statement."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from fieldlab.triage.prescan import PrescanResult

MATCHES_SHOWN = 50


def prescan_summary_table(result: PrescanResult) -> Table:
    table = Table(show_header=False, title=f"Pre-scan: {escape(result.source)}", title_justify="left")
    size_gb = result.media_size / 1e9
    rows = [
        ("Media", f"{size_gb:,.2f} GB ({result.population:,} windows of 4 KiB sampled from)"),
        ("Blocks read", f"{result.blocks_read:,} ({100 * result.fraction:.4g}% of the windows), "
                        f"{result.zero_blocks:,} of them all zeros"
                        + (f", {result.unreadable_blocks:,} unreadable (left out of the statement)"
                           if result.unreadable_blocks else "")),
        ("Elapsed", f"{result.elapsed:,.2f} s" + (f", first match after {result.first_match_seconds:,.2f} s"
                                                  if result.first_match_seconds is not None else "")),
        ("Stopped", result.stopped),
        ("Block-hash sets", ", ".join(escape(n) for n in result.block_sets)
         + f" (kept fraction {100 * result.statement.kept_fraction:.1f}%)"),
        ("Seed", f"{result.seed} (--seed repeats this sample)"),
    ]
    for gap in result.not_sampled:
        rows.append(("Not sampled", f"{escape(gap.reason)}: {gap.length / 1e9:,.2f} GB at offset {gap.offset:,}"))
    for label, value in rows:
        table.add_row(label, value)
    return table


def prescan_matches_table(result: PrescanResult) -> Table:
    table = Table(title=f"Matching blocks ({len(result.matches):,})", title_justify="left")
    for column in ("Disk offset", "Set", "Known file", "Category", "Block"):
        table.add_column(column, justify="right" if column in ("Disk offset", "Block") else "left")
    for match in result.matches[:MATCHES_SHOWN]:
        table.add_row(f"{match.offset:,}", escape(match.hash_set), escape(match.file_name), match.category,
                      str(match.block_index))
    if len(result.matches) > MATCHES_SHOWN:
        table.caption = f"first {MATCHES_SHOWN} shown; --json lists them all"
    return table


def prescan_verdict(result: PrescanResult) -> str:
    """One line in rich markup: red when known material was found, else the statement."""
    if result.known_material_found:
        return f"[bold red]Verdict: {escape(result.verdict)}[/]"
    return f"[bold]Verdict:[/] {escape(result.verdict)}"
