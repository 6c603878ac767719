"""Where a JPEG keeps its EXIF thumbnail: the byte run of the small JPEG inside the APP1 segment.

Cameras and phones store a ~160x120 preview in the EXIF block, and many
editors do not update it: a cropped or retouched picture can still carry a
thumbnail of the original.  The run is returned, not the bytes, so the
thumbnail becomes a child item addressed as a carved run of its picture and
goes through hashing and PDQ like any file.

Everything is read from the suspect's file: offsets are checked against the
segment, IFD entry counts are bounded, and only the first (IFD0 -> IFD1) link
is followed, so no chain of IFDs can loop.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

APP1_MAX = 65535 + 2
_MAX_ENTRIES = 512  # real IFD0s hold a few dozen tags
_THUMBNAIL_OFFSET, _THUMBNAIL_LENGTH = 0x0201, 0x0202


def exif_thumbnail_run(stream: BinaryIO) -> tuple[int, int] | None:
    """(offset, length) of the EXIF thumbnail JPEG within the file, or None when it has none we can trust."""
    stream.seek(0)
    data = stream.read(4 + APP1_MAX + 4096)
    position = 2
    if not data.startswith(b"\xff\xd8"):
        return None
    while position + 4 <= len(data) and data[position] == 0xFF:  # walk the segments before the picture data
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if marker == 0xE1 and data[position + 4:position + 10] == b"Exif\0\0":
            return thumbnail_run_in_tiff(data[position + 10:position + 2 + length], position + 10)
        if marker in (0xDA, 0xD9) or length < 2:  # start of scan or end: no EXIF before the picture
            return None
        position += 2 + length
    return None


def thumbnail_run_in_tiff(tiff: bytes, tiff_start: int) -> tuple[int, int] | None:
    """The thumbnail's run in an EXIF block (a TIFF structure) lying at ``tiff_start`` of the file: a JPEG's APP1
    segment, or a HEIF file's Exif item."""
    if tiff[:4] == b"II*\0":
        order = "<"
    elif tiff[:4] == b"MM\0*":
        order = ">"
    else:
        return None
    ifd0 = _u32(tiff, 4, order)
    if ifd0 is None:
        return None
    count = _u16(tiff, ifd0, order)
    if count is None or count > _MAX_ENTRIES:
        return None
    ifd1 = _u32(tiff, ifd0 + 2 + 12 * count, order)
    if not ifd1:
        return None
    tags = _tags(tiff, ifd1, order)
    offset, length = tags.get(_THUMBNAIL_OFFSET), tags.get(_THUMBNAIL_LENGTH)
    if not offset or not length or offset + length > len(tiff) or tiff[offset:offset + 2] != b"\xff\xd8":
        return None
    return tiff_start + offset, length


def _tags(tiff: bytes, ifd: int, order: str) -> dict[int, int]:
    count = _u16(tiff, ifd, order)
    if count is None or count > _MAX_ENTRIES:
        return {}
    found = {}
    for n in range(count):
        entry = ifd + 2 + 12 * n
        if entry + 12 > len(tiff):
            break
        tag, kind, _count = struct.unpack_from(order + "HHI", tiff, entry)
        if kind == 3:  # SHORT
            found[tag] = struct.unpack_from(order + "H", tiff, entry + 8)[0]
        elif kind == 4:  # LONG
            found[tag] = struct.unpack_from(order + "I", tiff, entry + 8)[0]
    return found


def _u16(data: bytes, offset: int, order: str) -> int | None:
    return struct.unpack_from(order + "H", data, offset)[0] if 0 <= offset <= len(data) - 2 else None


def _u32(data: bytes, offset: int, order: str) -> int | None:
    return struct.unpack_from(order + "I", data, offset)[0] if 0 <= offset <= len(data) - 4 else None
