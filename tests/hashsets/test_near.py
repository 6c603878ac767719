"""The PDQ near-match index returns exactly what brute force returns, for any set, radius and query."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldlab.hashsets.library import HashSetError, HashSetLibrary
from fieldlab.hashsets.matcher import HashMatcher
from fieldlab.hashsets.near import PdqIndex, build_index, chunk_widths, index_file, thresholds


def brute_force(known: np.ndarray, queries: np.ndarray, radius: int) -> set[tuple[int, int, int]]:
    known_words, query_words = known.view(np.uint64), np.ascontiguousarray(queries).view(np.uint64)
    distance = np.bitwise_count(query_words[:, None, :] ^ known_words[None, :, :]).sum(axis=2)
    query, entry = np.nonzero(distance <= radius)
    return set(zip(query.tolist(), entry.tolist(), distance[query, entry].tolist()))


def found(index: PdqIndex, queries: np.ndarray, radius: int, workers: int = 1) -> set[tuple[int, int, int]]:
    near = index.search(queries, radius, workers=workers)
    pairs = list(zip(near.query.tolist(), near.entry.tolist(), near.distance.tolist()))
    assert len(pairs) == len(set(pairs)), "each (query, entry) pair is reported once"
    return set(pairs)


def clustered(rng: np.random.Generator, centres: int, per_centre: int, max_flips: int) -> np.ndarray:
    """Near-duplicate families, as real collections hold: each centre with copies a few bits away."""
    base = np.repeat(rng.integers(0, 256, (centres, 32), dtype=np.uint8), per_centre, axis=0)
    flip = rng.random((len(base), 256)) < rng.uniform(0, max_flips / 256, (len(base), 1))
    return base ^ np.packbits(flip, axis=1)


def sorted_unique(rows: np.ndarray) -> np.ndarray:
    """As the library stores them: sorted unique ``S32``."""
    return np.unique(np.ascontiguousarray(rows).view("S32").ravel())


def rows_of(digests: np.ndarray) -> np.ndarray:
    return np.frombuffer(b"".join(bytes(d).ljust(32, b"\0") for d in digests), dtype=np.uint8).reshape(-1, 32)


def built(tmp_path: Path, rows: np.ndarray) -> tuple[PdqIndex, np.ndarray]:
    digests = sorted_unique(rows)
    build_index(tmp_path, digests)
    return PdqIndex.load(tmp_path, digests), rows_of(digests)


def queries_near(rng: np.random.Generator, known: np.ndarray, count: int, max_flips: int) -> np.ndarray:
    """Half copies of known hashes with up to ``max_flips`` bits changed, half unrelated."""
    near = known[rng.integers(0, len(known), count // 2)]
    flip = rng.random((len(near), 256)) < rng.uniform(0, max_flips / 256, (len(near), 1))
    far = rng.integers(0, 256, (count - len(near), 32), dtype=np.uint8)
    return np.concatenate([near ^ np.packbits(flip, axis=1), far])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    centres=st.integers(1, 60),
    per_centre=st.integers(1, 12),
    radius=st.integers(0, 48),
)
def test_index_equals_brute_force_for_any_clustered_set_and_radius(
    tmp_path_factory: pytest.TempPathFactory, seed: int, centres: int, per_centre: int, radius: int
) -> None:
    rng = np.random.default_rng(seed)
    index, known = built(tmp_path_factory.mktemp("index"), clustered(rng, centres, per_centre, 40))
    queries = queries_near(rng, known, 40, 50)
    assert found(index, queries, radius) == brute_force(known, queries, radius)


def test_radius_31_on_a_larger_set_finds_every_near_copy_and_nothing_else(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    index, known = built(tmp_path, clustered(rng, 3000, 4, 24))
    queries = queries_near(rng, known, 600, 45)
    expected = brute_force(known, queries, 31)
    assert len(expected) > 300  # the test means something: many near pairs exist, and many misses
    assert found(index, queries, 31) == expected


def test_batches_spread_over_processes_give_the_same_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    index, known = built(tmp_path, clustered(rng, 500, 4, 20))
    queries = queries_near(rng, known, 5000, 40)  # several batches: the forked path runs
    assert found(index, queries, 31, workers=2) == found(index, queries, 31, workers=1) == brute_force(known, queries, 31)


def test_a_set_where_most_hashes_share_chunks_is_still_exact(tmp_path: Path) -> None:
    """A hostile or degenerate set (blank frames hash alike) piles entries into a few buckets."""
    rng = np.random.default_rng(3)
    rows = np.zeros((400, 32), dtype=np.uint8)
    rows[:, :2] = rng.integers(0, 256, (400, 2), dtype=np.uint8)  # only 16 bits vary
    index, known = built(tmp_path, rows)
    queries = np.concatenate([known[:20], np.full((5, 32), 0xFF, dtype=np.uint8), np.zeros((1, 32), np.uint8)])
    assert found(index, queries, 31) == brute_force(known, queries, 31)


@pytest.mark.parametrize("count", [1, 2, 255])
def test_tiny_sets_work(tmp_path: Path, count: int) -> None:
    rng = np.random.default_rng(count)
    index, known = built(tmp_path, rng.integers(0, 256, (count, 32), dtype=np.uint8))
    queries = np.concatenate([known, rng.integers(0, 256, (3, 32), dtype=np.uint8)])
    assert found(index, queries, 31) == brute_force(known, queries, 31)


def test_empty_query_batch_gives_no_matches(tmp_path: Path) -> None:
    index, _ = built(tmp_path, np.random.default_rng(1).integers(0, 256, (10, 32), dtype=np.uint8))
    assert len(index.search(np.empty((0, 32), np.uint8))) == 0


@pytest.mark.parametrize("radius", [-1, 65])
def test_radius_out_of_range_is_refused(tmp_path: Path, radius: int) -> None:
    index, known = built(tmp_path, np.random.default_rng(1).integers(0, 256, (10, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match="radius"):
        index.search(known, radius)


@pytest.mark.parametrize("count", [1, 1000, 10_000_000, 10**12])
def test_chunks_cover_all_256_bits_and_thresholds_satisfy_the_pigeonhole_bound(count: int) -> None:
    widths = chunk_widths(count)
    assert sum(widths) == 256 and max(widths) <= 22 and min(widths) >= 8
    for radius in range(0, 65):
        limits = thresholds(widths, radius)
        # if every searched chunk differed in more than its threshold, d would exceed the radius
        assert sum(t + 1 for t in limits if t >= 0) > radius
        assert all(t <= w for w, t in zip(widths, limits))


def test_index_that_does_not_fit_the_set_is_refused(tmp_path: Path) -> None:
    index, known = built(tmp_path, np.random.default_rng(1).integers(0, 256, (10, 32), dtype=np.uint8))
    layout = json.loads(index_file(tmp_path, "pdq").read_text())
    index_file(tmp_path, "pdq").write_text(json.dumps({**layout, "count": 9}))
    with pytest.raises(ValueError, match="re-import"):
        PdqIndex.load(tmp_path, sorted_unique(known))


def _pdq_list(path: Path, rows: np.ndarray) -> Path:
    path.write_text("".join(f"pdq {bytes(r).hex()}\n" for r in rows))
    return path


def test_library_pdq_sets_are_indexed_and_matched_within_the_radius(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    known = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(_pdq_list(tmp_path / "known.pdq", known), name="pdq-set")
    query = known[7].copy()
    query[:3] ^= 0xFF  # 24 bits away
    unrelated = rng.integers(0, 256, (1, 32), dtype=np.uint8)
    matches = HashMatcher(library.load()).match_pdq(np.stack([query, unrelated[0]]), radius=31)
    (match,) = matches
    assert (match.query_index, match.method, match.distance, match.hash_set) == (0, "pdq", 24, "pdq-set")
    assert match.matched_hash == bytes(known[7]).hex()
    assert HashMatcher(library.load()).match_pdq(query[None, :], radius=23) == []


def test_library_update_rebuilds_the_index_so_new_pdq_hashes_match(tmp_path: Path) -> None:
    from fieldlab.hashsets.update import update_set

    rng = np.random.default_rng(6)
    first, later = rng.integers(0, 256, (2, 20, 32), dtype=np.uint8)
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(_pdq_list(tmp_path / "v1.pdq", first), name="pdq-set")
    update_set(library, "pdq-set", _pdq_list(tmp_path / "v2.pdq", later))
    matches = HashMatcher(library.load()).match_pdq(np.concatenate([first[:1], later[:1]]))
    assert sorted(m.query_index for m in matches) == [0, 1] and all(m.distance == 0 for m in matches)


def test_a_set_whose_index_files_are_missing_is_refused_with_advice(tmp_path: Path) -> None:
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(_pdq_list(tmp_path / "known.pdq", np.zeros((1, 32), np.uint8) + 1), name="pdq-set")
    index_file(library.folder / "pdq-set", "pdq").unlink()
    with pytest.raises(HashSetError, match="import it again"):
        library.load()


def test_cli_lookup_with_pdq_lists_close_known_hashes_with_their_distance(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    known = np.random.default_rng(8).integers(0, 256, (5, 32), dtype=np.uint8)
    home = tmp_path / "home"
    HashSetLibrary(home).import_file(_pdq_list(tmp_path / "known.pdq", known), name="pdq-set")
    close = known[2].copy()
    close[0] ^= 0b111  # 3 bits away
    runner = CliRunner()
    result = runner.invoke(app, ["hashset", "lookup", "--pdq", "--home", str(home), bytes(close).hex(), "0" * 64],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert bytes(known[2]).hex() in result.output and " 3 " in result.output
    assert "not in any set" in result.output
    refused = runner.invoke(app, ["hashset", "lookup", "--pdq", "--home", str(home), "ab" * 16])
    assert refused.exit_code == 2 and "PDQ" in refused.output
