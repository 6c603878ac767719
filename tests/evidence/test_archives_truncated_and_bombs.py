"""Archives cut short, damaged or expanding without end: what could be read is kept, the stop is reported, and the
cost of an archive is bounded by the archive, not by its member count.

Bomb fixtures are made small: one compressed stream of zeros repeated (a multi-member gzip, bzip2, xz or zstd is
a valid stream of all the members' content), or a 7z of zeros made at LZMA2 preset 0.  Nothing of GiB size is kept
in memory or on disk.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import zipfile
from pathlib import Path

import py7zr
import pytest
import zstandard

from fieldlab.evidence.archive_formats.registry import list_members, member_opener
from fieldlab.evidence.archives import BOMB_FLOOR, ArchiveError
from fieldlab.problems import ProblemKind
from tests.builders import tar_bytes

MIB = 1 << 20
COMPRESSORS = {
    "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
    "bzip2": lambda data: bz2.compress(data, 9),
    "xz": lambda data: lzma.compress(data, lzma.FORMAT_XZ, preset=0),
    "zstd": lambda data: zstandard.ZstdCompressor(level=3).compress(data),
}


def _read_member(data: bytes, kind: str, index: int = 0) -> tuple[bytes, object]:
    members = list(list_members(io.BytesIO(data), kind))
    member = next(m for m in members if m.index == index)
    content = member_opener(io.BytesIO(data), kind)(member.index, member.name)
    return content.read(), getattr(content, "problem", None)


def _payload(size: int, seed: int = 1) -> bytes:
    """Text-like content that compresses the way real files do (not a ratio anywhere near a bomb's)."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
    return bytes(out[:size])


def test_a_gzip_without_its_member_footer_gives_every_expanded_byte_as_a_truncated_member() -> None:
    """dfvfs's corrupt1.gz is a gzip without its member footer, from which dfvfs reads 2,994,187 bytes; the file is
    not among our realdata, so the same damage is made here: the 8-byte CRC/size footer cut off."""
    content = _payload(2_994_187)
    data, problem = _read_member(COMPRESSORS["gzip"](content)[:-8], "gzip")
    assert data == content
    assert problem.kind is ProblemKind.TRUNCATED and "2,994,187 bytes readable" in problem.message


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_stream_cut_in_the_middle_keeps_its_readable_prefix(kind: str) -> None:
    content = _payload(3 * MIB, seed=2)
    packed = COMPRESSORS[kind](content)
    data, problem = _read_member(packed[: len(packed) // 2], kind)
    assert 0 < len(data) < len(content) and content.startswith(data)
    assert problem.kind is ProblemKind.TRUNCATED


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_an_intact_stream_of_several_members_is_read_whole_without_a_problem(kind: str) -> None:
    parts = [_payload(200_000, seed=n) for n in range(3)]
    data, problem = _read_member(b"".join(COMPRESSORS[kind](part) for part in parts), kind)
    assert data == b"".join(parts) and problem is None


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_stream_bomb_of_many_members_stops_by_ratio_soon_after_the_floor(kind: str) -> None:
    """Like logs.gz: 800 members of 16 MiB of zeros (12.5 GiB) in a few hundred KB."""
    member = COMPRESSORS[kind](bytes(16 * MIB))
    data, problem = _read_member(member * 800, kind)
    assert BOMB_FLOOR < len(data) <= BOMB_FLOOR + 64 * MIB and data.count(0) == len(data)
    assert problem.kind is ProblemKind.BOMB and f"{len(data):,} bytes" in problem.message


def test_a_single_stream_xz_bomb_stops_by_ratio_before_its_end() -> None:
    """Like backup.img.xz: one xz stream of zeros, stopped past the floor, not expanded to its end."""
    data, problem = _read_member(lzma.compress(bytes(BOMB_FLOOR + 24 * MIB), lzma.FORMAT_XZ, preset=0), "xz")
    assert BOMB_FLOOR < len(data) < BOMB_FLOOR + 24 * MIB
    assert problem.kind is ProblemKind.BOMB


def test_zeros_under_the_floor_are_any_ratio_and_read_whole() -> None:
    data, problem = _read_member(COMPRESSORS["zstd"](bytes(32 * MIB)), "zstd")
    assert len(data) == 32 * MIB and problem is None


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_stream_of_which_nothing_expands_is_no_archive(kind: str) -> None:
    garbage = {"gzip": b"\x1f\x8b\x08\x00", "bzip2": b"BZh9", "xz": b"\xfd7zXZ\x00", "zstd": b"\x28\xb5\x2f\xfd"}[kind]
    with pytest.raises(ArchiveError):
        list(list_members(io.BytesIO(garbage + bytes(range(256)) * 4), kind))


def test_a_cut_tar_gives_its_complete_members_and_the_readable_part_of_the_cut_one() -> None:
    entries = {"a.txt": _payload(10_000, 3), "b.bin": _payload(300_000, 4), "c.txt": b"never reached"}
    tar = tar_bytes(entries)
    cut = tar[: tar.index(entries["b.bin"][:64]) + 100_000]
    listed = []
    with pytest.raises(ArchiveError, match="unexpected end"):  # listed up to the cut, then the damage is reported
        listed.extend(member.name for member in list_members(io.BytesIO(cut), "tar"))
    assert listed == [b"a.txt", b"b.bin"]
    opener = member_opener(io.BytesIO(cut), "tar")
    whole, cut_short = opener(0, b"a.txt"), opener(1, b"b.bin")
    assert whole.read() == entries["a.txt"] and whole.problem is None
    assert cut_short.read() == entries["b.bin"][:100_000]
    assert cut_short.problem.kind is ProblemKind.TRUNCATED and "100,000 bytes readable of 300,000" in cut_short.problem.message


def test_a_zip_member_over_damaged_data_keeps_what_expanded_before_the_damage() -> None:
    content = _payload(2 * MIB, 5)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.txt", content)
    data = bytearray(buffer.getvalue())
    start = data.index(b"doc.txt") + 7
    data[start + 200_000: start + 200_100] = bytes(100)  # the deflate data corrupted part way
    read, problem = _read_member(bytes(data), "zip")
    assert read[:200_000] == content[:200_000]  # deflate may turn the damage into noise before it notices
    assert problem.kind is ProblemKind.DAMAGED


def test_a_zip_cut_before_its_central_directory_lists_its_members_from_their_local_headers() -> None:
    entries = {"a.txt": _payload(10_000, 6), "b.bin": random.Random(8).randbytes(300_000), "c.txt": b"after the cut"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    cut = buffer.getvalue()[:200_000]
    listed = []
    with pytest.raises(ArchiveError, match="central directory is missing"):
        listed.extend(list_members(io.BytesIO(cut), "zip"))
    assert [(m.name, m.size) for m in listed] == [(b"a.txt", 10_000), (b"b.bin", 300_000)]
    opener = member_opener(io.BytesIO(cut), "zip")
    whole, cut_short = opener(0, b"a.txt"), opener(1, b"b.bin")
    assert whole.read() == entries["a.txt"] and whole.problem is None
    prefix = cut_short.read()
    assert 0 < len(prefix) < 200_000 and entries["b.bin"].startswith(prefix)
    assert "of 300,000 declared" in cut_short.problem.message


class _Zeros(io.BufferedIOBase):
    """``size`` zero bytes, for py7zr to compress without holding them."""

    def __init__(self, size: int) -> None:
        self._size, self._position = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = {0: offset, 1: self._position + offset, 2: self._size + offset}[whence]
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        count = max(0, self._size - self._position if size is None or size < 0 else min(size, self._size - self._position))
        self._position += count
        return bytes(count)


def _solid_7z(path: Path, before: int, zeros: int, after: int) -> bytes:
    with py7zr.SevenZipFile(path, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 0}]) as archive:
        for n in range(before):
            archive.writestr(f"before {n}".encode(), f"before/{n}.txt")
        archive.writef(_Zeros(zeros), "zeros.bin")
        for n in range(after):
            archive.writestr(f"after {n}".encode(), f"after/{n}.txt")
    return path.read_bytes()


@pytest.mark.timeout(60)
def test_a_solid_7z_with_a_huge_member_then_thousands_of_small_ones_costs_one_budget_not_one_pass_each(
    tmp_path: Path,
) -> None:
    """The 24.1 archive, smaller: a bomb member (refused) and 2,000 small members after it in the same solid
    folder.  Opening each small member in its own pass expanded the zeros 2,000 times; now the passes share the
    archive's budget, and once it is spent the members not opened are reported."""
    data = _solid_7z(tmp_path / "archive.7z", before=20, zeros=100 * MIB, after=2000)
    members = list(list_members(io.BytesIO(data), "7z"))
    assert len(members) == 2021
    opener = member_opener(io.BytesIO(data), "7z")
    read, stopped, refused = {}, {}, {}
    for member in members:
        try:
            content = opener(member.index, member.name)
        except ArchiveError as exc:
            refused[member.name] = exc.kind
            continue
        read[member.name] = content.read()
        if content.problem is not None:
            stopped[member.name] = content.problem.kind
    # a solid folder does not say what each member takes in it: the bomb is found by the budget as it expands,
    # and what expanded before the stop is kept
    assert stopped == {b"zeros.bin": ProblemKind.BOMB}
    assert 0 < len(read[b"zeros.bin"]) <= BOMB_FLOOR and read[b"zeros.bin"].count(0) == len(read[b"zeros.bin"])
    assert {read[f"before/{n}.txt".encode()] for n in range(20)} == {f"before {n}".encode() for n in range(20)}
    assert set(refused) == {f"after/{n}.txt".encode() for n in range(2000)}
    assert set(refused.values()) == {ProblemKind.LIMIT}


def test_a_solid_7z_of_many_small_members_is_read_whole_in_order_and_out_of_order(tmp_path: Path) -> None:
    data = _solid_7z(tmp_path / "small.7z", before=300, zeros=0, after=0)
    members = [m for m in list_members(io.BytesIO(data), "7z") if m.name.startswith(b"before/")]
    opener = member_opener(io.BytesIO(data), "7z")
    for member in members + members[::-7]:  # workers read in order; a second reader may come back to one
        assert opener(member.index, member.name).read() == b"before " + member.name[7:-4]
