"""`fieldlab user ...`: the accounts of a case's review app."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from fieldlab.cli.common import console, fail, open_case, password_lines

user_app = typer.Typer(help="Accounts of the review app (fieldlab serve), kept in the case.", no_args_is_help=True)



@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The examiner's name or collar number, as the audit trail should show it.")],
    case: Annotated[Path, typer.Option("--case", help="Case folder.")],
    role: Annotated[str, typer.Option(help="viewer (no pictures), examiner (review and categorise) or supervisor (also accounts).")] = "examiner",
    password_file: Annotated[Optional[Path], typer.Option(help="Read the password from this file's first line instead of asking.")] = None,
) -> None:
    """Add an account to a case's review app; the password is asked for (twice) unless --password-file is given.

    Example: [bold]fieldlab user add "DC 1234 Smith" --case ~/cases/op-ash --role examiner[/]
    """
    from fieldlab.web.accounts import ROLES, AccountError, add_user

    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}")
    if password_file is not None:
        lines = password_lines(password_file)
        if not lines:
            fail(f"the password file {password_file} is empty")
        password = lines[0]
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = open_case(case)
    try:
        user = add_user(store, name, role, password)
    except AccountError as exc:
        fail(str(exc))
    finally:
        store.close()
    console.print(f"Added {escape(user.name)} ({user.role})")


@user_app.command("list")
def user_list(case: Annotated[Path, typer.Option("--case", help="Case folder.")]) -> None:
    """List the accounts of a case's review app.

    Example: [bold]fieldlab user list --case ~/cases/op-ash[/]
    """
    from datetime import datetime, timezone
    from fieldlab.web.accounts import list_users

    store = open_case(case)
    try:
        found = list_users(store)
    finally:
        store.close()
    if not found:
        console.print("No accounts. Add one: fieldlab user add NAME --case CASE --role examiner")
        return
    table = Table(title="Review-app accounts")
    for column in ("Name", "Role", "State", "Created (UTC)"):
        table.add_column(column)
    for user in found:
        table.add_row(escape(user.name), user.role, "disabled" if user.disabled else "active",
                      datetime.fromtimestamp(user.created_at, timezone.utc).strftime("%Y-%m-%d %H:%M"))
    console.print(table)
