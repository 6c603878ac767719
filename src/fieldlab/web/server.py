"""``fieldlab serve``: the review app under uvicorn, on this machine only unless told otherwise."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fieldlab.ops.database import OpsLocation

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def allowed_hosts(host: str) -> tuple[str, ...] | None:
    """Host headers to accept: on loopback only the loopback names (a web page cannot rebind a name of its own
    to this server); on a network address, any (the team reaches it by whatever name their DNS gives)."""
    return ("localhost", "127.0.0.1", "::1") if is_loopback(host) else None


@dataclass(frozen=True)
class Listening:
    """Where a server answers: the address, the port, and a TLS certificate with its key (both or neither)."""

    host: str = "127.0.0.1"
    port: int = 8765
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies under TLS, and beyond loopback, where a browser must not send them in the clear."""
        return self.tls_cert is not None or not is_loopback(self.host)

    @property
    def url(self) -> str:
        shown_host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls_cert else 'http'}://{shown_host}:{self.port}"


def serve(case_dir: Path, *, listening: Listening = Listening(), profile: str = "uk") -> None:
    from fieldlab.web.app import WebConfig, create_app

    config = WebConfig(profile=profile, secure_cookies=listening.secure_cookies,
                       allowed_hosts=allowed_hosts(listening.host), warm_up=True)
    _run(create_app(case_dir, config), listening)


def serve_operations(location: OpsLocation, *, listening: Listening = Listening(), profile: str = "uk",
                     cases_root: Path | None = None, home: Path | None = None) -> None:
    """The operations app over the database at ``location`` under uvicorn, like ``serve``."""
    from fieldlab.web.app import WebConfig
    from fieldlab.web.ops_app import create_ops_app

    config = WebConfig(profile=profile, secure_cookies=listening.secure_cookies,
                       allowed_hosts=allowed_hosts(listening.host))
    _run(create_ops_app(location, config, home=home, cases_root=cases_root), listening)


def _run(app: FastAPI, listening: Listening) -> None:
    import uvicorn

    uvicorn.run(app, host=listening.host, port=listening.port, log_level="warning", access_log=False,
                server_header=False, ssl_certfile=str(listening.tls_cert) if listening.tls_cert else None,
                ssl_keyfile=str(listening.tls_key) if listening.tls_key else None)
