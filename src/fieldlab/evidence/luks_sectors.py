"""A LUKS volume's sectors decrypted here, with the `cryptography` package, for the ciphers cryptsetup writes.

cryptsetup's LUKS1 default has been aes-xts-plain64 since 2013 and was aes-cbc-essiv:sha256 before; aes-cbc-plain and
-plain64 and aes-xts-plain (a 32-bit sector number) cost nothing more.  Every other cipher or mode is left to
libluksde (``volume_layers._luks``), so nothing it opened stops opening.  Each 512-byte sector is encrypted on its
own, its number (from 0 at the payload's start, little-endian) as XTS tweak or CBC IV (ESSIV: the number encrypted
with the hash of the key).  One `cryptography` context a sector ran at 67 MiB/s here, libluksde at 90-120 MiB/s; so
a read is decrypted as a whole by one AES-ECB call over all its blocks, the per-block XTS tweaks (the sector's tweak
times x^j in GF(2^128)) and the CBC chaining done by NumPy on 64-bit words: 500-700 MiB/s for 64 KiB reads (TSK's
usual), 60 MiB/s for 4 KiB ones.  libluksde (20260902) also returns wrong bytes for a read that begins inside a
sector and runs into the next; TSK's reads begin on sector boundaries, so its walks were not affected.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

if TYPE_CHECKING:
    from fieldlab.evidence.luks_header import LuksLayout
    from fieldlab.evidence.luks_key import LuksMasterKey
    from fieldlab.evidence.volume_layers import RangeReader

SECTOR = 512
_BLOCKS = SECTOR // 16  # AES blocks a sector
_CHUNK_SECTORS = 512  # decrypted 256 KiB at a time, so a large read's NumPy temporaries stay in cache
_AES_KEY_BYTES = (16, 24, 32)


class SectorCipher(Protocol):
    def decrypt(self, first_sector: int, data: bytes) -> bytes:
        """``data`` (whole sectors) decrypted, its first sector numbered ``first_sector``."""
        ...


def sector_cipher(cipher: str, mode: str, key: bytes) -> SectorCipher | None:
    """The payload cipher ``cipher``-``mode`` with ``key`` (a master key, or a key slot's key); None when it is one
    only libluksde decrypts."""
    chaining, _, iv = mode.partition("-")
    if cipher != "aes" or iv not in ("plain", "plain64") and not (chaining == "cbc" and iv.startswith("essiv:")):
        return None
    if chaining == "xts" and len(key) in (32, 64):
        return _Xts(key, iv == "plain")
    if chaining != "cbc" or len(key) not in _AES_KEY_BYTES:
        return None
    if iv.startswith("essiv:"):
        hash_name = iv.removeprefix("essiv:")
        if hash_name not in hashlib.algorithms_available or hash_name.startswith("shake"):
            return None
        salt = hashlib.new(hash_name, key).digest()
        return _Cbc(key, salt, False) if len(salt) in _AES_KEY_BYTES else None
    return _Cbc(key, None, iv == "plain")


class _Xts:
    """XTS (IEEE 1619) without ciphertext stealing: a sector is 32 whole blocks."""

    def __init__(self, key: bytes, truncated: bool) -> None:
        half = len(key) // 2
        self._data_key, self._tweak_key, self._truncated = key[:half], key[half:], truncated

    def decrypt(self, first_sector: int, data: bytes) -> bytes:
        count = len(data) // SECTOR
        tweaks = _tweaks(_encrypted(self._tweak_key, _sector_numbers(first_sector, count, self._truncated)))
        masked = np.frombuffer(data, "<u8").reshape(count, _BLOCKS, 2) ^ tweaks
        return (_decrypted(self._data_key, masked) ^ tweaks).tobytes()


class _Cbc:
    """CBC restarted at each sector, its IV the sector's number (plain, plain64) or that number encrypted with the
    hash of the key (ESSIV)."""

    def __init__(self, key: bytes, essiv_key: bytes | None, truncated: bool) -> None:
        self._key, self._essiv_key, self._truncated = key, essiv_key, truncated

    def decrypt(self, first_sector: int, data: bytes) -> bytes:
        count = len(data) // SECTOR
        ivs = _sector_numbers(first_sector, count, self._truncated)
        if self._essiv_key is not None:
            ivs = _encrypted(self._essiv_key, ivs)
        blocks = np.frombuffer(data, "<u8").reshape(count, _BLOCKS, 2)
        chained = np.empty_like(blocks)
        chained[:, 0] = ivs.reshape(count, 2)
        chained[:, 1:] = blocks[:, :-1]
        return (_decrypted(self._key, blocks) ^ chained).tobytes()


def _sector_numbers(first: int, count: int, truncated: bool) -> np.ndarray:
    """One 16-byte block a sector: its number as a little-endian integer (plain: only the low 32 bits)."""
    numbers = np.zeros((count, 2), "<u8")
    numbers[:, 0] = np.arange(first, first + count, dtype="<u8")
    if truncated:
        numbers[:, 0] &= np.uint64(0xFFFF_FFFF)
    return numbers


def _encrypted(key: bytes, blocks: np.ndarray) -> np.ndarray:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return np.frombuffer(encryptor.update(blocks.tobytes()), "<u8").reshape(blocks.shape)


def _decrypted(key: bytes, blocks: np.ndarray) -> np.ndarray:
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return np.frombuffer(decryptor.update(blocks.tobytes()), "<u8").reshape(blocks.shape)


_POWERS = np.arange(_BLOCKS, dtype="<u8").reshape(1, _BLOCKS, 1)


def _tweaks(first: np.ndarray) -> np.ndarray:
    """Each sector's encrypted tweak T (``first``, one (low, high) word pair a sector) times x^j for its blocks j =
    0..31: the 128 bits shifted left by j, the j bits shifted out folded back in by x^128 = x^7 + x^2 + x + 1."""
    low, high = first[:, None, 0:1], first[:, None, 1:2]
    j = _POWERS
    carried = (low >> np.uint64(1)) >> (np.uint64(63) - j)  # low >> (64 - j), which is 0 for j = 0
    out = (high >> np.uint64(1)) >> (np.uint64(63) - j)
    folded = out ^ (out << np.uint64(1)) ^ (out << np.uint64(2)) ^ (out << np.uint64(7))
    return np.concatenate(((low << j) ^ folded, (high << j) | carried), axis=2)


class LuksPayload:
    """The decrypted payload of a LUKS volume as a range: whole sectors from the header's payload offset, each read
    decrypted from the sectors it touches.  ``master_key`` goes with it, so the scan hands it to its other
    processes (``ImageSource.unlock_for_other_processes``)."""

    def __init__(self, data: RangeReader, layout: LuksLayout, master_key: LuksMasterKey) -> None:
        cipher = sector_cipher(layout.cipher, layout.mode, master_key.key)
        if cipher is None:
            raise ValueError(f"{layout.cipher}-{layout.mode} is decrypted by libluksde, not here")
        self._data, self._start, self._cipher, self.master_key = data, layout.payload_offset, cipher, master_key
        self.size = max(0, data.size - layout.payload_offset) // SECTOR * SECTOR

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size or size <= 0:
            return b""
        end = min(offset + size, self.size)
        first = offset // SECTOR
        out = bytearray()
        for sector in range(first, -(-end // SECTOR), _CHUNK_SECTORS):
            count = min(_CHUNK_SECTORS, -(-end // SECTOR) - sector)
            data = self._data.read(self._start + sector * SECTOR, count * SECTOR)
            out += self._cipher.decrypt(sector, data[:len(data) // SECTOR * SECTOR])
            if len(data) < count * SECTOR:
                break  # the volume's end came early: what was read is what there is
        return bytes(out[offset - first * SECTOR:end - first * SECTOR])
