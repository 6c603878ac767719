"""A LUKS volume's sectors decrypted here, with the `cryptography` package, for the ciphers cryptsetup writes.

cryptsetup's LUKS1 default has been aes-xts-plain64 since 2013 and was aes-cbc-essiv:sha256 before; aes-cbc-plain and
-plain64 and aes-xts-plain (a 32-bit sector number) cost nothing more.  Every other cipher or mode is left to
libluksde (``volume_layers._luks``) for LUKS1, and refused for LUKS2 (``luks2_header``).  Each sector (512 bytes;
LUKS2 also 1024 to 4096) is encrypted on its own, its IV number (little-endian) as XTS tweak or CBC IV (ESSIV: the
number encrypted with the hash of the key).  The number counts 512-byte sectors from the payload's start, whatever
the sector size, plus LUKS2's ``iv_tweak``: dm-crypt is not given ``iv_large_sectors`` for LUKS2, and cryptsetup's
own user-space decryption (``crypt_storage``, used by re-encryption) steps the IV by sector_size / 512 a sector.
One `cryptography` context a sector ran at 67 MiB/s here, libluksde at 90-120 MiB/s; so a read is decrypted as a
whole by one AES-ECB call over all its blocks, the per-block XTS tweaks (the sector's tweak times x^j in GF(2^128))
and the CBC chaining done by NumPy on 64-bit words: 500-700 MiB/s for 64 KiB reads (TSK's usual), 60 MiB/s for
4 KiB ones.  libluksde (20260902) also returns wrong bytes for a read that begins inside a sector and runs into the
next; TSK's reads begin on sector boundaries, so its walks were not affected.
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
_CHUNK_BYTES = 256 * 1024  # decrypted a quarter MiB at a time, so a large read's NumPy temporaries stay in cache
_AES_KEY_BYTES = (16, 24, 32)


class SectorCipher(Protocol):
    def decrypt(self, first_iv: int, data: bytes) -> bytes:
        """``data`` (whole sectors) decrypted, its first sector's IV number ``first_iv`` (in 512-byte sectors)."""
        ...


def sector_cipher(cipher: str, mode: str, key: bytes, sector_size: int = SECTOR) -> SectorCipher | None:
    """The payload cipher ``cipher``-``mode`` with ``key`` (a volume key, or a key slot's key) on sectors of
    ``sector_size`` bytes; None when it is one not decrypted here."""
    chaining, _, iv = mode.partition("-")
    if cipher != "aes" or iv not in ("plain", "plain64") and not (chaining == "cbc" and iv.startswith("essiv:")):
        return None
    if chaining == "xts" and len(key) in (32, 64):
        return _Xts(key, sector_size, iv == "plain")
    if chaining != "cbc" or len(key) not in _AES_KEY_BYTES:
        return None
    if iv.startswith("essiv:"):
        hash_name = iv.removeprefix("essiv:")
        if hash_name not in hashlib.algorithms_available or hash_name.startswith("shake"):
            return None
        salt = hashlib.new(hash_name, key).digest()
        return _Cbc(key, sector_size, salt, False) if len(salt) in _AES_KEY_BYTES else None
    return _Cbc(key, sector_size, None, iv == "plain")


class _Xts:
    """XTS (IEEE 1619) without ciphertext stealing: a sector is 32 to 256 whole blocks."""

    def __init__(self, key: bytes, sector_size: int, truncated: bool) -> None:
        half = len(key) // 2
        self._data_key, self._tweak_key, self._truncated = key[:half], key[half:], truncated
        self._sector_size = sector_size

    def decrypt(self, first_iv: int, data: bytes) -> bytes:
        count, blocks = len(data) // self._sector_size, self._sector_size // 16
        ivs = _iv_numbers(first_iv, count, self._sector_size, self._truncated)
        tweaks = _tweaks(_encrypted(self._tweak_key, ivs), blocks)
        masked = np.frombuffer(data, "<u8").reshape(count, blocks, 2) ^ tweaks
        return (_decrypted(self._data_key, masked) ^ tweaks).tobytes()


