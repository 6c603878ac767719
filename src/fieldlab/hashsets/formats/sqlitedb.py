"""Hash sets kept in SQLite databases, opened so the source cannot change.

A database is opened through a ``file:`` URI with ``mode=ro&immutable=1``:
SQLite then takes no locks and writes nothing, not even a journal or
``-shm`` file beside it, so an examiner's reference copy (or write-blocked
media) keeps its bytes and its timestamps.  The price of ``immutable`` is
that changes still sitting in a ``-wal`` file beside the database are not
seen; a problem says so when such a file exists.

Rows are read one at a time and numbered from 1 in read order; a problem
about the file as a whole has number 0.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path

from fieldlab.hashsets.formats.csvlist import quoted, record_from_fields
from fieldlab.hashsets.records import DIGEST_SIZES, HashRecord, HashSetFileError, ParseProblem

SQLITE_MAGIC = b"SQLite format 3\x00"
_SHOWN_OBJECTS = 10


Schema = dict[str, frozenset[str]]  # each table's or view's lower-case name: its lower-case column names


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can neither change ``path`` nor leave files beside it.

    Raises HashSetFileError when ``path`` is not an SQLite database.
    """
    with path.open("rb") as stream:
        head = stream.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise HashSetFileError(f"{path}: not an SQLite database: it starts with {head!r}, not {SQLITE_MAGIC!r}")
    uri = f"{path.absolute().as_uri()}?mode=ro&immutable=1"
    db = sqlite3.connect(uri, uri=True)
    try:
        # a hostile schema could put functions with side effects in a view; neither pragma costs anything
        db.execute("PRAGMA query_only = ON")
        db.execute("PRAGMA trusted_schema = OFF")
    except sqlite3.DatabaseError as error:
        db.close()
        raise _unreadable(path, error) from None
    return db


def read_schema(db: sqlite3.Connection, path: Path) -> Schema:
    """The columns of every table and view; SQLite compares names case-insensitively, so they are lower-cased.

    Raises HashSetFileError when the schema cannot be read (a damaged or disguised file).
    """
    try:
        names = db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").fetchall()
    except sqlite3.DatabaseError as error:
        raise _unreadable(path, error) from None
    return {name.lower(): _columns(db, name) for (name,) in names if isinstance(name, str)}


def _unreadable(path: Path, error: sqlite3.DatabaseError) -> HashSetFileError:
    return HashSetFileError(f"{path}: SQLite header, but the database cannot be read ({error}): is it damaged or cut short?")


def _columns(db: sqlite3.Connection, name: str) -> frozenset[str]:
    """The lower-case column names of ``name``; none when it cannot be read (a view of a missing table)."""
    try:
        rows = db.execute("SELECT name FROM pragma_table_info(?)", (name,)).fetchall()
    except sqlite3.DatabaseError:
        return frozenset()
    return frozenset(str(column).lower() for (column,) in rows)


def describe_schema(objects: Schema) -> str:
    """A short list of what a database holds, for error messages."""
    if not objects:
        return "it holds no tables"
    shown = ", ".join(quoted(name) for name in sorted(objects)[:_SHOWN_OBJECTS])
    more = f" and {len(objects) - _SHOWN_OBJECTS} more" if len(objects) > _SHOWN_OBJECTS else ""
    return f"it holds {shown}{more}"


def unseen_wal_problem(path: Path) -> ParseProblem | None:
    """A problem when a write-ahead log beside ``path`` holds changes an immutable open does not read."""
    wal = path.with_name(path.name + "-wal")
    try:
        size = wal.stat().st_size
    except OSError:
        return None
    if not size:
        return None
    return ParseProblem(
        0,
        f"{quoted(wal.name)} ({size:,} bytes) beside the database holds changes that were not read; "
        "to include them, open a copy with sqlite3 and run PRAGMA wal_checkpoint, then import the copy",
    )


def read_sqlite_set(
    path: Path,
    choose_source: Callable[[Schema], str | None],
    columns: Mapping[str, str],
    *, expected: str,
) -> Iterator[HashRecord | ParseProblem]:
    """Records from the table or view ``choose_source`` picks, reading whichever of ``columns`` it has.

    ``columns`` maps database column names to record fields.  Raises
    HashSetFileError, naming what the database holds, when ``choose_source``
    finds nothing: the file is not ``expected``.
    """
    db = open_read_only(path)
    with closing(db):
        objects = read_schema(db, path)
        source = choose_source(objects)
        if source is None:
            raise HashSetFileError(f"{path}: not {expected} ({describe_schema(objects)})")
        if problem := unseen_wal_problem(path):
            yield problem
        present = {column: field for column, field in columns.items() if column in objects[source]}
        yield from _read_rows(db, source, present)


def _read_rows(db: sqlite3.Connection, source: str, columns: dict[str, str]) -> Iterator[HashRecord | ParseProblem]:
    """Records from table or view ``source``, reading ``columns`` (database column to record field).

    ``source`` and the column names come from the caller's constants, never
    from the file.  Digests may be hex text or raw bytes; a damaged
    database ends the stream with a problem saying where.
    """
    select = f'SELECT {", ".join(columns)} FROM "{source}"'
    fields = tuple(columns.values())
    number = 0
    try:
        # the cursor steps one row at a time, so memory stays flat; fetchmany would gain nothing
        # and would lose the rows of a batch that runs into a damaged page
        for row in db.execute(select):
            number += 1
            record = _clean_record(number, fields, row)
            if record is not None:
                yield record
            else:
                yield from record_from_fields(number, dict(zip(fields, _texts(row, fields))))
    except sqlite3.DatabaseError as error:
        yield ParseProblem(number + 1, f"database unreadable after row {number}, reading stopped: {error}")


def _clean_record(number: int, fields: tuple[str, ...], row: tuple[object, ...]) -> HashRecord | None:
    """The record for a row of exact digests (hex text as NSRL writes them, raw bytes as TSK does), else None.

    Several times faster than record_from_fields, which the other rows
    (blanks, bad lengths, damage) still go through, for its checks and messages.
    """
    digests: dict[str, bytes] = {}
    for field, value in zip(fields, row):
        if value is None:
            continue
        size = DIGEST_SIZES[field]
        if type(value) is bytes and len(value) == size:
            digests[field] = value
            continue
        if type(value) is not str or len(value) != 2 * size:
            return None
        try:
            digest = bytes.fromhex(value)
        except ValueError:
            return None
        if len(digest) != size:  # fromhex skips white space
            return None
        digests[field] = digest
    if not digests:
        return None
    return HashRecord(number, md5=digests.get("md5"), sha1=digests.get("sha1"), sha256=digests.get("sha256"))


def _texts(values: Iterable[object], fields: tuple[str, ...]) -> Iterator[str | None]:
    """Each value as the hex text record_from_fields checks: SQLite columns hold text, blobs or anything."""
    for value, field in zip(values, fields):
        if value is None or isinstance(value, str):
            yield value
        elif isinstance(value, bytes):
            yield value.hex() if len(value) == DIGEST_SIZES[field] else f"<{len(value)}-byte blob>"
        else:
            yield str(value)
