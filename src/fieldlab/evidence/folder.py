"""A folder or mounted device as an evidence source: walked and opened read-only, never followed out.

Every directory and file is opened relative to its parent's descriptor with
O_NOFOLLOW, one component at a time, so a symbolic link planted in the source
(or swapped in while we scan) can never lead us outside it, paths longer than
PATH_MAX still open, and nothing is resolved through the suspect's links.
Directories on another file system are not entered (like ``find -xdev``): a
mounted device is one exhibit, and /proc or a network share is not evidence.
"""

from __future__ import annotations

import errno
import heapq
import os
import stat
import sys
import time
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Iterator, NamedTuple

from fieldlab.errors import EvidenceError
from fieldlab.evidence.item import Item, ItemKind, WalkError
from fieldlab.evidence.priority import NEUTRAL, folder_rank
from fieldlab.locator import Locator, display_bytes
from fieldlab.problems import ProblemKind

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS = _READ_FLAGS | getattr(os, "O_DIRECTORY", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)

_RELATIME_DAY_NS = 24 * 3600 * 10**9  # the kernel's relatime_need_update
_MINUTE_NS = 60 * 10**9
LINK_NOT_READ = "(not read: reading it would change the link's access time on this read-write mount)"
MAX_DEPTH = 10_000  # far beyond any real tree; stops a pathological one (bind-mount loops) from running forever
# What os.fsencode does for every name, without its per-call checks (a folder may hold millions of names)
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
_FILE = ItemKind.FILE  # once: an enum member looked up on its class is a Python-level metaclass call (~70 ns)

class SourceError(EvidenceError):
    """The source cannot be scanned at all (missing, not a folder)."""


def open_noatime(path_or_name: bytes | str, flags: int, dir_fd: int | None = None) -> int:
    """Open without updating the access time where the kernel lets us (O_NOATIME needs ownership or CAP_FOWNER)."""
    if _NOATIME:
        try:
            return os.open(path_or_name, flags | _NOATIME, dir_fd=dir_fd)
        except PermissionError:
            pass
    return os.open(path_or_name, flags, dir_fd=dir_fd)


