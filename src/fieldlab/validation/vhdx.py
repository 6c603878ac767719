"""VHDX images with reproducible bytes.

``qemu-img convert -O vhdx`` draws random values for the identifiers the format asks for: both headers'
FileWriteGuid, DataWriteGuid and sequence number, the log entries' LogGuid, and the virtual disk id (the
Page83Data metadata item).  ``make_reproducible`` replaces them with values derived from ``identity`` and
recomputes the CRC-32C checksums that cover them, following the VHDX specification (headers at 64 and 128 KiB,
4 KiB each; the region table at 192 KiB locating the metadata region; log entries of ``EntryLength`` bytes one
after another),
so the result is as valid as qemu's own file.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from pathlib import Path
from typing import BinaryIO

_HEADERS = (64 << 10, 128 << 10)
_HEADER_SIZE = 4096
_REGION_TABLE = 192 << 10
_METADATA_REGION = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
_PAGE83_ITEM = uuid.UUID("BECA12AB-B2E6-4523-93EF-C309E000C746").bytes_le


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ (0x82F63B78 if value & 1 else 0)
        table.append(value)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum VHDX uses; the structures it covers are a few KiB."""
    value = 0xFFFFFFFF
    for byte in data:
        value = _CRC32C[(value ^ byte) & 0xFF] ^ (value >> 8)
    return value ^ 0xFFFFFFFF


def _with_checksum(block: bytearray) -> bytearray:
    block[4:8] = b"\0\0\0\0"
    block[4:8] = struct.pack("<I", crc32c(bytes(block)))
    return block


def make_reproducible(path: Path, identity: bytes) -> None:
    """Rewrite the random identifiers of the VHDX at ``path`` from ``identity`` (in place) and fix the checksums."""
    def guid(label: str) -> bytes:
        return uuid.UUID(bytes=hashlib.sha256(identity + label.encode()).digest()[:16], version=4).bytes_le

    with open(path, "r+b") as image:
        headers = []
        for offset in _HEADERS:
            image.seek(offset)
            headers.append(bytearray(image.read(_HEADER_SIZE)))
        if any(h[:4] != b"head" for h in headers):
            raise ValueError(f"{path} is not a VHDX written as qemu-img writes it")
        newer = 1 if struct.unpack_from("<Q", headers[1], 8)[0] > struct.unpack_from("<Q", headers[0], 8)[0] else 0
        log_length, log_offset = struct.unpack_from("<IQ", headers[0], 68)
        for index, (offset, header) in enumerate(zip(_HEADERS, headers)):
            struct.pack_into("<Q", header, 8, 1 + (index == newer))
            header[16:32], header[32:48] = guid("file write"), guid("data write")
            image.seek(offset)
            image.write(_with_checksum(header))
        _rewrite_log_entries(image, log_offset, log_length, guid("log"))
        _rewrite_disk_id(image, guid("virtual disk"))


def _rewrite_log_entries(image: BinaryIO, log_offset: int, log_length: int, log_guid: bytes) -> None:
    """Every log entry qemu wrote (one per metadata update, each a multiple of 4 KiB) carries the LogGuid."""
    cursor, end = log_offset, log_offset + log_length
    while cursor + 64 <= end:
        image.seek(cursor)
        head = image.read(64)
        if head[:4] != b"loge":
            return
        length = struct.unpack_from("<I", head, 8)[0]
        if length < 4096 or length % 4096 or cursor + length > end:
            raise ValueError(f"a VHDX log entry at {cursor} has an impossible length {length}")
        image.seek(cursor)
        entry = bytearray(image.read(length))
        entry[32:48] = log_guid
        image.seek(cursor)
        image.write(_with_checksum(entry))
        cursor += length


def _rewrite_disk_id(image: BinaryIO, disk_id: bytes) -> None:
    """The Page83Data item of the metadata region: found through the region table and the metadata table."""
    image.seek(_REGION_TABLE)
    table = image.read(64 << 10)
    count = struct.unpack_from("<I", table, 8)[0]
    for index in range(min(count, 2047)):
        entry = 16 + 32 * index
        if table[entry: entry + 16] == _METADATA_REGION:
            metadata_at = struct.unpack_from("<Q", table, entry + 16)[0]
            break
    else:
        raise ValueError("the VHDX region table names no metadata region")
    image.seek(metadata_at)
    metadata = image.read(64 << 10)
    for index in range(min(struct.unpack_from("<H", metadata, 10)[0], 2047)):
        entry = 32 + 32 * index
        if metadata[entry: entry + 16] == _PAGE83_ITEM:
            image.seek(metadata_at + struct.unpack_from("<I", metadata, entry + 16)[0])
            image.write(disk_id)
            return
    raise ValueError("the VHDX metadata names no virtual disk id")
