"""A hash set compiled for look-up: sorted fixed-width digests with a parallel category array.

Sorted arrays in ``.npy`` files open memory-mapped in milliseconds whatever
their size, cost no RAM until touched, and answer a whole batch of look-ups
with one vectorised binary search (numpy ``searchsorted``).  Numpy's ``S``
dtype compares bytes lexicographically; for fixed-width digests the trailing
NUL stripping it does is harmless (it is injective on equal-length values).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from fieldlab.hashsets.records import DIGEST_SIZES, PDQ_SIZE, HashSetFileError

KINDS = tuple(DIGEST_SIZES) + ("pdq",)
WIDTHS = {**DIGEST_SIZES, "pdq": PDQ_SIZE}


class DigestColumnBuilder:
    """Collects one kind of digest with its category code while a set is parsed; memory is ~width+1 bytes each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._digests = bytearray()
        self._codes = array("B")
        self._records = array("I")  # which source record each digest came from, to pair digests on export

    def add(self, digest: bytes, code: int, record: int) -> None:
        self._digests += digest
        self._codes.append(code)
        self._records.append(record)

    def __len__(self) -> int:
        return len(self._codes)

    def build(self) -> BuiltColumn:
        """Sorted unique digests with their codes, and where each added digest ended up.

        Where one set lists a digest twice with different categories, the most
        serious category wins (codes are ordered most serious first).
        """
        width = WIDTHS[self.kind]
        digests = np.frombuffer(bytes(self._digests), dtype=f"S{width}")
        codes = np.frombuffer(self._codes.tobytes(), dtype=np.uint8)
        records = np.frombuffer(self._records.tobytes(), dtype=np.uint32)
        order = np.lexsort((codes, digests))
        digests, codes = digests[order], codes[order]
        first = np.ones(len(digests), dtype=bool)
        first[1:] = digests[1:] != digests[:-1]
        starts = np.flatnonzero(first)
        worst = codes[starts]  # codes sort ascending within a digest, so each run starts with its lowest
        mildest = np.maximum.reduceat(codes, starts) if len(starts) else worst
        positions = np.empty(len(order), dtype=np.uint32)
        positions[order] = np.cumsum(first) - 1  # the unique slot of every digest, in the order they were added
        return BuiltColumn(digests[starts], worst, int(np.count_nonzero(mildest != worst)), records, positions)


@dataclass(frozen=True)
class BuiltColumn:
    digests: np.ndarray  # sorted, unique
    codes: np.ndarray
    conflicts: int  # digests the source listed under different categories
    records: np.ndarray  # source record number of each digest as added
    positions: np.ndarray  # its slot in ``digests``


@dataclass(frozen=True)
class DigestColumn:
    kind: str
    digests: np.ndarray  # sorted, dtype S<width>
    codes: np.ndarray  # uint8, index into the set's labels

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """Category code for each query digest, -1 where the set does not hold it.

        The queries are sorted first: binary searches for sorted keys walk the (memory-mapped) digests in
        order and stay in cache, measured 3x faster than random order on 30 million entries.
        """
        result = np.full(len(queries), -1, dtype=np.int16)
        if len(self.digests) == 0 or len(queries) == 0:
            return result
        order = np.argsort(queries, kind="stable")
        ordered = queries[order]
        positions = np.searchsorted(self.digests, ordered)
        positions[positions == len(self.digests)] = 0
        found = self.digests[positions] == ordered
        result[order[found]] = self.codes[positions[found]]
        return result


NO_DIGEST = np.uint32(0xFFFFFFFF)
RECORDS_FILE = "records.npy"


def save_column(folder: Path, kind: str, digests: np.ndarray, *, codes: np.ndarray) -> None:
    np.save(folder / f"{kind}.npy", digests, allow_pickle=False)
    np.save(folder / f"{kind}.codes.npy", codes, allow_pickle=False)


def save_records(folder: Path, count: int, codes: np.ndarray, *, columns: dict[str, BuiltColumn]) -> None:
    """One row per source record: its category code and, per kind, its digest's slot (NO_DIGEST when absent).

    Lets a set be exported as the records it was imported from (MD5 and SHA-1 of one file stay together)
    for 4 bytes a digest, instead of keeping a second, unsorted copy of every digest.
    """
    dtype = [("code", np.uint8)] + [(kind, np.uint32) for kind in columns]
    table = np.zeros(count, dtype=dtype)
    table["code"] = codes
    for kind, built in columns.items():
        table[kind] = NO_DIGEST
        table[kind][built.records] = built.positions
    np.save(folder / RECORDS_FILE, table, allow_pickle=False)


def load_records(folder: Path) -> np.ndarray:
    return np.load(folder / RECORDS_FILE, mmap_mode="r", allow_pickle=False)


PHOTODNA_FILE = "photodna.tsv"


def iter_photodna(folder: Path, offset: int = 0) -> Iterator[tuple[int, str]]:
    """(record number, PhotoDNA value) in record order, from a set that carries them.

    A text file beside the records, written as the set is parsed, is read back
    in step with the records on export: PhotoDNA is only ever passed through,
    so it needs no index, and a set of millions of them costs no memory.
    """
    path = folder / PHOTODNA_FILE
    if not path.exists():
        return
    with path.open(encoding="ascii") as lines:
        for line in lines:
            record, _, value = line.rstrip("\n").partition("\t")
            yield int(record) + offset, value


def load_column(folder: Path, kind: str) -> DigestColumn | None:
    path = folder / f"{kind}.npy"
    if not path.exists():
        return None
    digests = np.load(path, mmap_mode="r", allow_pickle=False)
    codes = np.load(folder / f"{kind}.codes.npy", mmap_mode="r", allow_pickle=False)
    if digests.dtype != np.dtype(f"S{WIDTHS[kind]}") or len(codes) != len(digests):
        raise HashSetFileError(f"{path} is damaged: wrong digest width or category count")
    return DigestColumn(kind, digests, codes)
