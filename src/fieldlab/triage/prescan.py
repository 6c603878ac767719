"""The sampling pre-scan: random 4 KiB windows of a disk matched against block-hash sets, for a verdict in minutes.

A full read of a 1 TB disk takes half an hour or more; reading a random few thousand of its 4 KiB windows takes
seconds to minutes and, if known material of some size is on the disk, finds one of its blocks with a probability
that can be stated (``docs/prescan.md`` derives it; ``detection_probability`` computes it exactly).

- **Which windows.** The media is cut into 4 KiB windows from its start.  Windows are drawn uniformly without
  replacement (``WindowSampler``) over all of it but encrypted volumes, whose ciphertext can match nothing, and
  what its container does not store (``evidence/allocation.py``), which reads as zeros: both are reported as not
  sampled.  A QCOW2 claiming 1 PiB is sampled over the megabytes it stores, and the statement is about them.  Each batch is read in offset order, by several threads where the media is a
  raw file or device (``os.pread`` lets reads overlap, which SSDs and NCQ reward).
- **Which phases.** A file's 4 KiB blocks start where its file system's clusters start.  Inside each volume the
  cluster grid (``evidence/cluster_grid.py``) says at which 512-byte phases of a window that can be: phase 0 alone
  for 4 KiB clusters in a volume at a 4 KiB-aligned offset (the usual case: partitions at 1 MiB), the volume's own
  phase for an old 63-sector partition, four phases for 1 KiB ext blocks, all eight for 512-byte clusters, for
  unknown file systems and for space outside any volume.  The window and its next 3.5 KiB are read and the 4 KiB
  at each phase hashed, so each sampled window covers exactly one block start of every possible phase, and the
  statistics hold whatever the alignment.  Hashing every 512-byte-aligned window of the reference files instead
  would make the sets eight times larger for the same result.
- **When to stop.** At the time budget, when the confidence target for ``min_mib`` of known material is reached
  (the number of windows needed is computed up front, so a seeded run stops at the same window), when the whole
  media has been sampled, or at the first match if asked.  The drawing order depends only on the seed.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fieldlab.errors import HashSetError, OptionError
from fieldlab.evidence.cluster_grid import ALL_PHASES, PHASE, WINDOW, cluster_grid
from fieldlab.evidence.folder import SourceError
from fieldlab.evidence.image import ImageSource
from fieldlab.hashsets.blocks.store import BlockSet, digest_hex

MIB = 1 << 20
DEFAULT_MINUTES = 5.0
DEFAULT_MIN_MIB = 1.0
DEFAULT_CONFIDENCE = 0.95  # for the second statement: the smallest amount found with this probability
FIRST_BATCH, LARGEST_BATCH = 64, 8192
BATCH_SECONDS = 0.5  # batches grow while they take less, so the clock is looked at often enough
THREADED_CONTAINERS = ("raw", "device")  # read with os.pread, safe from several threads
READER_THREADS = 8


# --- the statistics ------------------------------------------------------------------------


def miss_probability(population: int, known: int, sampled: int) -> float:
    """Probability that ``sampled`` windows drawn without replacement from ``population`` include none of ``known``.

    The hypergeometric C(N-k, n) / C(N, n), exactly: it equals C(N-n, k) / C(N, k), the product over j < min(k, n)
    of (1 - max(k, n) / (N - j)), summed here as logarithms.
    """
    if known <= 0 or sampled <= 0:
        return 1.0
    if known + sampled > population:
        return 0.0
    small, large = sorted((known, sampled))
    log_miss = 0.0
    for start in range(0, small, 1 << 20):
        j = np.arange(start, min(small, start + (1 << 20)), dtype=np.float64)
        log_miss += float(np.log1p(-large / (population - j)).sum())
    return math.exp(log_miss)


def detection_probability(population: int, known: int, sampled: int) -> float:
    """Probability that at least one of ``known`` windows is among ``sampled`` drawn from ``population``."""
    return 1.0 - miss_probability(population, known, sampled)


def smallest_count(population: int, other: int, confidence: float) -> int | None:
    """The smallest c with detection_probability(population, c, other) >= confidence; None if none exists.

    The probability is symmetric in known and sampled, so this is both the least number of known windows a sample of
    ``other`` finds with ``confidence``, and the least sample that finds ``other`` known windows with it.
    """
    if other <= 0 or population <= 0 or not 0.0 < confidence <= 1.0:
        return None
    limit = population - other + 1  # from here on the sample cannot miss
    if confidence >= 1.0:
        return limit
    target, log_miss = math.log1p(-confidence), 0.0
    for start in range(0, limit, 1 << 20):
        j = np.arange(start, min(limit, start + (1 << 20)), dtype=np.float64)
        with np.errstate(divide="ignore"):  # the last term is log(0) when other + limit - 1 == population
            cumulative = log_miss + np.cumsum(np.log1p(-other / (population - j)))
        reached = np.flatnonzero(cumulative <= target)
        if len(reached):
            return start + int(reached[0]) + 1
        log_miss = float(cumulative[-1])
    return limit


def known_blocks(mib: float, kept_fraction: float) -> int:
    """How many matchable windows ``mib`` MiB of known files hold: their 4 KiB blocks times the kept fraction."""
    return int(mib * MIB / WINDOW * kept_fraction)


# --- where to sample -----------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    first_window: int  # media offset / 4096
    windows: int
    phases: tuple[int, ...]  # 512-byte phases hashed in each window
    what: str


@dataclass(frozen=True)
class NotSampled:
    offset: int
    length: int
    reason: str


@dataclass(frozen=True)
class SampleSpace:
    media_size: int
    regions: tuple[Region, ...]
    not_sampled: tuple[NotSampled, ...] = ()

    @property
    def size(self) -> int:
        return sum(r.windows for r in self.regions)

    def locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(media window number, region number) of each sample index."""
        starts = np.cumsum([0] + [r.windows for r in self.regions[:-1]])
        region = np.searchsorted(starts, indices, side="right") - 1
        first = np.array([r.first_window for r in self.regions], dtype=np.int64)
        return first[region] + (indices - starts[region]), region


