"""The case folder and its database: exhibits, items, hits, errors and the audit trail.

The store is the scan's only memory: an item is written as *pending* when the
walk finds it and becomes *done* in the same transaction that records its
digests and hits, so a scan killed at any moment resumes from the database
without losing or duplicating anything.  A folder's first walk writes each
entry once, read (``record_listed``), and is complete only once all are written.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable, NamedTuple, Sequence

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Select,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)

from fieldlab import __version__
from fieldlab.case.audit import AuditLog
from fieldlab.case.layout import DATABASE_FILE, existing_database, missing_columns, refuse_older_layout
from fieldlab.case.private import create_private_file, make_private_folder
from fieldlab.case.read_rows import Exhibit, exhibit_from_row
from fieldlab.case.schema import (
    ITEMS_BY_MD5,
    REPLACED_INDEXES,
    TABLE_COLUMNS,
    case_info,
    classifications,
    classifier_models,
    detections,
    errors,
    exhibits,
    hits,
    items,
    media,
    metadata,
    regions,
    video_frames,
)
from fieldlab.errors import CaseError
from fieldlab.evidence.item import Item, ItemFlag, ItemKind, parsed_flags, stored_flags
from fieldlab.hashsets.records import EXACT_METHODS
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import (
    ClassifiedPicture,
    FrameRecord,
    ItemResult,
    MediaResult,
    PendingItem,
    PendingMedia,
    ReadDigests,
    UnclassifiedMedia,
)

if TYPE_CHECKING:
    from fieldlab.detect.classify import ModelSpec  # NumPy: only a scan that classifies needs it

_INSERT_ITEMS = (
    "INSERT INTO items (exhibit_id, locator, path, kind, size, mtime, atime, ctime, btime, link_target, flags, state) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (exhibit_id, locator) DO NOTHING"
)

class ItemRow(NamedTuple):
    """An item as its row of ``items``, after the exhibit id (the column order of ``_INSERT_ITEMS``)."""

    locator: str
    path: str
    kind: str
    size: int
    mtime: float | None
    atime: float | None
    ctime: float | None
    btime: float | None
    link_target: str | None
    flags: str
    state: str


def item_row(item: Item) -> ItemRow:
    return ItemRow(
        item.locator.to_text(), item.path, item.kind.value, item.size, item.mtime, item.atime, item.ctime, item.btime,
        item.link_target, stored_flags(item.flags), listed_state(item.kind, item.flags),
    )


def listed_state(kind: ItemKind, flags: frozenset[ItemFlag] = frozenset()) -> str:
    """A listed item's state: a file waits to be read, anything else (a link, a FIFO, a name only, a cloud-only
    placeholder whose content is not on the disk) is done."""
    return "pending" if kind is ItemKind.FILE and ItemFlag.CLOUD_ONLY not in flags else "done"


# The items the perceptual stage decodes: read pictures and videos with content, neither known-good nor a carved
# copy of a listed file.  Also the items a later run matches again, so both passes give the same hits.
_DECODED = and_(
    items.c.state == "done", items.c.family.in_(("image", "video")), items.c.known_good.is_(False), items.c.size > 0,
    items.c.flags.not_like("%duplicate%"),
)
_PENDING_ITEMS = (
    "SELECT id, locator, path, size, mtime, flags FROM items WHERE exhibit_id = ? AND state = 'pending' AND id > ? "
    "ORDER BY id LIMIT ?"
)
_UPDATE_RESULTS = (  # SHA-256 when not asked bound as '', and booleans as 0/1: see _INSERT_READ_FILES
    "UPDATE items SET state = ?, md5 = ?, sha1 = ?, sha256 = NULLIF(?, ''), file_type = ?, mime = ?, family = ?, "
    "extension_mismatch = ?, size = COALESCE(?, size) WHERE id = ?"
)
_INSERT_READ_ITEMS = (
    "INSERT INTO items (exhibit_id, locator, path, kind, size, mtime, atime, ctime, btime, link_target, flags, state, "
    "md5, sha1, sha256, file_type, mime, family, extension_mismatch, known_good) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (exhibit_id, locator) DO NOTHING"
)
# A first walk's file read as it should be: what every such file has in common is written in the statement, and
# what may be missing (a birth time, SHA-256 when not asked) is bound as '' and made NULL by SQLite's NULLIF (a case
# is SQLite only: CaseStore.open).  Python's sqlite3 binds None and True/False through its adapter look-up, two
# failed attribute look-ups each (~0.3 us a value against ~0.1 for an int or text): 100,000 rows of 16 KiB pages
# went from 5.4 to 3.7 us a row inserted (record_listed: 7.9 -> 5.9 us a file).
_INSERT_READ_FILES = (
    "INSERT INTO items (exhibit_id, locator, path, kind, size, mtime, atime, ctime, btime, link_target, flags, state, "
    "md5, sha1, sha256, file_type, mime, family, extension_mismatch, known_good) "
    "VALUES (?, ?, ?, 'file', ?, ?, ?, ?, NULLIF(?, ''), NULL, ?, 'done', ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?) "
    "ON CONFLICT (exhibit_id, locator) DO NOTHING"
)
_ITEM_ID = "SELECT id FROM items WHERE exhibit_id = ? AND locator = ?"


@dataclass(frozen=True)
class HitRecord:
    item_id: int
    hash_set: str
    hash_set_sha256: str
    profile: str
    category: str
    method: str
    trust_rank: int = 0
    distance: int | None = None  # the hits table's column: pdq, differing bits; vpdq, percent of frames matched
    transform: str | None = None
    matched_hash: str | None = None


_NOT_MEDIA_COLUMNS = ("frames", "for_classifier")


class CaseStore:
    def __init__(self, case_dir: Path, engine: Engine) -> None:
        self.case_dir = case_dir
        self.engine = engine
        self.audit = AuditLog(engine, case_dir)
        self._md5_indexed = False

    @classmethod
    def open(cls, case_dir: Path, create: bool = True) -> CaseStore:
        case_dir = Path(case_dir)
        db_path = case_dir / DATABASE_FILE
        if not create:
            existing_database(case_dir)
        elif not db_path.exists():
            make_private_folder(case_dir)
            create_private_file(db_path)
        engine = create_engine(URL.create("sqlite", database=str(db_path)))  # a "?" or "#" in the path stays in it
        event.listen(engine, "connect", _tune_sqlite)
        metadata.create_all(engine)
        _drop_replaced_indexes(engine)
        _add_problem_kinds(engine)
        _add_region_volumes(engine)
        _refuse_older_layout(engine, case_dir)
        store = cls(case_dir, engine)
        store._protect_audit_log()
        with engine.begin() as conn:
            if conn.execute(select(case_info.c.value).where(case_info.c.key == "created_at")).first() is None:
                conn.execute(
                    insert(case_info),
                    [{"key": "created_at", "value": str(time.time())}, {"key": "tool_version", "value": __version__}],
                )
                created = True
            else:
                created = False
        if created:
            store.audit.append("case_created", {"case_dir": str(case_dir.resolve())})
        return store

    def _protect_audit_log(self) -> None:
        """Refuse UPDATE and DELETE on the audit log in the database itself; the chain still catches bypasses."""
        with self.engine.begin() as conn:
            for verb in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
                )

    # exhibits

    def exhibits(self) -> list[Exhibit]:
        with self.engine.connect() as conn:
            return [exhibit_from_row(r) for r in conn.execute(exhibits_query())]

    def ensure_exhibit(self, ref: str, source: str, source_kind: str) -> tuple[Exhibit, bool]:
        """The exhibit ``ref``, created if new; a ref already used for another source is refused."""
        with self.engine.begin() as conn:
            row = conn.execute(select(exhibits).where(exhibits.c.ref == ref)).first()
            if row is not None:
                if row.source != source:
                    raise CaseError(
                        f"exhibit {ref!r} was scanned from {row.source}, not {source}: "
                        "give this source its own --exhibit reference"
                    )
                return Exhibit(row.id, row.ref, row.source, row.source_kind, bool(row.walk_complete)), False
            key = conn.execute(
                insert(exhibits).values(ref=ref, source=source, source_kind=source_kind, created_at=time.time(), walk_complete=False)
            ).inserted_primary_key
            assert key is not None, "a one-row INSERT has its primary key"
            new_id = key[0]
        return Exhibit(new_id, ref, source, source_kind, False), True

    def add_regions(self, exhibit_id: int, found: Sequence[tuple[str, int, int]], *, volume: str = "") -> None:
        """Disk space outside any file system: (kind, offset, length) of the media, or of the decrypted ``volume``
        (its locator text); carving reads these later."""
        if found:
            with self.engine.begin() as conn:
                conn.execute(
                    self._insert_ignore(regions),
                    [{"exhibit_id": exhibit_id, "kind": k, "offset": o, "length": n, "volume": volume}
                     for k, o, n in found],
                )

    def uncarved_regions(self, exhibit_id: int) -> list[tuple[int, str, int, int, str]]:
        """(id, kind, offset, length, volume) of regions not carved yet: the media's in media order, then each
        decrypted volume's in its own order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(regions.c.id, regions.c.kind, regions.c.offset, regions.c.length, regions.c.volume)
                .where(regions.c.exhibit_id == exhibit_id, regions.c.carved_at.is_(None))
                .order_by(regions.c.volume, regions.c.offset)
            ).all()
        return [(r.id, r.kind, r.offset, r.length, r.volume) for r in rows]

    def record_carved(self, exhibit_id: int, region_id: int, found: Sequence[Item], problem: Problem | None,
                      path: str) -> None:
        """A region's carved files, as pending items, and the region marked done, in one transaction."""
        with self.engine.begin() as conn:
            if found:
                conn.exec_driver_sql(self._bulk_sql(_INSERT_ITEMS), self._item_rows(exhibit_id, found))
            conn.execute(update(regions).where(regions.c.id == region_id).values(carved_at=time.time()))
            if problem:
                conn.execute(self._insert_ignore(errors), [_problem_row(exhibit_id, None, "carve", path, problem)])

    def update_exhibit(self, exhibit_id: int, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(exhibits).where(exhibits.c.id == exhibit_id).values(**values))

    # items

    def add_items(self, exhibit_id: int, found: Sequence[Item]) -> None:
        """Record walked items; ones already recorded by an earlier run are left as they are."""
        self.add_item_rows(exhibit_id, [item_row(item) for item in found])

    def add_item_rows(self, exhibit_id: int, rows: Sequence[ItemRow]) -> None:
        """``add_items`` for items already in their row form (``item_row``), as the walker process sends them."""
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._bulk_sql(_INSERT_ITEMS), [(exhibit_id, *row) for row in rows])

    @staticmethod
    def _item_rows(exhibit_id: int, found: Sequence[Item]) -> list[tuple]:
        return [(exhibit_id, *item_row(item)) for item in found]

    def found_inside(self, exhibit_id: int) -> tuple[int, int]:
        """(files, bytes) found inside other items or free space rather than listed by the walk: archive members,
        thumbnails, carved runs.  A resumed scan's progress adds them to what its walk lists again."""
        inside = or_(*(items.c.flags.like(f"%{flag.value}%")
                       for flag in (ItemFlag.IN_ARCHIVE, ItemFlag.THUMBNAIL, ItemFlag.CARVED)))
        with self.engine.connect() as conn:
            files, size = conn.execute(select(func.count(), func.coalesce(func.sum(items.c.size), 0)).where(
                items.c.exhibit_id == exhibit_id, items.c.kind == ItemKind.FILE.value, inside)).one()
        return files, size

    def pending_items(self, exhibit_id: int, after_id: int, limit: int) -> list[PendingItem]:
        with self.engine.connect() as conn:
            cursor = conn.connection.cursor()  # the driver's own cursor, plain tuples: see _bulk_sql
            try:
                cursor.execute(self._bulk_sql(_PENDING_ITEMS), (exhibit_id, after_id, limit))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        return [PendingItem(*row) for row in rows]

    def record_listed(
        self, exhibit_id: int, rows: Sequence[ItemRow], results: Sequence[ItemResult], found_hits: Sequence[HitRecord],
        known_good: Collection[int] = (),
    ) -> None:
        """Entries of a first walk, inserted once and complete: each file with what a reader read of it, links and
        special files as listed, in the walk's order.  Here the item ids of ``results``, ``found_hits`` and
        ``known_good`` are positions in ``rows``: the rows get their ids now.  One transaction, as ``record_results``;
        a crash before it leaves the entries unrecorded, and the resumed scan's walk lists them again as pending.

        Why: inserting every file as pending, selecting it again to dispatch it and updating it with its digests
        was most of the main process's work per small file, the pace of a folder of many small files."""
        now = time.time()
        read = {r.item_id: r for r in results}
        runs: list[tuple[str, list[tuple]]] = []  # consecutive rows written by one statement, in the walk's order
        for position, row in enumerate(rows):
            r = read.get(position)
            if r is not None and not r.error and not r.truncated and row.link_target is None:
                statement = _INSERT_READ_FILES
                value: tuple = (
                    exhibit_id, row.locator, row.path, row.size if r.size is None else r.size, row.mtime, row.atime,
                    row.ctime, "" if row.btime is None else row.btime, row.flags, r.md5, r.sha1,
                    "" if r.sha256 is None else r.sha256, r.file_type, r.mime, r.family,
                    1 if r.extension_mismatch else 0, 1 if position in known_good else 0)
            elif r is None:
                statement, value = _INSERT_READ_ITEMS, (exhibit_id, *row, None, None, None, None, None, None, None, False)
            else:
                statement = _INSERT_READ_ITEMS
                flags = row.flags + ",truncated" if r.truncated else row.flags  # as record_results appends it
                value = (exhibit_id, row.locator, row.path, row.kind, row.size if r.size is None else r.size,
                         row.mtime, row.atime, row.ctime, row.btime, row.link_target, flags,
                         "error" if r.error else "done", r.md5, r.sha1, r.sha256, r.file_type, r.mime, r.family,
                         r.extension_mismatch, position in known_good)
            if not runs or runs[-1][0] is not statement:
                runs.append((statement, []))
            runs[-1][1].append(value)
        with self.engine.begin() as conn:
            for statement, values in runs:
                conn.exec_driver_sql(self._bulk_sql(statement), values)
            found = {h.item_id for h in found_hits} | {r.item_id for r in results if r.error or r.problems}
            ids = {position: self._item_id(conn, exhibit_id, rows[position].locator) for position in found}
            self._record_read_extras(conn, exhibit_id, results, [replace(h, item_id=ids[h.item_id]) for h in found_hits],
                                     [(ids[r.item_id], rows[r.item_id].path, r) for r in results if r.item_id in ids],
                                     now)

    def _item_id(self, conn: Connection, exhibit_id: int, locator: str) -> int:
        (item_id,) = conn.exec_driver_sql(self._bulk_sql(_ITEM_ID), (exhibit_id, locator)).one()
        return item_id

    def record_results(
        self, exhibit_id: int, results: Sequence[ItemResult], found_hits: Sequence[HitRecord], paths: dict[int, str],
        known_good: Sequence[int] = (), duplicates: Sequence[int] = (),
    ) -> None:
        """Digests, hits and errors of a batch in one transaction: all of it lands, or none (and it is re-read)."""
        now = time.time()
        with self.engine.begin() as conn:
            if results:
                conn.exec_driver_sql(
                    self._bulk_sql(_UPDATE_RESULTS),
                    [
                        ("error" if r.error else "done", r.md5, r.sha1, "" if r.sha256 is None else r.sha256,
                         r.file_type, r.mime, r.family,
                         None if r.extension_mismatch is None else 1 if r.extension_mismatch else 0, r.size, r.item_id)
                        for r in results
                    ],
                )
            if known_good:
                self.mark_known_good(known_good, conn)
            if duplicates:
                conn.execute(update(items).where(items.c.id.in_(list(duplicates)),
                                                 items.c.flags.not_like("%duplicate%"))  # a unit retried elsewhere
                             .values(flags=items.c.flags + ",duplicate"))
            truncated = [r.item_id for r in results if r.truncated]
            if truncated:
                conn.execute(update(items).where(items.c.id.in_(truncated), items.c.flags.not_like("%truncated%"))
                             .values(flags=items.c.flags + ",truncated"))
            self._record_read_extras(conn, exhibit_id, results, found_hits,
                                     [(r.item_id, paths.get(r.item_id, ""), r) for r in results if r.error or r.problems],
                                     now)

    def _record_read_extras(
        self, conn: Connection, exhibit_id: int, results: Sequence[ItemResult], found_hits: Sequence[HitRecord],
        with_problems: Sequence[tuple[int, str, ItemResult]], now: float,
    ) -> None:
        """What a batch's reading found besides the items' own columns: the children (as pending items, with their
        parent's result: a crash leaves both or neither), the hits, and the problems of ``with_problems`` (item id,
        path, result)."""
        children = [child for r in results for child in r.children]
        if children:
            conn.exec_driver_sql(self._bulk_sql(_INSERT_ITEMS), self._item_rows(exhibit_id, children))
        if found_hits:
            conn.execute(self._insert_ignore(hits), [h.__dict__ for h in found_hits])
        problems = [_problem_row(exhibit_id, item_id, "read", path, problem, now)
                    for item_id, path, r in with_problems for problem in ((r.error,) if r.error else r.problems)]
        if problems:
            conn.execute(self._insert_ignore(errors), problems)

    def mark_known_good(self, item_ids: Sequence[int], conn=None) -> None:  # noqa: ANN001
        if conn is None:
            with self.engine.begin() as own:
                return self.mark_known_good(item_ids, own)
        conn.execute(update(items).where(items.c.id.in_(list(item_ids))).values(known_good=True))

    def add_hits(self, found_hits: Iterable[HitRecord]) -> None:
        rows = [h.__dict__ for h in found_hits]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self._insert_ignore(hits), rows)

    def add_error(self, exhibit_id: int, stage: str, path: str, problem: Problem, item_id: int | None = None) -> None:
        """A problem of ``stage`` (walk, phone, verify...) at ``path``: recorded, and the scan goes on."""
        with self.engine.begin() as conn:
            conn.execute(self._insert_ignore(errors), [_problem_row(exhibit_id, item_id, stage, path, problem)])

    def pending_media(self, exhibit_id: int, after_id: int, limit: int) -> list[PendingMedia]:
        """Pictures and videos read but not yet decoded; known-good files are never decoded."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.id, items.c.locator, items.c.path, items.c.size, items.c.family)
                .outerjoin(media, media.c.item_id == items.c.id)
                .where(items.c.exhibit_id == exhibit_id, items.c.id > after_id, _DECODED, media.c.item_id.is_(None))
                .order_by(items.c.id)
                .limit(limit)
            ).all()
        return [PendingMedia(r.id, r.locator, r.path, r.size, r.family) for r in rows]

    def record_media(
        self, exhibit_id: int, results: Sequence[MediaResult], found_hits: Sequence[HitRecord], paths: dict[int, str]
    ) -> None:
        """Hashes, frames, hits and decoding errors of a batch in one transaction, as ``record_results``."""
        rows = [{**{k: v for k, v in r.__dict__.items() if k not in _NOT_MEDIA_COLUMNS},
                 "error": r.error.message if r.error else None, "partial": r.partial.message if r.partial else None}
                for r in results]
        frames = [{"item_id": r.item_id, **f.__dict__} for r in results for f in r.frames]
        problems = [_problem_row(exhibit_id, r.item_id, "decode", paths.get(r.item_id, ""), problem)
                    for r in results if (problem := _decode_problem(r))]
        with self.engine.begin() as conn:
            if rows:
                conn.execute(self._insert_ignore(media), rows)
            if frames:
                conn.execute(self._insert_ignore(video_frames), frames)
            if found_hits:
                conn.execute(self._insert_ignore(hits), [h.__dict__ for h in found_hits])
            if problems:
                conn.execute(self._insert_ignore(errors), problems)

    def record_classifier(self, model: ModelSpec) -> None:
        """The model a scan classifies with, once per file content, for the report's method section."""
        row = {"sha256": model.sha256, "name": model.name, "licence": model.licence, "path": model.path,
               "first_used_at": time.time()}
        with self.engine.begin() as conn:
            conn.execute(self._insert_ignore(classifier_models), [row])

    def record_classified(self, exhibit_id: int, found: Sequence[tuple[int, ClassifiedPicture]],
                          paths: dict[int, str], *, superseded: Collection[str] = ()) -> Counter[str]:
        """Detections and ordering scores of pictures (and videos) classified after their hashes were recorded, or
        the problem that stopped each, in one transaction.  A classify problem of these items whose message is in
        ``superseded`` (an earlier attempt's, tried again) is removed: the new outcome replaces it, and the audit
        trail says which problems went, in the same transaction (a recorded problem never vanishes unsaid).  Returns
        the kinds removed, for the scan's counts."""
        done = [(i, c.model_sha256, result) for i, c in found if (result := c.found)]
        problems = [_problem_row(exhibit_id, i, "classify", paths.get(i, ""), c.problem) for i, c in found if c.problem]
        boxes = [{"item_id": i, "rank": rank, "label": d.label, "score": d.score, "x": d.box[0], "y": d.box[1],
                  "width": d.box[2], "height": d.box[3]}
                 for i, _, result in done for rank, d in enumerate(sorted(result.detections, key=lambda d: -d.score))]
        entry = None
        with self.engine.begin() as conn:
            replaced = Counter[str]()
            if superseded and found:
                earlier = and_(errors.c.exhibit_id == exhibit_id, errors.c.stage == "classify",
                               errors.c.item_id.in_([i for i, _ in found]), errors.c.message.in_(list(superseded)))
                gone = conn.execute(select(errors.c.item_id, errors.c.kind, errors.c.message).where(earlier)).all()
                if gone:
                    replaced.update(kind for _, kind, _ in gone)
                    conn.execute(delete(errors).where(earlier))
                    ref = conn.execute(select(exhibits.c.ref).where(exhibits.c.id == exhibit_id)).scalar_one()
                    entry = self.audit.append_in(conn, "problems_superseded", {
                        "exhibit": ref, "stage": "classify", "why": "tried once more: the new outcome replaces them",
                        "problems": [{"item": item, "kind": kind, "message": message} for item, kind, message in gone]})
            if done:
                conn.execute(self._insert_ignore(classifications),
                             [{"item_id": i, "model_sha256": model_sha256, "score": result.score,
                               "nudity": result.nudity} for i, model_sha256, result in done])
            if boxes:
                conn.execute(self._insert_ignore(detections), boxes)
            if problems:
                conn.execute(self._insert_ignore(errors), problems)
        if entry is not None:
            self.audit.record_head(entry)
        return replaced

    def unclassified_media(self, exhibit_id: int, after_id: int, limit: int, *, retried: Collection[str] = (),
                           recorded_before: float = 0.0) -> list[UnclassifiedMedia]:
        """Pictures and videos decoded but neither classified nor refused by the classifier: decoded with the stage
        off, or left when a scan stopped or the classifier's queue was full.  Their decode is done again.  A classify
        problem whose message is in ``retried`` and that was recorded before ``recorded_before`` (by an earlier run)
        does not refuse its item: the item comes back marked ``retry``."""
        classify_problems = and_(errors.c.exhibit_id == exhibit_id, errors.c.stage == "classify",
                                 errors.c.item_id.is_not(None))
        transient = and_(errors.c.message.in_(list(retried)), errors.c.at < recorded_before)
        refused = select(errors.c.item_id).where(classify_problems, ~transient)
        retry = select(errors.c.item_id).where(classify_problems, transient).distinct().subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.id, items.c.locator, items.c.path, items.c.size, items.c.family,
                       retry.c.item_id.is_not(None).label("retry"))
                .join(media, media.c.item_id == items.c.id)
                .outerjoin(classifications, classifications.c.item_id == items.c.id)
                .outerjoin(retry, retry.c.item_id == items.c.id)
                .where(items.c.exhibit_id == exhibit_id, items.c.id > after_id, media.c.error.is_(None),
                       classifications.c.item_id.is_(None), items.c.id.not_in(refused))
                .order_by(items.c.id)
                .limit(limit)
            ).all()
        return [UnclassifiedMedia(r.id, r.locator, r.path, r.size, r.family, bool(r.retry)) for r in rows]

    def done_media(self, exhibit_id: int, after_id: int, limit: int) -> list[MediaResult]:
        """Decoded media as their decoding recorded them (hashes, PDQ quality, frames; not EXIF), to match them
        again against the chosen sets by the rules that matched them first.  Only items the scan would decode
        today: one marked known-good or a duplicate since it was decoded gets no perceptual hit."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(media.c.item_id, media.c.kind, media.c.pdq, media.c.pdq_quality, media.c.dihedral,
                       media.c.error, media.c.partial)
                .join(items, and_(items.c.id == media.c.item_id, items.c.exhibit_id == exhibit_id))
                .where(media.c.item_id > after_id, _DECODED)
                .order_by(media.c.item_id)
                .limit(limit)
            ).all()
        frames = self.video_frames([r.item_id for r in rows if r.kind == "video"])
        return [MediaResult(r.item_id, r.kind, pdq=r.pdq, pdq_quality=r.pdq_quality, dihedral=r.dihedral,
                            frames=tuple(frames.get(r.item_id, ())), error=r.error, partial=r.partial) for r in rows]

    def listed_md5s(self, exhibit_id: int, md5s: Sequence[str | None]) -> set[str]:
        """Which of ``md5s`` belong to an item the file systems list (not carved from free space)."""
        wanted = sorted({m for m in md5s if m})
        if not wanted:
            return set()
        if not self._md5_indexed:  # made once, in one pass over the items read so far (see schema.ITEMS_BY_MD5)
            with self.engine.begin() as conn:
                conn.exec_driver_sql(ITEMS_BY_MD5)
            self._md5_indexed = True
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.md5).where(items.c.exhibit_id == exhibit_id, items.c.md5.in_(wanted),
                                          items.c.flags.not_like("%unallocated%")).distinct()
            ).all()
        return {r.md5 for r in rows}

    def items_with_exact_hits(self, item_ids: Sequence[int]) -> set[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(hits.c.item_id).where(hits.c.item_id.in_(list(item_ids)), hits.c.method.in_(EXACT_METHODS)).distinct()
            ).all()
        return {r.item_id for r in rows}

    def video_frames(self, item_ids: Sequence[int]) -> dict[int, list[FrameRecord]]:
        found: dict[int, list[FrameRecord]] = {i: [] for i in item_ids}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(video_frames).where(video_frames.c.item_id.in_(list(item_ids))).order_by(video_frames.c.item_id, video_frames.c.frame)
            ).all()
        for r in rows:
            found[r.item_id].append(FrameRecord(r.frame, r.timestamp, r.quality, r.pdq))
        return found

    def done_digests(self, exhibit_id: int, after_id: int, limit: int) -> list[ReadDigests]:
        """Digests of items already read, to match them again against the chosen hash sets."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.id, items.c.md5, items.c.sha1, items.c.sha256, items.c.flags)
                .where(items.c.exhibit_id == exhibit_id, items.c.state == "done", items.c.md5.is_not(None), items.c.id > after_id)
                .order_by(items.c.id)
                .limit(limit)
            ).all()
        return [ReadDigests(r.id, r.md5, r.sha1, r.sha256, ItemFlag.DUPLICATE in parsed_flags(r.flags)) for r in rows]

    def _bulk_sql(self, statement: str) -> str:
        """The scan's hot statements go straight to the driver: SQLAlchemy's per-row parameter and result
        processing cost more than SQLite itself (measured: 1.5 s of 12.9 s for 100,000 small files)."""
        if self.engine.dialect.paramstyle in ("format", "pyformat"):
            return statement.replace("?", "%s")
        return statement

    def _insert_ignore(self, table):  # noqa: ANN001 - SQLAlchemy's Table
        # Imported here: a reader (summary, hits, the review app) never loads PostgreSQL's dialect.
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        return dialect_insert(table).on_conflict_do_nothing()

    def close(self) -> None:
        self.engine.dispose()


