"""The scan orchestrator: walk a source, read every file once on every core, match, and record.

One thread does all database writes, interleaved with waiting for workers, so
SQLite sees a single writer and nothing needs locks.  The walk runs in a process
of its own (``triage/walker.py``) and ahead of the reading; what it finds is
recorded as *pending* items;
workers are fed pending items in the order the walk found them, which puts
users' picture folders first.  Memory stays bounded whatever the source size:
the walk keeps only a queue of folders, and at most a few batches are in flight.

Pictures and videos are decoded for perceptual hashes (PDQ, vPDQ) in a second
pool, started once every listed file is read (the exact verdict): exact
hashing, which gives the first and surest hits, never shares the CPU with
decoding (niced decoders beside the readers were measured: no earlier verdict
on 2 cores, and more machinery, docs/benchmarks.md).  From then on decoding
and carving run side by side.  The optional classifier
runs after that again, in its own lower-priority pool (``triage/classify_pool.py``):
near matches are recorded before any picture is classified.

The work units can run on a Dask cluster instead of this machine's processes
(``triage/cluster.py``); nothing else changes, the database writer included.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection, Iterable, Iterator, Protocol, Sequence

from fieldlab.case.outputs import refuse_near_evidence
from fieldlab.case.queries import exhibit_counts
from fieldlab.case.read_rows import deciding_category, error_count
from fieldlab.case.same_source import refuse_second_copy, source_identity
from fieldlab.case.store import CaseStore, Exhibit, HitRecord, ItemRow
from fieldlab.detect.classify import ModelSpec
from fieldlab.evidence.extents import Extents, ExtentsTable
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import ItemFlag, ItemKind, WalkError, parsed_flags
from fieldlab.evidence.sources import EvidenceSource, SourceSpec, describe_source, open_source
from fieldlab.evidence.verify import BackgroundVerification
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.hashsets.matcher import HashMatcher, Match
from fieldlab.problems import Problem
from fieldlab.results import ItemResult, MediaResult, PendingItem, ReadDigests, TupleBatch
from fieldlab.triage.classify_pool import TRANSIENT, ClassifyPool
from fieldlab.triage.cluster import ClusterPool, WorkPool, open_work_pool
from fieldlab.triage.first_walk import FirstWalk, FirstWalkBatch
from fieldlab.triage.kill_point import KillPoint
from fieldlab.triage.media_pool import MediaPool
from fieldlab.triage.near import NearMatching
from fieldlab.triage.options import ScanOptions
from fieldlab.triage.perceive import MediaTask
from fieldlab.triage.phone import analyse_phone_artefacts
from fieldlab.triage.reader import ReadOptions, ReadTask, read_batch
from fieldlab.triage.unallocated import CarvedRegion, RegionTask, carve_region
from fieldlab.triage.walker import Walker, WalkInPlace, runs_of

WALK_CHUNK = 2000  # entries recorded per walk step between checks on the workers
WALK_WAIT = 0.01  # seconds a walk step waits for the walker while workers' results may be waiting
BATCH_FILES = 1000  # small files: fewer round trips and commits; large ones are cut by bytes
BATCH_BYTES = 64 << 20
ORDER_WINDOW_FILES = 4 * BATCH_FILES  # pending items put in media order together: a few batches, so first hits
ORDER_WINDOW_BYTES = 4 * BATCH_BYTES  # still come from the walk's first folders
# A first walk's batch is inserted by one statement, matched and committed once: what a batch costs the main process
# beyond its files is spread over twice as many (1,000,000 small files, quiet machine: 25.8-26.6 -> 23.9-24.3 s)
FIRST_WALK_BATCH_FILES = 2 * BATCH_FILES
FIRST_WALK_AHEAD = 4 * FIRST_WALK_BATCH_FILES  # entries a first walk in place lists ahead of the readers (first_walk.py)
FIRST_WALK_HELD = 16  # read batches of a first walk kept for an earlier one still being read, at most
REMATCH_CHUNK = 20_000
MEDIA_BATCH = 8  # pictures or videos per decoding task: small, so a decoder crash costs little to retry
CLASSIFY_AGAIN = 32  # items decoded again for the classifier per look at the case, at the end of a scan


@dataclass
class ScanProgress:
    exhibit: str
    files_listed: int = 0
    bytes_listed: int = 0
    walk_complete: bool = False
    files_read: int = 0
    bytes_read: int = 0
    media: int = 0
    problems: Counter[str] = field(default_factory=Counter)  # by ProblemKind: what went wrong, and what is normal
    hits_by_category: Counter[str] = field(default_factory=Counter)
    media_decoded: int = 0  # pictures and videos perceptually hashed (or found undecodable)
    near_by_category: Counter[str] = field(default_factory=Counter)  # items with a PDQ/vPDQ match and no exact hit
    known_good: int = 0
    started: float = field(default_factory=time.monotonic)
    bytes_read_this_run: int = 0
    hash_state: str | None = None  # of the evidence media: checking | verified | mismatch | no stored hash | unreadable
    verify_done: int = 0
    verify_total: int = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def hit_items(self) -> int:
        return sum(self.hits_by_category.values())

    @property
    def errors(self) -> int:
        return error_count(self.problems)

    def note(self, problems: Iterable[Problem | None]) -> None:
        self.problems.update(p.kind.value for p in problems if p is not None)


class ScanObserver(Protocol):
    def update(self, progress: ScanProgress) -> None: ...


@dataclass(frozen=True)
class ScanResult:
    exhibit: Exhibit
    progress: ScanProgress
    interrupted: bool
    resumed: bool
    incomplete: str | None = None  # why the evidence could not be read in full (a differencing image's missing parent)


def scan_source(
    source: Path,
    case_dir: Path,
    *,
    options: ScanOptions = ScanOptions(),
    exhibit_ref: str | None = None,
    library: HashSetLibrary | None = None,
    observer: ScanObserver | None = None,
) -> ScanResult:
    """Scan a folder, device or disk image into the case as ``options`` say; re-running the same call resumes an
    interrupted scan.

    The exhibit is ``exhibit_ref`` (default: the source's name); hash sets come from ``library`` (default: the
    examiner's).  A source the case already holds under another exhibit reference is refused
    (``case/same_source.py``) unless ``options.second_copy``.
    """
    spec = describe_source(Path(source), options.access.unlock, options.access.parents)
    library = library or HashSetLibrary()
    matcher = HashMatcher(library.load(list(options.hash_sets) or None))
    if matcher.holds("sha256") and not options.sha256:  # a SHA-256-only set would otherwise match nothing, silently
        options = replace(options, sha256=True)
    with contextlib.ExitStack() as opened:
        evidence = open_source(spec)  # fails here, in the examiner's words, on a missing or unreadable source
        opened.callback(evidence.close)
        image = evidence if isinstance(evidence, ImageSource) else None
        if image is not None:  # LUKS master keys the survey derived: the scan's other processes run no PBKDF2
            spec = replace(spec, unlock=image.unlock_for_other_processes())
        incomplete = image.container.missing_parent if image else None
        chain_parents = tuple(link.path for link in image.container.chain[1:]) if image else ()
        if chain_parents and not incomplete:  # workers open exactly the chain found here, not a new search's
            spec = replace(spec, parents=chain_parents)
        refuse_near_evidence(Path(case_dir), spec.path, spec.kind, what="the case folder", parents=chain_parents)
        place = options.workers
        work = opened.enter_context(open_work_pool(
            spec.path, workers=place.processes, cluster=place.cluster, local_cluster=place.local_cluster))
        store = CaseStore.open(case_dir)
        opened.callback(store.close)
        ref = exhibit_ref or _default_ref(Path(spec.path))
        copy_of = None
        if ref not in {e.ref for e in store.exhibits()}:
            identity = source_identity(spec.path, spec.kind, image.facts.to_json_dict() if image else None)
            copy_of = refuse_second_copy(store, identity, second_copy=options.second_copy)
        exhibit, created = store.ensure_exhibit(ref, spec.path, spec.kind)
        store.audit.append(
            "scan_started" if created else "scan_resumed",
            options.audit_record(
                exhibit=exhibit.ref, source=spec.path, kind=spec.kind, hash_sets=matcher.versions,
                cluster=work.address if isinstance(work, ClusterPool) else None, parents=chain_parents,
                second_copy_of=copy_of,
            ),
        )
        store.update_exhibit(
            exhibit.id, scan_started_at=time.time(), scan_finished_at=None, hash_sets=",".join(matcher.versions)
        )
        if isinstance(evidence, ImageSource):
            _record_image_facts(store, exhibit, evidence)
        near = NearMatching(matcher, options.pdq_radius) if options.perceptual else None
        if options.classifier:
            store.record_classifier(options.classifier)
        reading = ReadOptions(sha256=options.sha256, embedded=options.embedded, max_depth=options.max_depth)
        run = _ScanRun(store, exhibit, spec, evidence, matcher, reading, observer, near)
        if options.verify and isinstance(evidence, ImageSource) and not incomplete:  # overlaps the scan, at low priority
            run.verification = opened.enter_context(BackgroundVerification(Path(spec.path), [Path(p) for p in chain_parents]))
        run.classify = options.classifier
        run.carve = options.carve and isinstance(evidence, ImageSource)
        run.load_previous_state()
        interrupted = False
        try:
            with _deferred_interrupts() as stop:
                run.stop = stop
                run.execute(work)
                run.analyse_phones()
                run.record_verification()
        except KeyboardInterrupt:
            interrupted = True
        if incomplete:  # not finished: the same command with the parent in place walks it in full
            store.update_exhibit(exhibit.id, walk_complete=False)
        elif not interrupted:
            store.update_exhibit(exhibit.id, scan_finished_at=time.time())
        store.audit.append(
            "scan_interrupted" if interrupted else "scan_incomplete" if incomplete else "scan_finished",
            {"exhibit": exhibit.ref, "files_read": run.progress.files_read, "hit_items": run.progress.hit_items,
             "errors": run.progress.errors, "problems": dict(sorted(run.progress.problems.items())),
             "evidence_hash": run.progress.hash_state, **({"incomplete": incomplete} if incomplete else {})},
        )
        return ScanResult(exhibit, run.progress, interrupted, resumed=not created, incomplete=incomplete)


class _StopRequest:
    requested = False

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


@contextlib.contextmanager
def _deferred_interrupts() -> Iterator[_StopRequest]:
    """Ctrl-C is noted and acted on between database writes, never inside one.

    An interrupt raised in the middle of a write left a connection holding
    SQLite's write lock, and the closing audit entry then failed with
    "database is locked" (seen once the perceptual stage added writes).
    """
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def note(_signum: int, _frame: object) -> None:
        stop.requested = True

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _record_image_facts(store: CaseStore, exhibit: Exhibit, image: ImageSource) -> None:
    regions = image.carving_regions()
    decrypted = image.decrypted_carving_regions(regions)
    store.update_exhibit(exhibit.id, facts=json.dumps(image.facts.to_json_dict(), default=str))
    store.add_regions(exhibit.id, regions)
    for inside in decrypted:
        store.add_regions(exhibit.id, inside.regions, volume=inside.volume.to_text())


def _default_ref(source: Path) -> str:
    return source.name or str(source)


class _ScanRun:
    def __init__(
        self, store: CaseStore, exhibit: Exhibit, spec: SourceSpec, evidence: EvidenceSource, matcher: HashMatcher,
        read_options: ReadOptions, observer: ScanObserver | None, near: NearMatching | None,
    ) -> None:
        self.store, self.exhibit, self.spec, self.evidence, self.matcher = store, exhibit, spec, evidence, matcher
        self.read_options, self.observer, self.near = read_options, observer, near
        self.progress = ScanProgress(exhibit.ref)
        self._extents = evidence.extents if isinstance(evidence, ImageSource) else ExtentsTable(limit=0)
        self._last_dispatched = 0
        self._ordered: list[list[tuple[PendingItem, Extents | None]]] = []  # batches of the window in hand
        self._last_media = 0
        self._reads_waiting = True
        self._exact_done = False  # latched once the walk is complete and every listed item read: the exact verdict
        self._regions: list[RegionTask] | None = None
        self.carve = False  # free space of disk images: set by scan_source
        self.classify: ModelSpec | None = None  # the classifier model: set by scan_source
        self._classifier: ClassifyPool | None = None
        self._last_unclassified = 0
        self._started_at = time.time()  # classify problems recorded before it are an earlier run's
        self.verification: BackgroundVerification | None = None  # of an image's hash: set by scan_source
        self.stop = _StopRequest()
        self._last_report = 0.0
        # Listed = what the walk lists + what was found inside items (members, thumbnails, carved runs).  A resumed
        # run walks again over items an earlier run recorded: the walk's part is the larger of the two runs'.
        self._walked = _Listed()
        self._walked_before = _Listed()
        self._found = _Listed()
        self._first_walk: FirstWalk | None = None  # a folder walked for the first time: its entries until recorded
        self.kill_point = KillPoint.from_environment()

    def load_previous_state(self) -> None:
        """Counts from an earlier, interrupted run, and its items matched again against today's sets."""
        self._rematch_done_items()
        (counts,) = exhibit_counts(self.store, self.exhibit.id)
        p = self.progress
        p.files_read, p.bytes_read = counts.files_read, counts.bytes_read
        self._found = _Listed(*self.store.found_inside(self.exhibit.id))
        self._walked_before = _Listed(counts.files - self._found.files, counts.bytes - self._found.bytes)
        self._update_listed()
        p.media, p.problems, p.hits_by_category = counts.media, Counter(counts.problems), Counter(counts.hits_by_category)
        p.known_good, p.media_decoded, p.near_by_category = counts.known_good, counts.media_decoded, Counter(counts.near_by_category)

    def execute(self, pool: WorkPool) -> None:
        walker: Walker | WalkInPlace | None = None
        if not self.exhibit.walk_complete:
            walker = Walker(self.spec) if isinstance(self.evidence, ImageSource) else WalkInPlace(self.evidence)
            if isinstance(walker, WalkInPlace) and not self.progress.files_listed:  # nothing of it recorded yet
                self._first_walk = FirstWalk(FIRST_WALK_AHEAD, FIRST_WALK_HELD)
        self.progress.walk_complete = walker is None
        in_flight: dict[cf.Future, list[PendingItem] | FirstWalkBatch | RegionTask] = {}
        cluster = pool if isinstance(pool, ClusterPool) else None
        classifier = ClassifyPool(self.spec, self.classify, pool.width, cluster=cluster) if self.classify else None
        with (walker if isinstance(walker, Walker) else contextlib.nullcontext()), \
                MediaPool(self.spec, pool.width, cluster=cluster, model=self.classify) as media, \
                (classifier or contextlib.nullcontext()):
            self._classifier = classifier
            try:
                while True:
                    self.stop.check()
                    limit = 2 * pool.width  # a cluster's workers may come and go
                    self._collect(in_flight, block=False)
                    self._record_media(media.collect(block=False))
                    self._record_classified()
                    self._dispatch(pool, in_flight, limit=limit)
                    self._note_walk_complete(walking=walker is not None)
                    self._note_exact_verdict(in_flight)
                    self._dispatch_carving(pool, in_flight, limit)
                    self._dispatch_media(media, limit)
                    if walker is not None and (self._first_walk is None or self._first_walk.room):
                        if not self._walk_step(walker, waiting=bool(in_flight) or media.busy):
                            walker = None
                        continue
                    if walker is None and not in_flight and not media.busy:
                        self._dispatch(pool, in_flight, limit=limit)
                        self._note_exact_verdict(in_flight)
                        self._dispatch_carving(pool, in_flight, limit)
                        self._last_media = 0  # a last sweep: items read after the cursor passed them
                        self._dispatch_media(media, limit)
                        if not in_flight and not media.busy and self._classified_all():
                            break
                    self._wait(in_flight, media)
            except BaseException:
                pool.close(cancel=True)
                media.shutdown()
                if classifier is not None:
                    classifier.stop()
                raise
        self._report(force=True)

    def _wait(self, in_flight: dict, media: MediaPool) -> None:
        # woken twice a second even if nothing finishes, so a Ctrl-C is acted on promptly
        classifying = self._classifier.futures if self._classifier else []
        cf.wait([*in_flight, *media.futures, *classifying], timeout=0.5, return_when=cf.FIRST_COMPLETED)
        self._collect(in_flight, block=False)
        self._record_media(media.collect(block=False))
        self._record_classified()

    def _walk_step(self, walker: Walker | WalkInPlace, waiting: bool) -> bool:
        """What the walker has found, recorded; False once the walk is over.  With work ``waiting`` to be
        collected, the walker is given only a moment."""
        rows: list[ItemRow] = []
        for entry in walker.take(WALK_CHUNK, timeout=WALK_WAIT if waiting else 0.5):
            self.kill_point.reached("walk")
            if isinstance(entry, WalkError):
                self.store.add_error(self.exhibit.id, "walk", entry.path, entry.problem)
                self.progress.note([entry.problem])
                continue
            row, runs = entry
            rows.append(row)
            if runs is not None:
                self._extents.offer(row.locator, runs_of(runs))
        self._record_walked(rows)
        return not walker.finished

    def _record_walked(self, rows: list[ItemRow]) -> None:
        if self._first_walk is not None:
            self._first_walk.add(rows)
        else:
            self.store.add_item_rows(self.exhibit.id, rows)
        file = ItemKind.FILE.value  # once: an enum member's value is a Python-level property
        files = [row for row in rows if row.kind == file and row.state == "pending"]  # not cloud-only: nothing to read
        self._walked.add(len(files), sum(row.size for row in files))
        self._update_listed()
        self._report()

    def _note_walk_complete(self, walking: bool) -> None:
        """The walk is complete once it has ended and every entry it listed is in the case: at once for a walk
        recorded as it goes, once the last batch is recorded for a first walk in place.  A scan stopped before that
        walks again."""
        if walking or self.progress.walk_complete or (self._first_walk is not None and not self._first_walk.recorded):
            return
        self.store.update_exhibit(self.exhibit.id, walk_complete=True)
        self.progress.walk_complete = True

    def _update_listed(self) -> None:
        p, walked, before = self.progress, self._walked, self._walked_before
        p.files_listed = max(before.files, walked.files) + self._found.files
        p.bytes_listed = max(before.bytes, walked.bytes) + self._found.bytes

    def _dispatch(self, pool: WorkPool, in_flight: dict, limit: int) -> None:
        self._reads_waiting = True
        while len(in_flight) < limit:
            walked = (self._first_walk.next_batch(FIRST_WALK_BATCH_FILES, BATCH_BYTES) if self._first_walk is not None
                      else None)
            if walked is not None:  # before pending items: those are found inside items, read in the walk's turn
                in_flight[pool.submit(read_batch, self.spec, walked.tasks, self.read_options)] = walked
                continue
            if not self._ordered:
                self._ordered = self._ordered_batches()
                if not self._ordered:
                    self._reads_waiting = False
                    return
            placed = self._ordered.pop(0)
            batch = [i for i, _ in placed]
            tasks = TupleBatch(ReadTask, [ReadTask(i.id, i.locator, i.path, i.size, i.mtime, i.flags,
                                                   None if runs is None else runs.plain()) for i, runs in placed])
            in_flight[pool.submit(read_batch, self.spec, tasks, self.read_options)] = batch

    def _ordered_batches(self) -> list[list[tuple[PendingItem, Extents | None]]]:
        """The next window of pending items in the walk's order (user folders first), as batches in media order:
        each batch a run of neighbouring files, so two workers rarely inflate the same E01 chunk and one worker's
        reads follow one another."""
        pending = self.store.pending_items(self.exhibit.id, self._last_dispatched, ORDER_WINDOW_FILES)
        window: list[PendingItem] = []
        total = 0
        for item in pending:
            if window and total + item.size > ORDER_WINDOW_BYTES:
                break
            window.append(item)
            total += item.size
        if not window:
            return []
        self._last_dispatched = window[-1].id
        placed = sorted(((i, self._extents.take(i.locator)) for i in window), key=_media_order)
        batches: list[list[tuple[PendingItem, Extents | None]]] = [[]]
        total = 0
        for item, runs in placed:
            if batches[-1] and (len(batches[-1]) >= BATCH_FILES or total + item.size > BATCH_BYTES):
                batches.append([])
                total = 0
            batches[-1].append((item, runs))
            total += item.size
        return batches

    def _note_exact_verdict(self, in_flight: dict) -> None:
        """The walk is complete and every listed item read and recorded: decoding and carving start, and the
        image's verification gets full priority where the system allows.  Members and carved runs found later are
        read beside decoding and carving, never holding them back again."""
        if self._exact_done or not self.progress.walk_complete or self._reads_waiting:
            return
        if any(not isinstance(work, RegionTask) for work in in_flight.values()):
            return
        self._exact_done = True
        if self.verification is not None:  # beside decoding from now on, not alone after it with a core idle
            self.verification.hurry()

    def _dispatch_carving(self, pool: WorkPool, in_flight: dict, limit: int) -> None:
        """Free space, carved once every listed file has been read and recorded: a carved copy of a deleted file
        is then recognised as the file the file system still lists (``_recarved``).  Carved runs are read in the
        same slots as they come back, dispatched first."""
        if not self.carve or not self._exact_done:
            return
        if self._regions is None:  # a region inside a volume locked this time waits for a run given its key
            assert isinstance(self.evidence, ImageSource)  # only disk images are carved
            unlocked = self.evidence.inner_volumes()
            tasks = [RegionTask(*row) for row in self.store.uncarved_regions(self.exhibit.id)]
            self._regions = [task for task in tasks if not task.volume or task.volume in unlocked]
        while self._regions and len(in_flight) < limit:
            task = self._regions.pop(0)
            in_flight[pool.submit(carve_region, self.spec, task)] = task

    def _dispatch_media(self, media: MediaPool, limit: int) -> None:
        """Pictures and videos to decode, in the media pool's own processes, from the exact verdict on."""
        if self.near is None or not self._exact_done:
            return
        while media.accepting and media.in_flight < limit:
            rows = self.store.pending_media(self.exhibit.id, self._last_media, MEDIA_BATCH)
            if not rows:
                return
            self._last_media = rows[-1].id
            pending = [p for p in rows if not media.holds(p.id)]
            if pending:
                media.submit([MediaTask(p.id, p.locator, p.family, p.size) for p in pending],
                             {p.id: p.path for p in pending})

    def _record_media(self, finished: list[tuple[list[MediaResult], dict[int, str]]]) -> None:
        for results, paths in finished:
            assert self.near is not None, "media are decoded only for perceptual matching (_dispatch_media)"
            self.kill_point.reached("decode")
            found_hits = self.near.hits(results)
            self.store.record_media(self.exhibit.id, results, found_hits, paths)
            self.progress.media_decoded += len(results)
            self.progress.note(r.error or r.partial for r in results)
            self._count_near(found_hits)
            if self._classifier is not None:  # after the hashes and near matches are recorded
                self._classifier.offer(results, paths)
            self._report()

    def _record_classified(self) -> None:
        if self._classifier is None:
            return
        for found, paths in self._classifier.collect():
            replaced = self.store.record_classified(self.exhibit.id, found, paths, superseded=TRANSIENT)
            self.progress.problems -= replaced  # drops the kinds left at zero
            self.progress.note(c.problem for _, c in found)
            self._report()
        self._classifier.dispatch()

    def _classified_all(self) -> bool:
        """At the end of the scan: the classifier's queue is done, then what it has not classified (an earlier run
        with the stage off or stopped, a full queue, an earlier run's transient failure) is decoded again for it, a
        few batches at a time."""
        if self._classifier is None:
            return True
        self._classifier.decoding_done()
        if self._classifier.busy:
            return False
        left = self.store.unclassified_media(self.exhibit.id, self._last_unclassified, CLASSIFY_AGAIN,
                                             retried=TRANSIENT, recorded_before=self._started_at)
        if not left:
            return True
        self._last_unclassified = left[-1].id
        self._classifier.decode_again([MediaTask(p.id, p.locator, p.family, p.size) for p in left],
                                      {p.id: p.path for p in left}, retry=frozenset(p.id for p in left if p.retry))
        self._classifier.dispatch()
        return False

    def _count_near(self, found_hits: list[HitRecord]) -> None:
        exact = self.store.items_with_exact_hits([h.item_id for h in found_hits])
        for item_id, labels in _labels_per_item(found_hits).items():
            if item_id not in exact:
                self.progress.near_by_category[deciding_category(labels)] += 1

    def _collect(self, in_flight: dict[cf.Future, list[PendingItem] | FirstWalkBatch | RegionTask],
                 block: bool) -> None:
        if not in_flight:
            return
        done, _ = cf.wait(in_flight, timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
        for future in done:
            batch = in_flight.pop(future)
            if isinstance(batch, RegionTask):
                self.kill_point.reached("carve")
                self._record_carved(future.result())
            elif isinstance(batch, FirstWalkBatch):
                self.kill_point.reached("read")
                assert self._first_walk is not None, "first-walk batches come from it (_dispatch)"
                for walked in self._first_walk.back(batch, future.result()):
                    self._record_first_walk(walked)
            else:
                self.kill_point.reached("read")
                self._record_batch(batch, future.result())

    def _record_carved(self, carved: CarvedRegion) -> None:
        self.store.record_carved(self.exhibit.id, carved.task.region_id, carved.items, carved.problem, carved.task.path)
        self._found.add(len(carved.items), sum(i.size for i in carved.items))
        self._update_listed()
        self.progress.note([carved.problem])
        self._report()

    def _record_batch(self, batch: list[PendingItem], results: list[ItemResult]) -> None:
        copies = self._recarved(batch, results)
        found_hits, known_good = _match_exact(self.matcher, results, {results[i].item_id for i in copies})
        paths = {i.id: i.path for i in batch}
        self.store.record_results(self.exhibit.id, results, found_hits, paths, known_good,
                                  duplicates=[results[i].item_id for i in sorted(copies)])
        self._count_read(batch, results, found_hits, known_good)

    def _record_first_walk(self, batch: FirstWalkBatch) -> None:
        """A first walk's batch, read: no carved copies among a walk in place's files, so no duplicates to look for."""
        assert batch.results is not None, "recorded once read (FirstWalk.back)"
        found_hits, known_good = _match_exact(self.matcher, batch.results, ())
        self.store.record_listed(self.exhibit.id, batch.rows, batch.results, found_hits, set(known_good))
        self._count_read([batch.rows[r.item_id] for r in batch.results], batch.results, found_hits, known_good)

    def _count_read(self, batch: Sequence[PendingItem | ItemRow], results: list[ItemResult],
                    found_hits: list[HitRecord], known_good: list[int]) -> None:
        """Progress of a batch just recorded: ``batch`` holds each result's item as it was listed."""
        p = self.progress
        for item, r in zip(batch, results):
            size = item.size if r.size is None else r.size
            p.files_read += 1
            p.bytes_read += size
            p.bytes_read_this_run += size
            # an archive member's size is known once expanded, and the store now holds that size: listed bytes
            # follow it, so what was read never exceeds what is listed
            if r.children or size != item.size:
                files = [c for c in r.children if c.kind is ItemKind.FILE]
                self._found.add(len(files), size - item.size + sum(c.size for c in files))
            p.media += r.family in ("image", "video")
            if r.error or r.problems:
                p.note((r.error,) if r.error else r.problems)
        p.known_good += len(known_good)
        self._update_listed()
        for labels in _labels_per_item(found_hits).values():
            p.hits_by_category[deciding_category(labels)] += 1
        self._report()

    def _recarved(self, batch: list[PendingItem], results: list[ItemResult]) -> set[int]:
        """Positions of files carved from free space that the file system still lists (a deleted file TSK
        recovered): the same copy found twice.  They keep their items, flagged ``duplicate``, but no hits and no
        decoding: those stay with the listed file, so nothing is counted twice."""
        carved = [i for i, item in enumerate(batch) if item.flags and ItemFlag.UNALLOCATED in parsed_flags(item.flags)]
        if not carved:
            return set()
        listed = self.store.listed_md5s(self.exhibit.id, [results[i].md5 for i in carved])
        return {i for i in carved if results[i].md5 in listed}

    def _rematch_done_items(self) -> None:
        after = 0
        while read := self.store.done_digests(self.exhibit.id, after, REMATCH_CHUNK):
            found_hits, known_good = _match_exact(self.matcher, read, {r.item_id for r in read if r.duplicate})
            self.store.add_hits(found_hits)
            self.store.mark_known_good(known_good)
            after = read[-1].item_id
        if self.near is not None:
            self.near.rematch(self.store, self.exhibit.id)

    def analyse_phones(self) -> None:
        """Devices, phone paths, apps and gallery records, once every item (archive members too) is listed."""
        found = analyse_phone_artefacts(self.store, self.exhibit.id, self.evidence, self.spec.unlock.archive_passwords)
        self.progress.note(problem for _, problem in found.problems)
        if found.devices or found.records:
            self.store.audit.append("phone_analysed", {
                "exhibit": self.exhibit.ref, "devices": len(found.devices), "records": len(found.records),
                "files_placed": len(found.origins), "problems": len(found.problems)})

    def record_verification(self) -> None:
        """The media hash against the acquisition hash, once the background verification ends: everything else
        is recorded by then, so the verdict never waits for it; the scan ends when it is recorded."""
        verification = self.verification
        if verification is None:
            return
        if verification.result is None:
            verification.hurry()
        while (result := verification.result) is None:
            self._follow_verification(verification, timeout=0.5)
            self._report()
        self.progress.hash_state = result.state
        detail = {"stored": result.stored, "computed": result.computed, "message": result.message}
        self.store.update_exhibit(self.exhibit.id, hash_state=result.state, hash_detail=json.dumps(detail))
        self.store.audit.append("evidence_verified", {"exhibit": self.exhibit.ref, "state": result.state, **detail})
        self._report(force=True)

    def _follow_verification(self, verification: BackgroundVerification, timeout: float = 0.0) -> None:
        for _ in range(verification.poll(timeout)):
            self.kill_point.reached("verify")
        self.progress.verify_done, self.progress.verify_total = verification.done, verification.total
        if self.progress.hash_state is None:
            self.progress.hash_state = "checking"

    def _report(self, force: bool = False) -> None:
        self.stop.check()  # every caller has just finished a write: a safe point to stop
        if self.verification is not None and self.verification.result is None:
            self._follow_verification(self.verification)
        now = time.monotonic()
        if self.observer is not None and (force or now - self._last_report >= 0.1):
            self._last_report = now
            self.observer.update(self.progress)


def _media_order(placed: tuple[PendingItem, Extents | None]) -> int:
    """Where a file's content starts on the media; files with none to read there (read through TSK, or resident in
    their record) first, in walk order."""
    return -1 if placed[1] is None else placed[1].first_offset


def _match_exact(matcher: HashMatcher, read: Sequence[ItemResult] | Sequence[ReadDigests],
                 duplicates: Collection[int]) -> tuple[list[HitRecord], list[int]]:
    """Exact hits and known-good item ids of items just read (their results, matched as they are), or read by an
    earlier run: one rule for both, so resuming or re-running a scan gives what one uninterrupted run gives.  A
    duplicate (a carved copy of a listed file: its item id in ``duplicates``) is matched by nothing; a known-good
    set makes no hit, it marks the item."""
    candidates = [r for r in read if r.item_id not in duplicates] if duplicates else read
    matches = matcher.match(candidates)
    found_hits = [_hit_record(candidates[m.query_index].item_id, m) for m in matches if not m.known_good]
    known_good = sorted({candidates[m.query_index].item_id for m in matches if m.known_good})
    return found_hits, known_good


@dataclass
class _Listed:
    files: int = 0
    bytes: int = 0

    def add(self, files: int, size: int) -> None:
        self.files += files
        self.bytes += size


def _hit_record(item_id: int, match: Match) -> HitRecord:
    return HitRecord(
        item_id, match.hash_set, match.hash_set_sha256, match.profile, match.category, match.method, match.trust_rank,
        match.distance, None, match.matched_hash,
    )


def _labels_per_item(found_hits: list[HitRecord]) -> dict[int, list[tuple[int, str, str]]]:
    per_item: dict[int, list[tuple[int, str, str]]] = {}
    for h in found_hits:
        per_item.setdefault(h.item_id, []).append((h.trust_rank, h.profile, h.category))
    return per_item
