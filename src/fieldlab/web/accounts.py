"""Review-app accounts and sessions, kept in the case database.

Passwords are hashed with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes),
never stored or logged.  A session is a random token in an HttpOnly cookie; the
database keeps only its SHA-256, so a copy of the case folder cannot be used to
log in.  Each session carries its own CSRF token, which every state-changing
request must echo.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fieldlab.case import accounts as stored
from fieldlab.case.audit import AuditLog
from fieldlab.errors import WebError
from fieldlab.web.permissions import OPS_ROLES, ROLES, role_may  # noqa: F401 - the roles, for callers of add_user

MIN_PASSWORD = 10
IDLE_SECONDS = 30 * 60  # a session unused this long ends
MAX_SECONDS = 12 * 3600  # and any session ends after a shift
_SEEN_WRITE_EVERY = 60.0  # last_seen is written at most this often: readers should not contend with a scan

HASHING_AT_ONCE = 2  # argon2id takes 64 MiB and a core for ~0.1 s: 40 logins at once took 3 GiB and the CPU
HASHING_WAIT_SECONDS = 10.0  # a login waits this long for its turn, then is told the server is busy

_hasher = PasswordHasher()
_hashing = threading.BoundedSemaphore(HASHING_AT_ONCE)


@functools.cache
def _dummy_hash() -> str:
    """What an unknown name's password is checked against.  Made on first use, not at import: argon2id costs
    64 MiB and ~0.1 s of a core (several times that on a loaded machine), which every ``fieldlab serve`` and
    ``fieldlab user`` paid before it could start."""
    return _hasher.hash("not a real password, compared against when the name is unknown")


class AccountError(WebError):
    """An account cannot be created or changed as asked; the message says why."""


class ServerBusy(WebError):
    """Too many passwords are being checked at once; the caller should try again in a moment."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool = False
    created_at: float = 0.0

    def can(self, permission: str) -> bool:
        return not self.disabled and role_may(self.role, permission)


class AccountStore(stored.HasEngine, Protocol):
    """Where accounts live: a case or the operations database, anything with the ``users`` table and an audit log."""

    @property
    def audit(self) -> AuditLog: ...


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    token_hash: str
    created_at: float


def canonical_name(typed: str) -> str:
    """The one form of a user name that accounts, logging in and throttling all use: NFKC (so a full-width or
    compatibility form is the plain letter, and every Unicode space is a space), then trimmed.
    Case is kept: names are stored as written, and ``name_key`` compares them without it."""
    return unicodedata.normalize("NFKC", typed).strip()


def name_key(typed: str) -> str:
    """The name without case: two accounts may not share it, and failed logins are counted against it, so no
    spelling of a name (``Examiner2``, `` examiner2``, full-width letters) gets a fresh set of tries."""
    return canonical_name(typed).casefold()


def add_user(store: AccountStore, name: str, role: str, *, password: str, actor: str | None = None,
             roles: tuple[str, ...] = ROLES) -> User:
    """A new account; ``store`` is a case or the operations database (``roles=OPS_ROLES``): anything with the
    ``users`` table and an audit log."""
    name = canonical_name(name)
    if not name or len(name) > 200 or any(unicodedata.category(c)[0] in "CZ" and c != " " for c in name):
        raise AccountError("a user name is 1-200 printable characters (letters, digits, punctuation, spaces)")
    if role not in roles:
        raise AccountError(f"role must be one of {', '.join(roles)}")
    check_password(password)
    now = time.time()
    try:
        new_id = stored.insert_user(store, name, role, password_hash=_hasher.hash(password), created_at=now,
                                    key=name_key)
    except stored.NameTaken as exc:
        raise AccountError(str(exc)) from None
    store.audit.append("user_added", {"user": name, "role": role}, actor=actor)
    return User(new_id, name, role, False, now)


def list_users(store: AccountStore) -> list[User]:
    return [_user(r) for r in stored.all_users(store)]


