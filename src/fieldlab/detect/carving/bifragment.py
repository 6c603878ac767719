"""A JPEG stored in two pieces with other data between: bifragment gap carving (Garfinkel, DFRWS 2007).

A camera writing into fragmented free space (a FAT or exFAT SD card, NTFS)
leaves a photo as fragment 1 = header .. a cluster boundary, a gap of whole
clusters holding anything, fragment 2 = a cluster boundary .. the EOI.  The
contiguous walk sees fragment 1 break where the gap's bytes stop being
entropy-coded data.  Garfinkel tries every split and gap and lets a decoder
judge; here cheap facts of the JPEG stream cut that down to a few pairs before
any decode:

- Fragment 1 ends at a boundary at or just before the break: the last
  ``LAST_ENDS`` boundaries after the scan's start.  The break is where the walk
  failed (a marker entropy-coded data cannot hold), or an earlier block that
  holds no byte of 0x80 or more (zeros, text: filler the walk runs through, as
  it has no 0xFF, but compressed data never looks like).
- Fragment 2 runs from a boundary to an EOI (FF D9) with nothing but clean
  entropy-coded data between: so for each EOI after the break only the first
  ``FIRST_STARTS`` boundaries after the last "barrier" before it (a bad marker,
  a block without high bytes) can start it.  Random bytes hold an EOI every
  64 KiB but rarely 2 KiB of clean data before one, so EOIs with less are
  tried last: a 16 MiB gap of random bytes costs no decode.
- A pair is accepted only if the joined bytes decode completely without one
  libjpeg warning (``decode.jpeg_decoded_strictly``); of several such pairs
  for one EOI, the least noisy picture where they differ (``_smoother``).

Boundaries are a whole number of sectors from the header: a file starts at a
cluster, and clusters of 512 to 64 KiB are all whole sectors, so the sector is
the one granularity that fits any file system without knowing it.

Everything is bounded for hostile data: the gap (``MAX_GAP``), how far fragment
2's EOI is looked for, the EOIs examined and decodes tried per header, and per
region the decodes and the bytes searched (``GapBudget``).  Fragment 2 must hold
the rest of the last scan: a progressive JPEG cut before its last scan's tables
is not put together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fieldlab.detect.carving.decode import jpeg_decoded_strictly
from fieldlab.detect.carving.jpeg import MARKER_AFTER_SCAN, first_scan_data
from fieldlab.detect.carving.window import Window

BOUNDARY = 512  # fragment boundaries: whole sectors from the header
MAX_GAP = 16 << 20  # the clusters between the pieces
MAX_SECOND = 32 << 20  # fragment 2's EOI is looked for at most this far past the gap
LAST_ENDS, FIRST_STARTS = 4, 3  # candidate ends of fragment 1 and starts of fragment 2 per EOI
MAX_EOIS = 1024  # EOIs after the break examined per header (random bytes hold one in 64 KiB)
LONG_SECOND = 2048  # clean bytes before an EOI that random bytes almost never hold (no FF but FF 00 for 2 KiB)
SHORT_KEPT = 4  # EOIs with fewer, tried only when no long one gave a pair: a fragment 2 that short is rare
DECODES_PER_HEADER = 48
DECODES_PER_REGION, SEARCHED_PER_REGION = 1024, 256 << 20  # plus the region's own size (see GapBudget)
CHUNK = 1 << 20  # searched at once
BAND_ROWS = 8  # where two decodes first differ, compared (16 and 32 rows told a near miss apart less often)

_EOI = 0xD9
_HIGH_BITS = np.uint64(0x8080808080808080)


@dataclass(frozen=True)
class Bifragment:
    first: tuple[int, int]  # (offset, length): header .. fragment 1's end
    second: tuple[int, int]  # fragment 2 .. its EOI


class GapBudget:
    """The decodes and bytes searched that putting pieces together may take in one region.

    A region of JPEG headers over garbage breaks at every header; without a
    budget each would search 16 MiB and decode dozens of pairs.  The bytes
    searched are bounded by the region's own size plus ``SEARCHED_PER_REGION``,
    so gap carving at most doubles what carving a region reads.
    """

    def __init__(self, region_size: int) -> None:
        self.decodes = DECODES_PER_REGION
        self.searchable = SEARCHED_PER_REGION + region_size

    def spend_decode(self) -> bool:
        """Take one decode: False once the region's are spent."""
        self.decodes -= 1
        return self.decodes >= 0


