"""EWF (E01) media read chunk by chunk with zlib, through a cache: the speed of the disk, not of libewf's inflate.

Why this exists: the libewf-python wheel is built without zlib and inflates
with libewf's own decoder, about 1 ms for every 32 KiB chunk (ten times
zlib's 0.08 ms), and every small read (a 1 KiB MFT record, a directory
block) pays a whole chunk again.  Measured on a 200 MiB E01 of text-like
data (deflate "fast", 64 sectors a chunk): 1 MiB reads through pyewf ran at
33 MB/s and random 1 KiB reads took 0.97 ms each, while `ewfexport` (built
with zlib) exported the same image at 145 MB/s.

So fieldlab reads the chunk table itself (EWF-E01 and EWF-S01 sections, the
layout written by EnCase 1-7, FTK Imager, linen and ewfacquire; see libewf's
"Expert Witness Compression Format" document), inflates each chunk with
libdeflate (all 22,580 deflated chunks of the 1 GiB seized-laptop E01 in 0.98 s, 43 us each, against 1.22 s with
zlib-ng, 55 us a chunk with ISA-L and 67 us with Python's zlib; the same bytes; libdeflate inflates a whole buffer at
once, which is all EWF needs), and keeps recently used chunks in a small LRU cache sized for
the scan's access pattern (metadata walks re-read the same chunks; file reads
are mostly sequential).  pyewf stays the authority: it opens the image, gives
the media geometry, stored hashes and headers, and reads any chunk this
module cannot prove right (a checksum or inflate failure, a layout it does
not know: EWF2/Ex01, tables that do not add up), so a damaged image reads
exactly as libewf reads it.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol, Sequence

import deflate
import numpy as np

from fieldlab.errors import EvidenceError

_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
_DESCRIPTOR = struct.Struct("<16sQQ40xI")  # type, next section offset, section size, Adler-32
_TABLE_HEADER = struct.Struct("<I4xQ4xI")  # entries, base offset, Adler-32
_MAX_SECTIONS = 1 << 20  # per segment: a cyclic or absurd section chain ends here
_MAX_CHUNK = 64 << 20  # EnCase allows up to 32768 sectors a chunk (16 MiB at 512 bytes)
DEFAULT_CACHE_BYTES = 128 << 20  # per process; on a 20,000-file NTFS E01 the readers inflated each chunk 2x with 32 MiB, 1.15x with this
_KEPT_MEMORY_SHARE = 8  # chunks kept for a walk may take up to this share of the machine's memory
_SPAN_BYTES = 8 << 20  # stored bytes fetched by one read for a long read
_SHARED_READ = 256 << 10  # reads up to this are cached whole: file-system metadata, small files


Chunk = bytes | bytearray  # an inflated chunk: libdeflate's bytearray as it comes, or plain bytes


class EwfLayoutError(EvidenceError):
    """The segment files are not laid out as this reader knows EWF; pyewf reads the image instead."""


class _Fallback(Protocol):
    def read_buffer_at_offset(self, size: int, offset: int) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class ChunkTable:
    """Where each chunk of the media is stored: segment, file offset, stored bytes and whether it is deflated."""

    segment: np.ndarray  # uint32, index into the segment list
    offset: np.ndarray  # uint64, offset of the chunk's data in its segment file
    stored: np.ndarray  # uint64, bytes from there to the next chunk or the end of its data area
    deflated: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.offset)


def read_chunk_table(segments: list[str], expected_chunks: int) -> ChunkTable:
    """The chunk table of an EWF-E01/S01 segment set, in media order, or EwfLayoutError."""
    parts = [_segment_chunks(index, path) for index, path in enumerate(segments)]
    table = ChunkTable(*(np.concatenate([part[field] for part in parts]) if parts else np.empty(0)
                         for field in range(4)))
    if len(table) != expected_chunks:
        raise EwfLayoutError(f"the tables list {len(table)} chunks where the volume has {expected_chunks}")
    return table


def _segment_chunks(index: int, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = f.read(13)
        if header[:8] != _SIGNATURE:
            raise EwfLayoutError(f"{os.path.basename(path)} is not an EWF-E01/S01 segment (EWF2 or other)")
        segments, offsets, stored, deflated = [], [], [], []
        data_end = None  # end of the last "sectors" section seen: where a table's last chunk ends
        position = 13
        for _ in range(_MAX_SECTIONS):
            f.seek(position)
            raw = f.read(_DESCRIPTOR.size)
            if len(raw) < _DESCRIPTOR.size:
                raise EwfLayoutError(f"{os.path.basename(path)}: section at {position} is cut short")
            kind, following, section_size, checksum = _DESCRIPTOR.unpack(raw)
            if zlib.adler32(raw[:72]) != checksum:
                raise EwfLayoutError(f"{os.path.basename(path)}: section at {position} fails its checksum")
            kind = kind.rstrip(b"\0")
            if kind == b"sectors":
                data_end = position + section_size
            elif kind == b"table":
                found = _table_entries(f, position, section_size, data_end, size, path)
                offsets.append(found[0])
                stored.append(found[1])
                deflated.append(found[2])
                segments.append(np.full(len(found[0]), index, dtype=np.uint32))
            if kind in (b"done", b"next") or following == position:
                break
            if following <= position or following >= size:
                raise EwfLayoutError(f"{os.path.basename(path)}: section chain leaves the file at {position}")
            position = following
        else:
            raise EwfLayoutError(f"{os.path.basename(path)}: more than {_MAX_SECTIONS} sections")
    if not offsets:
        empty = np.empty(0, dtype=np.uint64)
        return np.empty(0, dtype=np.uint32), empty, empty, np.empty(0, dtype=bool)
    return np.concatenate(segments), np.concatenate(offsets), np.concatenate(stored), np.concatenate(deflated)


def _table_entries(f, position: int, section_size: int, data_end: int | None, file_size: int,  # noqa: ANN001
                   path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw = f.read(_TABLE_HEADER.size)
    if len(raw) < _TABLE_HEADER.size:
        raise EwfLayoutError(f"{os.path.basename(path)}: table at {position} is cut short")
    count, base, checksum = _TABLE_HEADER.unpack(raw)
    if zlib.adler32(raw[:20]) != checksum:
        raise EwfLayoutError(f"{os.path.basename(path)}: table header at {position} fails its checksum")
    if count * 4 > section_size:
        raise EwfLayoutError(f"{os.path.basename(path)}: table at {position} claims {count} entries")
    entries = np.frombuffer(f.read(count * 4), dtype="<u4")
    if len(entries) != count:
        raise EwfLayoutError(f"{os.path.basename(path)}: table at {position} is cut short")
    offsets = (entries & 0x7FFFFFFF).astype(np.uint64) + np.uint64(base)
    deflated = (entries >> 31).astype(bool)
    if count and np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise EwfLayoutError(f"{os.path.basename(path)}: table at {position} is not in order (offset overflow?)")
    # EnCase 2 and later keep chunks in a "sectors" section before the table; EnCase 1 and SMART inside the table
    end = data_end if data_end is not None and data_end <= position else position + section_size
    if count and (int(offsets[-1]) >= end or end > file_size):
        raise EwfLayoutError(f"{os.path.basename(path)}: table at {position} points past its data")
    stored = np.diff(offsets, append=np.uint64(end)) if count else np.empty(0, dtype=np.uint64)
    return offsets, stored, deflated


class EwfChunkReader:
    """Positional reads of EWF media: chunks inflated with libdeflate, recent ones cached; pyewf for the rest."""

    def __init__(self, segments: list[str], fallback: _Fallback, media_size: int, chunk_size: int,
                 cache_bytes: int | None = None) -> None:
        if not 0 < chunk_size <= _MAX_CHUNK:
            raise EwfLayoutError(f"chunk size {chunk_size} is not one EWF uses")
        self.media_size = media_size
        self.chunk_size = chunk_size
        self._table = read_chunk_table(segments, -(-media_size // chunk_size))
        self._fallback = fallback
        self._fds = [os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)) for path in segments]
        self._cache: OrderedDict[int, Chunk] = OrderedDict()
        self._cache_slots = max(2, (cache_bytes or DEFAULT_CACHE_BYTES) // chunk_size)
        self.fallback_chunks = 0  # chunks pyewf had to read: damaged ones
        self._keep: frozenset[int] = frozenset()  # chunks kept once read, whatever the cache's order
        self._kept: dict[int, Chunk] = {}

    def keep(self, runs: Sequence[tuple[int, int]]) -> None:
        """Keep the chunks holding these media runs once read, until told otherwise (an empty list).

        The walk meets NTFS's MFT records in folder order, not record order, and each folder's index blocks
        in between, so over a walk it touches every MFT chunk many times.  Once the MFT outgrew the cache (on the
        10 GiB seized laptop: a 228 MiB MFT, 201,107 files), each chunk the walk touched was inflated 9.4 times on
        average and the walk took 46 s; with its MFT kept, the MFT's chunks were inflated once each (2.35 times for
        every chunk touched, index blocks included) and the walk took 26 s.  At most an eighth of the memory."""
        budget = _memory_bytes() // _KEPT_MEMORY_SHARE // self.chunk_size
        wanted: set[int] = set()
        for offset, length in runs:
            first, stop = max(offset, 0) // self.chunk_size, -(-min(offset + length, self.media_size) // self.chunk_size)
            wanted.update(range(first, min(stop, first + budget - len(wanted))))
            if len(wanted) >= budget:
                break
        self._keep = frozenset(wanted)
        self._kept = {index: data for index, data in self._kept.items() if index in wanted}

    def read_buffer_at_offset(self, size: int, offset: int) -> bytes:
        return b"".join(self._views(size, offset))

    def read_into(self, buffer: memoryview, offset: int) -> int:
        """``read_buffer_at_offset`` into ``buffer`` (as many bytes as it holds): each chunk's part is copied there
        as it comes, not joined first (a copy of every byte a reader hashes, ~0.1 ms a MiB)."""
        at = 0
        for view in self._views(len(buffer), offset):
            buffer[at:at + len(view)] = view
            at += len(view)
        return at

    def _views(self, size: int, offset: int) -> list[memoryview]:
        """The media's bytes from ``offset``, as views of the chunks holding them."""
        if offset < 0 or size <= 0 or offset >= self.media_size:
            return []
        end = min(offset + size, self.media_size)
        first, last = offset // self.chunk_size, (end - 1) // self.chunk_size
        if first == last:
            start = first * self.chunk_size
            return [memoryview(self._cached(first))[offset - start:end - start]]
        if (last - first + 1) * self.chunk_size <= _SHARED_READ:  # metadata (TSK reads 64 KiB at any offset)
            parts = [self._cached(index) for index in range(first, last + 1)]
        else:  # file content, the image hash: the middle is read in one go and not cached, so the cache keeps
            # what small reads share; an end that covers part of its chunk may be shared with a neighbouring file
            # and is cached, a whole one is not (the image hash reads whole chunks: it would only churn the cache)
            part_first = offset % self.chunk_size != 0
            part_last = end % self.chunk_size != 0 and end < self.media_size
            parts = [self._cached(first)] if part_first else []
            parts += self._uncached(first + part_first, last + 1 - part_last)
            if part_last:
                parts.append(self._cached(last))
        views = [memoryview(part) for part in parts]  # the ends cut without a copy
        views[-1] = views[-1][:end - last * self.chunk_size]
        views[0] = views[0][offset - first * self.chunk_size:]
        return views

    def _cached(self, index: int) -> Chunk:
        data = self._cache.get(index)
        if data is not None:
            self._cache.move_to_end(index)
            return data
        if index in self._keep:
            data = self._kept.get(index)
            if data is None:
                data = self._kept[index] = self._uncached(index, index + 1)[0]
            return data
        data = self._uncached(index, index + 1)[0]
        self._cache[index] = data
        if len(self._cache) > self._cache_slots:
            self._cache.popitem(last=False)
        return data

    def _uncached(self, first: int, stop: int) -> list[Chunk]:
        """Chunks first..stop-1, their stored bytes fetched with one read per run of chunks in one segment."""
        table = self._table  # read as plain lists: a numpy scalar costs ~0.1 us each use
        segments, offsets = table.segment[first:stop].tolist(), table.offset[first:stop].tolist()
        deflated, stored = table.deflated[first:stop].tolist(), table.stored[first:stop].tolist()
        for i, was_deflated in enumerate(deflated):  # bytes to fetch: a deflated chunk's up to the next chunk (no
            # more than its length and some slack: EWF stores a chunk plain when deflate would not shrink it), a
            # plain one's data and its Adler-32
            length = self._length(first + i)
            stored[i] = min(stored[i], length + 1024) if was_deflated else length + 4
        chunks: list[Chunk] = []
        at = 0
        while at < len(offsets):
            run_end = at + 1
            while (run_end < len(offsets) and segments[run_end] == segments[at]
                   and offsets[run_end] - offsets[at] < _SPAN_BYTES):
                run_end += 1
            base = offsets[at]
            blob = memoryview(os.pread(self._fds[segments[at]], offsets[run_end - 1] - base + stored[run_end - 1], base))
            chunks += [self._inflate(first + i, blob[offsets[i] - base:offsets[i] - base + stored[i]], deflated[i])
                       for i in range(at, run_end)]
            at = run_end
        return chunks

    def _length(self, index: int) -> int:
        return min(self.chunk_size, self.media_size - index * self.chunk_size)

    def _inflate(self, index: int, raw: memoryview, deflated: bool) -> Chunk:
        length = self._length(index)
        data: Chunk
        if deflated:
            try:
                data = deflate.zlib_decompress(raw, length)  # checks the stream's Adler-32; kept as the bytearray
                # it comes as (a copy to bytes cost more than the join that follows)
            except deflate.DeflateError:  # damaged, or more than a chunk
                data = b""
        else:
            data = bytes(raw[:length])
            if len(raw) == length + 4 and deflate.adler32(data) != int.from_bytes(raw[length:], "little"):
                data = b""
        if len(data) != length:  # damaged: read it the way libewf does, whatever that gives
            self.fallback_chunks += 1
            return self._fallback.read_buffer_at_offset(length, index * self.chunk_size)
        return data

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        self._cache.clear()
        self._kept.clear()
        self._fallback.close()


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 8 << 30  # unknown: as if 8 GiB
