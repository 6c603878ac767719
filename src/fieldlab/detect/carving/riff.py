"""RIFF containers (WebP, AVI): the RIFF size gives the end; the chunks inside must add up to it.

An AVI over 1 GB (OpenDML) continues in further ``RIFF....AVIX`` lists right
after the first; they are part of the same file and are followed too.
"""

from __future__ import annotations

from fieldlab.detect.carving.walk import Walk, broken, complete, cut
from fieldlab.detect.carving.window import Window

SIGNATURE = b"RIFF"
MAX_CHUNKS = 10_000  # top-level chunks inside one RIFF: hdrl, INFO, JUNK, movi, idx1, or a handful in WebP
MAX_EXTENSIONS = 1024  # AVIX lists: one per GB

_KINDS = {b"WEBP": "webp", b"AVI ": "avi"}
_WEBP_FIRST = frozenset({b"VP8 ", b"VP8L", b"VP8X"})


def walk(window: Window, offset: int, limit: int) -> Walk | None:
    header = window.read(offset, 24)
    kind = _KINDS.get(header[8:12])
    if kind is None or len(header) < 24 or not _plausible_first_chunk(kind, header[12:16], header[20:24]):
        return None
    end = offset + 8 + _padded(int.from_bytes(header[4:8], "little"))
    if end > limit:
        return cut(kind, offset, limit, offset + 12)
    chunks_end = _walk_chunks(window, offset + 12, end)
    if chunks_end != end:
        return broken(kind, offset, chunks_end, f"chunks stop adding up at +{chunks_end - offset}")
    if kind == "avi":
        for _ in range(MAX_EXTENSIONS):
            extension = window.read(end, 12)
            if len(extension) < 12 or extension[:4] != SIGNATURE or extension[8:12] != b"AVIX":
                break
            extension_end = end + 8 + _padded(int.from_bytes(extension[4:8], "little"))
            if extension_end > limit:
                return cut(kind, offset, limit, end)
            end = extension_end
    return complete(kind, end - offset)


def _plausible_first_chunk(kind: str, chunk_id: bytes, list_type: bytes) -> bool:
    if kind == "webp":
        return chunk_id in _WEBP_FIRST
    return chunk_id == b"LIST" and list_type == b"hdrl"


def _walk_chunks(window: Window, position: int, end: int) -> int:
    """Where the chunk sequence from ``position`` stops: ``end`` when the chunks tile the RIFF exactly."""
    for _ in range(MAX_CHUNKS):
        if position >= end:
            return position
        header = window.read(position, 8)
        if len(header) < 8 or not all(0x20 <= b < 0x7F for b in header[:4]):
            return position
        following = position + 8 + _padded(int.from_bytes(header[4:8], "little"))
        if following > end:
            return position
        position = following
    return position


def _padded(size: int) -> int:
    return size + (size & 1)
