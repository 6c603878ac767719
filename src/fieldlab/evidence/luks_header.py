"""Whether a LUKS header may be acted on, and the fields unlocking it needs.

A LUKS volume is known by its header's magic (``LUKS\\xba\\xbe``, then the version: 1 or 2), never by a partition
type or name; a LUKS2 volume whose first header is overwritten is still known by its second copy
(``luks2_header``).  The header is suspect data: its offsets and sizes say where to read, its KDF costs what one
passphrase costs.  The LUKS1 header (592 bytes, big-endian: magic, version, cipher name, mode and hash, payload
offset in sectors, key size, master-key digest, salt and iterations, UUID, then 8 key slots of 48 bytes) is
therefore checked here first: a header cut short, a field no LUKS1 writer makes, or a slot lying past the volume is
a problem of the volume, and neither ``luks_key`` nor libluksde ever sees it.  A sound header's fields are handed on
as a ``LuksLayout``; a LUKS2 header is read by ``luks2_header`` into the same form.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from fieldlab.evidence.luks2_header import has_luks2_secondary, read_luks2_header
from fieldlab.evidence.luks_layout import (
    MAX_KEY_BYTES,
    MAX_STRIPES,
    Kdf,
    KeySlot,
    LuksHeader,
    LuksLayout,
    damaged,
    no_slot_enabled,
    outside_the_volume,
)
from fieldlab.problems import Problem, ProblemKind

if TYPE_CHECKING:
    from fieldlab.evidence.volume_layers import RangeReader

MAGIC = b"LUKS\xba\xbe"
SECTOR = 512
HEADER_SIZE = 592

_FIXED = struct.Struct(">6sH32s32s32sII20s32sI40s")  # up to the key slots
_SLOT = struct.Struct(">II32sII")  # active, iterations, salt, key material offset (sectors), stripes
_SLOT_ENABLED, _SLOT_DISABLED = 0x00AC71F3, 0x0000DEAD


def has_luks_magic(data: RangeReader) -> bool:
    """A LUKS header's magic at the start, or (its first header overwritten) a LUKS2 header's second copy."""
    try:
        return data.read(0, len(MAGIC)) == MAGIC or has_luks2_secondary(data)
    except OSError:
        return False


def read_luks_header(data: RangeReader) -> LuksHeader:
    """The header at the start of ``data`` (which ``has_luks_magic``), checked against ``data``'s size."""
    try:
        head = data.read(0, HEADER_SIZE)
    except OSError as exc:
        return LuksHeader(0, Problem(ProblemKind.UNREADABLE, f"LUKS volume: its header cannot be read: {exc}"))
    if head[:len(MAGIC)] == MAGIC and len(head) < 8:
        return LuksHeader(0, _cut_short(len(head)))
    version = struct.unpack(">H", head[6:8])[0] if head[:len(MAGIC)] == MAGIC else 2  # else: a second copy
    if version == 2:
        return read_luks2_header(data)
    if version != 1:
        return LuksHeader(version, damaged(f"its header gives version {version}, which no LUKS writer makes"))
    if len(head) < HEADER_SIZE:
        return LuksHeader(1, _cut_short(len(head)))
    (_, _, cipher, mode, hash_spec, payload, key_bytes, digest, digest_salt, digest_iterations,
     _) = _FIXED.unpack_from(head)
    if not all(_is_name(name) for name in (cipher, mode, hash_spec)):
        return LuksHeader(1, damaged("its cipher, mode or hash name is not text"))
    if not 0 < key_bytes <= MAX_KEY_BYTES or digest_iterations == 0:
        return LuksHeader(1, damaged(f"its key size ({key_bytes} bytes) or digest iterations are impossible"))
    if payload * SECTOR < HEADER_SIZE or payload * SECTOR >= data.size:
        return LuksHeader(1, outside_the_volume(payload * SECTOR, data.size))
    hash_name = _name(hash_spec)
    slots = []
    for index in range(8):
        active, slot_iterations, salt, material, stripes = _SLOT.unpack_from(head, _FIXED.size + index * _SLOT.size)
        if active == _SLOT_DISABLED:
            continue
        if active != _SLOT_ENABLED or slot_iterations == 0 or not 0 < stripes <= MAX_STRIPES:
            return LuksHeader(1, damaged(f"key slot {index} is neither enabled nor disabled, or impossible"))
        if material * SECTOR < HEADER_SIZE or material * SECTOR + stripes * key_bytes > data.size:
            return LuksHeader(1, damaged(f"key slot {index}'s key material lies outside the volume"))
        slots.append(KeySlot(index, Kdf("pbkdf2", salt, slot_iterations, hash_name), material * SECTOR, stripes,
                             hash_name, _name(cipher), _name(mode), key_bytes))
    if not slots:
        return LuksHeader(1, no_slot_enabled())
    return LuksHeader(1, layout=LuksLayout(
        1, _name(cipher), _name(mode), key_bytes, payload * SECTOR, None, SECTOR, 0, hash_name, digest, digest_salt,
        digest_iterations, tuple(slots)))


def _is_name(text: bytes) -> bool:
    name = text.split(b"\0", 1)[0]
    return bool(name) and all(0x21 <= byte < 0x7F for byte in name)


def _name(text: bytes) -> str:
    return text.split(b"\0", 1)[0].decode("ascii")


def _cut_short(size: int) -> Problem:
    return Problem(ProblemKind.TRUNCATED, f"LUKS volume: its header is cut short ({size} of {HEADER_SIZE} bytes); not read")
