"""`fieldlab user ...`: the accounts of a case's review app, the case first like every case command.

``user add NAME --case CASE`` and ``user list --case CASE`` (the first spellings) still work: ``--case`` is a
hidden option that, when given, makes the one positional argument the name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from fieldlab.cli.common import CaseArgument, console, fail, open_case, password_lines

user_app = typer.Typer(help="Accounts of the review app (fieldlab serve), kept in the case.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="The account's name, as `fieldlab user list CASE` shows it.")]
OldCaseOption = Annotated[Optional[Path], typer.Option("--case", hidden=True, help="Case folder (older spelling).")]
PasswordFile = Annotated[Optional[Path], typer.Option(help="Read the password from this file's first line instead of asking.")]


def ask_password(password_file: Path | None) -> str:
    """The password from the file, or asked for: its rules are said in the prompt and checked before it is
    typed again, so a short one is not learned about only after typing it twice."""
    from fieldlab.web.accounts import MIN_PASSWORD, AccountError, check_password

    if password_file is not None:
        lines = password_lines(password_file)
        if not lines:
            fail(f"the password file {password_file} is empty")
        return lines[0]
    for _attempt in range(3):
        password = typer.prompt(f"Password (at least {MIN_PASSWORD} characters)", hide_input=True)
        try:
            check_password(password)
        except AccountError as exc:
            console.print(f"[yellow]{escape(str(exc))}[/]")
            continue
        if typer.prompt("The same password again", hide_input=True) != password:
            fail("the two passwords differ: nothing was changed")
        return password
    fail(f"no password of at least {MIN_PASSWORD} characters given: nothing was changed")


def _case_and_name(first: Path, second: str | None, old_case: Path | None) -> tuple[Path, str]:
    if old_case is not None and second is None:
        return old_case, str(first)
    if second is None:
        fail("give the case folder, then the account's name: fieldlab user add CASE NAME")
    if old_case is not None:
        fail("give the case folder once: fieldlab user add CASE NAME")
    return first, second


@user_app.command("add")
def user_add(
    case: CaseArgument,
    name: Annotated[Optional[str], typer.Argument(help="The examiner's name or collar number, as the audit trail should show it.", show_default=False)] = None,
    role: Annotated[str, typer.Option(help="viewer (no pictures), examiner (review and categorise) or supervisor (also accounts).")] = "examiner",
    password_file: PasswordFile = None,
    old_case: OldCaseOption = None,
) -> None:
    """Add an account to a case's review app; the password is asked for (twice) unless --password-file is given.

    Example: [bold]fieldlab user add ~/cases/op-ash "DC 1234 Smith" --role examiner[/]
    """
    from fieldlab.web.accounts import ROLES, add_user

    case, name = _case_and_name(case, name, old_case)
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}")
    password = ask_password(password_file)
    store = open_case(case)
    try:
        user = add_user(store, name, role, password=password)
    finally:
        store.close()
    console.print(f"Added {escape(user.name)} ({user.role})")


@user_app.command("list")
def user_list(
    case: Annotated[Optional[Path], typer.Argument(help="Case folder.", show_default=False)] = None,
    old_case: OldCaseOption = None,
) -> None:
    """List the accounts of a case's review app.

    Example: [bold]fieldlab user list ~/cases/op-ash[/]
    """
    from datetime import datetime, timezone

    from fieldlab.web.accounts import list_users

    chosen = case or old_case
    if chosen is None or (case is not None and old_case is not None):
        fail("give the case folder: fieldlab user list CASE")
    store = open_case(chosen)
    try:
        found = list_users(store)
    finally:
        store.close()
    if not found:
        console.print("No accounts. Add one: fieldlab user add CASE NAME --role examiner")
        return
    table = Table(title="Review-app accounts")
    for column in ("Name", "Role", "State", "Created (UTC)"):
        table.add_column(column)
    for user in found:
        table.add_row(escape(user.name), user.role, "disabled" if user.disabled else "active",
                      datetime.fromtimestamp(user.created_at, timezone.utc).strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@user_app.command("password")
def user_password(case: CaseArgument, name: NameArgument, password_file: PasswordFile = None) -> None:
    """Set a new password for an account (forgotten, or shared by mistake); its open sessions end.

    Example: [bold]fieldlab user password ~/cases/op-ash "DC 1234 Smith"[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.web.accounts import set_password, user_named

    store = open_case(case)
    try:
        user_named(store, name)  # an unknown name is said before the password is asked for
        user = set_password(store, name, ask_password(password_file), actor=current_actor())
    finally:
        store.close()
    console.print(f"New password set for {escape(user.name)}; their open sessions ended")


def _set_disabled(case: Path, name: str, disabled: bool) -> None:
    from fieldlab.case.audit import current_actor
    from fieldlab.web.accounts import set_disabled, user_named

    store = open_case(case)
    try:
        user = set_disabled(store, user_named(store, name).id, disabled=disabled, actor=current_actor())
    finally:
        store.close()
    console.print(f"{escape(user.name)} is {'disabled: they cannot log in, their sessions ended' if disabled else 'enabled'}")


@user_app.command("disable")
def user_disable(case: CaseArgument, name: NameArgument) -> None:
    """Stop an account logging in (it stays in the audit trail and exposure log); open sessions end.

    Example: [bold]fieldlab user disable ~/cases/op-ash "DC 1234 Smith"[/]
    """
    _set_disabled(case, name, True)


@user_app.command("enable")
def user_enable(case: CaseArgument, name: NameArgument) -> None:
    """Let a disabled account log in again.

    Example: [bold]fieldlab user enable ~/cases/op-ash "DC 1234 Smith"[/]
    """
    _set_disabled(case, name, False)


@user_app.command("remove")
def user_remove(case: CaseArgument, name: NameArgument) -> None:
    """Remove an account that never viewed a picture (one that did can only be disabled: the exposure log keeps it).

    Example: [bold]fieldlab user remove ~/cases/op-ash "DC 1234 Smith"[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.web.accounts import remove_user

    store = open_case(case)
    try:
        user = remove_user(store, name, current_actor())
    finally:
        store.close()
    console.print(f"Removed {escape(user.name)} ({user.role})")

