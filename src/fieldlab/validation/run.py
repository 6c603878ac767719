"""Running fieldlab on the corpus as an examiner would: the corpus's hash sets imported through the public API,
every exhibit scanned with the default settings (the archive password given, as an examiner told it would give
it; a second archive's password nobody gave; a LUKS volume's passphrase given to its exhibit's scan), and the case's hits, recorded problems and charging table read back
for scoring."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import fieldlab.api as api
from fieldlab.case.store import EXACT_METHODS, CaseStore
from fieldlab.evidence.image import UnlockOptions
from fieldlab.report.charging import charging_table
from fieldlab.validation.score import Finding, ReportedProblem
from fieldlab.validation.truth import Truth


@dataclass(frozen=True)
class ExhibitRun:
    ref: str
    seconds: float
    bytes: int  # of the exhibit's files
    items: int  # files fieldlab listed
    errors: int


@dataclass(frozen=True)
class FieldlabRun:
    exhibits: tuple[ExhibitRun, ...]
    findings: tuple[Finding, ...]
    problems: tuple[ReportedProblem, ...]
    charging: dict[tuple[str, str, str, str], int]


def import_corpus_sets(corpus: Path, home: Path) -> list[str]:
    """The four sets a force would hold; returns their names."""
    sets = corpus / "hashsets"
    api.import_hashset(sets / "known.csv", name="validation-csv", home=home)
    api.import_hashset(sets / "known.vics.json", name="validation-vics", home=home,
                       mapping_file=sets / "vics-category-mapping.json")
    api.import_hashset(sets / "known-pdq.csv", name="validation-pdq", home=home)
    api.import_hashset(sets / "known-videos", name="validation-videos", fmt="vpdq", home=home)
    return ["validation-csv", "validation-vics", "validation-pdq", "validation-videos"]


def run_fieldlab(corpus: Path, truth: Truth, work: Path) -> FieldlabRun:
    home, case = work / "library", work / "case"
    import_corpus_sets(corpus, home)
    runs = []
    for exhibit in truth.exhibits:
        started = time.perf_counter()
        unlock = UnlockOptions(luks_password=exhibit.luks_password) if exhibit.luks_password else None
        api.scan(corpus / exhibit.source, case, exhibit_ref=exhibit.ref, home=home, passwords=[truth.password],
                 unlock=unlock)
        seconds = time.perf_counter() - started
        counts = next(c for c in api.summary(case) if c.ref == exhibit.ref)
        runs.append(ExhibitRun(exhibit.ref, seconds, sum(size for _, size, _ in exhibit.files), counts.files,
                               counts.errors))
    findings = tuple(_finding(hit) for hit in api.hits(case))
    problems = tuple(ReportedProblem(p.exhibit, p.kind.value, p.path) for p in api.list_problems(case))
    store = CaseStore.open(case, create=False)
    try:
        table = charging_table(store)
    finally:
        store.close()
    charging = {(r.scope, r.basis, r.medium, r.category): r.images for r in table.rows if r.scope in
                {e.ref for e in truth.exhibits}}
    return FieldlabRun(tuple(runs), findings, problems, charging)


def _finding(hit: api.HitRow) -> Finding:
    if hit.method in EXACT_METHODS:
        matched = getattr(hit, hit.method) or ""
    else:
        matched = hit.matched_hash or ""
    return Finding(hit.exhibit, hit.locator, hit.path, hit.method, matched, hit.category)
