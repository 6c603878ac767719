"""The decoding workers, kept apart from the readers and rebuilt when a native decoder crashes one.

A crash (a segfault in a decoder fed hostile bytes) breaks the whole process
pool and fails every batch in flight, so the culprit is unknown.  The pool is
rebuilt and the failed batches' items become *suspects*, each decoded alone
with nothing else in flight: the innocent ones are hashed, and the one that
crashes again is recorded as an error against that file alone.
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from fieldlab.case.store import MediaResult
from fieldlab.evidence.sources import SourceSpec
from fieldlab.triage.perceive import MediaTask, perceive_batch
from fieldlab.triage.reader import prepare_worker

CRASHED = "the decoder crashed on this file (its worker process died); the scan went on"
Finished = tuple[list[MediaResult], dict[int, str]]  # results, and the display path of each item


class MediaPool:
    def __init__(
        self, spec: SourceSpec, workers: int,
        decode: Callable[[SourceSpec, list[MediaTask]], list[MediaResult]] = perceive_batch,
    ) -> None:
        self.spec, self.workers, self.decode = spec, workers, decode
        self._pool: cf.ProcessPoolExecutor | None = None
        self._in_flight: dict[cf.Future, tuple[list[MediaTask], dict[int, str], bool]] = {}  # ..., run alone
        self._suspects: list[tuple[MediaTask, str]] = []
        self._broken = False

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
        return any(t.item_id == item_id for tasks, _, _ in self._in_flight.values() for t in tasks) or any(
            t.item_id == item_id for t, _ in self._suspects
        )

    def submit(self, tasks: list[MediaTask], paths: dict[int, str], alone: bool = False) -> None:
        if self._pool is None:  # started on first use: a scan without pictures never pays for it
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=prepare_worker)
        self._in_flight[self._pool.submit(self.decode, self.spec, tasks)] = (tasks, paths, alone)

    def collect(self, block: bool) -> list[Finished]:
        finished: list[Finished] = []
        if self._in_flight:
            done, _ = cf.wait(self._in_flight, timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
            for future in done:
                tasks, paths, alone = self._in_flight.pop(future)
                try:
                    finished.append((future.result(), paths))
                except BrokenProcessPool:
                    self._broken = True
                    if alone:
                        (task,) = tasks
                        finished.append(([MediaResult(task.item_id, task.family, error=CRASHED)], paths))
                    else:
                        self._suspects.extend((t, paths[t.item_id]) for t in tasks)
        if self._broken and not self._in_flight:
            self.shutdown()
            self._broken = False
        if self._suspects and not self._in_flight and not self._broken:
            task, path = self._suspects.pop(0)
            self.submit([task], {task.item_id: path}, alone=True)
        return finished

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
