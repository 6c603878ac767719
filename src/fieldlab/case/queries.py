"""Read-only questions asked of a case: per-exhibit counts and the list of hits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import and_, case, func, select

from fieldlab.case.schema import classifications, classifier_models, errors, exhibits, hits, items, media
from fieldlab.case.store import EXACT_METHODS, CaseStore, recorded_parents
from fieldlab.hashsets.profiles import PROFILES
from fieldlab.problems import ProblemKind

MEDIA_FAMILIES = ("image", "video")


@dataclass
class ExhibitCounts:
    ref: str
    source: str
    files: int = 0  # regular files listed
    bytes: int = 0
    files_read: int = 0  # read and hashed, or failed with an error
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


@dataclass(frozen=True)
class ProblemRow:
    """One recorded problem, for ``fieldlab errors``: what (kind), where (stage), on what (path, escaped)."""

    exhibit: str
    kind: ProblemKind
    stage: str
    path: str
    message: str
    item_id: int | None

    def to_json_dict(self) -> dict:
        return {"exhibit": self.exhibit, "kind": self.kind.value, "label": self.kind.label, "stage": self.stage,
                "path": self.path, "message": self.message, "item_id": self.item_id}


def iter_problems(store: CaseStore, kind: ProblemKind | None = None) -> Iterator[ProblemRow]:
    """Every recorded problem, grouped by kind (in ProblemKind's order), then in the order recorded."""
    order = case({k.value: n for n, k in enumerate(ProblemKind)}, value=errors.c.kind, else_=len(ProblemKind))
    query = (select(exhibits.c.ref, errors.c.kind, errors.c.stage, errors.c.path, errors.c.message, errors.c.item_id)
             .select_from(errors.join(exhibits, exhibits.c.id == errors.c.exhibit_id))
             .where(*([errors.c.kind == kind.value] if kind else []))
             .order_by(exhibits.c.id, order, errors.c.id))
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            yield ProblemRow(r.ref, stored_kind(r.kind), r.stage, r.path, r.message, r.item_id)


def stored_kind(text: str) -> ProblemKind:
    """A kind as the errors table holds it."""
    try:
        return ProblemKind(text)
    except ValueError:  # written by a later fieldlab: shown as what it most likely is, never dropped
        return ProblemKind.INTERNAL


@dataclass(frozen=True)
class ExhibitProblem:
    """One recorded problem of an exhibit, for the dashboard."""

    kind: ProblemKind
    stage: str
    path: str
    message: str
    at: float


def exhibit_problems(
    store: CaseStore, exhibit_id: int, *, limit: int, newest_first: bool = False,
) -> list[ExhibitProblem]:
    """Up to ``limit`` of an exhibit's problems, in the order recorded (or newest first)."""
    order = errors.c.id.desc() if newest_first else errors.c.id
    with store.engine.connect() as conn:
        rows = conn.execute(select(errors.c.kind, errors.c.stage, errors.c.path, errors.c.message, errors.c.at)
                            .where(errors.c.exhibit_id == exhibit_id).order_by(order).limit(limit)).all()
    return [ExhibitProblem(stored_kind(r.kind), r.stage, r.path, r.message, r.at) for r in rows]


def media_mtimes(store: CaseStore) -> list[float]:
    """The modification time of every picture and video that has one, known-good left out: the dashboard's timeline."""
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(
            select(items.c.mtime).where(items.c.family.in_(("image", "video")), items.c.mtime.is_not(None),
                                        items.c.known_good.is_(False)))]


@dataclass(frozen=True)
class PictureSource:
    """Where an item's bytes are, to draw its picture again: the item and the exhibit's source as the case recorded."""

    item_id: int
    exhibit_id: int
    locator: str
    family: str | None
    size: int
    md5: str | None
    sha1: str | None
    source: str
    source_kind: str
    parents: tuple[str, ...]  # of a differencing image: the parent files opened with it


