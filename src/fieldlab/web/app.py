"""The review app's factory: the case it serves, the security every response carries, and who may do what.

Every response gets a strict Content-Security-Policy (no inline script or
style, nothing from elsewhere), ``nosniff``, no framing, no referrer and no
caching.  Every route checks the session and the role on the server; every
POST checks the session's CSRF token and, when the browser sends one, that
the Origin is this server.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import BaseLoader, Environment, PackageLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from fieldlab import __version__
from fieldlab.case.store import CaseStore
from fieldlab.case.welfare import settings_for
from fieldlab.errors import OptionError, WebError
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED
from fieldlab.web import accounts
from fieldlab.web.accounts import Session
from fieldlab.web.body_limits import BodyLimit, BodyLimits
from fieldlab.web.exhibit_passwords import ExhibitPasswords
from fieldlab.web.login_throttle import LoginThrottle
from fieldlab.web.permissions import PERMISSIONS
from fieldlab.web.review import ReviewIndex
from fieldlab.web.thumbnails import ThumbnailService
from fieldlab.web.wrapping import wrap_at_separators

CSRF_HEADER = "x-csrf-token"
CSP = "default-src 'self'; img-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # nothing of a case is kept in the browser's cache on disk
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class WebConfig:
    profile: str = "uk"
    secure_cookies: bool = False  # set when served over TLS or beyond this machine
    allowed_hosts: tuple[str, ...] | None = None  # Host headers accepted (DNS rebinding); None: any
    idle_seconds: float = accounts.IDLE_SECONDS
    max_seconds: float = accounts.MAX_SECONDS
    thumbnail_workers: int = 2
    thumbnail_seconds: float = 20.0
    page_size: int = 100
    warm_up: bool = False  # start the thumbnail workers with the app


@dataclass(frozen=True)
class CookieNames:
    """The cookies of one served app.  Browsers do not keep cookies apart by port, so two servers on one host
    (the operations app and a review app, or two cases) would overwrite, and receive, each other's session under
    one name: each app and each case or database it serves has names of its own.  Under TLS the names carry the
    ``__Host-`` prefix, which a browser accepts only from this host, over https, for the whole site."""

    session: str
    login: str

    @classmethod
    def of(cls, app: str, served: str, secure: bool) -> CookieNames:
        """``app``: review or ops; ``served``: what it serves (a case folder, a database URL without password)."""
        prefix = "__Host-" if secure else ""
        tag = hashlib.sha256(served.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return cls(f"{prefix}fieldlab_{app}_{tag}_session", f"{prefix}fieldlab_{app}_{tag}_login")


class LoginRequired(WebError):
    """No live session: pages redirect to the login form, the API answers 401."""


def keys_for(profile: str) -> dict[str, str]:
    """The keyboard's categories: 1/2/3 are A/B/C (UK), digits are themselves (US), 0 is not indecent, u withdraws."""
    if profile == "uk":
        return {"1": "A", "2": "B", "3": "C", "0": "non-indecent", "u": UNCATEGORISED}
    return {label: label for label in PROFILES[profile].labels if label != UNCATEGORISED} | {"u": UNCATEGORISED}


class AppState:
    def __init__(self, case_dir: Path, config: WebConfig) -> None:
        self.case_dir, self.config = Path(case_dir), config
        self.title = self.case_dir.name  # in the header of every page
        self.store = CaseStore.open(self.case_dir, create=False)
        self.thumbnails = ThumbnailService(self.case_dir, config.thumbnail_workers, config.thumbnail_seconds)
        self.review = ReviewIndex(self.store, config.profile)
        self.review_lock = threading.Lock()
        self.write_lock = threading.Lock()  # audit entries are chained: one writer at a time
        self.throttle = LoginThrottle()
        self.cookies = CookieNames.of("review", str(self.case_dir.resolve()), config.secure_cookies)
        self.exhibit_passwords = ExhibitPasswords()  # in memory only: a case never holds a password
        self.templates = page_templates(PackageLoader("fieldlab.web", "templates"))
        self.templates.filters["wrap_at_separators"] = wrap_at_separators
        self.templates.globals["uncategorised"] = UNCATEGORISED  # the label buttons never offer: u withdraws

    def fresh_review(self) -> ReviewIndex:
        with self.review_lock:
            return self.review.fresh()

    def close(self) -> None:
        self.thumbnails.close()
        self.store.close()


def create_app(case_dir: Path, config: WebConfig | None = None) -> FastAPI:
    """The review app for the case in ``case_dir`` (which must exist)."""
    config = config or WebConfig()
    if config.profile not in PROFILES:
        raise OptionError(f"unknown profile {config.profile!r}")
    state = AppState(case_dir, config)
    from fieldlab.web.routes import BODY_LIMITS, router  # the routes use this module's dependencies

    return served_app("fieldlab review", state, body_limits=BODY_LIMITS, routers=(router,),
                      on_start=state.thumbnails.start_warm_up if config.warm_up else None)


