"""Hash-set file formats: recognise a file by its content and stream its records.

Every parser yields HashRecord and ParseProblem in file order and never holds
the whole file: law-enforcement sets reach tens of millions of entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from functools import partial
from pathlib import Path

from fieldlab.hashsets.format_names import FORMATS
from fieldlab.hashsets.formats.csvlist import BOM, csv_layout, names_a_bare_hash, parse_csv, quoted, split_header
from fieldlab.hashsets.formats.encase import SIGNATURE as ENCASE_SIGNATURE
from fieldlab.hashsets.formats.encase import parse_encase
from fieldlab.hashsets.formats.hashkeeper import is_hashkeeper_header, parse_hashkeeper
from fieldlab.hashsets.formats.hashlist import hash_token, parse_hash_list
from fieldlab.hashsets.formats.nsrl import is_nsrl_txt_header, parse_nsrl_rds, parse_nsrl_txt, rds_source
from fieldlab.hashsets.formats.pdq import is_pdq_line, parse_pdq
from fieldlab.hashsets.formats.sqlitedb import SQLITE_MAGIC, describe_schema, open_read_only, read_schema
from fieldlab.hashsets.formats.tskdb import kdb_source, parse_tsk_kdb
from fieldlab.hashsets.formats.vics import parse_vics
from fieldlab.hashsets.records import (
    DIGEST_SIZES,
    PDQ_SIZE,
    HashRecord,
    HashSetFileError,
    ParseProblem,
    parse_hex_digest,
)

SNIFF_SIZE = 8192
_VICS_MARKERS = (b'"odata.metadata"', b'"@odata.context"', b'"value"')
_HASH_LIST_BY_LENGTH = {2 * DIGEST_SIZES["md5"]: "md5sum", 2 * DIGEST_SIZES["sha1"]: "sha1sum"}
_PARSERS: dict[str, Callable[[Path], Iterator[HashRecord | ParseProblem]]] = {
    "vics": parse_vics,
    "csv": parse_csv,
    "md5sum": partial(parse_hash_list, algorithm="md5"),
    "sha1sum": partial(parse_hash_list, algorithm="sha1"),
    "nsrl-rds": parse_nsrl_rds,
    "nsrl-txt": parse_nsrl_txt,
    "encase": parse_encase,
    "hashkeeper": parse_hashkeeper,
    "tsk-kdb": parse_tsk_kdb,
    "pdq": parse_pdq,
}
_TEXT_HEADERS = (("nsrl-txt", is_nsrl_txt_header), ("hashkeeper", is_hashkeeper_header))
_SQLITE_FORMATS = (("nsrl-rds", rds_source), ("tsk-kdb", kdb_source))


def detect_format(path: Path) -> str:
    """The format of ``path`` (one of FORMATS), judged by its first few KB, never by its name.

    Raises HashSetFileError naming what was found when the content fits none.
    """
    with path.open("rb") as stream:
        head = stream.read(SNIFF_SIZE)
    if head.startswith(SQLITE_MAGIC):
        return _detect_sqlite(path)
    if head.startswith(ENCASE_SIGNATURE):
        return "encase"
    head = head.removeprefix(BOM)
    if head.lstrip().startswith(b"{"):
        if any(marker in head for marker in _VICS_MARKERS):
            return "vics"
        raise HashSetFileError(f"{path}: JSON, but not Project VIC VICS (no odata.metadata, @odata.context or value)")
    lines = head.split(b"\n")
    if len(head) == SNIFF_SIZE:
        lines.pop()  # may be cut short
    for line in lines:
        token = hash_token(line)
        if not token:
            continue
        text = line.decode("utf-8", "replace")
        for fmt, is_header in _TEXT_HEADERS:
            if is_header(text):
                return fmt
        if is_pdq_line(line):
            return "pdq"
        if csv_layout(split_header(text)) is not None:
            return "csv"
        by_length = _HASH_LIST_BY_LENGTH.get(len(token))
        if by_length and parse_hex_digest(token.decode("ascii", "replace"), len(token) // 2):
            return by_length
        if parse_hex_digest(token.split(b",", 1)[0].decode("ascii", "replace"), PDQ_SIZE):
            raise HashSetFileError(
                f"{path}: unknown hash-set format: the first line {quoted(line)} starts with 64 hex digits, which may be a SHA-256 or a PDQ "
                "hash: for a PDQ list (such as pdq-photo-hasher's hash,quality,filename) pass --format pdq, or give "
                "the file a header line naming its columns (pdq,quality,category)"
            )
        if names_a_bare_hash(text):
            raise HashSetFileError(
                f"{path}: the header {quoted(line)} names a hash column without saying which hash it holds (MD5, "
                "SHA-256 and PDQ all fit): for a PDQ list (such as ThreatExchange's FilePath,Hash) pass --format pdq, "
                "otherwise name the column md5, sha1, sha256 or pdq"
            )
        raise HashSetFileError(
            f"{path}: unknown hash-set format: the first line {quoted(line)} is neither a CSV header naming an "
            "MD5, SHA1, SHA256 or PDQ column nor an MD5 or SHA-1 hash (nor an NSRL, HashKeeper or 'pdq <hash>' "
            "line); VICS JSON starts with '{'"
        )
    raise HashSetFileError(f"{path}: no line to recognise in the first {SNIFF_SIZE} bytes; is it a hash set?")


def _detect_sqlite(path: Path) -> str:
    with closing(open_read_only(path)) as db:
        objects = read_schema(db, path)
    for fmt, source in _SQLITE_FORMATS:
        if source(objects):
            return fmt
    raise HashSetFileError(
        f"{path}: an SQLite database, but neither NSRL RDSv3 (a DISTINCT_HASH or FILE with sha256, sha1 or md5) "
        f"nor a TSK/Autopsy hash database (a hashes table with md5): {describe_schema(objects)}"
    )


def parse_hash_file(path: Path, fmt: str = "auto") -> Iterator[HashRecord | ParseProblem]:
    """Records and problems from ``path`` in format ``fmt`` (one of FORMATS, or "auto" to detect)."""
    if fmt == "auto":
        fmt = detect_format(path)
    try:
        parser = _PARSERS[fmt]
    except KeyError:
        raise HashSetFileError(f"unknown hash-set format {fmt!r}: use auto or one of {', '.join(FORMATS)}") from None
    return parser(path)