def exhibits_query() -> Select[Any]:
    """Every exhibit, as ``read_rows.exhibit_from_row`` reads it.  ``read_sql.py`` holds its SQLite text."""
    return (select(exhibits.c.id, exhibits.c.ref, exhibits.c.source, exhibits.c.source_kind, exhibits.c.walk_complete,
                   exhibits.c.facts).order_by(exhibits.c.id))


def _decode_problem(result: MediaResult) -> Problem | None:
    """What the errors table records of a decode: why it failed, else why a video was hashed only in part."""
    if result.error:
        return result.error
    return Problem(result.partial.kind, f"partly hashed: {result.partial.message}") if result.partial else None


def _problem_row(exhibit_id: int, item_id: int | None, stage: str, path: str, problem: Problem,
                 at: float | None = None) -> dict:
    return {"exhibit_id": exhibit_id, "item_id": item_id, "stage": stage, "kind": problem.kind.value, "path": path,
            "message": problem.message, "at": time.time() if at is None else at}


# How an errors row recorded before problems had kinds is classified: by its stage and its words.  Such a case's
# warnings all read stage "changed"; they move to stage "read", which is where they happened.
_LEGACY_KINDS = f"""
CASE
  WHEN message LIKE 'internal error%' THEN '{ProblemKind.INTERNAL}'
  WHEN stage = 'changed' AND (message LIKE '%since it was listed%' OR message LIKE '%while%read%')
    THEN '{ProblemKind.CHANGED}'
  WHEN message LIKE '%nested deeper%' THEN '{ProblemKind.NESTING}'
  WHEN message LIKE '%bomb%' THEN '{ProblemKind.BOMB}'
  WHEN message LIKE '%encrypted%' OR message LIKE '%password%' THEN '{ProblemKind.ENCRYPTED}'
  WHEN message LIKE '%more than%' OR message LIKE '%limit%' THEN '{ProblemKind.LIMIT}'
  WHEN stage IN ('read', 'walk') THEN '{ProblemKind.UNREADABLE}'
  ELSE '{ProblemKind.DAMAGED}'
END"""


