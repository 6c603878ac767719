"""The public library API: what the CLI, the tests and later features call.

    import fieldlab
    fieldlab.import_hashset("caid.json", name="caid", profile="uk")
    result = fieldlab.scan("/mnt/exhibit1", case_dir="case-42", exhibit_ref="EX1")
    for ex in fieldlab.summary("case-42"): print(ex.ref, ex.hits_by_category)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from fieldlab.case.read_only import ReadOnlyCase
from fieldlab.case.read_rows import ExhibitCounts, HitRow
from fieldlab.errors import OptionError
from fieldlab.problems import ProblemKind

# The case store (SQLAlchemy), the scan machinery, the classifier and the hash-set library (NumPy) are imported
# where they are used, so that fieldlab summary and hits start without them: those two read the case through
# sqlite3 (case/read_only.py).
if TYPE_CHECKING:
    from fieldlab.case.audit import AuditVerification
    from fieldlab.case.queries import ProblemRow
    from fieldlab.case.store import CaseStore
    from fieldlab.detect.classify import ModelSpec
    from fieldlab.evidence.image import UnlockOptions
    from fieldlab.hashsets.blocks.build import BlockSetReport
    from fieldlab.hashsets.library import HashSetInfo, ImportReport
    from fieldlab.report.exports import ExportResult
    from fieldlab.report.render import WrittenReport
    from fieldlab.triage.prescan import Observer as PrescanObserver
    from fieldlab.triage.prescan import PrescanResult
    from fieldlab.triage.scan import ScanObserver, ScanResult


def import_hashset(
    path: str | Path,
    *,
    name: str | None = None,
    fmt: str = "auto",
    profile: str = "uk",
    mapping_file: str | Path | None = None,
    replace: bool = False,
    home: str | Path | None = None,
    known_good: bool | None = None,
    category: str | None = None,
) -> ImportReport:
    """Import a hash-set file (or a folder of vPDQ hash files) into the library."""
    from fieldlab.hashsets.library import HashSetLibrary

    library = HashSetLibrary(Path(home) if home else None)
    mapping = Path(mapping_file) if mapping_file else None
    return library.import_file(Path(path), name=name, fmt=fmt, profile=profile, mapping_file=mapping, replace=replace,
                               known_good=known_good, category=category)


def update_hashset(
    path: str | Path, name: str, *, fmt: str = "auto", mapping_file: str | Path | None = None,
    home: str | Path | None = None,
) -> ImportReport:
    """Merge a periodic update into set ``name``: its categories win where both list a digest."""
    from fieldlab.hashsets.library import HashSetLibrary
    from fieldlab.hashsets.update import update_set

    library = HashSetLibrary(Path(home) if home else None)
    return update_set(library, name, Path(path), fmt=fmt, mapping_file=Path(mapping_file) if mapping_file else None)


def list_hashsets(home: str | Path | None = None) -> list[HashSetInfo]:
    from fieldlab.hashsets.library import HashSetLibrary

    return HashSetLibrary(Path(home) if home else None).list()


def scan(
    source: str | Path,
    case_dir: str | Path,
    *,
    exhibit_ref: str | None = None,
    hash_sets: Sequence[str] | None = None,
    home: str | Path | None = None,
    sha256: bool = False,
    workers: int | None = None,
    observer: ScanObserver | None = None,
    unlock: UnlockOptions | None = None,
    verify: bool = True,
    perceptual: bool = True,
    pdq_radius: int = 31,
    embedded: bool = True,
    carve: bool = True,
    passwords: Sequence[str] = (),
    cluster: str | None = None,
    local_cluster: int | None = None,
    parents: Sequence[str | Path] = (),
    second_copy: bool = False,
    max_depth: int | None = None,
    classify: bool | None = None,
    classify_model: str | Path | None = None,
) -> ScanResult:
    """Scan a folder, device or disk image (raw, split, E01, VMDK, VHD/VHDX, QCOW2, VDI, Apple .dmg) into a case.

    Everything after ``case_dir`` is a keyword; the switches become one frozen ``triage.options.ScanOptions``, the
    scan's only description of what to do (and what its audit entry records).

    With ``perceptual``, pictures and videos are also decoded for PDQ/vPDQ near matches within ``pdq_radius``;
    with ``embedded``, documents and unknown files are searched for pictures and videos inside them; with
    ``carve``, a disk image's free space is carved for pictures and videos.  ``passwords`` are tried on encrypted
    archive members (added to ``unlock.archive_passwords``); the case records only how many were supplied.
    ``cluster`` (a Dask scheduler's address, ``tcp://host:8786``) or ``local_cluster`` (a number of worker processes
    for a Dask cluster started here) runs the reading, decoding and carving on Dask workers instead of ``workers``
    local processes (see docs/cluster.md); this process still walks and writes the case.

    A differencing image (VHD/VHDX, QCOW2 with a backing file, VMDK or VDI snapshot) is opened with its parents, found by
    name or identifier in the folder holding it or in ``parents`` (files or folders the examiner gives), never at a
    path the image names; without them the exhibit is recorded incomplete, naming the parent it needs.  A source
    the case already holds under another exhibit reference (same path or file, overlapping folders, same media
    hash, same device) is refused with a ``CaseError`` naming that exhibit, unless ``second_copy``.
    ``max_depth`` is how many levels of archives within archives are opened (default ``archives.MAX_DEPTH``); a
    container deeper is reported as a nesting problem.

    ``classify`` (default: on when ``fieldlab[classify]`` is installed, or ``classify_model`` is given) runs the
    nudity-and-person detector on each decoded picture, NudeNet's model or a force's own ONNX file
    ``classify_model`` (docs/classifier.md); its score only orders the review queue.  A model that cannot be used
    when asked for raises ``ClassifierError`` before anything is scanned.
    """
    from fieldlab.evidence.archives import MAX_DEPTH
    from fieldlab.evidence.image import UnlockOptions
    from fieldlab.hashsets.library import HashSetLibrary
    from fieldlab.triage.options import ScanOptions, SourceAccess, Workers
    from fieldlab.triage.scan import scan_source

    if passwords:
        unlock = unlock or UnlockOptions()
        unlock = replace(unlock, archive_passwords=tuple(dict.fromkeys([*unlock.archive_passwords, *passwords])))
    options = ScanOptions(
        hash_sets=tuple(hash_sets or ()), sha256=sha256, verify=verify, perceptual=perceptual, pdq_radius=pdq_radius,
        embedded=embedded, carve=carve, max_depth=MAX_DEPTH if max_depth is None else max_depth,
        classify=_classifier(classify, classify_model) if perceptual else None, second_copy=second_copy,
        workers=Workers(processes=workers, cluster=cluster, local_cluster=local_cluster),
        access=SourceAccess(unlock=unlock, parents=tuple(Path(p) for p in parents)),
    )
    return scan_source(Path(source), Path(case_dir), options=options, exhibit_ref=exhibit_ref,
                       library=HashSetLibrary(Path(home) if home else None), observer=observer)


def _classifier(classify: bool | None, model_path: str | Path | None) -> ModelSpec | None:
    from fieldlab.detect.classify import available as classifier_available
    from fieldlab.detect.classify import describe_model

    if classify is False or (classify is None and model_path is None and not classifier_available()):
        return None
    return describe_model(Path(model_path) if model_path else None)


def summary(case_dir: str | Path) -> list[ExhibitCounts]:
    """Every exhibit's verdict counts, read without writing to the case and without SQLAlchemy (case/read_only.py)."""
    with ReadOnlyCase.open(Path(case_dir)) as case:
        return case.exhibit_counts()


