"""Walking one file system with The Sleuth Kit: allocated, deleted and orphan files, NTFS streams.

Each file is addressed by its metadata address *and* its path
(``fsfile:<inode>:<path>``): the address re-opens exactly this entry later
(two deleted files may share a name), the path is what the examiner reads.
Directories are visited through a priority queue (user folders first) and a
set of visited addresses, so a corrupt, looping directory tree ends.

An NTFS folder whose index is larger than ``LARGE_NTFS_INDEX_BYTES`` (``ntfs_mft_names.large_folders``, from the MFT
before the walk lists any folder) is listed from its own ``$I30`` index and the MFT's file names (``ntfs_index.py``),
since TSK lists such a folder in quadratic time; the other folders are TSK's.  TSK's orphan search lists every
folder again, so on a volume with such a folder ``$OrphanFiles`` is found by ``ntfs_orphans.py`` from the names this
walk has seen; on other volumes TSK lists it.  Either way it is listed after every other folder: TSK's search reads
every folder's index before its first orphan comes back (on the 1 GiB seized laptop, 21,000 files, 0.5 s of an E01
walk, 0.25 s of a raw one), and in the root's place it held back the first files the readers could start on.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from itertools import count
from typing import Iterator

import pytsk3

from fieldlab.evidence.dos_times import DOS_CLOCK_FILE_SYSTEMS, read_dos_times_as_recorded
from fieldlab.evidence.extents import ExtentsTable, VolumePlacement, default_stream_extents
from fieldlab.evidence.hfsplus_catalog import HfsCatalog
from fieldlab.evidence.item import Item, ItemFlag, ItemKind, WalkError
from fieldlab.evidence.ntfs_index import IndexName, list_ntfs_folder
from fieldlab.evidence.ntfs_mft_names import MftNames, large_folders
from fieldlab.evidence.ntfs_orphans import orphan_names
from fieldlab.evidence.ntfs_record import MftRecords
from fieldlab.evidence.ntfs_reparse import WOF_STREAM, ReparseError, file_reparse_point, reparse_flag, wof_format
from fieldlab.evidence.priority import NEUTRAL, folder_rank
from fieldlab.evidence.wof import WofContent
from fieldlab.locator import Locator, display_bytes
from fieldlab.problems import Problem, ProblemKind

MAX_ENTRIES_PER_DIRECTORY = 1_000_000  # a corrupt index can claim billions
MAX_DIRECTORIES = 10_000_000
LARGE_NTFS_INDEX_BYTES = 4 << 20  # ~17,000 names: TSK lists that in ~0.25 s, 40,000 in 1.4 s, 160,000 in 24 s
_LAST = 1 << 62  # the rank that puts a folder after every other

_REG = int(pytsk3.TSK_FS_META_TYPE_REG)
_DIR = int(pytsk3.TSK_FS_META_TYPE_DIR)
_VIRT_DIR = int(pytsk3.TSK_FS_META_TYPE_VIRT_DIR)
_VIRT = int(pytsk3.TSK_FS_META_TYPE_VIRT)
_LNK = int(pytsk3.TSK_FS_META_TYPE_LNK)
_NAME_UNALLOC = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
_META_ALLOC = int(pytsk3.TSK_FS_META_FLAG_ALLOC)
_META_USED = int(pytsk3.TSK_FS_META_FLAG_USED)
_NTFS_DATA = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
_ORPHANS = b"$OrphanFiles"
_NTFS_RESERVED_RECORDS = range(16, 24)  # MFT records kept for future system files: TSK lists them as orphans
_EXFAT_LABEL_NAMES = (b"$EMPTY_VOLUME_LABEL",)  # TSK's name for the volume-label record of an unlabelled volume
_EXFAT_LABEL_SUFFIX = b" (Volume Label Entry)"  # and how it shows a labelled volume's


@dataclass(order=True)
class _Directory:
    rank: int
    order: int
    address: int
    path: bytes  # '/'-separated, no leading slash
    deleted: bool  # reached through a deleted name: everything below is deleted too
    orphan: bool


_FS_TYPE_NAMES = {
    int(getattr(pytsk3, n)): n.removeprefix("TSK_FS_TYPE_").lower()
    for n in dir(pytsk3)
    if n.startswith("TSK_FS_TYPE_") and not n.endswith(("DETECT", "ENUM", "UNSUPP"))
}


def fs_type_name(fs: pytsk3.FS_Info) -> str:
    return _FS_TYPE_NAMES.get(int(fs.info.ftype), f"type-{int(fs.info.ftype)}")


def fsfile_value(address: int, path: bytes) -> bytes:
    return str(address).encode() + b":" + path


def parse_fsfile_value(value: bytes) -> tuple[int, bytes]:
    address, _, path = value.partition(b":")
    return int(address), path


@dataclass(frozen=True)
class ExtentsWanted:
    """Where the walk puts the data runs of the files it lists, and where their file system lies on the media."""

    placement: VolumePlacement
    table: ExtentsTable
    records: MftRecords | None = None  # NTFS: its MFT records, where the initialised sizes are


def walk_file_system(fs: pytsk3.FS_Info, base: Locator | None, display_prefix: str,
                     extents: ExtentsWanted | None = None) -> Iterator[Item | WalkError]:
    """Every entry of ``fs``; ``base`` is the locator of the volume holding it.  With ``extents``, the media runs
    of the plain files it can read that way go to ``extents.table``."""
    counter = count()
    visited: set[int] = set()
    fs_kind = fs_type_name(fs)
    if extents is not None and fs_kind == "ntfs":
        extents = replace(extents, records=MftRecords.open(fs))
    if fs_kind in DOS_CLOCK_FILE_SYSTEMS:
        read_dos_times_as_recorded()
    root = fs.info.root_inum
    queue = [_Directory(NEUTRAL, next(counter), root, b"", False, False)]
    visited.add(root)
    catalog: HfsCatalog | None = None
    ntfs = _NtfsNames(fs) if fs_kind == "ntfs" else None
    while queue:
        directory = heapq.heappop(queue)
        shown = display_prefix + (display_bytes(directory.path) or "/")
        own: tuple[tuple[IndexName, ...], tuple[Problem, ...]] | None = None
        if ntfs is not None:
            if directory.path == _ORPHANS and directory.orphan and directory.rank != _LAST:
                directory.rank = _LAST  # after every other folder: see the module's docstring
                heapq.heappush(queue, directory)
                continue
            own = ntfs.own_listing(directory)
        if own is not None:
            names, problems = own
            for problem in problems:
                yield WalkError(shown, f"folder listed from its own index: {problem.message}", problem.kind)
            for name in names:
                entry = _open_meta(fs, name.address)
                if ntfs is not None and name.unallocated and not directory.orphan:
                    ntfs.named.add(name.address)
                yield from _entry_items(fs, entry, name.name, name.unallocated, name.address, directory, base,
                                        display_prefix, queue, visited, counter, fs_kind, extents)
            continue
        try:
            opened = fs.open_dir(inode=directory.address)
        except (OSError, RuntimeError) as exc:
            if fs_kind != "hfs":
                yield WalkError(shown, f"folder cannot be read: {exc}")
                continue
            catalog = catalog or HfsCatalog.of(fs)  # TSK 4.15 refuses some sound HFS+ folders (hfsplus_catalog.py)
            listing = catalog.children(directory.address, limit=MAX_ENTRIES_PER_DIRECTORY)
            for problem in listing.problems:
                yield WalkError(shown, f"folder refused by The Sleuth Kit ({exc}), listed from the catalog: "
                                       f"{problem.message}", problem.kind)
            for child in listing.children:
                if (entry := _open_meta(fs, child.cnid)) is None:
                    path = directory.path + b"/" + child.name if directory.path else child.name
                    yield WalkError(display_prefix + display_bytes(path),
                                    f"the HFS+ catalog lists it, but its CNID {child.cnid} cannot be opened")
                    continue
                yield from _entry_items(fs, entry, child.name, False, child.cnid, directory, base, display_prefix,
                                        queue, visited, counter, fs_kind, extents)
            continue
        listed = 0
        try:
            for entry in opened:
                listed += 1
                if listed > MAX_ENTRIES_PER_DIRECTORY:
                    yield WalkError(shown, f"more than {MAX_ENTRIES_PER_DIRECTORY:,} entries: the rest are skipped",
                                    ProblemKind.LIMIT)
                    break
                name_info = entry.info.name
                unallocated = bool(int(name_info.flags) & _NAME_UNALLOC)
                if unallocated and ntfs is not None and not directory.orphan:
                    ntfs.named.add(int(name_info.meta_addr))
                yield from _entry_items(fs, entry, name_info.name, unallocated, name_info.meta_addr, directory, base,
                                        display_prefix, queue, visited, counter, fs_kind, extents)
        except (OSError, RuntimeError) as exc:
            yield WalkError(shown, f"folder could not be listed completely: {exc}")


class _NtfsNames:
    """What the walk needs of an NTFS volume beyond TSK: which folders are too large for TSK, their MFT file names
    (read once, if there are any) and the records the walk's deleted names point at (for the orphan search)."""

    def __init__(self, fs: pytsk3.FS_Info) -> None:
        self._fs = fs
        self._names: MftNames | None = None
        self._large: frozenset[int] | None = None
        self._problems_told = False
        self.named: set[int] = set()  # records deleted names point at (outside $OrphanFiles): no orphans

    def large_folders(self) -> frozenset[int]:
        """The volume's folders too large for TSK (its MFT read once for folder records)."""
        if self._large is None:
            records = MftRecords.open(self._fs)
            self._large = large_folders(records, LARGE_NTFS_INDEX_BYTES) if records is not None else frozenset()
        return self._large

    def own_listing(self, directory: _Directory) -> tuple[tuple[IndexName, ...], tuple[Problem, ...]] | None:
        """The folder's names from fieldlab's own reading, or None when TSK should list it.  ``$OrphanFiles`` comes
        here last (deferred by the walk), and is fieldlab's only when the volume has a large folder."""
        if directory.path == _ORPHANS and directory.orphan:
            names = self._mft_names() if self.large_folders() else None
            if names is None:
                return None
            orphans = orphan_names(names, self.named, self._ever_used, MAX_ENTRIES_PER_DIRECTORY)
            full = (Problem(ProblemKind.LIMIT, f"more than {MAX_ENTRIES_PER_DIRECTORY:,} orphan files: the rest are "
                                               "skipped"),) if len(orphans) >= MAX_ENTRIES_PER_DIRECTORY else ()
            return orphans, full + self._new_problems()
        if directory.address not in self.large_folders():
            return None
        folder = _open_meta(self._fs, directory.address)
        names = self._mft_names()
        if folder is None or folder.info.meta is None or names is None:
            return None
        last = int(self._fs.info.last_inum)  # TSK's virtual $OrphanFiles folder
        listing = list_ntfs_folder(folder, names, last, int(self._fs.info.block_size), MAX_ENTRIES_PER_DIRECTORY)
        found = listing.names
        if directory.address == int(self._fs.info.root_inum):
            found += (IndexName(_ORPHANS, last, False),)  # TSK adds it to the root's listing
        return found, listing.problems + self._new_problems()

    def _mft_names(self) -> MftNames | None:
        """The MFT's file names, read once; None if the MFT cannot be opened (TSK then lists as before)."""
        if self._names is None:
            records = MftRecords.open(self._fs)
            if records is not None:
                self._names = MftNames.read(records, self.large_folders())
        return self._names

    def _ever_used(self, address: int) -> bool:
        entry = _open_meta(self._fs, address)
        return entry is not None and entry.info.meta is not None and bool(int(entry.info.meta.flags) & _META_USED)

    def _new_problems(self) -> tuple[Problem, ...]:
        """The MFT reading's problems, told once."""
        if self._names is None or self._problems_told:
            return ()
        self._problems_told = True
        return self._names.problems


