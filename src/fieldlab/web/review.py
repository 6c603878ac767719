"""What the gallery shows, and in which order: known-hash hits as tiles, unknown media ranked for review.

Copies of one content (same SHA-1, else MD5) are one tile: the examiner
categorises the content once and every copy gets the decision.  Unknown media
come in this order, because new material may mean a child still at risk:

0. near matches of known material (PDQ/vPDQ), closest first;
1. copies of known pictures the hashes missed: near-duplicates grouped with a
   known picture, thumbnails (EXIF, caches) and anything else held inside a
   known item;
2. first-generation candidates: the EXIF camera is one of the seized devices;
3. pictures in user folders (camera, downloads, pictures, desktop...);
4. caches (browser, app and thumbnail caches);
5. the rest.

Within tiers 1-5, pictures the classifier scored higher come first
(``detect/classify.py``: nudity before people before nothing): indicative,
automatic, an order of review only.  Near matches keep their own order.

Tiers 0 and 1 are derived from known material: like known-hash hits they are
tiles, and their picture is sent only after an explicit, logged reveal
(``ReviewIndex.reveal_needed``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from fieldlab.case.item_rows import ItemRow
from fieldlab.case.phone import first_generation_candidates
from fieldlab.case.read_rows import deciding_category
from fieldlab.case.review import (
    ClassificationRecord,
    ReviewItem,
    item_record,
    review_fingerprint,
    review_rows,
    tile_facts,
)
from fieldlab.case.store import EXACT_METHODS, CaseStore
from fieldlab.evidence.item import parsed_flags
from fieldlab.evidence.phone.apps import placement
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED
from fieldlab.locator import Locator, LocatorError

TIERS = ("near match", "copy of a known picture", "camera of a seized device", "user folder", "cache", "the rest")
# Why a tile is in the queue, said on the tile.  Tier names alone ("other") read like a category; the last tier has
# no reason worth saying, so its tiles say nothing.
_TIER_REASONS = ("near a known picture", "grouped with or inside a known picture",
                 "camera of a seized phone", "in a user folder", "in a cache", "")
_USER_PLACES = frozenset({"camera", "screenshots", "downloads", "sent", "trash", "hidden"})
_CACHE_PLACES = frozenset({"cache", "thumbnails"})
_USER_FOLDERS = frozenset({"users", "home", "pictures", "photos", "dcim", "camera", "downloads", "desktop",
                           "documents", "videos", "movies", "screenshots", "my documents", "my pictures",
                           "documents and settings", "onedrive", "dropbox", "icloud drive", "sdcard", "media",
                           "$recycle.bin", "recycler", ".trash", "trash"})
_CACHE_HINTS = ("/cache", "/caches/", "temporary internet files", "/inetcache/", "/appdata/local/temp/", "/tmp/",
                "/.thumbnails/", "thumbcache_", "thumbs.db", "/code cache/", "/gpucache/")


@dataclass
class Content:
    key: str  # sha1:<hex>, md5:<hex> or item:<id>
    item_ids: list[int] = field(default_factory=list)  # every copy, lowest id first
    exhibit: str = ""
    path: str = ""  # of the first copy
    family: str | None = None
    size: int = 0
    exact: list[tuple[int, str, str, str]] = field(default_factory=list)  # trust, profile, category, set
    near: list[tuple[int | None, str, str, str]] = field(default_factory=list)  # distance, method, category, set
    tier: int = len(TIERS) - 1
    score: float = 0.0  # the classifier's ordering score, highest of the copies (0: none or not classified)
    nudity: float = 0.0

    @property
    def item_id(self) -> int:
        return self.item_ids[0]

    @property
    def known(self) -> bool:
        return bool(self.exact)

    @property
    def needs_reveal(self) -> bool:
        """Known, or derived from known material (a near match, a copy grouped with or held inside a known item)."""
        return self.known or self.tier in (0, 1)

    @property
    def set_category(self) -> str | None:
        labels = [(trust, profile, category) for trust, profile, category, _ in self.exact]
        return deciding_category(labels) if labels else None

    @property
    def hash_sets(self) -> tuple[str, ...]:
        return tuple(sorted({s for *_, s in self.exact}))

    @property
    def reason(self) -> str:
        if self.known:
            return f"known: {', '.join(self.hash_sets)}"
        if self.tier == 0:
            distance, method, category, name = min(self.near, key=lambda n: (n[0] if n[0] is not None else 99, n[3]))
            measure = f"{distance}%" if method == "vpdq" else f"distance {distance}"
            return f"near a known picture: {method} {measure} to {category} in {name}"
        return _TIER_REASONS[self.tier]


@dataclass(frozen=True)
class Tile:
    content: Content
    decision: str | None  # the examiner's standing category, if any
    group_id: int | None
    group_size: int


class ReviewIndex:
    """The case's reviewable contents, ranked; looked at again after ``max_age`` seconds, rebuilt if the case changed."""

    def __init__(self, store: CaseStore, profile: str, max_age: float = 15.0) -> None:
        self.store, self.profile, self.max_age = store, profile, max_age
        self._built_at = 0.0
        self._fingerprint_built: tuple | None = None
        self.contents: dict[str, Content] = {}
        self.content_of: dict[int, str] = {}
        self.known: list[str] = []
        self.unknown: list[str] = []

    def fresh(self) -> ReviewIndex:
        if time.monotonic() - self._built_at > self.max_age:
            fingerprint = review_fingerprint(self.store)
            if fingerprint != self._fingerprint_built:  # a finished case is ranked once, not every few seconds
                self._build()
                self._fingerprint_built = fingerprint
            self._built_at = time.monotonic()
        return self

    def _build(self) -> None:
        contents: dict[str, Content] = {}
        content_of: dict[int, str] = {}
        rows = review_rows(self.store, self.profile)
        grouped = rows.groups
        by_id = {}
        for r in rows.items:
            key = content_key(r.id, r.md5, r.sha1)
            content = contents.get(key)
            if content is None:
                content = contents[key] = Content(key, exhibit=r.exhibit, path=r.path, family=r.family, size=r.size)
            content.item_ids.append(r.id)
            content_of[r.id] = key
            by_id[r.id] = r
        for h in rows.hits:
            content = contents.get(content_of.get(h.item_id, ""))
            if content is None:
                continue
            if h.method in EXACT_METHODS:
                content.exact.append((h.trust_rank, h.profile, h.category, h.hash_set))
            else:
                content.near.append((h.distance, h.method, h.category, h.hash_set))
        for scored in rows.scores:
            content = contents.get(content_of.get(scored.item_id, ""))
            if content is not None:
                content.score, content.nudity = max(content.score, scored.score), max(content.nudity, scored.nudity)
        known_ids = {i for c in contents.values() if c.known for i in c.item_ids}
        known_groups = {grouped[i] for i in known_ids if i in grouped}
        known_locators = {(by_id[i].exhibit_id, by_id[i].locator) for i in known_ids}
        first_generation = {m.item_id for m in first_generation_candidates(self.store)}
        for content in contents.values():
            if content.near and not content.known:
                content.tier = 0
            elif not content.known:
                content.tier = min(_tier(by_id[i], grouped, known_groups, known_locators, first_generation)
                                   for i in content.item_ids)
        self.contents, self.content_of = contents, content_of
        self.known = sorted((k for k, c in contents.items() if c.known), key=lambda k: _known_order(contents[k]))
        self.unknown = sorted((k for k, c in contents.items() if not c.known and c.family in ("image", "video")),
                              key=lambda k: _unknown_order(contents[k]))
        self._built_at = time.monotonic()

    def reveal_needed(self, item_id: int, content_key: str, exact_hit: bool) -> list[int]:
        """The items, any one of which the examiner must have revealed before ``item_id``'s picture is sent; empty
        when it may be sent like any unknown picture (blurred until looked at).  Known material and anything derived
        from it need a reveal; so does an item the ranking does not hold (a recovered duplicate, an item not yet
        read): a picture is sent freely only once the ranking has cleared it."""
        content = self.contents.get(content_key)
        if content is not None and not exact_hit and not content.needs_reveal:
            return []
        return sorted({item_id, *(content.item_ids if content else ())})

    def copies(self, item_ids: list[int]) -> list[int]:
        """``item_ids`` with every copy of their contents."""
        found = set(item_ids)
        for i in item_ids:
            key = self.content_of.get(i)
            if key is not None:
                found.update(self.contents[key].item_ids)
        return sorted(found)