def served_app(title: str, state, *, body_limits: tuple[BodyLimit, ...], routers: Sequence[APIRouter],  # noqa: ANN001
               on_start: Callable[[], object] | None = None) -> FastAPI:
    """What the review and operations apps share: no API docs, ``state`` (AppState or OpsState) on
    ``app.state.fieldlab`` for the shared dependencies and closed when the server stops, the security of
    ``secure``, then the routers in order.  ``on_start``: done, in a thread, before serving: the server answers
    nothing until it returns, so it only starts what takes long."""
    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        if on_start is not None:
            await run_in_threadpool(on_start)
        yield
        state.close()

    app = FastAPI(title=title, version=__version__, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.fieldlab = state
    secure(app, state, body_limits)
    for router in routers:
        app.include_router(router)
    return app


def page_templates(loader: BaseLoader) -> Environment:
    """The Jinja environment of both apps' pages: every value escaped, an unknown name an error, not a blank."""
    return Environment(loader=loader, autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def secure(app: FastAPI, state, body_limits: tuple[BodyLimit, ...] = ()) -> None:  # noqa: ANN001 - AppState or OpsState
    """The security every response carries, the Host check, the answers to "log in first" and to errors, and the
    bytes a request may send (``body_limits``: the routes allowed more than ``body_limits.DEFAULT_BYTES``)."""
    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    if state.config.allowed_hosts is not None:
        @app.middleware("http")
        async def known_host(request: Request, call_next):  # noqa: ANN001, ANN202
            """A page elsewhere cannot rebind one of its own names to this server: only our names are served."""
            if host_name(request.headers.get("host", "")) not in state.config.allowed_hosts:
                return PlainTextResponse("unknown host name", status_code=400, headers=SECURITY_HEADERS)
            return await call_next(request)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.url.path.startswith(("/api/", "/thumb/")) or request.method != "GET":
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """A person (a browser asking for a page) gets a page that says what went wrong; scripts get JSON."""
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            page = state.templates.get_template("error.html").render(
                status=exc.status_code, detail=exc.detail, user=None, csrf="", welfare=None, profile=state.config.profile,
                version=__version__, case_name=state.title)
            return HTMLResponse(page, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    app.add_middleware(BodyLimits, limits=body_limits, headers=SECURITY_HEADERS, session_of=session_of)  # runs first


def host_name(header: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8765`` is ``::1``."""
    if header.startswith("["):
        return header[1:].partition("]")[0].lower()
    return header.rpartition(":")[0].lower() if header.count(":") == 1 else header.lower()


def state_of(request: Request) -> AppState:
    return request.app.state.fieldlab


def session_of(connection: HTTPConnection) -> Session | None:
    """The live session whose token the request's cookie carries, if any."""
    state = connection.app.state.fieldlab
    return accounts.session_for(state.store, connection.cookies.get(state.cookies.session),
                                idle_seconds=state.config.idle_seconds, max_seconds=state.config.max_seconds)


def current_session(request: Request) -> Session:
    session = session_of(request)
    if session is None:
        raise LoginRequired()
    return session


def _permitted(session: Session, permission: str) -> Session:
    if not session.user.can(permission):
        raise HTTPException(403, f"your role ({session.user.role}) may not do this")
    return session


def allowed(permission: str):  # noqa: ANN201 - a FastAPI dependency
    """The session, if its user may ``permission`` (a name in ``web.permissions``); 403 otherwise."""
    def check(session: Session = Depends(current_session)) -> Session:
        return _permitted(session, permission)
    check.permission = PERMISSIONS[permission].name  # type: ignore[attr-defined]  # read by the permission walk; an unknown name fails when the routes are defined
    return check


async def csrf_checked(request: Request, session: Session = Depends(current_session)) -> Session:
    """State changes need the session's CSRF token (header or form field) and, if sent, this server's Origin."""
    origin = request.headers.get("origin")
    # a browser posting a form from our own page says "null" (Referrer-Policy: no-referrer): the token decides then
    if origin is not None and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "the request came from another site")
    offered: object = request.headers.get(CSRF_HEADER)
    if offered is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        offered = (await request.form()).get("csrf")  # an uploaded file named csrf is no token
    if not accounts.csrf_matches(session, offered if isinstance(offered, str) else None):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return session


def may(permission: str):  # noqa: ANN201 - a FastAPI dependency
    """A state change by a user who may ``permission``: CSRF first, then the role."""
    def check(session: Session = Depends(csrf_checked)) -> Session:
        return _permitted(session, permission)
    check.permission = PERMISSIONS[permission].name  # type: ignore[attr-defined]  # read by the permission walk
    return check


def render(
    request: Request, template: str, session: Session | None, *, status: int = 200, **context: object,
) -> HTMLResponse:
    state = state_of(request)
    welfare = settings_for(state.store, session.user.id) if session else None
    page = state.templates.get_template(template).render(
        user=session.user if session else None, csrf=session.csrf_token if session else "", welfare=welfare,
        profile=state.config.profile, version=__version__, case_name=state.title, now=time.time(),
        **context,
    )
    return HTMLResponse(page, status_code=status)
