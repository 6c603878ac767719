"""What ``summary``, ``hits`` and the list of exhibits answer, and how their queries' rows become those answers.

A case is read two ways: through SQLAlchemy (``queries.py``, ``store.py``: any database, and a case an older
fieldlab made, brought up to date) and through the stdlib ``sqlite3`` module (``read_only.py``: the quick start of
``fieldlab summary`` and ``hits``).  Both run the same statements and hand their rows here, so one fold decides
every figure; this module imports no SQLAlchemy, so the quick path loads none.  A row is anything with the
statement's column names as attributes (SQLAlchemy's ``Row``, or the named tuple ``read_only`` makes).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from fieldlab.hashsets.profiles import PROFILES
from fieldlab.hashsets.records import EXACT_METHODS
from fieldlab.problems import ProblemKind

MEDIA_FAMILIES = ("image", "video")


@dataclass(frozen=True)
class Exhibit:
    id: int
    ref: str
    source: str
    source_kind: str
    walk_complete: bool
    parents: tuple[str, ...] = ()  # of a differencing image: the parent files opened with it, as recorded


def exhibit_from_row(row: Any) -> Exhibit:
    """An exhibit from a row of ``store.exhibits_query``."""
    return Exhibit(row.id, row.ref, row.source, row.source_kind, bool(row.walk_complete), recorded_parents(row.facts))


def recorded_parents(facts: str | None) -> tuple[str, ...]:
    """The parents of a differencing image as its exhibit's facts record them (the chain past the child)."""
    try:
        chain = json.loads(facts or "{}").get("container", {}).get("chain") or []
        return tuple(str(link["path"]) for link in chain[1:])
    except (ValueError, AttributeError, TypeError, KeyError):
        return ()


@dataclass
class ExhibitCounts:
    ref: str
    source: str
    files: int = 0  # regular files listed
    bytes: int = 0
    files_read: int = 0  # read and hashed, failed with an error, or nothing on the disk to read (cloud-only)
    bytes_read: int = 0
    media: int = 0
    links: int = 0
    special: int = 0
    extension_mismatches: int = 0
    problems: Counter[str] = field(default_factory=Counter)  # recorded problems by kind (fieldlab.problems.ProblemKind)
    hit_items: int = 0
    hits_by_category: Counter[str] = field(default_factory=Counter)  # exact matches: each item once, under its deciding category
    media_decoded: int = 0  # pictures and videos perceptually hashed or found undecodable
    near_items: int = 0  # items with a PDQ/vPDQ match and no exact one: indicative until confirmed
    near_by_category: Counter[str] = field(default_factory=Counter)
    deleted: int = 0  # deleted user files with content or a name (names whose content is gone included)
    deleted_names_only: int = 0  # of those, names whose metadata and content are gone
    pseudo_entries: int = 0  # file-system records TSK lists like files (reserved MFT records, exFAT labels): not counted
    cloud_only: int = 0  # cloud placeholders (OneDrive): listed, their content held by the provider, not on the disk
    known_good: int = 0  # matched a known-good set: left out of review and of the counts
    walk_complete: bool = False
    finished: bool = False
    hash_state: str | None = None  # of the evidence media, for disk images

    @property
    def errors(self) -> int:
        """Problems that may leave findings incomplete: every kind but ``normal``."""
        return error_count(self.problems)


def error_count(problems: Counter[str]) -> int:
    return sum(n for kind, n in problems.items() if ProblemKind(kind).is_error)


def stored_kind(text: str) -> ProblemKind:
    """A kind as the errors table holds it."""
    try:
        return ProblemKind(text)
    except ValueError:  # written by a later fieldlab: shown as what it most likely is, never dropped
        return ProblemKind.INTERNAL


