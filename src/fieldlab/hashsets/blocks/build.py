"""Building a block-hash set from a folder of known files.

Which blocks are kept, and why:

- Whole blocks only, at 4 KiB steps from the file's start.  A file's last partial block shares its window with
  slack whose content is not the file's, so it can never match.
- Not low-entropy blocks: constant ones, ones that repeat with a period dividing 2 KiB (ramps, a repeated sector)
  and ones whose byte entropy is below ``min_entropy`` bits a byte (default 6.0).  Structure, not content, makes
  such blocks (tables, padding, text, flat bitmap rows), so unrelated files repeat them and a match would say
  nothing.  Measured on generated material: every block of procedural JPEGs lies at 7.56 or more, of PNGs at 7.83
  or more and of H.264 MP4s at 6.68 or more (the lowest is the ``moov`` index), while text lies at 4.6-4.8 and 99%
  of a program's code blocks at 3.8 or less.  Uncompressed pictures (BMP, TIFF) lose their flat regions; the kept
  fraction below says how much.
- Not blocks found in two or more distinct reference files: shared headers, such as an encoder's ICC profile or a
  camera's fixed EXIF blocks, would match every picture from the same software.  They are dropped and counted.
  A block repeated inside one file is kept once (its first index) but counts as kept at every position.

The kept fraction (bytes in kept blocks over all reference bytes) is what the pre-scan's statement uses: "X MiB of
known material" holds about ``kept_fraction * X`` MiB of blocks a sample can match.
"""

from __future__ import annotations

import csv
import hashlib
import os
import stat
import time
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from fieldlab.hashsets.blocks.store import (
    BLOCK_SIZE,
    BLOCKS_FORMAT,
    FILE_DTYPE,
    BlockSetStats,
    install_block_set,
)
from fieldlab.hashsets.library import (
    PROBLEMS_FILE,
    PROBLEMS_KEPT,
    HashSetError,
    HashSetInfo,
    HashSetLibrary,
    check_name,
)
from fieldlab.hashsets.profiles import UNCATEGORISED, load_profile
from fieldlab.hashsets.records import ParseProblem

DEFAULT_MIN_ENTROPY = 6.0
_READ = 256 * BLOCK_SIZE  # a reference file is read 1 MiB at a time


@dataclass(frozen=True)
class BlockSetReport:
    info: HashSetInfo
    stats: BlockSetStats
    problems: tuple[ParseProblem, ...]
    problems_file: Path


def block_entropy(blocks: np.ndarray) -> np.ndarray:
    """Shannon entropy, in bits a byte, of each row of ``blocks`` (``(n, size)`` uint8), from its byte histogram."""
    count, size = blocks.shape
    keys = (np.arange(count, dtype=np.int64)[:, None] * 256 + blocks).ravel()
    histogram = np.bincount(keys, minlength=count * 256).reshape(count, 256)
    p = histogram / size
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(histogram > 0, p * np.log2(p), 0.0).sum(axis=1)


def distinctive(blocks: np.ndarray, min_entropy: float = DEFAULT_MIN_ENTROPY) -> np.ndarray:
    """True for each row that is worth a hash: not periodic with a period dividing half a block, entropy high enough."""
    half = blocks.shape[1] // 2
    periodic = (blocks[:, :half] == blocks[:, half:]).all(axis=1)  # constant blocks included
    return ~periodic & (block_entropy(blocks) >= min_entropy)


def block_md5(window: bytes | memoryview) -> bytes:
    return hashlib.md5(window).digest()


class BlockCollector:
    """Digests of the distinctive blocks of each file, as read; 24 bytes a block until the set is built."""

    def __init__(self, min_entropy: float) -> None:
        self.min_entropy = min_entropy
        self.digests = bytearray()
        self.block_files = array("I")
        self.block_indices = array("I")
        self.low_entropy = 0

    def add(self, file_id: int, handle: BinaryIO) -> tuple[int, int, str]:
        """Hash one file's kept blocks; (size, whole blocks, SHA-256 of the content)."""
        content = hashlib.sha256()
        size = index = 0
        while chunk := handle.read(_READ):
            content.update(chunk)
            size += len(chunk)
            whole = len(chunk) // BLOCK_SIZE
            if whole:
                blocks = np.frombuffer(chunk, dtype=np.uint8, count=whole * BLOCK_SIZE).reshape(whole, BLOCK_SIZE)
                kept = np.flatnonzero(distinctive(blocks, self.min_entropy))
                self.low_entropy += whole - len(kept)
                view = memoryview(chunk)
                for row in kept.tolist():
                    self.digests += block_md5(view[row * BLOCK_SIZE:(row + 1) * BLOCK_SIZE])
                    self.block_indices.append(index + row)
                self.block_files.extend([file_id] * len(kept))
            index += whole
        return size, index, content.hexdigest()


@dataclass(frozen=True)
class _Selected:
    digests: np.ndarray
    block_files: np.ndarray
    block_indices: np.ndarray
    kept_per_file: np.ndarray
    common: int
    common_digests: int


