"""Where a block-hash set lives in the library and how it is opened for look-up.

Storage, in the set's library folder: ``blocks.npy`` (sorted ``S16`` digests), ``blocks.file.npy`` and
``blocks.index.npy`` (``uint32`` file id and block index of each digest), all opened memory-mapped like the exact
store; ``files.npy`` (per file: category code, size, whole blocks, kept blocks), ``files.json`` (names, relative
to the reference folder) and ``blocks.json`` (the statistics).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fieldlab.hashsets.library import META_FILE, PROBLEMS_FILE, HashSetError, HashSetInfo, HashSetLibrary
from fieldlab.hashsets.records import ParseProblem

BLOCK_SIZE = 4096
BLOCKS_FORMAT = "blocks"

DIGESTS_FILE = "blocks.npy"
BLOCK_FILES_FILE = "blocks.file.npy"
BLOCK_INDICES_FILE = "blocks.index.npy"
FILES_FILE = "files.npy"
NAMES_FILE = "files.json"
STATS_FILE = "blocks.json"

FILE_DTYPE = np.dtype([("code", np.uint8), ("size", np.uint64), ("blocks", np.uint32), ("kept", np.uint32)])


@dataclass(frozen=True)
class BlockSetStats:
    block_size: int
    hash: str
    min_entropy: float
    files: int
    total_bytes: int
    whole_blocks: int  # whole 4 KiB blocks of the reference files
    low_entropy: int  # of which skipped: constant, periodic or below min_entropy
    common: int  # of which skipped: their content is in two or more distinct files
    common_digests: int  # distinct contents behind ``common``
    kept: int  # positions kept: whole_blocks - low_entropy - common
    unique: int  # distinct kept digests: the set's entries
    small_files: int  # files under 4 KiB: no whole block, invisible to sampling

    @property
    def kept_fraction(self) -> float:
        """Share of the reference bytes lying in kept blocks: how much of known material a sampled window can match."""
        return self.kept * self.block_size / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True)
class BlockSet:
    """A block-hash set opened for look-up; the arrays are memory-mapped."""

    info: HashSetInfo
    stats: BlockSetStats
    digests: np.ndarray  # sorted, unique, S16
    block_files: np.ndarray  # uint32, file id of each digest
    block_indices: np.ndarray  # uint32, index of the block in its file
    files: np.ndarray  # FILE_DTYPE, one row per reference file
    names: list[str]  # per file, relative to the reference folder

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """The row of each query digest (S16) in this set, -1 where the set does not hold it."""
        rows = np.full(len(queries), -1, dtype=np.int64)
        if len(self.digests) == 0 or len(queries) == 0:
            return rows
        order = np.argsort(queries, kind="stable")  # sorted queries walk the mapped column in order
        ordered = queries[order]
        positions = np.searchsorted(self.digests, ordered)
        positions[positions == len(self.digests)] = 0
        found = self.digests[positions] == ordered
        rows[order[found]] = positions[found]
        return rows

    def category(self, row: int) -> str:
        return self.info.labels[int(self.files["code"][self.block_files[row]])]


def install_block_set(library: HashSetLibrary, name: str, info: HashSetInfo, *, stats: BlockSetStats,
                      digests: np.ndarray, block_files: np.ndarray, block_indices: np.ndarray, files: np.ndarray,
                      names: list[str], problems: list[ParseProblem]) -> None:
    """Write the set into a staging folder and swap it into place, as every import does (a built set or an imported
    export alike)."""
    library.folder.mkdir(parents=True, exist_ok=True)
    staging = library.folder / f".importing-{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        np.save(staging / DIGESTS_FILE, digests.astype("S16", copy=False), allow_pickle=False)
        np.save(staging / BLOCK_FILES_FILE, block_files.astype(np.uint32, copy=False), allow_pickle=False)
        np.save(staging / BLOCK_INDICES_FILE, block_indices.astype(np.uint32, copy=False), allow_pickle=False)
        np.save(staging / FILES_FILE, files, allow_pickle=False)
        (staging / NAMES_FILE).write_text(json.dumps(names), encoding="utf-8")
        (staging / STATS_FILE).write_text(json.dumps(asdict(stats), indent=2), encoding="utf-8")
        with open(staging / PROBLEMS_FILE, "w", encoding="utf-8") as out:
            out.writelines(f"{'line ' + str(p.line) + ': ' if p.line else ''}{p.reason}\n" for p in problems)
        (staging / META_FILE).write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        library._install(staging, library.folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_block_sets(library: HashSetLibrary, names: list[str] | None = None) -> list[BlockSet]:
    """The named block-hash sets (all of them when ``names`` is empty), memory-mapped."""
    available = {info.name: info for info in library.list() if info.format == BLOCKS_FORMAT}
    wanted = names or sorted(available)
    missing = [n for n in wanted if n not in available]
    if missing:
        raise HashSetError(
            f"no block-hash set named {', '.join(missing)} in {library.folder}; block-hash sets: "
            f"{', '.join(sorted(available)) or 'none (build one with: fieldlab hashset blocks FOLDER --name NAME)'}"
        )
    return [_open(library.folder / n, available[n]) for n in wanted]


def _open(folder: Path, info: HashSetInfo) -> BlockSet:
    def mapped(file: str) -> np.ndarray:
        return np.load(folder / file, mmap_mode="r", allow_pickle=False)

    try:
        stats = BlockSetStats(**json.loads((folder / STATS_FILE).read_text(encoding="utf-8")))
        digests, block_files, block_indices = mapped(DIGESTS_FILE), mapped(BLOCK_FILES_FILE), mapped(BLOCK_INDICES_FILE)
        files = np.load(folder / FILES_FILE, allow_pickle=False)
        names = json.loads((folder / NAMES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        raise HashSetError(f"block-hash set {folder.name} is damaged ({exc}): build or import it again") from None
    if (digests.dtype != np.dtype("S16") or files.dtype != FILE_DTYPE or len(names) != len(files)
            or not len(digests) == len(block_files) == len(block_indices)):
        raise HashSetError(f"block-hash set {folder.name} is damaged: build or import it again")
    return BlockSet(info, stats, digests, block_files, block_indices, files, names)


def digest_hex(digest: bytes) -> str:
    """Hex of a stored digest; numpy's ``S16`` drops trailing zero bytes, which are put back."""
    return bytes(digest).ljust(16, b"\0").hex()
