"""NIST NSRL reference data sets: RDSv3 SQLite databases and RDS 2.x ``NSRLFile.txt``.

RDSv3 (from 2022) is an SQLite database; NIST's ``schema.sql`` declares
``FILE(sha256, sha1, md5, crc32, file_name, file_size, package_id)`` (upper-case
hex text) and ``VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32
FROM FILE``.  Some releases leave out ``crc32``, and some make ``FILE`` itself a
view, so both are found by name and kind does not matter.  ``DISTINCT_HASH`` is
read when present: ``FILE`` repeats a file once per package that ships it.

RDS 2.x ``NSRLFile.txt`` is CSV with all fields quoted, in one of two column
orders (The Sleuth Kit's ``tsk/hashdb/nsrl.cpp`` reads both), the second being
the one NIST used last.  Both hold SHA-1 and MD5; the CSV reader takes those
columns by name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from fieldlab.hashsets.formats.csvlist import parse_csv, quoted, read_lines
from fieldlab.hashsets.formats.sqlitedb import Schema, read_sqlite_set
from fieldlab.hashsets.records import HashRecord, HashSetFileError, ParseProblem

RDS_SOURCES = ("distinct_hash", "file")  # in order of preference
RDS_COLUMNS = {"sha256": "sha256", "sha1": "sha1", "md5": "md5"}
NSRL_TXT_HEADERS = (
    ("SHA-1", "MD5", "CRC32", "FileName", "FileSize", "ProductCode", "OpSystemCode", "SpecialCode"),
    ("SHA-1", "FileName", "FileSize", "ProductCode", "OpSystemCode", "MD4", "MD5", "CRC32", "SpecialCode"),
)


def rds_source(objects: Schema) -> str | None:
    """The view or table of an RDSv3 database to read, None when it has neither."""
    for name in RDS_SOURCES:
        found = objects.get(name)
        if found is not None and found & RDS_COLUMNS.keys():
            return name
    return None


def parse_nsrl_rds(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from an RDSv3 database, numbered by row in read order, without categories.

    Raises HashSetFileError when the file is not SQLite or has no DISTINCT_HASH or FILE with hash columns.
    """
    return read_sqlite_set(path, rds_source, RDS_COLUMNS,
                           expected="an NSRL RDSv3 database: no DISTINCT_HASH or FILE with sha256, sha1 or md5")


def is_nsrl_txt_header(line: str) -> bool:
    """Whether ``line`` is the header of an RDS 2.x NSRLFile.txt, in either column order."""
    text = line.strip()
    if not text.startswith('"SHA-1"'):
        return False
    try:
        names = next(csv.reader([text]), [])
    except csv.Error:
        return False
    return tuple(names) in NSRL_TXT_HEADERS


def parse_nsrl_txt(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from an NSRLFile.txt, numbered by physical line (the header is line 1).

    Raises HashSetFileError when the first non-blank line is not the NSRL header: a
    CSV of some other origin belongs to the ``csv`` format.
    """
    with path.open("rb") as stream:
        first = next((line for line in read_lines(stream) if line.strip()), b"").decode("utf-8", "replace").strip()
    if not first:
        return
    if not is_nsrl_txt_header(first):
        expected = ",".join(f'"{name}"' for name in NSRL_TXT_HEADERS[0])
        raise HashSetFileError(f"{path}: not an NSRL NSRLFile.txt: the first line is {quoted(first)}, not {expected}")
    yield from parse_csv(path)
