"""Exact near-match search over a set's PDQ hashes: every known hash within a Hamming radius of a query.

Multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming
space with multi-index hashing", CVPR 2012).  The 256 bits are cut into ``m``
chunks; by the generalised pigeonhole principle, if two hashes differ in at
most ``r`` bits then for thresholds ``t_i`` summing to ``r - m + 1`` at least
one chunk ``i`` differs in at most ``t_i`` bits.  So it is enough to look up,
in each chunk's table, every chunk value within ``t_i`` bits of the query's,
and to verify those candidates with the full distance: the result is exactly
what brute force gives, for any radius, from the same tables.

Each chunk's table is the entries' order sorted by that chunk (``perm``) and a
directory of where each chunk value starts (``starts``), both ``.npy`` files
opened memory-mapped.  Chunks are about ``log2(N)`` bits wide, so a bucket
holds about one entry, capped at 22 bits so that a directory costs at most
16 MiB.  Measured on one core with 10 million clustered hashes like those of
``bench/hashsets.py``: wider chunks (24 bits, 11 chunks) searched 1.5x faster
but need 3.5x the directory memory (448 against 128 MB); narrower ones (20
bits) 1.7x slower.  faiss's ``IndexBinaryMultiHash`` is built on the same idea
but was slower than brute force there (``docs/benchmarks.md``).

Which bits make up a chunk does not matter as long as build and search agree,
so the digests are read as little-endian 64-bit words without copying.
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fieldlab.errors import OptionError
from fieldlab.hashsets.records import HashSetFileError

BITS = 256
MAX_CHUNK_BITS = 22
MIN_CHUNK_BITS = 8
MAX_RADIUS = 64  # PDQ practice stops at 31-ish; far beyond, the look-up lists explode and everything matches
_BATCH = 1024  # queries per step: bounds the candidate arrays to tens of MB


@dataclass(frozen=True)
class NearMatches:
    """Parallel arrays, one row per (query, known hash) pair within the radius, each pair once."""

    query: np.ndarray  # int64, position of the query in the batch
    entry: np.ndarray  # int64, position of the known hash in the set's sorted PDQ column
    distance: np.ndarray  # uint16

    def __len__(self) -> int:
        return len(self.query)


@dataclass(frozen=True)
class _Table:
    start: int  # first bit of the chunk
    width: int
    perm: np.ndarray  # uint32: entry numbers, sorted by this chunk's value
    starts: np.ndarray  # uint32, 2**width + 1: where each chunk value's run begins in ``perm``


def as_words(digests: np.ndarray) -> np.ndarray:
    """``(N, 4)`` uint64 view of 32-byte digests (``S32`` or ``(N, 32)`` uint8), without a copy where possible."""
    raw = np.ascontiguousarray(digests)
    if raw.dtype.kind == "S":
        raw = raw.view(np.uint8).reshape(-1, BITS // 8) if len(raw) else np.empty((0, BITS // 8), np.uint8)
    if raw.ndim != 2 or raw.shape[1] != BITS // 8:
        raise ValueError("PDQ hashes must be 32 bytes each")
    return raw.view(np.uint64)


def chunk_widths(count: int) -> list[int]:
    target = min(MAX_CHUNK_BITS, max(MIN_CHUNK_BITS, round(math.log2(max(count, 2)))))
    chunks = math.ceil(BITS / target)
    return [BITS // chunks + (1 if i < BITS % chunks else 0) for i in range(chunks)]


def chunk_values(words: np.ndarray, start: int, width: int) -> np.ndarray:
    word, offset = divmod(start, 64)
    if offset + width <= 64:
        values = (words[:, word] >> np.uint64(offset)) & np.uint64((1 << width) - 1)
    else:
        low_bits = 64 - offset
        low = words[:, word] >> np.uint64(offset)
        high = words[:, word + 1] & np.uint64((1 << (width - low_bits)) - 1)
        values = low | (high << np.uint64(low_bits))
    return values.astype(np.uint32)


def thresholds(widths: list[int], radius: int) -> list[int]:
    """Per chunk, how many differing bits to look up (-1: skip the chunk); exact by the pigeonhole principle."""
    chunks = len(widths)
    budget = radius - chunks + 1
    if budget < 0:  # fewer differing bits than chunks: r + 1 chunks, one of them must be identical
        return [0 if i <= radius else -1 for i in range(chunks)]
    return [budget // chunks + (1 if i < budget % chunks else 0) for i in range(chunks)]


@lru_cache(maxsize=64)
def flip_masks(width: int, limit: int) -> np.ndarray:
    """Every ``width``-bit value with at most ``limit`` bits set: what to XOR a chunk with to visit its neighbours."""
    masks = [0]
    for count in range(1, limit + 1):
        masks.extend(sum(1 << b for b in bits) for bits in itertools.combinations(range(width), count))
    return np.array(masks, dtype=np.uint32)


def index_file(folder: Path, name: str) -> Path:
    return folder / f"{name}.index.json"


def build_index(folder: Path, digests: np.ndarray, name: str = "pdq") -> None:
    """Write the tables for ``digests`` (a set's PDQ column, or its known videos' frames) into ``folder``."""
    words = as_words(digests)
    widths = chunk_widths(len(words))
    start = 0
    for number, width in enumerate(widths):
        values = chunk_values(words, start, width)
        perm = np.argsort(values, kind="stable").astype(np.uint32)
        starts = np.zeros((1 << width) + 1, dtype=np.uint32)
        np.cumsum(np.bincount(values, minlength=1 << width), out=starts[1:])
        np.save(folder / f"{name}.index.{number}.perm.npy", perm, allow_pickle=False)
        np.save(folder / f"{name}.index.{number}.starts.npy", starts, allow_pickle=False)
        start += width
    index_file(folder, name).write_text(json.dumps({"count": len(words), "widths": widths}), encoding="utf-8")


class PdqIndex:
    def __init__(self, digests: np.ndarray, tables: list[_Table]) -> None:
        self.words = as_words(digests)
        self.tables = tables

    @classmethod
    def load(cls, folder: Path, digests: np.ndarray, name: str = "pdq") -> PdqIndex:
        layout = json.loads(index_file(folder, name).read_text(encoding="utf-8"))
        if layout["count"] != len(digests) or sum(layout["widths"]) != BITS:
            raise HashSetFileError(f"{index_file(folder, name)} does not describe this set's PDQ hashes: re-import the set")
        tables, start = [], 0
        for number, width in enumerate(layout["widths"]):
            perm = np.load(folder / f"{name}.index.{number}.perm.npy", mmap_mode="r", allow_pickle=False)
            starts = np.load(folder / f"{name}.index.{number}.starts.npy", mmap_mode="r", allow_pickle=False)
            if len(perm) != len(digests) or len(starts) != (1 << width) + 1:
                raise HashSetFileError(f"PDQ index table {number} in {folder} is damaged: re-import the set")
            tables.append(_Table(start, width, perm, starts))
            start += width
        return cls(digests, tables)

    def __len__(self) -> int:
        return len(self.words)

    def search(self, queries: np.ndarray, radius: int = 31, workers: int | None = None) -> NearMatches:
        """All known hashes within ``radius`` bits of each query (32-byte rows), as brute force would find them."""
        if not 0 <= radius <= MAX_RADIUS:
            raise OptionError(f"PDQ radius must be between 0 and {MAX_RADIUS}")
        query_words = as_words(queries)
        steps = range(0, len(query_words), _BATCH)
        if len(self.words) == 0 or len(query_words) == 0:
            return _empty()
        workers = min(workers or os.cpu_count() or 1, len(steps))
        if workers > 1 and len(steps) >= 4:
            parts = _search_forked(self, query_words, radius, steps, workers)
        else:
            parts = [self._search_batch(query_words[s : s + _BATCH], s, radius) for s in steps]
        return NearMatches(*(np.concatenate([p[i] for p in parts]) for i in range(3)))

    def _search_batch(self, query_words: np.ndarray, offset: int, radius: int) -> tuple[np.ndarray, ...]:
        found_query, found_entry, found_distance = [], [], []
        limits = thresholds([t.width for t in self.tables], radius)
        for table, limit in zip(self.tables, limits):
            if limit < 0:
                continue
            masks = flip_masks(table.width, limit)
            keys = (chunk_values(query_words, table.start, table.width)[:, None] ^ masks[None, :]).ravel()
            begins = table.starts.take(keys)
            lengths = (table.starts.take(keys + 1) - begins).astype(np.int64)
            occupied = np.flatnonzero(lengths)
            if len(occupied) == 0:
                continue
            owners = occupied // len(masks)
            begins, lengths = begins[occupied].astype(np.int64), lengths[occupied]
            # every position of every occupied run, flattened: run start + 0, 1, ... length - 1
            ends = np.cumsum(lengths)
            positions = np.arange(ends[-1]) - np.repeat(ends - lengths - begins, lengths)
            candidates = table.perm.take(positions)
            owners = np.repeat(owners, lengths)
            differing = self.words.take(candidates, axis=0)  # ``take``: 4x faster than fancy indexing here
            differing ^= query_words.take(owners, axis=0)
            counts = np.bitwise_count(differing)
            distance = counts[:, 0].astype(np.uint16) + counts[:, 1] + counts[:, 2] + counts[:, 3]
            close = distance <= radius
            found_query.append(owners[close])
            found_entry.append(candidates[close].astype(np.int64))
            found_distance.append(distance[close])
        if not found_query:
            return _empty_arrays()
        query, entry, distance = (np.concatenate(p) for p in (found_query, found_entry, found_distance))
        # a pair close in several chunks was found once per chunk
        _, first = np.unique(query * len(self.words) + entry, return_index=True)
        return query[first] + offset, entry[first], distance[first]


_forked: tuple[PdqIndex, np.ndarray, int] | None = None


def _search_forked(index: PdqIndex, query_words: np.ndarray, radius: int, steps: range, workers: int) -> list:
    """Batches spread over forked processes, which share the mapped tables through the page cache.

    Threads were measured slower than one thread here (the many small numpy
    steps hand the GIL back and forth); two forked processes were 1.9x faster.
    """
    global _forked
    _forked = (index, query_words, radius)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_search_forked_batch, steps)
    finally:
        _forked = None


def _search_forked_batch(start: int) -> tuple[np.ndarray, ...]:
    assert _forked is not None, "set by _search_forked before the pool forks"
    index, query_words, radius = _forked
    return index._search_batch(query_words[start : start + _BATCH], start, radius)


def _empty_arrays() -> tuple[np.ndarray, ...]:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint16)


def _empty() -> NearMatches:
    return NearMatches(*_empty_arrays())

