"""Thumbnails for the review app: made on demand from the evidence, re-encoded, cached in the case folder.

An item is re-opened by its locator in a worker process (never the server's:
a decoder fed hostile bytes may crash or hang, and only that worker dies),
decoded no larger than needed, shrunk and encoded afresh as a JPEG without
metadata: the suspect bytes themselves never reach a browser.  A video becomes a
sheet of frames sampled across its length: no video element, no sound.  That
side lives in ``thumbnail_render``, which only the workers import.

The cache is ``thumbnails/<item id>.jpg`` in the case folder (0700, files
0600; ``.failed`` beside it records why a file could not be shown, so a
hostile file is tried once, not on every page view).  A known-hash hit's
picture is never cached: it is made for each request of a reveal and kept
only in memory.  Names from the evidence are never used as file names.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from fieldlab.case.private import make_private_folder, write_private_bytes
from fieldlab.errors import WebError

if TYPE_CHECKING:
    from fieldlab.evidence.sources import SourceSpec

SECONDS_PER_ITEM = 20.0  # far beyond an honest file (a 12 MP JPEG takes ~40 ms at reduced scale)
WARM_UP_ATTEMPTS = 3  # starting the workers is tried this often before the server starts without them
WARM_UP_SECONDS = 60.0
WARM_UP_JOIN_SECONDS = 10.0  # how long closing waits for a warm-up in progress to notice and stop
FOLDER = "thumbnails"
_START_FAILURES = (BrokenProcessPool, EOFError, OSError)  # a worker process could not be forked or reached


class ThumbnailUnavailable(WebError):
    """No picture can be shown for the item; the message says why, in the examiner's words.  ``lasting``: trying
    again cannot help (the bytes do not decode); otherwise (evidence not reachable, a password needed) it may."""

    def __init__(self, message: str, lasting: bool = True) -> None:
        super().__init__(message)
        self.lasting = lasting

    def __reduce__(self):  # noqa: ANN204 - raised in a worker process, re-raised here whole
        return type(self), (str(self), self.lasting)


@dataclass(frozen=True)
class ThumbnailTask:
    item_id: int
    spec: SourceSpec  # the exhibit's source, opened by the worker itself
    locator: str
    family: str  # image | video
    size: int


# worker side

def render(task: ThumbnailTask) -> bytes:
    """The thumbnail's JPEG bytes; ThumbnailUnavailable when the item cannot be opened or decoded.  Runs in a
    thumbnail worker: the decoders and evidence readers (``thumbnail_render``) are loaded there, preloaded by the
    forkserver, and never in the server, which starts without them."""
    from fieldlab.web.thumbnail_render import render_thumbnail

    return render_thumbnail(task)


def _prepare_worker() -> None:
    from fieldlab.triage.reader import prepare_worker

    prepare_worker()


def _kill_workers(pool: cf.ProcessPoolExecutor) -> None:
    """A decode in progress is of no more use: killed, not asked to stop (a worker still importing its decoders, or
    inside one, would hold the server's exit)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()


# server side

class ThumbnailService:
    """Thumbnails from the cache, or made in a pool of worker processes, each within ``seconds_per_item``.

    A worker that crashes or overruns takes the pool with it: the pool is rebuilt, and the items that were in it
    are retried one at a time in a pool of their own, so exactly the file at fault is recorded as failed."""

    def __init__(self, case_dir: Path, workers: int = 2, seconds_per_item: float = SECONDS_PER_ITEM,
                 render: Callable[[ThumbnailTask], bytes] = render) -> None:
        self.folder = Path(case_dir) / FOLDER
        self.workers, self.seconds_per_item, self.render = workers, seconds_per_item, render
        self._lock = threading.Lock()
        self._alone = threading.Lock()  # suspects are decoded one at a time
        self._slots = threading.Semaphore(workers)  # the deadline counts decoding, not queueing
        self._pools: dict[str, cf.ProcessPoolExecutor] = {}
        self._in_flight: dict[int, cf.Future] = {}
        self._closed = False  # no pool is started after close, not even by a warm-up still trying
        self.warming: threading.Thread | None = None

    def cached(self, item_id: int) -> bytes | None:
        try:
            return (self.folder / f"{int(item_id)}.jpg").read_bytes()
        except FileNotFoundError:
            return None

    def failure(self, item_id: int) -> str | None:
        try:
            return (self.folder / f"{int(item_id)}.failed").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def thumbnail(self, task: ThumbnailTask, keep: bool = True) -> bytes:
        """The JPEG bytes, from the cache or made now; ThumbnailUnavailable with the reason otherwise.

        ``keep=False`` (a known-hash hit, shown only during a reveal) makes the picture afresh each time and never
        leaves it on disk, so nothing of it outlasts the reveal; a copy cached before is removed."""
        if not keep:
            (self.folder / f"{int(task.item_id)}.jpg").unlink(missing_ok=True)
        found = self.cached(task.item_id)
        if found is not None:
            return found
        if (reason := self.failure(task.item_id)) is not None:
            raise ThumbnailUnavailable(reason)
        with self._lock:  # two requests for one item share one decode
            shared = self._in_flight.get(task.item_id)
            if shared is None:
                shared = self._in_flight[task.item_id] = cf.Future()
                mine = True
            else:
                mine = False
        if not mine:
            return shared.result()
        try:
            data = self._make(task)
            if keep:
                self._store(task.item_id, ".jpg", data)
            shared.set_result(data)
            return data
        except BaseException as exc:  # whatever happened, a request waiting on this decode hears of it
            shared.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._in_flight.pop(task.item_id, None)

    def _make(self, task: ThumbnailTask) -> bytes:
        with self._slots:
            outcome = self._run("shared", task)
        if isinstance(outcome, str):
            with self._alone:
                outcome = self._run("alone", task)
            if isinstance(outcome, str):
                reason = "the decoder crashed or hung on this file and was stopped; the server went on"
                self._store(task.item_id, ".failed", reason.encode())
                raise ThumbnailUnavailable(reason)
        if isinstance(outcome, ThumbnailUnavailable):
            if outcome.lasting:  # not when a drive reconnected or a password given later may work
                self._store(task.item_id, ".failed", str(outcome).encode())
            raise outcome
        return outcome

    def _run(self, which: str, task: ThumbnailTask) -> bytes | ThumbnailUnavailable | Literal["broken"]:
        pool = self._pool(which)
        try:
            future = pool.submit(self.render, task)
        except _START_FAILURES as exc:  # the workers could not be started (a loaded machine): not this item's fault
            self._discard(which, pool, kill=True)
            raise ThumbnailUnavailable(f"the thumbnail workers could not start ({type(exc).__name__}): try again "
                                       "in a moment") from None
        try:
            return future.result(timeout=self.seconds_per_item)
        except ThumbnailUnavailable as exc:
            return exc
        except cf.TimeoutError:
            self._discard(which, pool, kill=True)
            return "broken"
        except BrokenProcessPool:
            self._discard(which, pool, kill=False)
            return "broken"
        except Exception as exc:  # noqa: BLE001 - a fault of ours in the worker: said at once, not cached
            return ThumbnailUnavailable(f"cannot be previewed: internal error: {type(exc).__name__}: {exc}"[:300],
                                        lasting=False)

    def _pool(self, which: str) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise BrokenProcessPool("the thumbnail service is closed")
            pool = self._pools.get(which)
            if pool is None:
                context = multiprocessing.get_context("forkserver")  # no fork of a threaded server
                context.set_forkserver_preload(["fieldlab.web.thumbnail_render"])
                pool = self._pools[which] = cf.ProcessPoolExecutor(
                    max_workers=1 if which == "alone" else self.workers, mp_context=context,
                    initializer=_prepare_worker)
            return pool

    def _discard(self, which: str, pool: cf.ProcessPoolExecutor, kill: bool) -> None:
        with self._lock:
            if self._pools.get(which) is pool:
                del self._pools[which]
            else:
                return  # another request already replaced it
        if kill:  # ProcessPoolExecutor cannot stop a running task before Python 3.14
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def start_warm_up(self) -> None:
        """``warm_up`` in a thread of its own (``warming``): the server answers at once instead of after the
        forkserver and the workers have started and loaded the decoders (2.5 s of the 5 s the review server took to
        answer on a loaded 2-core machine); the first gallery page finds the workers started or starting."""
        self.warming = threading.Thread(target=self.warm_up, name="thumbnail-warm-up", daemon=True)
        self.warming.start()

    def warm_up(self, attempts: int = WARM_UP_ATTEMPTS) -> bool:
        """Start the workers now, so the first gallery page does not wait for them.  On a loaded machine starting
        them can fail (the forkserver cannot fork: EOFError); that is tried again, and if it keeps failing the
        workers are started by the first thumbnail asked for.  True if they run; False also once the service is
        closed."""
        for attempt in range(attempts):
            try:
                pool = self._pool("shared")
            except BrokenProcessPool:  # the service was closed meanwhile
                return False
            try:
                for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
                    future.result(timeout=WARM_UP_SECONDS)
                return True
            except (*_START_FAILURES, cf.TimeoutError, cf.CancelledError):
                self._discard("shared", pool, kill=True)
                time.sleep(0.5 * (attempt + 1))
        return False

    def _store(self, item_id: int, suffix: str, data: bytes) -> None:
        if not self.folder.is_dir():
            make_private_folder(self.folder)
        final = self.folder / f"{int(item_id)}{suffix}"
        temporary = final.with_name(f"{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        write_private_bytes(temporary, data)
        os.replace(temporary, final)

    def close(self) -> None:
        """Stop the workers and wait for them (a decode in progress is of no more use).  Waiting matters: uvicorn
        ends its process by raising SIGTERM again once the app has stopped, which runs no finalizers, so the pools'
        semaphores must be released here or the resource tracker reports them leaked."""
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            _kill_workers(pool)
        if self.warming is not None:  # a warm-up still starting workers ends once they die and the service is closed
            self.warming.join(WARM_UP_JOIN_SECONDS)
        for pool in pools:
            _kill_workers(pool)  # any the warm-up started while the first were being killed
            pool.shutdown(wait=True, cancel_futures=True)
        del pools
        gc.collect()  # the queues' semaphores are freed with the queues, which sit in reference cycles
