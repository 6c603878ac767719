"""The sampling pre-scan: planted known files are found by sampling within the budget, clean disks give no match,
and the stated probability is what a simulation of the same sampling gives."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fieldlab import api
from fieldlab.cli import app
from fieldlab.evidence.cluster_grid import ALL_PHASES, ClusterGrid
from fieldlab.evidence.image import ImageSource
from fieldlab.hashsets.blocks.build import build_block_set
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.triage.prescan import (
    MIB,
    WINDOW,
    WindowSampler,
    detection_probability,
    known_blocks,
    miss_probability,
    smallest_count,
)
from tests.conftest import REALDATA
from tests.evidence.chain_builders import run
from tests.evidence.disk_builders import PlantedFile, build_disk
from tests.hashsets.block_builders import (
    BLOCK,
    Reference,
    encoder_jpeg,
    encoder_png,
    reference_material,
    write_reference,
)

# --- the statistics ------------------------------------------------------------------------


@pytest.mark.parametrize(("population", "known", "sampled"), [(50, 5, 10), (200, 1, 199), (1000, 37, 80), (30, 30, 1)])
def test_the_miss_probability_is_the_hypergeometric_exactly(population: int, known: int, sampled: int) -> None:
    exact = math.comb(population - known, sampled) / math.comb(population, sampled)
    assert miss_probability(population, known, sampled) == pytest.approx(exact, rel=1e-12, abs=1e-300)


def test_sampling_without_replacement_detects_at_least_as_often_as_the_binomial_approximation() -> None:
    for population, known, sampled in [(10_000, 256, 100), (268_435_456, 230, 3_000_000), (5000, 1, 4999)]:
        binomial = 1 - (1 - known / population) ** sampled
        assert detection_probability(population, known, sampled) >= binomial - 1e-12


@pytest.mark.parametrize(("population", "other", "confidence"), [(10_000, 230, 0.95), (10_000, 1, 0.5), (500, 499, 0.99)])
def test_smallest_count_is_the_least_that_reaches_the_confidence(population: int, other: int, confidence: float) -> None:
    least = smallest_count(population, other, confidence)
    assert least is not None
    assert detection_probability(population, least, other) >= confidence
    assert least == 1 or detection_probability(population, least - 1, other) < confidence


@pytest.mark.parametrize(("mib", "kept_fraction", "population", "sampled"),
                         [(1.0, 0.9, 200_000, 1200), (0.5, 0.6, 40_000, 400), (2.0, 1.0, 1_000_000, 3000)])
def test_the_stated_probability_matches_a_simulation_of_planting_and_sampling(
        mib: float, kept_fraction: float, population: int, sampled: int) -> None:
    """2,000 disks of ``population`` windows with ``mib`` MiB of known files planted at random windows, of whose
    blocks each is matchable with probability ``kept_fraction`` (the rest low-entropy or common), each sampled with
    the pre-scan's own sampler: the share of disks with a match is the stated probability, within 3.5%."""
    rng = np.random.default_rng(2026)
    planted_blocks = int(mib * MIB / WINDOW)
    stated = detection_probability(population, known_blocks(mib, kept_fraction), sampled)
    detected = 0
    for _ in range(2000):
        planted = rng.choice(population, planted_blocks, replace=False)
        matchable = planted[rng.random(planted_blocks) < kept_fraction]
        sample = WindowSampler(population, np.random.default_rng(rng.integers(1 << 62))).draw(sampled)
        detected += bool(np.isin(sample, matchable).any())
    assert 0.2 < stated < 0.95  # a range where the comparison means something
    assert detected / 2000 == pytest.approx(stated, abs=0.035)


def test_the_sampler_never_repeats_a_window_and_its_order_depends_only_on_the_seed() -> None:
    one = WindowSampler(10_000, np.random.default_rng(7))
    drawn = np.concatenate([one.draw(n) for n in (1, 64, 1000, 5000, 10_000)])
    assert sorted(drawn.tolist()) == list(range(10_000))
    other = WindowSampler(10_000, np.random.default_rng(7))
    assert np.array_equal(np.concatenate([other.draw(n) for n in (3000, 3000, 4000)]), drawn)


