"""CSV hash sets: a header line names the columns, one known item per row.

Exporters disagree on column names and order, so the header is matched
loosely: names are compared case-insensitively with everything but letters
and digits removed and trailing ``hash``, ``digest``, ``value``, ``sum`` or
``hex`` dropped.  "MD5", "md5 hash", "MD5Sum", "SHA-1", "sha1_hash",
"SHA-256", "PDQ Hash", "pdq_hash_hex", "PhotoDNA" and "Category" are all
understood; other columns (file names, sizes) are ignored.  The delimiter is
whichever of ``,`` ``;`` or tab the header uses most.

Perceptual hash lists are exchanged without file digests, so a PDQ column
alone is a set.  Two shapes name it indirectly: Meta's ``pdq-photo-hasher``
output given a header (``hash,quality,filename``: only a PDQ has a quality),
and python-threatexchange's one signal per row (``signal_type`` beside
``signal_str`` or ``hash``), where each row's type says which digest its
value is.  A PDQ of quality under 50 (a near-blank picture) is kept, as the
sharing organisation listed it, and reported with its line: near matches to
it are weak.

The helpers here (reading bounded lines, quoting hostile text, turning named
values into a record) are shared with the other parsers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fieldlab.hashsets.records import (
    DIGEST_SIZES,
    MAX_PHOTODNA,
    MIN_PDQ_QUALITY,
    PDQ_SIZE,
    HashRecord,
    HashSetFileError,
    ParseProblem,
    parse_hex_digest,
    parse_photodna,
)

BOM = b"\xef\xbb\xbf"
BLOCK = 1 << 20
MAX_LINE = 1 << 16  # far beyond any real hash-set line
ECHO = 80  # characters of a bad value quoted back in a problem report

DELIMITERS = (",", ";", "\t")
COLUMNS = ("md5", "sha1", "sha256", "pdq", "photodna", "category", "quality", "hash", "signal", "signaltype")
_SIZES = {**DIGEST_SIZES, "pdq": PDQ_SIZE}
_BY_HEX_LENGTH = {DIGEST_SIZES["md5"] * 2: "md5", DIGEST_SIZES["sha1"] * 2: "sha1"}
_LABELS = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "pdq": "PDQ"}
_NAME_NOISE = re.compile(r"[^a-z0-9]")
_NAME_SUFFIXES = ("hash", "digest", "value", "sum", "hex", "str")
# python-threatexchange's signal types that are a digest we match; other types (url, raw_text...) are not
SIGNAL_TYPES = {"pdq": "pdq", "photopdq": "pdq", "md5": "md5", "photomd5": "md5", "videomd5": "md5"}


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
    and the problem says so.  Without a good MD5, SHA1, SHA256 or PDQ there is
    no record, only the problem.
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
    if not digests:
        wanted = "MD5, SHA1, SHA256 or PDQ" if "pdq" in fields else "MD5, SHA1 or SHA256"
        return [ParseProblem(line, "; ".join(reasons) or f"no {wanted} value")]
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
    if "pdq" in digests and (weak := pdq_quality_problem(line, fields.get("quality"))):
        return [record, weak]
    return [record]


def pdq_quality_problem(line: int, text: str | None) -> ParseProblem | None:
    """A problem when a PDQ's stated quality is under Meta's 50 or unreadable; the PDQ is kept either way.

    A hash of a near-blank picture sits close to many unrelated ones, which
    is why a scan never matches such a picture of the suspect's; a listed one
    is the sharing organisation's call, so it stays, and the examiner is told.
    """
    if text is None or not text.strip():
        return None
    try:
        quality = int(text.strip())
    except ValueError:
        return ParseProblem(line, f"PDQ quality {quoted(text.strip())} is not a number; the PDQ is kept")
    if not 0 <= quality <= 100:
        return ParseProblem(line, f"PDQ quality {quality} is not between 0 and 100; the PDQ is kept")
    if quality < MIN_PDQ_QUALITY:
        return ParseProblem(line, f"PDQ quality {quality} is under {MIN_PDQ_QUALITY} (a near-blank picture): kept, "
                                  "but a near match to it is weak")
    return None


def sniff_delimiter(header: str) -> str:
    """The delimiter the header uses most, a comma when it has none (a single column)."""
    return max(DELIMITERS, key=header.count)


def find_columns(names: Iterable[str]) -> dict[str, int]:
    """Index of each column we know (keys from COLUMNS), first occurrence winning."""
    found: dict[str, int] = {}
    for index, name in enumerate(names):
        key = _NAME_NOISE.sub("", name.lower())
        for _ in range(2):  # "pdq_hash_hex", "signal_str"
            suffix = next((s for s in _NAME_SUFFIXES if key != s and key.endswith(s)), None)
            if suffix is None:
                break
            key = key.removesuffix(suffix)
        if key in COLUMNS:
            found.setdefault(key, index)
    return found


@dataclass(frozen=True)
class CsvLayout:
    """Where a CSV keeps what we read: named columns, and for one-signal-per-row files the type and value columns."""

    columns: dict[str, int]  # keys from COLUMNS that are read as themselves (md5 ... category, quality)
    signal: tuple[int, int] | None = None  # (type column, value column): python-threatexchange's shape
    declared: tuple[int, str] | None = None  # (a bare hash column, what its 64 hex digits are, as the examiner said)

    def fields(self, row: list[str]) -> dict[str, str | None] | str:
        """The row's named values, or why it holds none we use."""
        fields = {name: row[index] if index < len(row) else None for name, index in self.columns.items()}
        if self.signal is not None:
            kind_column, value_column = self.signal
            raw_kind = row[kind_column] if kind_column < len(row) else ""
            kind = SIGNAL_TYPES.get(_NAME_NOISE.sub("", raw_kind.lower()))
            if kind is None:
                return f"signal type {quoted(raw_kind.strip())} is not a PDQ or MD5: not imported"
            fields[kind] = row[value_column] if value_column < len(row) else None
        if self.declared is not None:
            column, kind = self.declared
            value = row[column] if column < len(row) else None
            # 32 or 40 hex digits can only be an MD5 or a SHA-1 (ThreatExchange's list gives its videos' MD5s there)
            fields[_BY_HEX_LENGTH.get(len(value.strip()), kind) if value else kind] = value
        return fields


