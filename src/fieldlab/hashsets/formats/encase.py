"""EnCase hash sets (``.hash``): a fixed 1152-byte header, then 18-byte MD5 records.

Layout, as The Sleuth Kit reads it (``tsk/hashdb/encase.cpp``) and the
Forensics Wiki describes it ("Encase hash files", from EnCase 6 files)::

    0x000  8   signature "HASH\\r\\n\\xff\\x00" (the only bytes TSK checks)
    0x008  8   02 00 00 00 01 00 00 00 in EnCase 4 to 6 files
    0x010  4   number of records, little-endian (Forensics Wiki only; TSK ignores it)
    0x408  80  hash set name, UTF-16LE, NUL-padded (TSK reads the name here)
    0x458  38  category, UTF-16LE, NUL-padded (Forensics Wiki only)
    0x480  ... records: 16-byte MD5, then 2 bytes (zero in known files; ignored)

Records are numbered from 1; record n starts at byte 0x480 + 18 (n - 1).  The
category is the set's, so every record carries it.  A problem numbered 0
concerns the file as a whole.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fieldlab.hashsets.records import DIGEST_SIZES, HashRecord, HashSetFileError, ParseProblem

SIGNATURE = b"HASH\r\n\xff\x00"
VERSION = b"\x02\x00\x00\x00\x01\x00\x00\x00"
HEADER_SIZE = 0x480
RECORD_SIZE = 18
_COUNT = struct.Struct("<I")
_COUNT_OFFSET = 0x10
_NAME = slice(0x408, 0x458)
_CATEGORY = slice(0x458, 0x47E)
_MD5_SIZE = DIGEST_SIZES["md5"]
_ZERO_MD5 = bytes(_MD5_SIZE)
_BLOCK = RECORD_SIZE * (1 << 16)


@dataclass(frozen=True)
class EncaseHeader:
    """What the header says about the set."""

    name: str  # EnCase's "Hash Set" column
    category: str  # EnCase's "Category" column
    count: int  # records announced
    version: bytes  # the 8 bytes after the signature


def read_header(head: bytes) -> EncaseHeader:
    """The fields of a complete HEADER_SIZE-byte header."""
    return EncaseHeader(
        name=_utf16_field(head[_NAME]),
        category=_utf16_field(head[_CATEGORY]),
        count=_COUNT.unpack_from(head, _COUNT_OFFSET)[0],
        version=head[len(SIGNATURE) : _COUNT_OFFSET],
    )


def parse_encase(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from an EnCase hash set, every one with the set's category.

    Raises HashSetFileError when the file does not start with the EnCase signature.
    """
    with path.open("rb") as stream:
        head = stream.read(HEADER_SIZE)
        if not head.startswith(SIGNATURE):
            raise HashSetFileError(
                f"{path}: not an EnCase hash set: it starts with {head[:len(SIGNATURE)]!r}, not {SIGNATURE!r}"
            )
        if len(head) < HEADER_SIZE:
            yield ParseProblem(1, f"file cut short: it ends at byte {len(head)}, inside the {HEADER_SIZE}-byte header")
            return
        header = read_header(head)
        if header.version != VERSION:
            yield ParseProblem(0, f"unknown version bytes {header.version.hex(' ')}; read as EnCase 4 to 6")
        category = header.category or None
        number = 0
        pending = b""
        while block := stream.read(_BLOCK):
            data = pending + block
            whole = len(data) - len(data) % RECORD_SIZE
            for start in range(0, whole, RECORD_SIZE):
                number += 1
                md5 = data[start : start + _MD5_SIZE]
                if md5 == _ZERO_MD5:
                    yield ParseProblem(number, "MD5 is all zeros (padding, not a file's hash)")
                else:
                    yield HashRecord(number, md5=md5, category=category)
            pending = data[whole:]
    if pending:
        yield ParseProblem(number + 1, f"file cut short: the last record has {len(pending)} of {RECORD_SIZE} bytes")
    if number != header.count:
        announced = f"the header announces {header.count:,} records, the file holds {number:,}"
        if number < header.count:
            yield ParseProblem(number + 1, announced)
        else:
            yield ParseProblem(0, f"{announced}; all were read")


def _utf16_field(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace").split("\x00", 1)[0].strip()
