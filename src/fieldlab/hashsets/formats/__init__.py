"""Hash-set file formats: recognise a file by its content and stream its records.

Every parser yields HashRecord and ParseProblem in file order and never holds
the whole file: law-enforcement sets reach tens of millions of entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from fieldlab.hashsets.formats.csvlist import BOM, find_columns, parse_csv, quoted, split_header
from fieldlab.hashsets.formats.hashlist import hash_token, parse_hash_list
from fieldlab.hashsets.formats.vics import parse_vics
from fieldlab.hashsets.records import DIGEST_SIZES, HashRecord, ParseProblem, parse_hex_digest

FORMATS = ("vics", "csv", "md5sum", "sha1sum")
SNIFF_SIZE = 8192
_VICS_MARKERS = (b'"odata.metadata"', b'"@odata.context"', b'"value"')
_HASH_LIST_BY_LENGTH = {2 * DIGEST_SIZES["md5"]: "md5sum", 2 * DIGEST_SIZES["sha1"]: "sha1sum"}
_PARSERS: dict[str, Callable[[Path], Iterator[HashRecord | ParseProblem]]] = {
    "vics": parse_vics,
    "csv": parse_csv,
    "md5sum": partial(parse_hash_list, algorithm="md5"),
    "sha1sum": partial(parse_hash_list, algorithm="sha1"),
}


def detect_format(path: Path) -> str:
    """The format of ``path`` (one of FORMATS), judged by its first few KB, never by its name.

    Raises ValueError naming what was found when the content fits none.
    """
    with path.open("rb") as stream:
        head = stream.read(SNIFF_SIZE).removeprefix(BOM)
    if head.lstrip().startswith(b"{"):
        if any(marker in head for marker in _VICS_MARKERS):
            return "vics"
        raise ValueError(f"{path}: JSON, but not Project VIC VICS (no odata.metadata, @odata.context or value)")
    lines = head.split(b"\n")
    if len(head) == SNIFF_SIZE:
        lines.pop()  # may be cut short
    for line in lines:
        token = hash_token(line)
        if not token:
            continue
        if find_columns(split_header(line.decode("utf-8", "replace"))).keys() & DIGEST_SIZES.keys():
            return "csv"
        fmt = _HASH_LIST_BY_LENGTH.get(len(token))
        if fmt and parse_hex_digest(token.decode("ascii", "replace"), len(token) // 2):
            return fmt
        raise ValueError(
            f"{path}: unknown hash-set format: the first line {quoted(line)} is neither a CSV header naming an "
            "MD5, SHA1 or SHA256 column nor an MD5 or SHA-1 hash; VICS JSON starts with '{'"
        )
    raise ValueError(f"{path}: no line to recognise in the first {SNIFF_SIZE} bytes; is it a hash set?")


def parse_hash_file(path: Path, fmt: str = "auto") -> Iterator[HashRecord | ParseProblem]:
    """Records and problems from ``path`` in format ``fmt`` (one of FORMATS, or "auto" to detect)."""
    if fmt == "auto":
        fmt = detect_format(path)
    try:
        parser = _PARSERS[fmt]
    except KeyError:
        raise ValueError(f"unknown hash-set format {fmt!r}: use auto or one of {', '.join(FORMATS)}") from None
    return parser(path)
