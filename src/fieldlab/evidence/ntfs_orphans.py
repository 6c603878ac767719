"""NTFS orphan files found from the MFT's file names, for volumes where TSK's ``$OrphanFiles`` listing would take
minutes.

Why: TSK finds orphans (``tsk_fs_dir_find_orphans``) by listing every folder of the volume again to learn which
unallocated records some name still reaches, so one folder of 160,000 files costs its quadratic listing a second
time (27 s).  The walk has just listed every folder itself; it hands over the records its deleted names point at
(``named``, as TSK collects them), and the orphans are TSK's: every unallocated record TSK counts as used that no
deleted name points at, shown by its first (non-DOS) name or as ``OrphanFile-<record>``, less those below an
orphan folder (reached through that folder instead).  TSK finds the contents of an orphan folder by listing it;
here they are the unallocated records whose ``$FILE_NAME`` names it as parent, followed down at most
``MAX_ORPHAN_DEPTH`` levels (an orphan folder's allocated or index-slack-only contents may differ from TSK's: no
test image has one).
"""

from __future__ import annotations

from collections.abc import Callable, Set

from fieldlab.evidence.ntfs_index import IndexName
from fieldlab.evidence.ntfs_mft_names import MftNames

MAX_ORPHAN_DEPTH = 64


def orphan_names(names: MftNames, named: Set[int], used: Callable[[int], bool], limit: int) -> tuple[IndexName, ...]:
    """The orphan files of the volume as ``$OrphanFiles`` would list them (at most ``limit``); ``used`` says if TSK
    counts a record as ever used (it has attributes), which TSK alone decides for the records it reads."""
    candidates = [r for r in sorted(names.unallocated) if r not in named and used(r)]
    below = _below_orphan_folders(names, [r for r in candidates if r in names.directories])
    orphans: list[IndexName] = []
    for record in candidates:
        if record in below:
            continue
        if len(orphans) >= limit:
            break
        name = names.first_names.get(record) or f"OrphanFile-{record}".encode()
        orphans.append(IndexName(name, record, True))
    return tuple(orphans)


def _below_orphan_folders(names: MftNames, folders: list[int]) -> set[int]:
    """The unallocated records inside the orphan folders ``folders``, at any depth up to the bound.  A folder
    reached from an earlier one is inside it; folders naming each other in a cycle keep the first of them shown."""
    below: set[int] = set()
    kept: set[int] = set()
    for folder in folders:
        if folder in below:
            continue
        kept.add(folder)
        level = [folder]
        for _ in range(MAX_ORPHAN_DEPTH):
            following = []
            for parent in level:
                for child in names.by_parent.get(parent, ()):
                    record = child.record
                    if record in names.unallocated and record not in below and record not in kept:
                        below.add(record)
                        following.append(record)
            if not following:
                break
            level = following
    return below
