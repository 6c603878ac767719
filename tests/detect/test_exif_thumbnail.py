"""EXIF thumbnails: found where exifread finds them in real camera files, and their run is exact."""

from __future__ import annotations

import io
import json
import struct

import pytest
from PIL import Image

from fieldlab.demo import procedural_jpeg
from fieldlab.detect.exif_thumbnail import exif_thumbnail_run
from tests.conftest import REALDATA

SAMPLES = REALDATA / "ianare__exif-samples"
DUMP = json.loads((REALDATA / "_derived" / "exif" / "exif-samples_dump_parsed.json").read_text())
JPEGS = sorted(name for name in DUMP if name.startswith("jpg/") and (SAMPLES / name).is_file())


def with_exif_thumbnail(picture: bytes, thumbnail: bytes, big_endian: bool = False) -> bytes:
    """``picture`` with an APP1 EXIF segment holding ``thumbnail`` through IFD1, as cameras write it."""
    order = ">" if big_endian else "<"
    header = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(order + "I", 8)
    ifd0 = struct.pack(order + "H", 0) + struct.pack(order + "I", 14)  # no tags, then IFD1 at 14
    ifd1_size = 2 + 2 * 12 + 4
    data_at = 14 + ifd1_size
    ifd1 = (struct.pack(order + "H", 2)
            + struct.pack(order + "HHII", 0x0201, 4, 1, data_at)
            + struct.pack(order + "HHII", 0x0202, 4, 1, len(thumbnail)) + struct.pack(order + "I", 0))
    body = b"Exif\0\0" + header + ifd0 + ifd1 + thumbnail
    return picture[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + picture[2:]


@pytest.mark.parametrize("name", JPEGS)
def test_real_camera_files_agree_with_exifread(name: str) -> None:
    tags = DUMP[name]
    data = (SAMPLES / name).read_bytes()
    with open(SAMPLES / name, "rb") as stream:
        run = exif_thumbnail_run(stream)
    offset, length = tags.get("Thumbnail JPEGInterchangeFormat"), tags.get("Thumbnail JPEGInterchangeFormatLength")
    if not offset or not length or data.find(b"Exif\0\0") < 0:
        assert run is None
        return
    tiff_start = data.find(b"Exif\0\0") + 6
    if data[tiff_start + int(offset):tiff_start + int(offset) + 2] != b"\xff\xd8":
        assert run is None  # exifread lists a thumbnail that is not a JPEG where it points
        return
    assert run == (tiff_start + int(offset), int(length))


@pytest.mark.parametrize("big_endian", [False, True])
def test_a_generated_thumbnail_is_found_at_its_exact_run_and_decodes(big_endian: bool) -> None:
    thumbnail = procedural_jpeg(7, 160, 120)
    data = with_exif_thumbnail(procedural_jpeg(8, 640, 480), thumbnail, big_endian)
    offset, length = exif_thumbnail_run(io.BytesIO(data))
    assert data[offset:offset + length] == thumbnail
    Image.open(io.BytesIO(data)).load()  # the picture itself is still a valid JPEG


@pytest.mark.parametrize("damage", ["count", "offset", "loop", "truncated", "not-jpeg"])
def test_hostile_exif_blocks_give_no_run_and_no_error(damage: str) -> None:
    data = bytearray(with_exif_thumbnail(procedural_jpeg(8, 320, 240), procedural_jpeg(7, 80, 60)))
    tiff = data.find(b"Exif\0\0") + 6
    if damage == "count":
        data[tiff + 8:tiff + 10] = b"\xff\xff"
    elif damage == "offset":
        data[tiff + 14 + 2 + 8:tiff + 14 + 2 + 12] = b"\xff\xff\xff\x7f"
    elif damage == "loop":
        data[tiff + 10:tiff + 14] = struct.pack("<I", 8)  # IFD1 is IFD0 again
    elif damage == "truncated":
        data = data[:tiff + 20]
    else:
        data[tiff + 14 + 30:tiff + 14 + 32] = b"\0\0"
    assert exif_thumbnail_run(io.BytesIO(bytes(data))) is None
