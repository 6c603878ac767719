"""BMP: the file header states the size; it counts only when the picture's own header agrees with it.

"BM" is two bytes, so chance hits are common: the size field is believed only
when the DIB header is one of the known kinds, describes a picture of sane
dimensions and depth, and the stated size fits the pixel data it implies.  A
header claiming 4 GB for a 100x100 picture is not a BMP.
"""

from __future__ import annotations

from fieldlab.detect.carving.walk import Walk, complete, cut
from fieldlab.detect.carving.window import Window

SIGNATURE = b"BM"
MAX_SIDE = 1 << 16
TRAILING_SLACK = 1 << 20  # an ICC profile or padding after the pixels (BITMAPV5HEADER)

_INFO_HEADERS = frozenset({40, 52, 56, 64, 108, 124})  # BITMAPINFOHEADER and its successors; 12 is the OS/2 core
_DEPTHS = frozenset({1, 2, 4, 8, 16, 24, 32})
_UNCOMPRESSED, _RLE8, _RLE4, _BITFIELDS, _JPEG, _PNG, _ALPHABITFIELDS = range(7)


def walk(window: Window, offset: int, limit: int) -> Walk | None:
    header = window.read(offset, 34)
    if len(header) < 26:
        return None
    declared = int.from_bytes(header[2:6], "little")
    pixels_at = int.from_bytes(header[10:14], "little")
    info_size = int.from_bytes(header[14:18], "little")
    if info_size == 12:
        width, height = int.from_bytes(header[18:20], "little"), int.from_bytes(header[20:22], "little")
        planes, depth = int.from_bytes(header[22:24], "little"), int.from_bytes(header[24:26], "little")
        compression = _UNCOMPRESSED
    elif info_size in _INFO_HEADERS and len(header) == 34:
        width = int.from_bytes(header[18:22], "little", signed=True)
        height = abs(int.from_bytes(header[22:26], "little", signed=True))  # negative: stored top-down
        planes, depth = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
        compression = int.from_bytes(header[30:34], "little")
    else:
        return None
    if planes != 1 or depth not in _DEPTHS or not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return None
    if not 14 + info_size <= pixels_at <= declared or not _size_fits(declared, pixels_at, width, height, depth,
                                                                    compression):
        return None
    if offset + declared > limit:
        return cut("bmp", offset, limit, offset + pixels_at)
    return complete("bmp", declared)


def _size_fits(declared: int, pixels_at: int, width: int, height: int, depth: int, compression: int) -> bool:
    raw = (width * depth + 31) // 32 * 4 * height
    if compression in (_UNCOMPRESSED, _BITFIELDS, _ALPHABITFIELDS):
        return pixels_at + raw <= declared <= pixels_at + raw + TRAILING_SLACK
    if compression in (_RLE8, _RLE4):  # run-length data is never much larger than the raw pixels
        return declared <= pixels_at + 2 * raw + 4096
    return compression in (_JPEG, _PNG)  # an embedded JPEG or PNG: the size is all there is to go on
