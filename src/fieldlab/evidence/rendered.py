"""Pictures that exist in the evidence only as pixels (a PDF's Flate image, a HEIF thumbnail), written out as PNG.

PNG is lossless, so the PDQ hash of the rendering is the PDQ hash of the
pixels the suspect's file holds; its MD5 is of our PNG and names no file that
ever existed, which is why every rendered member's label says "rendered as
PNG".  The encoding is fixed (Pillow, zlib level 1, no metadata) so the same
pixels render to the same bytes on every run, and the locator re-opens a
member with the MD5 recorded for it.
"""

from __future__ import annotations

import io

from PIL import Image

MAX_PIXELS = 100_000_000  # refused from the declared size, before any decoding
_PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")


def too_large(width: object, height: object) -> str | None:
    """Why a declared picture size is not decoded, or None when it may be."""
    if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
        return f"declares an impossible size {str(width)[:20]}x{str(height)[:20]}: not decoded"
    if width * height > MAX_PIXELS:
        return f"declares {width}x{height} pixels, over the {MAX_PIXELS // 1_000_000} MP limit: not decoded"
    return None


def png_bytes(image: Image.Image) -> bytes:
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")  # CMYK, 32-bit and float modes
    stream = io.BytesIO()
    image.save(stream, "PNG", compress_level=1)
    return stream.getvalue()
