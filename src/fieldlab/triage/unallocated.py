"""Worker side of carving: pictures and videos from the parts of a disk no file system accounts for.

Each region (space between or after partitions, a volume without a file
system, the free clusters of a file system) is carved by
``fieldlab.detect.carve``, strong signatures at every byte and BMP and TIFF on
sector boundaries; every
complete, decodable run becomes an item addressed by its exact byte offset in
the media (``carved:<offset>+<length>``) and is then read, hashed and matched
like any file.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldlab.detect.carve import carve
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.item import Item, ItemFlag, ItemKind
from fieldlab.evidence.sources import SourceSpec
from fieldlab.locator import Locator, run_key
from fieldlab.problems import Problem, ProblemKind
from fieldlab.triage.reader import worker_context

MAX_RUNS = 1_000_000


@dataclass(frozen=True)
class RegionTask:
    region_id: int
    kind: str  # gap | volume
    offset: int
    length: int

    @property
    def path(self) -> str:
        return f"$Unallocated/{self.kind} at {self.offset}"


@dataclass(frozen=True)
class CarvedRegion:
    task: RegionTask
    items: tuple[Item, ...]
    problem: Problem | None


def carve_region(spec: SourceSpec, task: RegionTask, context: EvidenceContext | None = None) -> CarvedRegion:
    """``context``: where the evidence stays open; this worker process's own when not given."""
    source = (context or worker_context()).exhibit(spec).source
    media = getattr(source, "media", None)
    if media is None:
        return CarvedRegion(task, (), Problem(ProblemKind.UNSUPPORTED, "only disk images have unallocated space to carve"))
    found, invalid = [], 0
    try:
        for run in carve(media, [(task.offset, task.length)], alignment=512, validate=True):
            if not run.valid:
                invalid += 1
                continue
            found.append(Item(Locator.of("carved", run_key(run.offset, run.length)),
                              f"{task.path}/carved {run.kind} at {run.offset}", ItemKind.FILE, run.length,
                              flags=frozenset({ItemFlag.CARVED, ItemFlag.UNALLOCATED})))
            if len(found) >= MAX_RUNS:
                return CarvedRegion(task, tuple(found),
                                    Problem(ProblemKind.LIMIT, f"more than {MAX_RUNS:,} files carved: the rest skipped"))
    except OSError as exc:
        return CarvedRegion(task, tuple(found),
                            Problem(ProblemKind.UNREADABLE, f"carving stopped, the media could not be read: {exc}"))
    # fragments of overwritten files are what free space holds: a fact about the region, not an error
    note = Problem(
        ProblemKind.NORMAL,
        f"{invalid:,} carved {'run was' if invalid == 1 else 'runs were'} incomplete or undecodable (fragments of "
        "overwritten files, as free space holds): not counted",
    ) if invalid else None
    return CarvedRegion(task, tuple(found), note)
