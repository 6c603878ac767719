"""Thumbs.db: the per-folder thumbnail cache of Windows XP, still written by later Windows on network shares.

It is an OLE compound file.  Windows XP keeps a ``Catalog`` stream (uint16
header size, uint16 version, uint32 count, uint32 width, uint32 height; then
per thumbnail: uint32 entry size, uint32 id, the picture's modification time as
a FILETIME, and its file name in UTF-16 ending in NUL) and one stream per
thumbnail, named by the id's decimal digits reversed (id 12: stream "21").
Windows Vista and later name streams ``<size>_<16 hex digits>`` and keep no
Catalog.  A thumbnail stream starts with a header whose first uint32 is its own
length (12 bytes on XP, 24 later), then the picture.

Some writers left out a JPEG's Huffman or quantisation tables, counting on
the reader to know the standard ones.  Those pictures are returned with the
standard tables of ITU T.81 Annex K put back, so that any decoder reads them.

The compound file is read by the small reader below rather than a library so
that every count, chain and size in it is checked against the file: [MS-CFB]
structures are chains of sector numbers, and a hostile file can make them
loop, point outside the file, or claim any size.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from fieldlab.detect.thumbnails import (
    MAX_PICTURE_BYTES,
    OLE_SIGNATURE,
    ThumbnailCacheError,
    ThumbnailEntry,
    picture_kind,
    read_span,
)

_CATALOG = "Catalog"
_THUMBNAIL_STREAM = re.compile(r"\d+|\d+_[0-9a-fA-F]{16}")
_FILETIME_UNIX_EPOCH = 116_444_736_000_000_000  # 100-ns intervals from 1601-01-01 to 1970-01-01

# Compound file constants ([MS-CFB] 2.1, 2.2, 2.6).
_HEADER_SIZE = 512
_END_OF_CHAIN = 0xFFFFFFFE
_LAST_SECTOR_NUMBER = 0xFFFFFFFA  # numbers from here on are markers, not sectors
_MINI_SECTOR_SIZE = 64
_MINI_STREAM_CUTOFF = 4096  # smaller streams live in the mini stream
_DIRECTORY_ENTRY_SIZE = 128
_STREAM, _ROOT = 2, 5
_HEADER_DIFAT_ENTRIES = 109

# ITU T.81 Annex K: quantisation tables K.1 and K.2 in the zigzag order DQT stores them, and the four
# Huffman tables of K.3 (luminance DC, AC, chrominance DC, AC) as DHT stores them.
_STANDARD_DQT = bytes.fromhex(
    "00" "100b0c0e0c0a100e0d0e1211101318281a181616183123251d283a333d3c3933383740485c4e404457453738506d51575f62"
    "6768673e4d71797064785c656763"
    "01" "1112121815182f1a1a2f634238426363636363636363636363636363636363636363636363636363636363636363636363"
    "636363636363636363636363636363")
_STANDARD_DHT = bytes.fromhex(
    "0000010501010101010100000000000000000102030405060708090a0b100002010303020403050504040000017d01020300"
    "041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a34353637"
    "38393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798"
    "999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2"
    "f3f4f5f6f7f8f9fa0100030101010101010101010000000000000102030405060708090a0b11000201020404030407050404"
    "00010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f1171819"
    "1a262728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a828384858687"
    "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3"
    "e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa")
_DQT, _DHT, _SOS = 0xDB, 0xC4, 0xDA
_TABLE_FREE_MARKERS = frozenset({*range(0xE0, 0xF0), 0xFE})  # APPn and COM: the tables go after these


# --------------------------------------------------------------------------- Thumbs.db


def kind_from_head(head: bytes) -> str | None:
    """Whether a compound file is a Thumbs.db, judged by the names in its first directory sector.

    "thumbs.db" when they include a Catalog or thumbnail streams, None when
    they are other streams (a document, say), "ole" when the sector lies
    beyond ``head``.
    """
    if len(head) < _HEADER_SIZE or not head.startswith(OLE_SIGNATURE):
        return None
    sector_shift, = struct.unpack_from("<H", head, 30)
    first_directory_sector, = struct.unpack_from("<I", head, 48)
    if sector_shift not in (9, 12) or first_directory_sector >= _LAST_SECTOR_NUMBER:
        return None
    sector_size = 1 << sector_shift
    start = (first_directory_sector + 1) * sector_size
    if start + sector_size > len(head):
        return "ole"
    names = [entry.name for entry in _directory_entries(head[start:start + sector_size]) if entry.type == _STREAM]
    if any(name == _CATALOG or _THUMBNAIL_STREAM.fullmatch(name) for name in names):
        return "thumbs.db"
    return None if names else "ole"


def entries(stream: BinaryIO, size: int) -> Iterator[ThumbnailEntry | ThumbnailCacheError]:
    """Catalog entries (name, time, picture) in Catalog order, then streams no Catalog entry names.

    Raises at once if the file is no compound file, or one with neither a Catalog nor thumbnail streams.
    """
    compound = _opened(stream, size)
    if _CATALOG not in compound.streams and not any(map(_THUMBNAIL_STREAM.fullmatch, compound.streams)):
        raise ThumbnailCacheError("an OLE compound file, but not a Thumbs.db: it has no Catalog and no thumbnail streams")
    return _entries(compound)


def picture(stream: BinaryIO, size: int, entry: ThumbnailEntry) -> bytes:
    """The picture of ``entry``, with missing JPEG tables put back."""
    compound = _opened(stream, size)
    if entry.key not in compound.streams:
        raise ThumbnailCacheError(f"Thumbs.db has no stream {entry.key!r}")
    data = compound.read(compound.locate(entry.key))
    start = _picture_start(data)
    if start is None:
        return data
    if picture_kind(data[start:]) == "jpeg" and _missing_tables(data[start:]):
        return _with_standard_tables(data[start:])
    return data[start:]


_last_opened: tuple[BinaryIO, int, _CompoundFile] | None = None


def _opened(stream: BinaryIO, size: int) -> _CompoundFile:
    """The compound file open on ``stream``, parsed once while its pictures are read one after another.

    Parsing a large Thumbs.db takes milliseconds; doing it again for each of
    its thousands of pictures would make reading them all quadratic.  The
    stream is recognised by identity, and the one kept stays referenced, so
    another stream is never mistaken for it; evidence does not change while
    it is open.
    """
    global _last_opened
    last = _last_opened
    if last is not None and last[0] is stream and last[1] == size:
        return last[2]
    compound = _CompoundFile(stream, size)
    _last_opened = (stream, size, compound)
    return compound


@dataclass(frozen=True)
class _CatalogRecord:
    id: int
    name: str
    modified: float | None


def _entries(compound: _CompoundFile) -> Iterator[ThumbnailEntry | ThumbnailCacheError]:
    yield from compound.problems
    named: set[str] = set()
    if _CATALOG in compound.streams:
        stream = compound.locate(_CATALOG)
        if stream.damage:
            yield ThumbnailCacheError(f"the Catalog is damaged: {stream.damage}")
        try:
            catalog = compound.read(stream)
        except ThumbnailCacheError as problem:
            yield ThumbnailCacheError(f"the Catalog could not be read: {problem}")
            catalog = b""
        for record in _catalog_records(catalog):
            if isinstance(record, ThumbnailCacheError):
                yield record
                continue
            key = str(record.id)[::-1]
            if key in named:
                yield ThumbnailCacheError(f"the Catalog lists id {record.id} ({record.name!r}) a second time")
                continue
            named.add(key)
            yield _entry(compound, key, record.name, record.modified)
    for key in compound.streams:
        if key != _CATALOG and key not in named:
            yield _entry(compound, key, None, None)


def _entry(compound: _CompoundFile, key: str, name: str | None, modified: float | None) -> ThumbnailEntry:
    """One thumbnail; a Catalog entry whose stream is gone or damaged is still listed for its name and time."""
    def without_picture(note: str) -> ThumbnailEntry:
        return ThumbnailEntry(key=key, name=name, offset=-1, size=0, kind="unknown", modified=modified, note=note)

    if key not in compound.streams:
        return without_picture("thumbnail stream missing")
    stream = compound.locate(key)
    try:
        data = compound.read(stream)
    except ThumbnailCacheError as problem:
        return without_picture(f"thumbnail stream unreadable: {problem}")
    notes = [stream.damage] if stream.damage else []
    start = _picture_start(data)
    if start is None:  # kept whole: its bytes may still match a known file
        start, kind = 0, "unknown"
        notes.append("no picture found in the stream")
    else:
        kind = picture_kind(data[start:])
    offset = compound.file_offset(stream, start, len(data) - start)
    if kind == "jpeg" and _missing_tables(data[start:]):
        notes.append("repaired: JPEG tables added")
        offset = -1
    return ThumbnailEntry(key=key, name=name, offset=offset, size=len(data) - start, kind=kind, modified=modified,
                          note="; ".join(notes) or None)


def _catalog_records(data: bytes) -> Iterator[_CatalogRecord | ThumbnailCacheError]:
    """The Catalog's entries in order; at a damaged one it stops, since entries are found only by their sizes."""
    if not data:
        return
    if len(data) < 16:
        yield ThumbnailCacheError(f"the Catalog is {len(data)} bytes, too short for its header")
        return
    header_size, _version, count = struct.unpack_from("<HHI", data)
    if not 16 <= header_size <= len(data):
        yield ThumbnailCacheError(f"the Catalog header claims {header_size} bytes; read as 16")
        header_size = 16
    pos, records = header_size, 0
    while pos < len(data):
        entry_size = int.from_bytes(data[pos:pos + 4], "little")
        if entry_size == 0 and not any(data[pos:]):  # zero padding after the last entry
            break
        if not 20 <= entry_size <= len(data) - pos:  # size, id, time, and at least a NUL-terminated empty name
            yield ThumbnailCacheError(f"Catalog entry {records + 1} (byte {pos}) claims {entry_size} bytes where "
                                      f"20 to {len(data) - pos} fit: the rest of the Catalog was not read")
            return
        thumbnail_id, filetime = struct.unpack_from("<IQ", data, pos + 4)
        yield _CatalogRecord(thumbnail_id, _utf16_until_nul(data[pos + 16:pos + entry_size]), _epoch(filetime))
        records += 1
        pos += entry_size
    if count != records:
        yield ThumbnailCacheError(f"the Catalog header counts {count} entries; it holds {records}")


