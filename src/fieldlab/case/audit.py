"""Append-only, hash-chained audit trail of everything done to a case.

Each entry carries the SHA-256 of the previous one, so editing or removing an
entry breaks the chain.  Removing entries from the end leaves a valid but
shorter chain, so the newest entry's number and hash are also kept outside the
database (``audit.head`` in the case folder, and in every report): a log
shorter or different from its head is reported as tampered.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, text

from fieldlab import __version__
from fieldlab.case.private import write_private_bytes
from fieldlab.case.schema import audit_log

GENESIS = "0" * 64
HEAD_FILE = "audit.head"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    detail: dict
    tool_version: str
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    entries: int
    problem: str | None = None  # what is wrong and where, for the examiner


def current_actor() -> str:
    """Who is acting: the examiner named in FIELDLAB_EXAMINER, else the operating-system user."""
    name = os.environ.get("FIELDLAB_EXAMINER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def _entry_hash(seq: int, at: str, actor: str, action: str, detail_json: str, tool_version: str, prev: str) -> str:
    payload = json.dumps([seq, at, actor, action, detail_json, tool_version, prev], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, engine: Engine, case_dir: Path | None) -> None:
        """``case_dir`` holds the head file; None (a database server, no folder of its own) keeps no head file."""
        self._engine = engine
        self._head_path = case_dir / HEAD_FILE if case_dir is not None else None

    def append(self, action: str, detail: dict, actor: str | None = None) -> AuditEntry:
        with self._engine.begin() as conn:
            entry = self.append_in(conn, action, detail, actor)
        self.record_head(entry)
        return entry

    def append_in(self, conn: Connection, action: str, detail: dict, actor: str | None = None) -> AuditEntry:
        """The entry, written in the caller's transaction (so a change and its entry commit together); call
        ``record_head`` once that transaction has committed."""
        actor = actor or current_actor()
        detail_json = json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str)
        at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        if conn.dialect.name == "postgresql":  # writers in other processes wait: the chain has one next entry
            conn.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
        last = conn.execute(select(audit_log.c.seq, audit_log.c.entry_hash).order_by(audit_log.c.seq.desc()).limit(1)).first()
        seq, prev = (last.seq + 1, last.entry_hash) if last else (1, GENESIS)
        digest = _entry_hash(seq, at, actor, action, detail_json, __version__, prev)
        conn.execute(
            insert(audit_log).values(
                seq=seq, at=at, actor=actor, action=action, detail=detail_json,
                tool_version=__version__, prev_hash=prev, entry_hash=digest,
            )
        )
        return AuditEntry(seq, at, actor, action, detail, __version__, prev, digest)

    def record_head(self, entry: AuditEntry) -> None:
        if self._head_path is not None:
            self._write_head(self._head_path, entry.seq, entry.entry_hash)

    def entries(self) -> list[AuditEntry]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
        return [
            AuditEntry(r.seq, r.at, r.actor, r.action, json.loads(r.detail), r.tool_version, r.prev_hash, r.entry_hash)
            for r in rows
        ]

    def head(self) -> tuple[int, str] | None:
        if self._head_path is None:
            return None
        try:
            seq, digest = self._head_path.read_text(encoding="ascii").split()
            return int(seq), digest
        except (FileNotFoundError, ValueError):
            return None

    def verify(self) -> AuditVerification:
        prev, expected_seq, count = GENESIS, 1, 0
        with self._engine.connect() as conn:
            for r in conn.execute(select(audit_log).order_by(audit_log.c.seq)):
                count += 1
                if r.seq != expected_seq:
                    return AuditVerification(False, count, f"entry {expected_seq} is missing (next is {r.seq})")
                if r.prev_hash != prev:
                    return AuditVerification(False, count, f"entry {r.seq} does not follow entry {r.seq - 1}")
                if _entry_hash(r.seq, r.at, r.actor, r.action, r.detail, r.tool_version, r.prev_hash) != r.entry_hash:
                    return AuditVerification(False, count, f"entry {r.seq} was altered after it was written")
                prev, expected_seq = r.entry_hash, expected_seq + 1
        head = self.head()
        last = (expected_seq - 1, prev)
        if head is None and count and self._head_path is not None:
            return AuditVerification(False, count, f"{HEAD_FILE} is missing: the end of the log cannot be checked")
        if head is not None and head != last:
            return AuditVerification(
                False, count, f"the log ends at entry {last[0]} but {HEAD_FILE} records entry {head[0]}: entries were removed or replaced"
            )
        return AuditVerification(True, count)

    @staticmethod
    def _write_head(path: Path, seq: int, digest: str) -> None:
        tmp = path.with_suffix(".tmp")
        write_private_bytes(tmp, f"{seq} {digest}\n".encode("ascii"))
        os.replace(tmp, path)

