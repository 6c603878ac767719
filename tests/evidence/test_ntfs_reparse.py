"""NTFS reparse points of Windows 10/11: OneDrive cloud-only placeholders are listed and flagged, never read as
zeros; WOF ("Compact OS") files read as their decompressed content; hostile WOF streams are the item's problem."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pyfwnt
import pytest

from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, ItemFlag
from fieldlab.evidence.ntfs_reparse import ReparseError, ReparsePoint, parsed_reparse_point, wof_format
from fieldlab.evidence.wof import WofContent
from fieldlab.problems import ProblemKind
from tests.evidence.ntfs_reparse_builders import (
    CHUNK_SIZES,
    CLOUD_SIZE,
    CONTENT,
    FORMS,
    LOCAL,
    PLAIN,
    WOF_LZX,
    WOF_XPRESS4K,
    build_laptop_volume,
    compressed_chunk,
    onedrive_reparse_data,
)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def laptop_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_laptop_volume(tmp_path_factory.mktemp("reparse") / "ntfs.img")


def _listing(image: Path) -> dict[str, Item]:
    return {entry.path: entry for entry in ImageSource(image).walk() if isinstance(entry, Item)}


def _read(source: ImageSource, item: Item) -> bytes:
    reader = source.open_item(item.locator)
    buffer, parts = bytearray(10_000), []  # pieces that do not fall on chunk boundaries
    while count := reader.readinto(buffer):
        parts.append(bytes(buffer[:count]))
    return b"".join(parts)


def test_wimlib_chunks_are_what_libfwnt_decompresses() -> None:
    """The test data's compressor (wimlib) and the decompressor under test (libfwnt) agree on every format."""
    for form in FORMS.values():
        unit = CHUNK_SIZES[form]
        chunk = CONTENT[:unit]
        stored = compressed_chunk(chunk, form)
        assert len(stored) < unit
        decompress = pyfwnt.lzx_decompress if form == WOF_LZX else pyfwnt.lzxpress_huffman_decompress
        assert decompress(stored, unit) == chunk


def test_cloud_only_placeholders_are_listed_with_name_size_and_times_and_flagged(laptop_volume: Path) -> None:
    listing = _listing(laptop_volume)
    beach = listing["Users/a/OneDrive/Pictures/beach.jpg"]
    assert beach.flags == {ItemFlag.CLOUD_ONLY}
    assert beach.size == CLOUD_SIZE
    assert beach.mtime is not None and beach.btime is not None
    assert listing["Users/a/OneDrive/Pictures/party.jpg"].flags == {ItemFlag.CLOUD_ONLY}  # any CLOUD_n tag


def test_a_cloud_only_placeholder_is_never_read_as_zeros(laptop_volume: Path) -> None:
    source = ImageSource(laptop_volume)
    beach = _listing(laptop_volume)["Users/a/OneDrive/Pictures/beach.jpg"]
    with pytest.raises(ReparseError, match="held by the cloud provider") as raised:
        source.open_item(beach.locator)
    assert raised.value.kind is ProblemKind.NORMAL


def test_a_locally_available_cloud_file_is_read_and_flagged(laptop_volume: Path) -> None:
    source = ImageSource(laptop_volume)
    local = _listing(laptop_volume)["Users/a/OneDrive/Pictures/local.jpg"]
    assert local.flags == {ItemFlag.CLOUD_LOCAL}
    assert _md5(_read(source, local)) == _md5(LOCAL)


@pytest.mark.parametrize("name", FORMS)
def test_wof_files_read_as_their_original_content(laptop_volume: Path, name: str) -> None:
    source = ImageSource(laptop_volume)
    item = _listing(laptop_volume)[f"Windows/System32/{name}.dll"]
    assert item.flags == {ItemFlag.WOF_COMPRESSED}
    assert item.size == len(CONTENT)
    assert _md5(_read(source, item)) == _md5(CONTENT)