def _entry_items(
    fs: pytsk3.FS_Info, entry: pytsk3.File | None, name: bytes, unallocated: bool, meta_addr: int, directory: _Directory,
    base: Locator | None, display_prefix: str, queue: list[_Directory], visited: set[int], counter: count,
    fs_kind: str, extents: ExtentsWanted | None,
) -> Iterator[Item | WalkError]:
    """The items of one folder entry: its ``name`` and ``meta_addr`` come from TSK's listing or the HFS+ catalog."""
    if name in (b".", b"..") or not name:
        return
    path = directory.path + b"/" + name if directory.path else name
    meta = entry.info.meta if entry is not None else None
    if meta is None and meta_addr:
        entry = _open_meta(fs, meta_addr) or entry  # TSK leaves some deleted entries' metadata unloaded
        meta = entry.info.meta if entry is not None else None
    # ISO 9660 deletes nothing: what TSK lists as unallocated there is a file of another directory tree (the
    # primary beside Joliet, a second volume descriptor: DFTT #14), an orphan to show, never a deleted file
    deleted = (directory.deleted or unallocated) and fs_kind != "iso9660"
    orphan = directory.orphan or (not directory.path and name == _ORPHANS)
    flags = set()
    if deleted:
        flags.add(ItemFlag.DELETED)
    if orphan and directory.path:
        flags.update((ItemFlag.ORPHAN, ItemFlag.DELETED) if fs_kind != "iso9660" else (ItemFlag.ORPHAN,))
    if _is_pseudo_entry(fs_kind, name, meta_addr, ItemFlag.ORPHAN in flags):
        flags.add(ItemFlag.PSEUDO)
    if meta is None or entry is None:
        if deleted:  # the name survives, its metadata is gone: nothing to read, but the examiner should see it
            yield _item(base, 0, path, display_prefix, ItemKind.NAME_ONLY, 0, None, flags)
        return
    meta_type = int(meta.type)
    if deleted and int(meta.flags) & _META_ALLOC:
        flags.add(ItemFlag.REALLOCATED)  # the entry now belongs to another file: its content is not this name's
    if meta_type in (_DIR, _VIRT_DIR):
        if len(visited) >= MAX_DIRECTORIES:
            yield WalkError(display_prefix + display_bytes(path), "too many folders: not entered", ProblemKind.LIMIT)
        elif meta.addr not in visited and ItemFlag.REALLOCATED not in flags:
            visited.add(meta.addr)
            rank = folder_rank(name, directory.rank)
            heapq.heappush(queue, _Directory(rank, next(counter), meta.addr, path, deleted, orphan))
        return
    if meta_type == _VIRT:
        return  # TSK's own pseudo-files ($MBR, $FAT1…): file-system structures, not files
    if meta_type == _LNK:
        yield _item(base, meta.addr, path, display_prefix, ItemKind.SYMLINK, 0, meta, flags, _link_target(meta))
        return
    if meta_type != _REG:
        yield _item(base, meta.addr, path, display_prefix, ItemKind.SPECIAL, 0, meta, flags)
        return
    size = max(int(meta.size), 0)
    if fs_kind != "ntfs" and extents is None:
        yield _item(base, meta.addr, path, display_prefix, ItemKind.FILE, size, meta, flags)
        return
    try:  # only NTFS has named data streams; listing attributes costs ~10 us a file
        attributes = list(entry)
    except (OSError, RuntimeError):
        attributes = []
    reparse = reparse_flag(file_reparse_point(entry, attributes), attributes, size) if fs_kind == "ntfs" else None
    if reparse is not None:
        flags.add(reparse)
    file = _item(base, meta.addr, path, display_prefix, ItemKind.FILE, size, meta, flags)
    # a cloud-only or WOF file's data stream is not its content (sparse, or not WOF's): never read as runs
    if extents is not None and attributes and reparse in (None, ItemFlag.CLOUD_LOCAL):
        found = default_stream_extents(entry, attributes, file.size, fs_kind, fs.info.block_size, fs.info.last_block,
                                       extents.placement, extents.records)
        if found is not None:
            extents.table.offer(file.locator.to_text(), found)
    yield file
    folded = WOF_STREAM if reparse is ItemFlag.WOF_COMPRESSED else None  # the file's own content, compressed
    yield from _named_streams(attributes, base, meta, path, display_prefix, flags - {reparse}, folded)


