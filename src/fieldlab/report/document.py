"""Everything a court report says about a case, gathered from the case folder into typed data (``ReportContent``).

Rendering (HTML, PDF) is ``report.render``'s job; this module only reads.  The same case gives the same content:
every list is sorted or in the case's own order, times are UTC, and the only thing that changes from one report to
the next is ``generated_at``.  The case folder appears by name only, never by the path of this machine.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from fieldlab import __version__
from fieldlab.case.item_rows import exhibit_rows
from fieldlab.case.phone import case_devices
from fieldlab.case.queries import ClassifierUse, classifier_uses, cloud_only_files, exhibit_counts, iter_problems
from fieldlab.case.read_rows import ExhibitCounts
from fieldlab.case.store import CaseStore
from fieldlab.errors import OptionError
from fieldlab.hashsets.library import HashSetInfo, HashSetLibrary
from fieldlab.hashsets.profiles import PROFILES
from fieldlab.problems import ProblemKind
from fieldlab.report.charging import BASES, MEDIUMS, TOTAL, ChargingTable, CountedItem, charging_table
from fieldlab.report.pictures import Picture, PictureStyle, item_pictures
from fieldlab.report.verdict import problems_summary

ERRORS_SHOWN = 5  # messages quoted per exhibit and stage; the count covers all of them
CLOUD_ONLY_SHOWN = 50  # cloud-only placeholders named per exhibit; the count covers all of them
SCAN_ACTIONS = ("scan_started", "scan_resumed")
BASIS_MEANING = {
    "hash set": "Matched a categorised record of a hash set, and no examiner in this case put it in another category.",
    "examiner": "Categorised by an examiner in this case (new material, or an examiner overruling a set).",
    "indicative": "Only a perceptual near match, or only thumbnails nobody has confirmed: a lead for review, "
                  "not a count for the indictment.",
}
MEDIUM_TITLES = {"still": "Stills", "movie": "Movies", "other": "Other files"}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Volume:
    index: str
    offset: int
    length: int
    description: str
    file_system: str
    encryption: str
    shadow_copies: int
    apfs_volumes: str
    logical_volumes: str  # LVM: "root (ext4), swap_1 (not read)"
    problem: str


@dataclass(frozen=True)
class ImageFacts:
    """What the scan recorded of a disk image (``exhibits.facts``); empty for folders and files."""

    container: tuple[Fact, ...]
    headers: tuple[Fact, ...]  # EWF case metadata: case number, examiner, acquisition date...
    stored_hashes: tuple[Fact, ...]
    partition_scheme: str | None
    volumes: tuple[Volume, ...]
    problems: tuple[str, ...]
    other: tuple[Fact, ...]  # anything else recorded, as JSON, so nothing the case holds is left out


@dataclass(frozen=True)
class EvidenceHash:
    state: str  # verified | mismatch | no stored hash | unreadable | not checked
    message: str | None
    stored: tuple[Fact, ...]
    computed: tuple[Fact, ...]


@dataclass(frozen=True)
class Device:
    source_path: str | None  # the file the facts were read from (display path inside the exhibit)
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class ExhibitSection:
    ref: str
    source: str  # as the case recorded it
    kind: str
    scan_started_at: float | None
    scan_finished_at: float | None
    hash_sets: tuple[str, ...]
    facts: ImageFacts | None
    evidence_hash: EvidenceHash
    devices: tuple[Device, ...]


@dataclass(frozen=True)
class LibraryRecord:
    """The hash-set library's own record of a set, where this machine's library still has that version."""

    source_name: str
    source_sha256: str
    format: str
    profile: str
    known_good: bool
    entries: int
    digests: tuple[Fact, ...]
    imported_at: float
    updates: int


@dataclass(frozen=True)
class HashSetUsed:
    recorded: str  # "name@source_sha256" as the case recorded it
    name: str
    exhibits: tuple[str, ...]
    library: LibraryRecord | None
    library_note: str  # where the description comes from, and what differs


@dataclass(frozen=True)
class ScanSettings:
    exhibit: str
    action: str  # scan_started | scan_resumed
    at: str  # ISO 8601 UTC, as the audit trail holds it
    actor: str
    tool_version: str
    hash_sets: tuple[str, ...]
    settings: tuple[Fact, ...]


@dataclass(frozen=True)
class ErrorGroup:
    """The problems of one kind on one exhibit: the kind's words for a court report, and the first few."""

    kind: str  # ProblemKind value
    label: str  # what it means: "damaged", "changed during the scan", "normal"...
    is_error: bool  # false for normal: listed as a fact, not counted as an error
    count: int
    first: tuple[Fact, ...]  # "path (stage)" -> message, the first few recorded