def content_key(item_id: int, md5: str | None, sha1: str | None) -> str:
    """What makes copies one content: the SHA-1, else the MD5, else the item alone."""
    return f"sha1:{sha1}" if sha1 else f"md5:{md5}" if md5 else f"item:{item_id}"


def _tier(row: ReviewItem, grouped: dict[int, int], known_groups: set[int], known_locators: set[tuple[int, str]],
          first_generation: set[int]) -> int:
    if grouped.get(row.id) in known_groups or _inside_known(row, known_locators):
        return 1
    if row.id in first_generation:
        return 2
    lowered = "/" + row.path.replace("\\", "/").replace(" › ", "/").lower().lstrip("/")
    place = row.place or placement(row.path).place
    if place in _CACHE_PLACES or any(hint in lowered for hint in _CACHE_HINTS):
        return 4
    if place in _USER_PLACES or _USER_FOLDERS.intersection(lowered.split("/")[:-1]):
        return 3
    return 5


def _inside_known(row: ReviewItem, known_locators: set[tuple[int, str]]) -> bool:
    """Held inside a known item at any depth: its EXIF preview, a picture carved out of it, a member of it."""
    try:
        parent = Locator.parse(row.locator).parent
    except LocatorError:
        return False
    while parent is not None:  # as deep as the locator, which the scan's nesting limit bounds
        if (row.exhibit_id, parent.to_text()) in known_locators:
            return True
        parent = parent.parent
    return False


