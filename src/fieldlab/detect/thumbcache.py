"""Windows Vista to 11 ``thumbcache_*.db``: a file header, then entries back to back, each starting "CMMM".

Layouts follow Joachim Metz's libwtcdb format notes and Eric Kutcher's
Thumbcache Viewer, checked against a real Windows 10 cache.  All integers are
little-endian.

File header, 24 bytes: "CMMM", format version (20 Vista, 21 Windows 7, 30
Windows 8, 31 Windows 8.1, 32 Windows 10 and 11), cache type (which size), then
the offset of the first entry (at 12 up to version 21, at 16 from 30 on).

Entry: "CMMM", entry size, entry hash (64 bits, the entry's key), [Vista only:
the file extension, 4 UTF-16 characters], identifier size, padding size, data
size, [from version 30: width, height], an unknown 32-bit value, data checksum,
header checksum; then the identifier (UTF-16, usually the hash in hex),
padding, and the picture (BMP, JPEG or PNG).  The entry size may exceed what
the entry uses; the slack is zeros.

The first unused entry has hash 0 and spans the free space to the end of the
file.  Entries of thumbnails Windows has discarded can survive in that space,
so it is searched for entry signatures like any damaged gap (quietly: a
free-space gap without entries is normal), and what is found is noted.

Checksums are a CRC-64 (reflected polynomial 0x92C64265D32139A4, the table in
thumbcache.dll).  The header's runs over the header up to the checksum, from
all ones; the data's is the CRC of the first 1024 bytes from 0, xor-ed with a
CRC from 0 over the first 4 bytes of each 400-byte block after them.  A
mismatch is noted, never fatal: the bytes may still show the picture.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from fieldlab.detect.thumbnails import (
    MAX_PICTURE_BYTES,
    ThumbnailCacheError,
    ThumbnailEntry,
    picture_kind,
    read_span,
)

_SIGNATURE = b"CMMM"
_FILE_HEADER_SIZE = 24
_SEARCH_CHUNK = 64 << 10  # gaps are usually small; the search reads on until it finds one
_CRC64_POLYNOMIAL = 0x92C64265D32139A4
_ALL_ONES = (1 << 64) - 1


@dataclass(frozen=True)
class _Layout:
    header_size: int  # fixed part of an entry, checksums included
    sizes_at: int  # identifier size, padding size, data size: three uint32 from here
    checksums_at: int  # data checksum, then header checksum: two uint64 from here


_VISTA = _Layout(header_size=56, sizes_at=24, checksums_at=40)
_WINDOWS_7 = _Layout(header_size=48, sizes_at=16, checksums_at=32)
_WINDOWS_8 = _Layout(header_size=56, sizes_at=16, checksums_at=40)
_LAYOUTS = {20: _VISTA, 21: _WINDOWS_7, 30: _WINDOWS_8, 31: _WINDOWS_8, 32: _WINDOWS_8}
_NEWEST = 32


def _crc64_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC64_TABLE = _crc64_table()


def _crc64(data: bytes, crc: int) -> int:
    for byte in data:
        crc = _CRC64_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def header_checksum(header: bytes) -> int:
    """The checksum Windows stores for an entry header; ``header`` runs up to the checksum itself."""
    return _crc64(header, _ALL_ONES)


def data_checksum(data: bytes) -> int:
    """The checksum Windows stores for an entry's picture: exact for 1 KB, then a sample every 400 bytes."""
    crc = _crc64(data[:1024], 0)
    sampled = 0
    for block in range(1024, len(data), 400):
        sampled = _crc64(data[block:block + 4], sampled)
    return crc ^ sampled


def entries(stream: BinaryIO, size: int) -> Iterator[ThumbnailEntry | ThumbnailCacheError]:
    """The entries of a thumbcache file; raises at once if it is not one.  An index file (IMMM) has none."""
    stream.seek(0)
    header = stream.read(_FILE_HEADER_SIZE)
    if header.startswith(b"IMMM") or header[4:8] == b"IMMM":
        return iter(())
    if len(header) < _FILE_HEADER_SIZE or not header.startswith(_SIGNATURE):
        raise ThumbnailCacheError("not a Windows thumbcache file: it does not start with a CMMM header")
    version = int.from_bytes(header[4:8], "little")
    problems = []
    if version in _LAYOUTS:
        layout = _LAYOUTS[version]
    elif version > _NEWEST:
        layout = _LAYOUTS[_NEWEST]
        problems.append(ThumbnailCacheError(f"thumbcache format version {version} is newer than any known; "
                                            f"read as version {_NEWEST}"))
    else:
        raise ThumbnailCacheError(f"thumbcache format version {version} is not one Windows has used "
                                  f"(20, 21, 30, 31, 32)")
    first = int.from_bytes(header[12:16] if version < 30 else header[16:20], "little")
    return _walk(stream, size, layout, first, problems)