def sample_space(image: ImageSource) -> SampleSpace:
    """The windows of ``image`` worth sampling, with the phases to hash in each: see the module docstring."""
    size = image.media.size
    total = size // WINDOW
    regions: list[Region] = []
    not_sampled: list[NotSampled] = []
    cursor = 0
    stored = image.allocation().allocation

    def add(start: int, end: int, phases: tuple[int, ...], what: str) -> None:
        for part_start, part_length in stored.clip(start, end - start) if stored else [(start, end - start)]:
            first, last = -(-part_start // WINDOW), min(-(-(part_start + part_length) // WINDOW), total)
            if last > first:
                regions.append(Region(first, last - first, phases, what))

    for volume in sorted(image.facts.volumes, key=lambda v: v.offset):
        start, end = max(volume.offset, cursor), min(volume.offset + volume.length, size)
        if end <= start:
            continue
        add(cursor, start, ALL_PHASES, "outside any volume")
        label = f"volume at {volume.offset:,}" + (f" ({volume.file_system})" if volume.file_system else "")
        if volume.encryption and not volume.unlocked:
            not_sampled.append(NotSampled(start, end - start, f"{label}: encrypted ({volume.encryption})"))
        else:
            grid = cluster_grid(image.media.read, volume.offset, volume.file_system)
            add(start, end, grid.phases() if grid else ALL_PHASES, label)
        cursor = end
    add(cursor, size, ALL_PHASES, "outside any volume")
    gaps = stored.holes(size) if stored else []
    if gaps:
        not_sampled.append(NotSampled(gaps[0][0], sum(n for _, n in gaps), (
            f"not stored by its {image.container.kind} container, so it reads as zeros ({len(gaps):,} parts, the "
            "first at this offset)")))
    return SampleSpace(size, tuple(regions), tuple(not_sampled))


class WindowSampler:
    """Indices 0..N-1 drawn uniformly at random without replacement, in an order that depends only on the seed.

    Candidates are drawn with replacement, 4096 at a time, and repeats rejected, which leaves each accepted index
    uniform over those not drawn yet; memory grows with the sample, not with the disk.  Once half the population is
    drawn, the rest is shuffled instead (rejection would slow down).
    """

    REFILL = 4096

    def __init__(self, population: int, rng: np.random.Generator) -> None:
        self.population = population
        self.drawn = 0
        self._rng = rng
        self._taken = np.zeros(0, dtype=np.int64)  # sorted: handed out or pending
        self._pending = np.zeros(0, dtype=np.int64)  # accepted, in drawing order, not handed out yet
        self._shuffled = False

    def draw(self, count: int) -> np.ndarray:
        count = min(count, self.population - self.drawn)
        while len(self._pending) < count:
            self._refill()
        batch, self._pending = self._pending[:count], self._pending[count:]
        self.drawn += len(batch)
        return batch

    def _refill(self) -> None:
        if not self._shuffled and 2 * len(self._taken) >= self.population:
            rest = np.setdiff1d(np.arange(self.population, dtype=np.int64), self._taken, assume_unique=True)
            self._pending = np.concatenate([self._pending, self._rng.permutation(rest)])
            self._shuffled = True
            return
        candidates = self._rng.integers(0, self.population, size=self.REFILL, dtype=np.int64)
        _, first = np.unique(candidates, return_index=True)
        candidates = candidates[np.sort(first)]  # first occurrences, in drawing order
        positions = np.searchsorted(self._taken, candidates)
        seen = positions < len(self._taken)
        seen[seen] = self._taken[positions[seen]] == candidates[seen]
        fresh = candidates[~seen]
        self._pending = np.concatenate([self._pending, fresh])
        self._taken = np.union1d(self._taken, fresh)


# --- the scan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockMatch:
    offset: int  # media offset of the matching 4 KiB
    hash_set: str
    file_name: str  # the reference file the block belongs to
    category: str
    block_index: int  # its block in that file: byte offset 4096 x index
    md5: str


@dataclass(frozen=True)
class DetectionStatement:
    min_mib: float
    kept_fraction: float  # of known material, the share lying in blocks a window can match
    known_blocks: int  # matchable windows in min_mib of known material
    probability: float  # that min_mib of known material, if present, gives at least one match
    confidence: float
    mib_at_confidence: float | None  # the least known material found with ``confidence``; None if no amount is

    def sentence(self) -> str:
        text = (f"If at least {_mib(self.min_mib)} of known material were present, it would have been detected "
                f"with probability {_percent(self.probability)}")
        if self.mib_at_confidence is not None and abs(self.mib_at_confidence - self.min_mib) > 0.05 * self.min_mib:
            text += f"; {_mib(self.mib_at_confidence)} or more with probability {_percent(self.confidence)}"
        return text + "."


@dataclass(frozen=True)
class PrescanProgress:
    blocks_read: int
    population: int
    elapsed: float
    probability: float
    matches: int


@dataclass(frozen=True)
class PrescanResult:
    source: str
    media_size: int
    population: int  # windows that could be sampled
    blocks_read: int
    zero_blocks: int  # of those, read as zeros over their whole span: never written, or wiped
    unreadable_blocks: int  # of those, not readable (bad sectors): left out of the statement
    elapsed: float
    first_match_seconds: float | None  # at the end of the batch that held it
    first_match_window: int | None  # how many windows had been drawn, in drawing order, when the first match came
    stopped: str  # time budget | confidence reached | whole media sampled | match found | interrupted | nothing to sample
    seed: int
    block_sets: list[str]
    matches: list[BlockMatch]
    statement: DetectionStatement
    regions: list[Region] = field(default_factory=list)
    not_sampled: list[NotSampled] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.blocks_read / self.population if self.population else 0.0

    @property
    def known_material_found(self) -> bool:
        return bool(self.matches)

    @property
    def verdict(self) -> str:
        if self.matches:
            files = len({(m.hash_set, m.file_name) for m in self.matches})
            return (f"known material found: {len(self.matches):,} matching block(s) of {files:,} known file(s)")
        return "no known material found in the sample. " + self.statement.sentence()

    def to_json_dict(self) -> dict:
        data = asdict(self)
        data.update(fraction=self.fraction, verdict=self.verdict, known_material_found=self.known_material_found,
                    statement_text=self.statement.sentence())
        return data


Observer = Callable[[PrescanProgress], None]


def prescan(
    source: Path,
    block_sets: Sequence[BlockSet],
    *,
    minutes: float = DEFAULT_MINUTES,
    confidence: float | None = None,
    min_mib: float = DEFAULT_MIN_MIB,
    seed: int | None = None,
    stop_on_match: bool = False,
    observer: Observer | None = None,
) -> PrescanResult:
    """Sample ``source`` (a disk image or block device) against ``block_sets`` until a stop condition: see the module."""
    if not block_sets:
        raise HashSetError("no block-hash set to match: build one with fieldlab hashset blocks FOLDER --name NAME")
    if minutes <= 0 or min_mib <= 0 or (confidence is not None and not 0.0 < confidence < 1.0):
        raise OptionError("--minutes and --min-mib must be positive and --confidence between 0 and 1 (e.g. 0.95)")
    if Path(source).is_dir():
        raise SourceError(f"{source} is a folder: the pre-scan samples a disk image or a device (/dev/sdX)")
    seed = secrets.randbits(63) if seed is None else seed
    image = ImageSource(Path(source))
    try:
        space = sample_space(image)
        return _Sampling(image, space, block_sets, seed, min_mib, confidence).run(minutes, stop_on_match, observer)
    finally:
        image.close()


class _Sampling:
    def __init__(self, image: ImageSource, space: SampleSpace, block_sets: Sequence[BlockSet], seed: int,
                 min_mib: float, confidence: float | None) -> None:
        self.image, self.space, self.block_sets, self.seed = image, space, tuple(block_sets), seed
        self.population = space.size
        self.min_mib, self.confidence = min_mib, confidence
        self.kept_fraction = min((s.stats.kept_fraction for s in self.block_sets if s.stats.total_bytes), default=0.0)
        self.known = known_blocks(min_mib, self.kept_fraction)
        self.target = smallest_count(self.population, self.known, confidence) if confidence else None
        threads = READER_THREADS if image.media.info.kind in THREADED_CONTAINERS else 1
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="prescan-read")
        self.threads = threads
        self.matches: list[BlockMatch] = []
        self.zero_windows = self.unreadable = 0
        self.first_match_window: int | None = None

    def run(self, minutes: float, stop_on_match: bool, observer: Observer | None) -> PrescanResult:
        sampler = WindowSampler(self.population, np.random.default_rng(self.seed))
        started = time.monotonic()
        deadline = started + minutes * 60
        first_match: float | None = None
        batch, stopped = FIRST_BATCH, ""
        try:
            while True:
                if self.population == 0:
                    stopped = "nothing to sample"
                elif sampler.drawn >= self.population:
                    stopped = "whole media sampled"
                elif self.target is not None and sampler.drawn - self.unreadable >= self.target:
                    stopped = "confidence reached"
                elif stop_on_match and self.matches:
                    stopped = "match found"
                elif time.monotonic() >= deadline:
                    stopped = "time budget"
                if stopped:
                    break
                wanted = batch if self.target is None else min(batch, self.target - sampler.drawn + self.unreadable)
                batch_started = time.monotonic()
                self._read(sampler.draw(wanted), sampler.drawn)
                if self.matches and first_match is None:
                    first_match = time.monotonic() - started
                if time.monotonic() - batch_started < BATCH_SECONDS:
                    batch = min(2 * batch, LARGEST_BATCH)
                if observer:
                    observer(PrescanProgress(sampler.drawn, self.population, time.monotonic() - started,
                                             self._probability(sampler.drawn - self.unreadable),
                                             len(self.matches)))
        except KeyboardInterrupt:
            stopped = "interrupted"
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return PrescanResult(
            source=str(self.image.path), media_size=self.space.media_size, population=self.population,
            blocks_read=sampler.drawn, zero_blocks=self.zero_windows, unreadable_blocks=self.unreadable,
            elapsed=time.monotonic() - started,
            first_match_seconds=first_match, first_match_window=self.first_match_window,
            stopped=stopped, seed=self.seed, block_sets=[s.info.name for s in self.block_sets],
            matches=sorted(self.matches, key=lambda m: (m.offset, m.hash_set)),
            statement=self._statement(sampler.drawn - self.unreadable),
            regions=list(self.space.regions), not_sampled=list(self.space.not_sampled),
        )

    def _probability(self, sampled: int) -> float:
        return detection_probability(self.population, self.known, sampled)

    def _statement(self, sampled: int) -> DetectionStatement:
        confidence = self.confidence or DEFAULT_CONFIDENCE
        needed = smallest_count(self.population, sampled, confidence)
        at_confidence = needed * WINDOW / MIB / self.kept_fraction if needed and self.kept_fraction else None
        return DetectionStatement(self.min_mib, self.kept_fraction, self.known, self._probability(sampled),
                                  confidence, at_confidence)

    def _read(self, indices: np.ndarray, drawn: int) -> None:
        """Read and match one batch; ``drawn`` counts the windows drawn so far, this batch included."""
        windows, regions = self.space.locate(indices)
        order = np.argsort(windows, kind="stable")  # in offset order: the disk's heads (or the SSD's pages) thank us
        work = [(int(windows[i]) * WINDOW, self.space.regions[int(regions[i])].phases, int(i)) for i in order]
        chunks = [work[i::self.threads] for i in range(self.threads)] if self.threads > 1 else [work]
        hashed: list[tuple[int, bytes, int]] = []
        for part, zeros, unreadable in self.pool.map(_hash_windows, [self.image.media.read] * len(chunks), chunks):
            hashed += part
            self.zero_windows += zeros
            self.unreadable += unreadable
        if not hashed:
            return
        digests = np.array([digest for _, digest, _ in hashed], dtype="S16")
        for block_set in self.block_sets:
            rows = block_set.lookup(digests)
            for at in np.flatnonzero(rows >= 0):
                row, (offset, _, rank) = int(rows[at]), hashed[at]
                file_id = int(block_set.block_files[row])
                self.matches.append(BlockMatch(
                    offset, block_set.info.name, block_set.names[file_id], block_set.category(row),
                    int(block_set.block_indices[row]), digest_hex(block_set.digests[row]),
                ))
                first = drawn - len(indices) + rank + 1
                self.first_match_window = min(self.first_match_window or first, first)


