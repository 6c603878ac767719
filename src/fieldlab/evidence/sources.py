"""Any evidence source behind one face: walk it into items, re-open any item from its locator.

A source is described by a small picklable ``SourceSpec`` so that worker
processes can open it themselves; the credentials it may carry stay in memory.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

from fieldlab.evidence.differencing import is_udif
from fieldlab.evidence.folder import (
    LinkReading,
    SourceError,
    entry_for,
    item_of,
    open_beneath,
    open_root,
    walk_folder,
)
from fieldlab.evidence.image import ImageSource, UnlockOptions
from fieldlab.evidence.item import Item, WalkError
from fieldlab.locator import Locator, LocatorError, display_bytes
from fieldlab.problems import Problem, ProblemKind

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class ItemHandle(Protocol):
    """What the readers need of an opened item: raw reads, seeking (video decoders jump), a check that it did not change."""

    size: int  # bytes, as the item is now

    def readinto(self, buffer: bytearray | memoryview) -> int: ...
    def seek(self, offset: int) -> None: ...
    def changed(self, listed_size: int, listed_mtime: float | None, bytes_read: int) -> Problem | None: ...
    def close(self) -> None: ...


class EvidenceSource(Protocol):
    kind: str

    @property
    def facts(self) -> object: ...

    def walk(self) -> Iterator[Item | WalkError]: ...
    def open_item(self, locator: Locator) -> ItemHandle: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSpec:
    path: str
    kind: str  # folder | image | file (an archive or phone package, scanned as the members it holds)
    unlock: UnlockOptions = UnlockOptions()
    layout: str = ""  # of a folder: "encrypted-ios-backup" (read through its keybag with the passwords), else plain
    parents: tuple[str, ...] = ()  # of a differencing image: where its parents are (files or folders; --parent)

    def __repr__(self) -> str:  # never print credentials into logs or tracebacks
        return f"SourceSpec({self.path!r}, {self.kind!r}{f', {self.layout!r}' if self.layout else ''})"


def describe_source(path: Path, unlock: UnlockOptions | None = None, parents: Sequence[Path] = ()) -> SourceSpec:
    """Folder, image or file, decided from what the path is: a directory is a folder (laid out as an encrypted
    iOS backup when its Manifest.plist says so); a regular file whose content is an archive (a phone extraction as
    zip or tar, a UFDR package, an Android backup) is a file whose members are scanned, unless it ends with a UDIF
    trailer; any other file, and a block device, is a disk image."""
    path = Path(path).absolute()
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SourceError(f"{path} does not exist") from None
    layout = ""
    if stat.S_ISDIR(mode):
        from fieldlab.evidence.phone.encrypted_backup import LAYOUT, is_encrypted_backup

        kind, layout = "folder", LAYOUT if is_encrypted_backup(path) else ""
    elif stat.S_ISREG(mode) and not is_udif(path) and _holds_members(path):  # a .dmg may start with a bzip2 chunk
        kind = "file"
    else:
        kind = "image"
    return SourceSpec(str(path), kind, unlock or UnlockOptions(), layout, tuple(str(Path(p).resolve()) for p in parents))


def _holds_members(path: Path) -> bool:
    from fieldlab.detect.filetype import HEAD_SIZE
    from fieldlab.evidence.archive_formats.registry import kind_from_head

    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_SIZE)
    except OSError:
        return False
    return kind_from_head(head, path.name) is not None


class ItemStream(io.RawIOBase):
    """An opened item as a read-only, seekable file object, for decoders (Pillow, FFmpeg) that want one."""

    def __init__(self, handle: ItemHandle, size: int) -> None:
        self._handle, self._size, self._position = handle, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        count = self._handle.readinto(memoryview(buffer))
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        self._handle.seek(self._position)
        return self._position

    def tell(self) -> int:
        return self._position


def open_source(spec: SourceSpec) -> EvidenceSource:
    if spec.kind == "folder" and spec.layout:
        from fieldlab.evidence.phone.encrypted_backup import LAYOUT, EncryptedIosBackupSource

        if spec.layout != LAYOUT:
            raise SourceError(f"unknown folder layout {spec.layout!r}")
        return EncryptedIosBackupSource(Path(spec.path), spec.unlock.archive_passwords)
    if spec.kind == "folder":
        return FolderSource(Path(spec.path))
    if spec.kind == "file":
        return FileSource(Path(spec.path))
    return ImageSource(Path(spec.path), spec.unlock, [Path(p) for p in spec.parents])


class _FolderItem:
    """A regular file read through its descriptor by plain system calls: no file object around it, since most files
    of a folder are small and read in one call."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._before = os.fstat(fd)
        if not stat.S_ISREG(self._before.st_mode):
            os.close(fd)
            raise OSError("is no longer a regular file")
        self.size = self._before.st_size
        self._position = 0
        self._at_end = False

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """A read that stops short exactly at the size ``fstat`` gave ends the file: the read that would only find
        EOF is not made (one system call of the six a small file cost).  A file that grew meanwhile is hashed as
        far as that size and ``changed`` says so, comparing what was read with the size after."""
        if self._at_end:
            return 0
        count = os.readv(self._fd, (buffer,))
        self._position += count
        self._at_end = count < len(buffer) and self._position == self.size
        return count

    def seek(self, offset: int) -> None:
        os.lseek(self._fd, offset, os.SEEK_SET)
        self._position, self._at_end = offset, False

    def changed(self, listed_size: int, listed_mtime: float | None, bytes_read: int) -> Problem | None:
        """The digests are of what was read; say so when that differs from what the walk listed."""
        before, after = self._before, os.fstat(self._fd)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or bytes_read != after.st_size:
            return Problem(ProblemKind.CHANGED, f"changed while being read (listed {listed_size} bytes, read {bytes_read})")
        if before.st_size != listed_size or (listed_mtime is not None and abs(before.st_mtime - listed_mtime) > 1e-6):
            return Problem(ProblemKind.CHANGED, f"changed since it was listed (listed {listed_size} bytes, now {before.st_size})")
        return None

    def close(self) -> None:
        os.close(self._fd)


