"""The ``fieldlab`` command: a thin layer over the library, worded for an examiner at 6 a.m. on a doorstep.

One module per command group (``hashsets``, ``case``, ``audit``, ``users``, ``serve``; operations in
``fieldlab.ops.cli``), each importing only typer and rich at the top and the library inside each command, so
``fieldlab --help`` answers without loading SQLAlchemy, the evidence libraries or NumPy.

One shape everywhere: the case folder is the first argument of every command about a case, and every group
has ``list``/``show``/``add``/``remove`` verbs where they make sense (older spellings stay as hidden aliases)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from fieldlab import __version__
from fieldlab.cli.audit import audit_app
from fieldlab.cli.case import case_app
from fieldlab.cli.hashsets import hashset_app
from fieldlab.cli.help import HumanGroup
from fieldlab.cli.serve import serve_app
from fieldlab.cli.users import user_app
from fieldlab.ops.cli import db_app, ops_app

app = typer.Typer(
    cls=HumanGroup,
    help="Read-only triage of seized devices for known indecent images of children.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"fieldlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_print_version, is_eager=True,
                                                    help="Print fieldlab's version and stop.")] = None,
) -> None:
    """Read-only triage of seized devices for known indecent images of children."""


app.add_typer(case_app)
app.add_typer(serve_app)
app.add_typer(hashset_app, name="hashset")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")
app.add_typer(ops_app, name="ops")
