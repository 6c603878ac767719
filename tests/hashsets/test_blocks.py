"""Block-hash sets: distinctive 4 KiB blocks of known files, without shared headers or zero blocks, exported and
imported without loss, and kept apart from the sets scans match files against."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fieldlab.cli import app
from fieldlab.hashsets.blocks.build import block_entropy, build_block_set, distinctive
from fieldlab.hashsets.blocks.exchange import export_block_set
from fieldlab.hashsets.blocks.store import BLOCKS_FORMAT, load_block_sets
from fieldlab.hashsets.library import HashSetError, HashSetLibrary
from tests.hashsets.block_builders import BLOCK, Reference, reference_material, write_reference

ZERO_BLOCK_MD5 = hashlib.md5(bytes(BLOCK)).digest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Reference]]:
    work = tmp_path_factory.mktemp("reference")
    files = reference_material(work / "media")
    folder = work / "known"
    return folder, write_reference(folder, files), files


def _held(library: HashSetLibrary, name: str) -> dict[bytes, tuple[str, int, str]]:
    """digest -> (file name, block index, category) of every block the set holds."""
    (block_set,) = load_block_sets(library, [name])
    return {bytes(d).ljust(16, b"\0"): (block_set.names[f], int(i), block_set.category(row))
            for row, (d, f, i) in enumerate(zip(block_set.digests, block_set.block_files, block_set.block_indices))}


def test_every_kept_block_is_a_distinctive_block_of_its_file_with_the_files_category(tmp_path: Path, reference) -> None:
    folder, categories, files = reference
    library = HashSetLibrary(tmp_path / "home")
    report = build_block_set(library, folder, "known", categories_file=categories)
    held = _held(library, "known")
    by_name = {f.name: f for f in files}
    assert held and report.stats.unique == len(held)
    for digest, (name, index, category) in held.items():
        assert by_name[name].block_md5(index) == digest
        assert category == by_name[name].category
    assert report.info.per_category == {"A": 3, "B": 3, "C": 1}
    assert report.info.format == BLOCKS_FORMAT and report.info.counts == {"blocks": len(held), "files": 7}


def test_header_blocks_shared_by_files_of_one_encoder_are_dropped_and_counted(tmp_path: Path, reference) -> None:
    folder, categories, files = reference
    library = HashSetLibrary(tmp_path / "home")
    stats = build_block_set(library, folder, "known", categories_file=categories).stats
    held = _held(library, "known")
    jpegs = [f for f in files if f.name.endswith(".jpg")]
    pngs = [f for f in files if f.name.endswith(".png")]
    shared = {(kind, i): {f.block_md5(i) for f in group} for kind, group in (("jpeg", jpegs), ("png", pngs))
              for i in (0, 1)}
    assert all(len(digests) == 1 for digests in shared.values())  # the builders' premise: one content per header block
    assert not set().union(*shared.values()) & held.keys()
    # JPEG blocks 0-1 (ICC profile) and PNG blocks 0-1 (text chunk) are in all three files of their kind; the PNGs'
    # next shared blocks (text's end and zeros) are dropped earlier, as low-entropy
    assert stats.common_digests == 4 and stats.common == 12
    assert all(f.block_md5(2) in held for f in jpegs)  # the first block past the header is each picture's own


def test_zero_and_low_entropy_blocks_are_never_kept(tmp_path: Path, reference) -> None:
    folder, categories, files = reference
    library = HashSetLibrary(tmp_path / "home")
    stats = build_block_set(library, folder, "known", categories_file=categories).stats
    assert ZERO_BLOCK_MD5 not in _held(library, "known")
    zero_blocks = sum(f.block(i) == bytes(BLOCK) for f in files for i in range(f.whole_blocks))
    assert zero_blocks >= 9 and stats.low_entropy >= zero_blocks
    assert stats.kept == stats.whole_blocks - stats.low_entropy - stats.common
    assert 0.5 < stats.kept_fraction < 1.0


def test_the_entropy_filter_keeps_compressed_media_and_drops_text_ramps_and_constants() -> None:
    rng = np.random.default_rng(1)
    text = np.frombuffer((b"The quick brown fox jumps over the lazy dog. " * 100)[:BLOCK], dtype=np.uint8)
    ramp = np.tile(np.arange(256, dtype=np.uint8), BLOCK // 256)  # 8 bits of entropy, yet a pattern
    blocks = np.stack([rng.integers(0, 256, BLOCK, dtype=np.uint8), text, ramp, np.full(BLOCK, 0xFF, np.uint8)])
    assert block_entropy(blocks)[0] > 7.9 and block_entropy(blocks)[2] == pytest.approx(8.0)
    assert distinctive(blocks).tolist() == [True, False, False, False]


def test_a_set_exported_as_blocks_imports_back_identical(tmp_path: Path, reference) -> None:
    folder, categories, _ = reference
    library = HashSetLibrary(tmp_path / "home")
    built = build_block_set(library, folder, "known", categories_file=categories)
    exported = tmp_path / "known.blocks.tsv"
    assert export_block_set(library, "known", exported) == built.stats.unique
    imported = library.import_file(exported, name="again")  # format recognised by content
    assert imported.info.format == BLOCKS_FORMAT and imported.problems == ()
    original, again = load_block_sets(library, ["known", "again"])
    for column in ("digests", "block_files", "block_indices", "files"):
        assert np.array_equal(getattr(original, column), getattr(again, column)), column
    assert again.names == original.names and again.stats == original.stats
    assert again.info.per_category == original.info.per_category


def test_a_damaged_export_reports_each_bad_line_and_keeps_the_rest(tmp_path: Path, reference) -> None:
    folder, categories, _ = reference
    library = HashSetLibrary(tmp_path / "home")
    build_block_set(library, folder, "known", categories_file=categories)
    exported = tmp_path / "known.tsv"
    export_block_set(library, "known", exported)
    lines = exported.read_text().splitlines()
    first_block = next(i for i, line in enumerate(lines) if line.startswith("block\t"))
    lines[first_block] = "block\tnot-hex\t0\t0"
    lines.append("block\t" + "ab" * 16 + "\t99\t0")  # a file that does not exist
    exported.write_text("\n".join(lines) + "\n")
    report = library.import_file(exported, name="again", fmt="blocks")
    assert [p.line for p in report.problems] == [first_block + 1, len(lines)]
    assert report.info.counts["blocks"] == len(load_block_sets(library, ["known"])[0].digests) - 1


def test_block_sets_are_for_the_prescan_and_never_match_files_in_a_scan(tmp_path: Path, reference) -> None:
    folder, categories, _ = reference
    library = HashSetLibrary(tmp_path / "home")
    build_block_set(library, folder, "known", categories_file=categories)
    assert library.load() == []  # a scan with every set loads none of the block sets
    with pytest.raises(HashSetError, match="prescan"):
        library.load(["known"])
    assert [i.name for i in library.list()] == ["known"]


def test_cli_builds_lists_exports_and_imports_a_block_set(tmp_path: Path, reference, private_library: Path) -> None:
    folder, categories, _ = reference
    runner = CliRunner()
    built = runner.invoke(app, ["hashset", "blocks", str(folder), "--name", "known", "--categories", str(categories)])
    assert built.exit_code == 0, built.output
    assert "12 blocks common to two or more files (4 distinct contents)" in " ".join(built.output.split())
    listed = runner.invoke(app, ["hashset", "list"])
    assert "known" in listed.output and "Blocks" in listed.output
    out = tmp_path / "known.tsv"
    exported = runner.invoke(app, ["hashset", "export", "known", "--format", "blocks", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.read_text().startswith("#fieldlab-blocks\t1\n")
    assert json.loads(out.read_text().splitlines()[4].split("\t", 1)[1])["hash"] == "md5"
    imported = runner.invoke(app, ["hashset", "import", str(out), "--name", "again"])
    assert imported.exit_code == 0, imported.output
    refused = runner.invoke(app, ["hashset", "export", "known", "--format", "csv", "-o", str(tmp_path / "x.csv")])
    assert refused.exit_code == 2 and "prescan" in refused.output


def test_one_category_for_all_and_unknown_files_in_the_categories_csv_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "known"
    folder.mkdir()
    (folder / "a.bin").write_bytes(np.random.default_rng(3).bytes(3 * BLOCK + 100))
    categories = tmp_path / "cats.csv"
    categories.write_text("gone.jpg,A\n")
    report = build_block_set(HashSetLibrary(tmp_path / "home"), folder, "k", category="C", categories_file=categories)
    assert report.info.per_category == {"C": 1} and report.stats.unique == 3
    assert [p.reason for p in report.problems] == ["gone.jpg: listed in the categories file but not in the folder"]
