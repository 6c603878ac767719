"""The classifier stage's own worker processes: after the hashes, at a lower priority, and stoppable at any time.

The decoding workers hand back each picture (a few sampled frames of each
video) as the model's letterbox beside its hashes; the scan records the hashes
and near matches at once, then queues the letterboxes here.  These workers run
at a lower scheduling priority (``os.nice``), so while pictures are being
decoded they take only the CPU the decoding leaves.  Once the decoding is done
nothing of the scan's is left to yield to, and on a machine busy with other work
a niced pool finished its queue several times later (bench/classify.py): the
pool is then replaced by one at normal priority (a process cannot raise its own
priority back without privileges).  The model runs on batches of ``BATCH``.

Nothing is lost by stopping: what is classified is recorded as it comes back,
and whatever was decoded but not classified (the scan stopped, the queue was
full, an earlier run had the stage off) is found again in the case
(``CaseStore.unclassified_media``) at the end of the scan and decoded once more
for the classifier alone.

A worker that dies (onnxruntime crashing on one picture) fails its batch: each
picture of the batch is then classified alone, and the one that kills a worker
alone is recorded as that picture's problem.  A batch that overruns its time
limit (the model hanging inside onnxruntime, where no Python-level timeout
reaches) is treated the same way: the pool's processes are killed, the batches
in flight are run again one picture at a time, and the one that overruns alone
is recorded.  Both causes may lie outside the picture (memory pressure, a machine
too loaded), so a later run tries such a picture once more (``TRANSIENT``,
``ToClassify.retry``); a picture that cannot be decoded, or that the model
raises an error on, is not tried again.

On a Dask cluster (``cluster``) the batches go to the cluster's workers like the
reading and decoding units, at a lower Dask priority while decoding units wait
(niceness means nothing on another machine); a batch past its time limit is
cancelled and its worker restarted, others are not disturbed.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

from fieldlab.detect.classify import (
    Classification,
    Classifier,
    ClassifierError,
    ModelPixels,
    ModelSpec,
    locally,
    strongest,
)
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.sources import SourceSpec
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import ClassifiedPicture, MediaResult
from fieldlab.triage.cluster import ClusterPool, UnitLost
from fieldlab.triage.perceive import MediaTask, perceive_batch
from fieldlab.triage.reader import worker_context, worker_pool

NICENESS = 10  # CFS weight 110 against the decoders' 1024: about a tenth of a contended core
BATCH = 8  # pictures per run of the model (bench/classify.py measures the gain over one at a time)
MAX_QUEUED_BYTES = 64 << 20  # ~210 letterboxes of 320 x 320; beyond, pictures wait for the pass at the end
SECONDS_PER_PICTURE = 60.0  # a batch's time limit, per picture: an honest one takes well under 1 s even niced and loaded
YIELDING_PRIORITY = -1  # a cluster's classify batches, while decoding units may wait: Dask runs higher priorities first
CRASHED = "not classified: the classifier's process died on this picture; the scan went on"
TIMED_OUT = "not classified: the model did not finish this picture within its time limit and was stopped; the scan went on"
TRANSIENT = (CRASHED, TIMED_OUT)  # causes that may lie outside the picture: a later run tries it once more
AGAIN = "; it did the same when tried once more, and is not tried again"


@dataclass(frozen=True)
class ToClassify:
    item_id: int
    path: str  # as the case shows it, for a recorded problem
    pixels: tuple[ModelPixels, ...] = ()  # the letterboxes the decoding made
    again: MediaTask | None = None  # or: decode this item again first (left by an earlier run or a full queue)
    retry: bool = False  # an earlier run recorded a TRANSIENT problem of it: this is its one more try

    @property
    def size(self) -> int:
        return sum(p.letterbox.nbytes for p in self.pixels)


Classified = tuple[int, ClassifiedPicture]
Finished = tuple[list[Classified], dict[int, str]]  # a batch's outcomes, and the display path of each item


class ClassifyPool:
    def __init__(self, spec: SourceSpec, model: ModelSpec, workers: int,
                 run: Callable[[SourceSpec, ModelSpec, list[ToClassify]], list[Classified]] | None = None,
                 seconds_per_picture: float | None = None, cluster: ClusterPool | None = None) -> None:
        self.spec, self.model, self.workers = spec, model, workers
        self._run = run or classify_batch  # what a worker runs on a batch
        self.seconds_per_picture = SECONDS_PER_PICTURE if seconds_per_picture is None else seconds_per_picture
        self._cluster = cluster
        self._pool: cf.ProcessPoolExecutor | None = None
        self._queue: deque[ToClassify] = deque()
        self._queued_bytes = 0
        self._alone: deque[ToClassify] = deque()  # of a batch whose worker died or overran its time
        self._in_flight: dict[cf.Future, tuple[list[ToClassify], bool, float]] = {}  # -> (batch, run alone, deadline)
        self._overran: set[cf.Future] = set()  # stopped for time
        self._broken = False
        self._yielding = True  # to the decoding: new worker processes are niced
        self._pool_niced = False

    def __enter__(self) -> ClassifyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def busy(self) -> bool:
        return bool(self._queue or self._alone or self._in_flight)

    @property
    def futures(self) -> list[cf.Future]:
        return list(self._in_flight)

    def offer(self, results: list[MediaResult], paths: dict[int, str]) -> None:
        """Queue the letterboxes of decoded items, as far as the queue's bound allows; the others are classified at
        the end of the scan, decoded again."""
        for result in results:
            entry = ToClassify(result.item_id, paths.get(result.item_id, ""), result.for_classifier)
            if result.for_classifier and self._queued_bytes + entry.size <= MAX_QUEUED_BYTES:
                self._queue.append(entry)
                self._queued_bytes += entry.size

    def decode_again(self, tasks: list[MediaTask], paths: dict[int, str], retry: frozenset[int] = frozenset()) -> None:
        """Queue items to be decoded again and classified; those in ``retry`` are an earlier run's transient
        failures, on their one more try."""
        self._queue.extend(ToClassify(t.item_id, paths.get(t.item_id, ""), again=t, retry=t.item_id in retry)
                           for t in tasks)

    def decoding_done(self) -> None:
        """From now on the workers run at normal priority: the niced ones are replaced once their batches are back."""
        self._yielding = False

    def dispatch(self) -> None:
        if self._broken:
            return
        if self._pool_niced and not self._yielding and not self._in_flight:
            self.shutdown()
        if self._alone:
            if not self._in_flight:  # alone, so a crash or an overrun names its picture
                self._submit([self._alone.popleft()], alone=True)
            return
        while self._queue and len(self._in_flight) < (self._cluster.width if self._cluster else self.workers):
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            self._queued_bytes -= sum(entry.size for entry in batch)
            self._submit(batch)

    def _submit(self, batch: list[ToClassify], alone: bool = False) -> None:
        deadline = time.monotonic() + self.seconds_per_picture * len(batch)
        if self._cluster is not None:
            priority = YIELDING_PRIORITY if self._yielding else 0
            future = self._cluster.submit(self._run, self.spec, self.model, batch, priority=priority)
        else:
            if self._pool is None:
                self._pool = worker_pool(self.workers, NICENESS if self._yielding else 0)
                self._pool_niced = self._yielding
            future = self._pool.submit(self._run, self.spec, self.model, batch)
        self._in_flight[future] = (batch, alone, deadline)

    def collect(self) -> list[Finished]:
        finished: list[Finished] = []
        if stopped := self._stop_overrun():
            cf.wait(stopped, timeout=10)  # a killed pool fails its futures from its own thread
        for future in [future for future in self._in_flight if future.done()]:
            batch, alone, _ = self._in_flight.pop(future)
            paths = {entry.item_id: entry.path for entry in batch}
            overran = future in self._overran
            self._overran.discard(future)
            try:
                finished.append((future.result(), paths))
            except (BrokenProcessPool, UnitLost):  # locally, every batch in flight fails with it
                self._broken = self._cluster is None
                if alone or (overran and len(batch) == 1):  # only then is the picture known
                    finished.append(([(batch[0].item_id, self._lost(batch[0], overran))], paths))
                else:
                    self._alone.extend(batch)
        if self._broken and not self._in_flight:
            self.shutdown()
            self._broken = False
        return finished

    def _stop_overrun(self) -> list[cf.Future]:
        """Stop the batches past their time limit; returns the futures that will now fail.  Locally that is every
        batch in flight: the pool's processes are killed."""
        now = time.monotonic()
        late = [future for future, (*_, deadline) in self._in_flight.items() if deadline < now and not future.done()]
        if not late:
            return []
        self._overran.update(late)
        if self._cluster is not None:
            self._cluster.stop(late)
            return late
        self._kill_workers()
        return list(self._in_flight)

    def _lost(self, entry: ToClassify, overran: bool) -> ClassifiedPicture:
        """The problem of a picture whose worker died, or overran its time, with it alone."""
        kind, message = (ProblemKind.LIMIT, TIMED_OUT) if overran else (ProblemKind.INTERNAL, CRASHED)
        return ClassifiedPicture(self.model.sha256, problem=Problem(kind, message + AGAIN if entry.retry else message))

    def _kill_workers(self) -> None:
        if self._pool is not None:
            # ProcessPoolExecutor has no way to stop a running task before Python 3.14's terminate_workers()
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def stop(self) -> None:
        """The scan is stopping: batches in flight are dropped, not awaited (a low-priority batch on a busy machine
        can take seconds); their pictures are classified by the next run.  A cluster's are cancelled with the
        scan's other units (``ClusterPool.close``)."""
        self._kill_workers()
        self.shutdown()