def test_sampled_windows_are_uniform_over_the_disk() -> None:
    counts = np.zeros(100)
    for seed in range(400):
        np.add.at(counts, WindowSampler(100_000, np.random.default_rng(seed)).draw(500) // 1000, 1)
    expected = 400 * 500 / 100
    assert ((counts - expected) ** 2 / expected).sum() < 150  # chi-squared, 99 degrees of freedom (p ~ 0.0007)


@pytest.mark.parametrize(("grid", "phases"), [
    (ClusterGrid(1 << 20, 4096), (0,)),  # NTFS/ext4 with 4 KiB clusters at 1 MiB
    (ClusterGrid(63 * 512, 4096), (7,)),  # an old MBR partition at sector 63
    (ClusterGrid(1 << 20, 1024), (0, 2, 4, 6)),  # ext with 1 KiB blocks
    (ClusterGrid((1 << 20) + 3 * 512, 512), ALL_PHASES),  # FAT with 512-byte clusters
    (ClusterGrid(32_768 + 8 * 512, 32_768), (0,)),  # exFAT with 32 KiB clusters and a 4 KiB-aligned heap
    (ClusterGrid(1 << 20, 6144), ALL_PHASES),  # not a divisor nor a multiple of 4 KiB: nothing assumed
])
def test_the_cluster_grid_says_where_files_can_start_in_a_window(grid: ClusterGrid, phases: tuple[int, ...]) -> None:
    assert grid.phases() == phases


# --- generated disks -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Reference]]:
    """A library (its home folder) holding the block set ``known`` of three JPEGs, three PNGs and a video."""
    work = tmp_path_factory.mktemp("known")
    files = reference_material(work / "media")
    categories = write_reference(work / "reference", files)
    home = work / "home"
    build_block_set(HashSetLibrary(home), work / "reference", "known", categories_file=categories)
    return home, files


def _plant_fragmented(image: Path, data: bytes, split_block: int) -> tuple[int, int]:
    """Write ``data`` into the largest free run of the image's file system in two pieces 2 MiB apart, cut at a
    4 KiB boundary of the file; the media offsets of the pieces."""
    source = ImageSource(image)
    try:
        start, length = max(source.unallocated_regions(), key=lambda run: run[1])
    finally:
        source.close()
    first, second = start + 256 * 1024, start + 256 * 1024 + 2 * MIB
    assert second + len(data) < start + length
    with open(image, "r+b") as disk:
        disk.seek(first)
        disk.write(data[: split_block * BLOCK])
        disk.seek(second)
        disk.write(data[split_block * BLOCK:])
    return first, second


def _check_matches_are_true(image: Path, matches, files: list[Reference]) -> None:  # noqa: ANN001
    by_name = {f.name: f for f in files}
    raw = image.read_bytes()
    for match in matches:
        assert raw[match.offset: match.offset + BLOCK] == by_name[match.file_name].block(match.block_index)


@pytest.mark.parametrize("fs_type", ["ntfs", "ext4", "fat32"])  # 4 KiB clusters, 1 KiB blocks, 512-byte clusters
def test_planted_contiguous_deleted_and_fragmented_known_files_are_found_within_the_budget(
        tmp_path: Path, known, fs_type: str) -> None:
    home, files = known
    jpeg, png, video = files[0], files[3], files[6]
    planted = [
        PlantedFile("Users/alex/Pictures/holiday.jpg", jpeg.data),
        PlantedFile("Users/alex/Videos/clip.mp4", video.data, deleted=True),
        PlantedFile("Users/alex/Pictures/other-1.jpg", encoder_jpeg(101)),  # same encoder, not known
        PlantedFile("Users/alex/Pictures/other-2.png", encoder_png(102)),
    ]
    disk = build_disk(tmp_path / f"{fs_type}.raw", "mbr", [(fs_type, 40, planted)])
    _plant_fragmented(disk.path, png.data, split_block=24)

    result = api.prescan(disk.path, ["known"], minutes=2, confidence=0.999, min_mib=0.1, seed=11, home=home)

    assert result.stopped == "confidence reached" and result.elapsed < 120
    assert 0.1 < result.fraction < 0.5  # found by sampling, not by reading everything
    assert result.statement.probability >= 0.999
    assert {m.file_name for m in result.matches} == {jpeg.name, png.name, video.name}
    assert {m.category for m in result.matches if m.file_name == png.name} == {"B"}
    _check_matches_are_true(disk.path, result.matches, files)
    again = api.prescan(disk.path, ["known"], minutes=2, confidence=0.999, min_mib=0.1, seed=11, home=home)
    assert again.matches == result.matches and again.blocks_read == result.blocks_read


def test_a_clean_disk_of_the_same_encoders_pictures_gives_no_match_even_read_whole(tmp_path: Path, known) -> None:
    home, _ = known
    clean = [PlantedFile(f"DCIM/IMG_{n}.jpg", encoder_jpeg(200 + n)) for n in range(6)]
    clean += [PlantedFile(f"Screenshots/shot-{n}.png", encoder_png(300 + n)) for n in range(4)]
    disk = build_disk(tmp_path / "clean.raw", "gpt", [("ntfs", 24, clean), ("fat32", 34, clean[:3])])

    result = api.prescan(disk.path, ["known"], minutes=2, seed=3, home=home)

    assert result.stopped == "whole media sampled" and result.blocks_read == result.population
    assert result.matches == [] and result.verdict.startswith("no known material found in the sample")
    assert result.statement.probability == 1.0


def test_without_the_common_block_filter_the_clean_disk_would_match_on_shared_headers(tmp_path: Path) -> None:
    """The control for the test above: a set built from one JPEG cannot tell its encoder's header from its picture."""
    lonely = tmp_path / "one"
    lonely.mkdir()
    (lonely / "known.jpg").write_bytes(encoder_jpeg(1))
    home = tmp_path / "home"
    build_block_set(HashSetLibrary(home), lonely, "one-file", category="A")
    disk = build_disk(tmp_path / "clean.raw", "mbr", [("ntfs", 8, [PlantedFile("IMG_1.jpg", encoder_jpeg(250))])])

    result = api.prescan(disk.path, ["one-file"], minutes=1, seed=3, home=home)

    assert {m.block_index for m in result.matches} == {0, 1}  # the ICC profile's blocks, nothing of the picture


def test_a_partition_at_sector_63_is_sampled_at_its_own_phase(tmp_path: Path, known) -> None:
    home, files = known
    jpeg = files[1]
    bare = build_disk(tmp_path / "bare.raw", "none", [("ntfs", 16, [PlantedFile("old/photo.jpg", jpeg.data)])])
    image = tmp_path / "xp-era.raw"
    start = 63 * 512
    with open(image, "wb") as disk:
        disk.truncate(start + bare.size + MIB)
        entry = struct.pack("<B3sB3sII", 0, b"\0\1\0", 0x07, b"\xfe\xff\xff", 63, bare.size // 512)
        disk.seek(446)
        disk.write(entry)
        disk.seek(510)
        disk.write(b"\x55\xaa")
        disk.seek(start)
        disk.write(bare.path.read_bytes())

    result = api.prescan(image, ["known"], minutes=1, seed=5, home=home)

    volume = next(r for r in result.regions if "ntfs" in r.what)
    assert volume.phases == (7,)  # 32,256 = 7 x 4096 + 7 x 512: one phase, not all eight
    found = sorted(m.block_index for m in result.matches if m.file_name == jpeg.name)
    assert found == [i for i in range(jpeg.whole_blocks) if i >= 2]  # every block but the shared header
    assert all(m.offset % WINDOW == 7 * 512 for m in result.matches)
    _check_matches_are_true(image, result.matches, files)


def test_an_encrypted_volume_is_reported_as_not_sampled() -> None:
    library = HashSetLibrary()
    folder = REALDATA / "log2timeline__dfvfs" / "test_data"
    reference = Path(library.home) / "ref"
    reference.mkdir(parents=True)
    (reference / "a.bin").write_bytes(np.random.default_rng(1).bytes(8 * BLOCK))
    build_block_set(library, reference, "k", category="A")

    result = api.prescan(folder / "bdetogo.raw", ["k"], minutes=1, seed=1)

    assert result.population == 0 and result.blocks_read == 0 and result.stopped == "nothing to sample"
    encrypted = [n for n in result.not_sampled if "not stored" not in n.reason]  # besides the file's own holes
    assert [n.reason.endswith("encrypted (bitlocker)") for n in encrypted] == [True]
    assert result.statement.probability == 0.0


def test_cli_prescan_prints_the_verdict_and_writes_json(tmp_path: Path, known) -> None:
    home, files = known
    disk = build_disk(tmp_path / "d.raw", "mbr", [("ntfs", 8, [PlantedFile("a.jpg", files[2].data)])])
    runner = CliRunner()
    shown = runner.invoke(app, ["prescan", str(disk.path), "--home", str(home), "--seed", "1", "--min-mib", "0.1",
                                "--confidence", "0.99", "--block-sets", "known"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "Verdict: known material found" in text and files[2].name in text
    as_json = runner.invoke(app, ["prescan", str(disk.path), "--home", str(home), "--seed", "1", "--min-mib", "0.1",
                                  "--confidence", "0.99", "--json"])
    data = json.loads(as_json.stdout)
    assert data["known_material_found"] and data["stopped"] == "confidence reached"
    assert {m["file_name"] for m in data["matches"]} == {files[2].name}
    assert data["statement"]["probability"] >= 0.99 and "with probability" in data["statement_text"]
    folder = runner.invoke(app, ["prescan", str(tmp_path), "--home", str(home)])
    assert folder.exit_code == 2 and "disk image or a device" in folder.output


def test_the_first_match_is_counted_at_its_window_in_drawing_order(tmp_path: Path, known) -> None:
    from fieldlab.triage.prescan import sample_space

    home, files = known
    disk = build_disk(tmp_path / "d.raw", "mbr", [("ntfs", 16, [PlantedFile("a.jpg", files[0].data)])])
    whole = api.prescan(disk.path, ["known"], minutes=1, seed=9, home=home)
    matching = {m.offset // WINDOW for m in whole.matches}
    source = ImageSource(disk.path)
    try:
        space = sample_space(source)
    finally:
        source.close()
    order, _ = space.locate(WindowSampler(space.size, np.random.default_rng(9)).draw(space.size))
    expected = next(rank for rank, window in enumerate(order.tolist(), start=1) if window in matching)

    first = api.prescan(disk.path, ["known"], minutes=1, seed=9, stop_on_match=True, home=home)

    assert first.first_match_window == expected <= first.blocks_read
    assert first.stopped == "match found" and whole.first_match_window == expected
    assert 0 < whole.zero_blocks < whole.blocks_read  # a fresh NTFS volume is mostly never-written clusters


def test_unreadable_sectors_are_counted_and_left_out_of_the_statement(tmp_path: Path, known,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldlab.evidence.containers import MediaReader

    home, files = known
    disk = build_disk(tmp_path / "d.raw", "mbr", [("ntfs", 16, [PlantedFile("a.jpg", files[0].data)])])
    disk.path.write_bytes(disk.path.read_bytes())  # no holes: a raw file's hole is known zeros, never read
    plain = MediaReader.read
    bad = range(4 * MIB, 8 * MIB)  # a failing stretch of the disk

    def failing(self: MediaReader, offset: int, size: int) -> bytes:
        if offset in bad:
            raise OSError(5, "Input/output error")
        return plain(self, offset, size)

    monkeypatch.setattr(MediaReader, "read", failing)
    result = api.prescan(disk.path, ["known"], minutes=1, confidence=0.9, min_mib=0.5, seed=2, home=home)

    assert result.unreadable_blocks > 0 and result.stopped == "confidence reached"
    assert result.blocks_read - result.unreadable_blocks == smallest_count(result.population,
                                                                          result.statement.known_blocks, 0.9)
    assert result.statement.probability >= 0.9


def test_a_qcow2_claiming_a_pebibyte_is_sampled_over_what_it_stores(tmp_path: Path, known) -> None:
    home, files = known
    disk = build_disk(tmp_path / "d.raw", "mbr", [("ntfs", 16, [PlantedFile("a.jpg", files[2].data)])])
    image = tmp_path / "vm.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(image), "1P")
    run("qemu-img", "convert", "-n", "--target-is-zero", "-f", "raw", "-O", "qcow2", str(disk.path), str(image))

    result = api.prescan(image, ["known"], minutes=1, seed=4, home=home)

    assert result.media_size == 1 << 50
    assert result.stopped == "whole media sampled" and result.population * WINDOW <= 16 * MIB
    assert {m.file_name for m in result.matches} == {files[2].name}
    [unstored] = [n for n in result.not_sampled if "not stored" in n.reason]
    assert unstored.length >= (1 << 50) - 16 * MIB and "qcow2 container" in unstored.reason
