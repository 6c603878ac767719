"""What every command group shares: the two consoles, one way to fail, opening a case, reading password files.

Only typer and rich are imported here: a command imports the library modules it calls inside its own body, so
``fieldlab --help`` never pays for SQLAlchemy, the evidence libraries or NumPy (issue 17)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterable, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

from fieldlab.hashsets.profiles import PROFILES  # plain data: cheap to import

if TYPE_CHECKING:
    from fieldlab.case.read_rows import Exhibit
    from fieldlab.case.store import CaseStore

# Piped output is 160 columns wide (a log file is not a terminal), unless COLUMNS says otherwise.
console = Console(width=None if Console().is_terminal or "COLUMNS" in os.environ else 160)
errors = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="FIELDLAB_HOME", help="Hash-set library folder (default: per-user data folder)."),
]
ProfileOption = Annotated[str, typer.Option(help=f"Category profile: {', '.join(PROFILES)}.")]
CaseArgument = Annotated[Path, typer.Argument(help="Case folder.")]


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def open_case(case: Path) -> CaseStore:
    from fieldlab.case.store import CaseStore

    return CaseStore.open(case, create=False)


def refuse_output(exhibits: Iterable[Exhibit], output: Path) -> None:
    """An output file named by the examiner never lands inside or beside the evidence of the case's exhibits."""
    from fieldlab.case.outputs import refuse_case_evidence

    refuse_case_evidence(exhibits, output, "the output")


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        fail(f"--profile must be one of {', '.join(PROFILES)}")


def shown(text: str) -> str:
    """Stored text (paths are stored escaped, messages may quote hostile names) made safe for a terminal again."""
    from fieldlab.locator import display_bytes

    return display_bytes(text.encode("utf-8", "backslashreplace"))


def errors_hint(case: Path) -> str:
    return f"fieldlab errors {escape(str(case))}"


def password_lines(path: Path) -> list[str]:
    """One password a line, exactly as typed: only the line ending is removed (spaces may be part of one)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        fail(f"cannot read the password file {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"the password file {path} is not UTF-8 text: save it as UTF-8 and run the command again")
    return [line for line in text.splitlines() if line]
