"""The Sleuth Kit / Autopsy SQLite hash databases (``.kdb``).

The Sleuth Kit creates them (``tsk/hashdb/sqlite_hdb.cpp``, schema version 1) as
``db_properties(name, value)``, ``hashes(id INTEGER PRIMARY KEY AUTOINCREMENT,
md5 BINARY(16) UNIQUE, sha1 BINARY(20), sha2_256 BINARY(32))``,
``file_names(name, hash_id)`` and ``comments(comment, hash_id)``.  It stores
the MD5 as a 16-byte blob and fills only that column; SHA-1 and SHA-256 are
read too when a database has them, and hex text is accepted in any of them.
Whether a set is known-good or notable lives in Autopsy's settings, not in
the database, so records carry no category.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fieldlab.hashsets.formats.sqlitedb import Schema, read_sqlite_set
from fieldlab.hashsets.records import HashRecord, ParseProblem

KDB_TABLE = "hashes"
KDB_COLUMNS = {"md5": "md5", "sha1": "sha1", "sha2_256": "sha256"}


def kdb_source(objects: Schema) -> str | None:
    """``hashes`` when the database has it with an md5 column, else None."""
    found = objects.get(KDB_TABLE)
    return KDB_TABLE if found is not None and "md5" in found else None


def parse_tsk_kdb(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from a TSK/Autopsy hash database, numbered by row in read order (id order).

    Raises HashSetFileError when the file is not SQLite or has no hashes table with an md5 column.
    """
    return read_sqlite_set(path, kdb_source, KDB_COLUMNS,
                           expected="a TSK/Autopsy hash database: no hashes table with md5")
