"""Pictures and videos carved from raw bytes: unallocated space, unpartitioned gaps, damaged media.

Deleted files lose their names and cluster chains but their bytes stay until
overwritten; an examiner needs them back with exact boundaries, so each carved
run can be hashed against the known-file sets and shown, and its offset cited.
``carve`` finds headers (the strong signatures at every byte, since a picture
inside a deleted document or mail store starts wherever its container put it;
the weak ones, BMP and TIFF, at sector starts in free space, see
``fieldlab.detect.carving.signatures``), then follows each
format's own structure to its own end (see ``fieldlab.detect.carving``) rather
than searching for the next header, and decodes pictures to tell real files
from chance signatures (on a few threads, while the scan goes on).

The bytes may be hostile: every length is checked against the region end and
``max_file``, every loop has a count bound, and each region has a budget of
candidates and of seconds spent carving it, past which the rest of the region
is skipped with a logged warning rather than hanging the scan.

Decisions a reader of the results should know:

- ``valid`` is True only for a complete file: its structure reached its own
  end, and (with ``validate``) a picture decodes.  A file cut by the region end
  or ``max_file`` is reported with ``valid=False`` and a note saying so, even if
  the part present would display: a partial file must never be taken for the
  whole one.
- A header inside a file already carved is part of that file (a JPEG's EXIF
  thumbnail, a JPEG embedded in a TIFF) and is not reported again.  For a
  damaged or cut file, only the part whose structure checked out claims what
  lies inside it, so a header in the garbage after a break is still examined.
- A JPEG whose walk breaks is tried as two fragments with a gap between
  (``fieldlab.detect.carving.bifragment``): a pair is reported, as one valid
  run with ``second`` set, only if the joined pieces decode whole with no
  libjpeg warning; otherwise the broken run is reported as before.
- Signatures whose header does not hold up (a JPEG SOI followed by garbage, a
  PNG whose first chunk fails its CRC) are not reported at all; damage found
  after a sound header is reported as an invalid run with a note.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial

from fieldlab.detect.carving.bifragment import GapBudget, reassemble_jpeg
from fieldlab.detect.carving.decode import PILLOW_FORMATS, problems_in_order
from fieldlab.detect.carving.signatures import FORMATS, HEAD, candidates
from fieldlab.detect.carving.walk import End, Walk
from fieldlab.detect.carving.window import Reader, Window

__all__ = ["CarvedRun", "Reader", "carve"]

BLOCK = 8 << 20  # read at once
SLICE = 256 << 10  # searched at once: a file found is skipped, the rest of its slice was searched for nothing
CANDIDATES_BASE, BYTES_PER_CANDIDATE = 100_000, 4096  # a region's candidate budget: base + one per 4 KiB
SECONDS_BASE, BYTES_PER_SECOND = 120.0, 4_000_000  # a region's time budget: base + 1 s per 4 MB

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CarvedRun:
    offset: int  # absolute byte offset in the reader's address space
    length: int
    kind: str  # "jpeg" | "png" | "gif" | "bmp" | "webp" | "tiff" | "heic" | "avif" | "mp4" | "avi"
    valid: bool  # a complete file: structure to its own end, and (pictures, when validating) it decodes
    note: str | None  # e.g. "truncated at region end", "embedded EXIF thumbnail skipped"
    second: tuple[int, int] | None = None  # a JPEG found in two fragments: its second piece; offset+length the first

    @property
    def size(self) -> int:
        """The file's bytes: its one run, or both pieces."""
        return self.length + (self.second[1] if self.second else 0)


def carve(reader: Reader, regions: Iterable[tuple[int, int]], *, alignment: int = 512, max_file: int = 256 << 20,
          validate: bool = True, fragmented: bool = True) -> Iterator[CarvedRun]:
    """The media files in each ``(offset, length)`` region of ``reader``, in offset order within a region.

    Strong signatures (JPEG, PNG, GIF, RIFF, ISO ``ftyp``) are looked for at
    every byte; ``alignment`` is where the weak ones (BMP, TIFF) may start: 512
    for free space, 1 inside a single file.  A run is reported once, at its
    exact offset.  No run is longer than ``max_file`` or crosses its region's end.  ``fragmented``: also put
    together JPEGs stored in two pieces (with ``validate``), as a file system leaves them in free space; not
    inside one file, whose bytes are in order already.
    """
    if alignment < 1 or max_file < 1:
        raise ValueError("alignment and max_file must be positive")
    found = (item for start, length in regions if length > 0
             for item in _carve_region(Window(reader, start, start + length), alignment, max_file, validate,
                                           validate and fragmented))
    for (run, retry), problem in problems_in_order(found):
        whole = retry() if problem and retry is not None else None  # on this thread: readers are not thread-safe
        if whole is not None:
            yield whole
        else:
            yield replace(run, valid=False, note="; ".join(filter(None, (run.note, problem)))) if problem else run


