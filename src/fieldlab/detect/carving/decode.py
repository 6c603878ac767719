"""Whether a carved picture decodes: the check that turns "looks like a JPEG" into "is a picture".

Structure walks find where a file ends; only a decoder shows that the bytes in
between are image data and not a plausible header over garbage.  Pictures are
decoded by Pillow (HEIF through pillow-heif); the pixel count is checked from
the header first, so a crafted header claiming billions of pixels costs
nothing.  JPEGs are decoded at 1/8 scale: libjpeg still reads every
entropy-coded bit, so damage is found all the same, at a fraction of the time.

libjpeg treats image data that stops before the last block (an EOI marker
too early: a cut file whose next bytes happen to hold FF D9) as a mere warning,
which Pillow drops; the blocks it never got are left as zero coefficients,
exactly mid-grey.  A JPEG whose whole bottom row decodes to exactly (128, 128,
128) is therefore taken as cut short: a real photo essentially never ends in
perfectly uniform mid-grey.

Videos are not decoded here: their walk is their check.

Decoding is most of a carve's time, and Pillow and libheif release the GIL
while they decode, so pictures are decoded on a few threads while the scan
walks on; the evidence is still read on the caller's thread only (readers of
disk images are not thread-safe).
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pillow_heif
import simplejpeg
from PIL import Image

pillow_heif.register_heif_opener()
Image.init()  # every plugin now, so the format names below can be checked against what this Pillow has

T = TypeVar("T")

DECODE_THREADS = min(4, os.cpu_count() or 1)
MAX_WAITING, MAX_WAITING_BYTES = 4 * DECODE_THREADS, 512 << 20  # results held back to keep the order
MAX_PIXELS = 150_000_000  # above 108 MP phone sensors; the same limit the perceptual stage uses

PILLOW_FORMATS = {
    "jpeg": ("JPEG", "MPO"), "png": ("PNG",), "gif": ("GIF",), "bmp": ("BMP",), "webp": ("WEBP",),
    "tiff": ("TIFF",), "heic": ("HEIF",), "avif": ("AVIF", "HEIF"),
}


def decode_problem(data: bytes, kind: str) -> str | None:
    """Why the picture in ``data`` does not decode, or None when it does (or ``kind`` is not a picture)."""
    formats = PILLOW_FORMATS.get(kind)
    if formats is None:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=[f for f in formats if f in Image.OPEN]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return f"not decoded: {width}x{height} is over the {MAX_PIXELS:,} pixel limit"
            if kind == "jpeg":
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            image.load()
            if kind == "jpeg" and _ends_in_decoder_fill(image):
                return "image data ends early: the bottom row is the flat mid-grey a decoder leaves for missing data"
    except Exception as error:  # hostile bytes make every decoder raise something different: all mean "no"
        return f"does not decode: {type(error).__name__}: {error}"
    return None


def jpeg_decoded_strictly(data: bytes) -> np.ndarray | None:
    """The grey picture of ``data`` if libjpeg decodes it whole, to its end, without one warning; else None.

    Joining two pieces at the wrong place rarely makes libjpeg fail: it warns ("Corrupt JPEG data: bad Huffman
    code", "premature end of data segment", "N extraneous bytes before marker 0xd9"), fills what it could not
    decode and goes on, and Pillow drops those warnings.  simplejpeg's ``strict`` mode turns every libjpeg warning
    into an error, so a pair of pieces is accepted only when the entropy-coded data decodes exactly to the EOI.
    A full decode, not a reduced one (a scaled decode still reads every bit, but skips the checks of the IDCT
    stage); to grey, so colour conversion, which proves nothing, is skipped.
    """
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        if width * height > MAX_PIXELS:
            return None
        picture: np.ndarray = simplejpeg.decode_jpeg(data, colorspace="GRAY", strict=True)
    except (ValueError, RuntimeError):
        return None
    return picture


def _ends_in_decoder_fill(image: Image.Image) -> bool:
    if image.mode not in ("RGB", "L"):
        return False
    bottom_row = image.crop((0, image.height - 1, image.width, image.height))
    extrema = bottom_row.getextrema()
    return all(band == (128, 128) for band in (extrema if image.mode == "RGB" else [extrema]))


def problems_in_order(items: Iterable[tuple[T, bytes | None, str]]) -> Iterator[tuple[T, str | None]]:
    """Each ``(item, picture, kind)`` as ``(item, decode_problem(picture, kind))``, in the order given.

    Items without a picture pass straight through, in their place.  The scan
    runs ahead of the decoders by at most ``MAX_WAITING`` items holding at most
    ``MAX_WAITING_BYTES`` of pictures: the memory that keeping the order costs.
    """
    waiting: deque[tuple[T, Future[str | None] | None, int]] = deque()
    waiting_bytes = 0
    with ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="carve-decode") as pool:
        for item, picture, kind in items:
            future = pool.submit(decode_problem, picture, kind) if picture is not None else None
            size = len(picture) if picture is not None else 0
            waiting.append((item, future, size))
            waiting_bytes += size
            while waiting and (waiting[0][1] is None or waiting[0][1].done() or len(waiting) > MAX_WAITING
                               or waiting_bytes > MAX_WAITING_BYTES):
                done, future, size = waiting.popleft()
                waiting_bytes -= size
                yield done, future.result() if future is not None else None
        while waiting:
            done, future, _ = waiting.popleft()
            yield done, future.result() if future is not None else None
