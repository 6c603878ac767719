"""Block-hash sets: the MD5 of every distinctive 4 KiB block of known files, for sampling disks (``fieldlab prescan``).

A file on a file system with 4 KiB clusters starts on a cluster boundary, so each aligned 4 KiB block of the file
lies whole in one 4 KiB window of the disk, wherever the file lies and however it is fragmented.  Reading a random
window and finding its MD5 among a known file's block hashes shows that the file (or that part of it) is on the
disk, with no file system needed: deleted, carved-over and unallocated copies count too.  This is the idea of
Garfinkel's sector hashing (hashdb, bulk_extractor's hashdb scanner, ``md5deep -p 4096``); how the windows are
chosen and what a sample says is in ``docs/prescan.md``.

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

Why MD5: measured on this project's machine (AMD EPYC, Python 3.11, hashlib), one 4 KiB block costs 5.8 us with
MD5, 2.5 us with SHA-1 (SHA-NI) and 4.6 us with BLAKE2b-128.  A random 4 KiB read costs about 100 us on a SATA SSD
and 10 ms on a spinning disk, so the hash does not limit a pre-scan; MD5 is what NIST's block hashes, hashdb and
``md5deep -p`` use, so sets can be compared with theirs.

Storage, in the set's library folder: ``blocks.npy`` (sorted ``S16`` digests), ``blocks.file.npy`` and
``blocks.index.npy`` (``uint32`` file id and block index of each digest), all opened memory-mapped like the exact
store; ``files.npy`` (per file: category code, size, whole blocks, kept blocks), ``files.json`` (names, relative
to the reference folder) and ``blocks.json`` (the statistics).

Export format (``hashset export --format blocks``; ``hashset import`` reads it back): UTF-8 text, one record a
line, fields separated by tabs::

    #fieldlab-blocks  1
    #set              NAME
    #profile          uk
    #source           SOURCE-NAME  SOURCE-SHA256
    #stats            {"block_size": 4096, "hash": "md5", "min_entropy": 6.0, ...}   (BlockSetStats as JSON)
    file   ID  CATEGORY  SIZE  WHOLE-BLOCKS  KEPT-BLOCKS  NAME            (NAME as a JSON string; IDs from 0)
    block  MD5-HEX  FILE-ID  BLOCK-INDEX                                  (byte offset in the file = 4096 x index)

Every ``file`` line comes before the ``block`` lines; categories are the profile's labels.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import stat
import time
from array import array
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, TextIO

import numpy as np

from fieldlab.hashsets.library import (
    META_FILE,
    PROBLEMS_FILE,
    PROBLEMS_KEPT,
    HashSetError,
    HashSetInfo,
    HashSetLibrary,
    ImportReport,
    _sha256_of,
    check_name,
)
from fieldlab.hashsets.profiles import UNCATEGORISED, Profile, load_profile
from fieldlab.hashsets.records import ParseProblem

BLOCK_SIZE = 4096
BLOCKS_FORMAT = "blocks"
DEFAULT_MIN_ENTROPY = 6.0
EXPORT_MAGIC = "#fieldlab-blocks"
EXPORT_VERSION = "1"

DIGESTS_FILE = "blocks.npy"
BLOCK_FILES_FILE = "blocks.file.npy"
BLOCK_INDICES_FILE = "blocks.index.npy"
FILES_FILE = "files.npy"
NAMES_FILE = "files.json"
STATS_FILE = "blocks.json"

FILE_DTYPE = np.dtype([("code", np.uint8), ("size", np.uint64), ("blocks", np.uint32), ("kept", np.uint32)])
_READ = 256 * BLOCK_SIZE  # a reference file is read 1 MiB at a time


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


@dataclass(frozen=True)
class BlockSetReport:
    info: HashSetInfo
    stats: BlockSetStats
    problems: tuple[ParseProblem, ...]
    problems_file: Path


# --- which blocks --------------------------------------------------------------------------


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


# --- building from a folder ----------------------------------------------------------------


class _Collector:
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


def _select(collector: _Collector, file_count: int) -> _Selected:
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
        for number, row in enumerate(csv.reader(rows), start=1):
            if not row or not row[0].strip() or (number == 1 and [c.strip().lower() for c in row[:2]] == ["path", "category"]):
                continue
            if len(row) < 2:
                raise HashSetError(f"{path}, line {number}: expected 'relative path,category'")
            found[row[0].strip().replace("\\", "/").removeprefix("./")] = row[1].strip()
    return found


def build_block_set(
    library: HashSetLibrary,
    folder: Path,
    name: str,
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

    collector = _Collector(min_entropy)
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
    _install(library, name, info, stats, selected.digests, selected.block_files, selected.block_indices, files,
             names, problems)
    return BlockSetReport(info, stats, tuple(problems[:PROBLEMS_KEPT]), target / PROBLEMS_FILE)


def _install(library: HashSetLibrary, name: str, info: HashSetInfo, stats: BlockSetStats, digests: np.ndarray,
             block_files: np.ndarray, block_indices: np.ndarray, files: np.ndarray, names: list[str],
             problems: list[ParseProblem]) -> None:
    """Write the set into a staging folder and swap it into place, as every import does."""
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


# --- opening -------------------------------------------------------------------------------


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


# --- export and import ---------------------------------------------------------------------


def export_block_set(library: HashSetLibrary, name: str, target: Path) -> int:
    """Write set ``name`` in the export format above; the number of blocks written."""
    (block_set,) = load_block_sets(library, [name])
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        return write_block_export(block_set, out)


def write_block_export(block_set: BlockSet, out: TextIO) -> int:
    info, labels = block_set.info, block_set.info.labels
    out.write(f"{EXPORT_MAGIC}\t{EXPORT_VERSION}\n#set\t{info.name}\n#profile\t{info.profile}\n"
              f"#source\t{_one_line(info.source_name)}\t{info.source_sha256}\n"
              f"#stats\t{json.dumps(asdict(block_set.stats))}\n")
    for file_id, (row, name) in enumerate(zip(block_set.files, block_set.names)):
        out.write(f"file\t{file_id}\t{labels[row['code']]}\t{row['size']}\t{row['blocks']}\t{row['kept']}\t"
                  f"{json.dumps(name)}\n")
    order = np.lexsort((block_set.block_indices, block_set.block_files))  # file by file, as the files were read
    for start in range(0, len(order), 100_000):
        rows = order[start:start + 100_000]
        digests = block_set.digests[rows]
        out.writelines(f"block\t{digest_hex(d)}\t{f}\t{i}\n"
                       for d, f, i in zip(digests, block_set.block_files[rows], block_set.block_indices[rows]))
    return len(order)


def digest_hex(digest: bytes) -> str:
    """Hex of a stored digest; numpy's ``S16`` drops trailing zero bytes, which are put back."""
    return bytes(digest).ljust(16, b"\0").hex()


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def is_block_export(path: Path) -> bool:
    try:
        with open(path, "rb") as head:
            return head.read(len(EXPORT_MAGIC)) == EXPORT_MAGIC.encode()
    except OSError:
        return False


