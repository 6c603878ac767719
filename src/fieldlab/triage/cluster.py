"""The scan's work units run on this machine's process pools or on a Dask cluster, behind one small interface.

On a cluster the scan stays what it is on one machine: the main process (the
coordinator) walks, dispatches, and is the only database writer.  Only the units
that already cross a process boundary go to the cluster's workers: ``ReadTask``
batches (locators and sizes, never file contents), ``MediaTask`` batches,
``RegionTask`` carving units and the classifier's batches (the model's small
letterboxes, or items to decode again), each with the ``SourceSpec`` that tells a worker
where the evidence is.  A worker opens the evidence itself, at the same path as
the coordinator (shared, read-only storage), and keeps it open for later units.

Units only read, so one whose worker died is simply run again elsewhere (Dask
reschedules it; ``RETRIES`` covers an error raised inside the unit) and gives
the same result.  The coordinator records a unit once, when its future
completes, through the same insert-or-ignore writes as a local scan.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib.metadata
import logging
import os
import signal
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from fieldlab.errors import ScanError
from fieldlab.triage.reader import prepare_worker

RETRIES = 2  # an error raised by a unit itself (a worker's passing NFS hiccup); a worker's death is Dask's to handle
WIDTH_REFRESH = 5.0  # seconds between looks at how many workers the cluster has now
CONNECT_TIMEOUT = 30.0
INSTALL_HINT = "install the cluster extra on this machine and every worker: pip install 'fieldlab[cluster]'"


class ClusterError(ScanError):
    """The cluster cannot be used as asked; the message says what to do."""


class UnitLost(ClusterError):
    """A unit did not finish: its workers kept dying on it (more often than Dask allows), or it was stopped."""


class WorkPool(Protocol):
    """Where reading and carving units run: ``submit`` returns a ``concurrent.futures.Future``, so the scan waits on
    local and cluster units alike with ``concurrent.futures.wait``."""

    @property
    def width(self) -> int:
        """How many units run at once."""
        ...

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> cf.Future: ...
    def close(self, cancel: bool = False) -> None: ...


class LocalPool:
    """This machine's reader processes."""

    def __init__(self, workers: int) -> None:
        self.width = workers
        self._pool = cf.ProcessPoolExecutor(max_workers=workers, initializer=prepare_worker)

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> cf.Future:
        return self._pool.submit(fn, *args)

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)  # a second call does nothing


