"""`fieldlab audit ...`: check or list a case's tamper-evident audit trail."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from fieldlab.cli.common import CaseArgument, console, fail, open_case

audit_app = typer.Typer(help="Check or list a case's tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(case: CaseArgument) -> None:
    """Check that no audit entry was altered, removed or inserted.

    Example: [bold]fieldlab audit verify ~/cases/op-ash[/]
    """
    from fieldlab import api

    result = api.verify_audit(case)
    if result.ok:
        console.print(f"[green]Audit trail intact:[/] {result.entries} entries, chain and head verified.")
    else:
        fail(f"audit trail TAMPERED: {result.problem}", code=1)


@audit_app.command("list")
@audit_app.command("show", hidden=True)  # the first spelling
def audit_list(
    case: CaseArgument,
    action: Annotated[Optional[str], typer.Option(help="Only entries of this action (scan_started, items_categorised...).")] = None,
) -> None:
    """List the audit trail readably: number, time (UTC), who, what, and the details.

    Example: [bold]fieldlab audit list ~/cases/op-ash --action items_categorised[/]
    """
    import json as json_module

    store = open_case(case)
    try:
        entries = store.audit.entries()
    finally:
        store.close()
    table = Table(title=f"Audit trail: {escape(str(case))}", title_justify="left")
    for column in ("#", "When (UTC)", "Who", "Action", "Details", "Hash"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        if action and entry.action != action:
            continue
        details = json_module.dumps(entry.detail, sort_keys=True, ensure_ascii=False)
        table.add_row(str(entry.seq), entry.at, escape(entry.actor), entry.action, escape(details),
                      entry.entry_hash[:16])
    console.print(table)