_ZEROS = {WINDOW + PHASE * p: bytes(WINDOW + PHASE * p) for p in ALL_PHASES}


def _hash_windows(read: Callable[[int, int], bytes],
                  work: list[tuple[int, tuple[int, ...], int]]) -> tuple[list[tuple[int, bytes, int]], int, int]:
    """(media offset, MD5, rank) of the 4 KiB at each phase of each window; how many windows read as zeros over
    their whole span (not hashed: a constant block is never kept); how many could not be read (a failing disk's bad
    sectors must not end a doorstep pre-scan)."""
    hashed, zeros, unreadable = [], 0, 0
    for offset, phases, rank in work:
        try:
            span = read(offset, WINDOW + PHASE * phases[-1])
        except OSError:
            unreadable += 1
            continue
        if span == _ZEROS.get(len(span)):
            zeros += 1
            continue
        view = memoryview(span)
        for phase in phases:
            piece = view[phase * PHASE: phase * PHASE + WINDOW]
            if len(piece) == WINDOW:
                hashed.append((offset + phase * PHASE, hashlib.md5(piece).digest(), rank))
    return hashed, zeros, unreadable


def _percent(p: float) -> str:
    if p >= 0.9999 and p < 1.0:
        return "> 99.99%"
    return f"{100 * p:.4g}%" if p < 0.9999 else "100%"


def _mib(amount: float) -> str:
    return f"{amount:,.0f} MiB" if amount >= 100 else f"{amount:.3g} MiB"
