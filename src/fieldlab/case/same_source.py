"""One source scanned under two exhibit references would count its pictures twice: refused, unless meant.

Two sources are the same when any of these holds (the refusal says which):

- the same path once links are resolved, or the same file through another path (device and inode);
- a folder or a phone file inside a folder already scanned, or a folder holding one (their pictures overlap);
- a file of one differencing chain is a file of the other (a snapshot and its parent);
- the same acquisition hash (MD5 or SHA-1 stored in an E01), or the media hash an earlier scan verified;
- the same device: a block device with the same ``/dev/disk/by-id`` name, or an image whose acquisition headers
  give the same model and serial number (two acquisitions of one disk).

A second copy on purpose (a re-acquisition to compare, a backup of the same phone) is accepted when the examiner
says so (``scan --second-copy``), and the audit trail records which exhibit it copies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fieldlab.case.schema import exhibits
from fieldlab.case.store import CaseError, CaseStore


@dataclass(frozen=True)
class SourceIdentity:
    path: Path  # resolved
    kind: str  # folder | image | file
    files: frozenset[tuple[int, int]]  # (device, inode) of the source file and every file of its chain
    hashes: frozenset[str]  # "md5:<hex>", "sha1:<hex>" of the media
    devices: frozenset[str]  # "by-id:<name>", "serial:<model>/<serial>"


def source_identity(source: str, kind: str, facts: dict | None = None, *, hash_detail: dict | None = None
                    ) -> SourceIdentity:
    """What identifies a source, from its path and what the scan recorded of it (``exhibits.facts``,
    ``exhibits.hash_detail``; for a new source, the facts just read)."""
    container: dict[str, Any] = (facts or {}).get("container") or {}
    paths = [source, *(str(link.get("path", "")) for link in list(container.get("chain") or [])[1:])]
    files = frozenset(key for key in map(_file_key, paths) if key is not None)
    hashes = {f"{k}:{str(v).lower()}" for k, v in (container.get("stored_hashes") or {}).items()
              if k in ("md5", "sha1") and v}
    hashes |= {f"{k}:{str(v).lower()}" for k, v in ((hash_detail or {}).get("computed") or {}).items()
               if k in ("md5", "sha1") and v}
    devices = {f"by-id:{name}" for name in container.get("device_ids") or []}
    headers = container.get("headers") or {}
    if str(headers.get("serial_number") or "").strip():
        devices.add(f"serial:{str(headers.get('model') or '').strip()}/{str(headers['serial_number']).strip()}")
    return SourceIdentity(Path(source).resolve(), kind, files, frozenset(hashes), frozenset(devices))


def why_same(new: SourceIdentity, old: SourceIdentity) -> str | None:
    """Why ``new`` is the source ``old`` already is (a sentence), or None when they are different sources."""
    if new.path == old.path:
        return "it is the same path"
    if new.files & old.files:
        return "it is the same file (or a file of the same differencing chain) through another path"
    for outer, inner in ((old, new), (new, old)):
        if outer.kind == "folder" and inner.kind in ("folder", "file") and inner.path.is_relative_to(outer.path):
            return f"{inner.path} is inside the folder {outer.path}: their files overlap"
    if same := sorted(new.hashes & old.hashes):
        return f"the media has the same hash ({same[0].replace(':', ' ', 1)})"
    if same := sorted(new.devices & old.devices):
        return f"it is the same device ({same[0].replace(':', ' ', 1)})"
    return None


def refuse_second_copy(store: CaseStore, new: SourceIdentity, *, second_copy: bool) -> str | None:
    """CaseError naming the exhibit already made from this source, unless ``second_copy``; then that exhibit's ref
    (for the audit trail), or None when the source is new to the case."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(exhibits.c.ref, exhibits.c.source, exhibits.c.source_kind, exhibits.c.facts,
                                   exhibits.c.hash_detail).order_by(exhibits.c.id)).all()
    for row in rows:
        known = source_identity(row.source, row.source_kind, _json(row.facts), hash_detail=_json(row.hash_detail))
        reason = why_same(new, known)
        if reason is None:
            continue
        if second_copy:
            return row.ref
        raise CaseError(
            f"{new.path} was already scanned as exhibit {row.ref!r} ({row.source}): {reason}. Its pictures would "
            f"count twice. Resume that exhibit with --exhibit {row.ref}, or, if this is a second copy on purpose, "
            "add --second-copy"
        )
    return None


def _json(text: str | None) -> dict | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _file_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