def csv_layout(names: list[str], bare_hash: str | None = None) -> CsvLayout | None:
    """How to read a CSV with these header names; None when no column holds a digest we use.

    A bare ``hash`` column says nothing about its kind (an MD5? a SHA-256? a
    PDQ?), so it is read only where the header tells: beside ``signal_type``,
    or beside ``quality``, which only a PDQ has, or as ``bare_hash`` when the
    examiner declared the file's kind (``--format pdq`` on ThreatExchange's
    ``FilePath,Hash``).
    """
    found = find_columns(names)
    columns = {name: index for name, index in found.items() if name in _SIZES or name in ("photodna", "category", "quality")}
    value = found.get("signal", found.get("hash"))
    if "signaltype" in found and value is not None:
        return CsvLayout(columns, (found["signaltype"], value))
    if "hash" in found and "quality" in found and "pdq" not in columns:
        columns["pdq"] = found["hash"]
    if "hash" in found and bare_hash and bare_hash not in columns:
        return CsvLayout(columns, declared=(found["hash"], bare_hash))
    return CsvLayout(columns) if columns.keys() & _SIZES.keys() else None


def names_a_bare_hash(header: str) -> bool:
    """Whether a header line names a ``hash`` column that nothing beside it says the kind of, among other named
    columns (``FilePath,Hash``): a lone ``HASH`` line is more likely another format's signature (EnCase)."""
    names = split_header(header)
    return (len(names) > 1 and all(name.strip().isprintable() and name.strip() for name in names)
            and "hash" in find_columns(names) and csv_layout(names) is None)


def split_header(header: str) -> list[str]:
    """The column names on a header line; none when it is not CSV at all (a stray carriage return)."""
    try:
        return next(csv.reader([header], delimiter=sniff_delimiter(header)), [])
    except csv.Error:
        return []


def parse_csv(path: Path, bare_hash: str | None = None) -> Iterator[HashRecord | ParseProblem]:
    """Records from a CSV hash set, numbered by physical line; a bare ``hash`` column read as ``bare_hash``.

    Raises HashSetFileError when the first non-blank line names no MD5, SHA1,
    SHA256 or PDQ column: nothing in such a file can be imported.
    """
    with path.open("rb") as stream:
        lines = (line.decode("utf-8", "replace") for line in read_lines(stream))
        header_line, header = next(((number, text) for number, text in enumerate(lines, 1) if text.strip()), (0, ""))
        if not header:
            return
        names = split_header(header)
        layout = csv_layout(names, bare_hash)
        if layout is None:
            shown = ", ".join(quoted(name) for name in names[:10])
            raise HashSetFileError(
                f"{path}: line {header_line} names no MD5, SHA1, SHA256 or PDQ column (found {shown}); a PDQ column "
                "may also be 'hash' beside 'quality' or 'signal_type' (or any 'hash' column, with --format pdq)"
            )
        for entry in csv_rows(lines, header_line, sniff_delimiter(header)):
            if isinstance(entry, ParseProblem):
                yield entry
                continue
            number, row = entry
            fields = layout.fields(row)
            if isinstance(fields, str):
                yield ParseProblem(number, fields)
            else:
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
