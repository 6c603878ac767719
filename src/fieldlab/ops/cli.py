"""``fieldlab db`` and ``fieldlab ops``: the operations database from the command line (a thin layer over
``fieldlab.ops``).  Every command names its database with ``--database URL`` (a team's PostgreSQL) or
``--ops-dir FOLDER`` (SQLite for one examiner), or the environment variables FIELDLAB_OPS_DATABASE / FIELDLAB_OPS_DIR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fieldlab.cli.common import fail

if TYPE_CHECKING:
    from fieldlab.ops.database import OpsDatabase


db_app = typer.Typer(help="The operations database's schema (Alembic migrations).", no_args_is_help=True)
ops_app = typer.Typer(help="Operations: intelligence import, targets, warrant drafts, lifecycle.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts of the operations app, kept in the operations database.", no_args_is_help=True)
ops_app.add_typer(user_app, name="user")

console = Console(width=None if Console().is_terminal else 160)

Database = Annotated[Optional[str], typer.Option("--database", envvar="FIELDLAB_OPS_DATABASE",
                                                 help="postgresql://user@host/db or sqlite:///path/ops.sqlite")]
OpsDir = Annotated[Optional[Path], typer.Option("--ops-dir", envvar="FIELDLAB_OPS_DIR",
                                                help="Folder of a one-examiner SQLite operations database.")]
Home = Annotated[Optional[Path], typer.Option("--home", envvar="FIELDLAB_HOME", help="Hash-set library folder.")]


def _open(database: str | None, ops_dir: Path | None) -> OpsDatabase:
    from fieldlab.ops.database import OpsDatabase, OpsError, locate

    try:
        return OpsDatabase.open(locate(database, ops_dir))
    except OpsError as exc:
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade(database: Database = None, ops_dir: OpsDir = None) -> None:
    """Create or migrate the operations database to this fieldlab's schema.

    Example: [bold]fieldlab db upgrade --database postgresql://fieldlab@db.force.local/ops[/]
    """
    from fieldlab.ops.database import OpsError, locate, plain, upgrade

    try:
        location = locate(database, ops_dir)
        before, after = upgrade(location)
    except OpsError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a driver's connection error, said plainly
        fail(f"cannot upgrade {locate(database, ops_dir).shown}: {plain(exc)}")
    console.print(f"{escape(location.shown)}: " + (f"already at revision {after}" if before == after
                                                    else f"revision {before or '(empty)'} -> {after}"))


@user_app.command("add")
def user_add(name: Annotated[str, typer.Argument(help="The officer's name or collar number.")],
             role: Annotated[str, typer.Option(help="viewer, intelligence, examiner or supervisor.")] = "intelligence",
             password_file: Annotated[Optional[Path], typer.Option(help="Read the password from this file's first line.")] = None,
             database: Database = None, ops_dir: OpsDir = None) -> None:
    """Add an account to the operations app; the password is asked for (twice) unless --password-file is given.

    Example: [bold]fieldlab ops user add "DC 1234 Smith" --ops-dir ~/ops --role intelligence[/]
    """
    from fieldlab.cli.users import ask_password
    from fieldlab.web.accounts import OPS_ROLES, AccountError, add_user

    if role not in OPS_ROLES:
        fail(f"--role must be one of {', '.join(OPS_ROLES)}")
    password = ask_password(password_file)
    db = _open(database, ops_dir)
    try:
        user = add_user(db, name, role, password=password, roles=OPS_ROLES)
    except AccountError as exc:
        fail(str(exc))
    finally:
        db.close()
    console.print(f"Added {escape(user.name)} ({user.role})")


@user_app.command("list")
def user_list(database: Database = None, ops_dir: OpsDir = None) -> None:
    """List the accounts of the operations app.

    Example: [bold]fieldlab ops user list --ops-dir ~/ops[/]
    """
    from fieldlab.web.accounts import list_users

    db = _open(database, ops_dir)
    try:
        found = list_users(db)
    finally:
        db.close()
    table = Table(title="Operations accounts")
    for column in ("Name", "Role", "State"):
        table.add_column(column)
    for user in found:
        table.add_row(escape(user.name), user.role, "disabled" if user.disabled else "active")
    console.print(table)


@ops_app.command("areas")
def areas(files: Annotated[list[Path], typer.Argument(help="GeoLite2 Blocks-IPv4/IPv6 + Locations CSV files (or their folder), or cidr,area CSV files.")],
          level: Annotated[str, typer.Option(help="GeoLite2 areas named down to: country, subdivision_1, subdivision_2, city or postal.")] = "subdivision_2",
          database: Database = None, ops_dir: OpsDir = None) -> None:
    """Import IP-range area data (replacing the current data) and place every sighting again.

    Example: [bold]fieldlab ops areas GeoLite2-City-CSV_20240503/ --level subdivision_2 --ops-dir ~/ops[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.ops.areas import AreaError, import_areas

    db = _open(database, ops_dir)
    try:
        report = import_areas(db, files, level=level, actor=current_actor())
    except (AreaError, OSError) as exc:
        fail(str(exc))
    finally:
        db.close()
    console.print(f"Area data ({report.format}): {report.networks:,} networks, {report.ranges:,} ranges, "
                  f"{report.areas:,} areas")
    for problem in report.problems[:10]:
        console.print(f"[yellow]  {escape(problem.file)} line {problem.line}: {escape(problem.message)}[/]")
    if report.problem_count > 10:
        console.print(f"[yellow]  and {report.problem_count - 10:,} more problems[/]")


@ops_app.command("settings")
def settings(force_area: Annotated[Optional[list[str]], typer.Option(help="The force's own area (repeat for several); replaces the list.")] = None,
             window_days: Annotated[Optional[int], typer.Option(help="Sightings of one address are one target within this many days.")] = None,
             suppress_below: Annotated[Optional[int], typer.Option(help="Public counts below this are shown as 'fewer than N'.")] = None,
             public_title: Annotated[Optional[str], typer.Option(help="The public page's title.")] = None,
             advice_file: Annotated[Optional[Path], typer.Option(help="Text file of the public page's advice.")] = None,
             weights_file: Annotated[Optional[Path], typer.Option(help="JSON of the score's weights (fields of ops.settings.ScoreWeights).")] = None,
             database: Database = None, ops_dir: OpsDir = None) -> None:
    """Show, or change, what the force configured: its areas, the grouping window, the public page.

    Example: [bold]fieldlab ops settings --force-area "GB/England/West Yorkshire" --ops-dir ~/ops[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.ops.settings import SettingsError, load_settings, save_settings

    changes: dict[str, object] = {}
    if force_area is not None:
        changes["force_areas"] = force_area
    if window_days is not None:
        changes["window_days"] = window_days
    if suppress_below is not None:
        changes["suppress_below"] = suppress_below
    if public_title is not None:
        changes["public_title"] = public_title
    if advice_file is not None:
        changes["advice_text"] = advice_file.read_text(encoding="utf-8-sig").strip()
    if weights_file is not None:
        try:
            changes["weights"] = json.loads(weights_file.read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            fail(f"{weights_file}: not JSON ({exc})")
    db = _open(database, ops_dir)
    try:
        current = save_settings(db, current_actor(), **changes) if changes else load_settings(db)
    except (SettingsError, TypeError) as exc:
        fail(str(exc))
    finally:
        db.close()
    console.print(f"Force areas: {escape('; '.join(current.force_areas)) or '(none: every sighting is set aside)'}")
    console.print(f"Grouping window: {current.window_days} days; public suppression below {current.suppress_below}")


@ops_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="A monitoring export (CSV).")],
            columns: Annotated[Optional[str], typer.Option(help="field=column pairs for another layout: 'timestamp=First Seen,ip=IP Address,hash=SHA1'.")] = None,
            zone: Annotated[Optional[str], typer.Option(help="Zone of times written without one (e.g. Europe/London).")] = None,
            no_header: Annotated[bool, typer.Option(help="The file has no header row: --columns gives positions (timestamp=1,...).")] = False,
            home: Home = None, database: Database = None, ops_dir: OpsDir = None) -> None:
    """Import sightings: match each file against the hash-set library, place each address, regroup targets.

    Example: [bold]fieldlab ops import sightings-2024-05.csv --ops-dir ~/ops[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.ops.sightings import SightingsError, import_sightings, parse_layout

    db = _open(database, ops_dir)
    try:
        report = import_sightings(db, file, layout=parse_layout(columns, header=not no_header), zone=zone, home=home,
                                  actor=current_actor())
    except (SightingsError, OSError) as exc:
        fail(str(exc))
    finally:
        db.close()
    console.print(f"Import {report.import_id}: {report.rows:,} rows, {report.added:,} sightings added "
                  f"({report.known:,} of known files), {report.duplicates:,} duplicates, {report.malformed:,} "
                  f"malformed, {report.set_aside:,} set aside (outside the force's areas)")
    for problem in report.problems[:20]:
        console.print(f"[yellow]  line {problem.line}: {escape(problem.message)}[/]")
    if report.malformed > 20:
        console.print(f"[yellow]  and {report.malformed - 20:,} more malformed rows[/]")


@ops_app.command("targets")
def targets(limit: Annotated[int, typer.Option(help="How many to show.")] = 20,
            database: Database = None, ops_dir: OpsDir = None) -> None:
    """Targets in priority order, each score with its reasons.

    Example: [bold]fieldlab ops targets --ops-dir ~/ops[/]
    """
    from fieldlab.ops.targets import list_targets

    db = _open(database, ops_dir)
    try:
        found = list_targets(db)[:limit]
    finally:
        db.close()
    table = Table(title="Targets, highest priority first")
    for column in ("Target", "Score", "Reasons", "Grouped by", "Area", "Last seen"):
        table.add_column(column)
    for t in found:
        shown = str(t.priority.score) + (f" (override; computed {t.priority.computed})"
                                         if t.priority.override is not None else "")
        reasons = "\n".join(f"{r.points:+d} {escape(r.text)}" for r in t.priority.reasons)
        table.add_row(str(t.id), shown, reasons, escape(t.rule), escape("; ".join(t.areas)), t.last_seen)
    console.print(table)


@ops_app.command("warrant")
def warrant(target: Annotated[int, typer.Argument(help="The target's number.")],
            output: Annotated[Path, typer.Option(help="File to write: .pdf or .html.")],
            database: Database = None, ops_dir: OpsDir = None) -> None:
    """Write a warrant application draft for a target.

    Example: [bold]fieldlab ops warrant 12 --output target-12.pdf --ops-dir ~/ops[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.ops.warrant import WarrantError, warrant_draft, write_warrant

    fmt = output.suffix.lower().lstrip(".")
    db = _open(database, ops_dir)
    try:
        draft = warrant_draft(db, target, prepared_by=current_actor())
        _data, digest = write_warrant(db, draft, fmt=fmt, output=output, actor=current_actor())
    except WarrantError as exc:
        fail(str(exc))
    finally:
        db.close()
    console.print(f"Wrote {escape(str(output))} (SHA-256 {digest})")


@ops_app.command("device")
def device(operation: Annotated[int, typer.Argument(help="The operation's number.")],
           exhibit: Annotated[str, typer.Option(help="The device's exhibit reference (as in its triage case).")],
           description: Annotated[str, typer.Option(help="What the device is.")],
           case: Annotated[Optional[Path], typer.Option(help="The triage case folder holding the exhibit.")] = None,
           database: Database = None, ops_dir: OpsDir = None) -> None:
    """Record a seized device, linked to the triage case that holds its exhibit.

    Example: [bold]fieldlab ops device 3 --exhibit JS/1 --description "laptop" --case ~/cases/op-ash[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.ops.lifecycle import LifecycleError, add_device

    if case is not None and not (case / "case.sqlite").is_file():
        fail(f"{case} is not a fieldlab case folder")
    db = _open(database, ops_dir)
    try:
        device_id = add_device(db, operation, exhibit_ref=exhibit, description=description, case_dir=case,
                               actor=current_actor())
    except LifecycleError as exc:
        fail(str(exc))
    finally:
        db.close()
    console.print(f"Device {device_id} recorded for operation {operation}")


@ops_app.command("audit")
def audit(database: Database = None, ops_dir: OpsDir = None) -> None:
    """Check the operations database's hash-chained audit trail.

    Example: [bold]fieldlab ops audit --ops-dir ~/ops[/]
    """
    db = _open(database, ops_dir)
    try:
        result = db.audit.verify()
    finally:
        db.close()
    if not result.ok:
        fail(f"the audit trail is NOT intact: {result.problem}", code=1)
    console.print(f"Audit trail intact: {result.entries:,} entries"
                  + ("" if db.location.head_dir else " (a server database keeps no head file: "
                     "truncation is refused by its triggers)"))



# known torrents and the BitTorrent observer

torrents_app = typer.Typer(help="Known torrents: infohashes the observer watches and sightings are matched against.",
                           no_args_is_help=True)
ops_app.add_typer(torrents_app, name="torrents")


@torrents_app.command("import")
def torrents_import(files: Annotated[Optional[list[Path]], typer.Argument(help=".torrent files, .csv lists (infohash,category,description[,name]) or text files of magnet links.")] = None,
                    magnet: Annotated[Optional[list[str]], typer.Option(help="A magnet link (repeat for several).")] = None,
                    category: Annotated[Optional[str], typer.Option(help="Category of .torrent files and magnet links (a CSV row gives its own).")] = None,
                    description: Annotated[Optional[str], typer.Option(help="Description of .torrent files and magnet links.")] = None,
                    profile: Annotated[str, typer.Option(help="Category labels: uk (A/B/C) or us (1-4).")] = "uk",
                    database: Database = None, ops_dir: OpsDir = None) -> None:
    """Import known torrents; every infohash sighting is matched against them again.

    Example: [bold]fieldlab ops torrents import series.torrent --category A --description "series X" --ops-dir ~/ops[/]
    """
    from fieldlab.case.audit import current_actor
    from fieldlab.ops.torrents import TorrentError, import_torrents, parse_magnet, read_sources

    try:
        sources = read_sources(files or [])
        if magnet:
            sources.append(("magnet", "command line", [parse_magnet(m) for m in magnet], []))
    except (TorrentError, OSError) as exc:
        fail(str(exc))
    if not sources:
        fail("give .torrent files, CSV lists or magnet-link files, or --magnet")
    db = _open(database, ops_dir)
    try:
        for kind, name, found, problems in sources:
            done = import_torrents(db, found, source=kind, source_name=name, profile=profile, category=category,
                                   description=description, actor=current_actor(), problems=problems)
            console.print(f"{escape(name)}: {done.added} added, {done.updated} updated, {done.rematched} sighting(s) "
                          "matched again")
            for problem in done.problems[:20]:
                console.print(f"[yellow]  {escape(problem)}[/]")
    except TorrentError as exc:
        fail(str(exc))
    finally:
        db.close()


@torrents_app.command("list")
def torrents_list(database: Database = None, ops_dir: OpsDir = None) -> None:
    """List the known torrents.

    Example: [bold]fieldlab ops torrents list --ops-dir ~/ops[/]
    """
    from fieldlab.ops.torrents import list_known

    db = _open(database, ops_dir)
    try:
        with db.engine.connect() as conn:
            found = list_known(conn)
    finally:
        db.close()
    table = Table(title="Known torrents")
    for column in ("Id", "Infohash", "Category", "Name", "Pieces", "Trackers"):
        table.add_column(column)
    for t in found:
        table.add_row(str(t.id), "\n".join(h for h in (t.infohash_v1, t.infohash_v2) if h), t.category,
                      escape(t.name), "" if t.pieces is None else str(t.pieces), str(len(t.trackers)))
    console.print(table)


@ops_app.command("observe")
def observe(minutes: Annotated[Optional[float], typer.Option(help="Stop after this many minutes (default: run until Ctrl-C).")] = None,
            rounds: Annotated[Optional[int], typer.Option(help="Stop after this many rounds over the known torrents.")] = None,
            interval: Annotated[float, typer.Option(help="Seconds from the start of one round to the next.")] = 300.0,
            bootstrap: Annotated[Optional[list[str]], typer.Option(help="DHT bootstrap node as address:port (repeat); none: the DHT is not asked.")] = None,
            confine_to: Annotated[Optional[list[str]], typer.Option(help="Connect only inside this network (repeat), e.g. 127.0.0.0/8 for a lab.")] = None,
            lab: Annotated[bool, typer.Option(help="A lab exercise: record peers at private and loopback addresses too.")] = False,
            max_connections: Annotated[int, typer.Option(help="Peer connections open at once.")] = 50,
            rate: Annotated[float, typer.Option(help="New peer connections a second, all torrents together.")] = 20.0,
            per_torrent_rate: Annotated[float, typer.Option(help="New peer connections a second to one torrent's swarm.")] = 5.0,
            source_address: Annotated[str, typer.Option(help="Local address peer connections come from.")] = "",
            home: Home = None, database: Database = None, ops_dir: OpsDir = None) -> None:
    """Observe the known torrents' swarms and record each peer seen as a sighting (read-only: nothing is downloaded).

    Example: [bold]fieldlab ops observe --ops-dir ~/ops --minutes 60 --bootstrap 67.215.246.10:6881[/]
    """
    import asyncio

    from fieldlab.case.audit import current_actor
    from fieldlab.ops.observer.run import Observer, ObserverConfig, ObserverError

    try:
        config = ObserverConfig(bootstrap=tuple(bootstrap or ()), confine_to=tuple(confine_to or ()), lab=lab,
                                interval=interval, max_connections=max_connections, connections_per_second=rate,
                                per_torrent_per_second=per_torrent_rate, source_address=source_address).validated()
    except ObserverError as exc:
        fail(str(exc))
    db = _open(database, ops_dir)
    observer = Observer(db, config, current_actor(), home)
    try:
        asyncio.run(observer.run(minutes=minutes, rounds=rounds))
    except KeyboardInterrupt:
        console.print("Stopped (Ctrl-C)")
    finally:
        db.close()
    counts = observer.status.counts
    console.print(f"Observer run {observer.status.run_id}: {counts['rounds']} round(s), {counts['peers_found']:,} "
                  f"peers found, {counts['connections']:,} connections, {counts['sightings_added']:,} sightings added")
    for key, value in sorted(counts.items()):
        console.print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value:.1f}")