def open_root(root: Path) -> int:
    try:
        fd = open_noatime(os.fsencode(root), _DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise SourceError(f"{root} does not exist") from None
    except NotADirectoryError:
        raise SourceError(f"{root} is not a folder") from None
    except OSError as exc:
        raise SourceError(f"{root} cannot be opened: {exc.strerror}") from None
    return fd


def open_beneath(root_fd: int, relative: bytes, directory: bool = False) -> int:
    """Open ``relative`` under ``root_fd`` without following any symbolic link on the way."""
    if b"/" not in relative and relative not in (b"", b".", b".."):  # one name: a reader's file in a folder kept open
        return open_noatime(relative, _DIR_FLAGS if directory else _READ_FLAGS, dir_fd=root_fd)
    parts = [p for p in relative.split(b"/") if p]
    if any(p in (b".", b"..") for p in parts):
        raise PermissionError(errno.EACCES, "path leaves the source", display_bytes(relative))
    fd = root_fd
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            flags = _READ_FLAGS if (last and not directory) else _DIR_FLAGS
            next_fd = open_noatime(part, flags, dir_fd=fd)
            if fd != root_fd:
                os.close(fd)
            fd = next_fd
    except BaseException:
        if fd != root_fd:
            os.close(fd)
        raise
    if fd == root_fd:
        return os.dup(root_fd)
    return fd


@dataclass(order=True)
class _PendingDirectory:
    rank: int  # 0 likely to hold user media, 1 neutral, 2 system folder; inherited by subfolders
    order: int
    relative: bytes
    depth: int


class FolderEntry(NamedTuple):
    """An entry as the walk finds it, before it is an ``Item``: a scan makes its case row straight from this
    (``triage/walker.py``), without the ``Item`` and ``Locator`` objects (1.5 against 5.5 us a file)."""

    relative: bytes  # the path below the root
    kind: ItemKind
    stat: os.stat_result  # of the entry itself, never a link's target
    link_target: str | None  # escaped, for a link

    @property
    def size(self) -> int:
        return self.stat.st_size if self.kind is _FILE else 0

    @property
    def btime(self) -> float | None:
        return getattr(self.stat, "st_birthtime", None)


def walk_folder(root: Path) -> Iterator[Item | WalkError]:
    """Every entry below ``root``: regular files, links (not followed) and special files (not opened)."""
    for entry in walk_folder_entries(root):
        yield entry if isinstance(entry, WalkError) else item_of(entry)


def walk_folder_entries(root: Path) -> Iterator[FolderEntry | WalkError]:
    """``walk_folder``'s entries as found."""
    root_fd = open_root(root)
    try:
        root_dev = os.fstat(root_fd).st_dev
        links = LinkReading.of(root_fd)
        counter = count()
        queue = [_PendingDirectory(NEUTRAL, next(counter), b"", 0)]
        while queue:
            directory = heapq.heappop(queue)
            yield from _list_directory(root_fd, root_dev, links, directory, queue, counter)
    finally:
        os.close(root_fd)


class LinkReading(NamedTuple):
    """Whether a link's target can be read without changing the evidence.

    Reading a link (``readlink``) updates its access time on the kernel's own
    terms, and no flag (O_NOATIME is for opened files) prevents it.  So a
    target is read only where the mount leaves the time alone: read-only or
    ``noatime`` mounts always, ``relatime`` ones when the kernel's rule would
    not update it (access time later than the change and modification times,
    and less than a day old); on any other mount the link's time matters more
    than its target, which is then recorded as not read.
    """

    mount_flags: int
    now_ns: int

    @classmethod
    def of(cls, fd: int) -> LinkReading:
        """For the mount that holds the open folder ``fd``, at the start of the walk."""
        return cls(os.fstatvfs(fd).f_flag, time.time_ns())

    def leaves_atime(self, st: os.stat_result) -> bool:
        if self.mount_flags & (os.ST_RDONLY | os.ST_NOATIME):
            return True
        if not self.mount_flags & os.ST_RELATIME:
            return False
        # the day is counted from the walk's start less a minute: a walk that runs for hours stays on the safe side
        return (st.st_atime_ns > st.st_mtime_ns and st.st_atime_ns > st.st_ctime_ns
                and self.now_ns - st.st_atime_ns < _RELATIME_DAY_NS - _MINUTE_NS)



def _list_directory(
    root_fd: int, root_dev: int, links: LinkReading, directory: _PendingDirectory, queue: list[_PendingDirectory],
    counter: count,
) -> Iterator[FolderEntry | WalkError]:
    shown = display_bytes(directory.relative) or "/"
    try:
        dir_fd = open_beneath(root_fd, directory.relative, directory=True)
    except OSError as exc:
        yield WalkError(shown, f"folder cannot be opened: {exc.strerror or exc}")
        return
    prefix = directory.relative + b"/" if directory.relative else b""
    try:
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                name = entry.name.encode(_FS_ENCODING, _FS_ERRORS)
                relative = prefix + name
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    yield WalkError(display_bytes(relative), f"cannot be examined: {exc.strerror or exc}")
                    continue
                if stat.S_ISREG(st.st_mode):  # most entries: made here, without a call (results.py: tuple.__new__)
                    yield tuple.__new__(FolderEntry, (relative, _FILE, st, None))
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if st.st_dev != root_dev:
                        yield WalkError(display_bytes(relative), "another file system is mounted here; not entered",
                                        ProblemKind.LIMIT)
                    elif directory.depth + 1 > MAX_DEPTH:
                        yield WalkError(display_bytes(relative), f"deeper than {MAX_DEPTH} folders; not entered",
                                        ProblemKind.LIMIT)
                    else:
                        rank = folder_rank(name, directory.rank)
                        heapq.heappush(queue, _PendingDirectory(rank, next(counter), relative, directory.depth + 1))
                    continue
                yield entry_for(dir_fd, name, relative, st, links)
    except OSError as exc:
        yield WalkError(shown, f"folder cannot be listed completely: {exc.strerror or exc}")
    finally:
        os.close(dir_fd)


def entry_for(dir_fd: int, name: bytes, relative: bytes, st: os.stat_result, links: LinkReading) -> FolderEntry:
    if stat.S_ISREG(st.st_mode):
        return tuple.__new__(FolderEntry, (relative, _FILE, st, None))
    if stat.S_ISLNK(st.st_mode):
        if not links.leaves_atime(st):
            return FolderEntry(relative, ItemKind.SYMLINK, st, LINK_NOT_READ)
        try:
            target = display_bytes(os.readlink(name, dir_fd=dir_fd))
        except OSError as exc:
            target = f"(unreadable: {exc.strerror})"
        return FolderEntry(relative, ItemKind.SYMLINK, st, target)
    return FolderEntry(relative, ItemKind.SPECIAL, st, None)


def item_of(entry: FolderEntry) -> Item:
    st = entry.stat
    return Item(
        locator=Locator.for_file(entry.relative),
        path=display_bytes(entry.relative),
        kind=entry.kind,
        size=entry.size,
        mtime=st.st_mtime,
        atime=st.st_atime,
        ctime=st.st_ctime,
        btime=entry.btime,
        link_target=entry.link_target,
    )
