"""Carving media out of raw bytes: exact boundaries, honest validity, and bounded work on hostile data."""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable

import numpy as np
import pytest

from fieldlab.detect import carve as carve_module
from fieldlab.detect.carve import CarvedRun, carve
from tests.detect import carve_builders as build
from tests.detect.carve_builders import SECTOR, BytesReader

MAKERS: dict[str, Callable[[], bytes]] = {
    "jpeg": lambda: build.jpeg(1),
    "png": lambda: build.png(2),
    "gif": lambda: build.gif(3),
    "bmp": lambda: build.bmp(4),
    "webp": lambda: build.webp(5),
    "tiff": lambda: build.tiff(6),
    "heic": lambda: build.heic(7),
    "mp4": lambda: build.mp4(8),
    "avi": lambda: build.avi(9),
}


@pytest.fixture(scope="module")
def media() -> dict[str, bytes]:
    return {kind: make() for kind, make in MAKERS.items()}


def carve_all(data: bytes, **options: object) -> list[CarvedRun]:
    return list(carve(BytesReader(data), [(0, len(data))], **options))  # type: ignore[arg-type]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def between_filler(planted: bytes, at: int = 37 * SECTOR, after: int = 50 * SECTOR, seed: int = 1) -> bytes:
    return build.disk(at + len(planted) + after, {at: planted}, seed=seed)


# --------------------------------------------------------------------------- whole files, exact boundaries


@pytest.mark.parametrize("kind", MAKERS)
def test_each_format_planted_at_a_sector_between_random_filler_is_carved_exactly(media: dict[str, bytes],
                                                                                 kind: str) -> None:
    planted = media[kind]
    data = between_filler(planted)
    runs = carve_all(data)
    assert runs == [CarvedRun(37 * SECTOR, len(planted), kind, True, None)]
    assert md5(data[runs[0].offset : runs[0].offset + runs[0].length]) == md5(planted)


@pytest.mark.parametrize(("make", "kind"), [(lambda: build.video(12, "mov", "libx264"), "mp4"),
                                            (lambda: build.avif(13), "avif")])
def test_quicktime_and_avif_files_are_carved_by_the_same_box_walk(make: Callable[[], bytes], kind: str) -> None:
    planted = make()
    data = between_filler(planted)
    assert carve_all(data) == [CarvedRun(37 * SECTOR, len(planted), kind, True, None)]


@pytest.mark.parametrize("kind", MAKERS)
def test_a_file_ending_exactly_at_the_region_end_is_whole(media: dict[str, bytes], kind: str) -> None:
    """As media embedded at the end of another file is: the region is the file, and its last bytes are the end."""
    planted = media[kind]
    data = build.disk(3 * SECTOR + len(planted), {3 * SECTOR: planted}, seed=7)
    assert carve_all(data) == [CarvedRun(3 * SECTOR, len(planted), kind, True, None)]