def picture_source(store: CaseStore, item_id: int) -> PictureSource | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(items.c.id, items.c.exhibit_id, items.c.locator, items.c.family, items.c.size,
                                  items.c.md5, items.c.sha1, exhibits.c.source, exhibits.c.source_kind,
                                  exhibits.c.facts)
                           .join(exhibits, exhibits.c.id == items.c.exhibit_id).where(items.c.id == item_id)).first()
    if row is None:
        return None
    return PictureSource(row.id, row.exhibit_id, row.locator, row.family, row.size, row.md5, row.sha1, row.source,
                         row.source_kind, recorded_parents(row.facts))


def has_exact_hit(store: CaseStore, item_id: int) -> bool:
    """Whether a hash set holds the item's own bytes (MD5, SHA-1, SHA-256), not just a picture near it."""
    with store.engine.connect() as conn:
        return conn.execute(select(hits.c.id).where(hits.c.item_id == item_id, hits.c.method.in_(EXACT_METHODS))
                            .limit(1)).first() is not None


def item_exists(store: CaseStore, item_id: int) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(select(items.c.id).where(items.c.id == item_id)).first() is not None


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


def deciding_category(labels: list[tuple[int, str, str]]) -> str:
    """An item's category when sets disagree: the most trusted set's (``hashset trust``), then the most serious.

    Every set's own category stays recorded on its hit, for the report's provenance.
    """
    def rank(entry: tuple[int, str, str]) -> tuple[int, int]:
        trust, profile, category = entry
        return trust, PROFILES[profile].severity(category) if profile in PROFILES else 99

    return min(labels, key=rank)[2]


def _deleted_user_file():  # noqa: ANN202 - a SQLAlchemy condition
    """Deleted, and a user's: not a file-system pseudo-entry, and with content or a name to show (an orphan
    record with neither, such as an ext2 inode TSK lists as ``OrphanFile-13`` of 0 bytes, is nothing to count)."""
    nameless_and_empty = and_(items.c.flags.like("%orphan%"), items.c.size == 0)
    return and_(items.c.flags.like("%deleted%"), items.c.flags.not_like("%pseudo%"),
                (items.c.kind == "name_only") | and_(items.c.kind == "file", ~nameless_and_empty))