def test_a_wof_files_compressed_stream_is_folded_into_it_but_any_other_file_keeps_such_a_stream(
        laptop_volume: Path) -> None:
    listing = _listing(laptop_volume)
    assert not [path for path in listing if path.startswith("Windows/System32/") and ":" in path]
    stream = listing["Users/a/plain.txt:WofCompressedData"]
    assert _read(ImageSource(laptop_volume), stream) == b"hidden in a stream of that name"
    assert listing["Users/a/plain.txt"].flags == frozenset()
    assert _read(ImageSource(laptop_volume), listing["Users/a/plain.txt"]) == PLAIN


@pytest.mark.parametrize(("name", "kind", "words"), [
    ("unknown", ProblemKind.UNSUPPORTED, "format 7"),
    ("wimboot", ProblemKind.UNSUPPORTED, "WIMBoot"),
    ("huge", ProblemKind.DAMAGED, "4,096 chunks does not fit"),
    ("inflated", ProblemKind.DAMAGED, "chunk 0 claims bytes 0-5,000"),
    ("garbage", ProblemKind.DAMAGED, "chunk 0 does not decompress"),
])
def test_a_wof_file_that_cannot_be_decompressed_is_a_problem_never_zeros(laptop_volume: Path, name: str,
                                                                         kind: ProblemKind, words: str) -> None:
    source = ImageSource(laptop_volume)
    item = _listing(laptop_volume)[f"Windows/System32/{name}.dll"]
    assert item.flags == {ItemFlag.WOF_COMPRESSED}
    with pytest.raises(ReparseError, match=words) as raised:
        _read(source, item)
    assert raised.value.kind is kind


def test_a_table_of_a_billion_chunks_is_refused_before_anything_is_read() -> None:
    form = wof_format(ReparsePoint(0x80000017, struct.pack("<IIII", 1, 2, 1, WOF_XPRESS4K)))
    with pytest.raises(ReparseError, match="1,000,000,000 chunks does not fit") as raised:
        WofContent(_unread, 4096, 10**9 * 4096, form)
    assert raised.value.kind is ProblemKind.DAMAGED


def _unread(offset: int, size: int) -> bytes:
    raise AssertionError("the stream was read")


def test_a_table_too_large_to_hold_is_a_limit_not_read() -> None:
    form = wof_format(ReparsePoint(0x80000017, struct.pack("<IIII", 1, 2, 1, WOF_XPRESS4K)))
    asked: list[tuple[int, int]] = []

    def read_stream(offset: int, size: int) -> bytes:
        asked.append((offset, size))
        return bytes(size)

    with pytest.raises(ReparseError, match="more than fieldlab reads") as raised:
        WofContent(read_stream, 1 << 40, 1 << 40, form)
    assert raised.value.kind is ProblemKind.LIMIT and not asked


def test_a_chunk_table_going_backwards_is_damage() -> None:
    form = wof_format(ReparsePoint(0x80000017, struct.pack("<IIII", 1, 2, 1, WOF_XPRESS4K)))
    stream = struct.pack("<II", 300, 100) + bytes(900)
    content = WofContent(lambda offset, size: stream[offset:offset + size], len(stream), 3 * 4096, form)
    with pytest.raises(ReparseError, match="chunk 1 claims bytes 300-100"):
        content.read(4096, 10)


def test_reparse_points_are_parsed_within_their_stated_length() -> None:
    assert parsed_reparse_point(b"\x17\x00") is None
    point = parsed_reparse_point(onedrive_reparse_data() + b"junk after the stated length")
    assert point is not None and point.is_cloud and not point.is_wof
    assert not point.data.endswith(b"junk after the stated length")
    third_party = parsed_reparse_point(struct.pack("<IHH", 0x0000001A, 4, 0) + bytes(16) + b"data")
    assert third_party == ReparsePoint(0x0000001A, b"data")  # a non-Microsoft tag's GUID is skipped
    assert not third_party.is_cloud