def _utf16_until_nul(raw: bytes) -> str:
    return raw[:len(raw) // 2 * 2].decode("utf-16-le", errors="replace").split("\0", 1)[0]


def _epoch(filetime: int) -> float | None:
    return None if filetime == 0 else (filetime - _FILETIME_UNIX_EPOCH) / 10_000_000


def _picture_start(data: bytes) -> int | None:
    """Where the picture starts: after the header that gives its own length, else at the first JPEG start near the top."""
    header_size = int.from_bytes(data[:4], "little")
    if 8 <= header_size <= 64 and picture_kind(data[header_size:header_size + 16]) != "unknown":
        return header_size
    found = data.find(b"\xff\xd8\xff", 0, 64 + 3)
    return None if found < 0 else found


# --------------------------------------------------------------------------- JPEG tables


def _markers_before_scan(jpeg: bytes) -> list[tuple[int, int]] | None:
    """(marker, offset) of each segment from the start of image to the first scan, or None if they cannot be walked."""
    found = []
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        found.append((marker, pos))
        if marker == _SOS:
            return found
        pos += 2 + int.from_bytes(jpeg[pos + 2:pos + 4], "big")
    return None


def _missing_tables(jpeg: bytes) -> bool:
    markers = _markers_before_scan(jpeg)
    if markers is None:
        return False  # damaged or not JPEG: handed over as stored, for the decoder to make what it can of it
    seen = {marker for marker, _ in markers}
    return _DQT not in seen or _DHT not in seen


def _with_standard_tables(jpeg: bytes) -> bytes:
    """``jpeg`` with the standard tables it lacks inserted after its APPn/COM segments, before anything that uses them."""
    markers = _markers_before_scan(jpeg) or []
    seen = {marker for marker, _ in markers}
    insert_at = next((pos for marker, pos in markers if marker not in _TABLE_FREE_MARKERS), 2)
    tables = b""
    if _DQT not in seen:
        tables += b"\xff\xdb" + (2 + len(_STANDARD_DQT)).to_bytes(2, "big") + _STANDARD_DQT
    if _DHT not in seen:
        tables += b"\xff\xc4" + (2 + len(_STANDARD_DHT)).to_bytes(2, "big") + _STANDARD_DHT
    return jpeg[:insert_at] + tables + jpeg[insert_at:]


# --------------------------------------------------------------------------- compound file reader


@dataclass(frozen=True)
class _DirectoryEntry:
    name: str
    type: int
    start: int
    size: int


@dataclass(frozen=True)
class _Stream:
    name: str
    size: int  # bytes that could be located; less than declared when the stream is damaged
    runs: tuple[tuple[int, int], ...]  # (file offset, length) of its pieces, in order
    damage: str | None


def _directory_entries(data: bytes) -> Iterator[_DirectoryEntry]:
    for at in range(0, len(data) - _DIRECTORY_ENTRY_SIZE + 1, _DIRECTORY_ENTRY_SIZE):
        name_size, entry_type = struct.unpack_from("<HB", data, at + 64)
        start, size = struct.unpack_from("<IQ", data, at + 116)
        name_size = min(name_size, 64)
        yield _DirectoryEntry(_utf16_until_nul(data[at:at + name_size]), entry_type, start, size)


class _CompoundFile:
    """Just enough of [MS-CFB] to find streams by name and read them, never trusting a count or a chain.

    Chains are followed through a seen-set, only as far as the data they must
    hold, and only through sectors inside the file.  What is damaged is kept in
    ``problems``; a file whose header or directory cannot be read raises.
    """

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._file = stream
        self._file_size = size
        self.problems: list[ThumbnailCacheError] = []
        stream.seek(0)
        header = stream.read(_HEADER_SIZE)
        if len(header) < _HEADER_SIZE or not header.startswith(OLE_SIGNATURE):
            raise ThumbnailCacheError("not a Thumbs.db: it is not an OLE compound file")
        sector_shift, mini_sector_shift = struct.unpack_from("<HH", header, 30)
        if sector_shift not in (9, 12) or mini_sector_shift != 6:
            raise ThumbnailCacheError(f"compound file header gives sector sizes 2^{sector_shift} and "
                                      f"2^{mini_sector_shift}; only 512 or 4096 and 64 exist")
        self._sector_size = 1 << sector_shift
        self._sector_count = max(0, -(-size // self._sector_size) - 1)  # the header fills sector -1
        fat_count, first_directory = struct.unpack_from("<II", header, 44)
        first_mini_fat, mini_fat_count, first_difat, difat_count = struct.unpack_from("<4I", header, 60)
        self._fat = self._read_fat(header, fat_count, first_difat, difat_count)
        directory = self._read_chain(first_directory, self._sector_count * self._sector_size, "the directory")
        entries = list(_directory_entries(directory))
        if not entries or entries[0].type != _ROOT:
            raise ThumbnailCacheError("compound file directory has no root entry: not readable as a Thumbs.db")
        root = entries[0]
        mini_stream_size = min(root.size, size)
        self._mini_stream_sectors, damage = self._chain(root.start, self._fat, -(-mini_stream_size // self._sector_size))
        if damage:
            self.problems.append(ThumbnailCacheError(f"the mini stream, which holds the small streams, {damage}"))
        mini_fat = self._read_chain(first_mini_fat, min(mini_fat_count, self._sector_count) * self._sector_size,
                                    "the mini allocation table") if first_mini_fat < _LAST_SECTOR_NUMBER else b""
        self._mini_fat = struct.unpack(f"<{len(mini_fat) // 4}I", mini_fat[:len(mini_fat) // 4 * 4])
        self._version_3 = sector_shift == 9
        self.streams: dict[str, _DirectoryEntry] = {}
        for index, entry in enumerate(entries):
            if entry.type != _STREAM:
                continue
            if entry.name in self.streams:
                self.problems.append(ThumbnailCacheError(f"a second stream named {entry.name!r} "
                                                         f"(directory entry {index}) was ignored"))
                continue
            self.streams[entry.name] = entry

    def read(self, stream: _Stream) -> bytes:
        if stream.size > MAX_PICTURE_BYTES:
            raise ThumbnailCacheError(f"stream {stream.name!r} holds {stream.size} bytes, more than a thumbnail")
        return b"".join(read_span(self._file, self._file_size, offset, length) for offset, length in stream.runs)

    def file_offset(self, stream: _Stream, start: int, length: int) -> int:
        """Where bytes ``start`` to ``start + length`` of ``stream`` lie in the file, if in one piece, else -1."""
        position = 0
        for offset, run in stream.runs:
            if position <= start and start + length <= position + run:
                return offset + start - position
            position += run
        return -1

    def locate(self, name: str) -> _Stream:
        """The file pieces holding stream ``name``, from the regular or the mini allocation table."""
        entry = self.streams[name]
        size = entry.size & 0xFFFFFFFF if self._version_3 else entry.size  # version 3 leaves the high half undefined
        if size > self._file_size:
            return _Stream(name, 0, (), f"stream declares {size} bytes, more than the whole file")
        if size < _MINI_STREAM_CUTOFF:
            sectors, broken = self._chain(entry.start, self._mini_fat, -(-size // _MINI_SECTOR_SIZE))
            pieces = [self._mini_sector_offset(s) for s in sectors]
            unit = _MINI_SECTOR_SIZE
        else:
            sectors, broken = self._chain(entry.start, self._fat, -(-size // self._sector_size))
            pieces = [(s + 1) * self._sector_size if s < self._sector_count else None for s in sectors]
            unit = self._sector_size
        runs: list[tuple[int, int]] = []
        located = 0
        for offset in pieces:
            length = min(unit, size - located)
            if offset is None or offset + length > self._file_size:
                break
            if runs and runs[-1][0] + runs[-1][1] == offset:
                runs[-1] = (runs[-1][0], runs[-1][1] + length)
            else:
                runs.append((offset, length))
            located += length
        damage = None
        if located < size:
            damage = f"stream cut short{f' (its sector chain {broken})' if broken else ''}: {located} of {size} bytes found"
        return _Stream(name, located, tuple(runs), damage)

    def _read_fat(self, header: bytes, fat_count: int, first_difat: int, difat_count: int) -> tuple[int, ...]:
        """The sector allocation table, from the sectors the header's and the DIFAT chain's lists name."""
        fat_sectors = list(struct.unpack_from(f"<{_HEADER_DIFAT_ENTRIES}I", header, 76))
        per_sector = self._sector_size // 4
        seen: set[int] = set()
        sector = first_difat
        while sector < self._sector_count and sector not in seen and len(seen) < difat_count:
            seen.add(sector)
            listed = struct.unpack(f"<{per_sector}I", self._sector(sector).ljust(self._sector_size, b"\xff"))
            fat_sectors.extend(listed[:-1])
            sector = listed[-1]
        needed = -(-self._sector_count // per_sector)
        fat_sectors = [s for s in fat_sectors[:fat_count] if s < _LAST_SECTOR_NUMBER][:needed]
        fat = b"".join(self._sector(s).ljust(self._sector_size, b"\xff") if s < self._sector_count
                       else b"\xff" * self._sector_size for s in fat_sectors)
        return struct.unpack(f"<{len(fat) // 4}I", fat)

    def _sector(self, sector: int) -> bytes:
        offset = (sector + 1) * self._sector_size
        self._file.seek(offset)
        return self._file.read(max(0, min(self._sector_size, self._file_size - offset)))

    @staticmethod
    def _chain(start: int, table: tuple[int, ...], wanted: int) -> tuple[list[int], str | None]:
        """The first ``wanted`` sector numbers of the chain from ``start``, and why there are fewer, if so."""
        chain: list[int] = []
        seen: set[int] = set()
        sector = start
        while len(chain) < wanted:
            if sector == _END_OF_CHAIN:
                return chain, f"ends after {len(chain)} of {wanted} sectors"
            if sector in seen:
                return chain, f"loops back after {len(chain)} sectors"
            if sector >= len(table):
                return chain, f"points to sector {sector}, outside the allocation table, after {len(chain)} sectors"
            seen.add(sector)
            chain.append(sector)
            sector = table[sector]
        return chain, None

    def _read_chain(self, start: int, limit: int, what: str) -> bytes:
        """A whole chain of regular sectors, for the structures that have no size of their own (up to ``limit``)."""
        chain: list[int] = []
        seen: set[int] = set()
        sector = start
        while sector != _END_OF_CHAIN and len(chain) * self._sector_size < limit:
            if sector >= min(len(self._fat), self._sector_count) or sector in seen:
                reason = "loops back" if sector in seen else f"points to sector {sector}, outside the file"
                self.problems.append(ThumbnailCacheError(f"{what} {reason} after {len(chain)} sectors: "
                                                         f"the rest of it is lost"))
                break
            seen.add(sector)
            chain.append(sector)
            sector = self._fat[sector]
        return b"".join(self._sector(s).ljust(self._sector_size, b"\0") for s in chain)

    def _mini_sector_offset(self, mini_sector: int) -> int | None:
        position = mini_sector * _MINI_SECTOR_SIZE
        index, within = divmod(position, self._sector_size)
        if index >= len(self._mini_stream_sectors):
            return None
        sector = self._mini_stream_sectors[index]
        return (sector + 1) * self._sector_size + within if sector < self._sector_count else None
