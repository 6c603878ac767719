"""Thumbnail caches: small copies of pictures that outlive the pictures themselves.

Windows and Android keep a thumbnail of every picture a folder view or gallery
has shown, and do not remove it when the picture is deleted.  A thumbnail that
matches a known picture is therefore evidence that the picture was on the
machine.  ``list_thumbnails`` lists what a cache holds and ``read_thumbnail``
returns one picture's bytes; the scan turns each entry into a child item of the
cache file and matches it like any other picture.

Formats: Windows Vista to 11 ``thumbcache_*.db`` (``thumbcache.py``), the
``Thumbs.db`` of Windows XP and of folders on network shares (``thumbsdb.py``),
and Android's ``.thumbdata3--*`` / ``.thumbdata4--*`` (here: a run of JPEGs,
found by walking JPEG markers).

The suspect controls these files.  Every offset and size is checked against
the file, counts in headers are never trusted, chains are followed with a step
limit, and each part is read with a size cap.  A damaged entry is yielded as a
``ThumbnailCacheError`` and listing goes on with the next one, so one bad
entry never hides the rest; only a file that is not the format at all raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import BinaryIO

from fieldlab.detect.carving.jpeg import walk as walk_jpeg
from fieldlab.detect.carving.walk import End
from fieldlab.detect.carving.window import Window
from fieldlab.errors import EvidenceError

MAX_PICTURE_BYTES = 64 << 20  # a 2560-pixel BMP thumbnail is 26 MB; anything bigger is not a thumbnail
MAX_ENTRIES = 1_000_000  # far beyond any real cache (tens of thousands), small enough to bound the work
MAX_PROBLEMS = 1_000  # a file this damaged is reported as such rather than listed problem by problem

OLE_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")  # compound files: Thumbs.db, but also Office documents
_THUMBDATA_NAME = re.compile(r"\.thumbdata\d*(-.*)?", re.IGNORECASE)
_SOI = b"\xff\xd8\xff"
_SCAN_WINDOW = 4 << 20
_MAX_THUMBDATA_JPEG = 1 << 20  # Android slots are 10 000 or 16 384 bytes; the margin covers unknown variants


@dataclass(frozen=True)
class ThumbnailEntry:
    key: str  # unique and stable within the cache (part of the item's address): thumbcache entry hash in 16 hex
    #           digits, Thumbs.db stream name, thumbdata byte offset in decimal
    name: str | None  # the original file's name, where the cache records it (Thumbs.db Catalog)
    offset: int  # first byte of the picture in the cache file when stored in one piece and used as is, else -1
    size: int  # bytes of the picture as stored (0: the entry holds none)
    kind: str  # "jpeg" | "png" | "bmp" | "unknown"
    modified: float | None  # UTC epoch seconds, where the cache records a time (Thumbs.db Catalog)
    note: str | None  # what the examiner should know: "empty entry", "repaired: ...", "... checksum mismatch"


class ThumbnailCacheError(EvidenceError):
    """The file is not the cache it was taken for (raised), or one part of it is damaged (yielded while listing)."""


def cache_kind(head: bytes, name: str | None = None) -> str | None:
    """Which thumbnail cache a file is, from its first bytes (4096 are plenty) and, for Android, its name.

    Returns "thumbcache", "thumbcache_idx" (the index beside the caches: it holds
    no pictures, so listing it yields nothing), "thumbs.db", "ole" (a compound
    file whose directory lies beyond ``head``: ``list_thumbnails`` decides),
    "thumbdata" or None.  Android's thumbdata files are bare JPEGs in slots,
    recognisable only by name.
    """
    if head.startswith(b"CMMM"):
        return "thumbcache"
    if head.startswith(b"IMMM") or head[4:8] == b"IMMM":  # from Windows 8 on, a 4-byte field precedes the signature
        return "thumbcache_idx"
    if head.startswith(OLE_SIGNATURE):
        return _format("thumbs.db").kind_from_head(head)
    if name is not None and _THUMBDATA_NAME.fullmatch(name):
        return "thumbdata"
    return None


def list_thumbnails(stream: BinaryIO, size: int, kind: str) -> Iterator[ThumbnailEntry | ThumbnailCacheError]:
    """Every thumbnail in the cache, with each damaged part reported in its place; ``kind`` as from ``cache_kind``.

    Raises ``ThumbnailCacheError`` at once (not on the first ``next``) when the
    file is not that kind of cache.
    """
    if kind == "thumbdata":
        return _bounded(_thumbdata_entries(stream, size))
    return _bounded(_format(kind).entries(stream, size))


def read_thumbnail(stream: BinaryIO, size: int, kind: str, entry: ThumbnailEntry) -> bytes:
    """The picture of ``entry`` (listed from this same file), repaired where the cache stores it incomplete."""
    if entry.size == 0:
        return b""
    if entry.offset >= 0:
        return read_span(stream, size, entry.offset, entry.size)
    if kind not in ("thumbs.db", "ole"):  # the only format that stores pictures in pieces or incomplete
        raise ThumbnailCacheError(f"entry {entry.key} gives no offset for its picture")
    return _format(kind).picture(stream, size, entry)


def picture_kind(data: bytes) -> str:
    """What kind of picture ``data`` starts with; the caches themselves do not say."""
    if data.startswith(_SOI):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"BM") and len(data) >= 6 and int.from_bytes(data[2:6], "little") >= 26:
        return "bmp"
    return "unknown"


def read_span(stream: BinaryIO, file_size: int, offset: int, length: int) -> bytes:
    """Exactly ``length`` bytes at ``offset``, refusing spans outside the file or bigger than any picture."""
    if length > MAX_PICTURE_BYTES:
        raise ThumbnailCacheError(f"{length} bytes at offset {offset} is more than a thumbnail can be")
    if offset < 0 or length < 0 or offset + length > file_size:
        raise ThumbnailCacheError(f"{length} bytes at offset {offset} lie outside the {file_size}-byte file")
    stream.seek(offset)
    data = stream.read(length)
    if len(data) != length:
        raise ThumbnailCacheError(f"only {len(data)} of {length} bytes could be read at offset {offset}")
    return data


def jpeg_end(data: bytes, start: int, stop: int) -> int:
    """Where the JPEG whose start-of-image is at ``start`` ends, looking no further than ``stop``: the carver's
    JPEG walk, which steps over an EXIF thumbnail's own end marker and through every progressive scan."""
    found = walk_jpeg(Window(_InMemory(data), 0, len(data)), start, stop)
    if found is None:
        raise ThumbnailCacheError("not a JPEG a viewer could show (no frame header before the picture data)")
    if found.end is not End.FOUND:
        raise ThumbnailCacheError(found.note or f"no end-of-image marker within {stop - start} bytes")
    return start + found.length