@dataclass(frozen=True)
class Coverage:
    exhibit: str
    files: int
    bytes: int
    files_read: int
    bytes_read: int
    media: int
    media_decoded: int
    deleted: int
    deleted_names_only: int
    pseudo_entries: int
    cloud_only: int  # cloud placeholders: listed, their content not on the disk
    cloud_only_first: tuple[Fact, ...]  # the first ``CLOUD_ONLY_SHOWN`` of them: path -> size and modified time
    known_good: int
    errors: int
    problems: str  # by kind, as the verdict shows them
    walk_complete: bool
    finished: bool
    error_groups: tuple[ErrorGroup, ...]


@dataclass(frozen=True)
class ChargingCell:
    images: int
    copies: int
    live: int
    deleted_or_carved_only: int
    thumbnail_only: int


@dataclass(frozen=True)
class ChargingLine:
    category: str
    cells: tuple[ChargingCell, ...]  # one per medium of ``ChargingSection.mediums``


@dataclass(frozen=True)
class BasisTable:
    basis: str
    meaning: str
    lines: tuple[ChargingLine, ...]

    def images(self, medium_index: int) -> int:
        """Images of every category on this basis, for one medium: a basis's own total, never mixed with another."""
        return sum(line.cells[medium_index].images for line in self.lines)

    @property
    def empty(self) -> bool:
        """Nothing counted on this basis: the report says so in one line instead of a table of zeros."""
        return not any(cell.images for line in self.lines for cell in line.cells)


@dataclass(frozen=True)
class ChargingScope:
    scope: str  # an exhibit's reference, or "All exhibits"
    bases: tuple[BasisTable, ...]  # always the three, in BASES order: never added together
    total: bool = False  # the scope of every exhibit together

    @property
    def heading(self) -> str:
        return self.scope if self.total else f"Exhibit {self.scope}"

    @property
    def empty(self) -> bool:
        return all(table.empty for table in self.bases)


@dataclass(frozen=True)
class ChargingSection:
    profile: str
    categories: tuple[str, ...]
    mediums: tuple[str, ...]  # stills and movies always; other files when any were counted
    scopes: tuple[ChargingScope, ...]  # all exhibits first, then each exhibit
    not_indecent: int

    @property
    def total(self) -> ChargingScope:
        return next(scope for scope in self.scopes if scope.total)


@dataclass(frozen=True)
class CountedEntry:
    item: CountedItem
    picture: Picture | None  # None: pictures were not asked for


@dataclass(frozen=True)
class AuditState:
    entries: int
    head_seq: int | None
    head_hash: str | None
    intact: bool
    problem: str | None


@dataclass(frozen=True)
class ReportContent:
    case_name: str
    profile: str
    category_meanings: tuple[Fact, ...]
    tool_version: str
    generated_at: str  # the one thing that differs between two reports of the same case
    exhibits: tuple[ExhibitSection, ...]
    hash_sets: tuple[HashSetUsed, ...]
    scans: tuple[ScanSettings, ...]
    coverage: tuple[Coverage, ...]
    counting_rules: tuple[str, ...]
    charging: ChargingSection
    items: tuple[CountedEntry, ...]
    pictures: PictureStyle | None
    declaration: str | None
    audit: AuditState
    classifiers: tuple[ClassifierUse, ...] = ()  # the review-ordering stage, if it ran: named, never counted


