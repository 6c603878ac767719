"""Whether a LUKS header may be acted on, what one passphrase will cost, and the fields unlocking it needs.

A LUKS volume is known by its header's magic alone (``LUKS\\xba\\xbe``, then the version: 1 or 2), never by a
partition type or name.  The header is suspect data: libluksde runs PBKDF2 for as many iterations as each key slot
asks, so a forged count of 2^32 would hold the scan for hours, and its offsets and sizes say where to read.  The
LUKS1 header (592 bytes, big-endian: magic, version, cipher name, mode and hash, payload offset in sectors, key
size, master-key digest, salt and iterations, UUID, then 8 key slots of 48 bytes) is therefore checked here first:
a header cut short, a field no LUKS1 writer makes, or a slot lying past the volume is a problem of the volume, and
neither ``luks_key`` nor libluksde ever sees it.  A sound header's fields are handed on as a ``LuksLayout``.  LUKS2
(a JSON header, Argon2 key slots) is named, not read: fieldlab opens LUKS1 only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fieldlab.problems import Problem, ProblemKind

if TYPE_CHECKING:
    from fieldlab.evidence.volume_layers import RangeReader

MAGIC = b"LUKS\xba\xbe"
SECTOR = 512
HEADER_SIZE = 592
MAX_KEY_BYTES = 64  # 512-bit keys (aes-xts with two 256-bit keys) are the largest LUKS1 holds
MAX_STRIPES = 65_536  # cryptsetup writes 4,000; a slot's key material is stripes x key bytes
# What one passphrase may cost: hashlib ran about 4.4 million PBKDF2-SHA256 iterations a second here (libluksde,
# still used for ciphers ``luks_sectors`` does not decrypt, a million), so this is some 25 s of CPU (100 s through
# libluksde).  cryptsetup's default (2 s of its own, faster PBKDF2) gives a slot a few million.
MAX_UNLOCK_ITERATIONS = 100_000_000

_FIXED = struct.Struct(">6sH32s32s32sII20s32sI40s")  # up to the key slots
_SLOT = struct.Struct(">II32sII")  # active, iterations, salt, key material offset (sectors), stripes
_SLOT_ENABLED, _SLOT_DISABLED = 0x00AC71F3, 0x0000DEAD


@dataclass(frozen=True)
class KeySlot:
    """An enabled key slot: the master key, split into ``stripes`` and encrypted with a key PBKDF2 makes of the
    passphrase and ``salt``, lies at ``material_offset`` (bytes from the header)."""

    index: int
    iterations: int
    salt: bytes = field(repr=False)
    material_offset: int
    stripes: int


@dataclass(frozen=True)
class LuksLayout:
    """A checked LUKS1 header's fields: the payload's cipher (``aes``, ``xts-plain64``), the hash of its PBKDF2 and
    anti-forensic split, where the payload starts, and how a master key is checked (PBKDF2 of the key with the
    digest's salt and iterations gives the 20-byte digest)."""

    cipher: str
    mode: str
    hash_name: str
    payload_offset: int  # bytes from the header
    key_bytes: int
    digest: bytes = field(repr=False)
    digest_salt: bytes = field(repr=False)
    digest_iterations: int
    slots: tuple[KeySlot, ...]  # the enabled ones, in slot order

    @property
    def digest_identity(self) -> bytes:
        """The digest with its salt and iterations: a master key checked against one header opens any header with
        the same identity, whatever else of it differs."""
        return self.digest + self.digest_salt + self.digest_iterations.to_bytes(4, "big")


@dataclass(frozen=True)
class LuksHeader:
    """What the survey needs of a header: its version, what trying one passphrase costs, and why it is not opened
    (None when a passphrase may be tried on it, its fields then in ``layout``)."""

    version: int
    unlock_iterations: int  # PBKDF2 iterations of every enabled slot, each with the master-key digest's
    problem: Problem | None = None
    layout: LuksLayout | None = None


def has_luks_magic(data: RangeReader) -> bool:
    try:
        return data.read(0, len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_luks_header(data: RangeReader) -> LuksHeader:
    """The header at the start of ``data`` (which starts with the magic), checked against ``data``'s size."""
    try:
        head = data.read(0, HEADER_SIZE)
    except OSError as exc:
        return LuksHeader(0, 0, Problem(ProblemKind.UNREADABLE, f"LUKS volume: its header cannot be read: {exc}"))
    if len(head) < 8:
        return LuksHeader(0, 0, _cut_short(len(head)))
    version = struct.unpack(">H", head[6:8])[0]
    if version == 2:
        return LuksHeader(2, 0, Problem(ProblemKind.UNSUPPORTED, (
            "LUKS2 volume: fieldlab opens LUKS1 only (libluksde cannot read LUKS2); not read")))
    if version != 1:
        return LuksHeader(version, 0, _damaged(f"its header gives version {version}, which no LUKS writer makes"))
    if len(head) < HEADER_SIZE:
        return LuksHeader(1, 0, _cut_short(len(head)))
    (_, _, cipher, mode, hash_spec, payload, key_bytes, digest, digest_salt, digest_iterations,
     _) = _FIXED.unpack_from(head)
    if not all(_is_name(name) for name in (cipher, mode, hash_spec)):
        return LuksHeader(1, 0, _damaged("its cipher, mode or hash name is not text"))
    if not 0 < key_bytes <= MAX_KEY_BYTES or digest_iterations == 0:
        return LuksHeader(1, 0, _damaged(f"its key size ({key_bytes} bytes) or digest iterations are impossible"))
    if payload * SECTOR < HEADER_SIZE or payload * SECTOR >= data.size:
        return LuksHeader(1, 0, Problem(ProblemKind.TRUNCATED, (
            f"LUKS volume: its encrypted data would start at byte {payload * SECTOR:,}, outside the volume of "
            f"{data.size:,} bytes; not read")))
    iterations, slots = 0, []
    for index in range(8):
        active, slot_iterations, salt, material, stripes = _SLOT.unpack_from(head, _FIXED.size + index * _SLOT.size)
        if active == _SLOT_DISABLED:
            continue
        if active != _SLOT_ENABLED or slot_iterations == 0 or not 0 < stripes <= MAX_STRIPES:
            return LuksHeader(1, 0, _damaged(f"key slot {index} is neither enabled nor disabled, or impossible"))
        if material * SECTOR < HEADER_SIZE or material * SECTOR + stripes * key_bytes > data.size:
            return LuksHeader(1, 0, _damaged(f"key slot {index}'s key material lies outside the volume"))
        iterations += slot_iterations + digest_iterations
        slots.append(KeySlot(index, slot_iterations, salt, material * SECTOR, stripes))
    if iterations == 0:
        return LuksHeader(1, 0, Problem(ProblemKind.ENCRYPTED, (
            "LUKS volume: no key slot is enabled, so no passphrase opens it; not read")))
    return LuksHeader(1, iterations, layout=LuksLayout(
        _name(cipher), _name(mode), _name(hash_spec), payload * SECTOR, key_bytes, digest, digest_salt,
        digest_iterations, tuple(slots)))


def _is_name(text: bytes) -> bool:
    name = text.split(b"\0", 1)[0]
    return bool(name) and all(0x21 <= byte < 0x7F for byte in name)


def _name(text: bytes) -> str:
    return text.split(b"\0", 1)[0].decode("ascii")


def _cut_short(size: int) -> Problem:
    return Problem(ProblemKind.TRUNCATED, f"LUKS volume: its header is cut short ({size} of {HEADER_SIZE} bytes); not read")


def _damaged(why: str) -> Problem:
    return Problem(ProblemKind.DAMAGED, f"LUKS volume: its header is damaged ({why}); not read")
