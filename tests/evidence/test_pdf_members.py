"""A PDF's pictures as members: every image not stored as JPEG, rendered losslessly, re-opened by its object address."""

from __future__ import annotations

import io
import time
import zlib

import numpy as np
import pikepdf
import pytest
from PIL import Image

from fieldlab.evidence.archives import ArchiveError, Member
from fieldlab.evidence.pdf_members import list_pdf_members, pdf_opener
from tests.detect.media_builders import picture
from tests.evidence import pdf_builders as build

LOSSLESS = [build.flate, build.flate_predicted, build.run_length, build.lzw, build.hex_flate, build.a85_flate]


def _listing(data: bytes, passwords: tuple[str, ...] = ()) -> tuple[list[Member], list[str]]:
    found = list(list_pdf_members(io.BytesIO(data), passwords))
    return [m for m in found if isinstance(m, Member)], [p if isinstance(p, str) else p.message
                                                         for p in found if not isinstance(p, Member)]


def _opened(data: bytes, member: Member, passwords: tuple[str, ...] = ()) -> bytes:
    return pdf_opener(io.BytesIO(data), passwords)(member.index, member.name).read()


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("encoding", LOSSLESS, ids=lambda e: e.__name__)
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_picture_stored_without_jpeg_is_a_member_rendered_as_png_with_exactly_its_pixels(encoding, mode: str) -> None:
    source = picture(1, 240, 180).convert(mode)
    data = build.pdf([[encoding(source)]])
    (member,), problems = _listing(data)
    assert problems == []
    filters = "+".join(f[1:] for f in encoding(source).filters)
    assert member.label == f"PDF image object 3 ({filters} 240x180), rendered as PNG".encode()
    assert member.key == b"3:object 3 0"
    png = _opened(data, member)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert np.array_equal(_pixels(png), np.asarray(source.convert("RGB")))


def test_a_plain_jpeg_is_left_to_the_carver_and_a_wrapped_one_is_unwrapped_to_its_own_bytes() -> None:
    jpeg, wrapped, drawn = picture(2, 200, 150), picture(3, 200, 150), picture(4, 200, 150)
    data = build.pdf([[build.dct(jpeg), build.flate_dct(wrapped), build.flate(drawn)]])
    members, _ = _listing(data)
    assert [m.index for m in members] == [4, 5]  # object 3, the plain JPEG, is carved from the file instead
    assert build.jpeg_bytes(jpeg) in data  # ... where its bytes are, as they are
    assert members[0].label == b"PDF image object 4 (FlateDecode+DCTDecode 200x150), its JPEG as embedded"
    assert _opened(data, members[0]) == build.jpeg_bytes(wrapped)


def test_pictures_no_page_draws_are_members_and_masks_are_not() -> None:
    shown, hidden = picture(5, 120, 90), picture(6, 120, 90)
    mask = build.flate(Image.new("L", (120, 90), 200))
    # the mask is object 3 on the page's list; the shown picture, object 4, names it as its soft mask
    masked = build.PdfImage(**{**build.flate(shown).__dict__, "extra": "/SMask 3 0 R "})
    data = build.pdf([[mask, masked]], unreferenced=[build.flate(hidden)])
    members, _ = _listing(data)
    assert [m.index for m in members] == [4, 7]
    assert np.array_equal(_pixels(_opened(data, members[1])), np.asarray(hidden))


def test_the_same_member_renders_to_the_same_bytes_from_a_fresh_opener() -> None:
    data = build.pdf([[build.flate(picture(7, 300, 200))]])
    (member,), _ = _listing(data)
    assert _opened(data, member) == _opened(data, member)


def test_an_absurd_declared_size_is_refused_before_any_decoding() -> None:
    data = build.pdf([[build.claiming(build.flate(picture(8, 64, 48)), 200_000, 150_000)]])
    (member,), _ = _listing(data)
    assert member.problem == "declares 200000x150000 pixels, over the 100 MP limit: not decoded"
    with pytest.raises(ArchiveError, match="100 MP"):
        _opened(data, member)


