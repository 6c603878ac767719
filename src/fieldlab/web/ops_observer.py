"""The operations app's observer page: supervisors start and stop the BitTorrent observer and see what it has done.

The observer runs in a thread of the server (its own asyncio loop), one run at a time; its counters are read from
``observer_runs``, so a run started with ``fieldlab ops observe`` on another machine shows here too.  Starting
and stopping are audited by the observer itself, with the supervisor's name.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from fieldlab.ops.observer.run import Observer, ObserverConfig, ObserverError, latest_runs
from fieldlab.web.accounts import Session
from fieldlab.web.app import allowed, may
from fieldlab.web.ops_app import OpsState, ops_render, ops_state_of

router = APIRouter()
Lines = Annotated[str, Form(max_length=2000)]


class ObserverThread:
    """The one observer this server runs, if any."""

    def __init__(self) -> None:
        self.observer: Observer | None = None
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, state: OpsState, config: ObserverConfig, minutes: float | None, actor: str) -> None:
        with self.lock:
            if self.running:
                raise ObserverError("the observer is already running: stop it first")
            observer = Observer(state.db, config, actor, state.home)
            observer.start()  # the run is recorded before the page is shown again
            thread = threading.Thread(target=lambda: asyncio.run(observer.run(minutes=minutes)), daemon=True,
                                      name="fieldlab-observer")
            self.observer, self.thread = observer, thread
            thread.start()

    def stop(self, actor: str) -> None:
        with self.lock:
            if self.observer is not None and self.running:
                self.observer.actor = actor  # the stop is audited with the name of who stopped it
                self.observer.stop()


def _runner(request: Request) -> ObserverThread:
    app_state = request.app.state
    if not hasattr(app_state, "observer"):
        app_state.observer = ObserverThread()
    return app_state.observer


@router.get("/observer")
def observer_page(request: Request, session: Session = Depends(allowed("ops_observer"))) -> Response:
    return _page(request, session)


def _page(request: Request, session: Session, problem: str | None = None) -> Response:
    state = ops_state_of(request)
    runs = latest_runs(state.db)
    last = ObserverConfig.from_json_dict(runs[0]["config"]) if runs else ObserverConfig()
    return ops_render(request, "ops_observer.html", session, status=400 if problem else 200, problem=problem,
                      runs=runs, running=_runner(request).running, last=last, utc=_utc)


@router.post("/observer/start")
def observer_start(request: Request, minutes: Annotated[float, Form(gt=0, le=7 * 24 * 60)] = 60.0,
                   interval: Annotated[float, Form(gt=0, le=86_400)] = 300.0, bootstrap: Lines = "",
                   confine_to: Lines = "", lab: Annotated[bool, Form()] = False,
                   max_connections: Annotated[int, Form(ge=1, le=1000)] = 50,
                   rate: Annotated[float, Form(gt=0, le=1000)] = 20.0,
                   per_torrent_rate: Annotated[float, Form(gt=0, le=1000)] = 5.0,
                   session: Session = Depends(may("ops_observer"))) -> Response:
    try:
        config = ObserverConfig(bootstrap=tuple(bootstrap.split()), confine_to=tuple(confine_to.split()), lab=lab,
                                interval=interval, max_connections=max_connections, connections_per_second=rate,
                                per_torrent_per_second=per_torrent_rate).validated()
        _runner(request).start(ops_state_of(request), config, minutes, session.user.name)
    except ObserverError as exc:
        return _page(request, session, str(exc))
    return RedirectResponse("/observer", status_code=303)


@router.post("/observer/stop")
def observer_stop(request: Request, session: Session = Depends(may("ops_observer"))) -> Response:
    _runner(request).stop(session.user.name)
    return RedirectResponse("/observer", status_code=303)


def _utc(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