def _is_pseudo_entry(fs_kind: str, name: bytes, address: int, orphan: bool) -> bool:
    """A record TSK lists like a file that is no user's file: NTFS's reserved MFT records 16-23 (listed as
    ``$OrphanFiles/OrphanFile-16`` ...), exFAT's volume label.  Kept and shown, never counted as deleted files."""
    if fs_kind == "ntfs":
        return orphan and address in _NTFS_RESERVED_RECORDS
    if fs_kind == "exfat":
        return name in _EXFAT_LABEL_NAMES or name.endswith(_EXFAT_LABEL_SUFFIX)
    return False


def _open_meta(fs: pytsk3.FS_Info, address: int) -> pytsk3.File | None:
    try:
        return fs.open_meta(inode=address)
    except (OSError, RuntimeError):
        return None


def _named_streams(attributes: list[pytsk3.Attribute], base: Locator | None, meta, path: bytes,  # noqa: ANN001
                   display_prefix: str, flags: set, folded: bytes | None) -> Iterator[Item]:
    """NTFS alternate data streams: each its own item, since material is hidden there; not ``folded``, the stream
    a WOF file's content is read from (``wof.py``)."""
    for attribute in attributes:
        info = attribute.info
        if int(info.type) != _NTFS_DATA or not info.name or info.name in (b"$Data", folded):
            continue
        if path == b"$BadClus" and info.name == b"$Bad":
            continue  # a sparse stream as large as the volume: file-system bookkeeping, never content
        locator = _locator(base, meta.addr, path).child("stream", info.name)
        shown = display_prefix + display_bytes(path) + ":" + display_bytes(info.name)
        yield Item(locator, shown, ItemKind.FILE, max(int(info.size), 0), *_times(meta), flags=frozenset(flags))