class _InMemory:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, offset: int, size: int) -> bytes:
        return self._data[offset:offset + size]


def _thumbdata_entries(stream: BinaryIO, size: int) -> Iterator[ThumbnailEntry | ThumbnailCacheError]:
    """JPEGs found by their start marker and walked to their end; slot headers and stale slot tails are skipped.

    Android writes one thumbnail per fixed-size slot (a 13-byte header, the JPEG,
    then whatever an older, longer thumbnail left behind).  Searching for JPEGs
    rather than trusting slot sizes also reads vendor variants with other slot
    sizes.  The file is read in windows that overlap by the longest JPEG accepted.
    """
    start = 0
    while start < size:
        stream.seek(start)
        window = stream.read(min(size - start, _SCAN_WINDOW + _MAX_THUMBDATA_JPEG))
        if not window:
            yield ThumbnailCacheError(f"the file could not be read beyond offset {start}")
            return
        last = start + len(window) >= size
        limit = len(window) if last else min(len(window), _SCAN_WINDOW)  # later pictures: read whole from the next window
        at = 0
        while (soi := window.find(_SOI, at, limit + 2)) >= 0:
            try:
                end = jpeg_end(window, soi, min(len(window), soi + _MAX_THUMBDATA_JPEG))
            except ThumbnailCacheError as problem:
                yield ThumbnailCacheError(f"damaged JPEG at offset {start + soi}: {problem}")
                at = soi + 1
                continue
            yield ThumbnailEntry(key=str(start + soi), name=None, offset=start + soi, size=end - soi,
                                 kind="jpeg", modified=None, note=None)
            at = end
        start += max(at, limit)


def _bounded(found: Iterator[ThumbnailEntry | ThumbnailCacheError]) -> Iterator[ThumbnailEntry | ThumbnailCacheError]:
    """Stops a listing that runs past any real cache's size or is nothing but damage."""
    entries = problems = 0
    for item in found:
        if isinstance(item, ThumbnailCacheError):
            problems += 1
            if problems > MAX_PROBLEMS:
                yield ThumbnailCacheError(f"more than {MAX_PROBLEMS} damaged parts: the rest of the cache was not read")
                return
        else:
            entries += 1
            if entries > MAX_ENTRIES:
                yield ThumbnailCacheError(f"more than {MAX_ENTRIES} entries: the rest of the cache was not read")
                return
        yield item


def _format(kind: str) -> ModuleType:
    """The module that reads ``kind``.  Imported here, not at the top: both build on this module's types."""
    from fieldlab.detect import thumbcache, thumbsdb

    formats = {"thumbcache": thumbcache, "thumbcache_idx": thumbcache, "thumbs.db": thumbsdb, "ole": thumbsdb}
    if kind not in formats:
        raise ValueError(f"unknown thumbnail cache kind {kind!r}")
    return formats[kind]