def list_problems(case_dir: str | Path, kind: ProblemKind | None = None) -> list[ProblemRow]:
    """Every problem the scans recorded (or those of one kind), grouped by kind: what, where, on which item."""
    from fieldlab.case.queries import iter_problems

    store = _open_store(case_dir)
    try:
        return list(iter_problems(store, kind))
    finally:
        store.close()


def hits(case_dir: str | Path) -> Iterator[HitRow]:
    """Every hit, streamed as ``summary`` reads the case (case/read_only.py)."""
    with ReadOnlyCase.open(Path(case_dir)) as case:
        yield from case.hits()


def verify_audit(case_dir: str | Path) -> AuditVerification:
    store = _open_store(case_dir)
    try:
        return store.audit.verify()
    finally:
        store.close()


def report(
    case_dir: str | Path,
    fmt: str = "pdf",
    output: str | Path | None = None,
    *,
    profile: str = "uk",
    declaration: str | None = None,
    thumbnails: bool = False,
    passwords: Sequence[str] = (),
    home: str | Path | None = None,
) -> WrittenReport:
    """Write the court report of a case (``fmt`` html or pdf) and record the file's SHA-256 in its audit trail.

    ``declaration`` is the examiner's text, shown as written; ``thumbnails`` draws small blurred greyscale pictures
    of the counted items anew from the evidence (none otherwise), opening encrypted exhibits with ``passwords`` (newest
first, in memory only).  ``output`` defaults to a file in the case folder.
    """
    from fieldlab.hashsets.library import HashSetLibrary
    from fieldlab.report.document import build_report
    from fieldlab.report.pictures import PictureStyle
    from fieldlab.report.render import FORMATS, default_output, write_report

    if fmt not in FORMATS:
        raise OptionError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")
    store = _open_store(case_dir)
    try:
        content = build_report(store, profile=profile, declaration=declaration,
                               pictures=PictureStyle() if thumbnails else None, passwords=passwords,
                               library=HashSetLibrary(Path(home) if home else None))
        return write_report(store, content, fmt=fmt,
                            output=Path(output) if output else default_output(Path(case_dir), profile, fmt))
    finally:
        store.close()


