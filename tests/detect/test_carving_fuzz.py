"""The carving parsers on mutated valid files: whatever the bytes, a walk ends, within its limit, without raising.

Free space is written by whoever controlled the suspect's machine, so each
walker (``fieldlab.detect.carving``) is fed real files of its format with bytes
flipped, lengths set to extremes, pieces cut out or repeated, and cut short.
Hypothesis runs derandomized (the same examples every run) and bounded; a hang
would trip the test's timeout.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fieldlab.detect.carve import carve
from fieldlab.detect.carving import bmp, gif, isobmff, jpeg, png, riff, tiff
from fieldlab.detect.carving.walk import Walk
from fieldlab.detect.carving.window import Window
from tests.detect import carve_builders as build
from tests.detect.carve_builders import BytesReader

WALKERS: dict[str, tuple[Callable[[Window, int, int], Walk | None], Callable[[], bytes]]] = {
    "jpeg": (jpeg.walk, lambda: build.jpeg(21, 96, 64)),
    "jpeg-exif": (jpeg.walk, lambda: build.jpeg_with_exif_thumbnail(22, 160, 120)),
    "png": (png.walk, lambda: build.png(23, 64, 48)),
    "gif": (gif.walk, lambda: build.gif(24, frames=2)),
    "bmp": (bmp.walk, lambda: build.bmp(25, 40, 30)),
    "webp": (riff.walk, lambda: build.webp(26, 64, 48)),
    "avi": (riff.walk, lambda: build.video(27, "avi", "mjpeg", frames=2, size=(64, 48))),
    "tiff": (tiff.walk, lambda: build.tiff(28, 40, 30)),
    "mp4": (isobmff.walk, lambda: build.video(29, "mp4", "libx264", frames=2, size=(64, 48))),
    "heic": (isobmff.walk, lambda: build.heic(30, 64, 48)),
}
EXTREMES = (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x00\x00\x00\x01", b"\x00\x00\x00\x08", b"\x7f\xff\xff\xff",
            b"\x01\x00\x00\x00", b"\xff\xd8\xff\xe1", b"ftyp", b"II*\x00")
FILLER = 3000  # bytes of random filler after the file, so a walk that runs on meets garbage before the region end

_SAMPLES: dict[str, bytes] = {}


def sample(kind: str) -> bytes:
    if kind not in _SAMPLES:
        _SAMPLES[kind] = WALKERS[kind][1]()
    return _SAMPLES[kind]


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    data = bytearray(sample(kind))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data) - 1))
        change = draw(st.sampled_from(["flip", "extreme", "cut-out", "repeat", "garbage"]))
        if change == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif change == "extreme":  # a length or offset field set to a value a parser must not trust
            data[at : at + 4] = draw(st.sampled_from(EXTREMES))
        elif change == "cut-out":
            del data[at : at + draw(st.integers(1, 64))]
        elif change == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        else:  # a header, or a file's first part, followed by anything
            data[at:] = draw(st.binary(max_size=512))
        if not data:
            data = bytearray(b"\x00")
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    return bytes(data)


FUZZ = settings(max_examples=120, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", WALKERS)
def test_a_walker_on_a_mutated_file_ends_within_its_limit_without_raising(kind: str) -> None:
    walk = WALKERS[kind][0]

    @FUZZ
    @given(data=mutated(kind), offset=st.sampled_from([0, 3, 512]), short=st.integers(0, 2000))
    def check(data: bytes, offset: int, short: int) -> None:
        region = build.disk(offset + len(data) + FILLER, {offset: data}, seed=len(data))
        limit = len(region) - short  # the region, or max_file, may end anywhere
        found = walk(Window(BytesReader(region), 0, len(region)), offset, limit)
        if found is not None:
            assert 0 <= found.sound <= found.length <= limit - offset, found

    check()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["jpeg-exif", "png", "gif", "avi", "tiff", "mp4"])
def test_carving_mutated_files_byte_by_byte_reports_runs_inside_the_region_in_order(kind: str) -> None:
    @FUZZ
    @given(data=mutated(kind), odd=st.integers(1, 511))
    def check(data: bytes, odd: int) -> None:
        region = build.disk(odd + len(data) + FILLER, {odd: data}, seed=odd)
        runs = list(carve(BytesReader(region), [(0, len(region))], alignment=1, validate=False))
        offsets = [r.offset for r in runs]
        assert offsets == sorted(set(offsets))
        assert all(r.length > 0 and r.offset + r.length <= len(region) for r in runs), runs

    check()


LITERALS = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"RIFF", b"\x00\x00\x00\x18ftyp", b"BM",
            b"II*\x00", b"MM\x00*", b"\xff\xd8", b"ft", b"GI")


@FUZZ
@given(size=st.integers(0, 3000), seed=st.integers(0, 2**32 - 1),
       planted=st.lists(st.tuples(st.integers(0, 3000), st.sampled_from(LITERALS)), max_size=30),
       base=st.integers(0, 1024), cut=st.tuples(st.integers(0, 3000), st.integers(0, 3000)),
       alignment=st.sampled_from([1, 2, 512]))
@example(size=290, seed=0, planted=[(280, b"\x89PNG\r\n\x1a\n"), (287, b"\xff\xd8\xff")], base=0, cut=(0, 284),
         alignment=1)  # a PNG's first 4 bytes, its last overwritten: found by the fuzzing in CI
def test_the_signature_search_finds_exactly_what_a_byte_by_byte_comparison_finds(
        size: int, seed: int, planted: list[tuple[int, bytes]], base: int, cut: tuple[int, int], alignment: int) -> None:
    """The vectorised search against the obvious loop: every offset in [start, stop) where a format's signature
    lies, strong ones at any byte, weak ones where ``alignment`` allows (with a header's 8 bytes in the block)."""
    from fieldlab.detect.carving.signatures import FORMATS, HEAD, candidates

    block = bytearray(random.Random(seed).randbytes(size))
    for at, literal in planted:
        block[at : at + len(literal)] = literal
    block = bytes(block[:size])
    start, stop = base + min(cut), base + min(max(cut), max(0, len(block) - HEAD))
    expected = []
    for offset in range(start, stop):
        head = block[offset - base : offset - base + HEAD]
        strong = any(f.matches(head) for f in FORMATS if f.strong) and offset - base + (
            8 if head[4:8] == b"ftyp" else 4) <= len(block)
        weak = offset % alignment == 0 and len(head) == HEAD and any(f.matches(head) for f in FORMATS if not f.strong)
        if strong or weak:
            expected.append(offset)
    assert candidates(block, base, start, stop, alignment, 1 << 20) == expected
