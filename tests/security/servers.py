"""The web apps as an attacker meets them: a real ``fieldlab serve`` in its own process on 127.0.0.1 and a free
port, with a private TMPDIR, measured from outside (/proc: peak memory, files open in its temporary folder).

Requests are written on a raw socket, so a test controls exactly what is sent (a body with or without
Content-Length, chunked, cut off) and sees the answer even when the server stops reading part way."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urlencode

import psutil

from fieldlab.case.store import CaseStore
from fieldlab.ops.database import OpsDatabase, locate
from fieldlab.web.accounts import OPS_ROLES, add_user

PASSWORD = "examiner-password-2"
OPS_PASSWORD = "intel-password-1"
SRC = Path(__file__).resolve().parents[2] / "src"


def new_case(folder: Path) -> Path:
    """An empty case with one examiner, ``examiner2``."""
    store = CaseStore.open(folder)
    try:
        add_user(store, "examiner2", "examiner", password=PASSWORD, actor="test setup")
    finally:
        store.close()
    return folder


def new_ops_dir(folder: Path) -> Path:
    """An empty operations database (SQLite in ``folder``) with an intelligence officer, ``intel1``."""
    db = OpsDatabase.open(locate(ops_dir=folder))
    try:
        add_user(db, "intel1", "intelligence", password=OPS_PASSWORD, actor="test setup", roles=OPS_ROLES)
    finally:
        db.close()
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Answer:
    status: int | None  # None: the server closed the connection without answering
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass
class RunningServer:
    process: subprocess.Popen
    port: int
    tmpdir: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def peak_rss(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in bytes."""
        return _status_kib(self.pid, "VmHWM") * 1024

    def temp_bytes(self) -> int:
        """Bytes of the files the server holds open in its TMPDIR (spooled uploads are unnamed: /proc shows them),
        plus any named file left there."""
        total, seen = 0, set()
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
                if target.startswith(str(self.tmpdir)):
                    info = os.stat(fd)
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_size
            except OSError:
                continue
        for path in self.tmpdir.rglob("*"):
            try:
                info = path.lstat()
            except OSError:
                continue
            if path.is_file() and (info.st_dev, info.st_ino) not in seen:
                total += info.st_size
        return total

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | Iterable[bytes] = b"", chunked: bool = False, timeout: float = 60.0) -> Answer:
        return send(self.port, method, path, headers or {}, body, chunked, timeout)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_server(args: list[str], root: Path, ready_timeout: float = 120.0) -> RunningServer:
    """``fieldlab serve ARGS --port P`` with TMPDIR ``root/tmp``; returns once /login answers."""
    port = free_port()
    tmpdir = root / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    stderr_path = root / f"server-{port}.stderr"
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": os.environ.get("PYTHONPATH", str(SRC))}
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "fieldlab", "serve", *args, "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    server = RunningServer(process, port, tmpdir, stderr_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}) while starting:\n{server.stderr()[-3000:]}")
        try:
            if server.request("GET", "/login", timeout=5).status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"the server did not answer within {ready_timeout} s:\n{server.stderr()[-3000:]}")


def send(port: int, method: str, path: str, headers: dict[str, str], body: bytes | Iterable[bytes],
         chunked: bool, timeout: float) -> Answer:
    """One HTTP/1.1 request; a body the server stops reading is cut off there, and its answer still read."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif isinstance(body, bytes) and "Content-Length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            for piece in ([body] if isinstance(body, bytes) else body):
                if not piece:
                    continue
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body ended: its answer is read below
        return _read_answer(conn)


CSRF_FIELD = re.compile(rb'name="csrf" value="([^"]*)"')


def login(server: RunningServer, name: str, password: str) -> Answer:
    """Log in through the form, as a browser does: the login cookie and the form's token, then the POST."""
    form = server.request("GET", "/login")
    token = CSRF_FIELD.search(form.body).group(1).decode()
    body = urlencode({"name": name, "password": password, "csrf": token}).encode()
    return server.request("POST", "/login", {"Cookie": cookie_header(form.cookies),
                                             "Content-Type": "application/x-www-form-urlencoded"}, body)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def _read_answer(conn: socket.socket) -> Answer:
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        return Answer(None, {}, data)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
        if name.strip().lower() == "set-cookie":
            cookie_name, _, rest = value.strip().partition("=")
            cookies[cookie_name] = rest.split(";", 1)[0]
    return Answer(int(status_line.split()[1]), headers, body, cookies)


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class TempWatcher:
    """The most bytes the server held in its TMPDIR while the ``with`` block ran (sampled every 20 ms)."""

    def __init__(self, server: RunningServer) -> None:
        self.server, self.most = server, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.most = max(self.most, self.server.temp_bytes())
            except (OSError, psutil.Error):
                pass
            self._stop.wait(0.02)

    def __enter__(self) -> TempWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.most = max(self.most, self.server.temp_bytes())


def children_of(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def zeros(total: int, piece: int = 1 << 20) -> Iterable[bytes]:
    block = b"0" * piece
    for _ in range(total // piece):
        yield block
