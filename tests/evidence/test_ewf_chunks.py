"""fieldlab's own EWF chunk reader reads every byte exactly as libewf does, for every EWF layout ewfacquire writes,
for real images of other projects, and for damaged chunks (where it defers to libewf)."""

from __future__ import annotations

import random
import subprocess
from collections import Counter
from pathlib import Path

import pyewf
import pytest

from fieldlab.evidence.containers import open_container
from fieldlab.evidence.ewf_chunks import EwfChunkReader, EwfLayoutError, read_chunk_table
from tests.conftest import REALDATA

REAL_E01 = [
    REALDATA / "log2timeline__dfvfs/test_data/ext2.E01",
    REALDATA / "log2timeline__dfvfs/test_data/ext2.split.E01",
    REALDATA / "log2timeline__plaso/test_data/image.E01",
    REALDATA / "log2timeline__plaso/test_data/image-split.E01",
]
MEDIA_BYTES = 3 << 20


def _media(path: Path) -> bytes:
    """Text-like, zeros and random stretches: chunks that deflate well, not at all, and to almost nothing."""
    rng = random.Random(7)
    words = [bytes(rng.choice(b"abcdefghij ") for _ in range(rng.randint(2, 9))) for _ in range(500)]
    text = b" ".join(rng.choices(words, k=MEDIA_BYTES // 5))[: MEDIA_BYTES // 3]
    data = text + bytes(MEDIA_BYTES // 3) + rng.randbytes(MEDIA_BYTES - len(text) - MEDIA_BYTES // 3)
    path.write_bytes(data)
    return data


def _acquire(raw: Path, stem: Path, fmt: str, compression: str, sectors: int, segment: int | None) -> list[str]:
    args = ["ewfacquire", "-u", "-q", "-t", str(stem), "-f", fmt, "-c", compression, "-b", str(sectors),
            "-m", "fixed", "-M", "physical"]
    if segment:
        args += ["-S", str(segment)]
    subprocess.run([*args, str(raw)], check=True, capture_output=True)
    return pyewf.glob(str(next(stem.parent.glob(stem.name + ".[EeSs]01"))))


def _libewf(segments: list[str]) -> pyewf.handle:
    handle = pyewf.handle()
    handle.open(segments, "r")
    return handle


def _read_into(reader: EwfChunkReader, length: int, offset: int) -> bytes:
    buffer = bytearray(b"\xa5" * length)
    return bytes(buffer[:reader.read_into(memoryview(buffer), offset)])


def _same_as_libewf(segments: list[str], reader_cache: int = 1 << 20) -> EwfChunkReader:
    reference = _libewf(segments)
    size, chunk = reference.get_media_size(), reference.get_chunk_size()
    reader = EwfChunkReader(segments, _libewf(segments), size, chunk, cache_bytes=reader_cache)
    assert reader.read_buffer_at_offset(size, 0) == reference.read_buffer_at_offset(size, 0) == _read_into(reader, size, 0)
    rng = random.Random(3)
    for _ in range(300):  # small reads across chunk borders, at odd offsets, past the end
        offset, length = rng.randrange(0, size + 100), rng.choice([1, 511, 1024, chunk - 1, chunk + 3, 3 * chunk])
        expected = reference.read_buffer_at_offset(min(length, size - offset), offset) if offset < size else b""
        assert reader.read_buffer_at_offset(length, offset) == expected
        assert _read_into(reader, length, offset) == expected  # straight into a buffer: the same bytes
    reference.close()
    return reader


@pytest.mark.parametrize(
    "fmt, compression, sectors, segment",
    [
        ("encase6", "deflate:fast", 64, None),
        ("encase6", "none", 64, 1 << 20),  # several segments, plain chunks with their Adler-32
        ("encase6", "deflate:best", 128, 1 << 20),
        ("encase5", "deflate:fast", 64, None),
        ("encase4", "deflate:fast", 64, None),
        ("encase3", "deflate:fast", 64, None),
        ("encase2", "deflate:fast", 64, None),
        ("encase7", "deflate:fast", 64, None),
        ("linen6", "deflate:fast", 256, None),
        ("ftk", "deflate:fast", 64, None),
        ("smart", "deflate:fast", 64, None),
        ("ewf", "deflate:fast", 64, None),
        ("ewfx", "empty-block", 64, None),
    ],
)
def test_every_layout_ewfacquire_writes_reads_as_libewf_reads_it(tmp_path, fmt, compression, sectors, segment):
    data = _media(tmp_path / "media.raw")
    segments = _acquire(tmp_path / "media.raw", tmp_path / "image", fmt, compression, sectors, segment)
    reader = _same_as_libewf(segments)
    assert reader.read_buffer_at_offset(len(data), 0) == data
    assert reader.fallback_chunks == 0  # every chunk read by zlib, none left to libewf


@pytest.mark.parametrize("path", REAL_E01, ids=lambda p: p.name)
def test_real_images_of_other_projects_read_as_libewf_reads_them(path):
    reader = _same_as_libewf(pyewf.glob(str(path)))
    assert reader.fallback_chunks == 0


def test_a_damaged_chunk_reads_exactly_as_libewf_reads_it_and_the_rest_is_unaffected(tmp_path):
    data = _media(tmp_path / "media.raw")
    segments = _acquire(tmp_path / "media.raw", tmp_path / "image", "encase6", "deflate:fast", 64, None)
    table = read_chunk_table(segments, -(-len(data) // 32768))
    damaged = 5  # a text chunk: deflated
    assert table.deflated[damaged]
    with open(segments[0], "r+b") as f:
        f.seek(int(table.offset[damaged]) + 40)
        f.write(b"\xff\x00\xff\x00\xff\x00")
    reader = _same_as_libewf(segments)
    assert reader.fallback_chunks >= 1
    assert reader.read_buffer_at_offset(32768, 0) == data[:32768]


def test_an_ewf2_segment_is_not_read_as_ewf1(tmp_path):
    segment = tmp_path / "image.Ex01"
    segment.write_bytes(b"EVF2\r\n\x81\x00" + bytes(200))
    with pytest.raises(EwfLayoutError, match="not an EWF-E01/S01 segment"):
        read_chunk_table([str(segment)], 1)


def test_a_layout_this_reader_refuses_is_read_by_libewf(tmp_path, monkeypatch):
    data = _media(tmp_path / "media.raw")
    segments = _acquire(tmp_path / "media.raw", tmp_path / "image", "encase6", "deflate:fast", 64, None)

    def refuse(*args, **kwargs):
        raise EwfLayoutError("a layout only libewf knows")

    monkeypatch.setattr("fieldlab.evidence.ewf_chunks.read_chunk_table", refuse)
    media = open_container(Path(segments[0]))
    assert media.read(0, len(data)) == data
    media.close()


def _counting_inflations(reader: EwfChunkReader, monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    inflated: Counter[int] = Counter()
    inflate = reader._inflate

    def counted(index: int, stored: memoryview, deflated: bool) -> bytes:
        inflated[index] += 1
        return inflate(index, stored, deflated)

    monkeypatch.setattr(reader, "_inflate", counted)
    return inflated


def test_kept_chunks_are_inflated_once_however_much_is_read_between_until_let_go(tmp_path, monkeypatch):
    data = _media(tmp_path / "media.raw")
    segments = _acquire(tmp_path / "media.raw", tmp_path / "image", "encase6", "deflate:fast", 64, None)
    chunk = 64 * 512
    reader = EwfChunkReader(segments, _libewf(segments), len(data), chunk, cache_bytes=2 * chunk)
    inflated = _counting_inflations(reader, monkeypatch)
    reader.keep([(3 * chunk + 100, 2 * chunk)])  # chunks 3, 4 and 5
    for _ in range(3):
        for offset in range(0, len(data), chunk):  # every chunk in turn: the cache's two slots turn over
            assert reader.read_buffer_at_offset(1024, offset + 7) == data[offset + 7:offset + 1031]
    assert [inflated[index] for index in range(2, 7)] == [3, 1, 1, 1, 3]
    reader.keep(())
    for offset in range(0, len(data), chunk):
        reader.read_buffer_at_offset(1024, offset)
    assert inflated[4] == 2


def test_chunks_kept_take_at_most_an_eighth_of_the_memory(tmp_path, monkeypatch):
    data = _media(tmp_path / "media.raw")
    segments = _acquire(tmp_path / "media.raw", tmp_path / "image", "encase6", "deflate:fast", 64, None)
    chunk = 64 * 512
    monkeypatch.setattr("fieldlab.evidence.ewf_chunks._memory_bytes", lambda: 8 * 3 * chunk)
    reader = EwfChunkReader(segments, _libewf(segments), len(data), chunk, cache_bytes=2 * chunk)
    inflated = _counting_inflations(reader, monkeypatch)
    reader.keep([(0, 10 * chunk)])
    for _ in range(2):
        for offset in range(0, len(data), chunk):
            assert reader.read_buffer_at_offset(10, offset) == data[offset:offset + 10]
    assert [inflated[index] for index in range(5)] == [1, 1, 1, 2, 2]
