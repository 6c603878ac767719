"""Where a file system's allocation units lie on the media: the grid that files start on.

A file's data starts on an allocation unit (cluster, block), so its aligned 4 KiB blocks start on the media at
``grid start + m * unit + 4096 * i``.  The pre-scan reads 4 KiB windows at 4 KiB steps from the media's start and
needs to know, inside each volume, at which 512-byte phases of those windows files can start: one phase for
clusters of 4 KiB or more, several for smaller ones, all eight where nothing is known.

Read straight from the boot sector or superblock (the same fields ``unallocated.py`` checks), because The Sleuth
Kit reports FAT and exFAT in sectors and hides where their cluster heap starts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

WINDOW = 4096
PHASE = 512
ALL_PHASES = tuple(range(WINDOW // PHASE))

ReadAt = Callable[[int, int], bytes]  # (media offset, size) -> bytes


@dataclass(frozen=True)
class ClusterGrid:
    start: int  # media offset of allocation unit 0 (the grid extends both ways)
    unit: int  # bytes in one allocation unit

    def phases(self) -> tuple[int, ...]:
        """The 512-byte phases within a 4 KiB window at which this grid's units (and so files) can start."""
        if self.unit % PHASE or self.start % PHASE or (self.unit % WINDOW and WINDOW % self.unit):
            return ALL_PHASES
        step = min(self.unit, WINDOW)
        return tuple(sorted({(self.start + m * step) % WINDOW // PHASE for m in range(WINDOW // step)}))


def cluster_grid(read: ReadAt, volume_offset: int, file_system: str | None) -> ClusterGrid | None:
    """The grid of the file system at ``volume_offset``, named as ``fs_type_name`` names it; None when unknown."""
    reader = _GRIDS.get(file_system or "")
    if reader is None:
        return None
    try:
        grid = reader(read, volume_offset)
    except (struct.error, ValueError):
        return None
    return grid if grid is not None and grid.unit >= PHASE and grid.start >= 0 else None


def _ntfs(read: ReadAt, offset: int) -> ClusterGrid | None:
    boot = read(offset, 512)
    sector, per_cluster = struct.unpack_from("<HB", boot, 11)
    unit = sector * per_cluster if per_cluster <= 0x80 else 1 << (256 - per_cluster)  # 0xF4 means 2^12 bytes
    return ClusterGrid(offset, unit) if boot[3:11] == b"NTFS    " and unit else None


def _fat(read: ReadAt, offset: int) -> ClusterGrid | None:
    boot = read(offset, 512)
    sector, per_cluster, reserved, fats, root_entries = struct.unpack_from("<HBHBH", boot, 11)
    fat_sectors = struct.unpack_from("<H", boot, 22)[0] or struct.unpack_from("<I", boot, 36)[0]
    if boot[510:512] != b"\x55\xaa" or not sector or not per_cluster or not fats or not fat_sectors:
        return None
    data_sector = reserved + fats * fat_sectors + -(-root_entries * 32 // sector)
    return ClusterGrid(offset + data_sector * sector, per_cluster * sector)


def _exfat(read: ReadAt, offset: int) -> ClusterGrid | None:
    boot = read(offset, 512)
    heap_offset = struct.unpack_from("<I", boot, 88)[0]
    sector_shift, cluster_shift = boot[108], boot[109]
    if boot[3:11] != b"EXFAT   " or not 9 <= sector_shift <= 12 or sector_shift + cluster_shift > 25:
        return None
    return ClusterGrid(offset + (heap_offset << sector_shift), 1 << (sector_shift + cluster_shift))


def _ext(read: ReadAt, offset: int) -> ClusterGrid | None:
    superblock = read(offset + 1024, 1024)
    if struct.unpack_from("<H", superblock, 56)[0] != 0xEF53:
        return None
    log_block = struct.unpack_from("<I", superblock, 24)[0]
    return ClusterGrid(offset, 1024 << log_block) if log_block <= 6 else None


def _hfs(read: ReadAt, offset: int) -> ClusterGrid | None:
    header = read(offset + 1024, 512)
    if header[:2] not in (b"H+", b"HX"):
        return None
    return ClusterGrid(offset, struct.unpack_from(">I", header, 40)[0])


def _apfs(read: ReadAt, offset: int) -> ClusterGrid | None:
    superblock = read(offset, 512)
    if superblock[32:36] != b"NXSB":
        return None
    return ClusterGrid(offset, struct.unpack_from("<I", superblock, 36)[0])


_GRIDS: dict[str, Callable[[ReadAt, int], ClusterGrid | None]] = {
    "ntfs": _ntfs, "fat12": _fat, "fat16": _fat, "fat32": _fat, "exfat": _exfat,
    "ext2": _ext, "ext3": _ext, "ext4": _ext, "hfs": _hfs, "apfs": _apfs,
}