def _known_order(content: Content) -> tuple:
    profile = PROFILES.get(content.exact[0][1]) if content.exact else None
    severity = profile.severity(content.set_category) if profile and content.set_category else 99
    return severity, content.item_id


def _unknown_order(content: Content) -> tuple:
    if content.tier == 0:
        best = min((n[0] if n[0] is not None else 99) for n in content.near)
        return 0, best, content.item_id
    return content.tier, -content.score, content.item_id


def tiles(store: CaseStore, index: ReviewIndex, keys: list[str], *, profile: str) -> list[Tile]:
    """Tiles for one page of content keys, with each content's standing decision and group."""
    chosen = [index.contents[k] for k in keys]
    ids = [c.item_id for c in chosen]
    facts = tile_facts(store, ids, profile)
    found = []
    for content in chosen:
        decision = facts.latest.get(content.item_id)
        group = facts.groups.get(content.item_id)
        found.append(Tile(content, decision if decision and decision != UNCATEGORISED else None, group,
                          1 if group is None else facts.group_sizes.get(group, 1)))
    return found


def expand_selection(store: CaseStore, index: ReviewIndex, item_ids: list[int], *, whole_group: bool) -> list[int]:
    """The items a categorisation applies to: each chosen item's copies, and with ``whole_group`` its
    near-duplicates (and their copies)."""
    from fieldlab.case.groups import group_of  # NumPy, for the near-duplicate groups: loaded when first asked

    chosen = set(item_ids)
    if whole_group:
        for item_id in item_ids:
            chosen.update(group_of(store, item_id))
    return index.copies(sorted(chosen))


# the item page

@dataclass(frozen=True)
class Copy:
    item_id: int
    exhibit: str
    path: str
    locator: str
    flags: tuple[str, ...]
    times: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Classified:
    """The classifier's findings for the item page: indicative, automatic."""

    score: float
    nudity: float
    likely_nudity: bool
    model: str
    detections: tuple[tuple[str, float, tuple[int, int, int, int]], ...]  # label, score, box (x, y, w, h)


@dataclass(frozen=True)
class ItemDetail:
    id: int
    exhibit: str
    exhibit_id: int
    path: str
    locator: str
    origin: str | None
    app: str | None
    place: str | None
    kind: str
    family: str | None
    file_type: str | None
    mime: str | None
    extension_mismatch: bool | None
    size: int
    md5: str | None
    sha1: str | None
    sha256: str | None
    state: str
    flags: tuple[str, ...]
    times: tuple[tuple[str, str], ...]
    media: dict | None
    exif: tuple[tuple[str, str], ...]
    gps: tuple[float, float, float | None] | None
    hits: tuple[dict, ...]
    copies: tuple[Copy, ...]
    decisions: tuple[dict, ...]
    group: tuple[int, ...]
    problems: tuple[tuple[str, str], ...]
    camera_of: str | None = None  # the seized device whose camera the EXIF names (a first-generation lead)
    classified: Classified | None = None  # the classifier's detections: indicative, automatic

    @property
    def known(self) -> bool:
        return any(h["method"] in EXACT_METHODS for h in self.hits)


