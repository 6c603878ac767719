"""``fieldlab serve``: the review app under uvicorn, on this machine only unless told otherwise."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

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


def serve(case_dir: Path, host: str = "127.0.0.1", port: int = 8765, profile: str = "uk",
          tls_cert: Path | None = None, tls_key: Path | None = None) -> None:
    import uvicorn

    from fieldlab.web.app import WebConfig, create_app

    secure = tls_cert is not None or not is_loopback(host)
    config = WebConfig(profile=profile, secure_cookies=secure, allowed_hosts=allowed_hosts(host), warm_up=True)
    app = create_app(case_dir, config)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)


def serve_operations(location, host: str = "127.0.0.1", port: int = 8765, profile: str = "uk",  # noqa: ANN001
                     tls_cert: Path | None = None, tls_key: Path | None = None, cases_root: Path | None = None,
                     home: Path | None = None) -> None:
    """The operations app (``location``: an ``ops.database.OpsLocation``) under uvicorn, like ``serve``."""
    import uvicorn

    from fieldlab.web.app import WebConfig
    from fieldlab.web.ops_app import create_ops_app

    secure = tls_cert is not None or not is_loopback(host)
    config = WebConfig(profile=profile, secure_cookies=secure, allowed_hosts=allowed_hosts(host))
    app = create_ops_app(location, config, home, cases_root)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)