def reassemble_jpeg(window: Window, offset: int, walked: int, max_file: int, budget: GapBudget, *,
                    complete: bool, undecodable: bool) -> Bifragment | None:
    """The two pieces of the JPEG whose header is at ``offset``, if a pair of them decodes whole; None when none
    does within the bounds.  ``walked``: where its walk ended, ``complete`` at an EOI.  Such a walk is tried only
    when known ``undecodable`` (the gap happened to hold FF D9) or when its first scan holds a block without
    high bytes (zeros or text between the pieces hold no marker to break the walk, and a lenient decoder shows
    them as a picture)."""
    limit = min(walked, offset + max_file)
    data_start = first_scan_data(window, offset, limit)
    if data_start is None:
        return None
    head = window.read(offset, limit - offset)
    dead = _first_dead_block(head, offset, data_start, limit)
    if complete and dead is None and not undecodable:
        return None  # whole as far as anyone can tell
    searched_to = limit if dead is None else dead
    marker = window.search(MARKER_AFTER_SCAN, data_start, searched_to, 2)
    break_at = searched_to if marker is None else marker
    last = offset + (break_at + 1 - offset) // BOUNDARY * BOUNDARY
    ends = [end for end in range(last, max(data_start, last - LAST_ENDS * BOUNDARY), -BOUNDARY) if end > data_start]
    if not ends:
        return None
    decodes = _Decodes(budget)
    short: list[tuple[int, int]] = []  # EOIs with little clean data before them: tried last
    for eoi, barrier in _eois_after(window, offset, break_at, break_at + MAX_GAP + MAX_SECOND, budget):
        first_start = offset + -(-(max(barrier, ends[0] + 1) - offset) // BOUNDARY) * BOUNDARY
        if first_start - ends[0] > MAX_GAP:
            break  # every later EOI has its barrier at least as far: the gap only grows
        if first_start >= eoi:
            continue
        if eoi - first_start < LONG_SECOND:
            if len(short) < SHORT_KEPT:
                short.append((eoi, first_start))
            continue
        found = _best_pair(window, head, offset, ends, eoi, first_start, max_file, decodes)
        if found is not None or not decodes.left():
            return found
    for eoi, first_start in short:
        found = _best_pair(window, head, offset, ends, eoi, first_start, max_file, decodes)
        if found is not None or not decodes.left():
            return found
    return None


class _Decodes:
    """The decodes one header may still take: its own and its region's."""

    def __init__(self, budget: GapBudget) -> None:
        self._budget, self._own = budget, DECODES_PER_HEADER

    def left(self) -> bool:
        return self._own > 0 and self._budget.decodes > 0

    def spend(self) -> bool:
        if not self.left():
            return False
        self._own -= 1
        return self._budget.spend_decode()


def _best_pair(window: Window, head: bytes, offset: int, ends: list[int], eoi: int, first_start: int, max_file: int,
               decodes: _Decodes) -> Bifragment | None:
    """Of the pairs (an end of fragment 1, a start of fragment 2 running to ``eoi``), the one that decodes, or the
    smoothest of several.  Once one decodes, only pairs with the same gap (the same length in all) can too: the
    picture's blocks must be coded in exactly its bytes."""
    best: tuple[np.ndarray, Bifragment] | None = None
    for start in range(first_start, min(eoi, first_start + FIRST_STARTS * BOUNDARY), BOUNDARY):
        second = window.read(start, eoi + 2 - start)
        for end in ends:
            if not 0 < start - end <= MAX_GAP or end - offset + len(second) > max_file:
                continue
            if best is not None and start - end != best[1].second[0] - sum(best[1].first):
                continue
            if not decodes.spend():
                return best[1] if best else None
            picture = jpeg_decoded_strictly(head[: end - offset] + second)
            if picture is not None and (best is None or _smoother(picture, best[0])):
                best = picture, Bifragment((offset, end - offset), (start, len(second)))
    return best[1] if best else None


def _smoother(picture: np.ndarray, other: np.ndarray) -> bool:
    """Whether ``picture`` is less noisy than ``other`` where the two first differ.

    Huffman codes resynchronise: a sector of the gap put in place of a sector
    of the photo (fragment 1 one sector short, fragment 2 one sector early, the
    same total) may decode without a warning, as blocks of noise where it lies,
    after which the stream is back in step (but for DC values, which are coded
    as differences: the rest of the picture may be shifted in brightness).  So
    of two pairs that decode, the photo is the one smoother in the band of
    ``BAND_ROWS`` rows where they first differ; over the whole picture a few
    noisy blocks hardly count.  Measured on 112 such near misses (4 procedural
    photos, sectors of noise without 0xFF): the photo was chosen every time.
    """
    if picture.shape != other.shape:
        return False
    differ = (picture != other).reshape(picture.shape[0], -1)
    rows = np.flatnonzero(differ.any(axis=1))
    if not len(rows):
        return False
    band = slice(max(0, int(rows[0]) - 1), int(rows[0]) + BAND_ROWS)
    return _roughness(picture[band]) < _roughness(other[band])


def _roughness(picture: np.ndarray) -> float:
    grey = picture.reshape(picture.shape[0], picture.shape[1]).astype(np.int16)
    return float(np.abs(np.diff(grey, axis=1)).mean()) + (float(np.abs(np.diff(grey, axis=0)).mean())
                                                          if grey.shape[0] > 1 else 0.0)


def _first_dead_block(head: bytes, offset: int, data_start: int, break_at: int) -> int | None:
    """The start of the first whole block (``BOUNDARY`` bytes, aligned from the header) of entropy-coded data
    with no byte of 0x80 or more, if any."""
    first = offset + -(-(data_start - offset) // BOUNDARY) * BOUNDARY
    blocks = (break_at - first) // BOUNDARY
    if blocks <= 0:
        return None
    words = np.frombuffer(head, np.uint64, blocks * BOUNDARY // 8, first - offset).reshape(blocks, BOUNDARY // 8)
    # every whole JPEG is looked at: first the blocks whose first 8 bytes have no high bit (1 in 256 of compressed
    # data), then all of those
    maybe = np.flatnonzero(words[:, 0] & _HIGH_BITS == 0)
    dead = maybe[np.bitwise_or.reduce(words[maybe], axis=1) & _HIGH_BITS == 0] if len(maybe) else maybe
    return first + int(dead[0]) * BOUNDARY if len(dead) else None


def _eois_after(window: Window, offset: int, start: int, stop: int, budget: GapBudget) -> Iterator[tuple[int, int]]:
    """Each EOI (FF D9) in ``[start, stop)`` with its barrier: where the clean entropy-coded data that runs up to
    it begins (just after the last marker such data cannot hold, or after the last block without high bytes)."""
    barrier, position, seen = start, start, 0
    stop = min(stop, window.end)
    while position < stop and budget.searchable > 0:
        data = window.read(position, min(CHUNK, stop - position) + 1)  # one byte more: a marker across chunks
        budget.searchable -= len(data)
        chunk = np.frombuffer(data, np.uint8)
        if len(chunk) < 2:
            return
        following = chunk[1:]
        bad = np.flatnonzero((chunk[:-1] == 0xFF) & (following != 0) & (following != 0xFF)
                             & ((following < 0xD0) | (following > 0xD7)))
        dead = _dead_block_ends(chunk, position, offset)
        for at in bad:
            if following[at] == _EOI:
                before = int(np.searchsorted(dead, position + at, "right"))
                yield position + int(at), max(barrier, int(dead[before - 1]) if before else barrier)
                seen += 1
                if seen >= MAX_EOIS:
                    return
            barrier = position + int(at) + 2
        if len(dead):
            barrier = max(barrier, int(dead[-1]))
        position += len(chunk) - 1


def _dead_block_ends(chunk: np.ndarray, position: int, offset: int) -> np.ndarray:
    """The ends of the whole aligned blocks in ``chunk`` (at ``position``) with no byte of 0x80 or more."""
    skip = -(position - offset) % BOUNDARY
    blocks = (len(chunk) - skip) // BOUNDARY
    if blocks <= 0:
        return np.empty(0, np.int64)
    high = chunk[skip : skip + blocks * BOUNDARY].reshape(blocks, BOUNDARY).max(axis=1)
    return position + skip + (np.flatnonzero(high < 0x80).astype(np.int64) + 1) * BOUNDARY
