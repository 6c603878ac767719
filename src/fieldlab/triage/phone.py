"""After the files are read: make sense of the phone extractions an exhibit holds.

Runs once every item is listed (members of zips and tars included), over any
exhibit: a phone's own extraction, or a backup or UFDR package found on a
laptop.  It finds the files that describe a phone (an iOS backup's
``Manifest.db`` and ``Info.plist``, ``build.prop``, a UFDR ``report.xml``,
gallery databases, ``.nomedia`` markers), reads them from the evidence, and
records: the devices; each file's path on the phone where a manifest or
report gives it; which app's folder holds each file and what kind of place
it is; and the gallery's records, joined to the files present, so hidden,
trashed and no-longer-present media stand out.

Every artefact is the suspect's: one that cannot be read is an error of that
item, and the rest goes on.  Databases are copied into a private temporary
folder (SQLite must not write beside evidence, and its WAL must come along).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from fieldlab.case.phone import (
    ListedItem,
    PhoneRecord,
    Placing,
    listed_items,
    media_or_hit,
    named_like,
    replace_phone_findings,
)
from fieldlab.case.store import CaseStore
from fieldlab.detect.photo_databases import PhotoDatabaseError, photo_database_kind, read_photo_database
from fieldlab.device import DeviceFacts
from fieldlab.evidence.archives import ArchiveError, Passwords
from fieldlab.evidence.context import OpenedExhibit
from fieldlab.evidence.nested import OpenedContainers
from fieldlab.evidence.phone.android import BuildPropError, device_from_build_prop
from fieldlab.evidence.phone.apps import placement
from fieldlab.evidence.phone.encrypted_backup import KEY_LAYER, EncryptedIosBackupSource
from fieldlab.evidence.phone.ios_backup import (
    BackupError,
    ManifestRecord,
    container_identifier,
    device_from_info_plist,
    device_from_system_version,
    read_manifest,
)
from fieldlab.evidence.phone.storage import storage_key
from fieldlab.evidence.phone.ufdr import REPORT_NAMES, UfdrError, read_report
from fieldlab.evidence.reopen import ReopenError, reopen_item
from fieldlab.evidence.sources import EvidenceSource, ItemHandle, ItemStream
from fieldlab.locator import Locator, display_bytes
from fieldlab.problems import Problem, ProblemKind

CONTAINER_METADATA = ".com.apple.mobile_container_manager.metadata.plist"
ARTEFACT_SUFFIXES = (".nomedia", CONTAINER_METADATA, "manifest.db", *REPORT_NAMES, "build.prop", "systemversion.plist",
                     "external.db", "external-%.db", "photos.sqlite")
MAX_DEPTH = 256  # folders climbed to find a hidden folder or an app's container
MAX_ARTEFACT = 4 << 30  # a gallery database or report larger than this is not copied out
_SMALL = 16 << 20  # Info.plist, build.prop: read into memory
_OWN_MANIFEST = Locator.for_file(b"Manifest.db").to_text()  # an exhibit that is a backup folder


@dataclass
class PhoneFindings:
    devices: list[tuple[int, DeviceFacts]] = field(default_factory=list)
    records: list[PhoneRecord] = field(default_factory=list)
    origins: dict[int, str] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    problems: list[tuple[ListedItem, Problem]] = field(default_factory=list)


@dataclass(frozen=True)
class _Evidence:
    """The exhibit, and the examiner's archive passwords: artefacts inside an encrypted archive open too.  Artefacts
    are opened the one way every item is re-opened (``reopen_item``)."""

    exhibit: OpenedExhibit
    passwords: Passwords

    @property
    def source(self) -> EvidenceSource:
        return self.exhibit.source

    def open(self, item: ListedItem) -> ItemHandle:
        return reopen_item(self.exhibit, item.locator, self.passwords)


def analyse_phone_artefacts(store: CaseStore, exhibit_id: int, evidence: EvidenceSource,
                            passwords: Passwords = ()) -> PhoneFindings:
    source = _Evidence(OpenedExhibit(evidence, OpenedContainers()), passwords)
    try:
        return _analysed(store, exhibit_id, source)
    finally:
        source.exhibit.containers.close()  # the archives opened on the way to the artefacts; the scan owns the source


def _analysed(store: CaseStore, exhibit_id: int, source: _Evidence) -> PhoneFindings:
    # the database picks out the few items of interest: a laptop's million files cost one indexed-free scan each
    artefacts, hidden_folders, containers = [], set(), {}
    for item in listed_items(store, exhibit_id, named_like(store, ARTEFACT_SUFFIXES)):
        name = _name(item.path).lower()
        if name == ".nomedia":
            hidden_folders.add(_parent(item.path)[0])
        elif name == CONTAINER_METADATA and item.kind == "file":
            containers[_parent(item.path)[0]] = item
        elif item.kind == "file" and _is_artefact(item.path, name):
            artefacts.append(item)
    roots = tuple(_parent(a.path)[0] for a in artefacts)
    by_path = {i.path: i for i in listed_items(store, exhibit_id) if i.path.startswith(roots)} if roots else {}
    found = PhoneFindings()
    databases: list[tuple[ListedItem, str, dict[str, ListedItem]]] = []  # the database, its kind, its journals
    with tempfile.TemporaryDirectory(prefix="fieldlab-phone-") as work:
        for artefact in artefacts:
            name = _name(artefact.path).lower()
            try:
                if kind := photo_database_kind(artefact.path):
                    databases.append((artefact, kind, _journals(artefact.path, by_path)))
                elif name == "manifest.db":
                    _ios_backup(source, artefact, by_path, Path(work), found)
                elif name in REPORT_NAMES:
                    _ufdr(source, artefact, by_path, found)
                elif name == "systemversion.plist":
                    found.devices.append((artefact.id, device_from_system_version(_read(source, artefact), artefact.path)))
                elif name == "build.prop":
                    found.devices.append((artefact.id, device_from_build_prop(_read(source, artefact), artefact.path)))
            except (BackupError, UfdrError, BuildPropError, ArchiveError, ReopenError, OSError) as exc:
                found.problems.append((artefact, _problem(exc)))
        databases += _placed_databases(by_path, found.origins)
        present = _storage_index(listed_items(store, exhibit_id, media_or_hit()), found.origins) if databases else {}
        for database, kind, journals in databases:
            try:
                _photo_database(source, database, kind, journals, Path(work), present, found)
            except (PhotoDatabaseError, ArchiveError, ReopenError, OSError) as exc:
                found.problems.append((database, _problem(exc)))
    found.devices = _distinct(found.devices)
    apps = _container_apps(source, containers, found)
    placings = _placings(listed_items(store, exhibit_id, media_or_hit()), found.origins, hidden_folders, apps)
    replace_phone_findings(store, exhibit_id, found_devices=found.devices, records=found.records, placings=placings,
                           deleted_items=sorted(found.deleted))
    for artefact, problem in found.problems:
        store.add_error(exhibit_id, "phone", artefact.path, problem, item_id=artefact.id)
    return found


def _problem(exc: Exception) -> Problem:
    """A manifest, plist or gallery database that could not be read: its records are missing, not the files."""
    if isinstance(exc, (ArchiveError, BackupError, ReopenError)):
        return exc.problem
    if isinstance(exc, OSError):
        return Problem(ProblemKind.UNREADABLE, str(exc))
    return Problem(ProblemKind.DAMAGED, str(exc))


def _is_artefact(path: str, name: str) -> bool:
    if name == "build.prop":  # vendor partitions repeat the device's build.prop with partition-specific values
        return _name(_parent(path)[0]).lower() not in ("vendor", "odm", "product", "system_ext", "oem")
    if name == "systemversion.plist":  # an iOS file system's own, not one inside an app or a software update
        return path.lower().endswith("system/library/coreservices/systemversion.plist")
    return name in ("manifest.db", *REPORT_NAMES) or photo_database_kind(path) is not None


def _container_apps(source: _Evidence, containers: dict[str, ListedItem], found: PhoneFindings) -> dict[str, str]:
    """iOS keeps each app's data in a folder named by a random UUID; the container manager's plist inside names the
    app's bundle id, which is what tells WhatsApp's media from any other app's."""
    apps = {}
    for folder, item in containers.items():
        try:
            bundle = container_identifier(_read(source, item))
        except (BackupError, ArchiveError, ReopenError, OSError) as exc:
            found.problems.append((item, _problem(exc)))
            continue
        if bundle:
            apps[folder] = bundle
    return apps