def import_block_export(library: HashSetLibrary, source: Path, name: str, replace: bool = False) -> ImportReport:
    """Import a block-hash set exported by ``export_block_set``; the file's own profile and statistics are kept.

    Lines that do not parse, blocks of unknown files and repeated digests are problems (reported with their line
    numbers), never silently dropped.
    """
    check_name(name)
    target = library.folder / name
    if target.exists() and not replace:
        raise HashSetError(f"a hash set named {name!r} exists: choose another --name or pass --replace")
    header, files, names, collector, problems = _parse_export(source)
    if header.get("version") != EXPORT_VERSION:
        raise HashSetError(f"{source}: not a fieldlab block-hash export of version {EXPORT_VERSION}")
    try:
        profile: Profile = load_profile(header.get("profile", "uk"))
        stated = json.loads(header["stats"])
    except (KeyError, ValueError) as exc:
        raise HashSetError(f"{source}: its #profile or #stats header is missing or wrong ({exc})") from None
    if stated.get("block_size") != BLOCK_SIZE or stated.get("hash") != "md5":
        raise HashSetError(f"{source}: blocks of {stated.get('block_size')} bytes hashed with {stated.get('hash')}: "
                           f"only {BLOCK_SIZE}-byte MD5 blocks are supported")
    table = np.zeros(len(files), dtype=FILE_DTYPE)
    per_category: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    for file_id, (raw, size, whole, kept) in enumerate(files):
        label = profile.map(raw)
        if label is None:
            unmapped[raw[:40]] += 1
            label = UNCATEGORISED
        per_category[label] += 1
        table[file_id] = (profile.labels.index(label), size, whole, kept)
    digests = np.frombuffer(bytes(collector.digests), dtype="S16")
    order = np.argsort(digests, kind="stable")
    digests = digests[order]
    first = np.ones(len(digests), dtype=bool)
    first[1:] = digests[1:] != digests[:-1]
    problems += [ParseProblem(0, f"block {digest_hex(d)} listed more than once: the first kept")
                 for d in digests[~first][:PROBLEMS_KEPT]]
    keep = order[first]
    stats = BlockSetStats(
        BLOCK_SIZE, "md5", float(stated.get("min_entropy", DEFAULT_MIN_ENTROPY)), len(files),
        int(table["size"].sum()), int(table["blocks"].sum()), int(stated.get("low_entropy", 0)),
        int(stated.get("common", 0)), int(stated.get("common_digests", 0)), int(table["kept"].sum()),
        int(first.sum()), int(np.count_nonzero(table["blocks"] == 0)),
    )
    info = HashSetInfo(
        name=name, profile=profile.name, labels=profile.labels, format=BLOCKS_FORMAT, source_name=source.name,
        source_sha256=_sha256_of(source), imported_at=time.time(), entries=len(files),
        counts={"blocks": stats.unique, "files": stats.files}, per_category=dict(per_category),
        problems=len(problems), conflicts=0, unmapped_categories=dict(unmapped.most_common(50)),
    )
    block_files = np.frombuffer(collector.block_files.tobytes(), dtype=np.uint32)[keep]
    block_indices = np.frombuffer(collector.block_indices.tobytes(), dtype=np.uint32)[keep]
    _install(library, name, info, stats, digests[first], block_files, block_indices, table, names, problems)
    return ImportReport(info, tuple(problems[:PROBLEMS_KEPT]), target / PROBLEMS_FILE)