def _select(collector: BlockCollector, file_count: int) -> _Selected:
    """Drop the digests seen in two or more files; keep each remaining digest once, at its first index."""
    digests = np.frombuffer(bytes(collector.digests), dtype="S16")
    files = np.frombuffer(collector.block_files.tobytes(), dtype=np.uint32)
    indices = np.frombuffer(collector.block_indices.tobytes(), dtype=np.uint32)
    if len(digests) == 0:
        empty = np.zeros(0, dtype=np.uint32)
        return _Selected(digests, empty, empty, np.zeros(file_count, dtype=np.int64), 0, 0)
    order = np.lexsort((indices, files, digests))
    digests, files, indices = digests[order], files[order], indices[order]
    new_digest = np.ones(len(digests), dtype=bool)
    new_digest[1:] = digests[1:] != digests[:-1]
    new_pair = new_digest.copy()
    new_pair[1:] |= files[1:] != files[:-1]
    starts = np.flatnonzero(new_digest)
    files_per_digest = np.add.reduceat(new_pair.astype(np.int64), starts)
    single = files_per_digest == 1
    row_single = np.repeat(single, np.diff(np.append(starts, len(digests))))
    kept = starts[single]
    return _Selected(
        digests[kept], files[kept], indices[kept], np.bincount(files[row_single], minlength=file_count),
        int(np.count_nonzero(~row_single)), int(np.count_nonzero(~single)),
    )


def reference_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(name relative to ``folder`` with '/' separators, path) of every regular file below it, in name order.

    Symbolic links are not followed: a reference folder is a force's own holding, but a link out of it would make
    the set describe files nobody chose.
    """
    for root, folders, files in os.walk(folder, followlinks=False):
        folders.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            yield path.relative_to(folder).as_posix(), path


def read_categories(path: Path) -> dict[str, str]:
    """``relative path,category`` rows (a ``path,category`` header is skipped) as a dict."""
    found: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as rows:
        try:
            for number, row in enumerate(csv.reader(rows), start=1):
                header = number == 1 and [c.strip().lower() for c in row[:2]] == ["path", "category"]
                if not row or not row[0].strip() or header:
                    continue
                if len(row) < 2:
                    raise HashSetError(f"{path}, line {number}: expected 'relative path,category'")
                found[row[0].strip().replace("\\", "/").removeprefix("./")] = row[1].strip()
        except (UnicodeDecodeError, csv.Error) as exc:
            raise HashSetError(f"{path}: not a UTF-8 CSV of 'relative path,category' ({exc})") from None
    return found


def build_block_set(
    library: HashSetLibrary,
    folder: Path,
    name: str,
    *,
    category: str | None = None,
    categories_file: Path | None = None,
    profile: str = "uk",
    mapping_file: Path | None = None,
    replace: bool = False,
    min_entropy: float = DEFAULT_MIN_ENTROPY,
) -> BlockSetReport:
    """Hash the distinctive blocks of every file below ``folder`` into the block-hash set ``name``.

    Each file's category is its row in ``categories_file`` (relative path, category), else ``category``, else
    uncategorised; categories are mapped to labels through ``profile`` like any set's.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HashSetError(f"{folder} is not a folder of reference files")
    check_name(name)
    if not 0.0 <= min_entropy <= 8.0:
        raise HashSetError(f"--min-entropy {min_entropy}: bits a byte lie between 0 and 8")
    target = library.folder / name
    if target.exists() and not replace:
        raise HashSetError(f"a hash set named {name!r} exists: choose another --name or pass --replace")
    chosen = load_profile(profile, mapping_file)
    listed = read_categories(categories_file) if categories_file else {}

    collector = BlockCollector(min_entropy)
    names: list[str] = []
    codes, sizes, whole_blocks = array("B"), [], array("I")
    per_category: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    problems: list[ParseProblem] = []
    fingerprint = hashlib.sha256()
    for relative, path in reference_files(folder):
        try:
            with open(path, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    continue
                size, whole, sha256 = collector.add(len(names), handle)
        except OSError as exc:
            problems.append(ParseProblem(0, f"{relative}: cannot be read: {exc.strerror or exc}"))
            continue
        raw = listed.pop(relative, category)
        label = chosen.map(raw)
        if label is None:
            unmapped[(raw or "")[:40]] += 1
            label = UNCATEGORISED
        names.append(relative)
        codes.append(chosen.labels.index(label))
        sizes.append(size)
        whole_blocks.append(whole)
        per_category[label] += 1
        fingerprint.update(os.fsencode(relative) + b"\0" + sha256.encode() + b"\n")
    problems += [ParseProblem(0, f"{relative}: listed in the categories file but not in the folder")
                 for relative in sorted(listed)]
    if not names:
        raise HashSetError(f"{folder} holds no readable file")

    selected = _select(collector, len(names))
    files = np.zeros(len(names), dtype=FILE_DTYPE)
    files["code"] = np.frombuffer(codes.tobytes(), dtype=np.uint8)
    files["size"] = sizes
    files["blocks"] = np.frombuffer(whole_blocks.tobytes(), dtype=np.uint32)
    files["kept"] = selected.kept_per_file
    stats = BlockSetStats(
        BLOCK_SIZE, "md5", min_entropy, len(names), int(files["size"].sum()), int(files["blocks"].sum()),
        collector.low_entropy, selected.common, selected.common_digests, int(files["kept"].sum()),
        len(selected.digests), int(np.count_nonzero(files["blocks"] == 0)),
    )
    info = HashSetInfo(
        name=name, profile=chosen.name, labels=chosen.labels, format=BLOCKS_FORMAT, source_name=folder.name,
        source_sha256=fingerprint.hexdigest(), imported_at=time.time(), entries=len(names),
        counts={"blocks": stats.unique, "files": stats.files}, per_category=dict(per_category),
        problems=len(problems), conflicts=0, unmapped_categories=dict(unmapped.most_common(50)),
    )
    install_block_set(library, name, info, stats=stats, digests=selected.digests, block_files=selected.block_files,
                      block_indices=selected.block_indices, files=files, names=names, problems=problems)
    return BlockSetReport(info, stats, tuple(problems[:PROBLEMS_KEPT]), target / PROBLEMS_FILE)
