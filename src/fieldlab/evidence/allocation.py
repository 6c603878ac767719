"""Which parts of a disk image's media the container stores, read from the container's own allocation tables.

A QCOW2, VMDK, VHD/VHDX, VDI or .dmg may claim a media of any size (``qemu-img create -f qcow2 x 1P`` writes a 16 MiB
file claiming a pebibyte): what it does not store reads as zeros (or as its parent's bytes, in a differencing
chain).  Carving zeros finds nothing, but reading them costs as much as reading data; a 1 PiB claim took days.  So
the media's stored parts are listed here from the format's own table, and carving and sniffing read only them
(``ImageSource.carving_regions``).  The libyal libraries read these tables but expose none of them, hence our own
parsers, one small function a format:

- QCOW2: the L1 table and each L2 table it names; a cluster is stored if it has a host offset and is not marked
  all-zero (version 3), or is compressed.
- VHD (dynamic, differencing): the block allocation table; a fixed VHD stores everything.
- VHDX: the BAT's payload entries whose state is fully or partially present.
- VMDK: each extent libvmdk lists; a hosted sparse extent (KDMV, stream-optimised included) by its grain directory
  and grain tables, flat and raw extents stored whole, zero extents not at all.
- VDI: the block map (``evidence/vdi.py``); blocks past the file's end are not stored, and blocks sharing one
  stored block are a forged map.
- UDIF (.dmg): the chunk tables of its ``blkx`` resources; zero-fill and ignored ("free") chunks are not stored.
  A compressed chunk is counted only as far as ``MAX_INFLATION`` times its compressed length: past that it can only
  inflate to runs of one repeated byte, where no picture lies.
- A raw image file: its own holes (``SEEK_DATA``), where the examiner's copy is sparse.

Everything is read from the suspect's file: every table must lie inside the file, tables may not be shared (two L2
or grain tables at one place are a forged file), and at most ``MAX_TABLE_BYTES`` of tables are read, so the work is
bounded by the container file's size, never by the media it claims.  Holes of the container file itself (a 64 TiB
VMDK's grain tables, pre-allocated as sparse zeros) are known zeros and not read.  A table that does not add up gives
no map (``None``) and a reason: then the whole media counts as stored, and the cap on carving by stored bytes
(``image.py``) bounds the work instead.  Runs closer than ``MERGE_GAP`` are merged (carving a few zeros costs
nothing and keeps files whole across them) and the runs are coarsened until at most ``MAX_RUNS`` remain.
"""

from __future__ import annotations

import base64
import bisect
import errno
import os
import plistlib
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from xml.parsers.expat import ExpatError

import numpy as np
import pyvmdk

from fieldlab.evidence import vdi

MAX_TABLE_BYTES = 1 << 30  # of allocation tables read (holes of the container file not counted)
MAX_RUNS = 100_000
MERGE_GAP = 1 << 20
MAX_INFLATION = 1032  # zlib's largest ratio: what a compressed chunk is counted for at most, per byte stored
MAX_PLIST_BYTES = 64 << 20  # a .dmg's XML resource list
_WINDOW = 16 << 20  # table bytes read at once


class _Unmappable(Exception):
    """The allocation table does not add up; the message says how.  Never leaves this module."""


@dataclass(frozen=True)
class Allocation:
    """The media's stored parts: sorted, disjoint ``(offset, length)`` runs; everything else reads as zeros (or as the
    parent's bytes in a differencing chain, whose links' maps are joined)."""

    runs: tuple[tuple[int, int], ...]

    @property
    def stored(self) -> int:
        return sum(length for _, length in self.runs)

    def holes(self, media_size: int) -> list[tuple[int, int]]:
        """The parts of the media not stored, in order."""
        holes, cursor = [], 0
        for start, length in self.runs:
            if start > cursor:
                holes.append((cursor, start - cursor))
            cursor = start + length
        if cursor < media_size:
            holes.append((cursor, media_size - cursor))
        return holes

    def clip(self, offset: int, length: int) -> Iterator[tuple[int, int]]:
        """The stored parts of ``[offset, offset + length)``."""
        end = offset + length
        first_run = max(bisect.bisect_right(self.runs, (offset, 0)) - 1, 0)
        for start, size in self.runs[first_run:]:
            if start >= end:
                break
            first, last = max(start, offset), min(start + size, end)
            if first < last:
                yield first, last - first