def _parse_export(source: Path) -> tuple[dict[str, str], list[tuple[str, int, int, int]], list[str], _Collector,
                                         list[ParseProblem]]:
    header: dict[str, str] = {}
    files: list[tuple[str, int, int, int]] = []
    names: list[str] = []
    collector = _Collector(DEFAULT_MIN_ENTROPY)
    problems: list[ParseProblem] = []
    with open(source, encoding="utf-8", errors="replace", newline="\n") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.rstrip("\r\n").split("\t")
            try:
                if number == 1:
                    if fields[0] != EXPORT_MAGIC:
                        raise HashSetError(f"{source} is not a fieldlab block-hash export (no {EXPORT_MAGIC} line)")
                    header["version"] = fields[1] if len(fields) > 1 else ""
                elif fields[0].startswith("#"):
                    header[fields[0][1:]] = fields[1] if len(fields) > 1 else ""
                elif fields[0] == "file" and len(fields) == 7:
                    if int(fields[1]) != len(files):
                        raise ValueError(f"file id {fields[1]} out of order (expected {len(files)})")
                    name = json.loads(fields[6])
                    if not isinstance(name, str):
                        raise ValueError("the name is not a JSON string")
                    size, whole, kept = int(fields[3]), int(fields[4]), int(fields[5])
                    if not 0 <= kept <= whole <= size // BLOCK_SIZE:
                        raise ValueError(f"{whole} whole and {kept} kept blocks do not fit {size} bytes")
                    files.append((fields[2], size, whole, kept))
                    names.append(name)
                elif fields[0] == "block" and len(fields) == 4:
                    digest, file_id, index = bytes.fromhex(fields[1]), int(fields[2]), int(fields[3])
                    if len(digest) != 16:
                        raise ValueError("not an MD5 (32 hex digits)")
                    if not 0 <= file_id < len(files) or not 0 <= index < files[file_id][2]:
                        raise ValueError(f"block {index} of file {file_id}: no such file or block")
                    collector.digests += digest
                    collector.block_files.append(file_id)
                    collector.block_indices.append(index)
                elif fields != [""]:
                    raise ValueError("neither a file nor a block line")
            except ValueError as exc:
                problems.append(ParseProblem(number, str(exc)[:200]))
    return header, files, names, collector, problems
