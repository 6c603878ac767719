"""The charging table: how many indecent images of each category the case holds, counted the way a prosecutor
can defend.

What is counted is *content*, not files: copies of one picture (same SHA-1, or MD5 where SHA-1 is missing) on
one device or across devices are one image, with the number of copies beside it.  Each image is counted once, in
exactly one of three columns that are never added together:

- ``hash set``: its bytes match a hash set's categorised record (the most trusted set decides a disagreement, as
  everywhere else), and no examiner in this case put it in another category;
- ``examiner``: an examiner in this case categorised it (new material, or an examiner overruling a set);
- ``indicative``: only a perceptual near match, or only a thumbnail nobody has confirmed: a lead for review, not
  a count for the indictment.

An examiner's "not indecent" removes an image from every column (the count of those is reported).  Stills and
movies are counted apart.  For each image the table also says whether any copy is live (a file the file system
lists, not deleted), or only deleted or carved copies exist, or only thumbnails: possession of images a user can
no longer reach, and "making" versus "possessing", turn on it.  Known-good items and carved copies of files the
file system still lists (``duplicate``) are never counted.

Everything is sorted, so the same case gives the same table, row for row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from fieldlab.case.matched_items import MatchedItem, iter_profile_hits, iter_standing_decisions
from fieldlab.case.read_rows import deciding_category
from fieldlab.case.store import EXACT_METHODS, CaseStore
from fieldlab.evidence.item import ItemFlag, parsed_flags
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED, Profile

BASES = ("hash set", "examiner", "indicative")
MEDIUMS = ("still", "movie", "other")
TOTAL = "All exhibits"
_GONE = frozenset({"deleted", "carved", "unallocated", "orphan", "reallocated"})


@dataclass(frozen=True)
class CountedItem:
    """One copy (location) of a counted image, with how it was matched: the report's list of every counted item."""

    item_id: int
    exhibit: str
    locator: str
    path: str
    origin: str | None
    size: int
    md5: str | None
    sha1: str | None
    sha256: str | None
    mtime: float | None
    atime: float | None
    ctime: float | None
    btime: float | None
    flags: tuple[str, ...]
    medium: str
    content: str  # the key copies share: "sha1:<hex>", "md5:<hex>", or "item:<id>" with no digest
    category: str
    basis: str  # one of BASES
    how: str  # "md5 in <set>", "pdq distance 12 in <set>", "examiner <name>"...
    hash_set: str | None
    hash_set_sha256: str | None
    distance: int | None
    examiner: str | None


@dataclass(frozen=True)
class ChargingRow:
    scope: str  # an exhibit's reference, or TOTAL
    basis: str
    medium: str
    category: str
    images: int  # distinct contents
    copies: int  # items holding them
    live: int  # images with at least one live copy
    deleted_or_carved_only: int
    thumbnail_only: int


@dataclass
class ChargingTable:
    profile: str
    categories: tuple[str, ...]  # the profile's indecent labels, most serious first, then "uncategorised"
    rows: list[ChargingRow] = field(default_factory=list)
    items: list[CountedItem] = field(default_factory=list)
    not_indecent: int = 0  # images an examiner or every matching set called not indecent: not counted
    exhibits: tuple[str, ...] = ()

    def cell(self, scope: str, basis: str, medium: str, category: str) -> ChargingRow | None:
        return next((r for r in self.rows if (r.scope, r.basis, r.medium, r.category) == (scope, basis, medium,
                                                                                        category)), None)

    def images(self, scope: str, basis: str, medium: str, category: str) -> int:
        row = self.cell(scope, basis, medium, category)
        return row.images if row else 0


@dataclass
class _Item:
    id: int
    exhibit: str
    row: MatchedItem
    medium: str
    exact: list[tuple[int, str, str, str, str, str]] = field(default_factory=list)  # trust, profile, category, set, sha, method
    near: list[tuple[int, str, str, str, str, int | None, str]] = field(default_factory=list)
    decision: tuple[int, str, str, float] | None = None  # decision id, category, examiner, at


def charging_table(store: CaseStore, profile_name: str = "uk") -> ChargingTable:
    profile = PROFILES[profile_name]
    found = _items_of_interest(store, profile.name)
    by_content: dict[str, list[_Item]] = defaultdict(list)
    for item in found.values():
        by_content[_content_key(item)].append(item)
    table = ChargingTable(profile.name, (*sorted(profile.indecent, key=profile.severity), UNCATEGORISED))
    table.exhibits = tuple(sorted({i.exhibit for i in found.values()}))
    cells: dict[tuple[str, str, str, str], list[tuple[str, list[_Item]]]] = defaultdict(list)
    for content, copies in sorted(by_content.items()):
        judged = _judge(copies, profile)
        if judged is None:
            table.not_indecent += 1
            continue
        basis, category, how = judged
        medium = _medium(copies)
        for copy in copies:
            table.items.append(_counted(copy, content, medium, category, basis, how))
        for scope in sorted({c.exhibit for c in copies}) + [TOTAL]:
            in_scope = [c for c in copies if scope == TOTAL or c.exhibit == scope]
            cells[(scope, basis, medium, category)].append((content, in_scope))
    for key in sorted(cells, key=lambda k: (k[0] == TOTAL, k[0], BASES.index(k[1]), MEDIUMS.index(k[2]),
                                             profile.severity(k[3]))):
        entries = cells[key]
        states = [_state(copies) for _, copies in entries]
        table.rows.append(ChargingRow(*key, images=len(entries), copies=sum(len(c) for _, c in entries),
                                      live=states.count("live"), deleted_or_carved_only=states.count("gone"),
                                      thumbnail_only=states.count("thumbnail")))
    table.items.sort(key=lambda i: (i.exhibit, i.basis != "hash set", profile.severity(i.category), i.content, i.item_id))
    return table


