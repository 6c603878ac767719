"""Where fieldlab may write, and how: never into or beside the evidence, and every output whole or not at all.

One rule for every writer (the case folder a scan creates, reports, exports, warrant drafts), about what could
really touch or confuse the evidence: nothing inside a folder source; nothing created directly in the folder that
holds an image or file source (its segments, a differencing image's parents, the acquisition logs kept beside
them), though an existing subfolder of it is as good as anywhere else; never the evidence file or device itself
(nor a partition of that device).  Outputs go to ``<name>.partial`` first and are renamed into place, so a crash
never leaves half a report that looks whole.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from fieldlab.case.read_rows import Exhibit
from fieldlab.errors import CaseError


def refuse_near_evidence(target: Path, source: str, kind: str, *, what: str, parents: Sequence[str] = ()) -> None:
    """CaseError, naming the places allowed, when writing ``target`` could touch or confuse the evidence at
    ``source`` (and at ``parents``, the other files of a differencing image)."""
    target = Path(target).resolve()
    for evidence in [Path(source).resolve(), *(Path(p).resolve() for p in parents)]:
        if kind == "folder":
            if target.is_relative_to(evidence):
                raise CaseError(f"{what} {target} is inside the evidence {source}: nothing may be written there; "
                                f"choose a place outside {evidence}")
        elif evidence.is_relative_to("/dev"):  # a device protects itself and its partitions, not all of /dev
            partition = target.parent == evidence.parent and re.fullmatch(rf"{re.escape(evidence.name)}p?\d+",
                                                                          target.name)
            if target == evidence or partition:
                raise CaseError(f"{what} {target} is the evidence device {source} or one of its partitions")
        elif _touches_folder_of(target, evidence):
            folder = evidence.parent
            raise CaseError(
                f"{what} {target} is beside the evidence {evidence} (it would be created in {folder}, which holds "
                f"the image's files and acquisition logs): nothing may be written there; choose a place outside "
                f"{folder}, or inside one of its existing subfolders"
            )


def _touches_folder_of(target: Path, evidence: Path) -> bool:
    """Whether writing ``target`` creates or replaces an entry of the folder holding ``evidence`` (or is it)."""
    folder = evidence.parent
    if target == folder:
        return True
    if not target.is_relative_to(folder):
        return False
    first = folder / target.relative_to(folder).parts[0]
    return first == target or not first.is_dir()


def refuse_case_evidence(exhibits: Iterable[Exhibit], target: Path, what: str) -> None:
    """The same rule for every exhibit of a case (``CaseStore.exhibits``, ``ReadOnlyCase.exhibits``): an output of
    the case never lands near any of its evidence."""
    for exhibit in exhibits:
        refuse_near_evidence(target, exhibit.source, exhibit.source_kind, what=what, parents=exhibit.parents)


@contextlib.contextmanager
def whole_file(output: Path) -> Iterator[Path]:
    """The path to write to; renamed to ``output`` when the block ends without error, removed otherwise."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        yield partial
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def write_whole(output: Path, data: bytes) -> None:
    with whole_file(output) as partial:
        partial.write_bytes(data)
