"""What the review app reads of a case: the rows it ranks into tiles, a page of tiles' decisions and groups, and
everything recorded about one item for its page.

Rows in, rows out: how contents are grouped, tiered and ordered is ``web.review``'s to decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from fieldlab.case.decisions import standing_decision_ids
from fieldlab.case.item_rows import ITEMS_WITH_REF, ItemRow, item_row
from fieldlab.case.schema import (
    classifications,
    classifier_models,
    decisions,
    detections,
    devices,
    errors,
    exhibits,
    hits,
    items,
    media,
    media_groups,
)
from fieldlab.case.store import CaseStore, HitRecord

MAX_COPIES_SHOWN = 1000


@dataclass(frozen=True)
class ReviewItem:
    """A picture, video or hit the gallery may show: read, neither known-good nor a duplicate record."""

    id: int
    exhibit_id: int
    exhibit: str
    locator: str
    path: str
    family: str | None
    flags: str
    place: str | None
    md5: str | None
    sha1: str | None
    size: int


@dataclass(frozen=True)
class ReviewHit:
    item_id: int
    trust_rank: int
    profile: str
    category: str
    hash_set: str
    method: str
    distance: int | None


@dataclass(frozen=True)
class ClassifierScore:
    item_id: int
    score: float  # the ordering score (detect.classify.ordering_score)
    nudity: float


@dataclass(frozen=True)
class ReviewRows:
    items: list[ReviewItem]  # by id
    hits: list[ReviewHit]  # under the profile
    groups: dict[int, int]  # item id -> its near-duplicate group
    scores: list[ClassifierScore]


@dataclass(frozen=True)
class TileFacts:
    latest: dict[int, str]  # item id -> the category of its latest decision under the profile (withdrawn included)
    groups: dict[int, int]  # item id -> its group
    group_sizes: dict[int, int]  # group id -> how many items it holds


@dataclass(frozen=True)
class MediaRecord:
    kind: str
    format: str | None
    width: int | None
    height: int | None
    duration: float | None
    frame_rate: float | None
    codec: str | None
    pdq: str | None
    pdq_quality: int | None
    error: str | None
    partial: str | None
    camera: str | None
    camera_serial: str | None
    exif: str | None  # JSON of detect.exif.PhotoFacts


@dataclass(frozen=True)
class DecisionRecord:
    at: float
    examiner: str
    category: str
    note: str | None


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x, y, width, height in pixels of the stored picture


@dataclass(frozen=True)
class ClassificationRecord:
    score: float
    nudity: float
    model: str | None  # the model's name, None if the case no longer names it
    detections: tuple[Detection, ...]


@dataclass(frozen=True)
class ItemRecord:
    item: ItemRow
    exhibit_id: int
    media: MediaRecord | None
    hits: tuple[HitRecord, ...]  # most trusted set first
    copies: tuple[ItemRow, ...]  # every item with the same SHA-1 (else MD5), itself included, at most MAX_COPIES_SHOWN
    decisions: tuple[DecisionRecord, ...]  # in the order made
    problems: tuple[tuple[str, str], ...]  # (stage, message), in the order recorded
    classified: ClassificationRecord | None


def review_fingerprint(store: CaseStore) -> tuple:
    """What the ranking depends on, cheaply: items listed and read, hits, groups, devices, classifications."""
    with store.engine.connect() as conn:
        listed = conn.execute(select(func.max(items.c.id), func.count(items.c.id).filter(items.c.state == "done"))).one()
        others = tuple(conn.execute(select(func.count()).select_from(table)).scalar()
                       for table in (hits, media_groups, devices, classifications))
    return (*listed, *others)


def review_rows(store: CaseStore, profile: str) -> ReviewRows:
    hit_items = select(hits.c.item_id)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(items.c.id, items.c.exhibit_id, exhibits.c.ref, items.c.locator, items.c.path, items.c.family,
                   items.c.flags, items.c.place, items.c.md5, items.c.sha1, items.c.size)
            .join(exhibits, exhibits.c.id == items.c.exhibit_id)
            .where(items.c.known_good.is_(False), items.c.flags.not_like("%duplicate%"), items.c.state == "done",
                   or_(items.c.family.in_(("image", "video")), items.c.id.in_(hit_items)))
            .order_by(items.c.id)
        ).all()
        hit_rows = conn.execute(
            select(hits.c.item_id, hits.c.trust_rank, hits.c.profile, hits.c.category, hits.c.hash_set,
                   hits.c.method, hits.c.distance).where(hits.c.profile == profile)
        ).all()
        grouped = dict(conn.execute(select(media_groups.c.item_id, media_groups.c.group_id)).all())
        scored = conn.execute(select(classifications.c.item_id, classifications.c.score,
                                     classifications.c.nudity)).all()
    return ReviewRows([ReviewItem(*r) for r in rows], [ReviewHit(*h) for h in hit_rows], grouped,
                      [ClassifierScore(*s) for s in scored])


def tile_facts(store: CaseStore, item_ids: list[int], profile: str) -> TileFacts:
    with store.engine.connect() as conn:
        latest = (select(func.max(decisions.c.id))
                  .where(decisions.c.item_id.in_(item_ids), decisions.c.profile == profile)
                  .group_by(decisions.c.item_id).scalar_subquery())
        decided = dict(conn.execute(select(decisions.c.item_id, decisions.c.category)
                                    .where(decisions.c.id.in_(latest))).all())
        groups = dict(conn.execute(select(media_groups.c.item_id, media_groups.c.group_id)
                                   .where(media_groups.c.item_id.in_(item_ids))).all())
        sizes: dict[int, int] = dict(conn.execute(select(media_groups.c.group_id, func.count()).where(
            media_groups.c.group_id.in_(set(groups.values()))).group_by(media_groups.c.group_id)).all())
    return TileFacts(decided, groups, sizes)


def decided_items(store: CaseStore, profile: str) -> set[int]:
    """Items whose latest decision under ``profile`` is a category (not withdrawn)."""
    with store.engine.connect() as conn:
        return set(conn.execute(select(decisions.c.item_id)
                                .where(decisions.c.id.in_(standing_decision_ids(profile)))).scalars())


def item_record(store: CaseStore, item_id: int) -> ItemRecord | None:
    with store.engine.connect() as conn:
        row = conn.execute(ITEMS_WITH_REF.where(items.c.id == item_id)).first()
        if row is None:
            return None
        found_media = conn.execute(select(media).where(media.c.item_id == item_id)).first()
        found_hits = conn.execute(select(hits).where(hits.c.item_id == item_id)
                                  .order_by(hits.c.trust_rank, hits.c.hash_set, hits.c.method)).all()
        same = (items.c.sha1 == row.sha1) if row.sha1 else (items.c.md5 == row.md5) if row.md5 else (items.c.id == row.id)
        copies = conn.execute(ITEMS_WITH_REF.where(same).order_by(items.c.id).limit(MAX_COPIES_SHOWN)).all()
        history = conn.execute(select(decisions).where(decisions.c.item_id == item_id).order_by(decisions.c.id)).all()
        problems = conn.execute(select(errors.c.stage, errors.c.message).where(errors.c.item_id == item_id)
                                .order_by(errors.c.id)).all()
        classified = _classification(conn, item_id)
    return ItemRecord(
        item_row(row), row.exhibit_id, _media(found_media) if found_media is not None else None,
        tuple(HitRecord(h.item_id, h.hash_set, h.hash_set_sha256, h.profile, h.category, h.method, h.trust_rank,
                        h.distance, h.transform, h.matched_hash) for h in found_hits),
        tuple(item_row(c) for c in copies),
        tuple(DecisionRecord(d.at, d.examiner, d.category, d.note) for d in history),
        tuple((p.stage, p.message) for p in problems), classified,
    )


def _media(row) -> MediaRecord:  # noqa: ANN001 - a SQLAlchemy row of media
    return MediaRecord(row.kind, row.format, row.width, row.height, row.duration, row.frame_rate, row.codec, row.pdq,
                       row.pdq_quality, row.error, row.partial, row.camera, row.camera_serial, row.exif)


def _classification(conn, item_id: int) -> ClassificationRecord | None:  # noqa: ANN001 - a SQLAlchemy connection
    row = conn.execute(select(classifications.c.score, classifications.c.nudity, classifier_models.c.name)
                       .outerjoin(classifier_models, classifier_models.c.sha256 == classifications.c.model_sha256)
                       .where(classifications.c.item_id == item_id)).first()
    if row is None:
        return None
    boxes = conn.execute(select(detections).where(detections.c.item_id == item_id).order_by(detections.c.rank)).all()
    return ClassificationRecord(row.score, row.nudity, row.name,
                                tuple(Detection(b.label, b.score, (b.x, b.y, b.width, b.height)) for b in boxes))
