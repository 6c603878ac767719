"""A LUKS volume's master (volume) key, derived from the passphrase once per scan and handed to the scan's other
processes.

libluksde runs the key slot's PBKDF2 itself, at about a million PBKDF2-SHA256 iterations a second here, and refuses a
master key given to it; so every process of a scan (the survey, the walker, each reader) paid a slot of cryptsetup's
default iterations again: about 10 s of CPU each.  Here the key is derived as the LUKS1 on-disk format specification
says, with ``hashlib.pbkdf2_hmac`` (4.4 million iterations a second): the passphrase and the slot's salt give the
slot's key, which decrypts the slot's key material (``luks_sectors``, the payload's own cipher, sectors numbered from
0 at the material's start); the material's stripes are merged (each XORed into a running block that is then
diffused by the header's hash, the last XORed in plain), and the result is the master key when PBKDF2 of it with the
digest's salt and iterations gives the header's digest.  The key then travels in memory only, as
``UnlockOptions.luks_keys`` in the scan's ``SourceSpec`` (as the passphrase does): a process given it opens the same
volume with no PBKDF2 at all.

Measured with ``bench/luks_unlock.py`` (a GPT disk whose LUKS1 volume, aes-xts-plain64 with cryptsetup 2.6.1's
default 8,793,090 key-slot iterations, holds a 64 MiB ext4 of 301 files; 2 shared cores, load 4-7): opening the
volume in one process cost 10.2-10.9 s of CPU through libluksde, 2.2-2.4 s here; the whole default ``fieldlab scan``
cost 43.5-46.6 s of CPU and 53-72 s of wall time (libluksde's PBKDF2 in 4 processes: survey, walker, 2 readers),
now 4.2-4.7 s and 6-10 s (PBKDF2 in the survey alone).  A cipher or hash not read here (``derived_here``) still
goes to libluksde, in every process; RIPEMD-160 headers and 128-bit aes-cbc-essiv or 192-bit keys, which libluksde
does not open, are opened here.

LUKS2 (which libluksde does not read at all) is derived the same way, with what its JSON header gives each key slot:
its own KDF (PBKDF2, or Argon2i/Argon2id through ``argon2-cffi``), the cipher and key size of its key material, and
the hash of its anti-forensic split.  What one passphrase may cost is bounded before any KDF runs
(``unlock_refusal``): a forged header could otherwise ask for hours of CPU or terabytes of memory.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from argon2.low_level import Type, hash_secret_raw

from fieldlab.evidence.luks_sectors import SECTOR, sector_cipher
from fieldlab.problems import Problem, ProblemKind

if TYPE_CHECKING:
    from fieldlab.evidence.luks_layout import Kdf, KeySlot, LuksLayout
    from fieldlab.evidence.volume_layers import RangeReader

# What one passphrase may cost, summed over the key slots it is tried on.  PBKDF2: hashlib ran about 4.4 million
# PBKDF2-SHA256 iterations a second here (libluksde, still used for LUKS1 ciphers ``luks_sectors`` does not
# decrypt, a million), so this is some 25 s of CPU (100 s through libluksde); cryptsetup's default (2 s of its own,
# faster PBKDF2) gives a slot a few million.
MAX_UNLOCK_ITERATIONS = 100_000_000
# Argon2: argon2-cffi filled about 1 GiB a CPU second here (256 MiB x 4 passes: 1.1 s), so 64 GiB-passes is about a
# minute of CPU.  cryptsetup's LUKS2 default benchmarks 2 s on the formatting machine with at most 1 GiB and 4 lanes
# (4 to about 16 passes of 1 GiB on a fast laptop); more is refused, as is more memory or more lanes than
# cryptsetup itself ever writes (4 GiB, 4: its PBKDF limits), since the survey would allocate that memory.
MAX_ARGON2_KIB_PASSES = 64 * 1024 * 1024
MAX_ARGON2_MEMORY_KIB = 4 * 1024 * 1024
MAX_ARGON2_LANES = 4
ARGON2 = {"argon2i": Type.I, "argon2id": Type.ID}


def _runs_pbkdf2(hash_name: str) -> bool:
    try:
        hashlib.pbkdf2_hmac(hash_name, b"", b"", 1)
    except ValueError:
        return False
    return True


# The hashes a LUKS1 header names that hashlib's PBKDF2 runs here (libluksde reads no RIPEMD-160; whirlpool and any
# other are left to it).
HASHES = frozenset(name for name in ("sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160") if _runs_pbkdf2(name))


def unlock_refusal(layout: LuksLayout) -> Problem | None:
    """Why no passphrase is tried on the volume: what deriving a key through every key slot would cost is over the
    bounds above (a ``limit`` problem); None when it is within them."""
    iterations = sum(slot.kdf.iterations for slot in layout.slots if slot.kdf.name == "pbkdf2")
    iterations += layout.digest_iterations * len(layout.slots)  # each slot's key is checked against the digest
    argon2 = [slot for slot in layout.slots if slot.kdf.name in ARGON2]
    if iterations > MAX_UNLOCK_ITERATIONS:
        return _limit(f"its key slots ask for {iterations:,} PBKDF2 iterations a passphrase, more than the "
                      f"{MAX_UNLOCK_ITERATIONS:,} fieldlab spends")
    for slot in argon2:
        if slot.kdf.memory_kib > MAX_ARGON2_MEMORY_KIB or slot.kdf.lanes > MAX_ARGON2_LANES:
            return _limit(f"key slot {slot.index} asks Argon2 for {slot.kdf.memory_kib:,} KiB of memory in "
                          f"{slot.kdf.lanes:,} lanes, more than the {MAX_ARGON2_MEMORY_KIB:,} KiB and "
                          f"{MAX_ARGON2_LANES} lanes cryptsetup itself allows")
    work = sum(slot.kdf.memory_kib * slot.kdf.iterations for slot in argon2)
    if work > MAX_ARGON2_KIB_PASSES:
        return _limit(f"its key slots ask Argon2 for {work:,} KiB-passes a passphrase, more than the "
                      f"{MAX_ARGON2_KIB_PASSES:,} (about a minute of CPU) fieldlab spends")
    return None


def _limit(why: str) -> Problem:
    return Problem(ProblemKind.LIMIT, f"LUKS volume: {why}; not unlocked")


@dataclass(frozen=True)
class LuksMasterKey:
    """A volume's master key and the identity of the header digest it was checked against (``LuksLayout``): it opens
    any volume whose header has that digest.  Neither field is ever shown (``repr`` included)."""

    digest_identity: bytes = field(repr=False)
    key: bytes = field(repr=False)

    def opens(self, layout: LuksLayout) -> bool:
        return hmac.compare_digest(self.digest_identity, layout.digest_identity)


def derived_here(layout: LuksLayout) -> bool:
    """Whether this module derives the key and ``luks_sectors`` decrypts the payload of a volume so laid out."""
    return (layout.digest_hash in HASHES and all(slot_derived_here(slot) for slot in layout.slots)
            and sector_cipher(layout.cipher, layout.mode, bytes(layout.key_bytes), layout.sector_size) is not None)


def slot_derived_here(slot: KeySlot) -> bool:
    """Whether this module runs the slot's KDF and anti-forensic merge and decrypts its key material."""
    kdf_runs = slot.kdf.name in ARGON2 or slot.kdf.name == "pbkdf2" and slot.kdf.hash_name in HASHES
    return kdf_runs and slot.af_hash in HASHES and sector_cipher(slot.cipher, slot.mode, bytes(slot.key_bytes)) is not None