def export_case(
    case_dir: str | Path,
    fmt: str,
    output: str | Path,
    *,
    profile: str = "uk",
    mapping_file: str | Path | None = None,
    all_media: bool = False,
) -> ExportResult:
    """Write a case as VICS, CASE/UCO, DFXML or a CSV of every item (``report.exports.EXPORT_FORMATS``) and record
    the file's SHA-256 in its audit trail."""
    from fieldlab.report.exports import export_case as write_export

    store = _open_store(case_dir)
    try:
        return write_export(store, fmt, Path(output), profile=profile,
                            mapping_file=Path(mapping_file) if mapping_file else None, all_media=all_media)
    finally:
        store.close()


def build_block_set(
    folder: str | Path,
    name: str,
    *,
    category: str | None = None,
    categories_file: str | Path | None = None,
    profile: str = "uk",
    mapping_file: str | Path | None = None,
    replace: bool = False,
    home: str | Path | None = None,
    min_entropy: float | None = None,
) -> BlockSetReport:
    """Build the block-hash set ``name`` from the files below ``folder`` (see ``fieldlab.hashsets.blocks.build``)."""
    from fieldlab.hashsets.blocks.build import DEFAULT_MIN_ENTROPY
    from fieldlab.hashsets.blocks.build import build_block_set as build
    from fieldlab.hashsets.library import HashSetLibrary

    return build(
        HashSetLibrary(Path(home) if home else None), Path(folder), name, category=category,
        categories_file=Path(categories_file) if categories_file else None, profile=profile,
        mapping_file=Path(mapping_file) if mapping_file else None, replace=replace,
        min_entropy=DEFAULT_MIN_ENTROPY if min_entropy is None else min_entropy,
    )


def prescan(
    source: str | Path,
    block_sets: Sequence[str] | None = None,
    *,
    minutes: float = 5.0,
    confidence: float | None = None,
    min_mib: float = 1.0,
    seed: int | None = None,
    stop_on_match: bool = False,
    home: str | Path | None = None,
    observer: PrescanObserver | None = None,
) -> PrescanResult:
    """Sample random 4 KiB windows of a disk image or device against block-hash sets (all when ``block_sets`` is
    empty) until ``minutes`` pass, ``confidence`` is reached for ``min_mib`` MiB of known material, the media is
    exhausted or (with ``stop_on_match``) a block matches.  See ``fieldlab.triage.prescan`` and docs/prescan.md."""
    from fieldlab.hashsets.blocks.store import load_block_sets
    from fieldlab.hashsets.library import HashSetLibrary
    from fieldlab.triage.prescan import prescan as sample

    sets = load_block_sets(HashSetLibrary(Path(home) if home else None), list(block_sets or []))
    return sample(Path(source), sets, minutes=minutes, confidence=confidence, min_mib=min_mib, seed=seed,
                  stop_on_match=stop_on_match, observer=observer)


def _open_store(case_dir: str | Path) -> CaseStore:
    """An existing case, for reading and writing (SQLAlchemy: imported here, see above)."""
    from fieldlab.case.store import CaseStore

    return CaseStore.open(Path(case_dir), create=False)
