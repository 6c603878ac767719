"""The operations app: the review app's factory, security and accounts, over the operations database.

``fieldlab serve --database URL`` (or ``--ops-dir``) serves it.  It shares with the review app everything that
keeps it safe: the headers and Host check (``app.served_app``), argon2 accounts and hashed session tokens
(``accounts``, here in the operations database), CSRF on every POST, roles checked on the server, and the same
login and logout routes.  ``/public`` and ``/public.json`` are the only pages without a login.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, PackageLoader

from fieldlab import __version__
from fieldlab.ops.database import OpsDatabase, OpsLocation
from fieldlab.web.accounts import Session
from fieldlab.web.app import CookieNames, WebConfig, page_templates, served_app
from fieldlab.web.login_throttle import LoginThrottle


class OpsState:
    """What the shared dependencies (sessions, roles, CSRF, login) find on ``app.state.fieldlab``."""

    def __init__(self, location: OpsLocation, config: WebConfig, home: Path | None, cases_root: Path | None) -> None:
        self.config = config
        self.db = OpsDatabase.open(location)
        self.store = self.db  # accounts and sessions live in the operations database
        self.write_lock: threading.Lock = self.db.write_lock
        self.title = "operations"
        self.home = home  # the hash-set library sightings are matched against
        self.cases_root = Path(cases_root).resolve() if cases_root else None  # triage cases devices may link to
        self.throttle = LoginThrottle()
        self.cookies = CookieNames.of("ops", location.shown, config.secure_cookies)
        self.templates = page_templates(
            ChoiceLoader([PackageLoader("fieldlab.web", "templates/ops"), PackageLoader("fieldlab.web", "templates"),
                          PackageLoader("fieldlab.ops", "templates")]))

    def case_folders(self) -> list[str]:
        """Names of the triage case folders under the cases root: the only cases a web form can link."""
        if self.cases_root is None or not self.cases_root.is_dir():
            return []
        return sorted(p.name for p in self.cases_root.iterdir() if (p / "case.sqlite").is_file())

    def close(self) -> None:
        self.db.close()


def ops_state_of(request: Request) -> OpsState:
    """The operations app's state, where the review app's ``state_of`` finds a case's."""
    return request.app.state.fieldlab


def create_ops_app(location: OpsLocation, config: WebConfig | None = None, *, home: Path | None = None,
                   cases_root: Path | None = None) -> FastAPI:
    """The operations app over the database at ``location`` (which must be migrated: ``fieldlab db upgrade``)."""
    config = config or WebConfig()
    state = OpsState(location, config, home, cases_root)
    from fieldlab.web.ops_observer import router as observer_router
    from fieldlab.web.ops_routes import BODY_LIMITS, router
    from fieldlab.web.public import router as public_router

    return served_app("fieldlab operations", state, body_limits=BODY_LIMITS,
                      routers=(public_router, router, observer_router))


def ops_render(request: Request, template: str, session: Session | None, *, status: int = 200,
               **context: object) -> HTMLResponse:
    state = ops_state_of(request)
    page = state.templates.get_template(template).render(
        user=session.user if session else None, csrf=session.csrf_token if session else "", version=__version__,
        case_name=state.title, now=time.time(), **context)
    return HTMLResponse(page, status_code=status)
