"""A LUKS1 volume's master key, derived from the passphrase once per scan and handed to the scan's other processes.

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
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fieldlab.evidence.luks_sectors import SECTOR, sector_cipher

if TYPE_CHECKING:
    from fieldlab.evidence.luks_header import KeySlot, LuksLayout
    from fieldlab.evidence.volume_layers import RangeReader



def _runs_pbkdf2(hash_name: str) -> bool:
    try:
        hashlib.pbkdf2_hmac(hash_name, b"", b"", 1)
    except ValueError:
        return False
    return True


# The hashes a LUKS1 header names that hashlib's PBKDF2 runs here (libluksde reads no RIPEMD-160; whirlpool and any
# other are left to it).
HASHES = frozenset(name for name in ("sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160") if _runs_pbkdf2(name))


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
    return layout.hash_name in HASHES and sector_cipher(layout.cipher, layout.mode, bytes(layout.key_bytes)) is not None


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
    slot_key = hashlib.pbkdf2_hmac(layout.hash_name, secret, slot.salt, slot.iterations, layout.key_bytes)
    split_size = slot.stripes * layout.key_bytes
    material = data.read(slot.material_offset, -(-split_size // SECTOR) * SECTOR)
    cipher = sector_cipher(layout.cipher, layout.mode, slot_key)
    if cipher is None or len(material) < split_size:
        return None
    split = cipher.decrypt(0, material[:len(material) // SECTOR * SECTOR])
    if len(split) < split_size:  # the header's checks put the material inside the volume; a short read is not
        return None
    return af_merge(split[:split_size], layout.key_bytes, layout.hash_name)


def _digest(layout: LuksLayout, key: bytes) -> bytes:
    return hashlib.pbkdf2_hmac(layout.hash_name, key, layout.digest_salt, layout.digest_iterations, len(layout.digest))


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