@dataclass(frozen=True)
class AllocationResult:
    allocation: Allocation | None  # None: not known, the whole media counts as stored
    problem: str | None = None  # why a table present could not be used


def read_allocation(kind: str, paths: tuple[str, ...], media_size: int) -> AllocationResult:
    """The stored parts of the media of a container of ``kind`` made of ``paths`` (a differencing chain's files, the
    child first; otherwise the one file): the union of each file's map."""
    reader = _READERS.get(kind)
    if reader is None or not paths:
        return AllocationResult(None)
    runs: list[tuple[int, int]] = []
    for path in paths:
        try:
            runs += reader(Path(path), media_size)
        except _Unmappable as exc:
            return AllocationResult(None, f"its allocation table ({Path(path).name}) could not be used: {exc}")
        except OSError as exc:
            return AllocationResult(None, f"its allocation table ({Path(path).name}) could not be read: {exc}")
    return AllocationResult(Allocation(_merged(runs, media_size)))


def _merged(runs: list[tuple[int, int]], media_size: int) -> tuple[tuple[int, int], ...]:
    """Sorted, clipped to the media, runs closer than ``MERGE_GAP`` joined; past ``MAX_RUNS`` the smallest gaps are
    closed too, so the fewest unstored bytes are added."""
    clipped = sorted((start, min(start + length, media_size)) for start, length in runs
                     if length > 0 and start < media_size)
    joined: list[list[int]] = []
    for start, end in clipped:
        if joined and start - joined[-1][1] <= MERGE_GAP:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    if len(joined) > MAX_RUNS:
        starts, ends = np.array([r[0] for r in joined], dtype=np.int64), np.array([r[1] for r in joined], dtype=np.int64)
        gaps = starts[1:] - ends[:-1]
        kept = np.sort(np.argsort(gaps, kind="stable")[len(joined) - MAX_RUNS:])  # the largest gaps stay open
        starts, ends = starts[np.concatenate(([0], kept + 1))], ends[np.concatenate((kept, [len(joined) - 1]))]
        joined = [[int(a), int(b)] for a, b in zip(starts, ends)]
    return tuple((start, end - start) for start, end in joined)