def _walk(stream: BinaryIO, size: int, layout: _Layout, first: int,
          problems: list[ThumbnailCacheError]) -> Iterator[ThumbnailEntry | ThumbnailCacheError]:
    """Entry after entry; past damage, on from the next signature.  Each step moves forward, so it always ends."""
    yield from problems
    pos = first
    if not _FILE_HEADER_SIZE <= first < size:
        # 0: the header does not say; the header's own size in a file that is only the header: an empty cache
        # (Windows keeps one for every thumbnail size, whether or not it ever stored a picture there)
        if first not in (0, size):
            yield ThumbnailCacheError(f"the header puts the first entry at {first}, outside the entries: "
                                      f"searched for them instead")
        pos = _FILE_HEADER_SIZE
    keys: set[str] = set()
    free_until = 0
    while pos + layout.header_size <= size:
        stream.seek(pos)
        header = stream.read(layout.header_size)
        if len(header) < layout.header_size:
            yield ThumbnailCacheError(f"the file could not be read beyond offset {pos}")
            return
        if not header.startswith(_SIGNATURE):
            found = _next_signature(stream, pos + 1, size)
            if pos >= free_until:
                yield ThumbnailCacheError(f"{found - pos} bytes at offset {pos} are not a cache entry: skipped")
            pos = found
            continue
        entry_size, entry_hash = struct.unpack_from("<IQ", header, 4)
        id_size, padding, picture_size = struct.unpack_from("<3I", header, layout.sizes_at)
        stored_data_checksum, stored_header_checksum = struct.unpack_from("<2Q", header, layout.checksums_at)
        if not layout.header_size <= entry_size <= size - pos:
            where = "less than its header" if entry_size < layout.header_size else "past the end of the file"
            yield ThumbnailCacheError(f"the entry at offset {pos} claims {entry_size} bytes, {where}")
            pos = _next_signature(stream, pos + 4, size)
            continue
        if entry_hash == 0 and id_size == 0 and picture_size == 0:  # the free-space record
            free_until = max(free_until, pos + entry_size)
            pos += layout.header_size
            continue
        used = layout.header_size + id_size + padding + picture_size
        if used > entry_size:
            yield ThumbnailCacheError(f"the entry at offset {pos} holds {used} bytes of identifier, padding and "
                                      f"picture in {entry_size}: skipped")
        elif picture_size > MAX_PICTURE_BYTES:
            yield ThumbnailCacheError(f"the entry at offset {pos} claims a {picture_size}-byte picture: skipped")
        else:
            notes = []
            if pos < free_until:
                notes.append("found in the cache's free space")
            if header_checksum(header[:layout.checksums_at + 8]) != stored_header_checksum:
                notes.append("header checksum mismatch")
            offset, kind = -1, "unknown"
            if picture_size == 0:
                notes.append("empty entry")
            else:
                offset = pos + layout.header_size + id_size + padding
                try:
                    picture = read_span(stream, size, offset, picture_size)
                except ThumbnailCacheError as problem:  # the file is shorter than it was said to be
                    yield problem
                    return
                kind = picture_kind(picture)
                if data_checksum(picture) != stored_data_checksum:
                    notes.append("data checksum mismatch")
            key = f"{entry_hash:016x}"
            if key in keys:  # a stale copy of an entry: the address must still be unique
                key = f"{key}@{pos}"
            keys.add(key)
            yield ThumbnailEntry(key=key, name=None, offset=offset, size=picture_size, kind=kind, modified=None,
                                 note="; ".join(notes) or None)
        pos += entry_size
    if pos < size and pos >= free_until:
        yield ThumbnailCacheError(f"{size - pos} bytes at offset {pos}, the end of the file, are not a whole entry")


def _next_signature(stream: BinaryIO, start: int, size: int) -> int:
    """Offset of the next "CMMM" at or after ``start``, or ``size`` if there is none."""
    pos = start
    while pos < size:
        stream.seek(pos)
        chunk = stream.read(min(_SEARCH_CHUNK, size - pos))
        if not chunk:
            break
        found = chunk.find(_SIGNATURE)
        if found >= 0:
            return pos + found
        if pos + len(chunk) >= size:
            break
        pos += max(1, len(chunk) - len(_SIGNATURE) + 1)
    return size