# iOS backups ---------------------------------------------------------------------------------------------------


def _ios_backup(source: _Evidence, manifest: ListedItem, by_path: dict[str, ListedItem], work: Path,
                found: PhoneFindings) -> None:
    root, separator = _parent(manifest.path)
    info = by_path.get(_join(root, separator, "Info.plist"))
    if info is not None:  # in the clear even in an encrypted backup: the device is named whatever the manifest
        try:
            found.devices.append((info.id, device_from_info_plist(_read(source, info), info.path)))
        except (BackupError, ArchiveError, ReopenError, OSError) as exc:
            found.problems.append((info, _problem(exc)))
    copy = _decrypted_manifest(source, manifest) or _copy_out(source, manifest, work, _journals(manifest.path, by_path))
    for record in read_manifest(copy):
        stored = _stored_item(record, root, separator, by_path)
        device_path = _shown(record.device_path)
        if stored is not None:
            found.origins[stored.id] = device_path
        found.records.append(PhoneRecord(
            manifest.id, record.file_id, "manifest", device_path, stored.id if stored else None,
            name=_shown(record.relative_path.rsplit("/", 1)[-1]) or None,
            kind={1: "file", 2: "folder", 4: "link"}.get(record.flags, "other"),
            size=record.size, created=record.btime, modified=record.mtime,
        ))