def _item(
    base: Locator | None, address: int, path: bytes, display_prefix: str, kind: ItemKind, size: int, meta,  # noqa: ANN001
    flags: set, link_target: str | None = None,
) -> Item:
    times = _times(meta) if meta is not None else (None, None, None, None)
    return Item(
        _locator(base, address, path), display_prefix + display_bytes(path), kind, size, *times,
        link_target=link_target, flags=frozenset(flags),
    )


def _locator(base: Locator | None, address: int, path: bytes) -> Locator:
    value = fsfile_value(address, path)
    return base.child("fsfile", value) if base is not None else Locator.of("fsfile", value)


def _times(meta) -> tuple[float | None, float | None, float | None, float | None]:  # noqa: ANN001
    def stamp(seconds: int, nanos: int) -> float | None:
        return seconds + nanos / 1e9 if seconds else None

    return (
        stamp(meta.mtime, meta.mtime_nano),
        stamp(meta.atime, meta.atime_nano),
        stamp(meta.ctime, meta.ctime_nano),
        stamp(meta.crtime, meta.crtime_nano),
    )


def _link_target(meta) -> str | None:  # noqa: ANN001
    target = getattr(meta, "link", None)
    if not target:
        return None
    return display_bytes(target if isinstance(target, bytes) else str(target).encode("utf-8", "surrogateescape"))