def _judge(copies: list[_Item], profile: Profile) -> tuple[str, str, str] | None:
    """(basis, category, how) for one image; None when it is not to be counted (judged not indecent)."""
    decided = max((c.decision for c in copies if c.decision), default=None)
    exact = [e for c in copies for e in c.exact]
    near = [n for c in copies for n in c.near]
    all_thumbnails = all("thumbnail" in _flags(c) for c in copies)
    if decided is not None:
        _, category, examiner, _ = decided
        if category not in profile.indecent:
            return None
        if exact and not all_thumbnails and _deciding(exact) == category:
            return "hash set", category, _how_exact(exact) + f"; confirmed by examiner {examiner}"
        return "examiner", category, f"examiner {examiner}"
    if exact and not all_thumbnails:
        category = _deciding(exact)
        if category in profile.indecent or category == UNCATEGORISED:
            return "hash set", category, _how_exact(exact)
        return None
    labels = exact + [(t, p, c, s, h) for t, p, c, s, h, _, _ in near]
    if not labels:
        return None
    category = _deciding(labels)
    if category not in profile.indecent and category != UNCATEGORISED:
        return None
    if exact:
        return "indicative", category, _how_exact(exact) + " (thumbnail only, not confirmed)"
    best = min(near, key=lambda n: (n[5] if n[5] is not None else 99, n[3]))
    return "indicative", category, f"{best[6]} distance {best[5]} in {best[3]}"


def _deciding(labels: Iterable[tuple]) -> str:
    return deciding_category([(trust, profile, category) for trust, profile, category, *_ in labels])


def _how_exact(exact: list[tuple[int, str, str, str, str, str]]) -> str:
    name = min(exact, key=lambda e: (e[0], e[3]))[3]
    return f"{'/'.join(sorted({e[5] for e in exact}))} in {name}"


def _state(copies: list[_Item]) -> str:
    if any(not (_flags(c) & (_GONE | {"thumbnail"})) for c in copies):
        return "live"
    if any("thumbnail" not in _flags(c) for c in copies):
        return "gone"
    return "thumbnail"


def _flags(item: _Item) -> frozenset[ItemFlag]:
    return parsed_flags(item.row.flags)


def _medium(copies: list[_Item]) -> str:
    mediums = {c.medium for c in copies}
    return next(m for m in MEDIUMS if m in mediums)


def _content_key(item: _Item) -> str:
    if item.row.sha1:
        return f"sha1:{item.row.sha1}"
    if item.row.md5:
        return f"md5:{item.row.md5}"
    return f"item:{item.id}"


def _counted(copy: _Item, content: str, medium: str, category: str, basis: str, how: str) -> CountedItem:
    r = copy.row
    best_exact = min(copy.exact, key=lambda e: (e[0], e[3]), default=None)
    best_near = min(copy.near, key=lambda n: (n[5] if n[5] is not None else 99, n[3]), default=None)
    chosen = best_exact or best_near
    return CountedItem(
        item_id=copy.id, exhibit=copy.exhibit, locator=r.locator, path=r.path, origin=r.origin, size=r.size,
        md5=r.md5, sha1=r.sha1, sha256=r.sha256, mtime=r.mtime, atime=r.atime, ctime=r.ctime, btime=r.btime,
        flags=tuple(sorted(flag.value for flag in _flags(copy))), medium=medium, content=content, category=category, basis=basis, how=how,
        hash_set=chosen[3] if chosen else None, hash_set_sha256=chosen[4] if chosen else None,
        distance=best_near[5] if best_near and not best_exact else None,
        examiner=copy.decision[2] if copy.decision else None,
    )


def _items_of_interest(store: CaseStore, profile: str) -> dict[int, _Item]:
    """Every item with a hit under ``profile`` or an examiner's decision under it, known-good and duplicates left out."""
    wanted: dict[int, _Item] = {}
    for h in iter_profile_hits(store, profile):
        item = _item(wanted, h.item)
        if item is None:
            continue
        if h.method in EXACT_METHODS:
            item.exact.append((h.trust_rank, h.profile, h.category, h.hash_set, h.hash_set_sha256, h.method))
        else:
            item.near.append((h.trust_rank, h.profile, h.category, h.hash_set, h.hash_set_sha256, h.distance,
                              h.method))
    for d in iter_standing_decisions(store, profile):
        item = _item(wanted, d.item)
        if item is not None:
            item.decision = (d.decision_id, d.category, d.examiner, d.at)
    return wanted


def _item(wanted: dict[int, _Item], row: MatchedItem) -> _Item | None:
    if row.known_good or ItemFlag.DUPLICATE in parsed_flags(row.flags):
        return None
    if row.id not in wanted:
        kind = row.media_kind or row.family
        medium = "still" if kind == "image" else "movie" if kind == "video" else "other"
        wanted[row.id] = _Item(row.id, row.exhibit, row, medium)
    return wanted[row.id]
