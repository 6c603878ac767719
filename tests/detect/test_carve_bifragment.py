"""JPEGs stored in two pieces with other data between (bifragment gap carving): found whole, decoys refused,
work bounded."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fieldlab.demo import procedural_jpeg
from fieldlab.detect.carve import CarvedRun, carve
from fieldlab.detect.carving import bifragment
from fieldlab.detect.carving.decode import jpeg_decoded_strictly
from tests.detect import carve_builders as build
from tests.detect.carve_builders import SECTOR, BytesReader

PHOTO = build.jpeg_with_exif_thumbnail(31, 1024, 768)
PLAIN = build.jpeg(34, 1024, 768)
SCAN_DATA = PLAIN.index(b"\xff\xda") + 2 + int.from_bytes(PLAIN[PLAIN.index(b"\xff\xda") + 2 :][:2], "big")


def carve_all(data: bytes, **options: object) -> list[CarvedRun]:
    return list(carve(BytesReader(data), [(0, len(data))], **options))  # type: ignore[arg-type]


def joined(data: bytes, run: CarvedRun) -> bytes:
    second = data[run.second[0] : run.second[0] + run.second[1]] if run.second else b""
    return data[run.offset : run.offset + run.length] + second


def between(kind: str, size: int) -> bytes:
    if kind == "another file":  # the start of an unrelated PNG, then its garbage: a file the camera wrote around
        return (build.png(32, 640, 480) + build.filler(np.random.default_rng(3), size))[:size]
    return build.filler(np.random.default_rng(4), size, kind)


@pytest.mark.parametrize("cluster", [512, 4096])
@pytest.mark.parametrize("filler", ["random", "zeros", "text", "another file"])
def test_a_jpeg_in_two_pieces_at_a_cluster_boundary_is_carved_whole(cluster: int, filler: str) -> None:
    at = 8 * cluster
    pieces, split = build.two_fragments(PHOTO, cluster, between(filler, 5 * cluster))
    data = build.filler(np.random.default_rng(5), at) + pieces + build.filler(np.random.default_rng(6), 9 * cluster)
    runs = [run for run in carve_all(data) if run.valid and run.kind == "jpeg"]
    assert [(run.offset, run.length, run.second) for run in runs] == [
        (at, split, (at + split + 5 * cluster, len(PHOTO) - split))]
    assert hashlib.md5(joined(data, runs[0])).hexdigest() == hashlib.md5(PHOTO).hexdigest()
    assert runs[0].size == len(PHOTO) and runs[0].note.startswith(f"two fragments, {5 * cluster:,} bytes between")


def test_a_photo_not_on_a_sector_of_the_media_is_split_on_sectors_from_its_own_start() -> None:
    """A file starts at a cluster: its fragments' boundaries are whole sectors from its header, wherever the
    region began (a partition not on a 4 KiB boundary, a file system's data area at an odd sector)."""
    pieces, split = build.two_fragments(PHOTO, 4096, between("random", 3 * 4096))
    data = build.filler(np.random.default_rng(7), 4096 + 1234) + pieces + bytes(4096)
    (run,) = carve_all(data)
    assert (run.offset, run.length, run.valid) == (4096 + 1234, split, True)
    assert joined(data, run) == PHOTO


def test_a_jpeg_split_off_a_sector_boundary_stays_an_invalid_first_piece() -> None:
    """No cluster boundary fits: the pieces cannot be a file system's, so nothing is put together."""
    half = len(PHOTO) // 2 // SECTOR * SECTOR + 100
    data = build.disk(600 * SECTOR, {40 * SECTOR: PHOTO[:half], 40 * SECTOR + half + 20 * SECTOR: PHOTO[half:]}, 8)
    (run,) = carve_all(data)
    assert (run.offset, run.valid, run.second) == (40 * SECTOR, False, None)


def test_a_jpeg_header_over_garbage_gives_no_valid_run() -> None:
    header = PLAIN[:SCAN_DATA]
    data = build.disk(800 * SECTOR, {40 * SECTOR: header + build.filler(np.random.default_rng(9), 200 * SECTOR)}, 9)
    assert [run for run in carve_all(data) if run.valid] == []


def test_two_unrelated_half_jpegs_give_no_valid_run() -> None:
    other = build.jpeg_with_exif_thumbnail(33, 1024, 768)
    first, split = build.two_fragments(PHOTO, 4096, between("random", 2 * 4096))
    second, other_split = build.two_fragments(other, 4096, b"")
    data = (bytes(8 * 4096) + first[: split + 2 * 4096] + second[other_split:] + bytes(8 * 4096))
    runs = carve_all(data)
    assert [run for run in runs if run.valid] == [] and [run.offset for run in runs] == [8 * 4096]


def test_the_two_pieces_are_decoded_strictly_and_wholly_not_by_pillow_at_one_eighth(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow would show a wrong join (libjpeg only warns); the strict decode is the one judge of a pair."""
    monkeypatch.setattr(bifragment, "jpeg_decoded_strictly", lambda data: None)
    pieces, _ = build.two_fragments(PHOTO, 4096, between("random", 2 * 4096))
    (run,) = carve_all(bytes(4096) + pieces + bytes(4096))
    assert (run.valid, run.second) == (False, None)


def test_without_validation_no_pieces_are_put_together() -> None:
    pieces, _ = build.two_fragments(PHOTO, 4096, between("random", 2 * 4096))
    (run,) = carve_all(bytes(4096) + pieces + bytes(4096), validate=False)
    assert run.second is None


def test_a_region_of_jpeg_headers_over_garbage_tries_a_bounded_number_of_decodes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every header breaks and every EOI in the garbage is a candidate end: the region's decode budget stops it."""
    attempts: list[int] = []
    monkeypatch.setattr(bifragment, "jpeg_decoded_strictly", lambda data: attempts.append(len(data)))
    monkeypatch.setattr(bifragment, "DECODES_PER_REGION", 100)
    fragment = PLAIN[: SCAN_DATA + 3000]
    rng = np.random.default_rng(10)
    data = b"".join(fragment + build.filler(rng, 64 * SECTOR - len(fragment) % SECTOR) for _ in range(200))
    runs = carve_all(data)
    assert len(runs) > 100 and not any(run.valid for run in runs)
    assert len(attempts) == 100  # without the region's budget: up to DECODES_PER_HEADER for each of 200 headers


def test_a_header_tries_at_most_its_own_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []
    monkeypatch.setattr(bifragment, "jpeg_decoded_strictly", lambda data: attempts.append(len(data)))
    fragment = PLAIN[: SCAN_DATA + 3000]
    data = fragment + build.filler(np.random.default_rng(11), 8 << 20)
    carve_all(data)
    assert 0 < len(attempts) <= bifragment.DECODES_PER_HEADER


def test_a_whole_jpeg_is_carved_as_before_with_no_pair_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A complete walk is looked at for a block no compressed data has (cheap), and none being there, no pair of
    pieces is decoded."""
    monkeypatch.setattr(bifragment, "jpeg_decoded_strictly", lambda data: pytest.fail("a pair tried for a whole file"))
    data = build.disk(200 * SECTOR + len(PHOTO), {37 * SECTOR: PHOTO}, 12)
    assert carve_all(data) == [CarvedRun(37 * SECTOR, len(PHOTO), "jpeg", True, "embedded EXIF thumbnail skipped")]


def test_inside_one_file_no_pieces_are_put_together() -> None:
    """A file's own bytes are in order: a JPEG broken inside a document is a damaged one, not a fragmented one."""
    pieces, _ = build.two_fragments(PHOTO, 4096, between("random", 2 * 4096))
    (run,) = carve_all(bytes(4096) + pieces + bytes(4096), fragmented=False)
    assert (run.valid, run.second) == (False, None)


def clean_noise(size: int, seed: int) -> bytes:
    """Random bytes with no 0xFF: entropy-coded data as far as any cheap check can tell."""
    return build.filler(np.random.default_rng(seed), size).replace(b"\xff", b"\x7f")


def test_a_gap_whose_edges_look_like_image_data_gives_the_photo_not_a_noisy_near_miss() -> None:
    """Fragment 1 one sector short and fragment 2 one sector early (gap bytes in place of photo bytes, the same
    length) decode without a warning, as Huffman codes resynchronise: the least noisy picture is the photo."""
    photo = procedural_jpeg(7, 1024, 768, 90)
    gap = clean_noise(SECTOR, 0) + build.filler(np.random.default_rng(14), 6 * SECTOR) + clean_noise(SECTOR, 0)
    pieces, split = build.two_fragments(photo, SECTOR, gap)
    near_miss = photo[: split - SECTOR] + gap[-SECTOR:] + photo[split:]
    assert jpeg_decoded_strictly(near_miss) is not None  # what makes this case hard
    data = bytes(8 * SECTOR) + pieces + bytes(8 * SECTOR)
    (run,) = carve_all(data)
    assert (run.length, run.second) == (split, (8 * SECTOR + split + len(gap), len(photo) - split))
    assert joined(data, run) == photo


def test_a_gap_holding_ff_d9_right_after_the_split_is_tried_once_the_picture_fails_to_decode() -> None:
    """The walk ends at that chance EOI as a complete file; only its decode shows it is not one."""
    gap = b"\x12\x34\xff\xd9" + build.filler(np.random.default_rng(16), 4 * 4096 - 4)
    pieces, split = build.two_fragments(PHOTO, 4096, gap)
    data = bytes(4096) + pieces + bytes(4096)
    (run,) = carve_all(data)
    assert (run.valid, run.length, run.second) == (True, split, (4096 + split + len(gap), len(PHOTO) - split))
    assert joined(data, run) == PHOTO


def test_a_gap_of_megabytes_of_random_bytes_holding_many_chance_eois_is_bridged() -> None:
    """Random bytes hold FF D9 every 64 KiB: those with little clean data before them wait, the photo's comes first."""
    gap = between("random", 6 << 20)
    assert gap.count(b"\xff\xd9") > 50
    pieces, split = build.two_fragments(PHOTO, 4096, gap)
    data = bytes(4096) + pieces + bytes(4096)
    (run, *_) = [run for run in carve_all(data) if run.offset == 4096]
    assert (run.valid, run.length, run.second) == (True, split, (4096 + split + len(gap), len(PHOTO) - split))
