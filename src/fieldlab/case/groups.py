"""Near-duplicate groups of a case's pictures: resized, recompressed and edited copies of one picture, together.

An examiner categorises a group at once instead of each copy; a group that
holds a known or near-matched picture brings its unknown members forward for
review.  Groups are the connected components of "within ``radius`` bits"
over the case's PDQ hashes (quality >= 50), found with the same exact
near-match index as the hash sets, so a case of a million pictures is grouped
without comparing every pair.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select

from fieldlab.case.schema import media, media_groups
from fieldlab.case.store import CaseStore
from fieldlab.hashsets.near import PdqIndex, build_index
from fieldlab.hashsets.videos import MIN_QUALITY


@dataclass(frozen=True)
class GroupSummary:
    groups: int  # of two or more pictures
    grouped_items: int
    largest: int


def group_pictures(store: CaseStore, radius: int = 31) -> GroupSummary:
    """Recompute the case's groups (all exhibits together: copies move between devices) and store them."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(media.c.item_id, media.c.pdq)
            .where(media.c.kind == "image", media.c.pdq.is_not(None), media.c.pdq_quality >= MIN_QUALITY)
            .order_by(media.c.item_id)
        ).all()
    item_ids = np.array([r.item_id for r in rows], dtype=np.int64)
    hashes = np.frombuffer(bytes.fromhex("".join(r.pdq for r in rows)), dtype=np.uint8).reshape(-1, 32)
    roots = _components(hashes, radius)
    members = np.bincount(roots, minlength=len(roots)) if len(roots) else np.zeros(0, np.int64)
    grouped = members[roots] > 1 if len(roots) else np.zeros(0, bool)
    # a group is named by its first item (the smallest id): roots are the smallest index of each component
    records = [{"item_id": int(i), "group_id": int(item_ids[r]), "radius": radius}
               for i, r in zip(item_ids[grouped], roots[grouped])]
    with store.engine.begin() as conn:
        conn.execute(delete(media_groups))
        if records:
            conn.execute(media_groups.insert(), records)
    store.audit.append("pictures_grouped", {"radius": radius, "pictures": len(rows), "groups": int(np.count_nonzero(members > 1))})
    return GroupSummary(int(np.count_nonzero(members > 1)), len(records), int(members.max()) if len(members) else 0)


def _components(hashes: np.ndarray, radius: int) -> np.ndarray:
    """Per hash, the smallest index of its connected component (union-find over all pairs within ``radius``)."""
    parent = np.arange(len(hashes))
    if len(hashes) < 2:
        return parent
    with tempfile.TemporaryDirectory(prefix="fieldlab-groups-") as folder:
        build_index(Path(folder), hashes)
        near = PdqIndex.load(Path(folder), hashes).search(hashes, radius)
    pairs = [(int(a), int(b)) for a, b in zip(near.query, near.entry) if a != b]

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(x) for x in range(len(parent))])


def group_of(store: CaseStore, item_id: int) -> list[int]:
    """Every item in ``item_id``'s group (just the item when it has none)."""
    with store.engine.connect() as conn:
        group = conn.execute(select(media_groups.c.group_id).where(media_groups.c.item_id == item_id)).scalar()
        if group is None:
            return [item_id]
        return [r.item_id for r in conn.execute(
            select(media_groups.c.item_id).where(media_groups.c.group_id == group).order_by(media_groups.c.item_id))]


def largest_groups(store: CaseStore, limit: int = 20) -> list[tuple[int, int]]:
    """(group id, members), biggest first."""
    with store.engine.connect() as conn:
        return [(r.group_id, r.members) for r in conn.execute(
            select(media_groups.c.group_id, func.count().label("members")).group_by(media_groups.c.group_id)
            .order_by(func.count().desc(), media_groups.c.group_id).limit(limit))]