def _carve_region(window: Window, alignment: int, max_file: int, validate: bool,
                  fragmented: bool) -> Iterator[tuple[tuple[CarvedRun, _Retry | None], bytes | None, str]]:
    """Each run found in the region, with what to try should its picture not decode (a JPEG whose gap happened to
    hold FF D9 walks to it), and the bytes of a whole picture to decode (None when there is nothing to)."""
    budget = _Budget(window.end - window.start)
    gaps = GapBudget(window.end - window.start)
    position = claimed = window.start  # headers before ``claimed`` lie inside a file already carved
    while position < window.end:
        block_end = min(position + BLOCK, window.end)
        block = window.pin(position, block_end - position + HEAD)
        start = position
        while start < block_end:  # a slice at a time, so the bytes of a file found are not searched
            stop = min(start + SLICE, block_end)
            for offset in candidates(block, position, start, stop, alignment, budget.candidates + 1):
                if offset < claimed:
                    continue
                if not budget.spend():
                    log.warning("carving stopped at offset %d of the region %d+%d: over its budget of candidates "
                                "or time, which only crafted or pathological data exhausts; the rest of the region "
                                "was not carved", offset, window.start, window.end - window.start)
                    return
                found = _walk(window, block[offset - position : offset - position + HEAD], offset, max_file)
                if found is not None:
                    claimed = max(claimed, offset + found.sound)
                    run = _run(window, offset, found, max_file)
                    complete = found.end is End.FOUND
                    two_pieces = fragmented and found.kind == "jpeg" and found.end is not End.LIMIT
                    if two_pieces:
                        run = _reassembled(window, run, max_file, gaps, complete, undecodable=False) or run
                    retry = (partial(_reassembled, window, run, max_file, gaps, complete, undecodable=True)
                             if two_pieces and complete and run.second is None else None)
                    decode = (validate and run.valid and run.kind in PILLOW_FORMATS  # a video's walk is its check
                              and run.second is None)  # two pieces were accepted by a stricter, full decode
                    with budget.paused():
                        yield (run, retry), window.read(offset, run.length) if decode else None, run.kind
            start = max(stop, claimed)
        position = max(block_end, claimed)


_Retry = Callable[[], "CarvedRun | None"]


class _Budget:
    """The candidates and seconds one region may take.

    Only time spent carving counts: while the caller holds a run (hashing it,
    storing it, decoding it) the clock is stopped, so a slow consumer never
    cuts a carve short.
    """

    def __init__(self, size: int) -> None:
        self.candidates = CANDIDATES_BASE + size // BYTES_PER_CANDIDATE
        self._seconds_left = SECONDS_BASE + size / BYTES_PER_SECOND
        self._since = time.monotonic()

    def spend(self) -> bool:
        """Take one candidate: False once the candidates or the seconds are used up."""
        self.candidates -= 1
        return self.candidates >= 0 and time.monotonic() - self._since < self._seconds_left

    @contextmanager
    def paused(self) -> Iterator[None]:
        self._seconds_left -= time.monotonic() - self._since
        try:
            yield
        finally:
            self._since = time.monotonic()


def _reassembled(window: Window, run: CarvedRun, max_file: int, gaps: GapBudget, complete: bool, *,
                 undecodable: bool) -> CarvedRun | None:
    """The JPEG walked as ``run``, put together from two pieces, if any pair decodes whole."""
    pieces = reassemble_jpeg(window, run.offset, run.offset + run.length, max_file, gaps, complete=complete,
                             undecodable=undecodable)
    if pieces is None:
        return None
    (offset, length), (second, _) = pieces.first, pieces.second
    kept = run.note if run.note and not run.note.startswith("structure breaks") else None
    note = "; ".join(filter(None, (f"two fragments, {second - offset - length:,} bytes between", kept)))
    return CarvedRun(offset, length, "jpeg", True, note, pieces.second)


def _walk(window: Window, head: bytes, offset: int, max_file: int) -> Walk | None:
    """The structure of the file starting at ``offset``, if a format's header holds there."""
    limit = min(window.end, offset + max_file)
    for family in FORMATS:
        if family.matches(head):
            found = family.walk(window, offset, limit)
            if found is not None:
                return found
    return None


def _run(window: Window, offset: int, found: Walk, max_file: int) -> CarvedRun:
    notes = [found.note] if found.note else []
    if found.end is End.LIMIT:
        notes.append("truncated at region end" if offset + found.length >= window.end
                     else f"cut at max_file ({max_file:,} bytes)")
    return CarvedRun(offset, found.length, found.kind, found.end is End.FOUND, "; ".join(notes) or None)
