"""``fieldlab summary`` and ``fieldlab hits`` without SQLAlchemy: the case database opened read-only through the stdlib
``sqlite3`` module, running the SQLite text SQLAlchemy compiles the same Core statements to (``read_sql.py``,
generated from them), the rows folded by ``read_rows`` as the SQLAlchemy path folds them.

Why: SQLAlchemy's import alone took ~0.2 s of the ~0.5 s a glance at a case took, and issue 17 asks for 0.3 s.
The database is opened with ``mode=ro``: nothing is migrated or written, so a case being scanned, or on read-only
media (opened immutable there), reads as it stands.  The checks ``CaseStore.open`` makes first (a case database is
there, its tables have every column: ``layout.py``) are made here in the same words.  A case made before a table or the
errors' ``kind`` column existed is first brought up to date by ``CaseStore.open``, as any other command would do,
then read here.
"""

from __future__ import annotations

import os
import sqlite3
from collections import namedtuple
from pathlib import Path
from typing import Any, Iterator

from fieldlab.case.layout import existing_database, missing_columns, refuse_older_layout
from fieldlab.case.read_rows import (
    Exhibit,
    ExhibitCounts,
    HitRow,
    exhibit_from_row,
    fold_exhibit_counts,
    hit_from_row,
)
from fieldlab.case.read_sql import (
    DECODED_MEDIA,
    EXHIBIT_TOTALS,
    EXHIBITS,
    HIT_LABELS,
    HITS,
    PROBLEM_COUNTS,
    TABLE_COLUMNS,
    CompiledQuery,
)
from fieldlab.errors import CaseError

# Columns CaseStore.open adds to an older case itself (store._add_problem_kinds, _add_region_volumes) rather than
# refusing it.
ADDED_ON_OPENING = ("errors.kind", "regions.volume")
BUSY_TIMEOUT = 30.0  # seconds, as the store waits (store._tune_sqlite): a scan's checkpoint can hold a reader back


class ReadOnlyCase:
    """A case database opened read-only: its exhibits, verdict counts and hits."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, case_dir: Path) -> ReadOnlyCase:
        """The case in ``case_dir``, brought up to date by ``CaseStore.open`` first if an earlier fieldlab made it
        (the only time this path loads SQLAlchemy).  A CaseError, in the store's words, for a folder that holds no
        case or a case too old to read; a CaseError too for a file SQLite cannot read."""
        case_dir = Path(case_dir)
        database = existing_database(case_dir)
        connection = _connect(database)
        try:
            if _needs_bringing_up_to_date(case_dir, connection):
                connection.close()
                from fieldlab.case.store import CaseStore

                CaseStore.open(case_dir, create=False).close()
                connection = _connect(database)
            return cls(connection)
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise CaseError(f"{database} cannot be read as a case database: {exc}") from exc
        except BaseException:
            connection.close()
            raise

    def exhibits(self) -> list[Exhibit]:
        return [exhibit_from_row(row) for row in self._rows(EXHIBITS)]

    def exhibit_counts(self) -> list[ExhibitCounts]:
        """Every exhibit's counts, the four queries read in one snapshot (a scan may be writing meanwhile)."""
        self._connection.execute("BEGIN")
        try:
            return fold_exhibit_counts(list(self._rows(EXHIBIT_TOTALS)), problems=self._rows(PROBLEM_COUNTS),
                                       decoded=self._rows(DECODED_MEDIA), hit_labels=self._rows(HIT_LABELS))
        finally:
            self._connection.rollback()

    def hits(self) -> Iterator[HitRow]:
        """Every hit, streamed in the order ``queries.hits_query`` gives."""
        return map(hit_from_row, self._rows(HITS))

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> ReadOnlyCase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _rows(self, query: CompiledQuery) -> Iterator[Any]:
        """The query's rows, each a named tuple with the column names SQLAlchemy's rows have."""
        row = namedtuple("row", query.columns)  # type: ignore[misc]  # the names come from the generated module
        return map(row._make, self._connection.execute(query.sql, query.parameters))


def _connect(database: Path) -> sqlite3.Connection:
    """The database read-only.  A reader of a WAL database (as the store keeps it) needs the ``-wal`` and ``-shm``
    files beside it, and SQLite creates them if missing (empty: they are how a reader sees a scan's writes).  On
    read-only media it cannot, and nothing can be writing the case there: the file is opened immutable (no locks, no
    companions), unless a ``-wal`` file was left beside it (a copy made mid-scan), whose pages a normal open reads."""
    options = "mode=ro"
    if _on_read_only_media(database) and not database.with_name(f"{database.name}-wal").exists():
        options += "&immutable=1"
    return sqlite3.connect(f"{database.absolute().as_uri()}?{options}", uri=True, timeout=BUSY_TIMEOUT)


def _on_read_only_media(database: Path) -> bool:
    return bool(os.statvfs(database).f_flag & os.ST_RDONLY)


def _needs_bringing_up_to_date(case_dir: Path, connection: sqlite3.Connection) -> bool:
    """Whether opening the case with ``CaseStore.open`` would add a table or column to it: then it must, first.
    A CaseError when it lacks a column opening does not add (the store refuses such a case in the same words)."""
    found = _table_columns(connection)
    missing = missing_columns(TABLE_COLUMNS, found)
    refuse_older_layout(case_dir, [column for column in missing if column not in ADDED_ON_OPENING])
    return bool(missing) or not TABLE_COLUMNS.keys() <= found.keys()


def _table_columns(connection: sqlite3.Connection) -> dict[str, set[str]]:
    """Each table of the database with its columns' names, as SQLAlchemy's ``inspect`` reads them."""
    found: dict[str, set[str]] = {}
    for table, column in connection.execute(
            "SELECT m.name, c.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS c WHERE m.type = 'table'"):
        found.setdefault(table, set()).add(column)
    return found