_EXIF_LABELS = {"make": "Camera make", "model": "Camera model", "serial": "Camera serial", "lens": "Lens",
                "software": "Software", "taken_local": "Taken (camera clock)", "taken_at": "Taken (UTC)",
                "orientation": "Orientation", "unique_id": "Image unique id"}


def item_detail(store: CaseStore, item_id: int) -> ItemDetail | None:
    from fieldlab.case.groups import group_of

    record = item_record(store, item_id)
    if record is None:
        return None
    row, found_media = record.item, record.media
    exif, gps = _exif(found_media.exif if found_media else None)
    media_facts = None
    if found_media is not None:
        media_facts = {k: getattr(found_media, k) for k in ("kind", "format", "width", "height", "duration",
                                                            "frame_rate", "codec", "pdq", "pdq_quality", "error",
                                                            "partial", "camera", "camera_serial")}
    return ItemDetail(
        id=row.item_id, exhibit=row.exhibit, exhibit_id=record.exhibit_id, path=row.path,
        locator=_display_locator(row.locator),
        origin=row.origin, app=row.app, place=row.place, kind=row.kind, family=row.family, file_type=row.file_type,
        mime=row.mime, extension_mismatch=row.extension_mismatch, size=row.size, md5=row.md5, sha1=row.sha1,
        sha256=row.sha256, state=row.state, flags=_flags(row.flags), times=_times(row), media=media_facts, exif=exif,
        gps=gps,
        hits=tuple({k: getattr(h, k) for k in ("hash_set", "hash_set_sha256", "profile", "category", "method",
                                               "distance", "transform", "matched_hash", "trust_rank")}
                   for h in record.hits),
        copies=tuple(Copy(c.item_id, c.exhibit, c.path, _display_locator(c.locator), _flags(c.flags), _times(c))
                     for c in record.copies),
        decisions=tuple({"at": utc(d.at), "examiner": d.examiner, "category": d.category, "note": d.note}
                        for d in record.decisions),
        group=tuple(group_of(store, item_id)), problems=record.problems,
        camera_of=_camera_of(store, item_id) if found_media is not None and found_media.camera else None,
        classified=_classified(record.classified),
    )


def _classified(found: ClassificationRecord | None) -> Classified | None:
    from fieldlab.detect.classify import likely_nudity  # the classifier's module loads NumPy: not at start-up

    if found is None:
        return None
    return Classified(found.score, found.nudity, likely_nudity(found.nudity), found.model or "unknown model",
                      tuple((d.label, d.score, d.box) for d in found.detections))


def _camera_of(store: CaseStore, item_id: int) -> str | None:
    match = next((m for m in first_generation_candidates(store) if m.item_id == item_id), None)
    if match is None:
        return None
    facts = match.device.facts
    name = " ".join(filter(None, (facts.make, facts.model))) or facts.platform
    return f"{name} in exhibit {match.device.exhibit} ({match.device.source_path or facts.source})"


def _display_locator(text: str) -> str:
    try:
        return " | ".join(f"{layer.kind}: {Locator((layer,)).display()}" for layer in Locator.parse(text).layers)
    except LocatorError:
        return text


def _flags(text: str | None) -> tuple[str, ...]:
    return tuple(sorted(flag.value for flag in parsed_flags(text or "")))


def _times(row: ItemRow) -> tuple[tuple[str, str], ...]:
    names = (("Modified", row.mtime), ("Accessed", row.atime), ("Changed (metadata)", row.ctime), ("Created", row.btime))
    return tuple((name, utc(value)) for name, value in names if value is not None)


def utc(seconds: float | None) -> str:
    if seconds is None:
        return ""
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} (out of range)"


def _exif(text: str | None) -> tuple[tuple[tuple[str, str], ...], tuple[float, float, float | None] | None]:
    if not text:
        return (), None
    try:
        facts = json.loads(text)
    except ValueError:
        return (("EXIF", "unreadable"),), None
    shown = []
    for key, label in _EXIF_LABELS.items():
        if facts.get(key) is not None:
            value = utc(facts[key]) if key == "taken_at" else str(facts[key])
            shown.append((label, value))
    gps = None
    if facts.get("gps_lat") is not None and facts.get("gps_lon") is not None:
        gps = (float(facts["gps_lat"]), float(facts["gps_lon"]),
               float(facts["gps_alt"]) if facts.get("gps_alt") is not None else None)
    return tuple(shown), gps
