"""What the evidence layer hands to the rest of the pipeline: one record per thing found."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from fieldlab.locator import Locator
from fieldlab.problems import Problem, ProblemKind


class ItemKind(str, enum.Enum):
    FILE = "file"  # regular file: its bytes are read, hashed and matched
    SYMLINK = "symlink"  # recorded with its target, never followed
    SPECIAL = "special"  # FIFO, socket, device node: recorded, never opened
    NAME_ONLY = "name_only"  # a deleted name whose metadata is gone: shown to the examiner, nothing to read


class ItemFlag(str, enum.Enum):
    DELETED = "deleted"
    REALLOCATED = "reallocated"  # deleted name whose metadata entry now belongs to another file
    ORPHAN = "orphan"  # deleted file whose parent folder is gone (TSK's $OrphanFiles)
    CARVED = "carved"
    IN_ARCHIVE = "in_archive"
    THUMBNAIL = "thumbnail"
    UNALLOCATED = "unallocated"
    DUPLICATE = "duplicate"  # carved from free space, yet the same content as a file the file system lists
    PSEUDO = "pseudo"  # a file-system record TSK lists like a file, no user's (reserved MFT records, exFAT labels)
    TRUNCATED = "truncated"  # its content stops early (a cut archive, damage, a bomb stopped): the readable prefix
    CLOUD_ONLY = "cloud_only"  # a cloud placeholder (OneDrive): content held by the provider, not on this disk
    CLOUD_LOCAL = "cloud_local"  # a cloud provider's file whose content is also on this disk: read as usual
    WOF_COMPRESSED = "wof_compressed"  # compressed by Windows (WOF, "Compact OS"): read decompressed


def stored_flags(flags: Iterable[ItemFlag]) -> str:
    """The case store's form of an item's flags: their values, sorted, joined by commas ("" for none)."""
    return ",".join(sorted(flag.value for flag in flags)) if flags else ""


def parsed_flags(stored: str) -> frozenset[ItemFlag]:
    """The flags of an item from their stored form.  Empty parts are skipped: SQL appends ",duplicate" and
    ",truncated" to whatever is stored, so an item with no other flag reads ",duplicate"."""
    return frozenset(ItemFlag(part) for part in stored.split(",") if part)


@dataclass(frozen=True)
class Item:
    locator: Locator
    path: str  # display form, already escaped for printing
    kind: ItemKind
    size: int
    mtime: float | None = None  # seconds since the epoch, UTC
    atime: float | None = None
    ctime: float | None = None  # inode change time on Unix file systems
    btime: float | None = None  # creation (birth) time where the file system records it
    link_target: str | None = None  # escaped display form of a symlink's target
    flags: frozenset[ItemFlag] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class WalkError:
    """Something in the source could not be listed or read; the walk went on without it."""

    path: str
    message: str
    kind: ProblemKind = ProblemKind.UNREADABLE

    @property
    def problem(self) -> Problem:
        return Problem(self.kind, self.message)
