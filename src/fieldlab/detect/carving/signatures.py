"""Where files may start: every header signature in a block, at the offsets the alignment allows.

At sector alignment the scan never looks at the bytes in between: numpy reads
the first eight bytes of every sector as one big-endian integer and compares
them under a mask with each signature, a few vectorised operations per 8 MiB.
Byte-granular scans (media embedded in other files) use ``bytes.find`` per
signature, which runs at memory speed, and stop collecting at a cap so a block
made of nothing but signatures cannot fill memory with candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fieldlab.detect.carving import bmp, gif, isobmff, jpeg, png, riff, tiff
from fieldlab.detect.carving.walk import Walk
from fieldlab.detect.carving.window import Window

HEAD = 8  # bytes of a header the signatures are matched against


@dataclass(frozen=True)
class Format:
    """A family of files sharing one walker, and the signatures (offset in the header, bytes) that start them."""

    name: str
    signatures: tuple[tuple[int, bytes], ...]
    walk: Callable[[Window, int, int], Walk | None]

    def matches(self, head: bytes) -> bool:
        return any(head[at : at + len(signature)] == signature for at, signature in self.signatures)


FORMATS = (
    Format("jpeg", ((0, jpeg.SIGNATURE),), jpeg.walk),
    Format("png", ((0, png.SIGNATURE),), png.walk),
    Format("gif", tuple((0, s) for s in gif.SIGNATURES), gif.walk),
    Format("bmp", ((0, bmp.SIGNATURE),), bmp.walk),
    Format("riff", ((0, riff.SIGNATURE),), riff.walk),
    Format("tiff", tuple((0, s) for s in tiff.SIGNATURES), tiff.walk),
    Format("isobmff", ((isobmff.SIGNATURE_AT, isobmff.SIGNATURE),), isobmff.walk),
)


def _word(at: int, signature: bytes) -> tuple[np.uint64, np.uint64]:
    """(mask, value) that select ``signature`` at ``at`` in a big-endian 8-byte head."""
    shift = 8 * (HEAD - at - len(signature))
    mask = ((1 << (8 * len(signature))) - 1) << shift
    return np.uint64(mask), np.uint64(int.from_bytes(signature, "big") << shift)


_WORDS = tuple(_word(at, signature) for f in FORMATS for at, signature in f.signatures)


def candidates(block: bytes, base: int, stop: int, alignment: int, cap: int) -> list[int]:
    """Sorted absolute offsets in ``[base, stop)``, multiples of ``alignment``, where a signature matches.

    ``block`` holds the bytes from ``base``, and ``HEAD`` bytes past ``stop`` where the region has them.
    """
    if alignment >= HEAD:
        first = -base % alignment
        count = max(0, min(stop - base - first + alignment - 1, len(block) - HEAD - first + alignment) // alignment)
        heads = np.ndarray((count,), dtype=">u8", buffer=block, offset=first, strides=(alignment,))
        hits = np.zeros(count, dtype=bool)
        for mask, value in _WORDS:
            hits |= (heads & mask) == value
        return (base + first + np.flatnonzero(hits) * alignment).tolist()
    found: set[int] = set()
    for f in FORMATS:
        for at, signature in f.signatures:
            position = block.find(signature, at)
            while position != -1 and len(found) < cap:
                start = base + position - at
                if start < stop and start % alignment == 0:
                    found.add(start)
                position = block.find(signature, position + 1)
    return sorted(found)
