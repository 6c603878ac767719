"""What The Sleuth Kit and e2fsprogs say is free, and what fieldlab says: the free-space tests compare the two.

TSK's ``blkls -l -A`` lists every unallocated block by address (a sector on FAT
and exFAT, an allocation block elsewhere); ``dumpe2fs`` lists each ext block
group's free blocks as e2fsprogs itself computes them.  Also the small builders
of bare ext and exFAT volumes these tests need beyond ``disk_builders``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytsk3

from fieldlab.evidence.filesystem import fs_type_name
from fieldlab.evidence.unallocated import MIN_RUN, unallocated_runs

MIB = 1 << 20


def tsk_unallocated_blocks(image: Path, sector_offset: int = 0) -> list[int]:
    """The addresses ``blkls -l -A`` lists, relative to the file system."""
    listing = subprocess.run(["blkls", "-l", "-A", "-o", str(sector_offset), str(image)],
                             capture_output=True, text=True, check=True).stdout
    return sorted(int(line.split("|", 1)[0]) for line in listing.splitlines() if line.split("|", 1)[0].isdigit())


def e2fsprogs_free_blocks(image: Path) -> set[int]:
    """Every block that ``dumpe2fs`` lists under "Free blocks", group by group."""
    free: set[int] = set()
    for line in re.findall(r"^  Free blocks: (.*)$", _dumpe2fs(image), re.M):
        for part in filter(None, (p.strip() for p in line.split(","))):
            first, _, last = part.partition("-")
            free.update(range(int(first), int(last or first) + 1))
    return free


def e2fsprogs_uninit_base_metadata(image: Path) -> set[int]:
    """The superblock copies and descriptor blocks (reserved ones too) of the groups flagged BLOCK_UNINIT."""
    blocks: set[int] = set()
    for group in re.split(r"^(?=Group \d+:)", _dumpe2fs(image), flags=re.M)[1:]:
        if "BLOCK_UNINIT" in group.splitlines()[0]:
            for first, last in re.findall(r"(?:superblock|Group descriptors?|Reserved GDT blocks) at (\d+)(?:-(\d+))?",
                                          group):
                blocks.update(range(int(first), int(last or first) + 1))
    return blocks


def _dumpe2fs(image: Path) -> str:
    return subprocess.run(["dumpe2fs", str(image)], capture_output=True, text=True, check=True).stdout


def as_runs(units: Iterable[int], unit_size: int, base: int = 0) -> list[tuple[int, int]]:
    """(offset, length) in bytes of each run of consecutive units, from ``base``; runs under MIN_RUN left out."""
    runs: list[list[int]] = []
    for number in sorted(units):
        if runs and runs[-1][1] == number:
            runs[-1][1] = number + 1
        else:
            runs.append([number, number + 1])
    return [(base + first * unit_size, (stop - first) * unit_size) for first, stop in runs
            if (stop - first) * unit_size >= MIN_RUN]


def fieldlab_runs(image: Path, offset: int = 0, length: int | None = None) -> tuple[list[tuple[int, int]], list[str]]:
    """unallocated_runs of the file system at ``offset``, as a scan calls it, and the problems it reported."""
    tsk_image = pytsk3.Img_Info(str(image))
    fs = pytsk3.FS_Info(tsk_image, offset=offset)
    length = os.path.getsize(image) - offset if length is None else length
    problems: list[str] = []
    with open(image, "rb") as raw:
        runs = list(unallocated_runs(fs, fs_type_name(fs), offset, length,
                                     lambda at, size: os.pread(raw.fileno(), size, at), problems.append))
    return runs, problems


def blocks_in(runs: Iterable[tuple[int, int]], unit_size: int, base: int = 0) -> set[int]:
    return {(offset - base) // unit_size + k for offset, length in runs for k in range(length // unit_size)}


def make_ext(image: Path, size_mib: int, tool: str, options: list[str], staging: Path,
             files: dict[str, bytes], delete: Iterable[str] = ()) -> Path:
    """A bare ext2/3/4 volume made by ``tool`` (mkfs.ext2, mkfs.ext3, mkfs.ext4) holding ``files``, some deleted."""
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    with open(image, "wb") as f:
        f.truncate(size_mib * MIB)
    subprocess.run([tool, "-q", "-F", *options, "-d", str(staging), str(image)], check=True, capture_output=True)
    for name in delete:
        subprocess.run(["debugfs", "-w", "-R", f"rm /{name}", str(image)], check=True, capture_output=True)
    return image


def make_exfat(image: Path, size_mib: int, cluster: str | None = None) -> Path:
    with open(image, "wb") as f:
        f.truncate(size_mib * MIB)
    subprocess.run(["mkfs.exfat", *(["-c", cluster] if cluster else []), str(image)], check=True, capture_output=True)
    return image


def exfat_heap(boot: bytes) -> tuple[int, int, int]:
    """(first sector, sectors a cluster, cluster count) of an exFAT cluster heap, from the boot sector."""
    heap_offset, cluster_count = int.from_bytes(boot[88:92], "little"), int.from_bytes(boot[92:96], "little")
    return heap_offset, 1 << boot[109], cluster_count
