"""Issue 18, point 10: the review server starts on a loaded machine and stops cleanly on SIGTERM.

Its thumbnail workers come from a forkserver; on a loaded machine the forkserver could not fork and the warm-up's
EOFError ended the app.  A fork that fails is simulated here (a pool whose submit raises EOFError, as
``multiprocessing.forkserver`` does when its server goes away); the real server is started under CPU load and
stopped with SIGTERM, as a service manager does."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest
from fastapi.testclient import TestClient

from fieldlab.evidence.sources import SourceSpec
from fieldlab.web.app import WebConfig, create_app
from fieldlab.web.thumbnails import ThumbnailService, ThumbnailTask, ThumbnailUnavailable
from tests.security.servers import children_of, new_case, start_server
from tests.security.stand_ins import PICTURE, fixed_picture


class _UnforkablePool:
    """What a ProcessPoolExecutor does when the forkserver cannot give it a process."""

    _processes: dict = {}

    def submit(self, *_args: object) -> None:
        raise EOFError

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _failing_first(monkeypatch: pytest.MonkeyPatch, failures: int) -> None:
    real = ThumbnailService._pool
    left = [failures]

    def pool(self: ThumbnailService, which: str):  # noqa: ANN202
        if left[0] > 0:
            left[0] -= 1
            return _UnforkablePool()
        return real(self, which)

    monkeypatch.setattr(ThumbnailService, "_pool", pool)


def test_a_warm_up_whose_workers_cannot_start_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_first(monkeypatch, 1)
    service = ThumbnailService(tmp_path, workers=1, render=fixed_picture)
    try:
        assert service.warm_up() is True
    finally:
        service.close()


def test_the_app_starts_even_if_the_workers_never_start_and_starts_them_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_first(monkeypatch, 3)  # every warm-up attempt fails (the old app exited on the first)
    with TestClient(create_app(new_case(tmp_path / "case"), WebConfig(warm_up=True))) as client:
        assert client.get("/login").status_code == 200
        thumbnails = client.app.state.fieldlab.thumbnails
        thumbnails.warming.join(timeout=60)  # the warm-up gave up (the next pool asked for starts)
        assert not thumbnails.warming.is_alive()
        thumbnails.render = fixed_picture
        task = ThumbnailTask(3, SourceSpec(str(tmp_path), "folder"), "file:x.jpg", "image", 10)
        assert thumbnails.thumbnail(task) == PICTURE


def test_the_app_answers_while_its_workers_are_still_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm-up runs beside the server: the login page answers before the workers are up (issue 17: the review
    server answers within 1 s of start; starting the workers took 2.5 s of it), and closing the app while the
    warm-up still waits leaves no pool behind."""
    release = threading.Event()
    real = ThumbnailService._pool

    def slow_pool(self: ThumbnailService, which: str):  # noqa: ANN202
        release.wait(timeout=60)
        return real(self, which)

    monkeypatch.setattr(ThumbnailService, "_pool", slow_pool)
    with TestClient(create_app(new_case(tmp_path / "case"), WebConfig(warm_up=True))) as client:
        thumbnails = client.app.state.fieldlab.thumbnails
        assert client.get("/login").status_code == 200
        assert thumbnails.warming.is_alive()  # still waiting to start its pool
    release.set()
    thumbnails.warming.join(timeout=60)
    assert not thumbnails.warming.is_alive()
    assert thumbnails._pools == {}  # the warm-up found the service closed and started nothing


def test_the_review_app_starts_without_decoders_evidence_readers_or_numpy(tmp_path: Path) -> None:
    """The server process answers its login page without PIL, PyAV, NumPy or the evidence readers (issue 17: it
    answers within 1 s of start): the thumbnail workers load those, beside it."""
    case = new_case(tmp_path / "case")
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from fastapi.testclient import TestClient\n"
            "from fieldlab.web.app import WebConfig, create_app\n"
            f"with TestClient(create_app(Path({str(case)!r}), WebConfig())) as client:\n"
            "    assert client.get('/').status_code == 200\n"
            "heavy = ('numpy', 'PIL', 'av', 'pytsk3', 'pyewf', 'fieldlab.evidence.sources', 'fieldlab.triage.reader',\n"
            "         'fieldlab.web.thumbnail_render', 'sqlalchemy.dialects.postgresql', 'weasyprint')\n"
            "print(' '.join(m for m in heavy if m in sys.modules))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_workers_that_cannot_start_are_not_blamed_on_the_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_first(monkeypatch, 1)
    service = ThumbnailService(tmp_path, workers=1, render=fixed_picture)
    task = ThumbnailTask(5, SourceSpec(str(tmp_path), "folder"), "file:x.jpg", "image", 10)
    try:
        with pytest.raises(ThumbnailUnavailable, match="could not start"):
            service.thumbnail(task)
        assert service.failure(5) is None  # not remembered as a file that crashes its decoder
        assert service.thumbnail(task) == PICTURE
    finally:
        service.close()


@pytest.fixture()
def cpu_load() -> Iterator[None]:
    """Every core busy, as during a scan."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(psutil.cpu_count() or 2)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


def test_the_server_starts_under_load_and_stops_cleanly_on_sigterm(tmp_path: Path, cpu_load: None) -> None:
    server = start_server([str(new_case(tmp_path / "case"))], tmp_path, ready_timeout=180)
    deadline = time.monotonic() + 180  # the workers start beside the server, which answers first
    while len(children_of(server.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    helpers = [psutil.Process(pid) for pid in children_of(server.pid)]
    assert len(helpers) >= 3  # the forkserver and the two thumbnail workers were started
    started = time.monotonic()
    status = server.stop(timeout=30)
    _gone, left = psutil.wait_procs(helpers, timeout=10)
    assert time.monotonic() - started < 15 and not left, left
    assert status in (0, -15)  # uvicorn ends by raising the SIGTERM it caught, once the app has stopped
    assert "leaked" not in server.stderr() and "Traceback" not in server.stderr(), server.stderr()[-2000:]
