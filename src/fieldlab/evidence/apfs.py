"""APFS containers through libfsapfs: The Sleuth Kit's Python bindings cannot open APFS pools, libfsapfs can.

Each APFS volume of the container is walked like a file system; items are
addressed as ``apfsvol:<volume index>|fsfile:<identifier>:<path>``.  libfsapfs
does not surface deleted entries, so an APFS walk lists allocated files only.
"""

from __future__ import annotations

import heapq
import stat
from dataclasses import dataclass
from itertools import count
from typing import Iterator

import pyfsapfs

from fieldlab.evidence.filesystem import MAX_DIRECTORIES, MAX_ENTRIES_PER_DIRECTORY, ImageFileReader, fsfile_value
from fieldlab.evidence.item import Item, ItemKind, WalkError
from fieldlab.evidence.priority import NEUTRAL, folder_rank
from fieldlab.locator import Locator, display_bytes
from fieldlab.problems import ProblemKind


def open_apfs_container(file_object) -> pyfsapfs.container | None:  # noqa: ANN001
    """The container, or None when the range holds no APFS."""
    try:
        if not pyfsapfs.check_container_signature_file_object(file_object):
            return None
        container = pyfsapfs.container()
        container.open_file_object(file_object)
        return container
    except OSError:
        return None


def apfs_volume_names(container: pyfsapfs.container) -> list[str]:
    return [container.get_volume(i).get_name() or f"volume {i}" for i in range(container.get_number_of_volumes())]


@dataclass(order=True)
class _Directory:
    rank: int
    order: int
    identifier: int
    path: bytes


def walk_apfs_volume(volume: pyfsapfs.volume, base: Locator, display_prefix: str) -> Iterator[Item | WalkError]:
    if volume.is_locked():
        yield WalkError(display_prefix or "/", "encrypted APFS volume: it cannot be read without its password",
                        ProblemKind.ENCRYPTED)
        return
    counter = count()
    root = volume.get_root_directory()
    queue = [_Directory(NEUTRAL, next(counter), root.identifier, b"")]
    visited = {root.identifier}
    while queue:
        directory = heapq.heappop(queue)
        shown = display_prefix + (display_bytes(directory.path) or "/")
        try:
            entry = volume.get_file_entry_by_identifier(directory.identifier)
            children = entry.get_number_of_sub_file_entries()
        except OSError as exc:
            yield WalkError(shown, f"folder cannot be read: {exc}")
            continue
        if children > MAX_ENTRIES_PER_DIRECTORY:
            yield WalkError(shown, f"more than {MAX_ENTRIES_PER_DIRECTORY:,} entries: the rest are skipped",
                            ProblemKind.LIMIT)
            children = MAX_ENTRIES_PER_DIRECTORY
        for index in range(children):
            try:
                child = entry.get_sub_file_entry(index)
                name = child.get_name().encode("utf-8", "surrogateescape")
                mode = child.get_file_mode()
            except OSError as exc:
                yield WalkError(shown, f"entry {index} cannot be read: {exc}")
                continue
            path = directory.path + b"/" + name if directory.path else name
            if stat.S_ISDIR(mode):
                if child.identifier not in visited and len(visited) < MAX_DIRECTORIES:
                    visited.add(child.identifier)
                    heapq.heappush(queue, _Directory(folder_rank(name, directory.rank), next(counter), child.identifier, path))
                continue
            yield _item(child, mode, path, base, display_prefix)


def _item(child: pyfsapfs.file_entry, mode: int, path: bytes, base: Locator, display_prefix: str) -> Item:
    if stat.S_ISREG(mode):
        kind, size, target = ItemKind.FILE, child.get_size(), None
    elif stat.S_ISLNK(mode):
        kind, size, target = ItemKind.SYMLINK, 0, display_bytes((child.get_symbolic_link_target() or "").encode())
    else:
        kind, size, target = ItemKind.SPECIAL, 0, None
    return Item(
        base.child("fsfile", fsfile_value(child.identifier, path)),
        display_prefix + display_bytes(path),
        kind,
        size,
        _stamp(child.get_modification_time_as_integer()),
        _stamp(child.get_access_time_as_integer()),
        _stamp(child.get_inode_change_time_as_integer()),
        _stamp(child.get_creation_time_as_integer()),
        link_target=target,
    )


def _stamp(nanoseconds: int | None) -> float | None:
    return nanoseconds / 1e9 if nanoseconds else None  # APFS keeps nanoseconds since 1970


class ApfsFileReader(ImageFileReader):
    def __init__(self, volume: pyfsapfs.volume, identifier: int) -> None:
        self._entry = volume.get_file_entry_by_identifier(identifier)
        self.size = self._entry.get_size()

    def _read_at(self, offset: int, size: int) -> bytes:
        return self._entry.read_buffer_at_offset(size, offset)
