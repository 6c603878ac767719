"""How many bytes a request may send, decided before any of them is read.

FastAPI reads and parses a body (a JSON document into memory, a multipart upload into temporary files) before a
route's dependencies check the session and the CSRF token, so without this an anonymous client could make the
server hold a gigabyte of JSON or write one to its temporary folder.  This ASGI middleware sits outside the app
and, per route:

* refuses a declared ``Content-Length`` over the route's limit at once (413), and counts the bytes of a body sent
  without one (chunked), answering 413 as soon as the count passes the limit: nothing past it is ever accepted;
* for the few routes allowed more than ``ANONYMOUS_BYTES`` (uploads, large categorisations), looks up the session
  from the cookie and its permission *before* the body is read: an anonymous client gets 401, a lower role 403,
  and neither is allowed past ``ANONYMOUS_BYTES``.

Every other route (a login form, a settings form) is held to ``DEFAULT_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from anyio import to_thread
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fieldlab.web.accounts import Session

ANONYMOUS_BYTES = 16 * 1024  # a login form is a few hundred bytes
DEFAULT_BYTES = 64 * 1024  # the largest ordinary form: three 4,000-character fields, percent-encoded


@dataclass(frozen=True)
class BodyLimit:
    """A route allowed more than ``DEFAULT_BYTES``, to a signed-in user who may ``permission``."""

    method: str
    path: str
    max_bytes: int
    permission: str


class _TooLarge(Exception):
    pass


class BodyLimits:
    """The middleware, added last so it runs first.  ``session_of`` finds a request's live session from its cookie;
    the middleware's own answers carry the app's security headers (``headers``), as every response must."""

    def __init__(self, app: ASGIApp, limits: tuple[BodyLimit, ...], headers: dict[str, str],
                 session_of: Callable[[HTTPConnection], Session | None]) -> None:
        self.app, self.headers, self.session_of = app, headers, session_of
        self.limits = {(limit.method, limit.path): limit for limit in limits}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        try:
            declared = _content_length(connection.headers.get("content-length"))
        except ValueError:
            await self._answer(scope, receive, send, 400, "the Content-Length header is not a number")
            return
        allowed, refusal = await self._allowed(connection, declared)
        if refusal is not None:
            await self._answer(scope, receive, send, *refusal)
            return
        if declared is not None and declared > allowed:
            await self._answer(scope, receive, send, 413, _too_large(allowed))
            return
        received, too_large, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > allowed:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:  # whatever the app made of the cut-off body, the answer is 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not too_large or started:
                raise
        if too_large and not started:
            await self._answer(scope, receive, send, 413, _too_large(allowed))

    async def _allowed(self, connection: HTTPConnection, declared: int | None) -> tuple[int, tuple[int, str] | None]:
        """The bytes this request may send, or the refusal (status, message) if it may not send them at all."""
        limit = self.limits.get((connection.scope["method"], connection.scope["path"]))
        if limit is None:
            return DEFAULT_BYTES, None
        if declared is not None and declared <= ANONYMOUS_BYTES:
            return ANONYMOUS_BYTES, None  # small enough to let the route's own checks answer
        session = await to_thread.run_sync(self.session_of, connection)
        if session is None:
            return ANONYMOUS_BYTES, (401, "log in first")
        if not session.user.can(limit.permission):
            return ANONYMOUS_BYTES, (403, f"your role ({session.user.role}) may not do this")
        return limit.max_bytes, None

    async def _answer(self, scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        # the connection is closed after the answer: the rest of a refused body is never read
        response = PlainTextResponse(message, status_code=status, headers={**self.headers, "Connection": "close"})
        await response(scope, receive, send)


def _content_length(header: str | None) -> int | None:
    if header is None:
        return None
    value = int(header)
    if value < 0:
        raise ValueError(header)
    return value


def _too_large(allowed: int) -> str:
    shown = f"{allowed // 2**20} MiB" if allowed >= 2**20 else f"{allowed // 1024} KiB"
    return f"the request is larger than this page accepts ({shown})"
