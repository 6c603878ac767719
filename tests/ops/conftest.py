"""Every operations test runs twice: on SQLite (one examiner) and on a real PostgreSQL (a team).

The PostgreSQL is Debian's, started once per test session as a throwaway cluster (``initdb`` + ``pg_ctl``) in a
temporary folder, listening on a free loopback port only; as root it runs as the ``postgres`` user, which it
insists on.  If it is missing the tests fail and say how to install it: they are never skipped.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

import fieldlab
from fieldlab.demo import procedural_jpeg
from fieldlab.ops.database import OpsDatabase, OpsLocation, locate, upgrade
from fieldlab.web.app import WebConfig
from fieldlab.web.ops_app import create_ops_app
from tests.builders import KnownFile, write_csv_hashset, write_tree
from tests.ops.ops_data import Scenario, add_users, build_scenario
from tests.web.web_case import login

_names = itertools.count(1)


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): install Debian's postgresql "
                    "package (scripts/test does); the operations tests need a real server, they are never skipped")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway cluster; yields its SQLAlchemy URL without a database name."""
    bin_dir = _postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="fieldlab-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "server.log", _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}"
                        + (f"\n{log.read_text()[-2000:]}" if log.exists() else ""))

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "fieldlab", "-A", "trust", "-E", "UTF8", "--locale=C",
        "--no-sync")
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
               "-c synchronous_commit=off -c max_connections=300")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    url = f"postgresql+psycopg://fieldlab@127.0.0.1:{port}"
    try:
        template = _create_database(url, "ops_template")
        upgrade(locate(template))
        yield url
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _create_database(server: str, name: str, template: str | None = None) -> str:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for attempt in range(20):  # the template must have no other session while it is copied
                try:
                    conn.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
                    break
                except Exception:  # noqa: BLE001
                    if attempt == 19:
                        raise
                    time.sleep(0.1)
    finally:
        admin.dispose()
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def empty_location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> OpsLocation:
    """A database with nothing in it: not migrated."""
    if backend == "sqlite":
        return locate(f"sqlite:///{tmp_path / 'empty' / 'ops.sqlite'}")
    return locate(_create_database(request.getfixturevalue("postgres_server"), f"empty_{next(_names)}"))


@pytest.fixture()
def ops_location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> OpsLocation:
    """A fresh, migrated operations database."""
    if backend == "sqlite":
        location = locate(ops_dir=tmp_path / "ops")
        upgrade(location)
        return location
    server = request.getfixturevalue("postgres_server")
    return locate(_create_database(server, f"ops_{next(_names)}", template="ops_template"))


@pytest.fixture()
def ops_db(ops_location: OpsLocation) -> Iterator[OpsDatabase]:
    db = OpsDatabase.open(ops_location)
    yield db
    db.close()


@pytest.fixture()
def scenario(tmp_path: Path, private_library: Path) -> Scenario:
    """Generated area data, hash set (in this test's private library) and sightings file."""
    return build_scenario(tmp_path / "scenario", private_library)


@pytest.fixture(scope="session")
def triage_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scanned triage case (in a cases root of its own) holding exhibit JS/1: known pictures of categories A, B
    and C (two of C)."""
    root = tmp_path_factory.mktemp("triage")
    known = [KnownFile(f"Users/jo/Pictures/{n}.jpg", procedural_jpeg(900 + i, 160, 120), c)
             for i, (n, c) in enumerate((("a", "A"), ("b", "B"), ("c1", "C"), ("c2", "C")))]
    write_tree(root / "evidence", {k.relative: k.data for k in known})
    write_csv_hashset(root / "known.csv", known)
    fieldlab.import_hashset(root / "known.csv", name="case-set", home=root / "home")
    fieldlab.scan(root / "evidence", root / "cases" / "CASE-2024-0042", exhibit_ref="JS/1", home=root / "home",
                  perceptual=False)
    return root / "cases" / "CASE-2024-0042"


@pytest.fixture()
def make_client(ops_db: OpsDatabase, ops_location: OpsLocation, private_library: Path,
                triage_case: Path) -> Iterator[Callable[..., TestClient]]:
    """``make_client(user=None)``: a client of the operations app over this test's database, logged in as ``user``
    (accounts: tests.ops.ops_data.PASSWORDS); the cases root holds the triage case."""
    from tests.ops.ops_data import PASSWORDS

    add_users(ops_db)
    opened: list[TestClient] = []

    def make(user: str | None = None, **config: object) -> TestClient:
        app = create_ops_app(ops_location, WebConfig(**config), home=private_library, cases_root=triage_case.parent)
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        if user is not None:
            assert login(client, user, PASSWORDS[user]).status_code == 303
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
