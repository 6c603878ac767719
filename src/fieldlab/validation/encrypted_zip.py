"""Password-protected zips written by hand: Python's ``zipfile`` reads them but cannot write them.

Two encryptions, as the APPNOTE and WinZip's AE-x note publish them: traditional PKWARE ("ZipCrypto", a
12-byte encryption header and a CRC-driven keystream) and WinZip AES (method 99, PBKDF2-HMAC-SHA1 keys,
AES-CTR with a little-endian counter, a 10-byte HMAC-SHA1 authentication code).  Members are deflated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import zlib
from typing import Callable

from Cryptodome.Cipher import AES
from Cryptodome.Util import Counter

_DOS_TIME, _DOS_DATE = (12 << 11) | (30 << 5), ((2024 - 1980) << 9) | (5 << 5) | 17  # 2024-05-17 12:30:00


def encrypted_zip(entries: dict[str, bytes], password: str, aes: bool = False,
                  salt: Callable[[int], bytes] = os.urandom) -> bytes:
    """Every member encrypted with ``password``: ZipCrypto, or WinZip AES-256 (AE-1) with ``aes``.

    ``salt`` gives the random header and salt bytes; a seeded one makes the archive reproducible (the
    validation corpus)."""
    out, central = bytearray(), bytearray()
    for name, data in entries.items():
        raw = name.encode("utf-8")
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = deflater.compress(data) + deflater.flush()
        crc = zlib.crc32(data)
        if aes:
            payload, method, version, extra = _winzip_aes(packed, password, salt), 99, 51, _aes_extra()
        else:
            payload, method, version, extra = _zipcrypto(packed, password, crc, salt), 8, 20, b""
        fields = struct.pack("<HHHHHIII", version, 0x0801, method, _DOS_TIME, _DOS_DATE, crc, len(payload), len(data))
        offset = len(out)
        out += b"PK\x03\x04" + fields + struct.pack("<HH", len(raw), len(extra)) + raw + extra + payload
        central += (b"PK\x01\x02" + struct.pack("<H", version) + fields
                    + struct.pack("<HHHHHII", len(raw), len(extra), 0, 0, 0, 0, offset) + raw + extra)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)


def _zipcrypto(packed: bytes, password: str, crc: int, salt: Callable[[int], bytes]) -> bytes:
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(byte: int) -> None:
        keys[0] = _crc_byte(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = _crc_byte(keys[2], keys[1] >> 24)

    for byte in password.encode("utf-8"):
        update(byte)
    header = salt(11) + bytes([crc >> 24])  # its last byte lets a reader check the password
    out = bytearray()
    for byte in header + packed:
        temp = (keys[2] | 2) & 0xFFFF
        out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        update(byte)
    return bytes(out)


def _crc_byte(crc: int, byte: int) -> int:
    return zlib.crc32(bytes([byte]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def _winzip_aes(packed: bytes, password: str, random_bytes: Callable[[int], bytes]) -> bytes:
    salt = random_bytes(16)
    derived = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), salt, 1000, 2 * 32 + 2)
    key, mac_key, check = derived[:32], derived[32:64], derived[64:]
    cipher = AES.new(key, AES.MODE_CTR, counter=Counter.new(128, initial_value=1, little_endian=True))
    encrypted = cipher.encrypt(packed)
    return salt + check + encrypted + hmac.new(mac_key, encrypted, hashlib.sha1).digest()[:10]


def _aes_extra() -> bytes:
    """The 0x9901 record: AE-1 (the CRC is kept), vendor "AE", AES-256, the real method (deflate)."""
    return struct.pack("<HHH2sBH", 0x9901, 7, 1, b"AE", 3, 8)