def _unit_runs(stored: np.ndarray, first_unit: int, unit: int) -> list[tuple[int, int]]:
    """Runs of the media from a flag per allocation unit (True: stored), unit ``k`` of ``stored`` being unit
    ``first_unit + k`` of the media."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], stored.view(np.int8), [0]))))
    return [((first_unit + int(a)) * unit, int(b - a) * unit) for a, b in zip(edges[0::2], edges[1::2])]


class _TableFile:
    """Reads of a container file's tables: inside the file, at most ``MAX_TABLE_BYTES`` in all, holes free."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")
        self.size = os.fstat(self._file.fileno()).st_size
        self._spent = 0

    def __enter__(self) -> _TableFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._file.close()

    def read(self, offset: int, size: int, what: str) -> bytes:
        if self.is_hole(offset, size, what):
            return bytes(size)
        self._spent += size
        if self._spent > MAX_TABLE_BYTES:
            raise _Unmappable(f"its tables are more than the {MAX_TABLE_BYTES:,} bytes read for a map")
        data = os.pread(self._file.fileno(), size, offset)
        if len(data) != size:
            raise _Unmappable(f"{what} cannot be read whole ({len(data):,} of {size:,} bytes at {offset:,})")
        return data

    def is_hole(self, offset: int, size: int, what: str) -> bool:
        """Whether ``size`` bytes at ``offset``, which must lie inside the file, are a hole of it (zeros unread)."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise _Unmappable(f"{what} ({size:,} bytes at {offset:,}) lies outside the file ({self.size:,} bytes)")
        try:
            return os.lseek(self._file.fileno(), offset, os.SEEK_DATA) >= offset + size
        except OSError as exc:  # ENXIO: nothing but a hole from here to the end; others: no hole information
            return exc.errno == errno.ENXIO

    def tables(self, offsets: np.ndarray, entries: int, dtype: str, what: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Tables of ``entries`` values of ``dtype`` at the ``offsets``: ``(positions, rows)``, where ``rows[k]`` is
        the table at ``offsets[positions[k]]``.  Tables side by side are read together (a VMDK's grain tables),
        tables lying in a hole of the file are left out (all zeros), tables overlapping are a forged file."""
        size = entries * np.dtype(dtype).itemsize
        order = np.argsort(offsets, kind="stable")
        ordered = offsets[order]
        if np.any(np.diff(ordered) < size):
            raise _Unmappable(f"two {what}s are said to lie at one place")
        breaks = np.flatnonzero(np.diff(ordered) != size) + 1  # where tables stop lying side by side
        per_read = max(_WINDOW // size, 1)
        for side_by_side in np.split(np.arange(len(order)), breaks):
            for first in range(0, len(side_by_side), per_read):
                group = order[side_by_side[first:first + per_read]]
                base = int(offsets[group[0]])
                if self.is_hole(base, len(group) * size, what):
                    continue
                yield group, np.frombuffer(self.read(base, len(group) * size, what), dtype=dtype).reshape(len(group), entries)


# --- QCOW2 -----------------------------------------------------------------------------------------------------

_QCOW_OFFSET = 0x00FFFFFFFFFFFE00
_QCOW_COMPRESSED, _QCOW_ZERO = 1 << 62, 1
_QCOW_EXTENDED_L2 = 1 << 4  # incompatible feature: 16-byte L2 entries with subclusters


def _qcow2_runs(path: Path, media_size: int) -> list[tuple[int, int]]:
    with _TableFile(path) as file:
        header = file.read(0, 104, "the QCOW2 header")
        if header[:4] != b"QFI\xfb":
            raise _Unmappable("no QCOW2 signature")
        version, cluster_bits = struct.unpack_from(">I12xI", header, 4)
        size, l1_size, l1_offset = struct.unpack_from(">Q4xIQ", header, 24)
        if version not in (2, 3) or not 9 <= cluster_bits <= 21:
            raise _Unmappable(f"version {version}, clusters of 2^{cluster_bits} bytes")
        extended = version == 3 and struct.unpack_from(">Q", header, 72)[0] & _QCOW_EXTENDED_L2
        entry_size = 16 if extended else 8
        cluster = 1 << cluster_bits
        per_l2 = cluster // entry_size
        if l1_size * per_l2 * cluster < size:
            raise _Unmappable(f"its L1 table ({l1_size:,} entries) is too short for {size:,} bytes")
        l1 = np.frombuffer(file.read(l1_offset, 8 * l1_size, "the L1 table"), dtype=">u8") & np.uint64(_QCOW_OFFSET)
        used = np.flatnonzero(l1)
        runs: list[tuple[int, int]] = []
        for group, rows in file.tables(l1[used].astype(np.int64), per_l2 * entry_size // 8, ">u8", "L2 table"):
            entries = rows[:, ::2] if extended else rows
            stored = ((entries & np.uint64(_QCOW_OFFSET) != 0) & (entries & np.uint64(_QCOW_ZERO) == 0)
                      | (entries & np.uint64(_QCOW_COMPRESSED) != 0))
            for position, flags in zip(group, stored):
                runs += _unit_runs(flags, int(used[position]) * per_l2, cluster)
        return runs


# --- VHD -------------------------------------------------------------------------------------------------------

_VHD_DYNAMIC, _VHD_DIFFERENCING = 3, 4
_VHD_UNUSED = 0xFFFFFFFF


def _vhd_runs(path: Path, media_size: int) -> list[tuple[int, int]]:
    """A VHD or, by its first bytes, a VHDX (libvhdi reads both, as kind "vhd")."""
    with _TableFile(path) as file:
        if file.read(0, 8, "the file's head") == b"vhdxfile":
            return _vhdx_runs(file, media_size)
        footer = file.read(file.size - 512, 512, "the VHD footer")
        if footer[:8] != b"conectix":
            raise _Unmappable("no VHD footer")
        data_offset, disk_type = struct.unpack_from(">Q", footer, 16)[0], struct.unpack_from(">I", footer, 60)[0]
        if disk_type not in (_VHD_DYNAMIC, _VHD_DIFFERENCING):
            return [(0, media_size)]  # a fixed VHD: the file is the media
        header = file.read(data_offset, 1024, "the dynamic disk header")
        if header[:8] != b"cxsparse":
            raise _Unmappable("no dynamic disk header")
        table_offset, entries, block_size = struct.unpack_from(">Q4xII", header, 16)
        if block_size == 0 or block_size & (block_size - 1) or block_size < 512:
            raise _Unmappable(f"blocks of {block_size:,} bytes")
        if entries * block_size < media_size:
            raise _Unmappable(f"its table ({entries:,} blocks of {block_size:,} bytes) is short of the media")
        table = np.frombuffer(file.read(table_offset, 4 * entries, "the block allocation table"), dtype=">u4")
        return _unit_runs(table != _VHD_UNUSED, 0, block_size)


# --- VHDX ------------------------------------------------------------------------------------------------------

_VHDX_BAT = uuid.UUID("2dc27766-f623-4200-9d64-115e9bfd4a08")
_VHDX_METADATA = uuid.UUID("8b7ca206-4790-4b9a-b8fe-575f050f886e")
_VHDX_FILE_PARAMETERS = uuid.UUID("caa16737-fa36-4d43-b3b6-33f0aa44e76b")
_VHDX_SECTOR_SIZE = uuid.UUID("8141bf1d-a96f-4709-ba47-f233a8faab5f")
_VHDX_PRESENT = (6, 7)  # fully and partially present payload blocks
_VHDX_MAX_ENTRIES = 2047  # region and metadata table entries allowed by the format


def _vhdx_runs(file: _TableFile, media_size: int) -> list[tuple[int, int]]:
    regions = _vhdx_entries(file.read(192 << 10, 64 << 10, "the region table"), b"regi", 16, "<16sQI4x")
    if _VHDX_BAT not in regions or _VHDX_METADATA not in regions:
        raise _Unmappable("its region table names no BAT or no metadata region")
    meta_offset, meta_length = regions[_VHDX_METADATA]
    metadata = file.read(meta_offset, min(meta_length, 64 << 10), "the metadata table")
    items = _vhdx_entries(metadata, b"metadata", 32, "<16sII8x")
    if _VHDX_FILE_PARAMETERS not in items or _VHDX_SECTOR_SIZE not in items:
        raise _Unmappable("its metadata names no block size or sector size")
    block_size = struct.unpack("<I", _vhdx_item(file, meta_offset, items[_VHDX_FILE_PARAMETERS], 8)[:4])[0]
    sector_size = struct.unpack("<I", _vhdx_item(file, meta_offset, items[_VHDX_SECTOR_SIZE], 4))[0]
    if not (1 << 20 <= block_size <= 256 << 20 and block_size & (block_size - 1) == 0 and sector_size in (512, 4096)):
        raise _Unmappable(f"blocks of {block_size:,} bytes, sectors of {sector_size:,}")
    chunk_ratio = (1 << 23) * sector_size // block_size  # payload blocks between two sector bitmap entries
    blocks = -(-media_size // block_size)
    entries = blocks + (blocks - 1) // chunk_ratio
    bat_offset, bat_length = regions[_VHDX_BAT]
    if entries * 8 > bat_length:
        raise _Unmappable(f"its BAT ({bat_length:,} bytes) is short of the {blocks:,} blocks of the media")
    bat = np.frombuffer(file.read(bat_offset, entries * 8, "the BAT"), dtype="<u8")
    payload = np.delete(bat, np.arange(chunk_ratio, entries, chunk_ratio + 1))[:blocks]
    return _unit_runs(np.isin(payload & np.uint64(7), _VHDX_PRESENT), 0, block_size)


def _vhdx_entries(table: bytes, signature: bytes, header: int, layout: str) -> dict[uuid.UUID, tuple[int, int]]:
    """GUID -> (offset, length) of a region or metadata table."""
    if not table.startswith(signature):
        raise _Unmappable(f"no {signature.decode()!r} table")
    count = struct.unpack_from("<I" if signature == b"regi" else "<H", table, 8 if signature == b"regi" else 10)[0]
    size = struct.calcsize(layout)
    if count > _VHDX_MAX_ENTRIES or header + count * size > len(table):
        raise _Unmappable(f"its {signature.decode()} table says it has {count:,} entries")
    return {uuid.UUID(bytes_le=guid): (offset, length)
            for guid, offset, length in struct.iter_unpack(layout, table[header:header + count * size])}


def _vhdx_item(file: _TableFile, base: int, where: tuple[int, int], size: int) -> bytes:
    offset, length = where
    if length < size:
        raise _Unmappable(f"a metadata item of {length} bytes where {size} are needed")
    return file.read(base + offset, size, "a metadata item")


# --- VMDK ------------------------------------------------------------------------------------------------------

_GD_AT_END = 0xFFFFFFFFFFFFFFFF
_VMDK_ZERO_GRAIN = 1  # a grain table entry meaning "reads as zeros" (flag bit 2 of the header)
_MAX_EXTENTS = 1 << 16  # a 64 TiB disk split in 2 GiB extent files has 32,768


def _vmdk_runs(path: Path, media_size: int) -> list[tuple[int, int]]:
    """The extents libvmdk lists, in media order; a sparse extent's file is the one libvmdk opened: its name's last
    component, beside the descriptor."""
    handle = pyvmdk.handle()
    handle.open(str(path), "r")
    try:
        extents = [(d.type, d.filename, d.size) for d in handle.extent_descriptors]
    finally:
        handle.close()
    if len(extents) > _MAX_EXTENTS:
        raise _Unmappable(f"its descriptor lists {len(extents):,} extents")
    runs: list[tuple[int, int]] = []
    position, sparse_files = 0, set[str]()
    for kind, filename, size in extents:
        if kind == pyvmdk.extent_types.SPARSE:
            name = os.path.basename((filename or "").replace("\\", "/"))
            if name in sparse_files:  # its tables would be read once per listing
                raise _Unmappable(f"its descriptor lists the extent file {name[:100]!r} twice")
            sparse_files.add(name)
            runs += [(position + start, length) for start, length in _sparse_extent_runs(path.parent / name, size)]
        elif kind != pyvmdk.extent_types.ZERO:  # flat, raw and VMFS extents (VMFS sparse tables not read): whole
            runs.append((position, size))
        position += size
    return runs


def _sparse_extent_runs(path: Path, extent_size: int) -> list[tuple[int, int]]:
    with _TableFile(path) as file:
        header = file.read(0, 512, "the sparse extent header")
        if header[:4] != b"KDMV":
            raise _Unmappable(f"{path.name} has no sparse extent header")
        flags, capacity, grain, per_table, gd_offset = struct.unpack_from("<IQQ16xI8xQ", header, 8)
        if gd_offset == _GD_AT_END:  # stream-optimised: the footer, 1 KiB before the end, holds the real one
            footer = file.read(file.size - 1024, 512, "the stream footer")
            if footer[:4] != b"KDMV":
                raise _Unmappable(f"{path.name} has no stream footer")
            flags, capacity, grain, per_table, gd_offset = struct.unpack_from("<IQQ16xI8xQ", footer, 8)
        if not (1 <= grain <= 1 << 11 and grain & (grain - 1) == 0 and 1 <= per_table <= 1 << 16):
            raise _Unmappable(f"grains of {grain:,} sectors, tables of {per_table:,} entries")
        grain_bytes = grain * 512
        tables = -(-min(capacity * 512, extent_size) // (grain_bytes * per_table))
        directory = np.frombuffer(file.read(gd_offset * 512, 4 * tables, "the grain directory"), dtype="<u4")
        used = np.flatnonzero(directory)
        zero_grains = flags & 0x4
        runs: list[tuple[int, int]] = []
        offsets = directory[used].astype(np.int64) * 512
        for group, rows in file.tables(offsets, per_table, "<u4", "grain table"):
            stored = (rows > _VMDK_ZERO_GRAIN) if zero_grains else (rows != 0)
            for position, row in zip(group, stored):
                runs += _unit_runs(row, int(used[position]) * per_table, grain_bytes)
        return runs


# --- VDI -------------------------------------------------------------------------------------------------------


def _vdi_runs(path: Path, media_size: int) -> list[tuple[int, int]]:
    with _TableFile(path) as file:
        try:
            header = vdi.parse_header(file.read(0, vdi.HEADER_BYTES, "the VDI header"), file.size)
        except vdi.VdiError as exc:
            raise _Unmappable(str(exc)) from None
        block_map = np.frombuffer(file.read(header.map_offset, 4 * header.blocks, "the block map"), dtype="<u4")
        if vdi.shared_blocks(block_map):
            raise _Unmappable("two blocks of the disk are said to lie at one place")
        return _unit_runs(vdi.stored_blocks(block_map, header, file.size), 0, header.block_size)


# --- UDIF (.dmg) -----------------------------------------------------------------------------------------------

_UDIF_NOT_STORED = (0x00000000, 0x00000002, 0x7FFFFFFE, 0xFFFFFFFF)  # zero fill, ignored, comment, end
_UDIF_RAW = 0x00000001
_MISH_HEAD, _MISH_CHUNK = 204, 40


def _udif_runs(path: Path, media_size: int) -> list[tuple[int, int]]:
    with _TableFile(path) as file:
        trailer = file.read(file.size - 512, 512, "the UDIF trailer")
        if trailer[:4] != b"koly":
            raise _Unmappable("no UDIF trailer")
        xml_offset, xml_length = struct.unpack_from(">QQ", trailer, 216)
        if not 0 < xml_length <= MAX_PLIST_BYTES:
            raise _Unmappable(f"its resource list is said to be {xml_length:,} bytes")
        try:
            resources = plistlib.loads(file.read(xml_offset, xml_length, "the resource list"), fmt=plistlib.FMT_XML)
            blocks = [base64.b64decode(b) if isinstance(b, str) else b
                      for b in (entry["Data"] for entry in resources["resource-fork"]["blkx"])]
        except (plistlib.InvalidFileException, ExpatError, ValueError, KeyError, TypeError) as exc:
            raise _Unmappable(f"its resource list cannot be read ({exc.__class__.__name__})") from None
        runs: list[tuple[int, int]] = []
        for block in blocks:
            runs += _mish_runs(block)
        return runs


def _mish_runs(block: bytes) -> list[tuple[int, int]]:
    if not isinstance(block, bytes) or block[:4] != b"mish" or len(block) < _MISH_HEAD:
        raise _Unmappable("a blkx entry is no mish table")
    first_sector = struct.unpack_from(">Q", block, 8)[0]
    count = struct.unpack_from(">I", block, 200)[0]
    if _MISH_HEAD + count * _MISH_CHUNK > len(block):
        raise _Unmappable(f"a mish table says it has {count:,} chunks")
    runs = []
    for kind, sector, sectors, _, stored in struct.iter_unpack(">I4xQQQQ", block[_MISH_HEAD:_MISH_HEAD + count * _MISH_CHUNK]):
        if kind in _UDIF_NOT_STORED:
            continue
        length = sectors * 512 if kind == _UDIF_RAW else min(sectors * 512, stored * MAX_INFLATION)
        runs.append(((first_sector + sector) * 512, length))
    return runs


# --- raw -------------------------------------------------------------------------------------------------------


def _raw_runs(path: Path, media_size: int) -> list[tuple[int, int]]:
    """The data parts of a sparse raw file (``SEEK_DATA``/``SEEK_HOLE``): where the file system keeps no holes,
    one run of everything."""
    runs: list[tuple[int, int]] = []
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        position = 0
        while position < media_size and len(runs) <= MAX_RUNS * 16:
            try:
                start = os.lseek(fd, position, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # a file system that cannot say: the rest counts as stored
                    runs.append((position, media_size - position))
                break  # ENXIO: only a hole is left
            end = os.lseek(fd, start, os.SEEK_HOLE)
            runs.append((start, end - start))
            position = end
        else:
            if position < media_size:  # too fragmented to follow: the rest counts as stored
                runs.append((position, media_size - position))
    finally:
        os.close(fd)
    return runs


_READERS: dict[str, Callable[[Path, int], list[tuple[int, int]]]] = {
    "qcow2": _qcow2_runs, "vhd": _vhd_runs, "vmdk": _vmdk_runs, "vdi": _vdi_runs, "dmg": _udif_runs,
    "raw": _raw_runs,
}


def container_files(kind: str, paths: tuple[str, ...]) -> tuple[Path, ...]:
    """The files a container's media is read from: ``paths`` (segments, or a differencing chain's files), and a
    VMDK descriptor's extent files beside it."""
    files = [Path(p) for p in paths]
    if kind == "vmdk":
        for path in list(files):
            handle = pyvmdk.handle()
            try:
                handle.open(str(path), "r")
                names = {os.path.basename((d.filename or "").replace("\\", "/")) for d in handle.extent_descriptors}
            except OSError:
                continue
            finally:
                handle.close()
            files += [path.parent / name for name in sorted(names) if name and path.parent / name != path]
    return tuple(files)


def file_bytes(files: tuple[Path, ...]) -> int:
    """What the files hold, as their sizes say (a file that vanished counts nothing)."""
    total = 0
    for path in files:
        try:
            total += os.stat(path).st_size
        except OSError:
            continue
    return total
