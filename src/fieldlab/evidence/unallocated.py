"""The unallocated clusters of a file system, as byte runs of the media: where deleted pictures outlive their names.

pytsk3 has no block walk, so each file system's allocation map is read
directly, one bit (or FAT entry) per allocation unit:

- NTFS: ``$Bitmap``, through TSK as an ordinary file.
- FAT12/16/32: the table; a free cluster's entry is 0.
- exFAT: the allocation bitmap named by the root folder's 0x81 entry.
- ext2/3/4: one block bitmap per block group, found through the group
  descriptors (32- or 64-byte, anywhere with flex_bg, in meta groups with
  meta_bg); a ``BLOCK_UNINIT`` group has no bitmap on disk and is free but for
  its metadata.
- HFS+/HFSX: the allocation file, found through the volume header.

Everything comes from the suspect's disk: every offset and size is checked
against the volume, maps are capped at ``MAX_MAP_BYTES`` and runs at
``MAX_RUNS``.  A map that does not add up lists nothing and says why, through
``problem``, rather than raising (the media's own read errors still raise).
Runs shorter than ``MIN_RUN`` cannot hold a picture worth carving.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Sequence

import numpy as np
import pytsk3

MIN_RUN = 1024
MAX_RUNS = 1_000_000
MAX_MAP_BYTES = 512 << 20  # a FAT32 table of 128M clusters, an NTFS bitmap of 16 TiB at 4 KiB clusters

ReadAt = Callable[[int, int], bytes]  # (offset in the media, size) -> bytes
Report = Callable[[str], None]


def unallocated_runs(fs: pytsk3.FS_Info, fs_type: str, volume_offset: int, volume_length: int,
                     read: ReadAt, problem: Report | None = None,
                     within: Sequence[tuple[int, int]] | None = None, named: str | None = None) -> Iterator[tuple[int, int]]:
    """(offset in the media, length) of each run of free clusters; nothing for file systems not handled here.

    ``problem`` hears, in a sentence for the examiner, why free space was left
    out: all of it when the map does not add up, part of it when only some
    block groups do not.  ``within``: free clusters are looked for only inside
    these sorted ``(offset, length)`` parts of the media (what its container
    stores: a 15 TiB volume's map of 4G clusters is not searched bit by bit
    where the media is not even stored).  ``named``: how the problems name the
    volume, when its offset in ``read``'s bytes does not (a decrypted volume's).
    """
    map_reader = _MAP_READERS.get(fs_type)
    if map_reader is None:
        return
    where = f"free space of the {fs_type} volume {named or f'at {volume_offset}'}"
    volume = _Volume(fs, volume_offset, volume_length, read,
                     lambda reason: problem(f"{where} partly listed: {reason}") if problem else None)
    try:
        free_map = map_reader(volume)
    except _Unusable as exc:
        if problem:
            problem(f"{where} not listed: {exc}")
        return
    yield from _runs(free_map, volume_offset + volume_length, within)


class _Unusable(Exception):
    """The allocation map does not add up; the message says how."""


@dataclass(frozen=True)
class _FreeMap:
    """The file system's allocation bitmap, one bit per allocation unit, set where allocated, kept packed as it is
    on disk: a 16 TiB volume has 4G clusters, and a flag per cluster (or the int64 edges numpy makes of them) is
    more memory than the machine has."""

    used: np.ndarray  # packed bits (uint8), set where allocated
    count: int  # allocation units in the map
    unit: int  # bytes in one allocation unit (cluster or block)
    start: int  # media offset of unit 0
    bitorder: Literal["big", "little"] = "little"


@dataclass(frozen=True)
class _Volume:
    fs: pytsk3.FS_Info
    offset: int
    length: int
    read: ReadAt
    note: Report

    def bytes_at(self, offset: int, size: int, what: str) -> bytes:
        """``size`` bytes at ``offset`` of the volume, all of them inside it, or _Unusable."""
        if offset < 0 or size < 0 or offset + size > self.length:
            raise _Unusable(f"{what} ({size:,} bytes at {offset:,}) lies outside the volume ({self.length:,} bytes)")
        if size > MAX_MAP_BYTES:
            raise _Unusable(f"{what} would be {size:,} bytes, more than the {MAX_MAP_BYTES:,} read for a map")
        data = self.read(self.offset + offset, size)
        if len(data) != size:
            raise _Unusable(f"{what} cannot be read whole ({len(data):,} of {size:,} bytes at {offset:,})")
        return data


def _runs(free_map: _FreeMap, volume_end: int,
          within: Sequence[tuple[int, int]] | None = None) -> Iterator[tuple[int, int]]:
    spans = [(0, free_map.count)] if within is None else _unit_spans(free_map, within)
    for count, (start, stop) in enumerate(_free_unit_runs(free_map, spans)):
        if count == MAX_RUNS:
            return
        offset = free_map.start + start * free_map.unit
        length = min((stop - start) * free_map.unit, volume_end - offset)
        if length >= MIN_RUN:
            yield offset, length


def _unit_spans(free_map: _FreeMap, within: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The units ``[first, stop)`` of the map each media part covers, in order."""
    spans = []
    for offset, length in within:
        first = max((offset - free_map.start) // free_map.unit, 0)
        stop = min(-(-(offset + length - free_map.start) // free_map.unit), free_map.count)
        if first < stop:
            spans.append((first, stop))
    return spans


_UNITS_AT_ONCE = 1 << 24  # bits unpacked at a time: 16 MiB of flags


def _free_unit_runs(free_map: _FreeMap, spans: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """[start, stop) of each run of free units inside ``spans``, a slice of the map at a time; a run crossing
    slices is joined."""
    pending: tuple[int, int] | None = None
    bounds = np.zeros(1, dtype=np.int8)
    for span_start, span_stop in spans:
        for first in range(span_start, span_stop, _UNITS_AT_ONCE):
            units = min(_UNITS_AT_ONCE, span_stop - first)
            packed = free_map.used[first // 8:(first + units + 7) // 8]
            bits = np.unpackbits(packed, bitorder=free_map.bitorder)[first % 8:first % 8 + units]
            free = (bits ^ 1).view(np.int8)
            edges = np.flatnonzero(np.diff(free, prepend=bounds, append=bounds)) + first
            for start, stop in zip(edges[0::2].tolist(), edges[1::2].tolist()):
                if pending is not None and pending[1] == start:
                    pending = (pending[0], stop)
                    continue
                if pending is not None:
                    yield pending
                pending = (start, stop)
    if pending is not None:
        yield pending


def _bitmap(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


# --- NTFS and FAT ----------------------------------------------------------------------


def _ntfs_free(volume: _Volume) -> _FreeMap:
    bitmap_file = volume.fs.open_meta(inode=6)  # $Bitmap
    size = min(int(bitmap_file.info.meta.size), MAX_MAP_BYTES)
    raw = bitmap_file.read_random(0, size) if size else b""
    clusters = min(int(volume.fs.info.block_count), len(raw) * 8)
    return _FreeMap(_bitmap(raw), clusters, int(volume.fs.info.block_size), volume.offset)


def _fat_free(volume: _Volume) -> _FreeMap:
    boot = volume.bytes_at(0, 512, "the FAT boot sector")
    if boot[510:512] != b"\x55\xaa":
        raise _Unusable("the FAT boot sector has no 55 AA signature")
    sector, per_cluster, reserved, fats, root_entries, total16 = struct.unpack_from("<HBHBHH", boot, 11)
    fat16 = struct.unpack_from("<H", boot, 22)[0]
    total = total16 or struct.unpack_from("<I", boot, 32)[0]
    fat_sectors = fat16 or struct.unpack_from("<I", boot, 36)[0]
    if sector not in (512, 1024, 2048, 4096) or per_cluster == 0 or fats == 0 or not fat_sectors:
        raise _Unusable(f"the FAT boot sector is inconsistent (sector {sector}, {per_cluster} sectors a cluster, "
                        f"{fats} FATs of {fat_sectors} sectors)")
    root_sectors = (root_entries * 32 + sector - 1) // sector
    data_sector = reserved + fats * fat_sectors + root_sectors
    clusters = (min(total * sector, volume.length) // sector - data_sector) // per_cluster
    if clusters <= 0:
        raise _Unusable(f"the FAT data area starts at sector {data_sector:,}, past the volume's end")
    entry_bits = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
    needed = min((clusters + 2) * entry_bits // 8 + 2, fat_sectors * sector, MAX_MAP_BYTES)
    table = volume.bytes_at(reserved * sector, needed, "the FAT")
    clusters = min(clusters, len(table) * 8 // entry_bits - 2)
    if entry_bits == 12:  # 12-bit entries, packed two in three bytes
        raw = np.frombuffer(table, dtype=np.uint8).astype(np.uint16)
        index = np.arange(2, clusters + 2)
        low = raw[index * 3 // 2] | (raw[np.minimum(index * 3 // 2 + 1, len(raw) - 1)] << 8)
        entries = np.where(index % 2 == 0, low & 0x0FFF, low >> 4)
    elif entry_bits == 16:
        entries = np.frombuffer(table[: (clusters + 2) * 2], dtype="<u2")[2:]
    else:
        entries = np.frombuffer(table[: (clusters + 2) * 4], dtype="<u4")[2:] & 0x0FFFFFFF
    return _FreeMap(np.packbits(entries != 0, bitorder="little"), len(entries), per_cluster * sector,
                    volume.offset + data_sector * sector)


# --- exFAT -----------------------------------------------------------------------------

_EXFAT_BITMAP_ENTRY = 0x81
_EXFAT_ROOT_CLUSTERS_READ = 64  # the bitmap entry is among the first few entries of the root folder


def _exfat_free(volume: _Volume) -> _FreeMap:
    boot = volume.bytes_at(0, 512, "the exFAT boot sector")
    if boot[3:11] != b"EXFAT   " or boot[510:512] != b"\x55\xaa":
        raise _Unusable("the exFAT boot sector has no EXFAT signature")
    fat_offset, fat_length, heap_offset, cluster_count, root_cluster = struct.unpack_from("<5I", boot, 80)
    volume_flags, sector_shift, cluster_shift, fats = struct.unpack_from("<H3B", boot, 106)
    if not 9 <= sector_shift <= 12 or sector_shift + cluster_shift > 25 or fats not in (1, 2):
        raise _Unusable(f"the exFAT boot sector is inconsistent (2^{sector_shift}-byte sectors, "
                        f"2^{cluster_shift} sectors a cluster, {fats} FATs)")
    sector, cluster = 1 << sector_shift, 1 << (sector_shift + cluster_shift)
    heap_start = heap_offset * sector
    cluster_count = min(cluster_count, max(0, volume.length - heap_start) // cluster)
    if cluster_count == 0:
        raise _Unusable(f"the exFAT cluster heap starts at {heap_start:,}, past the volume's end")
    active_fat = volume_flags & 1 if fats == 2 else 0
    fat_start = (fat_offset + active_fat * fat_length) * sector

    def next_cluster(number: int) -> int:
        return struct.unpack("<I", volume.bytes_at(fat_start + 4 * number, 4, "the exFAT FAT"))[0]

    def cluster_bytes(number: int, size: int, what: str) -> bytes:
        if not 2 <= number < cluster_count + 2 or (number - 2) * cluster + size > cluster_count * cluster:
            raise _Unusable(f"{what} (cluster {number:,}, {size:,} bytes) lies outside the cluster heap")
        return volume.bytes_at(heap_start + (number - 2) * cluster, size, what)

    bitmaps: dict[int, tuple[int, int]] = {}  # which FAT it serves -> (first cluster, length)
    number, seen = root_cluster, set[int]()
    while len(seen) < _EXFAT_ROOT_CLUSTERS_READ and number not in seen and 2 <= number < cluster_count + 2:
        seen.add(number)
        folder = cluster_bytes(number, cluster, "the exFAT root folder")
        types = folder[::32]
        if (end := types.find(b"\x00")) >= 0:
            types = types[:end]
        for slot in np.flatnonzero(np.frombuffer(types, dtype=np.uint8) == _EXFAT_BITMAP_ENTRY):
            flags, first, length = folder[32 * slot + 1], *struct.unpack_from("<IQ", folder, 32 * int(slot) + 20)
            bitmaps.setdefault(flags & 1, (first, length))
        if end >= 0:  # the folder ends in this cluster
            break
        number = next_cluster(number)
    if active_fat not in bitmaps:
        raise _Unusable(f"the exFAT root folder (from cluster {root_cluster:,}) has no allocation bitmap entry")
    first, length = bitmaps[active_fat]
    if length * 8 < cluster_count:
        raise _Unusable(f"the exFAT allocation bitmap ({length:,} bytes) is too short for {cluster_count:,} clusters")
    # Formatting writes the bitmap in one run, and TSK reads it so; its FAT chain is not followed.
    bitmap = cluster_bytes(first, (cluster_count + 7) // 8, "the exFAT allocation bitmap")
    return _FreeMap(_bitmap(bitmap), cluster_count, cluster, volume.offset + heap_start)


# --- ext2/3/4 --------------------------------------------------------------------------

_EXT_MAGIC = 0xEF53
_COMPAT_SPARSE_SUPER2 = 0x200
_INCOMPAT_META_BG, _INCOMPAT_64BIT = 0x10, 0x80
_RO_COMPAT_SPARSE_SUPER, _RO_COMPAT_GDT_CSUM, _RO_COMPAT_BIGALLOC, _RO_COMPAT_METADATA_CSUM = 0x1, 0x10, 0x200, 0x400
_BLOCK_UNINIT = 0x2
_MAX_GROUPS = 1 << 20  # 128 TiB at 4 KiB blocks
_READ_RUN = 16 << 20  # bitmaps of neighbouring groups (flex_bg puts them side by side) are read together


@dataclass(frozen=True)
class _ExtLayout:
    block_size: int
    first_data_block: int
    blocks_per_group: int
    blocks: int  # inside the volume
    groups: int
    descriptor_size: int
    inode_table_blocks: int
    reserved_gdt_blocks: int
    first_meta_bg: int
    compat: int
    incompat: int
    ro_compat: int
    backup_groups: tuple[int, ...]

    @property
    def descriptors_per_block(self) -> int:
        return self.block_size // self.descriptor_size

    def group_start(self, group: int) -> int:
        return self.first_data_block + group * self.blocks_per_group

    def has_superblock(self, group: int) -> bool:
        """Sparse superblocks: copies only in groups 0, 1 and powers of 3, 5 and 7 (sparse_super2: in two named)."""
        if group == 0:
            return True
        if self.compat & _COMPAT_SPARSE_SUPER2:
            return group in self.backup_groups
        if group == 1 or not self.ro_compat & _RO_COMPAT_SPARSE_SUPER:
            return True
        return group % 2 == 1 and any(_is_power_of(group, base) for base in (3, 5, 7))

    def descriptor_blocks(self) -> list[int]:
        """Where the group descriptor table lies, block by block."""
        per_block = self.descriptors_per_block
        count = -(-self.groups // per_block)
        if not self.incompat & _INCOMPAT_META_BG:
            return [self.first_data_block + 1 + n for n in range(count)]
        # meta_bg: past the first s_first_meta_bg blocks, each block opens the first group of its meta group
        return [self.first_data_block + 1 + n if n < self.first_meta_bg
                else self.group_start(n * per_block) + self.has_superblock(n * per_block) for n in range(count)]

    def base_metadata(self, group: int) -> range:
        """The blocks of the group's superblock copy and descriptor table, which BLOCK_UNINIT leaves implicit."""
        start, per_block = self.group_start(group), self.descriptors_per_block
        if not self.incompat & _INCOMPAT_META_BG or group // per_block < self.first_meta_bg:
            table = (self.first_meta_bg if self.incompat & _INCOMPAT_META_BG
                     else -(-self.groups // per_block) + self.reserved_gdt_blocks)
            return range(start, start + (1 + table if self.has_superblock(group) else 0))
        holds_table = group % per_block in (0, 1, per_block - 1)
        return range(start, start + self.has_superblock(group) + holds_table)


def _is_power_of(number: int, base: int) -> bool:
    while number % base == 0:
        number //= base
    return number == 1


def _ext_layout(volume: _Volume) -> _ExtLayout:
    sb = volume.bytes_at(1024, 1024, "the ext superblock")
    if struct.unpack_from("<H", sb, 56)[0] != _EXT_MAGIC:
        raise _Unusable("the ext superblock has no EF53 signature")
    blocks_lo = struct.unpack_from("<I", sb, 4)[0]
    first_data_block, log_block = struct.unpack_from("<2I", sb, 20)
    blocks_per_group, inodes_per_group = struct.unpack_from("<I4xI", sb, 32)
    revision, inode_size = struct.unpack_from("<I", sb, 76)[0], struct.unpack_from("<H", sb, 88)[0]
    compat, incompat, ro_compat = struct.unpack_from("<3I", sb, 92)
    wide = incompat & _INCOMPAT_64BIT
    inode_size = inode_size if revision >= 1 else 128
    descriptor_size = struct.unpack_from("<H", sb, 254)[0] if wide else 32
    blocks = blocks_lo | (struct.unpack_from("<I", sb, 336)[0] << 32 if wide else 0)
    if ro_compat & _RO_COMPAT_BIGALLOC:  # TSK opens no such volume, so it is carved whole
        raise _Unusable("its bitmaps count bigalloc clusters, which are not read")
    if log_block > 6:
        raise _Unusable(f"the ext block size is said to be 1024 << {log_block}")
    block_size = 1024 << log_block
    if not (8 <= blocks_per_group <= 8 * block_size and blocks_per_group % 8 == 0):
        raise _Unusable(f"the ext block groups ({blocks_per_group:,} blocks) do not fit a one-block bitmap "
                        f"of {block_size:,} bytes")
    if first_data_block != (1 if block_size == 1024 else 0):
        raise _Unusable(f"the first ext data block is said to be {first_data_block:,}")
    if not (descriptor_size in (32, 64, 128, 256, 512, 1024) and descriptor_size <= block_size
            and (descriptor_size >= 64 or not wide)):
        raise _Unusable(f"the ext group descriptors are said to be {descriptor_size} bytes")
    if not (128 <= inode_size <= block_size and inode_size & (inode_size - 1) == 0):
        raise _Unusable(f"the ext inodes are said to be {inode_size} bytes")
    blocks = min(blocks, volume.length // block_size)
    if blocks <= first_data_block:
        raise _Unusable("the ext volume has no blocks inside the volume")
    groups = -(-(blocks - first_data_block) // blocks_per_group)
    most = min(_MAX_GROUPS, MAX_MAP_BYTES * 8 // blocks_per_group)
    if groups > most:  # as for NTFS: the rest of a huge volume is not listed
        volume.note(f"only the first {most:,} of its {groups:,} ext block groups are read")
        groups, blocks = most, first_data_block + most * blocks_per_group
    return _ExtLayout(
        block_size, first_data_block, blocks_per_group, blocks, groups, descriptor_size,
        -(-inodes_per_group * inode_size // block_size), struct.unpack_from("<H", sb, 206)[0],
        struct.unpack_from("<I", sb, 260)[0], compat, incompat, ro_compat, struct.unpack_from("<2I", sb, 588),
    )


def _ext_free(volume: _Volume) -> _FreeMap:
    layout = _ext_layout(volume)
    size, groups = layout.block_size, layout.groups
    table = b"".join(_read_blocks(volume, layout.descriptor_blocks(), size, "the ext group descriptors"))

    def column(offset: int, dtype: str = "<u4") -> np.ndarray:
        return np.ndarray((groups,), dtype=dtype, buffer=table, offset=offset,
                          strides=(layout.descriptor_size,)).astype(np.uint64)

    block_bitmap, inode_bitmap, inode_table = column(0), column(4), column(8)
    if layout.incompat & _INCOMPAT_64BIT:
        block_bitmap, inode_bitmap, inode_table = (low | column(high) << np.uint64(32) for low, high in
                                                   ((block_bitmap, 32), (inode_bitmap, 36), (inode_table, 40)))
    honours_uninit = layout.ro_compat & (_RO_COMPAT_GDT_CSUM | _RO_COMPAT_METADATA_CSUM)
    uninit = (column(18, "<u2") & _BLOCK_UNINIT != 0) & bool(honours_uninit)
    readable = ~uninit & (block_bitmap > layout.first_data_block) & (block_bitmap < layout.blocks)
    if lost := int(np.count_nonzero(~uninit & ~readable)):
        volume.note(f"{lost:,} of {groups:,} ext block groups have their block bitmap outside the volume; "
                    "their blocks are left out")

    bitmap_bytes = layout.blocks_per_group // 8
    bitmaps = np.zeros((groups, bitmap_bytes), dtype=np.uint8)  # BLOCK_UNINIT: free
    bitmaps[~uninit & ~readable] = 0xFF
    order = np.flatnonzero(readable)[np.argsort(block_bitmap[readable], kind="stable")]
    read = _read_blocks(volume, [int(b) for b in block_bitmap[order]], size, "an ext block bitmap")
    if len(order):
        bitmaps[order] = np.frombuffer(b"".join(read), dtype=np.uint8).reshape(len(order), size)[:, :bitmap_bytes]

    first, blocks = layout.first_data_block, layout.blocks
    used = bitmaps.reshape(-1)  # bit k: block first + k
    if uninit.any():  # free but for metadata, wherever flex_bg put it
        for group in np.flatnonzero(uninit).tolist():
            base = layout.base_metadata(group)
            _mark_used(used, base.start - first, base.stop - first)
        for bitmap in (block_bitmap, inode_bitmap):
            block = bitmap[(bitmap >= first) & (bitmap < blocks)].astype(np.int64) - first
            np.bitwise_or.at(used, block >> 3, np.left_shift(1, block & 7).astype(np.uint8))
        for start in inode_table[(inode_table >= first) & (inode_table < blocks)].tolist():
            _mark_used(used, start - first, start - first + layout.inode_table_blocks)
    return _FreeMap(used, blocks - first, size, volume.offset + first * size)


def _mark_used(used: np.ndarray, start: int, stop: int) -> None:
    """Set bits ``[start, stop)`` of a packed little-endian allocation bitmap (past its end: nothing)."""
    stop = min(stop, len(used) * 8)
    if start >= stop:
        return
    first, last = start >> 3, (stop - 1) >> 3
    low = np.uint8(0xFF << (start & 7) & 0xFF)  # bits of the first byte from ``start`` on
    high = np.uint8((1 << (((stop - 1) & 7) + 1)) - 1)  # bits of the last byte up to ``stop``
    if first == last:
        used[first] |= low & high
        return
    used[first] |= low
    used[first + 1:last] = 0xFF
    used[last] |= high


def _read_blocks(volume: _Volume, blocks: list[int], block_size: int, what: str) -> list[bytes]:
    """The given blocks, in order, reading each run of consecutive block numbers at once."""
    result: list[bytes] = []
    first = 0
    while first < len(blocks):
        end = first + 1
        while end < len(blocks) and blocks[end] == blocks[end - 1] + 1 and (end - first) * block_size < _READ_RUN:
            end += 1
        data = volume.bytes_at(blocks[first] * block_size, (end - first) * block_size, what)
        result += [data[k * block_size:(k + 1) * block_size] for k in range(end - first)]
        first = end
    return result


# --- HFS+ ------------------------------------------------------------------------------

_HFS_ALLOCATION_FILE = 6  # its catalog node ID, which TSK opens it by


def _hfs_free(volume: _Volume) -> _FreeMap:
    header = volume.bytes_at(1024, 512, "the HFS+ volume header")
    signature = header[:2]
    if signature not in (b"H+", b"HX"):
        raise _Unusable(f"the volume header's signature is {signature!r}, not H+ or HX (an HFS wrapper is not read)")
    block_size, total_blocks = struct.unpack_from(">2I", header, 40)
    if not 512 <= block_size <= 1 << 20 or block_size & (block_size - 1):
        raise _Unusable(f"the HFS+ allocation block size is said to be {block_size:,} bytes")
    blocks = min(total_blocks, volume.length // block_size)
    if blocks == 0:
        raise _Unusable(f"the HFS+ volume has no allocation blocks inside the volume ({total_blocks:,} said)")
    logical_size, fork_blocks = struct.unpack_from(">Q4xI", header, 112)
    needed = (blocks + 7) // 8
    if logical_size < needed or fork_blocks * block_size < needed:
        raise _Unusable(f"the HFS+ allocation file ({logical_size:,} bytes) is too small for {blocks:,} blocks")
    extents = struct.unpack_from(">16I", header, 128)
    bitmap = b""
    for start, count in zip(extents[0::2], extents[1::2]):
        if count == 0 or len(bitmap) >= needed:
            break
        if start + count > total_blocks:
            raise _Unusable(f"an extent of the HFS+ allocation file (blocks {start:,}+{count:,}) lies past its "
                            f"{total_blocks:,} blocks")
        size = min(count * block_size, needed - len(bitmap))
        bitmap += volume.bytes_at(start * block_size, size, "the HFS+ allocation file")
    if len(bitmap) < needed:  # more than eight extents: the rest are in the extents overflow file, which TSK follows
        bitmap = _hfs_allocation_file_through_tsk(volume.fs, needed)
    return _FreeMap(_bitmap(bitmap), blocks, block_size, volume.offset, "big")


def _hfs_allocation_file_through_tsk(fs: pytsk3.FS_Info, size: int) -> bytes:
    try:
        data = fs.open_meta(inode=_HFS_ALLOCATION_FILE).read_random(0, size)
    except (OSError, RuntimeError) as exc:
        raise _Unusable(f"the HFS+ allocation file, continued past its eight extents, cannot be read: {exc}") from None
    if len(data) < size:
        raise _Unusable(f"the HFS+ allocation file, continued past its eight extents, holds {len(data):,} of the "
                        f"{size:,} bytes its blocks need")
    return data


_MAP_READERS: dict[str, Callable[[_Volume], _FreeMap]] = {
    "ntfs": _ntfs_free, "fat12": _fat_free, "fat16": _fat_free, "fat32": _fat_free, "exfat": _exfat_free,
    "ext2": _ext_free, "ext3": _ext_free, "ext4": _ext_free, "hfs": _hfs_free,
}
MAPPED_FILE_SYSTEMS = tuple(_MAP_READERS)  # those whose free space is listed, named as fs_type_name names them
