"""A LUKS2 header: its two binary copies checked, and the sound one's JSON area read by ``luks2_metadata``.

LUKS2 (cryptsetup's default since 2.1, 2019) keeps its header twice: at byte 0 and again at ``hdr_size`` (16 KiB by
default; a power of two up to 4 MiB).  Each copy is a 4,096-byte binary header (big-endian: magic ``LUKS\\xba\\xbe``,
``SKUL\\xba\\xbe`` for the second copy, version 2, hdr_size, seqid, label, checksum algorithm, salt, UUID, subsystem,
the copy's own offset, and at byte 448 the checksum) followed by a JSON area filling the rest of hdr_size, the text
NUL-terminated and NUL-padded.  The checksum is the named hash of the whole copy with the checksum field zeroed.  As
cryptsetup reads it: a copy is sound when its magic, version, offset, size, checksum and JSON are; the second copy
is looked for at the first's size or, the first unsound, at each of the nine sizes; of two sound copies the one of
the higher seqid (the later write) is read.  So no JSON larger than 4 MiB is ever read, and a volume whose first
header was overwritten (a bad sector, a wiped start) is still opened from its second.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldlab.evidence.luks2_metadata import luks2_layout
from fieldlab.evidence.luks_layout import LuksHeader, damaged
from fieldlab.problems import Problem, ProblemKind

if TYPE_CHECKING:
    from fieldlab.evidence.volume_layers import RangeReader

BINARY_SIZE = 4096
HEADER_SIZES = tuple(0x4000 << shift for shift in range(9))  # 16 KiB to 4 MiB: also where a second copy may lie
CHECKSUM_AT, CHECKSUM_SIZE = 448, 64
_FIRST, _SECOND = b"LUKS\xba\xbe", b"SKUL\xba\xbe"
_FIXED = struct.Struct(">6sHQQ48s32s64s40s48sQ")  # magic, version, hdr_size, seqid, label, checksum algorithm, salt,
# UUID, subsystem, the copy's offset


@dataclass(frozen=True)
class _Copy:
    offset: int
    seqid: int
    hdr_size: int
    metadata: dict


def has_luks2_secondary(data: RangeReader) -> bool:
    """Whether a sound second copy of a LUKS2 header lies where cryptsetup puts one (OSError when a read fails).
    Sound, not just its magic: a volume is taken for LUKS by it alone, and its file system is then not looked for."""
    return any(offset + 8 <= data.size and data.read(offset, 8) == _SECOND + b"\0\x02"
               and isinstance(_read_copy(data, offset), _Copy) for offset in HEADER_SIZES)


def read_luks2_header(data: RangeReader) -> LuksHeader:
    """The volume's LUKS2 header, read from its sound copy (the later, when both are), checked against ``data``."""
    first = _read_copy(data, 0)
    second: _Copy | Problem = damaged("no second copy of the LUKS2 header")
    for offset in (first.hdr_size,) if isinstance(first, _Copy) else HEADER_SIZES:
        second = _read_copy(data, offset)
        if isinstance(second, _Copy):
            break
    sound = [copy for copy in (first, second) if isinstance(copy, _Copy)]
    if not sound:
        assert isinstance(first, Problem)
        return LuksHeader(2, first)
    chosen = max(sound, key=lambda copy: copy.seqid)  # the first copy on a tie
    return luks2_layout(chosen.metadata, chosen.hdr_size, data.size)


def _read_copy(data: RangeReader, offset: int) -> _Copy | Problem:
    where = "first" if offset == 0 else f"second (at byte {offset:,})"
    head = _read_whole(data, offset, BINARY_SIZE)
    if isinstance(head, Problem):
        return head
    magic, version, hdr_size, seqid, _, algorithm, _, _, _, own_offset = _FIXED.unpack_from(head)
    if magic != (_FIRST if offset == 0 else _SECOND) or version != 2 or own_offset != offset:
        return damaged(f"its {where} LUKS2 header has no LUKS2 magic, version or offset")
    if hdr_size not in HEADER_SIZES or offset not in (0, hdr_size):
        return damaged(f"its {where} LUKS2 header gives a size of {hdr_size:,} bytes, which cryptsetup never writes")
    hash_name = algorithm.split(b"\0", 1)[0].decode("ascii", "replace")
    if hash_name not in hashlib.algorithms_available or hash_name.startswith("shake"):
        return damaged(f"its {where} LUKS2 header names a checksum ({hash_name[:32]!r}) no LUKS2 writer uses")
    whole = _read_whole(data, offset, hdr_size)
    if isinstance(whole, Problem):
        return whole
    checksum = hashlib.new(hash_name, whole[:CHECKSUM_AT] + bytes(CHECKSUM_SIZE) + whole[CHECKSUM_AT + CHECKSUM_SIZE:])
    if checksum.digest() != whole[CHECKSUM_AT:CHECKSUM_AT + checksum.digest_size]:
        return damaged(f"its {where} LUKS2 header's checksum does not match its contents")
    area = whole[BINARY_SIZE:]
    text, nul, padding = area.partition(b"\0")
    if not text.startswith(b"{") or not nul or padding.strip(b"\0"):
        return damaged(f"its {where} LUKS2 header's JSON area is not one NUL-padded text")
    try:
        metadata = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        return damaged(f"its {where} LUKS2 header's JSON cannot be read: {type(exc).__name__}")
    if not isinstance(metadata, dict):
        return damaged(f"its {where} LUKS2 header's JSON is not an object")
    return _Copy(offset, seqid, hdr_size, metadata)


def _read_whole(data: RangeReader, offset: int, size: int) -> bytes | Problem:
    try:
        read = data.read(offset, size)
    except OSError as exc:
        return Problem(ProblemKind.UNREADABLE, f"LUKS volume: its header cannot be read: {str(exc)[:300]}")
    if len(read) < size:
        return Problem(ProblemKind.TRUNCATED,
                       f"LUKS volume: its LUKS2 header is cut short ({len(read):,} of {size:,} bytes); not read")
    return read
