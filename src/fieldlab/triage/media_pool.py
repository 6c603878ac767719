"""The decoding workers, kept apart from the readers and rebuilt when a native decoder crashes or hangs.

A crash (a segfault in a decoder fed hostile bytes) breaks the whole process
pool and fails every batch in flight, so the culprit is unknown.  A hang (a
native decoder looping on crafted input, where no Python-level time limit can
reach it) is treated the same way once a batch overruns its time: the pool's
processes are killed.  The pool is then rebuilt and the failed batches' items
become *suspects*, each decoded alone with nothing else in flight: the
innocent ones are hashed, and the one that crashes or hangs again is recorded
as an error against that file alone.

On a Dask cluster (``cluster``) the batches go to the cluster's workers.  A
worker that dies is Dask's to handle: the batch runs again elsewhere, and only
when its workers keep dying does it come back lost, to be split into suspects
as here.  A batch past its time is cancelled and its worker restarted; other
batches are not disturbed.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from fieldlab.detect.classify import ModelSpec
from fieldlab.evidence.sources import SourceSpec
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import MediaResult
from fieldlab.triage.cluster import ClusterPool, UnitLost
from fieldlab.triage.perceive import MediaTask, perceive_batch
from fieldlab.triage.reader import worker_pool

CRASHED = "the decoder crashed on this file (its worker process died); the scan went on"
HUNG = "the decoder did not finish this file within {:.0f} s and was stopped; the scan went on"
SECONDS_PER_ITEM = 180.0  # far beyond any honest file: a video is hashed within 60 s of wall time
Finished = tuple[list[MediaResult], dict[int, str]]  # results, and the display path of each item


class MediaPool:
    def __init__(
        self, spec: SourceSpec, workers: int,
        decode: Callable[..., list[MediaResult]] = perceive_batch,
        seconds_per_item: float = SECONDS_PER_ITEM, cluster: ClusterPool | None = None, model: ModelSpec | None = None,
    ) -> None:
        self.spec, self.workers, self.decode, self.seconds_per_item = spec, workers, decode, seconds_per_item
        self._model = (model,) if model is not None else ()  # the classifier, passed on to ``decode`` when chosen
        self._cluster = cluster
        self._pool: cf.ProcessPoolExecutor | None = None
        # future -> (tasks, paths, run alone, deadline)
        self._in_flight: dict[cf.Future, tuple[list[MediaTask], dict[int, str], bool, float]] = {}
        self._suspects: list[tuple[MediaTask, str]] = []
        self._broken = False  # the local pool died: it is rebuilt once nothing is in flight
        self._stopped_for_time: set[cf.Future] = set()

    def __enter__(self) -> MediaPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def accepting(self) -> bool:
        """New batches wait while suspects are decoded one by one."""
        return not self._suspects and not self._broken

    @property
    def busy(self) -> bool:
        return bool(self._in_flight or self._suspects)

    @property
    def futures(self) -> list[cf.Future]:
        return list(self._in_flight)

    def holds(self, item_id: int) -> bool:
        return any(t.item_id == item_id for tasks, *_ in self._in_flight.values() for t in tasks) or any(
            t.item_id == item_id for t, _ in self._suspects
        )

    def submit(self, tasks: list[MediaTask], paths: dict[int, str], alone: bool = False) -> None:
        workers = self.workers if self._cluster is None else self._cluster.width
        deadline = time.monotonic() + self.seconds_per_item * len(tasks) * (1 + len(self._in_flight) // workers)
        if self._cluster is not None:
            future = self._cluster.submit(self.decode, self.spec, tasks, *self._model)
        else:
            if self._pool is None:  # started on first use: a scan without pictures never pays for it
                self._pool = worker_pool(self.workers)
            future = self._pool.submit(self.decode, self.spec, tasks, *self._model)
        self._in_flight[future] = (tasks, paths, alone, deadline)

    def collect(self, block: bool) -> list[Finished]:
        finished: list[Finished] = []
        if self._in_flight:
            done, _ = cf.wait(self._in_flight, timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
            if not done and (stopped := self._stop_overrun()):
                done, _ = cf.wait(stopped, timeout=10)
            for future in done:
                tasks, paths, alone, _ = self._in_flight.pop(future)
                try:
                    finished.append((future.result(), paths))
                except (BrokenProcessPool, UnitLost):
                    self._broken = self._cluster is None
                    if alone:
                        (task,) = tasks
                        hung = future in self._stopped_for_time
                        reason = HUNG.format(self.seconds_per_item) if hung else CRASHED
                        kind = ProblemKind.LIMIT if hung else ProblemKind.DAMAGED  # a decoder dies on bad bytes
                        finished.append(([MediaResult(task.item_id, task.family, error=Problem(kind, reason))], paths))
                    else:
                        self._suspects.extend((t, paths[t.item_id]) for t in tasks)
                self._stopped_for_time.discard(future)
        if self._broken and not self._in_flight:
            self.shutdown()
            self._broken = False
        if self._suspects and not self._in_flight and not self._broken:
            task, path = self._suspects.pop(0)
            self.submit([task], {task.item_id: path}, alone=True)
        return finished

    def _stop_overrun(self) -> list[cf.Future]:
        """Stop the batches past their deadline; returns the futures that will now fail.  Locally that is every
        batch in flight: the pool's processes are killed."""
        now = time.monotonic()
        late = [future for future, (*_, deadline) in self._in_flight.items() if deadline < now]
        if not late:
            return []
        if self._cluster is not None:
            self._cluster.stop(late)
        elif self._pool is not None:
            late = list(self._in_flight)
            # ProcessPoolExecutor has no way to stop a running task before Python 3.14's terminate_workers()
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.kill()
        else:
            return []
        self._stopped_for_time.update(late)
        return late

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
