"""Thumbnail caches written the way Windows and Android write them, holding procedural pictures only.

``thumbcache`` lays out a ``thumbcache_*.db`` as the real Windows 10 cache in
the shared test data shows it (and as the format notes give the older
versions): a 24-byte header, entries back to back, a hash-0 record spanning the
free space, the file rounded up to whole mebibytes.  ``compound_file`` is a
minimal OLE writer (512-byte sectors, small streams in the mini stream), enough
for ``thumbs_db_streams``' Thumbs.db.  ``thumbdata`` fills Android's 10 000-byte
slots: status byte, 64-bit magic and length (big-endian), then the JPEG.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from PIL import Image

from fieldlab.demo import procedural_jpeg
from fieldlab.detect.thumbcache import data_checksum, header_checksum

MEBIBYTE = 1 << 20
THUMBDATA_SLOT = 10_000
THUMBDATA_HEADER = 13
_FILETIME_UNIX_EPOCH = 116_444_736_000_000_000


def thumbnail(seed: int, width: int = 96, height: int = 72, quality: int = 75, **save: object) -> bytes:
    """A small procedural JPEG, as a cache would hold; ``save`` options re-encode it (``progressive=True``)."""
    jpeg = procedural_jpeg(seed, width, height, quality=quality)
    if not save:
        return jpeg
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(buffer, format="JPEG", quality=quality, **save)
    return buffer.getvalue()


def without_segments(jpeg: bytes, markers: Iterable[int]) -> bytes:
    """``jpeg`` with every segment of the given markers (0xC4 Huffman, 0xDB quantisation tables) left out."""
    dropped = set(markers)
    out, pos = bytearray(jpeg[:2]), 2
    while jpeg[pos + 1] != 0xDA:
        end = pos + 2 + int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        if jpeg[pos + 1] not in dropped:
            out += jpeg[pos:end]
        pos = end
    return bytes(out + jpeg[pos:])


# --------------------------------------------------------------------------- Windows thumbcache


@dataclass(frozen=True)
class CachedPicture:
    entry_hash: int
    picture: bytes  # b"" for an entry Windows keeps without a thumbnail
    width: int = 256
    height: int = 256
    slack: int = 0  # zero bytes after the picture that the entry size still covers (Windows leaves some)


_ENTRY_HEADER_SIZE = {20: 56, 21: 48, 30: 56, 31: 56, 32: 56}


def thumbcache(pictures: Iterable[CachedPicture], version: int = 32, cache_type: int = 4) -> bytes:
    """A whole ``thumbcache_*.db`` of ``version`` (20, 21, 30, 31 or 32)."""
    pictures = list(pictures)
    body = b"".join(_cache_entry(picture, version) for picture in pictures)
    first, free_at = 24, 24 + len(body)
    total = math.ceil((free_at + _ENTRY_HEADER_SIZE[version]) / MEBIBYTE) * MEBIBYTE
    free = _cache_entry(CachedPicture(0, b"", 0, 0, total - free_at - _ENTRY_HEADER_SIZE[version]), version,
                        identifier="")
    if version < 30:
        header = struct.pack("<4s5I", b"CMMM", version, cache_type, first, free_at, len(pictures))
    else:
        header = struct.pack("<4s5I", b"CMMM", version, cache_type, 0, first, free_at)
    return header + body + free


def _cache_entry(picture: CachedPicture, version: int, identifier: str | None = None) -> bytes:
    identifier_bytes = (f"{picture.entry_hash:x}" if identifier is None else identifier).encode("utf-16-le")
    size = _ENTRY_HEADER_SIZE[version] + len(identifier_bytes) + len(picture.picture) + picture.slack
    start = struct.pack("<4sIQ", b"CMMM", size, picture.entry_hash)
    sizes = struct.pack("<3I", len(identifier_bytes), 0, len(picture.picture))
    if version == 20:
        fields = start + "jpg\0".encode("utf-16-le") + sizes + struct.pack("<I", 0)
    elif version == 21:
        fields = start + sizes + struct.pack("<I", 0)
    else:
        fields = start + sizes + struct.pack("<3I", picture.width, picture.height, 0)
    fields += struct.pack("<Q", data_checksum(picture.picture) if picture.picture else 0)
    fields += struct.pack("<Q", header_checksum(fields))
    return fields + identifier_bytes + picture.picture + bytes(picture.slack)


# --------------------------------------------------------------------------- Windows XP Thumbs.db


@dataclass(frozen=True)
class CatalogPicture:
    id: int
    name: str
    modified: float  # UTC epoch seconds, whole hundreds of nanoseconds
    picture: bytes


def catalog_entry(picture: CatalogPicture) -> bytes:
    name = picture.name.encode("utf-16-le") + b"\0\0\0\0"  # terminator and two bytes of padding, as XP writes
    filetime = round(picture.modified * 10_000_000) + _FILETIME_UNIX_EPOCH
    return struct.pack("<IIQ", 16 + len(name), picture.id, filetime) + name


def thumbs_db_streams(pictures: Iterable[CatalogPicture], width: int = 96, height: int = 96) -> dict[str, bytes]:
    """The streams of an XP Thumbs.db: the Catalog, and each picture after its 12-byte header, named by reversed id."""
    pictures = list(pictures)
    streams = {"Catalog": struct.pack("<HHIII", 16, 7, len(pictures), width, height)
               + b"".join(map(catalog_entry, pictures))}
    for picture in pictures:
        streams[str(picture.id)[::-1]] = struct.pack("<3I", 12, 1, len(picture.picture)) + picture.picture
    return streams


_SECTOR, _MINI_SECTOR, _CUTOFF = 512, 64, 4096
_END_OF_CHAIN, _FREE, _FAT_SECTOR, _DIFAT_SECTOR, _NO_STREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFC, 0xFFFFFFFF
_HEADER_FAT_LIST, _PER_SECTOR = 109, _SECTOR // 4


def compound_file(streams: Mapping[str, bytes]) -> bytes:
    """An OLE compound file (version 3) holding ``streams`` in its root storage.

    Sectors, in order: the allocation table, the DIFAT sectors listing the
    allocation table's sectors beyond the header's 109 (files over 7 MB), the
    directory, the mini allocation table, the mini stream, then each large
    stream.  Directory siblings form a chain sorted the way [MS-CFB] compares
    names.
    """
    mini, mini_fat, starts = bytearray(), [], {}
    for name, data in streams.items():
        if len(data) < _CUTOFF:
            count = math.ceil(len(data) / _MINI_SECTOR)
            first = len(mini) // _MINI_SECTOR
            starts[name] = first if count else _END_OF_CHAIN
            mini_fat += [first + i + 1 for i in range(count - 1)] + [_END_OF_CHAIN] * bool(count)
            mini += data.ljust(count * _MINI_SECTOR, b"\0")
    names = list(streams)
    spans = {"directory": math.ceil((1 + len(names)) / 4), "mini_fat": math.ceil(len(mini_fat) * 4 / _SECTOR),
             "mini": math.ceil(len(mini) / _SECTOR)}
    spans |= {name: math.ceil(len(data) / _SECTOR) for name, data in streams.items() if len(data) >= _CUTOFF}
    fat_sectors, difat_sectors = 1, 0
    while fat_sectors * _PER_SECTOR < fat_sectors + difat_sectors + sum(spans.values()):
        fat_sectors += 1
        difat_sectors = math.ceil(max(0, fat_sectors - _HEADER_FAT_LIST) / (_PER_SECTOR - 1))
    fat = [_FAT_SECTOR] * fat_sectors + [_DIFAT_SECTOR] * difat_sectors
    first_sector = {}
    for part, count in spans.items():
        first_sector[part] = len(fat) if count else _END_OF_CHAIN
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [_END_OF_CHAIN] * bool(count)
    for name in streams:
        if len(streams[name]) >= _CUTOFF:
            starts[name] = first_sector[name]
    fat += [_FREE] * (fat_sectors * _PER_SECTOR - len(fat))
    fat_list = list(range(fat_sectors)) + [_FREE] * (_HEADER_FAT_LIST + difat_sectors * (_PER_SECTOR - 1) - fat_sectors)
    difat = b""
    for index in range(difat_sectors):
        listed = fat_list[_HEADER_FAT_LIST + index * (_PER_SECTOR - 1):][:_PER_SECTOR - 1]
        following = fat_sectors + index + 1 if index + 1 < difat_sectors else _END_OF_CHAIN
        difat += struct.pack(f"<{_PER_SECTOR}I", *listed, following)

    order = sorted(range(len(names)), key=lambda i: (len(names[i]), names[i].upper()))
    siblings: dict[int, tuple[int | None, int | None]] = {}
    top = _balanced_tree([i + 1 for i in order], siblings)  # directory entry 0 is the root storage
    directory = _directory_entry("Root Entry", 5, first_sector["mini"], len(mini), child=top)
    for index, name in enumerate(names, start=1):
        directory += _directory_entry(name, 2, starts[name], len(streams[name]), *siblings[index])
    directory = directory.ljust(spans["directory"] * _SECTOR, b"\0")

    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", bytes.fromhex("D0CF11E0A1B11AE1"), bytes(16), 0x3E, 3, 0xFFFE,
                         9, 6, bytes(6), 0, fat_sectors, first_sector["directory"], 0, _CUTOFF,
                         first_sector["mini_fat"], spans["mini_fat"],
                         fat_sectors if difat_sectors else _END_OF_CHAIN, difat_sectors)
    header += struct.pack(f"<{_HEADER_FAT_LIST}I", *fat_list[:_HEADER_FAT_LIST])
    large = b"".join(streams[name].ljust(spans[name] * _SECTOR, b"\0") for name in streams if name in spans)
    return (header + struct.pack(f"<{len(fat)}I", *fat) + difat + directory
            + struct.pack(f"<{len(mini_fat)}I", *mini_fat).ljust(spans["mini_fat"] * _SECTOR, b"\xff")
            + bytes(mini).ljust(spans["mini"] * _SECTOR, b"\0") + large)


def _balanced_tree(ids: list[int], siblings: dict[int, tuple[int | None, int | None]]) -> int | None:
    """The middle of sorted ``ids``, with left and right subtrees recorded in ``siblings`` (as Windows balances them)."""
    if not ids:
        return None
    middle = len(ids) // 2
    siblings[ids[middle]] = (_balanced_tree(ids[:middle], siblings), _balanced_tree(ids[middle + 1:], siblings))
    return ids[middle]


def _directory_entry(name: str, kind: int, start: int, size: int, left: int | None = None, right: int | None = None,
                     child: int | None = None) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    links = (_NO_STREAM if link is None else link for link in (left, right, child))
    return struct.pack("<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, *links, bytes(16), 0, 0, 0, start, size)


# --------------------------------------------------------------------------- Android thumbdata


def thumbdata(slots: Mapping[int, bytes], stale: Mapping[int, bytes] | None = None) -> bytes:
    """An Android ``.thumbdata3`` file: ``slots`` maps a picture's id (its slot) to its JPEG.

    ``stale`` maps a slot to bytes an earlier, longer thumbnail left after the
    current one's end (Android overwrites slots without clearing them).
    """
    file = bytearray(THUMBDATA_SLOT * (max(slots, default=-1) + 1))
    for slot, jpeg in slots.items():
        assert THUMBDATA_HEADER + len(jpeg) <= THUMBDATA_SLOT, "thumbnail too big for its slot"
        at = slot * THUMBDATA_SLOT
        record = struct.pack(">BqI", 1, 0x5EED0000 + slot, len(jpeg)) + jpeg + (stale or {}).get(slot, b"")
        file[at:at + len(record)] = record[:THUMBDATA_SLOT]
    return bytes(file)
