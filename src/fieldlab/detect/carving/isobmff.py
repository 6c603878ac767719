"""ISO base media files (MP4, MOV, 3GP, HEIC, AVIF): top-level boxes by their sizes, from ``ftyp`` on.

Nothing marks the last box, so the walk goes on while the next eight bytes look
like a top-level box of these files and stops at the first that does not:
sector slack, zeros, or the next file.  A size of 1 means a 64-bit size
follows; a size of 0 means "to the end of the file", which a carver cannot
know, so such a file is cut at the limit.  The ftyp brand tells a HEIF or AVIF
picture from a video.  A video counts as whole when it has a ``moov`` whose
children add up to it, with a movie header and at least one track, and media
data; that is all the checking a video gets here (no decoding).
"""

from __future__ import annotations

from fieldlab.detect.carving.walk import Walk, broken, complete, cut
from fieldlab.detect.carving.window import Window

SIGNATURE = b"ftyp"  # at offset 4
SIGNATURE_AT = 4
MAX_BOXES = 100_000  # a fragmented recording has two per fragment
MAX_MOOV_CHILDREN = 10_000

_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_TOP_LEVEL = frozenset({b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"moof", b"mfra",
                        b"sidx", b"ssix", b"prft", b"emsg", b"styp", b"pnot", b"PICT", b"udta", b"junk", b"jumb"})


def walk(window: Window, offset: int, limit: int) -> Walk | None:
    header = window.read(offset, 16)
    if len(header) < 16 or header[4:8] != SIGNATURE:
        return None
    ftyp_size, brand = int.from_bytes(header[:4], "big"), header[8:12]
    if not 16 <= ftyp_size <= 4096 or ftyp_size % 4 or not all(0x20 <= b < 0x7F for b in brand):
        return None
    kind = "heic" if brand in _HEIF_BRANDS else "avif" if brand in _AVIF_BRANDS else "mp4"
    position = offset + ftyp_size
    seen: dict[bytes, int] = {}
    for _ in range(MAX_BOXES):
        box = window.read(position, 16)
        if position + 8 > limit or len(box) < 8 or box[4:8] not in _TOP_LEVEL:
            break
        size = int.from_bytes(box[:4], "big")
        if size == 1:
            size = int.from_bytes(box[8:16], "big") if len(box) == 16 else 0
            if size < 16:
                break
        elif size == 0:
            return cut(kind, offset, limit, position, f"the {box[4:8].decode()} box runs to the end of its file "
                       "(size 0), which a carver cannot see")
        elif size < 8:
            break
        if position + size > limit:
            return cut(kind, offset, limit, position)
        seen.setdefault(box[4:8], position)
        position += size
    else:
        return broken(kind, offset, position, f"more than {MAX_BOXES:,} top-level boxes")
    if not seen:
        return None  # an ftyp followed by nothing of the format: a chance hit or an overwritten file
    missing = _missing_parts(window, kind, seen)
    if missing:
        return broken(kind, offset, position, missing)
    return complete(kind, position - offset)


def _missing_parts(window: Window, kind: str, seen: dict[bytes, int]) -> str | None:
    if kind != "mp4":
        return None if b"meta" in seen else "no meta box: the picture's items are not described"
    if b"moov" not in seen:
        return "no moov box: the video's tracks are not described"
    if b"mdat" not in seen:
        return "no mdat box: the video has no media data"
    return _moov_problem(window, seen[b"moov"])


def _moov_problem(window: Window, moov: int) -> str | None:
    """The moov's children must add up to it, and include the movie header and a track."""
    header = window.read(moov, 16)
    size = int.from_bytes(header[:4], "big")
    position, end = moov + 8, moov + size
    if size == 1:
        position, end = moov + 16, moov + int.from_bytes(header[8:16], "big")
    children = set()
    for _ in range(MAX_MOOV_CHILDREN):
        if position == end:
            break
        child = window.read(position, 8)
        child_size = int.from_bytes(child[:4], "big") if len(child) == 8 else 0
        if child_size < 8 or position + child_size > end:
            return f"moov box damaged at +{position - moov}"
        children.add(child[4:8])
        position += child_size
    else:
        return f"more than {MAX_MOOV_CHILDREN:,} boxes in moov"
    if b"mvhd" not in children or b"trak" not in children:
        return "moov box lacks a movie header or a track"
    return None
