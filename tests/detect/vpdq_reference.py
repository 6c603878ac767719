"""Meta's vPDQ rule between two frame lists, and its hash-file reader: the tests' reference for video hashing.

The scan matches against known-video sets through ``fieldlab.hashsets.videos``
(an index, counting a known video's seconds); this is the plain pairwise rule
Meta describes, used here to check ``video_pdq`` against Meta's own hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fieldlab.detect.perceptual import pdq_from_hex
from fieldlab.detect.video import FrameHash


def vpdq_match(query: Sequence[FrameHash], known: Sequence[FrameHash], radius: int = 31,
               min_quality: int = 50) -> tuple[float, float]:
    """(share of the known video's frames matched, share of the query's frames matched), each 0-1.

    Meta's vPDQ rule: frames are compared as unordered sets of distinct
    hashes, frames under ``min_quality`` left out on both sides; a frame
    matches when some frame of the other video is within ``radius`` bits.  The
    videos match when the first share is at least 0.8 (Meta's default leaves
    the second unconstrained, so a long video containing the known one
    matches).

    Compare lists sampled alike: a known list of every frame is mostly frames
    a one-per-second query never saw, so its share stays low even for the same
    video (0.10-0.72 on Meta's sample clips against this module's hashes of
    them); match such a list as the query, or thin it to one frame a second.
    """
    known_hashes, query_hashes = _distinct(known, min_quality), _distinct(query, min_quality)
    if not len(known_hashes) or not len(query_hashes):
        return 0.0, 0.0
    near = _within(known_hashes, query_hashes, radius)
    return float(near.any(axis=1).mean()), float(near.any(axis=0).mean())


def _distinct(frames: Sequence[FrameHash], min_quality: int) -> np.ndarray:
    unique = sorted({frame.pdq for frame in frames if frame.quality >= min_quality})
    return np.frombuffer(b"".join(unique), dtype=np.uint64).reshape(-1, 4)


def _within(a: np.ndarray, b: np.ndarray, radius: int) -> np.ndarray:
    """Boolean matrix: a[i] within ``radius`` bits of b[j]; in row blocks so memory stays near 32 MB."""
    rows = max(1, (1 << 20) // max(1, len(b)))
    blocks = [np.bitwise_count(a[i:i + rows, None, :] ^ b[None, :, :]).sum(axis=2, dtype=np.int32) <= radius
              for i in range(0, len(a), rows)]
    return np.concatenate(blocks)


def read_vpdq_file(path: str | Path) -> list[FrameHash]:
    """Frames of a vPDQ hash file as Meta's ``vpdq-hash-video`` writes it: ``frame_number,quality,pdq_hex,timestamp``.

    Blank lines are skipped; any other malformed line raises ValueError naming it.
    """
    frames = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                frame, quality, pdq, timestamp = line.strip().split(",")
                frames.append(FrameHash(int(frame), int(quality), pdq_from_hex(pdq), float(timestamp)))
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: not frame,quality,pdq_hex,timestamp ({error})") from None
    return frames
