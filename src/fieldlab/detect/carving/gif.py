"""GIF: header, colour tables, then extension and image blocks (each a chain of sub-blocks) to the 0x3B trailer.

Sub-block chains are walked a length byte at a time, the one Python loop here
that touches data bytes; encoders fill sub-blocks to 255 bytes, so a real file
takes one step per 256 bytes.  A crafted chain of 1-byte sub-blocks is stopped
by the step budget long before it costs seconds.
"""

from __future__ import annotations

from fieldlab.detect.carving.walk import Walk, broken, complete, cut
from fieldlab.detect.carving.window import Window

SIGNATURES = (b"GIF87a", b"GIF89a")
MAX_SUB_BLOCKS = 1 << 22  # a 1 GB animation of full sub-blocks

_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B


def walk(window: Window, offset: int, limit: int) -> Walk | None:
    header = window.read(offset, 13)
    if len(header) < 13 or header[:6] not in SIGNATURES:
        return None
    if not int.from_bytes(header[6:8], "little") or not int.from_bytes(header[8:10], "little"):
        return None
    position = offset + 13 + _colour_table_size(header[10])
    images = steps = 0
    while position < limit and steps <= MAX_SUB_BLOCKS:
        introducer = window.read(position, 10)  # an image descriptor's fixed part is the longest: 10 bytes
        if not introducer:
            break
        if introducer[0] == _TRAILER:
            return complete("gif", position + 1 - offset) if images else None
        if introducer[0] == _EXTENSION:
            position, used = _skip_sub_blocks(window, position + 2, limit, MAX_SUB_BLOCKS - steps)
        elif introducer[0] == _IMAGE:
            if len(introducer) < 10:
                break
            code_size_at = position + 10 + _colour_table_size(introducer[9])
            code_size = window.read(code_size_at, 1)
            if code_size and not 1 <= code_size[0] <= 11:
                return _failed(images, offset, position, f"implausible LZW code size at +{position - offset}")
            position, used = _skip_sub_blocks(window, code_size_at + 1, limit, MAX_SUB_BLOCKS - steps)
            images += 1
        else:
            return _failed(images, offset, position, f"unexpected block 0x{introducer[0]:02X} at +{position - offset}")
        steps += used
    if steps > MAX_SUB_BLOCKS:
        return broken("gif", offset, position, f"more than {MAX_SUB_BLOCKS:,} sub-blocks")
    return cut("gif", offset, limit, min(position, limit)) if images else None


def _failed(images: int, offset: int, at: int, why: str) -> Walk | None:
    """Damage after a first image leaves a partial picture worth reporting; before it, a chance signature."""
    return broken("gif", offset, at, f"structure breaks: {why}") if images else None


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(window: Window, position: int, limit: int, budget: int) -> tuple[int, int]:
    """Where the chain at ``position`` ends (after its zero-length terminator; past ``limit`` if it runs beyond),
    and how many sub-blocks it took (over ``budget`` if it was stopped)."""
    steps = 0
    while position < limit:
        base, data = window.chunk_at(position)
        stop = min(len(data), limit - base)
        index = position - base
        if index >= stop:
            break
        while index < stop:
            size = data[index]
            if size == 0:
                return base + index + 1, steps
            index += size + 1
            steps += 1
            if steps > budget:
                return base + index, steps
        position = base + index
    return max(position, limit), steps
