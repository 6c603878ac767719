"""Worker side of carving: pictures and videos from the parts of a disk no file system accounts for.

Each region (space between or after partitions, a volume without a file
system, the free clusters of a file system) is carved by
``fieldlab.detect.carve``, strong signatures at every byte and BMP and TIFF on
sector boundaries; every
complete, decodable run becomes an item addressed by its exact byte offset in
the media (``carved:<offset>+<length>``) and is then read, hashed and matched
like any file.  Inside an unlocked encrypted volume the media holds ciphertext:
the region is of the decrypted volume and so is the run's address, the volume's
layers first (``partition:1048576|luks:|carved:<offset>+<length>``), which
opens again only with the volume's key, as the volume's files do.  A logical
volume's extents lie anywhere on its physical volumes, so its regions and runs
are its own too (``partition:1048576|lvm:0|carved:<offset>+<length>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldlab.detect.carve import Reader, carve
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, ItemFlag, ItemKind
from fieldlab.evidence.sources import SourceSpec
from fieldlab.evidence.volume_layers import LockedVolume
from fieldlab.locator import Locator, LocatorError, run_key
from fieldlab.problems import Problem, ProblemKind
from fieldlab.triage.reader import worker_context

MAX_RUNS = 1_000_000


@dataclass(frozen=True)
class RegionTask:
    region_id: int
    kind: str  # gap | volume | unallocated
    offset: int
    length: int
    volume: str = ""  # the locator text of the decrypted or logical volume the offset is of; "": the media

    @property
    def path(self) -> str:
        inside = f"{self.volume}/" if self.volume else ""
        return f"$Unallocated/{inside}{self.kind} at {self.offset}"


@dataclass(frozen=True)
class CarvedRegion:
    task: RegionTask
    items: tuple[Item, ...]
    problem: Problem | None


def carve_region(spec: SourceSpec, task: RegionTask, context: EvidenceContext | None = None) -> CarvedRegion:
    """``context``: where the evidence stays open; this worker process's own when not given."""
    source = (context or worker_context()).exhibit(spec).source
    if not isinstance(source, ImageSource):
        return CarvedRegion(task, (), Problem(ProblemKind.UNSUPPORTED, "only disk images have unallocated space to carve"))
    if not task.volume:
        return _carved(task, source.media, Locator(()), task.length, None)
    try:
        volume = Locator.parse(task.volume)
        data = source.inner_volume(volume)
    except LockedVolume as exc:
        return CarvedRegion(task, (), Problem(exc.kind, f"free space inside the volume not carved: {exc}"))
    except LocatorError as exc:
        return CarvedRegion(task, (), Problem(ProblemKind.INTERNAL, f"the region's volume cannot be opened: {exc}"))
    inside = 0 if task.offset < 0 else max(0, min(task.length, data.size - task.offset))
    if inside < task.length:  # the survey bounds regions to the volume: the case or the evidence changed since
        kept = f"only its first {inside:,} bytes are" if inside else "nothing is"
        return _carved(task, data, volume, inside, Problem(ProblemKind.DAMAGED, (
            f"the region {task.offset:,}+{task.length:,} does not lie inside its volume ({data.size:,} "
            f"bytes): {kept} carved")))
    return _carved(task, data, volume, task.length, None)


def _carved(task: RegionTask, data: Reader, volume: Locator, length: int, problem: Problem | None) -> CarvedRegion:
    """The complete runs of ``length`` bytes of ``data`` from the region's offset, each addressed below ``volume``
    (no layers: the media).  ``problem``: what was already wrong with the region, said unless reading fails."""
    found, invalid = [], 0
    try:
        for run in carve(data, [(task.offset, length)], alignment=512, validate=True):
            if not run.valid:
                invalid += 1
                continue
            found.append(Item(volume.child("carved", run_key(run.offset, run.length, run.second)),
                              f"{task.path}/carved {run.kind} at {run.offset}", ItemKind.FILE, run.size,
                              flags=frozenset({ItemFlag.CARVED, ItemFlag.UNALLOCATED})))
            if len(found) >= MAX_RUNS:
                return CarvedRegion(task, tuple(found),
                                    Problem(ProblemKind.LIMIT, f"more than {MAX_RUNS:,} files carved: the rest skipped"))
    except OSError as exc:
        return CarvedRegion(task, tuple(found),
                            Problem(ProblemKind.UNREADABLE, f"carving stopped, the media could not be read: {exc}"))
    if problem is not None:
        return CarvedRegion(task, tuple(found), problem)
    # fragments of overwritten files are what free space holds: a fact about the region, not an error
    note = Problem(
        ProblemKind.NORMAL,
        f"{invalid:,} carved {'run was' if invalid == 1 else 'runs were'} incomplete or undecodable (fragments of "
        "overwritten files, as free space holds): not counted",
    ) if invalid else None
    return CarvedRegion(task, tuple(found), note)