def set_disabled(store: AccountStore, user_id: int, *, disabled: bool, actor: str) -> User:
    row = stored.set_user_disabled(store, user_id, disabled=disabled)
    if row is None:
        raise AccountError(f"no user with id {user_id}")
    store.audit.append("user_disabled" if disabled else "user_enabled", {"user": row.name}, actor=actor)
    return User(row.id, row.name, row.role, disabled, row.created_at)


def user_named(store: AccountStore, name: str) -> User:
    row = stored.user_by_name(store, name.strip())
    if row is None:
        raise AccountError(f"no user named {name.strip()!r}")
    return _user(row)


def check_password(password: str) -> None:
    """Said before the password is typed a second time, not after."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")


def set_password(store: AccountStore, name: str, password: str, *, actor: str | None = None) -> User:
    """A new password (forgotten, or given away); the account's open sessions end."""
    check_password(password)
    user = user_named(store, name)
    stored.set_password_hash(store, user.id, _hasher.hash(password), end_sessions=True)
    store.audit.append("password_reset", {"user": user.name}, actor=actor)
    return user


def remove_user(store: AccountStore, name: str, actor: str | None = None) -> User:
    """Removes an account that never saw a picture. One that did is named by the exposure log, which is kept for
    the examiner's welfare and for the court: such an account can only be disabled."""
    user = user_named(store, name)
    if not stored.delete_user_unless_exposed(store, user.id):
        raise AccountError(f"{user.name!r} has viewed pictures of this case and the exposure log keeps their "
                           "account: disable it instead (fieldlab user disable)")
    store.audit.append("user_removed", {"user": user.name, "role": user.role}, actor=actor)
    return user


def authenticate(store: AccountStore, name: str, password: str) -> User | None:
    """The user, if the name and password are right and the account is enabled; the same work is done for an
    unknown name, so timing does not tell which names exist.  At most ``HASHING_AT_ONCE`` passwords are checked
    at a time in this process (memory and CPU stay bounded under a flood); ServerBusy after waiting too long."""
    row = stored.user_by_name(store, canonical_name(name))
    if not _hashing.acquire(timeout=HASHING_WAIT_SECONDS):
        raise ServerBusy("the server is checking other logins: try again in a moment")
    try:
        dummy = _dummy_hash()  # made by the first login whatever its name, within the bound on hashing at once
        _hasher.verify(row.password_hash if row is not None else dummy, password)
    except (VerificationError, InvalidHashError):
        return None
    finally:
        _hashing.release()
    if row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        stored.set_password_hash(store, row.id, _hasher.hash(password), end_sessions=False)
    return User(row.id, row.name, row.role, False, row.created_at)


def start_session(store: AccountStore, user: User) -> tuple[str, Session]:
    """A new session: the token for the cookie, and what the server keeps."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    session = Session(user, secrets.token_urlsafe(32), _digest(token), now)
    stored.insert_session(store, session.token_hash, user.id, csrf_token=session.csrf_token, now=now)
    return token, session


def session_for(store: AccountStore, token: str | None, *, idle_seconds: float = IDLE_SECONDS,
                max_seconds: float = MAX_SECONDS) -> Session | None:
    """The live session of ``token``; an expired one is removed and None returned."""
    if not token or len(token) > 100:
        return None
    token_hash = _digest(token)
    now = time.time()
    row = stored.session_by_hash(store, token_hash)
    if row is None:
        return None
    if row.user.disabled or now - row.last_seen > idle_seconds or now - row.created_at > max_seconds:
        end_session(store, token)
        return None
    if now - row.last_seen > _SEEN_WRITE_EVERY:
        stored.touch_session(store, token_hash, now)
    return Session(_user(row.user), row.csrf_token, token_hash, row.created_at)


def end_session(store: AccountStore, token: str) -> None:
    stored.delete_session(store, _digest(token))


def csrf_matches(session: Session, offered: str | None) -> bool:
    return offered is not None and bool(offered) and secrets.compare_digest(session.csrf_token.encode(), offered.encode())


def _user(row: stored.UserRow) -> User:
    return User(row.id, row.name, row.role, row.disabled, row.created_at)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
