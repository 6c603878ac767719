"""One generated case per test session, copied for each test that changes it."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from fieldlab.web import WebConfig, create_app
from tests.web.web_case import WebCase, build_web_case, copy_case, login


@pytest.fixture(scope="session")
def built_case(tmp_path_factory: pytest.TempPathFactory) -> WebCase:
    return build_web_case(tmp_path_factory.mktemp("web"))


@pytest.fixture()
def web_case(built_case: WebCase, tmp_path: Path) -> WebCase:
    return copy_case(built_case, tmp_path / "case")


class Clock:
    """The welfare log's clock, moved on by the test: a look cannot be claimed longer than the time since its
    picture was sent, so a test of lengths lets that time pass without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from fieldlab.web import welfare

    moved = Clock()
    monkeypatch.setattr(welfare, "time", moved)
    return moved


@pytest.fixture()
def make_client(web_case: WebCase) -> Iterator[Callable[..., TestClient]]:
    """``make_client(user=None, base_url=..., **config)``: a client of a fresh app over the test's case, logged in as ``user``."""
    opened: list[TestClient] = []

    def make(user: str | None = None, base_url: str = "http://testserver", **config: object) -> TestClient:
        client = TestClient(create_app(web_case.case, WebConfig(**config)), base_url=base_url)
        client.__enter__()
        opened.append(client)
        if user is not None:
            assert login(client, user).status_code == 303
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@contextmanager
def serving(case_dir: Path) -> Iterator[str]:
    """The review app of ``case_dir`` served by uvicorn in a thread on a free loopback port: its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(case_dir, WebConfig(allowed_hosts=("127.0.0.1",)))
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=20)


@pytest.fixture()
def server(built_case: WebCase, tmp_path: Path) -> Iterator[tuple[str, WebCase]]:
    """The app over a private copy of the case, served by uvicorn on a free loopback port, for the browser tests."""
    case = copy_case(built_case, tmp_path / "case")
    with serving(case.case) as base:
        yield base, case
    shutil.rmtree(tmp_path / "case", ignore_errors=True)