def build_report(
    store: CaseStore,
    *,
    profile: str = "uk",
    declaration: str | None = None,
    pictures: PictureStyle | None = None,
    passwords: Sequence[str] = (),
    library: HashSetLibrary | None = None,
    generated_at: datetime | None = None,
) -> ReportContent:
    """The report of the case in ``store``; ``pictures`` draws counted items anew from the evidence (else none)."""
    if profile not in PROFILES:
        raise OptionError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    table = charging_table(store, profile)
    refs = [e.ref for e in store.exhibits()]
    drawn = item_pictures(store, table.items, pictures, passwords=passwords) if pictures is not None else {}
    moment = (generated_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return ReportContent(
        case_name=store.case_dir.resolve().name,
        profile=profile,
        category_meanings=tuple(Fact(c, PROFILES[profile].descriptions.get(c, "")) for c in table.categories),
        tool_version=__version__,
        generated_at=moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
        exhibits=_exhibit_sections(store),
        hash_sets=_hash_sets(store, library or HashSetLibrary()),
        scans=_scans(store),
        coverage=_coverage(store),
        counting_rules=counting_rules(profile),
        charging=charging_section(table, refs),
        items=tuple(CountedEntry(i, drawn.get(i.item_id)) for i in table.items),
        pictures=pictures,
        declaration=declaration,
        audit=_audit(store),
        classifiers=classifier_uses(store),
    )


def counting_rules(profile: str) -> tuple[str, ...]:
    """What a number in the charging table includes, in plain words (the rules of ``report.charging``)."""
    chosen = PROFILES[profile]
    indecent = ", ".join(sorted(chosen.indecent, key=chosen.severity))
    return (
        "A number counts images, not files. Copies of one picture or movie (the same SHA-1, or the same MD5 where no "
        "SHA-1 was computed) are one image, on one device or across devices; the number in brackets is how many "
        "copies (files, deleted files, carved runs, thumbnails) hold those images.",
        "Each image is counted once, on exactly one of three bases, shown in separate tables that are never added "
        "together: hash set, examiner, indicative.",
        "Hash set: the image's bytes match a categorised record of a hash set. Where sets disagree, the most trusted "
        "set decides. An examiner who confirms the set's category leaves it on this basis.",
        "Examiner: an examiner in this case categorised the image, either new material or overruling a set; the "
        "examiner's latest decision stands.",
        "Indicative: only a perceptual (PDQ or vPDQ) near match, or only thumbnails that nobody has confirmed. "
        "These are leads for review, not counts for an indictment.",
        f"Categories are those of the {profile} profile ({indecent}, and 'uncategorised' for a set's record without "
        "a category). Where an image has several, the deciding one is shown.",
        "An examiner's 'not indecent' removes an image from every table; how many were removed is stated below "
        "the tables.",
        "Stills and movies are counted apart.",
        "Live: at least one copy is a file the file system lists and that is not deleted. Deleted or carved only: "
        "no live copy, and at least one copy is a deleted, orphaned or reallocated file or was carved from free "
        "space. Thumbnail only: every copy is a thumbnail (a thumbnail-cache entry or an embedded preview).",
        "Never counted: files matching a known-good set (such as NSRL), and carved copies of files the file system "
        "still lists.",
        "Deleted (coverage table): deleted user files with content or a name, names whose content is gone among "
        "them (shown apart); records the file system keeps that are no user's file (NTFS's reserved MFT records, an "
        "exFAT volume label) are not counted.",
        "Problems are counted by kind: what happened (damaged, truncated, changed during the scan...), not where. "
        "'Normal' entries, such as the empty thumbnail caches Windows keeps for every size, are facts, not errors.",
    )


def charging_section(table: ChargingTable, exhibit_refs: list[str]) -> ChargingSection:
    """The charging table laid out per scope and basis: every category of a basis that counted anything."""
    used = {r.medium for r in table.rows}
    mediums = tuple(m for m in MEDIUMS if m in ("still", "movie") or m in used)
    scopes = []
    # the total first: it is what the charging decision turns on; each exhibit follows
    for scope in [TOTAL, *exhibit_refs, *(r for r in table.exhibits if r not in exhibit_refs)]:
        bases = []
        for basis in BASES:
            lines = tuple(ChargingLine(category, tuple(_cell(table, scope, basis, m, category) for m in mediums))
                          for category in table.categories)
            bases.append(BasisTable(basis, BASIS_MEANING[basis], lines))
        scopes.append(ChargingScope(scope, tuple(bases), total=scope == TOTAL))
    return ChargingSection(table.profile, table.categories, mediums, tuple(scopes), table.not_indecent)


def _cell(table: ChargingTable, scope: str, basis: str, medium: str, category: str) -> ChargingCell:
    row = table.cell(scope, basis, medium, category)
    if row is None:
        return ChargingCell(0, 0, 0, 0, 0)
    return ChargingCell(row.images, row.copies, row.live, row.deleted_or_carved_only, row.thumbnail_only)


def _exhibit_sections(store: CaseStore) -> tuple[ExhibitSection, ...]:
    devices: dict[str, list[Device]] = defaultdict(list)
    for row in case_devices(store):
        facts = tuple(Fact(k, utc_text(v) if k == "extracted_at" else str(v))
                      for k, v in sorted(row.facts.to_json_dict().items()))
        devices[row.exhibit].append(Device(row.source_path, facts))
    return tuple(
        ExhibitSection(
            ref=r.ref, source=r.source, kind=r.source_kind, scan_started_at=r.scan_started_at,
            scan_finished_at=r.scan_finished_at, hash_sets=tuple(filter(None, (r.hash_sets or "").split(","))),
            facts=_image_facts(r.facts), evidence_hash=_evidence_hash(r.hash_state, r.hash_detail),
            devices=tuple(devices.get(r.ref, ())),
        )
        for r in exhibit_rows(store)
    )


_EMPTY: tuple[object, ...] = (None, "", [], {})


def _image_facts(text: str | None) -> ImageFacts | None:
    if not text:
        return None
    facts = json.loads(text)
    if not isinstance(facts, dict):
        return ImageFacts((), (), (), None, (), (), (Fact("recorded", _json(facts)),))
    container = facts.get("container") or {}
    described = [Fact("kind", str(container.get("kind", "not recorded")))]
    for label, key in (("segments", "segments"), ("media size (bytes)", "media_size"),
                       ("bytes per sector", "bytes_per_sector")):
        if key in container:
            value = container[key]
            described.append(Fact(label, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    if isinstance(container.get("chain"), list) and container["chain"]:  # a differencing image: what was opened
        described.append(Fact("differencing chain (child first)", " > ".join(
            f"{link.get('path')}" + (f" (identifier {link['identifier']})" if link.get("identifier") else "")
            for link in container["chain"] if isinstance(link, dict))))
    known = {"container", "partition_scheme", "volumes", "problems", "media_size", "sector_size", "gaps"}
    # a fact recorded empty ("device_ids: []", "missing_parent: null") says nothing an examiner can use
    other = [Fact(k, _json(v)) for k, v in sorted(facts.items()) if k not in known and v not in _EMPTY]
    other += [Fact(f"container {k}", _json(v)) for k, v in sorted(container.items())
              if k not in ("kind", "segments", "media_size", "bytes_per_sector", "headers", "stored_hashes", "chain",
                           "problems")  # the container's problems are the image's first ones
              and v not in _EMPTY]
    if "gaps" in facts:
        other.append(Fact("unpartitioned gaps (offset, length)", _json(facts["gaps"]) if facts["gaps"] else "none"))
    return ImageFacts(
        container=tuple(described),
        headers=_facts(container.get("headers")),
        stored_hashes=_facts(container.get("stored_hashes")),
        partition_scheme=facts.get("partition_scheme"),
        volumes=tuple(_volume(v) for v in facts.get("volumes") or [] if isinstance(v, dict)),
        problems=tuple(map(str, facts.get("problems") or [])),
        other=tuple(other),
    )


def _volume(v: dict) -> Volume:
    return Volume(
        index="" if v.get("index") is None else str(v["index"]), offset=int(v.get("offset") or 0),
        length=int(v.get("length") or 0), description=str(v.get("description") or ""),
        file_system=str(v.get("file_system") or "none found"),
        encryption=("" if not v.get("encryption") else
                    f"{v['encryption']} ({'unlocked' if v.get('unlocked') else 'locked'})"),
        shadow_copies=len(v.get("shadow_copies") or []), apfs_volumes=", ".join(map(str, v.get("apfs_volumes") or [])),
        logical_volumes=", ".join(f"{lv.get('name')} ({lv.get('file_system') or 'not read'})"
                                  for lv in v.get("logical_volumes") or [] if isinstance(lv, dict)),
        problem=str(v.get("problem") or ""),
    )


def _evidence_hash(state: str | None, detail: str | None) -> EvidenceHash:
    found = json.loads(detail) if detail else {}
    if not isinstance(found, dict):
        found = {"message": _json(found)}
    return EvidenceHash(state or "not checked", found.get("message"), _facts(found.get("stored")),
                        _facts(found.get("computed")))


def _hash_sets(store: CaseStore, library: HashSetLibrary) -> tuple[HashSetUsed, ...]:
    used: dict[str, set[str]] = defaultdict(set)
    for exhibit in _exhibit_hash_sets(store):
        for version in exhibit[1]:
            used[version].add(exhibit[0])
    for entry in store.audit.entries():  # sets of an earlier run of a resumed scan are still evidence of method
        if entry.action in SCAN_ACTIONS:
            for version in entry.detail.get("hash_sets") or []:
                used[str(version)].add(str(entry.detail.get("exhibit", "")))
    held = {info.version: info for info in library.list()}
    by_name = {info.name: info for info in held.values()}
    found = []
    for version in sorted(used):
        name = version.split("@", 1)[0]
        info = held.get(version)
        if info is not None:
            note = "as this machine's hash-set library records it"
        elif name in by_name:
            note = (f"as the case recorded it: this machine's library now holds another version of {name} "
                    f"({by_name[name].version})")
        else:
            note = "as the case recorded it: this machine's library no longer holds this set"
        found.append(HashSetUsed(version, name, tuple(sorted(filter(None, used[version]))),
                                 _library_record(info) if info else None, note))
    return tuple(found)


def _exhibit_hash_sets(store: CaseStore) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.ref, tuple(filter(None, (r.hash_sets or "").split(",")))) for r in exhibit_rows(store)]


def _library_record(info: HashSetInfo) -> LibraryRecord:
    return LibraryRecord(
        source_name=info.source_name, source_sha256=info.source_sha256, format=info.format, profile=info.profile,
        known_good=info.known_good, entries=info.entries,
        digests=tuple(Fact(k, f"{v:,}") for k, v in sorted(info.counts.items())),
        imported_at=info.imported_at, updates=len(info.updates),
    )


def _scans(store: CaseStore) -> tuple[ScanSettings, ...]:
    found = []
    for entry in store.audit.entries():
        if entry.action not in SCAN_ACTIONS:
            continue
        d = entry.detail
        settings = (
            Fact("PDQ radius (largest distance that counts as a near match)", _setting(d, "pdq_radius")),
            Fact("Perceptual matching (PDQ/vPDQ)", _setting(d, "perceptual")),
            Fact("Carving of free space", _setting(d, "carve")),
            Fact("Pictures and videos embedded in other files", _setting(d, "embedded")),
            Fact("SHA-256 computed", _setting(d, "sha256")),
            Fact("Volume shadow copies", _setting(d, "shadow_copies")),
            Fact("Archive passwords supplied (how many)", _setting(d, "archive_passwords")),
        )
        found.append(ScanSettings(str(d.get("exhibit", "")), entry.action, entry.at, entry.actor, entry.tool_version,
                                  tuple(map(str, d.get("hash_sets") or [])), settings))
    return tuple(found)


def _setting(detail: dict, key: str) -> str:
    if key not in detail:
        return "not recorded"
    value = detail[key]
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _coverage(store: CaseStore) -> tuple[Coverage, ...]:
    grouped = _error_groups(store)
    return tuple(_covered(counts, grouped.get(counts.ref, ()), _cloud_only_first(store, counts))
                 for counts in exhibit_counts(store))


def _covered(c: ExhibitCounts, groups: tuple[ErrorGroup, ...], cloud_only: tuple[Fact, ...]) -> Coverage:
    return Coverage(c.ref, c.files, c.bytes, c.files_read, c.bytes_read, c.media, c.media_decoded, c.deleted,
                    c.deleted_names_only, c.pseudo_entries, c.cloud_only, cloud_only, c.known_good, c.errors,
                    problems_summary(c.problems), c.walk_complete, c.finished, groups)


def _cloud_only_first(store: CaseStore, counts: ExhibitCounts) -> tuple[Fact, ...]:
    if not counts.cloud_only:
        return ()
    return tuple(Fact(f.path, f"{f.size:,} bytes" + (f", modified {utc_text(f.mtime)}" if f.mtime else ""))
                 for f in cloud_only_files(store, counts.ref, limit=CLOUD_ONLY_SHOWN))


def _error_groups(store: CaseStore) -> dict[str, tuple[ErrorGroup, ...]]:
    """Per exhibit and kind (in ProblemKind's order, normal last): how many, and the first few as recorded."""
    counts: dict[tuple[str, ProblemKind], int] = defaultdict(int)
    first: dict[tuple[str, ProblemKind], list[Fact]] = defaultdict(list)
    for row in iter_problems(store):
        key = (row.exhibit, row.kind)
        counts[key] += 1
        if len(first[key]) < ERRORS_SHOWN:
            first[key].append(Fact(f"{row.path} ({row.stage})", row.message))
    grouped: dict[str, list[ErrorGroup]] = defaultdict(list)
    for (ref, kind), count in counts.items():
        grouped[ref].append(ErrorGroup(kind.value, kind.label, kind.is_error, count, tuple(first[(ref, kind)])))
    return {ref: tuple(sorted(groups, key=lambda g: not g.is_error)) for ref, groups in grouped.items()}


def _audit(store: CaseStore) -> AuditState:
    checked = store.audit.verify()
    head = store.audit.head()
    return AuditState(checked.entries, head[0] if head else None, head[1] if head else None, checked.ok,
                      checked.problem)


def _facts(mapping: object) -> tuple[Fact, ...]:
    if not isinstance(mapping, dict):
        return ()
    return tuple(Fact(str(k), v if isinstance(v, str) else _json(v)) for k, v in sorted(mapping.items()))


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def utc_text(value: Any) -> str:
    """A time the case recorded (seconds since 1970, UTC, or the audit trail's ISO 8601 text) as text, every time in
    the report in one form; what is not a time is shown as recorded."""
    if value is None:
        return ""
    try:
        return datetime.fromtimestamp(float(value), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment.tzinfo else str(value)
