"""The public library API: what the CLI, the tests and later features call.

    import fieldlab
    fieldlab.import_hashset("caid.json", name="caid", profile="uk")
    result = fieldlab.scan("/mnt/exhibit1", case_dir="case-42", exhibit_ref="EX1")
    for ex in fieldlab.summary("case-42"): print(ex.ref, ex.hits_by_category)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

from fieldlab.case.audit import AuditVerification
from fieldlab.case.queries import ExhibitCounts, HitRow, exhibit_counts, iter_hits
from fieldlab.case.store import CaseStore
from fieldlab.hashsets.library import HashSetInfo, HashSetLibrary, ImportReport
from fieldlab.evidence.image import UnlockOptions
from fieldlab.triage.scan import ScanObserver, ScanResult, scan_source


def import_hashset(
    path: str | Path,
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
    library = HashSetLibrary(Path(home) if home else None)
    mapping = Path(mapping_file) if mapping_file else None
    return library.import_file(Path(path), name, fmt, profile, mapping, replace, known_good, category)


def update_hashset(
    path: str | Path, name: str, fmt: str = "auto", mapping_file: str | Path | None = None,
    home: str | Path | None = None,
) -> ImportReport:
    """Merge a periodic update into set ``name``: its categories win where both list a digest."""
    from fieldlab.hashsets.update import update_set

    library = HashSetLibrary(Path(home) if home else None)
    return update_set(library, name, Path(path), fmt, Path(mapping_file) if mapping_file else None)


def list_hashsets(home: str | Path | None = None) -> list[HashSetInfo]:
    return HashSetLibrary(Path(home) if home else None).list()


def scan(
    source: str | Path,
    case_dir: str | Path,
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
) -> ScanResult:
    """Scan a folder, device or disk image (raw, split, E01, VMDK, VHD/VHDX, QCOW2) into a case.

    With ``perceptual``, pictures and videos are also decoded for PDQ/vPDQ near matches within ``pdq_radius``;
    with ``embedded``, documents and unknown files are searched for pictures and videos inside them; with
    ``carve``, a disk image's free space is carved for pictures and videos.  ``passwords`` are tried on encrypted
    archive members (added to ``unlock.archive_passwords``); the case records only how many were supplied.
    """
    if passwords:
        unlock = unlock or UnlockOptions()
        unlock = replace(unlock, archive_passwords=tuple(dict.fromkeys([*unlock.archive_passwords, *passwords])))
    return scan_source(
        Path(source), Path(case_dir), exhibit_ref, hash_sets, HashSetLibrary(Path(home) if home else None),
        sha256, workers, observer, unlock, verify, perceptual, pdq_radius, embedded, carve,
    )


def summary(case_dir: str | Path) -> list[ExhibitCounts]:
    store = CaseStore.open(Path(case_dir), create=False)
    try:
        return exhibit_counts(store)
    finally:
        store.close()


def hits(case_dir: str | Path) -> Iterator[HitRow]:
    store = CaseStore.open(Path(case_dir), create=False)
    try:
        yield from iter_hits(store)
    finally:
        store.close()


def verify_audit(case_dir: str | Path) -> AuditVerification:
    store = CaseStore.open(Path(case_dir), create=False)
    try:
        return store.audit.verify()
    finally:
        store.close()