def deciding_category(labels: list[tuple[int, str, str]]) -> str:
    """An item's category when sets disagree: the most trusted set's (``hashset trust``), then the most serious.

    Every set's own category stays recorded on its hit, for the report's provenance.
    """
    def rank(entry: tuple[int, str, str]) -> tuple[int, int]:
        trust, profile, category = entry
        return trust, PROFILES[profile].severity(category) if profile in PROFILES else 99

    return min(labels, key=rank)[2]


def fold_exhibit_counts(
    totals: Iterable[Any], *, problems: Iterable[Any], decoded: Iterable[Any], hit_labels: Iterable[Any],
) -> list[ExhibitCounts]:
    """Each exhibit's counts from the rows of ``queries.exhibit_count_queries``: per-exhibit totals, problems by
    exhibit and kind, decoded media by exhibit, and every hit's labels (each item counted once, under its deciding
    category; a near match only for an item without an exact one)."""
    problem_counts: dict[int, Counter[str]] = {}
    for ex_id, kind, n in problems:
        problem_counts.setdefault(ex_id, Counter())[stored_kind(kind).value] += n
    decoded_by_exhibit = {ex_id: n for ex_id, n in decoded}
    per_item: dict[tuple[int, int], list[tuple[int, str, str]]] = {}
    near_per_item: dict[tuple[int, int], list[tuple[int, str, str]]] = {}
    for r in hit_labels:
        chosen = per_item if r.method in EXACT_METHODS else near_per_item
        chosen.setdefault((r.exhibit_id, r.item_id), []).append((r.trust_rank, r.profile, r.category))
    result = []
    for r in totals:
        counts = ExhibitCounts(
            ref=r.ref, source=r.source, files=r.files, bytes=r.bytes, files_read=r.files_read, bytes_read=r.bytes_read,
            media=r.media, links=r.links, special=r.special, extension_mismatches=r.mismatches,
            problems=problem_counts.get(r.id, Counter()), walk_complete=bool(r.walk_complete),
            finished=r.scan_finished_at is not None, deleted=r.deleted, deleted_names_only=r.names_only,
            pseudo_entries=r.pseudo, cloud_only=r.cloud_only, known_good=r.known_good, hash_state=r.hash_state,
            media_decoded=decoded_by_exhibit.get(r.id, 0),
        )
        for (ex_id, _item), labels in per_item.items():
            if ex_id == r.id:
                counts.hit_items += 1
                counts.hits_by_category[deciding_category(labels)] += 1
        for key, labels in near_per_item.items():
            if key[0] == r.id and key not in per_item:
                counts.near_items += 1
                counts.near_by_category[deciding_category(labels)] += 1
        result.append(counts)
    return result


@dataclass(frozen=True)
class HitRow:
    exhibit: str
    item_id: int  # what ``fieldlab categorise`` and the review app take
    locator: str
    path: str
    size: int
    file_type: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    category: str
    profile: str
    hash_set: str
    hash_set_sha256: str
    method: str
    mtime: float | None
    distance: int | None  # pdq: differing bits; vpdq: percent of the known video's seconds matched
    transform: str | None  # pdq: the rotation or mirror of the item that matched
    matched_hash: str | None  # pdq: the known hash; vpdq: the known video
    origin: str | None = None  # the path on the phone, where a backup manifest or extraction report gives it
    app: str | None = None  # whose folder holds it (WhatsApp, a vault app...)
    place: str | None = None  # camera, trash, hidden, thumbnails, downloads...


def hit_from_row(r: Any) -> HitRow:
    """A hit from a row of ``queries.hits_query``."""
    return HitRow(
        exhibit=r.ref, item_id=r.id, locator=r.locator, path=r.path, size=r.size, file_type=r.file_type, md5=r.md5,
        sha1=r.sha1, sha256=r.sha256, category=r.category, profile=r.profile, hash_set=r.hash_set,
        hash_set_sha256=r.hash_set_sha256, method=r.method, mtime=r.mtime, distance=r.distance,
        transform=r.transform, matched_hash=r.matched_hash, origin=r.origin, app=r.app, place=r.place,
    )
