"""Bounded, cached reads of one region for the walkers.

Walkers ask for a few bytes at a time (a segment header, a box header, an IFD)
and sometimes scan megabytes (JPEG entropy-coded data).  Going to the evidence
for every small read would cost a system call or a decompression each time, so
the window keeps two pieces in memory: the block the scanner is searching (the
headers of most candidates are in it) and one roaming chunk for whatever a
walker follows beyond it.  Nothing is read past the region end.
"""

from __future__ import annotations

import re
from typing import Protocol

ROAMING_CHUNK = 4 << 20


class Reader(Protocol):
    """Random access to the evidence: what the carver reads from (a disk image, a volume, a file)."""

    def read(self, offset: int, size: int) -> bytes: ...


class Window:
    """The bytes of one region, ``[start, end)``, read through a two-piece cache."""

    def __init__(self, reader: Reader, start: int, end: int) -> None:
        self._reader = reader
        self.start, self.end = start, end
        self._pinned: tuple[int, bytes] = (start, b"")
        self._roaming: tuple[int, bytes] = (start, b"")

    def pin(self, offset: int, size: int) -> bytes:
        """Read and keep the block the scanner is working through."""
        data = self._fetch(offset, size)
        self._pinned = (offset, data)
        return data

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes at ``offset``; fewer only at the region end (or where the evidence ran out)."""
        size = min(size, self.end - offset)
        if size <= 0:
            return b""
        for base, data in (self._pinned, self._roaming):
            if base <= offset and offset + size <= base + len(data):
                return data[offset - base : offset - base + size]
        if size > ROAMING_CHUNK:
            return self._fetch(offset, size)
        base, data = self._roam(offset)
        return data[offset - base : offset - base + size]

    def chunk_at(self, offset: int, need: int = 1) -> tuple[int, bytes]:
        """A cached piece holding at least ``need`` bytes from ``offset`` (fewer only at the region end)."""
        wanted = min(offset + need, self.end)
        for base, data in (self._pinned, self._roaming):
            if base <= offset and wanted <= base + len(data):
                return base, data
        return self._roam(offset)

    def search(self, pattern: re.Pattern[bytes], start: int, stop: int, width: int) -> int | None:
        """Offset of the first match of ``pattern`` (at most ``width`` bytes long) in ``[start, stop)``, or None."""
        position = start
        while position < stop:
            base, data = self.chunk_at(position, width)
            piece_end = min(stop, base + len(data))
            found = pattern.search(data, position - base, piece_end - base)
            if found:
                return base + found.start()
            if piece_end >= stop or piece_end - position < width:  # searched to the end, or the evidence ran out
                return None
            position = piece_end - (width - 1)  # a match may straddle two pieces: chunk_at then roams
        return None

    def _roam(self, offset: int) -> tuple[int, bytes]:
        self._roaming = (offset, self._fetch(offset, ROAMING_CHUNK))
        return self._roaming

    def _fetch(self, offset: int, size: int) -> bytes:
        size = min(size, self.end - offset)
        return self._reader.read(offset, size) if size > 0 else b""