def derive_master_key(layout: LuksLayout, data: RangeReader, passphrase: str) -> LuksMasterKey | None:
    """The master key ``passphrase`` opens through one of the enabled key slots, tried in order; None when it opens
    none.  ``layout`` must be ``derived_here``; OSError when a slot's key material cannot be read."""
    secret = passphrase.encode("utf-8")
    for slot in layout.slots:
        key = _slot_master_key(layout, data, slot, secret)
        if key is not None and hmac.compare_digest(_digest(layout, key), layout.digest):
            return LuksMasterKey(layout.digest_identity, key)
    return None


def _slot_master_key(layout: LuksLayout, data: RangeReader, slot: KeySlot, secret: bytes) -> bytes | None:
    slot_key = slot_key_of(slot.kdf, secret, slot.key_bytes)
    split_size = slot.stripes * layout.key_bytes
    material = data.read(slot.material_offset, -(-split_size // SECTOR) * SECTOR)
    cipher = sector_cipher(slot.cipher, slot.mode, slot_key)
    if cipher is None or len(material) < split_size:
        return None
    split = cipher.decrypt(0, material[:len(material) // SECTOR * SECTOR])
    if len(split) < split_size:  # the header's checks put the material inside the volume; a short read is not
        return None
    return af_merge(split[:split_size], layout.key_bytes, slot.af_hash)


def slot_key_of(kdf: Kdf, secret: bytes, key_bytes: int) -> bytes:
    """The key ``kdf`` makes of the passphrase ``secret``; its cost was bounded by ``unlock_refusal``."""
    if kdf.name == "pbkdf2":
        return hashlib.pbkdf2_hmac(kdf.hash_name, secret, kdf.salt, kdf.iterations, key_bytes)
    return hash_secret_raw(secret, kdf.salt, kdf.iterations, kdf.memory_kib, kdf.lanes, key_bytes, ARGON2[kdf.name])


def _digest(layout: LuksLayout, key: bytes) -> bytes:
    return hashlib.pbkdf2_hmac(layout.digest_hash, key, layout.digest_salt, layout.digest_iterations,
                               len(layout.digest))


def af_merge(split: bytes, key_bytes: int, hash_name: str) -> bytes:
    """The key anti-forensic splitting spread over ``len(split) // key_bytes`` stripes: each stripe but the last
    XORed into a running block that is then diffused, the last XORed in plain."""
    stripes = [split[at:at + key_bytes] for at in range(0, len(split), key_bytes)]
    mixed = bytes(key_bytes)
    for stripe in stripes[:-1]:
        mixed = diffuse(_xor(mixed, stripe), hash_name)
    return _xor(mixed, stripes[-1])


def diffuse(block: bytes, hash_name: str) -> bytes:
    """Each digest-sized piece replaced by the hash of its big-endian index and itself, cut to the piece's size."""
    width = hashlib.new(hash_name).digest_size
    return b"".join(hashlib.new(hash_name, struct.pack(">I", index) + block[start:start + width]).digest()
                    [:len(block[start:start + width])] for index, start in enumerate(range(0, len(block), width)))


def _xor(left: bytes, right: bytes) -> bytes:
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(len(left), "big")