class FolderSource:
    kind = "folder"
    facts = None
    FOLDERS_KEPT_OPEN = 32

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_fd = open_root(root)
        # Readers get files in walk order, folder by folder: keeping the last few folders open turns a
        # component-by-component open of every path (7 opens for a file 7 folders deep) into one.
        self._folders: OrderedDict[bytes, int] = OrderedDict()

    def walk(self) -> Iterator[Item | WalkError]:
        return walk_folder(self.root)

    def open_item(self, locator: Locator) -> ItemHandle:
        layers = locator.layers
        if len(layers) != 1 or layers[0].kind != "file":
            raise LocatorError(f"not a file of a folder source: {locator}")
        return self.open_file(layers[0].value)

    def open_file(self, relative: bytes) -> ItemHandle:
        """The regular file at ``relative`` below the root (``open_item`` of its one-layer locator)."""
        folder, _, name = relative.rpartition(b"/")
        if name in (b"", b".", b".."):
            raise PermissionError(errno.EACCES, "path leaves the source")
        return _FolderItem(open_beneath(self._folder_fd(folder), name))

    def _folder_fd(self, folder: bytes) -> int:
        if not folder:
            return self._root_fd
        fd = self._folders.get(folder)
        if fd is not None:
            self._folders.move_to_end(folder)
            return fd
        fd = self._folders[folder] = open_beneath(self._root_fd, folder, directory=True)
        if len(self._folders) > self.FOLDERS_KEPT_OPEN:
            os.close(self._folders.popitem(last=False)[1])
        return fd

    def close(self) -> None:
        for fd in self._folders.values():
            os.close(fd)
        self._folders.clear()
        os.close(self._root_fd)


class FileSource(FolderSource):
    """One file as the exhibit (a phone extraction delivered as a tar or zip, a UFDR, an ``.ab``): its folder is
    opened read-only as for a folder source, but only this file is listed; its members follow as nested items."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        super().__init__(path.parent)
        self.name = os.fsencode(path.name)

    def walk(self) -> Iterator[Item | WalkError]:
        try:
            st = os.stat(self.name, dir_fd=self._root_fd, follow_symlinks=False)
        except OSError as exc:
            yield WalkError(display_bytes(self.name), f"cannot be examined: {exc.strerror or exc}")
            return
        yield item_of(entry_for(self._root_fd, self.name, self.name, st, LinkReading.of(self._root_fd)))
