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
alone is recorded as that picture's problem.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

from fieldlab.detect.classify import Classification, Classifier, ClassifierError, ModelPixels, ModelSpec, strongest
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.sources import SourceSpec
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import ClassifiedPicture, MediaResult
from fieldlab.triage.perceive import MediaTask, perceive_batch
from fieldlab.triage.reader import prepare_worker, worker_context

NICENESS = 10  # CFS weight 110 against the decoders' 1024: about a tenth of a contended core
BATCH = 8  # pictures per run of the model (bench/classify.py measures the gain over one at a time)
MAX_QUEUED_BYTES = 64 << 20  # ~210 letterboxes of 320 x 320; beyond, pictures wait for the pass at the end
CRASHED = "not classified: the classifier's process died on this picture; the scan went on"


@dataclass(frozen=True)
class ToClassify:
    item_id: int
    path: str  # as the case shows it, for a recorded problem
    pixels: tuple[ModelPixels, ...] = ()  # the letterboxes the decoding made
    again: MediaTask | None = None  # or: decode this item again first (left by an earlier run or a full queue)

    @property
    def size(self) -> int:
        return sum(p.letterbox.nbytes for p in self.pixels)


Classified = tuple[int, ClassifiedPicture]
Finished = tuple[list[Classified], dict[int, str]]  # a batch's outcomes, and the display path of each item


class ClassifyPool:
    def __init__(self, spec: SourceSpec, model: ModelSpec, workers: int,
                 run: Callable[[SourceSpec, ModelSpec, list[ToClassify]], list[Classified]] | None = None) -> None:
        self.spec, self.model, self.workers = spec, model, workers
        self._run = run or classify_batch  # what a worker runs on a batch
        self._pool: cf.ProcessPoolExecutor | None = None
        self._queue: deque[ToClassify] = deque()
        self._queued_bytes = 0
        self._alone: deque[ToClassify] = deque()  # of a batch whose worker died
        self._in_flight: dict[cf.Future, tuple[list[ToClassify], bool]] = {}  # future -> (batch, run alone)
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

    def decode_again(self, tasks: list[MediaTask], paths: dict[int, str]) -> None:
        self._queue.extend(ToClassify(t.item_id, paths.get(t.item_id, ""), again=t) for t in tasks)

    def decoding_done(self) -> None:
        """From now on the workers run at normal priority: the niced ones are replaced once their batches are back."""
        self._yielding = False

    def dispatch(self) -> None:
        if self._broken:
            return
        if self._pool_niced and not self._yielding and not self._in_flight:
            self.shutdown()
        if self._alone:
            if not self._in_flight:  # alone, so a crash names its picture
                self._submit([self._alone.popleft()], alone=True)
            return
        while self._queue and len(self._in_flight) < self.workers:
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            self._queued_bytes -= sum(entry.size for entry in batch)
            self._submit(batch)

    def _submit(self, batch: list[ToClassify], alone: bool = False) -> None:
        if self._pool is None:
            initializer = _lower_priority if self._yielding else prepare_worker
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=initializer)
            self._pool_niced = self._yielding
        self._in_flight[self._pool.submit(self._run, self.spec, self.model, batch)] = (batch, alone)

    def collect(self) -> list[Finished]:
        finished: list[Finished] = []
        for future in [future for future in self._in_flight if future.done()]:
            batch, alone = self._in_flight.pop(future)
            paths = {entry.item_id: entry.path for entry in batch}
            try:
                finished.append((future.result(), paths))
            except BrokenProcessPool:  # every batch in flight fails with it: only one run alone names its picture
                self._broken = True
                if alone:
                    crashed = ClassifiedPicture(self.model.sha256, problem=Problem(ProblemKind.INTERNAL, CRASHED))
                    finished.append(([(batch[0].item_id, crashed)], paths))
                else:
                    self._alone.extend(batch)
        if self._broken and not self._in_flight:
            self.shutdown()
            self._broken = False
        return finished

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def stop(self) -> None:
        """The scan is stopping: batches in flight are dropped, not awaited (a low-priority batch on a busy machine
        can take seconds); their pictures are classified by the next run."""
        if self._pool is not None:
            # ProcessPoolExecutor has no way to stop a running task before Python 3.14's terminate_workers()
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()
        self.shutdown()


def _lower_priority() -> None:
    prepare_worker()
    os.nice(NICENESS)


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
        return Classifier(model)
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