class _Cbc:
    """CBC restarted at each sector, its IV the sector's number (plain, plain64) or that number encrypted with the
    hash of the key (ESSIV)."""

    def __init__(self, key: bytes, sector_size: int, essiv_key: bytes | None, truncated: bool) -> None:
        self._key, self._essiv_key, self._truncated = key, essiv_key, truncated
        self._sector_size = sector_size

    def decrypt(self, first_iv: int, data: bytes) -> bytes:
        count = len(data) // self._sector_size
        ivs = _iv_numbers(first_iv, count, self._sector_size, self._truncated)
        if self._essiv_key is not None:
            ivs = _encrypted(self._essiv_key, ivs)
        blocks = np.frombuffer(data, "<u8").reshape(count, self._sector_size // 16, 2)
        chained = np.empty_like(blocks)
        chained[:, 0] = ivs.reshape(count, 2)
        chained[:, 1:] = blocks[:, :-1]
        return (_decrypted(self._key, blocks) ^ chained).tobytes()


def _iv_numbers(first: int, count: int, sector_size: int, truncated: bool) -> np.ndarray:
    """One 16-byte block a sector: its IV number, stepping by the 512-byte sectors it spans, as a little-endian
    integer (plain: only the low 32 bits)."""
    numbers = np.zeros((count, 2), "<u8")
    step = sector_size // SECTOR
    numbers[:, 0] = np.arange(first, first + count * step, step, dtype="<u8")
    if truncated:
        numbers[:, 0] &= np.uint64(0xFFFF_FFFF)
    return numbers


def _encrypted(key: bytes, blocks: np.ndarray) -> np.ndarray:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return np.frombuffer(encryptor.update(blocks.tobytes()), "<u8").reshape(blocks.shape)


def _decrypted(key: bytes, blocks: np.ndarray) -> np.ndarray:
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return np.frombuffer(decryptor.update(blocks.tobytes()), "<u8").reshape(blocks.shape)


_GROUP = 32  # blocks of a 512-byte sector; a larger sector's tweaks are built 32 blocks at a time
_POWERS = np.arange(_GROUP, dtype="<u8").reshape(1, _GROUP, 1)
_X_TO_THE_GROUP = np.array([_GROUP], dtype="<u8").reshape(1, 1, 1)


def _tweaks(first: np.ndarray, blocks: int) -> np.ndarray:
    """Each sector's encrypted tweak T (``first``, one (low, high) word pair a sector) times x^j for its blocks j:
    T x^(32g) for each group g of 32 blocks, then each group's times x^0..x^31."""
    groups = [first]
    for _ in range(1, blocks // _GROUP):
        groups.append(_times_x(groups[-1], _X_TO_THE_GROUP)[:, 0])
    starts = np.stack(groups, axis=1).reshape(-1, 2)
    return _times_x(starts, _POWERS).reshape(len(first), blocks, 2)


def _times_x(first: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """Each 128-bit value (one (low, high) word pair a row) times x^j for each j of ``powers`` (at most 32): the
    128 bits shifted left by j, the j bits shifted out folded back in by x^128 = x^7 + x^2 + x + 1."""
    low, high = first[:, None, 0:1], first[:, None, 1:2]
    j = powers
    carried = (low >> np.uint64(1)) >> (np.uint64(63) - j)  # low >> (64 - j), which is 0 for j = 0
    out = (high >> np.uint64(1)) >> (np.uint64(63) - j)
    folded = out ^ (out << np.uint64(1)) ^ (out << np.uint64(2)) ^ (out << np.uint64(7))
    return np.concatenate(((low << j) ^ folded, (high << j) | carried), axis=2)


class LuksPayload:
    """The decrypted payload of a LUKS volume as a range: whole sectors from the header's payload offset (to its
    stated size, or the volume's end), each read decrypted from the sectors it touches.  ``master_key`` goes with
    it, so the scan hands it to its other processes (``ImageSource.unlock_for_other_processes``)."""

    def __init__(self, data: RangeReader, layout: LuksLayout, master_key: LuksMasterKey) -> None:
        cipher = sector_cipher(layout.cipher, layout.mode, master_key.key, layout.sector_size)
        if cipher is None:
            raise ValueError(f"{layout.cipher}-{layout.mode} is decrypted by libluksde, not here")
        self._data, self._start, self._cipher, self.master_key = data, layout.payload_offset, cipher, master_key
        self._sector, self._first_iv = layout.sector_size, layout.iv_offset
        there = max(0, data.size - layout.payload_offset)
        stated = there if layout.payload_size is None else min(layout.payload_size, there)
        self.size = stated // self._sector * self._sector

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size or size <= 0:
            return b""
        sector_size = self._sector
        end = min(offset + size, self.size)
        first, last = offset // sector_size, -(-end // sector_size)
        chunk = max(1, _CHUNK_BYTES // sector_size)
        out = bytearray()
        for sector in range(first, last, chunk):
            count = min(chunk, last - sector)
            data = self._data.read(self._start + sector * sector_size, count * sector_size)
            iv = self._first_iv + sector * (sector_size // SECTOR)
            out += self._cipher.decrypt(iv, data[:len(data) // sector_size * sector_size])
            if len(data) < count * sector_size:
                break  # the volume's end came early: what was read is what there is
        return bytes(out[offset - first * sector_size:end - first * sector_size])
