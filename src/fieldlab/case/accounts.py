"""The accounts and review-app sessions tables: rows in, rows out.

The same tables serve a case and the operations database (``ops.schema`` copies their definitions), so every
function takes anything with an ``engine``.  Passwords arrive here already hashed, session tokens as their SHA-256:
what a login means, and who may do what, is ``web.accounts``'s to decide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, delete, insert, select, update

from fieldlab.case.schema import examiner_settings, exposure_log, users, web_sessions
from fieldlab.errors import CaseError
from fieldlab.sql import inserted_id


class HasEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


class NameTaken(CaseError):
    """Another account has this name (compared as the caller's key says)."""

    def __init__(self, existing: str) -> None:
        super().__init__(f"there is already a user named {existing!r}")
        self.existing = existing


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    password_hash: str
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class SessionRow:
    token_hash: str
    csrf_token: str
    created_at: float
    last_seen: float
    user: UserRow


def insert_user(store: HasEngine, name: str, role: str, *, password_hash: str, created_at: float,
                key: Callable[[str], str]) -> int:
    """The new account's id; NameTaken when an account's name has the same ``key`` (checked in the same
    transaction, so two requests cannot both take a name)."""
    with store.engine.begin() as conn:
        taken = {key(n): n for (n,) in conn.execute(select(users.c.name))}
        if key(name) in taken:
            raise NameTaken(taken[key(name)])
        return inserted_id(conn.execute(insert(users).values(name=name, role=role, password_hash=password_hash,
                                                             created_at=created_at, disabled=False)))


def all_users(store: HasEngine) -> list[UserRow]:
    """Every account, by name."""
    with store.engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def user_by_name(store: HasEngine, name: str) -> UserRow | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    return _user(row) if row is not None else None


def set_user_disabled(store: HasEngine, user_id: int, *, disabled: bool) -> UserRow | None:
    """The account as it was, now (dis)abled, its sessions ended when disabled; None when there is no such account."""
    with store.engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            return None
        conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))
        if disabled:
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
    return _user(row)


def set_password_hash(store: HasEngine, user_id: int, password_hash: str, *, end_sessions: bool) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
        if end_sessions:
            conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def delete_user_unless_exposed(store: HasEngine, user_id: int) -> bool:
    """Remove the account with its sessions and settings, unless the exposure log names it (False: kept)."""
    with store.engine.begin() as conn:
        if conn.execute(select(exposure_log.c.id).where(exposure_log.c.user_id == user_id).limit(1)).first():
            return False
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
        conn.execute(delete(examiner_settings).where(examiner_settings.c.user_id == user_id))
        conn.execute(delete(users).where(users.c.id == user_id))
    return True


def insert_session(store: HasEngine, token_hash: str, user_id: int, *, csrf_token: str, now: float) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(web_sessions).values(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                                                 created_at=now, last_seen=now))


def session_by_hash(store: HasEngine, token_hash: str) -> SessionRow | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(web_sessions, users.c.name, users.c.role, users.c.password_hash, users.c.disabled,
                   users.c.created_at.label("user_created"))
            .join(users, users.c.id == web_sessions.c.user_id).where(web_sessions.c.token_hash == token_hash)
        ).first()
    if row is None:
        return None
    user = UserRow(row.user_id, row.name, row.role, row.password_hash, bool(row.disabled), row.user_created)
    return SessionRow(row.token_hash, row.csrf_token, row.created_at, row.last_seen, user)


def touch_session(store: HasEngine, token_hash: str, now: float) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(web_sessions).where(web_sessions.c.token_hash == token_hash).values(last_seen=now))


def delete_session(store: HasEngine, token_hash: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))


def live_session_hashes(store: HasEngine) -> set[str]:
    """The token hashes of every session not yet ended."""
    with store.engine.connect() as conn:
        return set(conn.execute(select(web_sessions.c.token_hash)).scalars())


def _user(row) -> UserRow:  # noqa: ANN001 - a SQLAlchemy row of users
    return UserRow(row.id, row.name, row.role, row.password_hash, bool(row.disabled), row.created_at)
