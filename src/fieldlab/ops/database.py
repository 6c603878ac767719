"""The operations database: where it is, opening it, migrating it, and changing it with an audit entry.

One examiner keeps it in a folder (``--ops-dir``: ``ops.sqlite`` and the audit trail's head file beside it); a
team shares a PostgreSQL database (``--database postgresql://...``).  Every change an officer makes goes through
``OpsDatabase.change``: the change and its audit entry commit together, or neither does.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from fieldlab.case.audit import AuditEntry, AuditLog, current_actor
from fieldlab.case.private import create_private_file, make_private_folder
from fieldlab.errors import OpsError

DATABASE_FILE = "ops.sqlite"
MIGRATIONS = "fieldlab.ops:migrations"


@dataclass(frozen=True)
class OpsLocation:
    url: str
    head_dir: Path | None  # where the audit trail's head file is kept (SQLite in a folder); None for a server
    create: bool  # a folder database is created and migrated on first use; a named one needs ``db upgrade``

    @property
    def shown(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def sqlite_file(self) -> Path:
        """The file of a SQLite database (``locate`` refuses a SQLite URL without one)."""
        return Path(make_url(self.url).database or "")


def locate(database: str | None = None, ops_dir: Path | None = None) -> OpsLocation:
    """The database given by ``--database URL`` or ``--ops-dir DIR`` (exactly one)."""
    if ops_dir is not None and database is None:
        folder = Path(ops_dir).expanduser().resolve()
        # URL.create quotes a "?" or "#" in the folder's name: in an f-string URL they would cut the path short
        url = URL.create("sqlite", database=str(folder / DATABASE_FILE)).render_as_string(hide_password=False)
        return OpsLocation(url, folder, True)
    if database is None or ops_dir is not None:
        raise OpsError("give the operations database as --database URL (a team's PostgreSQL) or as --ops-dir "
                       "FOLDER (SQLite for one examiner): one of the two")
    url = driver_url(database)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or path == ":memory:":
            raise OpsError("a SQLite operations database must be a file: sqlite:///path/to/ops.sqlite")
        return OpsLocation(url, Path(path).expanduser().resolve().parent, False)
    return OpsLocation(url, None, False)


def driver_url(database: str) -> str:
    """``postgresql://`` means psycopg (version 3), the driver fieldlab installs."""
    try:
        url = make_url(database)
    except ArgumentError:
        raise OpsError(f"{database!r} is not a database URL: use postgresql://user@host/dbname or "
                       "sqlite:///path/to/ops.sqlite") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise OpsError(f"the operations database is PostgreSQL or SQLite, not {url.get_backend_name()}")
    return url.render_as_string(hide_password=False)


def plain(exc: Exception) -> str:
    """A database error as the driver worded it, without SQLAlchemy's statement and link."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _tune_sqlite(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def upgrade(location: OpsLocation) -> tuple[str | None, str]:
    """Bring the database to the newest schema; (revision before, revision after)."""
    from alembic import command

    if location.head_dir is not None:  # SQLite: a folder and a database file for the examiner alone
        if location.create or not location.head_dir.is_dir():  # never chmod a folder the database merely sits in
            make_private_folder(location.head_dir)
        create_private_file(location.sqlite_file)
    engine = make_engine(location.url)
    try:
        before = current_revision(engine)
        with engine.begin() as conn:
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return before, current_revision(engine) or ""
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def _alembic_config():  # noqa: ANN202 - alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


def serialise(conn: Connection, *tables: str) -> None:
    """Writers of ``tables`` in other processes wait for this transaction (PostgreSQL; SQLite has one writer anyway):
    two imports must not both create the same target."""
    if conn.dialect.name == "postgresql":
        for table in tables:
            conn.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


@dataclass
class Change:
    """What ``OpsDatabase.change`` hands its caller: the open transaction, and the audit detail to fill in."""

    conn: Connection
    detail: dict


class OpsDatabase:
    def __init__(self, engine: Engine, location: OpsLocation) -> None:
        self.engine = engine
        self.location = location
        self.audit = AuditLog(engine, location.head_dir)
        self.write_lock = threading.Lock()  # audit entries are chained: one writer at a time in this process
        self.cache: dict = {}  # compiled area ranges, keyed by source

    @classmethod
    def open(cls, location: OpsLocation) -> OpsDatabase:
        """The database at ``location``; a folder database is created or migrated, any other must be current."""
        if location.create:
            upgrade(location)
        elif location.url.startswith("sqlite") and not location.sqlite_file.is_file():
            raise OpsError(f"there is no operations database at {location.sqlite_file}: create it with "
                           f"fieldlab db upgrade --database {location.shown}")
        engine = make_engine(location.url)
        try:
            found = current_revision(engine)
        except Exception as exc:  # noqa: BLE001 - any driver's "cannot connect", said plainly
            engine.dispose()
            raise OpsError(f"cannot open the operations database {location.shown}: {plain(exc)}") from None
        if found != head_revision():
            engine.dispose()
            state = "is empty" if found is None else f"is at revision {found}"
            raise OpsError(f"the operations database {location.shown} {state}, this fieldlab needs {head_revision()}: "
                           f"run fieldlab db upgrade --database URL")
        return cls(engine, location)

    @contextmanager
    def change(self, action: str, actor: str | None = None, **detail: object) -> Iterator[Change]:
        """A transaction that ends with its audit entry; the caller adds to ``detail`` what it learns."""
        with self.write_lock:
            with self.engine.begin() as conn:
                change = Change(conn, dict(detail))
                yield change
                entry = self.audit.append_in(conn, action, change.detail, actor or current_actor())
            self.audit.record_head(entry)

    def record(self, action: str, actor: str | None = None, **detail: object) -> AuditEntry:
        """An action that changes nothing in the database (a warrant draft written, a login) in the audit trail."""
        with self.write_lock:
            return self.audit.append(action, detail, actor or current_actor())

    def close(self) -> None:
        self.engine.dispose()
