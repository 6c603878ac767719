"""Read-only questions asked of a case: per-exhibit counts, the list of hits, problems, what the review app shows.

The rows of counts and hits are folded by ``read_rows``, which the quick sqlite3 path (``read_only``) shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, select

from fieldlab.case.read_rows import (
    MEDIA_FAMILIES,
    ExhibitCounts,
    fold_exhibit_counts,
    recorded_parents,
    stored_kind,
)
from fieldlab.case.schema import classifications, classifier_models, errors, exhibits, hits, items, media
from fieldlab.case.store import EXACT_METHODS, CaseStore
from fieldlab.problems import ProblemKind


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


@dataclass(frozen=True)
class ListedFile:
    """A file the walk listed, as a report names it."""

    path: str
    size: int
    mtime: float | None


def cloud_only_files(store: CaseStore, exhibit_ref: str, *, limit: int) -> tuple[ListedFile, ...]:
    """The first ``limit`` cloud-only placeholders of an exhibit, in walk order: names for a production order."""
    query = (select(items.c.path, items.c.size, items.c.mtime)
             .select_from(items.join(exhibits, exhibits.c.id == items.c.exhibit_id))
             .where(exhibits.c.ref == exhibit_ref, items.c.flags.like("%cloud_only%"))
             .order_by(items.c.id).limit(limit))
    with store.engine.connect() as conn:
        return tuple(ListedFile(r.path, r.size, r.mtime) for r in conn.execute(query))


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


def _deleted_user_file() -> ColumnElement[bool]:
    """Deleted, and a user's: not a file-system pseudo-entry, and with content or a name to show (an orphan
    record with neither, such as an ext2 inode TSK lists as ``OrphanFile-13`` of 0 bytes, is nothing to count)."""
    nameless_and_empty = and_(items.c.flags.like("%orphan%"), items.c.size == 0)
    return and_(items.c.flags.like("%deleted%"), items.c.flags.not_like("%pseudo%"),
                (items.c.kind == "name_only") | and_(items.c.kind == "file", ~nameless_and_empty))


class ExhibitCountQueries(NamedTuple):
    """The statements behind ``exhibit_counts``, in the order ``read_rows.fold_exhibit_counts`` takes their rows."""

    totals: Select[Any]
    problems: Select[Any]
    decoded: Select[Any]
    hit_labels: Select[Any]


def exhibit_count_queries(exhibit_id: int | None = None) -> ExhibitCountQueries:
    """Per-exhibit totals of the items, problems by exhibit and kind, decoded media by exhibit, and every hit's
    labels: of one exhibit, or (None) of all.  ``read_sql.py`` holds the SQLite text of those of all exhibits."""
    of_exhibit = [] if exhibit_id is None else [items.c.exhibit_id == exhibit_id]
    is_file = items.c.kind == "file"
    totals = (
        select(
            exhibits.c.id, exhibits.c.ref, exhibits.c.source, exhibits.c.walk_complete, exhibits.c.scan_finished_at,
            exhibits.c.hash_state,
            func.count(case((_deleted_user_file(), 1))).label("deleted"),
            func.count(case((and_(_deleted_user_file(), items.c.kind == "name_only"), 1))).label("names_only"),
            func.count(case((items.c.flags.like("%pseudo%"), 1))).label("pseudo"),
            func.count(case((items.c.flags.like("%cloud_only%"), 1))).label("cloud_only"),
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
        .where(*([] if exhibit_id is None else [exhibits.c.id == exhibit_id]))
        .group_by(exhibits.c.id)
        .order_by(exhibits.c.id)
    )
    problems = select(errors.c.exhibit_id, errors.c.kind, func.count()).group_by(errors.c.exhibit_id, errors.c.kind)
    decoded = (select(items.c.exhibit_id, func.count()).select_from(media.join(items, items.c.id == media.c.item_id))
               .where(*of_exhibit).group_by(items.c.exhibit_id))
    hit_labels = (select(items.c.exhibit_id, hits.c.item_id, hits.c.trust_rank, hits.c.profile, hits.c.category,
                         hits.c.method)
                  .select_from(hits.join(items, items.c.id == hits.c.item_id)).where(*of_exhibit))
    return ExhibitCountQueries(totals, problems, decoded, hit_labels)


def exhibit_counts(store: CaseStore, exhibit_id: int | None = None) -> list[ExhibitCounts]:
    queries = exhibit_count_queries(exhibit_id)
    with store.engine.connect() as conn:
        totals = conn.execute(queries.totals).all()
        return fold_exhibit_counts(totals, problems=conn.execute(queries.problems),
                                   decoded=conn.execute(queries.decoded), hit_labels=conn.execute(queries.hit_labels))


def hits_query() -> Select[Any]:
    """Every hit with its item and exhibit, ordered by exhibit, item, set and method (as ``report.hits`` groups
    them), as ``read_rows.hit_from_row`` reads it.  ``fieldlab.hits`` runs its SQLite text (``read_sql.py``)."""
    return (
        select(
            exhibits.c.ref, items.c.id, items.c.locator, items.c.path, items.c.size, items.c.file_type, items.c.md5,
            items.c.sha1, items.c.sha256, items.c.mtime, hits.c.category, hits.c.profile, hits.c.hash_set,
            hits.c.hash_set_sha256, hits.c.method, hits.c.distance, hits.c.transform, hits.c.matched_hash,
            items.c.origin, items.c.app, items.c.place,
        )
        .select_from(hits.join(items, items.c.id == hits.c.item_id).join(exhibits, exhibits.c.id == items.c.exhibit_id))
        .order_by(exhibits.c.id, items.c.id, hits.c.hash_set, hits.c.method)
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
