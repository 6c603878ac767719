"""A HEIF picture's thumbnails as members rendered as PNG, and the run of the JPEG thumbnail in its EXIF block."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from fieldlab.detect.perceptual import hamming, image_pdq
from fieldlab.evidence.archives import ArchiveError, Member
from fieldlab.evidence.heif_members import heif_exif_thumbnail_run, heif_opener, list_heif_members
from tests.conftest import REALDATA
from tests.detect.media_builders import encoded, picture
from tests.evidence.heif_builders import exif_block, heic

REAL_HEIC = REALDATA / "ianare__exif-samples" / "heic" / "IMG_5195.HEIC"


def _members(data: bytes) -> list[Member]:
    return list(list_heif_members(io.BytesIO(data)))


def test_a_thumbnail_showing_another_picture_is_a_member_that_shows_that_picture() -> None:
    original, edited = picture(30, 640, 480), picture(31, 640, 480)
    data = heic(edited, thumbnail_of=original)
    (member,) = _members(data)
    assert (member.key, member.label) == (b"0:image 0 thumbnail 0", b"HEIF thumbnail 160x120, rendered as PNG")
    png = heif_opener(io.BytesIO(data))(member.index, member.name).read()
    assert png.startswith(b"\x89PNG")
    rendered = image_pdq(io.BytesIO(png)).pdq
    assert hamming(rendered, image_pdq(encoded(original)).pdq) <= 31
    assert hamming(rendered, image_pdq(encoded(edited)).pdq) > 31


def test_the_same_thumbnail_renders_to_the_same_bytes_from_a_fresh_opener() -> None:
    data = heic(picture(32, 512, 384), thumbnail_of=picture(32, 512, 384))
    (member,) = _members(data)
    assert heif_opener(io.BytesIO(data))(0, member.name).read() == heif_opener(io.BytesIO(data))(0, member.name).read()


def test_a_picture_without_thumbnails_has_no_members() -> None:
    assert _members(heic(picture(33, 512, 384))) == []


def test_the_jpeg_thumbnail_in_the_exif_item_is_found_at_its_exact_run() -> None:
    preview = encoded(picture(34).resize((160, 120)), quality=80).getvalue()
    data = heic(picture(35, 512, 384), exif=exif_block(preview))
    offset, length = heif_exif_thumbnail_run(io.BytesIO(data))
    assert data[offset:offset + length] == preview


def test_an_exif_item_without_a_thumbnail_gives_no_run() -> None:
    no_ifd1 = b"Exif\0\0II*\0" + struct.pack("<I", 8) + struct.pack("<HI", 0, 0)
    assert heif_exif_thumbnail_run(io.BytesIO(heic(picture(36, 512, 384), exif=no_ifd1))) is None


@pytest.mark.parametrize("cut", [0.05, 0.5, 0.9])
def test_a_truncated_heic_is_a_clear_error_or_nothing_never_a_crash(cut: float) -> None:
    data = heic(picture(37, 640, 480), thumbnail_of=picture(38, 640, 480))
    damaged = data[: int(len(data) * cut)]
    try:
        members = _members(damaged)
        if members:
            heif_opener(io.BytesIO(damaged))(0, members[0].name).read()
    except ArchiveError as exc:
        assert "HEIF" in str(exc) or "thumbnail" in str(exc)
    assert heif_exif_thumbnail_run(io.BytesIO(damaged)) is None


def _references(data: bytes, kind: bytes) -> int:
    """How many references of ``kind`` the file's iref box holds, read from the boxes themselves."""
    meta = data.index(b"meta") - 4
    iref = data.index(b"iref", meta, meta + int.from_bytes(data[meta:meta + 4], "big")) - 4
    version, position, end = data[iref + 8], iref + 12, iref + int.from_bytes(data[iref:iref + 4], "big")
    found = 0
    while position < end:
        size = int.from_bytes(data[position:position + 4], "big")
        found += data[position + 4:position + 8] == kind
        position += size
    assert version in (0, 1)
    return found


def test_the_real_iphone_heic_has_no_thumbnail_item_and_no_exif_thumbnail_and_is_read_without_error() -> None:
    """IMG_5195.HEIC (iOS, a 2566x3313 grid of 42 tiles) links no thumbnail to its picture (no iref 'thmb'), and its
    EXIF block ends after IFD0 (no IFD1): nothing to list, and no false thumbnail."""
    data = REAL_HEIC.read_bytes()
    assert _references(data, b"dimg") == 1 and _references(data, b"thmb") == 0
    assert _members(data) == []
    assert heif_exif_thumbnail_run(io.BytesIO(data)) is None


def test_generated_thumbnails_are_linked_as_phones_link_them() -> None:
    data = heic(picture(39, 640, 480), thumbnail_of=picture(39, 640, 480))
    assert _references(data, b"thmb") == 1
    assert Image.open(io.BytesIO(heif_opener(io.BytesIO(data))(0, b"image 0 thumbnail 0").read())).size == (160, 120)


def test_rendered_pixels_are_the_decoded_thumbnail_unchanged() -> None:
    import pillow_heif

    data = heic(picture(40, 640, 480), thumbnail_of=picture(41, 640, 480))
    decoded = pillow_heif.open_heif(io.BytesIO(data))[0].get_thumbnail(0).to_pillow()
    rendered = Image.open(io.BytesIO(heif_opener(io.BytesIO(data))(0, b"image 0 thumbnail 0").read()))
    assert np.array_equal(np.asarray(rendered), np.asarray(decoded))
