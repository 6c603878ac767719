"""PNG: chunks by their lengths, each checked against its CRC, until IEND.

The CRC makes PNG the one format here whose every byte is vouched for, so a
chunk that fails it is where the file was damaged or overwritten: the run ends
before that chunk.
"""

from __future__ import annotations

import zlib

from fieldlab.detect.carving.walk import Walk, broken, complete, cut
from fieldlab.detect.carving.window import Window

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 200_000  # libpng writes 8 KiB IDAT chunks: 1.6 GB of them

_COLOUR_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}


def walk(window: Window, offset: int, limit: int) -> Walk | None:
    position = offset + len(SIGNATURE)
    for index in range(MAX_CHUNKS):
        header = window.read(position, 8)
        if position + 12 > limit or len(header) < 8:
            return cut("png", offset, limit, position) if index else None
        length, kind = int.from_bytes(header[:4], "big"), header[4:8]
        if index == 0 and (kind != b"IHDR" or length != 13 or not _plausible_header(window.read(position + 8, 13))):
            return None
        if length >= 1 << 31 or not kind.isalpha():
            return broken("png", offset, position, f"implausible chunk header at +{position - offset}")
        chunk_end = position + 12 + length
        stored_crc = window.read(chunk_end - 4, 4)
        if chunk_end > limit or len(stored_crc) < 4:
            return cut("png", offset, limit, position) if index else None
        if _crc(window, position + 4, chunk_end - 4) != int.from_bytes(stored_crc, "big"):
            if index == 0:
                return None
            return broken("png", offset, position, f"{kind.decode()} chunk at +{position - offset} fails its CRC")
        position = chunk_end
        if kind == b"IEND":
            return complete("png", position - offset)
    return broken("png", offset, position, f"more than {MAX_CHUNKS:,} chunks")


def _plausible_header(fields: bytes) -> bool:
    if len(fields) < 13:
        return False
    width, height = int.from_bytes(fields[0:4], "big"), int.from_bytes(fields[4:8], "big")
    depth, colour = fields[8], fields[9]
    return width > 0 and height > 0 and depth in _COLOUR_DEPTHS.get(colour, ()) and fields[10:13] in (
        b"\x00\x00\x00", b"\x00\x00\x01")


def _crc(window: Window, start: int, stop: int) -> int:
    """CRC-32 of ``[start, stop)`` from the cached pieces, without copying a large chunk into one buffer."""
    crc, position = 0, start
    while position < stop:
        base, data = window.chunk_at(position)
        piece_end = min(stop, base + len(data))
        if piece_end <= position:  # the reader ran out after all: the CRC will not match
            break
        crc = zlib.crc32(memoryview(data)[position - base : piece_end - base], crc)
        position = piece_end
    return crc
