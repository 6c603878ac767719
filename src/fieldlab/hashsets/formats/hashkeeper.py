"""HashKeeper hash sets: CSV whose fifth field is the MD5.

The header, as The Sleuth Kit's reader checks it (``tsk/hashdb/hashkeeper.c``,
``hk_test`` and ``hk_parse_md5``), is
``"file_id","hashset_id","file_name","directory","hash","file_size",
"date_modified","time_modified","time_zone","comments","date_accessed",
"time_accessed"``; rows quote the names, directory and hash and leave the
numbers bare.  Like TSK we recognise the file by its first five names (in
any case here).  ``hashset_id`` numbers the HashKeeper set a row came from;
what that set was (known or alert) is not in this file, so records carry no
category.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from fieldlab.hashsets.formats.csvlist import csv_rows, quoted, read_lines, record_from_fields
from fieldlab.hashsets.records import HashRecord, HashSetFileError, ParseProblem

HEADER_START = ("file_id", "hashset_id", "file_name", "directory", "hash")
MD5_FIELD = HEADER_START.index("hash")


def is_hashkeeper_header(line: str) -> bool:
    """Whether ``line`` starts like a HashKeeper header."""
    try:
        names = next(csv.reader([line.strip()]), [])
    except csv.Error:
        return False
    return tuple(name.strip().lower() for name in names[: len(HEADER_START)]) == HEADER_START


def parse_hashkeeper(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from a HashKeeper file, numbered by physical line.

    Raises HashSetFileError when the first non-blank line is not a HashKeeper header.
    """
    with path.open("rb") as stream:
        lines = (line.decode("utf-8", "replace") for line in read_lines(stream))
        header_line, header = next(((number, text) for number, text in enumerate(lines, 1) if text.strip()), (0, ""))
        if not header:
            return
        if not is_hashkeeper_header(header):
            raise HashSetFileError(
                f"{path}: not a HashKeeper file: line {header_line} is {quoted(header.strip())}, "
                f"not a header starting {','.join(f'{name!r}' for name in HEADER_START)}"
            )
        for entry in csv_rows(lines, header_line):
            if isinstance(entry, ParseProblem):
                yield entry
                continue
            number, row = entry
            if len(row) <= MD5_FIELD:
                yield ParseProblem(number, f"no 5th field (the hash): the row has only {len(row)}")
                continue
            yield from record_from_fields(number, {"md5": row[MD5_FIELD]})