def test_a_flate_bomb_is_stopped_at_the_decoding_limit() -> None:
    bomb = build.PdfImage(zlib.compress(bytes(600 << 20), 9), 1000, 1000, ("/FlateDecode",), "/DeviceGray")
    data = build.pdf([[bomb]])
    (member,), _ = _listing(data)
    started = time.monotonic()
    with pytest.raises(ArchiveError, match="cannot be decoded.*memory limit"):
        _opened(data, member)
    assert time.monotonic() - started < 10


def test_a_truncated_pdf_gives_the_pictures_still_whole_and_says_it_was_damaged() -> None:
    sources = [picture(10 + n, 200, 150) for n in range(4)]
    data = build.pdf([[build.flate(s)] for s in sources])
    cut = data[: data.index(b"%d 0 obj" % 9)]  # pictures 1 and 2 (objects 3 and 6) whole, the rest gone
    members, problems = _listing(cut)
    assert problems == ["damaged PDF: its object table was rebuilt, some pictures may be missing"]
    assert [m.index for m in members] == [3, 6]
    assert np.array_equal(_pixels(_opened(cut, members[1])), np.asarray(sources[1]))


@pytest.mark.parametrize("data", [b"%PDF-1.7\n" + bytes(range(256)) * 200, b"%PDF-1.4\n%%EOF\n", b"%PDF-"],
                         ids=["garbage", "empty", "header only"])
def test_what_is_not_a_pdf_beyond_its_header_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(ArchiveError, match="damaged PDF"):
        _listing(data)


def _encrypted(data: bytes, user: str) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user=user, R=6))
    return out.getvalue()


def test_an_encrypted_pdf_is_reported_unless_a_supplied_password_opens_it() -> None:
    source = picture(20, 160, 120)
    locked = _encrypted(build.pdf([[build.flate(source)]]), user="hunter2")
    with pytest.raises(ArchiveError, match="encrypted PDF: its pictures cannot be read without the password$"):
        _listing(locked)
    with pytest.raises(ArchiveError, match="none of the 1 supplied passwords opens it"):
        _listing(locked, ("wrong",))
    (member,), _ = _listing(locked, ("wrong", "hunter2"))
    assert np.array_equal(_pixels(_opened(locked, member, ("hunter2",))), np.asarray(source))


def test_a_pdf_encrypted_only_against_editing_is_read_as_it_is() -> None:
    source = picture(21, 160, 120)
    restricted = _encrypted(build.pdf([[build.flate(source)]]), user="")
    (member,), problems = _listing(restricted)
    assert problems == [] and np.array_equal(_pixels(_opened(restricted, member)), np.asarray(source))


def test_the_opener_refuses_what_is_not_a_listed_picture() -> None:
    data = build.pdf([[build.dct(picture(22, 80, 60)), build.flate(picture(23, 80, 60))]])
    opener = pdf_opener(io.BytesIO(data))
    refused = [(3, b"object 3 0"), (1, b"object 1 0"), (4, b"object 4 1"), (4, b"4 0 R"), (99, b"object 99 0")]
    for index, name in refused:
        with pytest.raises(ArchiveError):
            opener(index, name)
    assert opener(4, b"object 4 0").read().startswith(b"\x89PNG")


_SAMPLES = build.flate(Image.new("RGB", (60, 40), (90, 20, 200))).data


@pytest.mark.parametrize("image", [
    build.PdfImage(_SAMPLES, 60, 40, ("/FlateDecode",), "/NoSuchColourSpace"),
    build.PdfImage(_SAMPLES, 60, 40, ("/FlateDecode",), bits=7),
    build.PdfImage(b"not deflate at all", 60, 40, ("/FlateDecode",)),
    build.PdfImage(b"\x97JB2", 60, 40, ("/JBIG2Decode",), "/DeviceGray", bits=1),
], ids=["unknown colour space", "7 bits", "corrupt stream", "JBIG2"])
def test_a_picture_that_cannot_be_decoded_is_that_members_error(image: build.PdfImage) -> None:
    data = build.pdf([[image]])
    (member,), _ = _listing(data)
    with pytest.raises(ArchiveError, match="PDF image object 3 cannot be decoded: "):
        _opened(data, member)
