"""CSV hash sets: a header line names the columns, one known item per row.

Exporters disagree on column names and order, so the header is matched
loosely: names are compared case-insensitively with everything but letters
and digits removed and one trailing ``hash``, ``digest``, ``value`` or
``sum`` dropped.  "MD5", "md5 hash", "MD5Sum", "SHA-1", "sha1_hash",
"SHA-256", "PDQ Hash", "PhotoDNA" and "Category" are all understood; other columns
(file names, sizes) are ignored.  The delimiter is whichever of ``,`` ``;``
or tab the header uses most.

The helpers here (reading bounded lines, quoting hostile text, turning named
values into a record) are shared with the other parsers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from fieldlab.hashsets.records import (
    DIGEST_SIZES,
    MAX_PHOTODNA,
    PDQ_SIZE,
    HashRecord,
    ParseProblem,
    parse_hex_digest,
    parse_photodna,
)

BOM = b"\xef\xbb\xbf"
BLOCK = 1 << 20
MAX_LINE = 1 << 16  # far beyond any real hash-set line
ECHO = 80  # characters of a bad value quoted back in a problem report

DELIMITERS = (",", ";", "\t")
COLUMNS = ("md5", "sha1", "sha256", "pdq", "photodna", "category")
_SIZES = {**DIGEST_SIZES, "pdq": PDQ_SIZE}
_LABELS = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "pdq": "PDQ"}
_NAME_NOISE = re.compile(r"[^a-z0-9]")
_NAME_SUFFIXES = ("hash", "digest", "value", "sum")


def read_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of a binary stream, without their ``\\n``, reading a block at a time.

    Splitting big blocks is several times faster than reading line by line,
    which matters at tens of millions of lines.  A line with no end in sight
    (hostile input) is cut after MAX_LINE bytes instead of being held whole,
    so memory stays bounded whatever the file holds.  A leading UTF-8 BOM is
    dropped.
    """
    pending = b""
    skipping = False
    first = True
    while block := stream.read(BLOCK):
        if first:
            block = block.removeprefix(BOM)
            first = False
        if skipping:
            end = block.find(b"\n")
            if end < 0:
                continue
            block = block[end + 1 :]
            skipping = False
        lines = (pending + block).split(b"\n")
        pending = lines.pop()
        if len(pending) > MAX_LINE:
            lines.append(pending[:MAX_LINE])
            pending = b""
            skipping = True
        yield from lines
    if pending:
        yield pending


def quoted(text: str | bytes) -> str:
    """``text`` as a short printable quote: problem reports must not carry unbounded hostile input."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return repr(text[:ECHO]) + ("..." if len(text) > ECHO else "")


def record_from_fields(line: int, fields: Mapping[str, str | None]) -> list[HashRecord | ParseProblem]:
    """The record for one row of named values (keys from COLUMNS), and at most one problem.

    A bad digest next to a good one costs only the bad one: the record is kept
    and the problem says so.  Without a good MD5, SHA1 or SHA256 (a PDQ alone
    is not enough) there is no record, only the problem.
    """
    digests: dict[str, bytes] = {}
    reasons = []
    for name, text in fields.items():
        size = _SIZES.get(name)
        if size is None or text is None:
            continue
        digest = parse_hex_digest(text, size)
        if digest is not None and len(digest) == size:  # len(): bytes.fromhex skips inner spaces
            digests[name] = digest
        elif text.strip():
            reasons.append(f"{_LABELS[name]} {quoted(text.strip())} is not {size * 2} hex digits")
    if not digests.keys() - {"pdq"}:
        return [ParseProblem(line, "; ".join(reasons) or "no MD5, SHA1 or SHA256 value")]
    category = (fields.get("category") or "").strip() or None
    photodna = fields.get("photodna")
    if photodna and photodna.strip():
        kept = parse_photodna(photodna)
        if kept is None:
            reasons.append(f"PhotoDNA {quoted(photodna.strip())} is not printable ASCII of at most {MAX_PHOTODNA} characters")
        photodna = kept
    record = HashRecord(line=line, category=category, photodna=photodna or None, **digests)
    if reasons:
        return [record, ParseProblem(line, "; ".join(reasons) + "; imported with its valid digests only")]
    return [record]


def sniff_delimiter(header: str) -> str:
    """The delimiter the header uses most, a comma when it has none (a single column)."""
    return max(DELIMITERS, key=header.count)


def find_columns(names: Iterable[str]) -> dict[str, int]:
    """Index of each column we use (keys from COLUMNS), first occurrence winning."""
    found: dict[str, int] = {}
    for index, name in enumerate(names):
        key = _NAME_NOISE.sub("", name.lower())
        for suffix in _NAME_SUFFIXES:
            if key != suffix and key.endswith(suffix):
                key = key.removesuffix(suffix)
                break
        if key in COLUMNS:
            found.setdefault(key, index)
    return found


def split_header(header: str) -> list[str]:
    """The column names on a header line; none when it is not CSV at all (a stray carriage return)."""
    try:
        return next(csv.reader([header], delimiter=sniff_delimiter(header)), [])
    except csv.Error:
        return []


def parse_csv(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from a CSV hash set, numbered by physical line.

    Raises ValueError when the first non-blank line names no MD5, SHA1 or
    SHA256 column: nothing in such a file can be imported.
    """
    with path.open("rb") as stream:
        lines = (line.decode("utf-8", "replace") for line in read_lines(stream))
        header_line, header = next(((number, text) for number, text in enumerate(lines, 1) if text.strip()), (0, ""))
        if not header:
            return
        names = split_header(header)
        columns = find_columns(names)
        if not columns.keys() & DIGEST_SIZES.keys():
            shown = ", ".join(quoted(name) for name in names[:10])
            raise ValueError(f"{path}: line {header_line} names no MD5, SHA1 or SHA256 column (found {shown})")
        for entry in csv_rows(lines, header_line, sniff_delimiter(header)):
            if isinstance(entry, ParseProblem):
                yield entry
                continue
            number, row = entry
            fields = {name: row[index] if index < len(row) else None for name, index in columns.items()}
            yield from record_from_fields(number, fields)


def csv_rows(lines: Iterator[str], header_line: int, delimiter: str = ",") -> Iterator[tuple[int, list[str]] | ParseProblem]:
    """Non-blank CSV rows after a header with their physical line numbers; an unreadable row is a problem, not an end."""
    rows = csv.reader(lines, delimiter=delimiter)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            yield ParseProblem(header_line + rows.line_num, f"unreadable CSV: {error}")
            continue
        if any(cell.strip() for cell in row):
            yield header_line + rows.line_num, row
