"""RAR 4 and RAR 5 archives written by hand, following the published formats: no RAR encoder may be shipped.

Members are stored (method "store", no compression), which is all the tests need to check listing, reading
back, nesting, damage and the encryption flags; the block and header layouts, CRCs and flags are the real ones
(RAR 4: ``technote.txt`` of RAR 3.x/4.x; RAR 5: "RAR 5.0 archive format" on rarlab.com).

An ``encrypted`` member only *says* it is encrypted (flag, salt, encryption record): its data is random bytes of
the padded length, which is all a reader without a RAR decryptor ever sees of one.
"""

from __future__ import annotations

import calendar
import os
import struct
import time
import zlib
from dataclasses import dataclass

RAR4_MARKER = b"Rar!\x1a\x07\x00"
RAR5_SIGNATURE = b"Rar!\x1a\x07\x01\x00"


@dataclass(frozen=True)
class RarMember:
    name: str
    data: bytes
    mtime: int = 1_600_000_000  # UTC seconds; RAR 4 keeps even seconds only (DOS time)
    encrypted: bool = False
    declared: int | None = None  # an unpacked size that lies (a bomb's), instead of the data's length

    @property
    def size(self) -> int:
        return len(self.data) if self.declared is None else self.declared


# RAR 4 ------------------------------------------------------------------------------------

_MHD_SOLID, _MHD_PASSWORD = 0x0008, 0x0080
_LHD_PASSWORD, _LHD_SOLID, _LHD_LARGE, _LHD_UNICODE, _LHD_SALT, _LONG_BLOCK = 0x0004, 0x0010, 0x0100, 0x0200, 0x0400, 0x8000


def rar4(members: list[RarMember], solid: bool = False, encrypted_headers: bool = False) -> bytes:
    """Marker block, main header, one file header and its data per member, end-of-archive block."""
    main_flags = (_MHD_SOLID if solid else 0) | (_MHD_PASSWORD if encrypted_headers else 0)
    out = bytearray(RAR4_MARKER + _rar4_block(0x73, main_flags, b"\0" * 6))
    if encrypted_headers:  # every later block is AES-encrypted after an 8-byte salt: noise to any reader without it
        return bytes(out + os.urandom(8) + os.urandom(16 * 8))
    for position, member in enumerate(members):
        out += _rar4_file(member, solid and position > 0)
    out += _rar4_block(0x7B, 0x4000, b"")
    return bytes(out)


def _rar4_file(member: RarMember, solid: bool) -> bytes:
    data = _encrypted_noise(member.data) if member.encrypted else member.data
    name = member.name.encode("utf-8")
    flags = _LONG_BLOCK | (_LHD_SOLID if solid else 0)
    if not member.name.isascii():
        flags |= _LHD_UNICODE  # a Unicode name with no zero byte in it is UTF-8
    salt = b""
    if member.encrypted:
        flags |= _LHD_PASSWORD | _LHD_SALT
        salt = os.urandom(8)
    fields = struct.pack(
        "<IIBIIBBHI", len(data) & 0xFFFFFFFF, member.size & 0xFFFFFFFF, 2, zlib.crc32(member.data),
        _dos_time(member.mtime), 29, 0x30, len(name), 0x20,  # unpack version 2.9, method store, "archive" attribute
    )
    if member.size >> 32:  # the high halves of the sizes, after the attributes
        flags |= _LHD_LARGE
        fields += struct.pack("<II", len(data) >> 32, member.size >> 32)
    return _rar4_block(0x74, flags, fields + name + salt) + data


def _rar4_block(kind: int, flags: int, body: bytes) -> bytes:
    """HEAD_CRC (low 16 bits of the CRC32 of the rest of the header), HEAD_TYPE, HEAD_FLAGS, HEAD_SIZE, body."""
    rest = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def _dos_time(mtime: int) -> int:
    t = time.gmtime(mtime)
    date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    return (date << 16) | (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)


def dos_time_as_utc(mtime: int) -> float:
    """What a RAR 4 member's time reads back as: DOS time keeps even seconds."""
    return float(calendar.timegm(time.gmtime(mtime - mtime % 2)))


# RAR 5 ------------------------------------------------------------------------------------

_HEAD_MAIN, _HEAD_FILE, _HEAD_CRYPT, _HEAD_END = 1, 2, 4, 5
_HFL_EXTRA, _HFL_DATA = 0x0001, 0x0002
_FILE_MTIME, _FILE_CRC = 0x0002, 0x0004
_ARCHIVE_SOLID = 0x0004
_EXTRA_CRYPT = 0x01


def rar5(members: list[RarMember], solid: bool = False, encrypted_headers: bool = False) -> bytes:
    """Signature, main archive header, one file header and its data per member, end-of-archive header.

    ``solid`` sets the archive's solid flag, which makes a reader expand every member in order, even to skip one;
    the members' own solid bit stays clear: they are stored, and a stored member cannot continue a compression
    window (libarchive refuses one that says it does).
    """
    out = bytearray(RAR5_SIGNATURE)
    if encrypted_headers:  # the archive encryption header, then each header behind its own 16-byte IV: noise here
        crypt = _vint(0) + _vint(0x0001) + bytes([15]) + os.urandom(16) + os.urandom(12)
        return bytes(out + _rar5_header(_HEAD_CRYPT, 0, crypt) + os.urandom(16) + os.urandom(64))
    out += _rar5_header(_HEAD_MAIN, 0, _vint(_ARCHIVE_SOLID if solid else 0))
    for member in members:
        out += _rar5_file(member)
    out += _rar5_header(_HEAD_END, 0, _vint(0))
    return bytes(out)


def _rar5_file(member: RarMember) -> bytes:
    data = _encrypted_noise(member.data) if member.encrypted else member.data
    name = member.name.encode("utf-8")
    body = (
        _vint(_FILE_MTIME | _FILE_CRC) + _vint(member.size) + _vint(0x20)  # file flags, unpacked size, attributes
        + struct.pack("<II", member.mtime, zlib.crc32(member.data))
        + _vint(0)  # compression information: version 0, method 0 (store), no solid bit, smallest dictionary
        + _vint(0) + _vint(len(name)) + name  # host OS Windows, name
    )
    extra = b""
    if member.encrypted:  # AES-256, password check present, KDF 2^15, salt, IV, check value
        record = _vint(_EXTRA_CRYPT) + _vint(0) + _vint(0x0001) + bytes([15]) + os.urandom(16 + 16 + 12)
        extra = _vint(len(record)) + record
    return _rar5_header(_HEAD_FILE, _HFL_DATA, body, extra, len(data)) + data


def _rar5_header(kind: int, flags: int, body: bytes, extra: bytes = b"", data_size: int | None = None) -> bytes:
    """CRC32 (of what follows it), header size (vint), type, flags, [extra size], [data size], body, extra."""
    flags |= _HFL_EXTRA if extra else 0
    header = _vint(kind) + _vint(flags)
    if extra:
        header += _vint(len(extra))
    if data_size is not None:
        header += _vint(data_size)
    header += body + extra
    sized = _vint(len(header)) + header
    return struct.pack("<I", zlib.crc32(sized)) + sized


def _vint(value: int) -> bytes:
    """RAR 5's variable-length integer: 7 bits a byte, lowest first, high bit set on all but the last."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _encrypted_noise(data: bytes) -> bytes:
    return os.urandom(max(16, -(-len(data) // 16) * 16))