def _drop_replaced_indexes(engine: Engine) -> None:
    """An index this fieldlab replaced (``schema.REPLACED_INDEXES``) would still steer SQLite's plans: dropped."""
    with engine.begin() as conn:
        for name in REPLACED_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def _add_problem_kinds(engine: Engine) -> None:
    """A case recorded before problems had kinds gains the errors table's ``kind`` column, its rows classified."""
    if "kind" in {c["name"] for c in inspect(engine).get_columns(errors.name)}:
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE errors ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT '{ProblemKind.DAMAGED}'")
        conn.exec_driver_sql(f"UPDATE errors SET kind = {_LEGACY_KINDS}")
        conn.exec_driver_sql("UPDATE OR IGNORE errors SET stage = 'read' WHERE stage = 'changed'")


def _add_region_volumes(engine: Engine) -> None:
    """A case recorded before regions could lie inside a decrypted volume gains the regions' ``volume`` column, and
    the volume joins the regions' unique key (SQLite changes a key only by copying the table: regions are few)."""
    if "volume" in {c["name"] for c in inspect(engine).get_columns(regions.name)}:
        return
    kept = ", ".join(column.name for column in regions.columns if column.name != "volume")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE regions RENAME TO regions_before_volumes")
        regions.create(conn)
        conn.exec_driver_sql(f"INSERT INTO regions ({kept}) SELECT {kept} FROM regions_before_volumes")
        conn.exec_driver_sql("DROP TABLE regions_before_volumes")


def _refuse_older_layout(engine: Engine, case_dir: Path) -> None:
    """A case made by an earlier fieldlab lacks columns this one writes: say so, rather than fail mid-scan."""
    found = inspect(engine)
    try:
        refuse_older_layout(case_dir, missing_columns(
            TABLE_COLUMNS, {table: {c["name"] for c in found.get_columns(table)} for table in TABLE_COLUMNS}))
    except CaseError:
        engine.dispose()
        raise


def _tune_sqlite(dbapi_connection, _record) -> None:  # noqa: ANN001
    """WAL keeps readers (summary, review app) working while a scan writes; NORMAL sync is crash-safe under WAL.
    A new case's pages are 16 KiB (a case made with 4 KiB pages keeps them): each commit writes a quarter as many
    WAL frames, and a folder's small files commit 1,000 rows at a time (measured: 6.1 -> 5.3 us a row inserted and
    committed)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA page_size=16384")  # before the first table; a no-op on a database that has one
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: index pages of a million-item case stay in memory
    cursor.close()
