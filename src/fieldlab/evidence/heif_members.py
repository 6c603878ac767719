"""HEIC, HEIF and AVIF pictures as containers of their thumbnails, and the byte run of their EXIF thumbnail.

A phone's HEIC keeps a small preview as an image item of its own (linked to
its picture by an iref 'thmb'), and editors do not always redo it: the
thumbnail of a retouched or cropped picture can still show the original.

Where a thumbnail lives in the locator model: it is HEVC (or AV1) data, and
decoding it gives pixels that exist nowhere in the file as bytes, so it
cannot be a carved run; it is a member of the picture, as a thumbnail is a
member of a thumbnail cache, re-opened through the same ``member`` layer and
rendered as PNG (``fieldlab.evidence.rendered``) each time.  Member key:
``<position>:image <i> thumbnail <j>``, libheif's order of the file's
top-level images and of each one's thumbnails (the file's own order), so the
locator re-opens the same thumbnail; the label says "rendered as PNG".

The EXIF thumbnail is different: a JPEG stored as it is inside the Exif item,
so it is a carved run of the picture (``heif_exif_thumbnail_run``), hashed
with its own bytes, as ``fieldlab.detect.exif_thumbnail`` does for a JPEG's
APP1 segment, with the same parser.

Bounds: the file is read into memory up to ``MAX_FILE_BYTES`` (libheif wants
all of it); thumbnails per file; pixels per thumbnail, from its declared size
before decoding.  libheif's own security limits (items, image size) stay on.
AVIF thumbnails list, but decode only where libheif has an AV1 decoder.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, BinaryIO, Iterator

from fieldlab.detect.exif_thumbnail import thumbnail_run_in_tiff
from fieldlab.evidence.archives import ArchiveError, Member, MemberOpener
from fieldlab.evidence.rendered import png_bytes, too_large
from fieldlab.problems import ProblemKind

if TYPE_CHECKING:
    from pillow_heif.heif import HeifThumbnail

KIND = "heif"
FILE_TYPES = ("heic", "avif")  # fieldlab.detect.filetype labels of HEIF files
MAX_FILE_BYTES = 256 << 20
MAX_THUMBNAILS = 64  # phones store one per picture
MAX_IMAGES = 1_000  # top-level images of one file: libheif's item limit


def list_heif_members(stream: BinaryIO) -> Iterator[Member | str]:
    """Each stored thumbnail of each top-level image; nothing for a picture without thumbnails."""
    for position, (image, name, thumbnail) in enumerate(_thumbnails(_open(stream))):
        width, height = thumbnail.size
        of_image = f" of image {image + 1}" if image else ""  # a file of several pictures (a burst, a sequence)
        yield Member(position, name, None, None, None, problem=too_large(width, height),
                     label=f"HEIF thumbnail {width}x{height}{of_image}, rendered as PNG".encode())


def heif_opener(stream: BinaryIO) -> MemberOpener:
    """Parses the file once; the opener then decodes any of its thumbnails by position and key."""
    thumbnails = list(_thumbnails(_open(stream)))

    def open_member(index: int, name: bytes) -> BinaryIO:
        if index >= len(thumbnails) or thumbnails[index][1] != name:
            raise ArchiveError(f"no {name[:80].decode('ascii', 'replace')} in this picture")
        thumbnail = thumbnails[index][2]
        if problem := too_large(*thumbnail.size):
            raise ArchiveError(problem)
        try:
            return io.BytesIO(png_bytes(thumbnail.to_pillow()))
        except (RuntimeError, ValueError, OSError) as exc:
            raise ArchiveError(f"the thumbnail cannot be decoded: {exc}"[:300]) from exc

    return open_member


def heif_exif_thumbnail_run(stream: BinaryIO) -> tuple[int, int] | None:
    """(offset, length) of the JPEG thumbnail in the Exif item of the primary picture, or None.

    libheif gives the Exif item's content, which is then found in the file: libheif and both real files in our test
    data (an iPhone's, a converter's) store it as one extent; an item split in extents is not found, and skipped."""
    try:
        data = _read(stream)
        exif = _parsed(data).info.get("exif")
    except ArchiveError:
        return None
    if not exif:
        return None
    tiff = exif[6:] if exif.startswith(b"Exif\0\0") else exif
    start = data.find(tiff)
    return thumbnail_run_in_tiff(tiff, start) if start >= 0 else None


def _open(stream: BinaryIO):  # noqa: ANN202 - a pillow_heif.HeifFile
    return _parsed(_read(stream))


def _read(stream: BinaryIO) -> bytes:
    stream.seek(0)
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ArchiveError(f"HEIF file over {MAX_FILE_BYTES >> 20} MiB: its thumbnails are not read", ProblemKind.LIMIT)
    return data


def _parsed(data: bytes):  # noqa: ANN202 - a pillow_heif.HeifFile
    import pillow_heif

    try:
        return pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    except (RuntimeError, ValueError, OSError, SyntaxError) as exc:
        raise ArchiveError(f"damaged HEIF file: {exc}"[:300]) from exc


def _thumbnails(heif) -> Iterator[tuple[int, bytes, HeifThumbnail]]:  # noqa: ANN001 - a pillow_heif.HeifFile
    """(image index, member name, thumbnail) in libheif's order."""
    try:
        for image_index in range(min(len(heif), MAX_IMAGES)):
            image = heif[image_index]
            for thumbnail_index in range(min(len(image.info.get("thumbnails") or ()), MAX_THUMBNAILS)):
                name = b"image %d thumbnail %d" % (image_index, thumbnail_index)
                yield image_index, name, image.get_thumbnail(thumbnail_index)
    except (IndexError, RuntimeError, ValueError) as exc:
        raise ArchiveError(f"damaged HEIF file: {exc}"[:300]) from exc
