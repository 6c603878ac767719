"""PDQ perceptual hashes of one still image, decoded no larger than PDQ needs.

PDQ (Meta's open photo hash) boils any picture down to 64x64 luma, so
decoding all 12 million pixels of a phone photo is mostly wasted work.  JPEGs are therefore decoded
at reduced DCT scale (libjpeg's 1/2, 1/4, 1/8) so that the shorter side stays
at least ``HASHING_SIDE`` pixels, and every other format is shrunk after
decoding by an integer box reduction to the same bound.  Against
``pdqhash.compute`` on the full decode, ``bench/pdq_speed.py`` measures 12.5x
the images/s on 12 MP JPEGs with a drift of 3.4 bits on average and 8 at
most (docs/benchmarks.md).  The bound was chosen on 12 MP procedural and
phone JPEGs: a further non-integer resize to 512 px doubled the drift (mean
7, max 14) and decoding at 1/8 scale (shorter side >= 256) raised its
maximum to 12 bits.

``pdqhash`` filters the luma along each column with a stride of one row: a
row of 512 pixels or a multiple of it (2 KiB of floats) lands every step in the
same few CPU cache sets, and hashing runs 1.7-2.7x slower (1024-wide web
pictures, 2048x1536 photos reduced to 1024x768).  Such pictures are hashed
transposed, and the eight dihedral hashes are taken in the transposed order:
the same hashes (bit for bit on 300 generated pictures of those sizes; the box
filters then sum in another order, so a coefficient within float rounding of
the median could in principle flip one bit).

Canonical form: 32 bytes, the bit vector of ``pdqhash`` packed first bit most
significant, so its 64 lowercase hex digits read in the order Meta's tools
print them (the tests hold our hashes to their published ones).

EXIF orientation is deliberately *not* applied: Meta's references hash the
stored pixels (their ``exif-rotn`` samples hash to the stored orientation),
so known-hash lists are built that way; an image stored rotated still matches
through the dihedral hashes.  Alpha is dropped, keeping the colour stored
under it, as the references do.

Crops defeat PDQ quickly.  Measured distance from the uncropped original
after cutting the same share off every side (radius 31 = match):

- 8 generated 1200x900 pictures: 1% 10-22 bits (all match), 2% 22-44 (5 of
  8 match), 3% 38-68, 5% 52-100, 10% 84-132 (as far apart as unrelated
  pictures, 108 and more);
- Meta's bridge photo and two 12 MP phone photos: 1% 12-26, 2% 28-44,
  3% 40-72, 5% 58-96.

So about 1% per side is safe and beyond 2% a cropped copy is missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pdqhash
import pillow_heif
from PIL import Image

from fieldlab.detect.exif import PhotoFacts, photo_facts
from fieldlab.errors import EvidenceError

pillow_heif.register_heif_opener()
Image.init()  # load every plugin now: Image.open(formats=...) does not, and the list below is checked against them

PDQ_BYTES = 32
HASHING_SIDE = 512  # shorter side kept after reduction; see the module docstring for the measurement
ALIASING_ROW = 512  # rows of a multiple of this many pixels are slow to hash as they are: see the module docstring
DEFAULT_MAX_PIXELS = 150_000_000  # above 108 MP phone sensors; a full 150 MP RGB decode needs ~450 MB

# Photo formats only: Pillow would otherwise also open EPS (hands the file to
# Ghostscript), PDF, WMF and dozens of exotic formats no photo arrives in.
IMAGE_FORMATS = tuple(
    name for name in ("JPEG", "MPO", "PNG", "GIF", "BMP", "TIFF", "WEBP", "HEIF", "AVIF", "JPEG2000", "PPM", "TGA",
                      "ICO", "QOI")
    if name in Image.OPEN
)

# Order of pdqhash.compute_dihedral; each name is the transform that, applied
# to the image, gives that hash.  Meta calls them original, rotate-90,
# rotate-180, rotate-270, flipx, flipy, flip-plus-1, flip-minus-1; in Pillow
# terms: ROTATE_90, ROTATE_180, ROTATE_270, FLIP_TOP_BOTTOM, FLIP_LEFT_RIGHT,
# TRANSPOSE, TRANSVERSE.
DIHEDRAL_NAMES: tuple[str, ...] = (
    "original", "rotate-90-ccw", "rotate-180", "rotate-90-cw",
    "flip-top-bottom", "flip-left-right", "transpose", "transverse",
)

# The dihedral hashes of a picture from those of its transpose: its original is the transpose's "transpose", ...
FROM_TRANSPOSED = (6, 4, 7, 5, 1, 3, 0, 2)

# What Pillow's decoders raise on malformed input, besides the OSError of a truncated file.
_DECODER_FAILURES = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError)
_HEX = re.compile(r"[0-9a-fA-F]{64}")


class ImageDecodeError(EvidenceError):
    """The bytes could not be turned into pixels: not an image, damaged, or over a size limit."""


class UndecodableImageFormat(ImageDecodeError):
    """No decoder here knows these bytes: a picture the file-type check recognised in a format this build cannot
    decode (JPEG XL) is unsupported, not damaged, and is recorded so."""


@dataclass(frozen=True)
class ImagePdq:
    pdq: bytes  # 32 bytes, canonical
    quality: int  # 0-100; Meta ignores hashes under 50 as too featureless to match reliably
    dihedral: tuple[bytes, ...]  # one hash per DIHEDRAL_NAMES entry; [0] == pdq
    width: int  # of the stored image, before any reduction
    height: int
    format: str  # Pillow's format name
    facts: PhotoFacts | None = None  # the EXIF an examiner needs (camera, capture time, GPS), read while it is open
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)  # the reduced RGB decode, if asked for


def image_pdq(stream: BinaryIO, max_pixels: int = DEFAULT_MAX_PIXELS, keep_pixels: bool = False) -> ImagePdq:
    """Hash the image in ``stream`` (offset 0 = its first byte); first frame only for animations.

    ``keep_pixels``: return the reduced decode too, for the classifier (``detect.classify``): one decode serves both.

    The size is checked from the header before any pixel is decoded, so a
    file claiming billions of pixels costs nothing.  Pillow's own
    decompression-bomb guard (~179 MP) stays in force above ``max_pixels``.
    """
    try:
        image = Image.open(stream, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"too many pixels: {error}") from error
    except Image.UnidentifiedImageError as error:
        raise UndecodableImageFormat(
            "not an image in a picture format fieldlab decodes (JPEG XL is one it cannot), or its header is damaged"
        ) from error
    except _DECODER_FAILURES as error:
        raise ImageDecodeError(f"damaged or truncated image: {error}") from error
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageDecodeError(f"{width}x{height} image is over the {max_pixels:,} pixel limit")
        facts = photo_facts(image)
        try:
            pixels = _hashing_pixels(image)
        except _DECODER_FAILURES as error:
            raise ImageDecodeError(f"corrupt or truncated {image.format} data: {error}") from error
        format_name = image.format or "unknown"
    bits, quality = _dihedral_bits(pixels)
    dihedral = tuple(np.packbits(np.asarray(b, dtype=np.uint8)).tobytes() for b in bits)
    return ImagePdq(dihedral[0], int(quality), dihedral, width, height, format_name, facts,
                    pixels if keep_pixels else None)


def _dihedral_bits(pixels: np.ndarray) -> tuple[list[np.ndarray], int]:
    """``pdqhash.compute_dihedral``, of the transpose when that avoids rows of a cache-aliasing length."""
    height, width = pixels.shape[:2]
    if _power_of_two_in(width) >= ALIASING_ROW and _power_of_two_in(height) < _power_of_two_in(width):
        bits, quality = pdqhash.compute_dihedral(np.ascontiguousarray(pixels.transpose(1, 0, 2)))
        return [bits[i] for i in FROM_TRANSPOSED], quality
    bits, quality = pdqhash.compute_dihedral(pixels)
    return list(bits), quality


def _power_of_two_in(n: int) -> int:
    """The largest power of two dividing ``n`` (0 for 0)."""
    return n & -n


def _hashing_pixels(image: Image.Image) -> np.ndarray:
    """RGB pixels no larger than PDQ needs; JPEGs never decode at full size when they need not."""
    image.draft("RGB", (HASHING_SIDE, HASHING_SIDE))  # a no-op for every format but JPEG
    rgb = _as_rgb(image)
    factor = min(rgb.width, rgb.height) // HASHING_SIDE
    if factor >= 2:
        rgb = rgb.reduce(factor)
    return np.asarray(rgb)


def _as_rgb(image: Image.Image) -> Image.Image:
    """Whatever the mode, 8-bit RGB; deep grey is scaled to 8 bits, where Pillow's convert would clip it to white."""
    if image.mode == "RGB":
        image.load()
        return image
    if image.mode.startswith(("I", "F")):
        grey: np.ndarray = np.asarray(image, dtype=np.float32)
        peak = grey.max(initial=0)
        if peak > 255:  # 16-bit data (I;16 PNG and TIFF, or I holding it)
            grey = grey / 256
        elif image.mode == "F" and peak <= 1:  # floating-point 0-1 intensities
            grey = grey * 255
        return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L").convert("RGB")
    return image.convert("RGB")


def pdq_hex(h: bytes) -> str:
    """The 64 lowercase hex digits Meta's tools print and hash lists carry."""
    if len(h) != PDQ_BYTES:
        raise ValueError(f"a PDQ hash is {PDQ_BYTES} bytes, not {len(h)}")
    return h.hex()


def pdq_from_hex(s: str) -> bytes:
    """Parse 64 hex digits (either case, surrounding white space ignored); ValueError otherwise."""
    text = s.strip()
    if not _HEX.fullmatch(text):
        raise ValueError(f"not a PDQ hash (64 hex digits): {s[:80]!r}")
    return bytes.fromhex(text)


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two PDQ hashes; 31 or less is Meta's usual match radius."""
    if len(a) != PDQ_BYTES or len(b) != PDQ_BYTES:
        raise ValueError(f"PDQ hashes are {PDQ_BYTES} bytes, got {len(a)} and {len(b)}")
    return (int.from_bytes(a) ^ int.from_bytes(b)).bit_count()
