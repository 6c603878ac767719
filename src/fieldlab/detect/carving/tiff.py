"""TIFF (and the camera RAW formats built on it): the end is the furthest byte any IFD points at.

A TIFF has no end marker and its parts may lie in any order, so the walk visits
every IFD it can reach (the IFD0 chain, SubIFDs, EXIF, GPS and interoperability
IFDs), and takes the furthest of: the IFDs themselves, out-of-line tag values,
strips, tiles and old-style JPEG thumbnails.  Every count is bounded and every
IFD is visited once, so a crafted IFD that points at itself costs nothing.

A chance "II*\\0" is common enough in binary data that IFD0 must look like a
picture's: between 3 and 1000 entries, tags in ascending order as the
specification demands, and a width, height and strip or tile offsets.
"""

from __future__ import annotations

import struct

import numpy as np

from fieldlab.detect.carving.walk import Walk, complete, cut
from fieldlab.detect.carving.window import Window

SIGNATURES = (b"II*\x00", b"MM\x00*")
MAX_IFDS = 1024
MAX_ENTRIES = 1000
MAX_VALUES = 1 << 22  # strips or tiles of one IFD

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_WIDTH, _HEIGHT, _STRIPS, _TILES = 256, 257, 273, 324
_DATA_AND_LENGTHS = {_STRIPS: 279, _TILES: 325, 513: 514}  # strips, tiles, old-style JPEG thumbnail
_IFD_POINTERS = frozenset({330, 34665, 34853, 40965})  # SubIFDs, EXIF, GPS, interoperability
_WANTED = frozenset(_DATA_AND_LENGTHS) | frozenset(_DATA_AND_LENGTHS.values()) | _IFD_POINTERS


class _Damaged(Exception):
    """An IFD that cannot be read as one."""


class _NotAPicture(Exception):
    """IFD0 does not look like a picture's: the signature was chance."""


def walk(window: Window, offset: int, limit: int) -> Walk | None:
    header = window.read(offset, 8)
    if len(header) < 8 or header[:4] not in SIGNATURES:
        return None
    endian = "<" if header[:2] == b"II" else ">"
    pending = [struct.unpack(endian + "I", header[4:8])[0]]
    visited: set[int] = set()
    furthest, note = 8, None
    while pending and len(visited) < MAX_IFDS:
        ifd = pending.pop()
        if ifd in visited or ifd < 8:
            continue
        if offset + ifd + 2 > limit:  # past the limit: the file goes on beyond it, if IFD0 showed it is one
            if not visited:
                return None
            furthest = max(furthest, ifd + 2)
            continue
        try:
            ifd_end, next_ifd, pointers = _read_ifd(window, offset, limit, ifd, endian, first=not visited)
        except _NotAPicture:
            return None
        except _Damaged as damage:
            if not visited:
                return None
            note = f"skipped an unreadable IFD: {damage}"  # the pixels may still be whole: decoding decides
            continue
        finally:
            visited.add(ifd)
        furthest = max(furthest, ifd_end)
        pending += [next_ifd, *pointers]
    if offset + furthest > limit:
        return cut("tiff", offset, limit, offset, note)
    return complete("tiff", furthest, note)


def _read_ifd(window: Window, offset: int, limit: int, ifd: int, endian: str,
              first: bool) -> tuple[int, int, list[int]]:
    """One IFD: the furthest byte it or its values reach, the next IFD, and the IFDs it points at."""
    count_bytes = window.read(offset + ifd, 2)
    count = struct.unpack(endian + "H", count_bytes)[0] if len(count_bytes) == 2 else 0
    if not (3 if first else 1) <= count <= MAX_ENTRIES:
        raise _NotAPicture if first else _Damaged(f"IFD at +{ifd} claims {count} entries")
    table = window.read(offset + ifd + 2, 12 * count + 4)
    if len(table) < 12 * count + 4:
        raise _NotAPicture if first else _Damaged(f"IFD at +{ifd} is cut short")
    furthest = ifd + 2 + 12 * count + 4
    tags: list[int] = []
    values: dict[int, np.ndarray] = {}
    for index in range(count):
        tag, kind, number = struct.unpack_from(endian + "HHI", table, 12 * index)
        field = table[12 * index + 8 : 12 * index + 12]
        size = _TYPE_SIZES.get(kind, 0) * number
        if size > 4:
            furthest = max(furthest, struct.unpack(endian + "I", field)[0] + size)
        if tag in _WANTED:
            values[tag] = _values(window, offset, limit, kind, number, field, endian)
        tags.append(tag)
    if first and (any(b <= a for a, b in zip(tags, tags[1:])) or not {_WIDTH, _HEIGHT} <= set(tags)
                  or not {_STRIPS, _TILES} & set(tags)):
        raise _NotAPicture
    for data_tag, length_tag in _DATA_AND_LENGTHS.items():
        if data_tag in values and length_tag in values:
            starts, lengths = values[data_tag], values[length_tag]
            if len(starts) and len(lengths):  # an empty one lies past the limit, and already moved the end there
                if len(starts) != len(lengths):
                    raise _Damaged(f"IFD at +{ifd}: {len(starts)} offsets but {len(lengths)} lengths")
                furthest = max(furthest, int((starts + lengths).max()))
    pointers = [int(v) for tag in _IFD_POINTERS & values.keys() for v in values[tag]]
    return furthest, struct.unpack(endian + "I", table[-4:])[0], pointers


def _values(window: Window, offset: int, limit: int, kind: int, number: int, field: bytes,
            endian: str) -> np.ndarray:
    """A tag's SHORT or LONG values: inline when they fit in the 4-byte field, else read from where it points.

    Values that lie past the limit come back empty: the entry already pushed the
    file's end past the limit, so the walk reports the file as cut there.
    """
    width = _TYPE_SIZES.get(kind)
    if width not in (2, 4) or number > MAX_VALUES:
        raise _Damaged(f"{number} values of type {kind} where offsets or lengths belong")
    size = width * number
    if size <= 4:
        data = field[:size]
    else:
        start = offset + struct.unpack(endian + "I", field)[0]
        data = window.read(start, size) if start + size <= limit else b""
    dtype = np.dtype(endian + ("u2" if width == 2 else "u4"))
    return np.frombuffer(data[: len(data) // width * width], dtype).astype(np.int64)
