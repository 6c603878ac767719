"""Where a file's content lies on the media, as The Sleuth Kit lists it at the walk: its data runs.

Why: a reader that re-opens a file through TSK by its address re-reads (and, in an E01, re-inflates) the
file-system metadata the walk has just read, once per reader process.  The walk already holds the file's runs, so
it hands them on and the reader reads the content straight from the media, through the E01 chunk cache.

A file small enough to live inside its NTFS MFT record (resident) has no runs: the walk hands on its content,
which TSK holds in memory once the record is read, so a reader needs no file-system metadata at all.

Only the simple case is carried, so that these bytes are exactly the bytes TSK's own read gives
(``tsk_fs_attr_read``): the default data stream of a regular file, non-resident, neither compressed, encrypted
nor sparse, every run a plain one (no sparse, filler or encrypted run), consecutive, inside the file system and
inside the volume, at most ``MAX_RUNS`` of them, on a file system whose runs TSK reads that way (NTFS, FAT,
exFAT, ext).  Anything else is read through TSK as before.

Bytes past a stream's *initialised size* read as zeros, as TSK reads them.  Only NTFS has one that TSK honours
(``nrd.initsize``): pytsk3 does not expose it, so it is read from the file's MFT record (``ntfs_record.py``), and
used only if that record's unnamed $DATA is the attribute TSK lists (same id, same size, an allocated size between
the blocks the content needs and all the runs listed); if not, the file is read through TSK.  FAT, ext and exFAT
streams are initialised up to their size in TSK 4.15 (exFAT's ValidDataLength is not read: TSK reads the clusters
past it as they lie), so their runs are read whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, NamedTuple

import pytsk3

from fieldlab.evidence.ntfs_record import MftRecords

MAX_RUNS = 1024  # a hostile or badly fragmented file claims more: read through TSK
MAX_RESIDENT = 4096  # an MFT record's size: a larger "resident" stream is a damaged record, left to TSK
_PLAIN_ATTRIBUTE = int(pytsk3.TSK_FS_ATTR_INUSE) | int(pytsk3.TSK_FS_ATTR_NONRES)  # no COMP, ENC, SPARSE, RECOVERY
_RESIDENT_ATTRIBUTE = int(pytsk3.TSK_FS_ATTR_INUSE) | int(pytsk3.TSK_FS_ATTR_RES)
_NTFS_DATA = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
_DEFAULT = int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT)
_READ_AS_RUNS = ("ntfs", "fat12", "fat16", "fat32", "exfat", "ext2", "ext3", "ext4")  # fs_type_name values


class Extents(NamedTuple):
    """A file's content as runs of the media: ``runs`` are (media offset, length) in file order and cover
    ``size``; bytes at or past ``initialized`` read as zeros.  A resident file has no runs and its ``resident``
    content instead.

    A named tuple, not a dataclass: one is made per file in the walker, again in the scan's main process, and once
    more in a reader, and it crosses both process boundaries as a plain tuple (``RunsFields``; pickle's C code alone,
    0.9 us a file pickled and unpickled, against 10 us as a frozen dataclass with slots)."""

    runs: tuple[tuple[int, int], ...]
    size: int
    initialized: int
    resident: bytes = b""

    @property
    def first_offset(self) -> int:
        """Where the content starts on the media; -1 for a resident file (its record was read by the walk)."""
        return self.runs[0][0] if self.runs else -1

    def plain(self) -> RunsFields:
        """The fields as a plain tuple, to cross a process boundary: pickle takes a named tuple apart and makes it
        again through Python-level calls."""
        return (self.runs, self.size, self.initialized, self.resident)


RunsFields = tuple[tuple[tuple[int, int], ...], int, int, bytes]  # an Extents as the plain tuple sent between processes


@dataclass(frozen=True)
class VolumePlacement:
    """A file system that is a plain byte range of the media: where it starts and how many bytes of it the media
    holds.  BitLocker, shadow copies and APFS are not: their runs are not media offsets."""

    offset: int
    length: int


def default_stream_extents(file: pytsk3.File, attributes: Iterable[pytsk3.Attribute], size: int, fs_kind: str,
                           block_size: int, last_block: int, placement: VolumePlacement,
                           records: MftRecords | None = None) -> Extents | None:
    """The extents of a regular file's default data stream, or None when TSK must read it.  An NTFS file needs
    ``records``, its file system's MFT records, for its initialised size."""
    if fs_kind not in _READ_AS_RUNS or size <= 0 or block_size <= 0:
        return None
    wanted = _NTFS_DATA if fs_kind == "ntfs" else _DEFAULT
    found = [a for a in attributes if int(a.info.type) == wanted and a.info.name in (None, b"", b"$Data")]
    if len(found) != 1 or int(found[0].info.size) != size:
        return None
    attribute = found[0]
    if int(attribute.info.flags) == _RESIDENT_ATTRIBUTE and size <= MAX_RESIDENT:
        return _resident(file, size)
    if int(attribute.info.flags) != _PLAIN_ATTRIBUTE:
        return None
    listed = _media_runs(attribute, size, block_size, last_block, placement)
    if listed is None:
        return None
    runs, blocks = listed
    initialized: int | None = size  # FAT, exFAT, ext: TSK reads every byte up to the size
    if fs_kind == "ntfs":
        initialized = _initialized_size(file, attribute, records, -(-size // block_size) * block_size,
                                        blocks * block_size)
    if initialized is None:
        return None
    cut, left = [], size
    for offset, length in runs:
        cut.append((offset, min(length, left)))
        left -= length
        if left <= 0:
            break
    return Extents(tuple(_merged(cut)), size, min(initialized, size))


def mft_runs(fs: pytsk3.FS_Info, placement: VolumePlacement) -> list[tuple[int, int]]:
    """Where an NTFS volume's MFT lies on the media, as (offset, length) runs; none if TSK cannot list them or
    they are not plain runs inside the volume."""
    try:
        mft = fs.open_meta(inode=0)  # record 0 is the MFT's own
        size = int(mft.info.meta.size)
        data = [a for a in mft if int(a.info.type) == _NTFS_DATA and not a.info.name]
    except (OSError, RuntimeError):
        return []
    if len(data) != 1 or int(data[0].info.flags) != _PLAIN_ATTRIBUTE or size <= 0:
        return []
    listed = _media_runs(data[0], size, fs.info.block_size, fs.info.last_block, placement)
    return listed[0] if listed is not None else []


def _media_runs(attribute: pytsk3.Attribute, size: int, block_size: int, last_block: int,
                placement: VolumePlacement) -> tuple[list[tuple[int, int]], int] | None:
    """The media runs holding a plain attribute's first ``size`` bytes, and the blocks all its runs list; None if
    any run is not a plain run inside the volume."""
    runs: list[tuple[int, int]] = []
    blocks, content_blocks = 0, -(-size // block_size)
    for listed, run in enumerate(attribute):  # every run listed counts, those past the file's size too
        if listed >= MAX_RUNS or int(run.offset) != blocks:
            return None
        address, length = int(run.addr), int(run.len)
        if length <= 0 or address < 0 or address + length > last_block + 1:
            return None  # even past the file's size: a run outside the file system is a damaged or forged list
        blocks += length
        if blocks - length >= content_blocks:
            continue  # past the file's size (ext lists its unused block pointers as sparse): never read
        if int(run.flags) != 0:
            return None
        start, end = address * block_size, (address + length) * block_size
        if end > placement.length:
            return None  # past the volume or the end of the media: TSK says what such a read gives
        runs.append((placement.offset + start, end - start))
    return (runs, blocks) if blocks >= content_blocks else None


def _resident(file: pytsk3.File, size: int) -> Extents | None:
    """A resident stream's content, as TSK reads it (from the record the walk has just read: no media read)."""
    try:
        content = file.read_random(0, size)
    except (OSError, RuntimeError):
        return None
    return Extents((), size, size, content) if len(content) == size else None


def _initialized_size(file: pytsk3.File, attribute: pytsk3.Attribute, records: MftRecords | None, least: int,
                      most: int) -> int | None:
    """The initialised size in the file's MFT record, or None unless its data is the attribute TSK lists: same id
    and size, and an allocated size between the blocks the content needs (``least`` bytes) and all the runs listed
    (``most``)."""
    if records is None:
        return None
    sizes = records.data_sizes(int(file.info.meta.addr))
    info = attribute.info
    if sizes is None or (sizes.attribute_id, sizes.size) != (int(info.id), int(info.size)):
        return None
    return sizes.initialized if least <= sizes.allocated <= most else None


def _merged(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs that follow each other on the media read as one."""
    merged: list[tuple[int, int]] = []
    for offset, length in runs:
        if merged and merged[-1][0] + merged[-1][1] == offset:
            merged[-1] = (merged[-1][0], merged[-1][1] + length)
        else:
            merged.append((offset, length))
    return merged


MAX_HELD = 1_000_000  # extents waiting for their reader: ~400 bytes each; files past this are read through TSK
MAX_RESIDENT_HELD = 32 << 20  # resident content waiting for its reader


class ExtentsTable:
    """Extents the walk found, held in memory by locator until the scan hands each file to a reader.  The walk
    runs ahead of the readers, so it is bounded: once full, further files go without (and are read through TSK)."""

    def __init__(self, limit: int = MAX_HELD, resident_limit: int = MAX_RESIDENT_HELD) -> None:
        self._held: dict[str, Extents] = {}
        self._limit, self._resident_limit = limit, resident_limit
        self._resident = 0  # bytes of resident content held

    def offer(self, locator: str, extents: Extents) -> None:
        if len(self._held) >= self._limit or self._resident + len(extents.resident) > self._resident_limit:
            return
        self._held[locator] = extents
        self._resident += len(extents.resident)

    def take(self, locator: str) -> Extents | None:
        extents = self._held.pop(locator, None)
        if extents is not None:
            self._resident -= len(extents.resident)
        return extents

    def __len__(self) -> int:
        return len(self._held)