def _decrypted_manifest(source: _Evidence, manifest: ListedItem) -> Path | None:
    """The exhibit's own manifest when the exhibit is an encrypted backup (BackupError when it stays locked); None
    for any other manifest, which is copied out as it is."""
    if isinstance(source.source, EncryptedIosBackupSource) and manifest.locator == _OWN_MANIFEST:
        return source.source.decrypted_manifest()
    return None


def _stored_item(record: ManifestRecord, root: str, separator: str,
                 by_path: dict[str, ListedItem]) -> ListedItem | None:
    """The item holding a record's file: listed under its real path when the backup was decrypted, else under the
    name it is stored as."""
    decrypted = by_path.get(_join(root, separator, _shown(record.device_path)))
    if decrypted is not None and decrypted.locator.startswith(f"file:{record.stored_as}|{KEY_LAYER}:"):
        return decrypted
    return by_path.get(_join(root, separator, record.stored_as))


# Cellebrite report packages ------------------------------------------------------------------------------------


def _ufdr(source: _Evidence, report_item: ListedItem, by_path: dict[str, ListedItem],
          found: PhoneFindings) -> None:
    root, separator = _parent(report_item.path)
    handle = source.open(report_item)
    try:
        report = read_report(_buffered(handle, report_item.size), report_item.path)
    finally:
        handle.close()
    if report.device is not None:
        found.devices.append((report_item.id, report.device))
    for index, entry in enumerate(report.files):
        held = by_path.get(_join(root, separator, _shown(entry.local_path)))
        device_path = _shown(entry.device_path)
        if held is not None:
            found.origins[held.id] = device_path
            if entry.deleted:
                found.deleted.add(held.id)
        found.records.append(PhoneRecord(
            report_item.id, str(index), "ufdr", device_path, held.id if held else None,
            name=device_path.rsplit("/", 1)[-1] or None, kind="file", size=entry.size,
            detail='{"deleted": true}' if entry.deleted else None,
        ))
    if report.problem:
        found.problems.append((report_item, Problem(ProblemKind.DAMAGED, report.problem)))


# gallery databases ---------------------------------------------------------------------------------------------


def _placed_databases(by_path: dict[str, ListedItem], origins: dict[int, str],
                      ) -> list[tuple[ListedItem, str, dict[str, ListedItem]]]:
    """Gallery databases known only by the path a manifest or report gave them: an iOS backup stores
    ``CameraRollDomain/Media/PhotoData/Photos.sqlite`` under a hashed name, and its WAL under another."""
    by_origin = {origins[i.id]: i for i in by_path.values() if i.id in origins}
    return [(item, kind, _journals(origin, by_origin)) for origin, item in sorted(by_origin.items())
            if (kind := photo_database_kind(origin))]


def _journals(path: str, by_path: dict[str, ListedItem]) -> dict[str, ListedItem]:
    return {suffix: by_path[path + suffix] for suffix in ("-wal", "-journal") if path + suffix in by_path}


def _photo_database(source: _Evidence, database: ListedItem, kind: str, journals: dict[str, ListedItem],
                    work: Path, present: dict[str, int], found: PhoneFindings) -> None:
    copy = _copy_out(source, database, work, journals)
    for record in read_photo_database(copy, kind):
        key = storage_key(record.path)
        held = present.get(key) if key else None
        found.records.append(PhoneRecord(
            database.id, str(record.row_id), record.database, _shown(record.path), held,
            name=_shown(record.original_name) if record.original_name else None, kind=record.kind, size=record.size,
            created=record.created, modified=record.modified, trashed=record.trashed, trashed_at=record.trashed_at,
            hidden=record.hidden, detail=_detail(record.owner_app, record.extra),
        ))