class ClusterPool:
    """A Dask cluster's workers.  Each unit becomes one Dask task (``pure=False``: every submission runs) whose
    outcome is passed on to a ``concurrent.futures.Future``; its Dask future is kept while it runs, so a unit that
    overruns its time can be found on its worker and stopped (``stop``)."""

    def __init__(self, client: Any, local_cluster: Any = None) -> None:
        from distributed import KilledWorker

        self.client, self._local_cluster, self._killed_worker = client, local_cluster, KilledWorker
        self._running: dict[cf.Future, Any] = {}  # our future -> its Dask future, until it settles
        self._lock = threading.Lock()
        self._width, self._width_at = 1, 0.0
        self._closed = False

    @property
    def address(self) -> str:
        return self.client.scheduler.address

    @property
    def width(self) -> int:
        """Worker processes now connected (each runs one unit at a time, see ``_run_unit``): workers may join or
        leave during a scan, so this is looked up again every few seconds."""
        now = time.monotonic()
        if now - self._width_at >= WIDTH_REFRESH:
            self._width, self._width_at = max(1, len(self.client.nthreads())), now
        return self._width

    def submit(self, fn: Callable[..., Any], /, *args: Any, priority: int = 0) -> cf.Future:
        """``priority`` is Dask's: of the units waiting, the scheduler starts the higher first (the classifier's
        batches go below the reading and decoding while those wait)."""
        done: cf.Future = cf.Future()
        name = getattr(fn, "__name__", "unit")  # read_batch-…, perceive_batch-…, classify_batch-… on the dashboard
        task = self.client.submit(_run_unit, fn, *args, key=f"{name}-{uuid.uuid4().hex}", pure=False, retries=RETRIES,
                                  priority=priority)
        with self._lock:
            self._running[done] = task
        task.add_done_callback(lambda settled: self._settle(done, settled))
        return done

    def _settle(self, done: cf.Future, task: Any) -> None:
        """Runs on Dask's callback thread once the task finished, failed for good, or was cancelled."""
        with self._lock:
            self._running.pop(done, None)
        try:
            if task.status == "cancelled":
                done.set_exception(UnitLost("stopped by the scan"))
                return
            # Not "error" either: the unit finished, then its result was lost with a dying worker before this ran
            # ("lost"); exception() then waits for Dask's recomputation and gives None if that succeeded.  Taken as
            # an exception, None made the unit's result None (seen once in CI, a worker killed by a crashing decoder).
            problem = None if task.status == "finished" else task.exception()
            if problem is None:
                done.set_result(task.result())
            elif isinstance(problem, self._killed_worker):
                done.set_exception(UnitLost(f"the cluster's workers kept dying while running {task.key}: everything "
                                            f"recorded so far is kept; check the workers' logs, then run the same "
                                            f"command to resume"))
            else:
                done.set_exception(problem)
        except Exception as exc:  # noqa: BLE001 - the result could not be fetched: the worker holding it is gone
            if not done.done():
                done.set_exception(UnitLost(f"its result could not be fetched: {type(exc).__name__}: {exc}"))

    def stop(self, futures: list[cf.Future]) -> None:
        """Cancel the units and restart the workers running them: a native decoder looping on crafted input cannot
        be stopped any other way.  Other units on those workers are run again elsewhere by Dask."""
        with self._lock:
            tasks = [self._running[f] for f in futures if f in self._running]
        keys = {t.key for t in tasks}
        workers = [address for address, running in self.client.processing().items() if keys & set(running)]
        self.client.cancel(tasks, force=True)
        if workers:
            self.client.restart_workers(workers, timeout=60, raise_for_error=False)

    def close(self, cancel: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            tasks = list(self._running.values())
        try:
            if cancel and tasks:
                self.client.cancel(tasks, force=True)
            self.client.close()
        finally:
            if self._local_cluster is not None:
                self._local_cluster.close()


_unit_lock = threading.Lock()


def _run_unit(fn: Callable[..., Any], *args: Any) -> Any:
    """On a worker: one unit at a time per process, whatever the worker's thread count, because the evidence a
    process keeps open (file descriptors, TSK handles) is not shared safely between threads."""
    with _unit_lock:
        return fn(*args)


@contextlib.contextmanager
def open_work_pool(
    evidence: str, *, workers: int | None = None, cluster: str | None = None, local_cluster: int | None = None,
) -> Iterator[LocalPool | ClusterPool]:
    """This machine's reader processes, or the workers of the Dask scheduler at ``cluster``, or of a
    ``LocalCluster`` of ``local_cluster`` processes started here (and stopped at the end)."""
    if cluster is not None and local_cluster is not None:
        raise ClusterError("give a scheduler address (--cluster) or a number of local workers (--local-cluster), not both")
    if (cluster is not None or local_cluster is not None) and workers is not None:
        raise ClusterError("--workers sets this machine's own reader processes: with a cluster, its workers do the reading")
    if cluster is None and local_cluster is None:
        pool: LocalPool | ClusterPool = LocalPool(workers or os.cpu_count() or 1)
    else:
        pool = _connect(cluster, local_cluster)
        try:
            _check_workers(pool, evidence)
        except BaseException:
            pool.close()
            raise
    try:
        yield pool
    except BaseException:
        pool.close(cancel=True)
        raise
    pool.close()


def _connect(address: str | None, local_workers: int | None) -> ClusterPool:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError(f"Dask is not installed: {INSTALL_HINT}") from None
    if address is None:
        if local_workers is None or local_workers < 1:
            raise ClusterError("a local cluster needs at least one worker (--local-cluster 1 or more)")
        with warnings.catch_warnings():  # the scheduler's status port is taken (another Dask here): any port will do
            warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
            local = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                 dashboard_address=None, silence_logs=logging.ERROR, preload=[__name__])
        return ClusterPool(Client(local), local)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({exc}): check that 'dask scheduler' runs there and that "
            f"this machine can reach its port"
        ) from None
    return ClusterPool(client)


def _check_workers(pool: ClusterPool, evidence: str) -> None:
    """Before anything is recorded: some worker is there, and every worker runs this fieldlab and sees the evidence
    at the same path."""
    try:
        pool.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise ClusterError(f"no worker has joined the scheduler at {pool.address}: start 'dask worker {pool.address}' "
                           f"on the lab machines") from None
    ours = importlib.metadata.version("fieldlab")
    try:
        facts = pool.client.run(_worker_facts, evidence)
    except Exception as exc:  # noqa: BLE001 - whatever a worker raised, it cannot run the scan's units
        raise ClusterError(f"the workers cannot run fieldlab ({type(exc).__name__}: {exc}): {INSTALL_HINT}") from None
    for worker, (version, sees) in sorted(facts.items()):
        if version != ours:
            raise ClusterError(f"worker {worker} runs fieldlab {version or '(not installed)'}, this machine {ours}: "
                               f"install the same version on every worker")
        if not sees:
            raise ClusterError(f"worker {worker} cannot see the evidence at {evidence}: mount the evidence store "
                               f"read-only at the same path on every worker")


def _worker_facts(evidence: str) -> tuple[str | None, bool]:
    try:
        version = importlib.metadata.version("fieldlab")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return version, os.access(Path(evidence), os.R_OK)


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, for the workers of a local cluster (``LocalCluster(preload=[__name__])``, kept across
    restarts): they share the examiner's terminal, and a Ctrl-C meant for the scan must not kill them mid-unit (the
    scan stops cleanly and keeps what it recorded, as with local processes)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