def exhibit_counts(store: CaseStore, exhibit_id: int | None = None) -> list[ExhibitCounts]:
    where = [] if exhibit_id is None else [exhibits.c.id == exhibit_id]
    is_file = items.c.kind == "file"
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                exhibits.c.id, exhibits.c.ref, exhibits.c.source, exhibits.c.walk_complete, exhibits.c.scan_finished_at,
                exhibits.c.hash_state,
                func.count(case((_deleted_user_file(), 1))).label("deleted"),
                func.count(case((and_(_deleted_user_file(), items.c.kind == "name_only"), 1))).label("names_only"),
                func.count(case((items.c.flags.like("%pseudo%"), 1))).label("pseudo"),
                func.count(case((items.c.known_good.is_(True), 1))).label("known_good"),
                func.count(case((is_file, 1))).label("files"),
                func.coalesce(func.sum(case((is_file, items.c.size))), 0).label("bytes"),
                func.count(case((and_(is_file, items.c.state != "pending"), 1))).label("files_read"),
                func.coalesce(func.sum(case((and_(is_file, items.c.state != "pending"), items.c.size))), 0).label("bytes_read"),
                func.count(case((items.c.family.in_(MEDIA_FAMILIES), 1))).label("media"),
                func.count(case((items.c.kind == "symlink", 1))).label("links"),
                func.count(case((items.c.kind == "special", 1))).label("special"),
                func.count(case((items.c.extension_mismatch.is_(True), 1))).label("mismatches"),
            )
            .select_from(exhibits.outerjoin(items, items.c.exhibit_id == exhibits.c.id))
            .where(*where)
            .group_by(exhibits.c.id)
            .order_by(exhibits.c.id)
        ).all()
        problem_counts: dict[int, Counter[str]] = {}
        for ex_id, kind, n in conn.execute(select(errors.c.exhibit_id, errors.c.kind, func.count())
                                           .group_by(errors.c.exhibit_id, errors.c.kind)):
            problem_counts.setdefault(ex_id, Counter())[stored_kind(kind).value] += n
        decoded: dict[int, int] = dict(
            conn.execute(
                select(items.c.exhibit_id, func.count()).select_from(media.join(items, items.c.id == media.c.item_id))
                .where(*([items.c.exhibit_id == exhibit_id] if exhibit_id is not None else []))
                .group_by(items.c.exhibit_id)
            ).all()
        )
        per_item: dict[tuple[int, int], list[tuple[int, str, str]]] = {}
        near_per_item: dict[tuple[int, int], list[tuple[int, str, str]]] = {}
        hit_rows = conn.execute(
            select(items.c.exhibit_id, hits.c.item_id, hits.c.trust_rank, hits.c.profile, hits.c.category, hits.c.method)
            .select_from(hits.join(items, items.c.id == hits.c.item_id))
            .where(*([items.c.exhibit_id == exhibit_id] if exhibit_id is not None else []))
        )
        for r in hit_rows:
            chosen = per_item if r.method in EXACT_METHODS else near_per_item
            chosen.setdefault((r.exhibit_id, r.item_id), []).append((r.trust_rank, r.profile, r.category))
    result = []
    for r in rows:
        counts = ExhibitCounts(
            ref=r.ref, source=r.source, files=r.files, bytes=r.bytes, files_read=r.files_read, bytes_read=r.bytes_read,
            media=r.media, links=r.links, special=r.special, extension_mismatches=r.mismatches,
            problems=problem_counts.get(r.id, Counter()), walk_complete=bool(r.walk_complete),
            finished=r.scan_finished_at is not None, deleted=r.deleted, deleted_names_only=r.names_only,
            pseudo_entries=r.pseudo, known_good=r.known_good, hash_state=r.hash_state, media_decoded=decoded.get(r.id, 0),
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


def iter_hits(store: CaseStore) -> Iterator[HitRow]:
    query = (
        select(
            exhibits.c.ref, items.c.id, items.c.locator, items.c.path, items.c.size, items.c.file_type, items.c.md5, items.c.sha1,
            items.c.sha256, items.c.mtime, hits.c.category, hits.c.profile, hits.c.hash_set, hits.c.hash_set_sha256,
            hits.c.method, hits.c.distance, hits.c.transform, hits.c.matched_hash, items.c.origin, items.c.app,
            items.c.place,
        )
        .select_from(hits.join(items, items.c.id == hits.c.item_id).join(exhibits, exhibits.c.id == items.c.exhibit_id))
        .order_by(exhibits.c.id, items.c.id, hits.c.hash_set, hits.c.method)
    )
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            yield HitRow(
                exhibit=r.ref, item_id=r.id, locator=r.locator, path=r.path, size=r.size, file_type=r.file_type, md5=r.md5, sha1=r.sha1,
                sha256=r.sha256, category=r.category, profile=r.profile, hash_set=r.hash_set,
                hash_set_sha256=r.hash_set_sha256, method=r.method, mtime=r.mtime, distance=r.distance,
                transform=r.transform, matched_hash=r.matched_hash, origin=r.origin, app=r.app, place=r.place,
            )


@dataclass(frozen=True)
class ClassifierUse:
    name: str
    sha256: str
    licence: str
    pictures: int  # pictures and videos classified with it


def classifier_uses(store: CaseStore) -> tuple[ClassifierUse, ...]:
    """Each classifier model the case used, with how many pictures it scored: for the report's method section, as a
    court needs to know an automatic signal touched the case (and that it decided nothing)."""
    with store.engine.connect() as conn:
        counted = (select(classifications.c.model_sha256, func.count().label("n"))
                   .group_by(classifications.c.model_sha256).subquery())
        rows = conn.execute(select(classifier_models.c.name, classifier_models.c.sha256, classifier_models.c.licence,
                                   func.coalesce(counted.c.n, 0))
                            .outerjoin(counted, counted.c.model_sha256 == classifier_models.c.sha256)
                            .order_by(classifier_models.c.first_used_at)).all()
    return tuple(ClassifierUse(*row) for row in rows)