def _storage_index(listed: Iterable[ListedItem], origins: dict[int, str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for item in listed:
        if item.kind != "file":
            continue
        for path in (origins.get(item.id), item.path):
            key = storage_key(path) if path else None
            if key:
                index.setdefault(key, item.id)
    return index


def _detail(owner_app: str | None, extra: Iterable[tuple[str, str]]) -> str | None:
    import json

    values = {key: _shown(value) for key, value in extra}
    if owner_app:
        values["owner_app"] = _shown(owner_app)
    return json.dumps(values, sort_keys=True) if values else None


# placing every item --------------------------------------------------------------------------------------------


def _placings(listed: Iterable[ListedItem], origins: dict[int, str], hidden_folders: set[str],
              container_apps: dict[str, str]) -> list[Placing]:
    """App and kind of place for pictures, videos and hits, and the phone path of every item a manifest or report
    placed; ``.nomedia`` folders are hidden."""
    placings, placed = [], set()
    for item in listed:
        placed.add(item.id)
        origin = origins.get(item.id)
        where = placement(origin or item.path)
        app, place = where.app, where.place
        if app is None and container_apps and (container := _ancestor_in(item.path, container_apps)):
            app = placement(f"{container_apps[container]}/{item.path[len(container):]}").app
        if place is None and hidden_folders and _ancestor_in(item.path, hidden_folders):
            place = "hidden"
        if origin or app or place:
            placings.append(Placing(item.id, origin, app, place))
    for item_id, origin in origins.items():
        if item_id not in placed:
            where = placement(origin)
            placings.append(Placing(item_id, origin, where.app, where.place))
    return placings


def _ancestor_in(path: str, folders: set[str] | dict[str, str]) -> str | None:
    parent = _parent(path)[0]
    for _ in range(MAX_DEPTH):
        if not parent:
            return None
        if parent in folders:
            return parent
        parent = _parent(parent)[0]
    return None


# reading artefacts out of the evidence -------------------------------------------------------------------------


def _read(source: _Evidence, item: ListedItem) -> bytes:
    if item.size > _SMALL:
        raise OSError(f"{item.size} bytes: too large for what this file should be")
    handle = source.open(item)
    try:
        return _buffered(handle, item.size).read(_SMALL)
    finally:
        handle.close()


def _copy_out(source: _Evidence, item: ListedItem, work: Path, journals: dict[str, ListedItem]) -> Path:
    """A private copy of a SQLite database with its journal files (``-wal``, ``-journal``), named so SQLite
    finds them."""
    if item.size > MAX_ARTEFACT:
        raise OSError(f"{item.size} bytes: larger than a database copied out for reading ({MAX_ARTEFACT >> 30} GiB)")
    folder = Path(tempfile.mkdtemp(dir=work))
    target = folder / "database.sqlite"
    for suffix in ("", "-wal", "-journal"):
        part = item if not suffix else journals.get(suffix)
        if part is None or part.kind != "file":
            continue
        handle = source.open(part)
        try:
            with open(f"{target}{suffix}", "wb") as out:
                shutil.copyfileobj(_buffered(handle, part.size), out, 1 << 20)
        finally:
            handle.close()
    return target


def _buffered(handle, size: int):  # noqa: ANN001, ANN202 - an ItemHandle, to a binary file object
    import io

    return io.BufferedReader(ItemStream(handle, handle.size or size), 1 << 20)


# paths ---------------------------------------------------------------------------------------------------------


def _parent(path: str) -> tuple[str, str]:
    """The folder holding a display path and the separator to join below it (inside an archive: ' › ')."""
    slash, arrow = path.rfind("/"), path.rfind(" › ")
    if slash < 0 and arrow < 0:
        return "", "/"
    if arrow > slash:
        return path[:arrow], " › "
    return path[:slash], "/"


def _join(root: str, separator: str, relative: str) -> str:
    return f"{root}{separator}{relative}" if root else relative


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(" › ", 1)[-1]


def _shown(text: str) -> str:
    return display_bytes(text.encode("utf-8", "surrogateescape"))


def _distinct(found: list[tuple[int, DeviceFacts]]) -> list[tuple[int, DeviceFacts]]:
    """One device per phone: a full file system holds several build.prop files (system, vendor, odm) saying the same."""
    seen, kept = set(), []
    for item_id, facts in found:
        key = (facts.platform, facts.model, facts.product_type, facts.serial, facts.os_version)
        if key not in seen:
            seen.add(key)
            kept.append((item_id, facts))
    return kept
