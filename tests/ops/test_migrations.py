"""``fieldlab db upgrade``: an empty database gets exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from fieldlab.cli import app
from fieldlab.ops.database import OpsDatabase, OpsError, head_revision, locate, make_engine, upgrade
from fieldlab.ops.schema import metadata

runner = CliRunner()


def test_upgrading_an_empty_database_creates_exactly_the_declared_tables(empty_location) -> None:
    args = ["db", "upgrade", "--database", empty_location.url]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert f"revision (empty) -> {head_revision()}" in first.output
    engine = make_engine(empty_location.url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) - {"alembic_version"} == set(metadata.tables)
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(context, metadata) == []  # columns, types, keys, indexes and defaults too
    finally:
        engine.dispose()
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "already at revision" in again.output


def test_a_database_not_yet_upgraded_is_refused_with_the_command_to_run(empty_location) -> None:
    with pytest.raises(OpsError, match="fieldlab db upgrade"):
        OpsDatabase.open(empty_location)


def test_the_audit_trail_cannot_be_edited_in_the_database(ops_db) -> None:
    ops_db.record("test_entry", "tester", note="first")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            with ops_db.engine.begin() as conn:
                conn.execute(text(statement))
    if ops_db.engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            with ops_db.engine.begin() as conn:
                conn.execute(text("TRUNCATE audit_log"))
    assert ops_db.audit.verify().ok and ops_db.audit.verify().entries == 1


def test_upgrade_is_idempotent_through_the_library(ops_location) -> None:
    before, after = upgrade(ops_location)
    assert before == after == head_revision()


def test_an_ops_folder_named_with_a_question_mark_or_hash_keeps_its_database_inside(tmp_path) -> None:
    """The folder's name goes into a database URL: unquoted, "?" would start its query and "#" its fragment, and the
    database would be made in a folder beside it."""
    folder = tmp_path / "op #1 ?x%20"
    location = locate(ops_dir=folder)
    assert location.sqlite_file == folder / "ops.sqlite"
    upgrade(location)
    assert (folder / "ops.sqlite").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]