class ImageFileReader:
    """A raw, sequential file object over one file inside a disk image, for ``digest_file``.

    Subclasses say how to read ``size`` bytes at an offset; the bookkeeping is shared.
    """

    size = 0
    _offset = 0

    def _read_at(self, offset: int, size: int) -> bytes:
        raise NotImplementedError

    def readinto(self, buffer: bytearray | memoryview) -> int:
        wanted = min(len(buffer), self.size - self._offset)
        if wanted <= 0:
            return 0
        data = self._read_at(self._offset, wanted)
        if not data:
            raise OSError(f"no data at offset {self._offset} of {self.size}")
        buffer[: len(data)] = data
        self._offset += len(data)
        return len(data)

    def seek(self, offset: int) -> None:
        self._offset = offset

    def changed(self, listed_size: int, listed_mtime: float | None, bytes_read: int) -> Problem | None:
        """An image cannot change under us; a short read means the file system's own records disagree."""
        if bytes_read != listed_size:
            kind = ProblemKind.TRUNCATED if bytes_read < listed_size else ProblemKind.DAMAGED
            return Problem(kind, f"read {bytes_read} bytes of the {listed_size} the file system lists")
        return None

    def close(self) -> None:
        pass


class TskFileReader(ImageFileReader):
    """A file or named stream read through TSK; an NTFS file whose reparse point says its content is elsewhere is
    read from there (WOF) or refused (a cloud-only placeholder): never its sparse data stream's zeros."""

    def __init__(self, fs: pytsk3.FS_Info, address: int, stream: bytes | None) -> None:
        self._file = fs.open_meta(inode=address)
        self._attribute: tuple = ()
        self._wof: WofContent | None = None
        self.size = int(self._file.info.meta.size) if self._file.info.meta is not None else 0
        if stream is None and fs_type_name(fs) == "ntfs":
            self._wof = _reparsed_content(self._file, max(self.size, 0))
        if stream is not None:
            for attribute in self._file:
                if attribute.info.name == stream and int(attribute.info.type) == _NTFS_DATA:
                    self._attribute = (attribute.info.type, attribute.info.id)
                    self.size = int(attribute.info.size)
                    break
            else:
                raise FileNotFoundError(f"stream {display_bytes(stream)} not found")

    def _read_at(self, offset: int, size: int) -> bytes:
        if self._wof is not None:
            return self._wof.read(offset, size)
        return self._file.read_random(offset, size, *self._attribute)


def _reparsed_content(file: pytsk3.File, size: int) -> WofContent | None:
    """A WOF file's decompressed content, or None for a file TSK reads as it is; ReparseError for a cloud-only
    placeholder (nothing here to read) or a WOF file fieldlab cannot decompress."""
    try:
        attributes = list(file)
    except (OSError, RuntimeError):
        return None  # no attribute to tell: read as TSK reads it, as before
    point = file_reparse_point(file, attributes)
    flag = reparse_flag(point, attributes, size)
    if flag is ItemFlag.CLOUD_ONLY:
        raise ReparseError("a cloud-only placeholder: its content is held by the cloud provider, not on this disk",
                           ProblemKind.NORMAL)
    if flag is not ItemFlag.WOF_COMPRESSED or point is None:
        return None
    form = wof_format(point)
    stream = next((a for a in attributes if int(a.info.type) == _NTFS_DATA and a.info.name == WOF_STREAM), None)
    if stream is None:
        raise ReparseError(f"WOF {form.name}: no {WOF_STREAM.decode()} stream holds the content")
    info = stream.info

    def read_stream(offset: int, length: int) -> bytes:
        return file.read_random(offset, length, info.type, info.id) if length else b""

    return WofContent(read_stream, max(int(info.size), 0), size, form)