def classify_batch(spec: SourceSpec, model: ModelSpec, batch: list[ToClassify],
                   context: EvidenceContext | None = None) -> list[Classified]:
    """Worker side: classify each entry; a model that cannot load, or fails on one picture, is a problem of that
    picture (or of each, when it cannot load), never of the scan.  The model is loaded (or fails) once per
    ``context``: this worker process's own when not given."""
    context = context or worker_context()
    loaded = context.loaded(model.sha256, lambda: _load(model))
    if isinstance(loaded, ClassifierError):
        problem = Problem(ProblemKind.UNSUPPORTED, f"not classified: {loaded}")
        return [(entry.item_id, ClassifiedPicture(model.sha256, problem=problem)) for entry in batch]
    found: list[Classified] = []
    ready: list[ToClassify] = []
    for entry in _decoded_again(spec, model, batch, context):
        if isinstance(entry, ToClassify):
            ready.append(entry)
        else:
            found.append(entry)
    return found + _run(loaded, ready)


def _load(model: ModelSpec) -> Classifier | ClassifierError:
    try:
        return Classifier(locally(model))
    except ClassifierError as exc:
        return exc


def _decoded_again(spec: SourceSpec, model: ModelSpec, batch: list[ToClassify],
                   context: EvidenceContext) -> list[ToClassify | Classified]:
    """Entries with their letterboxes: those the decoding made, or made now by decoding again."""
    again = [entry.again for entry in batch if entry.again is not None]
    decoded = {r.item_id: r for r in perceive_batch(spec, again, model, context)} if again else {}
    ready: list[ToClassify | Classified] = []
    for entry in batch:
        result = decoded.get(entry.item_id)
        pixels = result.for_classifier if result is not None else entry.pixels
        if pixels:
            ready.append(ToClassify(entry.item_id, entry.path, pixels))
        else:
            why = result.error.message if result is not None and result.error else "no pixels for the model"
            problem = Problem(ProblemKind.DAMAGED, f"not classified: decoded again, it failed: {why}")
            ready.append((entry.item_id, ClassifiedPicture(model.sha256, problem=problem)))
    return ready


def _run(classifier: Classifier, entries: list[ToClassify]) -> list[Classified]:
    """One run of the model for the whole batch; if the model fails on it, each entry alone, so only the picture
    the model fails on is not classified."""
    try:
        return _classified(classifier, entries, classifier.classify_many([p for e in entries for p in e.pixels]))
    except Exception as exc:  # noqa: BLE001 - onnxruntime's failures are untyped; find the picture
        if len(entries) > 1:
            return [found for entry in entries for found in _run(classifier, [entry])]
        message = f"not classified: the model failed on this picture: {type(exc).__name__}: {exc}"[:500]
        problem = Problem(ProblemKind.INTERNAL, message)
        return [(entries[0].item_id, ClassifiedPicture(classifier.spec.sha256, problem=problem))]


def _classified(classifier: Classifier, entries: list[ToClassify], found: list[Classification]) -> list[Classified]:
    """Each entry's classifications back from the flat batch; a video's is that of its strongest frame."""
    out, at = [], 0
    for entry in entries:
        frames = found[at:at + len(entry.pixels)]
        at += len(entry.pixels)
        out.append((entry.item_id, ClassifiedPicture(classifier.spec.sha256, strongest(frames))))
    return out
