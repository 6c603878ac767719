"""`fieldlab serve`: the review app of a case, or the operations app."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from fieldlab.cli.common import HomeOption, check_profile, console, errors, fail, open_case

if TYPE_CHECKING:
    from fieldlab.web.server import Listening

serve_app = typer.Typer()


@serve_app.command("serve")
def serve(
    case: Annotated[Optional[Path], typer.Argument(help="Case folder to review (or --database/--ops-dir for operations).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on: 127.0.0.1 keeps the app on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    profile: Annotated[str, typer.Option(help="Category profile of the keyboard and the counts: uk or us.")] = "uk",
    tls_cert: Annotated[Optional[Path], typer.Option(help="TLS certificate (PEM), to serve https to a team.")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="The certificate's private key (PEM).")] = None,
    database: Annotated[Optional[str], typer.Option(help="Serve operations from this database: postgresql://... (a team) or sqlite:///...")] = None,
    ops_dir: Annotated[Optional[Path], typer.Option(help="Serve operations from the SQLite database in this folder (one examiner).")] = None,
    cases_root: Annotated[Optional[Path], typer.Option(help="Operations: folder of triage cases seized devices may be linked to.")] = None,
    home: HomeOption = None,
) -> None:
    """Serve the review app for a case (dashboard, gallery, item pages, exposure log), or the operations app.

    Example: [bold]fieldlab serve ~/cases/op-ash[/]   then open http://127.0.0.1:8765
    Operations: [bold]fieldlab serve --database postgresql://fieldlab@db/ops --host 10.0.0.5 --tls-cert c.pem --tls-key k.pem[/]
    """
    from fieldlab.web.server import Listening, is_loopback
    from fieldlab.web.server import serve as run

    check_profile(profile)
    if (tls_cert is None) != (tls_key is None):
        fail("give both --tls-cert and --tls-key, or neither")
    listening = Listening(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key)
    if database is not None or ops_dir is not None:
        if case is not None:
            fail("serve a case folder or an operations database, not both: run two servers on two ports")
        return _serve_operations(database, ops_dir, listening=listening, profile=profile, cases_root=cases_root,
                                 home=home)
    if case is None:
        fail("give a case folder to review, or --database/--ops-dir to serve operations")
    from fieldlab.web.accounts import list_users

    store = open_case(case)
    try:
        if not list_users(store):
            errors.print("[yellow]No accounts yet: add one first, e.g.[/] "
                         f"fieldlab user add {escape(str(case))} NAME --role examiner")
    finally:
        store.close()
    if not is_loopback(host):
        errors.print(
            f"[bold red]WARNING: serving on {escape(host)}, reachable from the network.[/] Anyone who can reach "
            "this address can try to log in to a case of indecent images. Use it only on a closed police network"
            + ("." if tls_cert else "; without --tls-cert/--tls-key traffic is unencrypted and browsers will not "
               "keep the (Secure) session cookie, so logging in will fail.")
        )
    console.print(f"Review app for {escape(str(case))} at {escape(listening.url)}  (Ctrl-C stops it)")
    run(case, listening=listening, profile=profile)


def _serve_operations(database: str | None, ops_dir: Path | None, *, listening: Listening, profile: str,
                      cases_root: Path | None, home: Path | None) -> None:
    from fieldlab.ops.database import OpsDatabase, locate
    from fieldlab.web.accounts import list_users
    from fieldlab.web.server import is_loopback, serve_operations

    location = locate(database, ops_dir)
    db = OpsDatabase.open(location)
    try:
        if not list_users(db):
            errors.print("[yellow]No accounts yet: add one first, e.g.[/] fieldlab ops user add NAME "
                          f"{'--ops-dir ' + escape(str(ops_dir)) if ops_dir else '--database URL'} --role supervisor")
    finally:
        db.close()
    if not is_loopback(listening.host):
        errors.print(f"[bold red]WARNING: serving operations on {escape(listening.host)}, reachable from the network.[/] "
                     "Use it only on a closed police network" + ("." if listening.tls_cert else
                                                                 "; without --tls-cert/--tls-key logging in will fail."))
    console.print(f"Operations app for {escape(location.shown)} at {escape(listening.url)}  "
                  f"(public figures at /public; Ctrl-C stops it)")
    serve_operations(location, listening=listening, profile=profile, cases_root=cases_root, home=home)
