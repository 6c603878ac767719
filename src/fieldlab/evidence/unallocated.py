"""The unallocated clusters of a file system, as byte runs of the media: where deleted pictures outlive their names.

pytsk3 has no block walk, so the allocation maps are read directly: NTFS's
``$Bitmap`` (one bit per cluster, through TSK as an ordinary file) and FAT's
table (a free cluster is entry 0).  Both come from the suspect's disk, so
sizes are checked against the volume and the number of runs is capped.
Runs shorter than ``MIN_RUN`` cannot hold a picture worth carving.
"""

from __future__ import annotations

import struct
from typing import Callable, Iterator

import numpy as np
import pytsk3

MIN_RUN = 1024
MAX_RUNS = 1_000_000
MAX_MAP_BYTES = 512 << 20  # a FAT32 table of 128M clusters, an NTFS bitmap of 16 TiB at 4 KiB clusters

ReadAt = Callable[[int, int], bytes]  # (offset in the media, size) -> bytes


def unallocated_runs(fs: pytsk3.FS_Info, fs_type: str, volume_offset: int, volume_length: int,
                     read: ReadAt) -> Iterator[tuple[int, int]]:
    """(offset in the media, length) of each run of free clusters; nothing for file systems not handled here."""
    if fs_type == "ntfs":
        free, cluster, data_start = _ntfs_free(fs), int(fs.info.block_size), volume_offset
    elif fs_type in ("fat12", "fat16", "fat32"):
        layout = _fat_free(read, volume_offset, volume_length)
        if layout is None:
            return
        free, cluster, data_start = layout
    else:
        return
    yield from _runs(free, cluster, data_start, volume_offset + volume_length)


def _runs(free: np.ndarray, cluster: int, data_start: int, volume_end: int) -> Iterator[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], free.view(np.int8), [0]))))
    for count, (start, stop) in enumerate(zip(edges[0::2], edges[1::2])):
        if count == MAX_RUNS:
            return
        offset = data_start + int(start) * cluster
        length = min(int(stop - start) * cluster, volume_end - offset)
        if length >= MIN_RUN:
            yield offset, length


def _ntfs_free(fs: pytsk3.FS_Info) -> np.ndarray:
    bitmap_file = fs.open_meta(inode=6)  # $Bitmap
    size = min(int(bitmap_file.info.meta.size), MAX_MAP_BYTES)
    raw = bitmap_file.read_random(0, size) if size else b""
    clusters = int(fs.info.block_count)
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[:clusters]
    return (bits == 0).astype(np.bool_)


def _fat_free(read: ReadAt, volume_offset: int, volume_length: int) -> tuple[np.ndarray, int, int] | None:
    boot = read(volume_offset, 512)
    if len(boot) < 512 or boot[510:512] != b"\x55\xaa":
        return None
    sector, per_cluster, reserved, fats, root_entries, total16 = struct.unpack_from("<HBHBHH", boot, 11)
    fat16 = struct.unpack_from("<H", boot, 22)[0]
    total = total16 or struct.unpack_from("<I", boot, 32)[0]
    fat_sectors = fat16 or struct.unpack_from("<I", boot, 36)[0]
    if sector not in (512, 1024, 2048, 4096) or per_cluster == 0 or fats == 0 or not fat_sectors:
        return None
    root_sectors = (root_entries * 32 + sector - 1) // sector
    data_sector = reserved + fats * fat_sectors + root_sectors
    clusters = (min(total * sector, volume_length) // sector - data_sector) // per_cluster
    if clusters <= 0:
        return None
    table = read(volume_offset + reserved * sector, min(fat_sectors * sector, MAX_MAP_BYTES))
    if clusters < 4085:  # FAT12: 12-bit entries, packed two in three bytes
        raw = np.frombuffer(table[: (clusters + 2) * 3 // 2 + 2], dtype=np.uint8).astype(np.uint16)
        index = np.arange(2, clusters + 2)
        low = raw[index * 3 // 2] | (raw[np.minimum(index * 3 // 2 + 1, len(raw) - 1)] << 8)
        entries = np.where(index % 2 == 0, low & 0x0FFF, low >> 4)
    elif clusters < 65525:
        entries = np.frombuffer(table[: (clusters + 2) * 2], dtype="<u2")[2:]
    else:
        entries = np.frombuffer(table[: (clusters + 2) * 4], dtype="<u4")[2:] & 0x0FFFFFFF
    return (entries == 0).astype(np.bool_), per_cluster * sector, volume_offset + data_sector * sector