def test_every_format_side_by_side_on_one_disk_comes_back_in_offset_order(media: dict[str, bytes]) -> None:
    planted, offset = {}, 8 * SECTOR
    for content in media.values():
        planted[offset] = content
        offset += (len(content) // SECTOR + 2) * SECTOR
    data = build.disk(offset + 64 * SECTOR, planted, seed=2)
    runs = carve_all(data)
    assert [(r.offset, r.length, r.valid) for r in runs] == [(o, len(c), True) for o, c in planted.items()]
    assert [r.kind for r in runs] == list(media)


@pytest.mark.parametrize("alignment", [SECTOR, 1])
def test_a_jpeg_with_an_exif_thumbnail_is_one_run_of_its_full_length(alignment: int) -> None:
    photo = build.jpeg_with_exif_thumbnail(10)
    thumbnail_at, first_eoi = photo.index(b"\xff\xd8\xff", 2), photo.index(b"\xff\xd9")
    assert thumbnail_at < first_eoi < len(photo) - 2  # the thumbnail's SOI and EOI lie inside the photo
    runs = carve_all(between_filler(photo), alignment=alignment)
    assert runs == [CarvedRun(37 * SECTOR, len(photo), "jpeg", True, "embedded EXIF thumbnail skipped")]


def test_several_regions_are_carved_with_absolute_offsets_and_none_crosses_a_region_end(
        media: dict[str, bytes]) -> None:
    jpeg, png = media["jpeg"], media["png"]
    data = build.disk(1 << 20, {4 * SECTOR: jpeg, 1024 * SECTOR: png}, seed=3)
    png_region = (1000 * SECTOR, 100 * SECTOR + len(png))
    half_jpeg = len(jpeg) // 2
    runs = list(carve(BytesReader(data), [(0, 4 * SECTOR + half_jpeg), png_region]))
    assert [(r.offset, r.kind, r.valid, r.note) for r in runs] == [
        (4 * SECTOR, "jpeg", False, "truncated at region end"), (1024 * SECTOR, "png", True, None)]
    assert runs[0].length == half_jpeg


# --------------------------------------------------------------------------- alignment


@pytest.mark.parametrize("kind", ["jpeg", "png", "gif", "webp", "avi", "mp4", "heic"])
@pytest.mark.parametrize("odd", [1, 7, 511])
def test_a_strong_signature_at_any_byte_offset_is_carved_there_at_sector_alignment(media: dict[str, bytes],
                                                                                  kind: str, odd: int) -> None:
    planted = media[kind]
    data = build.disk(100 * SECTOR + odd + len(planted) + 4096, {100 * SECTOR + odd: planted}, seed=4)
    assert carve_all(data, alignment=SECTOR) == [CarvedRun(100 * SECTOR + odd, len(planted), kind, True, None)]


@pytest.mark.parametrize("kind", ["bmp", "tiff"])
def test_a_weak_signature_is_looked_for_only_where_the_alignment_allows(media: dict[str, bytes], kind: str) -> None:
    planted = media[kind]
    data = build.disk(200_000 + len(planted), {70_001: planted}, seed=4)
    assert carve_all(data, alignment=SECTOR) == []
    assert carve_all(data, alignment=1) == [CarvedRun(70_001, len(planted), kind, True, None)]


@pytest.mark.parametrize("straddle", [1, 3, 7])
def test_a_signature_straddling_two_blocks_is_found_once_at_its_offset(media: dict[str, bytes],
                                                                       straddle: int) -> None:
    """The search reads 8 MiB blocks and searches 256 KiB slices; a header cut by either boundary is still seen."""
    jpeg, mp4 = media["jpeg"], media["mp4"]
    jpeg_at = carve_module.BLOCK - straddle  # SOI before the block boundary, the rest after it
    mp4_at = carve_module.SLICE * 3 - 6  # its 'ftyp' (at +4) straddles a slice boundary
    data = build.disk(carve_module.BLOCK + (1 << 20), {mp4_at: mp4, jpeg_at: jpeg}, seed=5)
    assert carve_all(data) == [CarvedRun(mp4_at, len(mp4), "mp4", True, None),
                               CarvedRun(jpeg_at, len(jpeg), "jpeg", True, None)]


def test_a_run_on_a_sector_is_found_once_though_both_searches_see_it(media: dict[str, bytes]) -> None:
    """A JPEG on a sector is a byte-granular hit and, as a header on a boundary, could be an aligned one too."""
    data = between_filler(media["jpeg"])
    assert [r.offset for r in carve_all(data, alignment=SECTOR)] == [37 * SECTOR]
    assert [r.offset for r in carve_all(data, alignment=1)] == [37 * SECTOR]


def test_a_header_inside_a_valid_file_is_part_of_it_not_a_second_run(media: dict[str, bytes]) -> None:
    """A BMP whose pixel bytes happen to hold a whole JPEG on a sector boundary: one run, the BMP."""
    bmp = bytearray(build.bmp(11, 400, 300))
    inner_at = 4 * SECTOR
    bmp[inner_at : inner_at + len(media["jpeg"])] = media["jpeg"]
    runs = carve_all(between_filler(bytes(bmp), at=8 * SECTOR))
    assert [(r.offset, r.kind, r.length) for r in runs] == [(8 * SECTOR, "bmp", len(bmp))]


# --------------------------------------------------------------------------- fakes, damage, truncation


def test_a_jpeg_soi_followed_by_garbage_is_not_reported() -> None:
    fake = b"\xff\xd8\xff\xe0" + bytes(range(7, 250)) * 40
    assert carve_all(between_filler(fake)) == []


def test_a_png_whose_first_chunk_fails_its_crc_is_not_reported(media: dict[str, bytes]) -> None:
    fake = bytearray(media["png"])
    fake[20] ^= 0xFF  # inside IHDR's data
    assert carve_all(between_filler(bytes(fake))) == []


def test_a_png_broken_after_its_header_is_reported_invalid_up_to_the_broken_chunk(media: dict[str, bytes]) -> None:
    png = bytearray(media["png"])
    idat = png.index(b"IDAT") - 4
    png[idat + 100] ^= 0xFF
    runs = carve_all(between_filler(bytes(png)))
    assert runs == [CarvedRun(37 * SECTOR, idat, "png", False, f"IDAT chunk at +{idat} fails its CRC")]


def test_a_fragmented_jpeg_is_reported_invalid_where_its_structure_breaks(media: dict[str, bytes]) -> None:
    """The first half of a JPEG followed by unrelated bytes: a contiguous carver can only report the first part."""
    jpeg = media["jpeg"]
    data = build.disk(400 * SECTOR, {40 * SECTOR: jpeg[: len(jpeg) // 2], 100 * SECTOR + 17: jpeg[len(jpeg) // 2 :]},
                      seed=5)
    runs = carve_all(data)
    assert len(runs) == 1 and runs[0].offset == 40 * SECTOR and not runs[0].valid
    assert runs[0].length < 61 * SECTOR and runs[0].note.startswith("structure breaks")


def test_a_jpeg_whose_markers_hold_but_whose_tables_are_garbage_is_complete_yet_not_valid(
        media: dict[str, bytes]) -> None:
    jpeg = bytearray(media["jpeg"])
    dht = jpeg.index(b"\xff\xc4")
    jpeg[dht + 5 : dht + 21] = b"\xff" * 16  # Huffman code counts that no table can have
    data = between_filler(bytes(jpeg))
    (checked,) = carve_all(data)
    assert (checked.length, checked.valid) == (len(jpeg), False) and checked.note.startswith("does not decode")
    assert carve_all(data, validate=False) == [CarvedRun(37 * SECTOR, len(jpeg), "jpeg", True, None)]


def test_a_jpeg_whose_image_data_stops_at_an_early_eoi_is_not_valid(media: dict[str, bytes]) -> None:
    """What a cut JPEG looks like when the bytes after the cut happen to hold FF D9: libjpeg only warns."""
    jpeg = media["jpeg"]
    cut_short = jpeg[: len(jpeg) // 2] + b"\xff\xd9"
    (run,) = carve_all(between_filler(cut_short))
    assert (run.length, run.valid) == (len(cut_short), False) and run.note.startswith("image data ends early")


@pytest.mark.parametrize("kind", MAKERS)
def test_a_file_cut_by_the_region_end_is_reported_invalid_with_a_note(media: dict[str, bytes], kind: str) -> None:
    planted = build.tiff(6, compression="raw") if kind == "tiff" else media[kind]  # IFD first, so it survives
    data = build.disk(37 * SECTOR + len(planted), {37 * SECTOR: planted}, seed=6)[: 37 * SECTOR + len(planted) * 3 // 4]
    runs = carve_all(data)
    if kind == "avi":  # its MJPEG frames are whole JPEGs: see the next test
        runs = [r for r in runs if r.kind == "avi"]
    assert runs == [CarvedRun(37 * SECTOR, len(data) - 37 * SECTOR, kind, False, "truncated at region end")]


def test_the_whole_frames_of_a_cut_mjpeg_avi_are_carved_as_pictures(media: dict[str, bytes]) -> None:
    """Only the chunks of a cut file whose structure checked out claim what lies in them; an AVI cut inside its
    movi list vouches for none of its frames, so each frame before the cut is what can be recovered of it."""
    avi = media["avi"]
    cut_at = len(avi) * 3 // 4
    data = build.disk(37 * SECTOR + len(avi), {37 * SECTOR: avi}, seed=6)[: 37 * SECTOR + cut_at]
    frames = [at for at in range(len(avi)) if avi.startswith(b"\xff\xd8\xff", at)]
    whole = [at for at in frames if avi.find(b"\xff\xd9", at) + 2 <= cut_at]
    assert len(whole) >= 2
    runs = carve_all(data)[1:]
    assert [(r.offset - 37 * SECTOR, r.kind, r.valid) for r in runs] == (
        [(at, "jpeg", True) for at in whole] + [(at, "jpeg", False) for at in frames if at not in whole and at < cut_at])
    for run in runs[:-1]:
        assert data[run.offset + run.length - 2 : run.offset + run.length] == b"\xff\xd9"


def test_a_tiff_cut_before_its_ifd_is_not_recognised(media: dict[str, bytes]) -> None:
    """Nothing but the IFD says a TIFF is a picture: without it, the header is only four common bytes."""
    tiff = media["tiff"]
    assert int.from_bytes(tiff[4:8], "little") > len(tiff) // 2
    assert carve_all(build.disk(37 * SECTOR + len(tiff) // 2, {37 * SECTOR: tiff[: len(tiff) // 2]}, seed=6)) == []


def test_a_file_longer_than_max_file_is_cut_there_and_says_so(media: dict[str, bytes]) -> None:
    bmp = media["bmp"]
    runs = carve_all(between_filler(bmp), max_file=10_000)
    assert runs == [CarvedRun(37 * SECTOR, 10_000, "bmp", False, "cut at max_file (10,000 bytes)")]


def test_an_mp4_without_its_moov_box_is_not_a_valid_video(media: dict[str, bytes]) -> None:
    mp4 = bytearray(media["mp4"])
    moov = mp4.index(b"moov")
    mp4[moov : moov + 4] = b"free"
    (run,) = carve_all(between_filler(bytes(mp4)))
    assert (run.kind, run.valid, run.note) == ("mp4", False, "no moov box: the video's tracks are not described")


# --------------------------------------------------------------------------- hostile bytes, bounded work


def timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def test_a_bmp_header_claiming_4_gb_for_a_small_picture_is_not_a_bmp(media: dict[str, bytes]) -> None:
    lying = bytearray(media["bmp"])
    lying[2:6] = (0xFFFF_FFFF).to_bytes(4, "little")
    assert carve_all(between_filler(bytes(lying))) == []


def test_a_bmp_header_consistently_claiming_4_gb_is_cut_at_the_region_end_quickly() -> None:
    header = b"BM" + struct.pack("<I", 0xFFFF_FFFF) + bytes(4) + struct.pack("<I", 54)
    header += struct.pack("<IiiHHIIiiII", 40, 32767, 32767, 1, 32, 0, 0, 2835, 2835, 0, 0)
    data = between_filler(header + bytes(1 << 20))
    runs, seconds = timed(lambda: carve_all(data))
    assert runs == [CarvedRun(37 * SECTOR, len(data) - 37 * SECTOR, "bmp", False, "truncated at region end")]
    assert seconds < 1


def test_an_mp4_of_endless_8_byte_boxes_is_walked_within_a_bound() -> None:
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    data = between_filler(ftyp + b"\x00\x00\x00\x08free" * (2 << 20))
    runs, seconds = timed(lambda: carve_all(data))
    assert len(runs) == 1 and not runs[0].valid and "top-level boxes" in runs[0].note
    assert seconds < 2


def test_a_box_of_size_zero_runs_to_the_region_end_and_is_not_called_whole() -> None:
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    data = between_filler(ftyp + b"\x00\x00\x00\x00mdat" + bytes(5000))
    (run,) = carve_all(data)
    assert (run.length, run.valid) == (len(data) - 37 * SECTOR, False) and "size 0" in run.note


def test_a_gif_of_one_byte_sub_blocks_is_walked_within_a_bound() -> None:
    header = b"GIF89a" + struct.pack("<HH", 10, 10) + b"\x00\x00\x00"
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, 10, 10) + b"\x00" + b"\x08"
    data = between_filler(header + image + b"\x01\x00" * (12 << 20))
    runs, seconds = timed(lambda: carve_all(data))
    assert len(runs) == 1 and not runs[0].valid and "sub-blocks" in runs[0].note
    assert seconds < 3


def test_a_tiff_whose_ifds_point_at_each_other_is_walked_once() -> None:
    entries = [(256, 3, 1, 16), (257, 3, 1, 16), (273, 4, 1, 8), (279, 4, 1, 256)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + struct.pack("<I", 8)
    data = between_filler(b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(256))
    runs, seconds = timed(lambda: carve_all(data, validate=False))
    assert [(r.kind, r.length) for r in runs] == [("tiff", 8 + 256)] and seconds < 1


@pytest.mark.parametrize("byte", [b"\x00", b"\xff"])
@pytest.mark.parametrize("alignment", [SECTOR, 1])
def test_64_mib_of_one_repeated_byte_is_carved_in_under_2_seconds_in_few_large_reads(byte: bytes,
                                                                                     alignment: int) -> None:
    reader = BytesReader(byte * (64 << 20))
    runs, seconds = timed(lambda: list(carve(reader, [(0, 64 << 20)], alignment=alignment)))
    assert runs == [] and seconds < 2
    assert reader.reads <= 16


def test_a_region_of_nothing_but_signatures_stops_at_its_candidate_budget(caplog: pytest.LogCaptureFixture) -> None:
    data = b"\xff\xd8\xff\xe0" * (4 << 20)
    runs, seconds = timed(lambda: carve_all(data, alignment=1))
    assert runs == [] and seconds < 5
    assert "over its budget" in caplog.text


@pytest.mark.parametrize("alignment", [SECTOR, 1])
def test_random_bytes_start_few_walks_and_each_at_a_signature(alignment: int) -> None:
    """Chance hits are what a byte-granular search costs: in random bytes, only the two-byte 'BM' makes them."""
    from fieldlab.detect.carving.signatures import FORMATS, HEAD, candidates

    data = build.filler(np.random.default_rng(9), 1 << 20)
    found = candidates(data, 0, 0, len(data) - HEAD, alignment, 1 << 20)
    assert len(found) < (100 if alignment == 1 else 3)  # 'BM' every 64 KiB: 16 expected in 1 MiB
    assert all(any(f.matches(data[at : at + HEAD]) for f in FORMATS) for at in found)
