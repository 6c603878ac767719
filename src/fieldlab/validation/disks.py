"""Generated disk images for tests and for `fieldlab validate`: partition tables, file systems, planted and deleted files,
E01 and split raw.

Scanner tests need seized-disk evidence in which every byte is known: which file lies at
which path in which partition, which were deleted, which hide in an NTFS alternate data
stream, and where the disk has unpartitioned space.  These builders make such disks from
generated content only (procedural pictures, seeded random bytes), without mounting
anything: no loop devices, no FUSE.  Each file system is made in its own image file with
tools that write straight into that file, then copied to its offset in the disk:

- FAT16/FAT32: ``mkfs.fat``, then mtools (``mcopy -s``, ``mdel``; a deletion leaves the
  0xE5 entry and the clusters, so the content stays recoverable).
- ext4: ``mke2fs -d`` from a staging folder, then ``debugfs`` for deletions, finished the
  way the Linux kernel finishes them (size 0, extent tree emptied): the deleted name stays
  listed, its content does not stay reachable through the inode.
- NTFS: ``mkntfs``, then libntfs-3g (the library of ntfs-3g, through ctypes), because no
  ntfs-3g command makes directories or deletes files without a mount.  Deleting keeps the
  MFT record with its name and runs, as Windows does, so the content stays recoverable.
- exFAT: ``mkfs.exfat``, then a small writer in this module (no tool populates exFAT
  without a mount).  Files are written contiguously with the NoFatChain flag, as Windows
  does; a deletion clears the in-use bit of the entry set and frees the clusters.
- HFS+: written by ``validation/hfsplus.py`` from Apple's TN1150 (no tool here makes
  HFS+); a deletion leaves no catalog record and the content in free blocks.

Partition tables (MBR, GPT) are written here too: they are a few fixed structures, and
writing them needs no tool beyond the standard library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import random
import shutil
import struct
import subprocess
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from fieldlab.errors import FieldlabError
from fieldlab.validation.hfsplus import HfsFile, write_hfsplus

SECTOR = 512
MIB = 1024 * 1024

FS_TYPES = ("ntfs", "fat32", "fat16", "ext4", "exfat", "hfsplus")
SCHEMES = ("mbr", "gpt", "none")

# FAT32 below 65525 clusters is read as FAT16 by TSK and Windows; 512-byte clusters need 33 MiB.
MIN_SIZE_MIB = {"ntfs": 2, "fat32": 33, "fat16": 4, "ext4": 4, "exfat": 4, "hfsplus": 2}
DELETED_CONTENT_RECOVERABLE = {"ntfs": True, "fat32": True, "fat16": True, "exfat": True, "ext4": False,
                               "hfsplus": False}

_MBR_TYPE = {"ntfs": 0x07, "exfat": 0x07, "fat32": 0x0C, "fat16": 0x0E, "ext4": 0x83, "hfsplus": 0xAF}
_GPT_BASIC_DATA = uuid.UUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7")
_GPT_LINUX_FS = uuid.UUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
_GPT_APPLE_HFS = uuid.UUID("48465300-0000-11AA-AA11-00306543ECAC")
_GPT_TYPE = {"ntfs": _GPT_BASIC_DATA, "exfat": _GPT_BASIC_DATA, "fat32": _GPT_BASIC_DATA,
             "fat16": _GPT_BASIC_DATA, "ext4": _GPT_LINUX_FS, "hfsplus": _GPT_APPLE_HFS}
_GPT_ENTRIES, _GPT_ENTRY_SIZE = 128, 128
_GPT_TABLE_SECTORS = _GPT_ENTRIES * _GPT_ENTRY_SIZE // SECTOR
_WINDOWS_FORBIDDEN = set('"*:<>?\\|') | {chr(c) for c in range(32)}
_SHORT_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()-@^_`{}~")


class DiskBuildError(FieldlabError, RuntimeError):
    """A builder could not make the image; the message names the tool and what it said."""


@dataclass(frozen=True)
class PlantedFile:
    """A file put into a generated file system, with the bytes a scanner should find."""

    path: str  # '/'-separated, no leading slash, e.g. "Users/alex/Pictures/a.jpg"
    data: bytes = field(repr=False)
    deleted: bool = False  # planted, then deleted with the file system's own logic
    stream: str | None = None  # NTFS alternate data stream: data lives in path:stream

    def __post_init__(self) -> None:
        parts = self.path.split("/")
        if not self.path or self.path.startswith("/") or "\\" in self.path or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"planted path must be relative, '/'-separated, without '.' or '..': {self.path!r}")
        if self.stream is not None and (not self.stream or any(c in self.stream for c in ":/\\\0")):
            raise ValueError(f"stream name must be non-empty without ':', '/', '\\': {self.stream!r}")

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.data).hexdigest()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class BuiltPartition:
    """One file system of a built disk: where it lies and what was planted in it."""

    index: int  # 0-based order in the partition table
    start_offset: int  # bytes from the start of the disk
    size: int  # bytes
    fs_type: str  # one of FS_TYPES
    files: tuple[PlantedFile, ...]

    @property
    def sector_offset(self) -> int:
        """The offset TSK tools take with -o."""
        return self.start_offset // SECTOR

    @property
    def deleted_content_recoverable(self) -> bool:
        """Whether a deleted file's own metadata still leads to its content (false for ext4)."""
        return DELETED_CONTENT_RECOVERABLE[self.fs_type]

    def listed_path(self, file: PlantedFile) -> str:
        """The path as The Sleuth Kit (and so pytsk3) lists it.

        An alternate data stream is listed as ``path:stream``.  Deleting a FAT file whose
        name fits 8.3 overwrites its first character and leaves no long name, so TSK lists
        it with '_' in its place; names with a long-name entry keep their full name.
        """
        path = file.path if file.stream is None else f"{file.path}:{file.stream}"
        if file.deleted and self.fs_type in ("fat16", "fat32") and _fits_short_name(file.name):
            head, _, name = path.rpartition("/")
            return f"{head}/_{name[1:]}" if head else f"_{name[1:]}"
        return path


@dataclass(frozen=True)
class BuiltDisk:
    """A built raw image and everything a test may assert about it."""

    path: Path  # the raw image
    scheme: str  # "mbr", "gpt" or "none" (a bare file system, no partition table)
    size: int
    partitions: tuple[BuiltPartition, ...]
    gaps: tuple[tuple[int, int], ...]  # (offset, length) of deliberately unpartitioned space


# --- content ---------------------------------------------------------------------------


def random_bytes(seed: int, size: int) -> bytes:
    """Incompressible filler that differs for every seed, so every planted file has its own hash."""
    return random.Random(seed).randbytes(size)


def _jpeg(seed: int, width: int = 320, height: int = 240) -> bytes:
    from fieldlab.demo import procedural_jpeg

    return procedural_jpeg(seed, width, height, 85)


def _png(seed: int, width: int = 160, height: int = 120) -> bytes:
    from fieldlab.demo import procedural_png

    return procedural_png(seed, width, height)


# --- disks -----------------------------------------------------------------------------


def build_disk(
    path: Path,
    scheme: str,
    partitions: Sequence[tuple[str, int, Sequence[PlantedFile]]],
    gap_mib: int = 2,
) -> BuiltDisk:
    """Write a raw disk image with the given partitions, each a fresh file system holding its files.

    ``partitions`` holds ``(fs_type, size_mib, files)``.  With "mbr" or "gpt" the first
    partition starts at 1 MiB (as modern partitioners align) and ``gap_mib`` of
    unpartitioned space follows every partition, so tests can look for data outside any
    file system.  With "none" the image is one bare file system (a "superfloppy", or a
    partition imaged on its own) and there are no gaps.
    """
    path = Path(path)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    if scheme == "none" and len(partitions) != 1:
        raise ValueError("scheme 'none' holds exactly one file system")
    if scheme == "mbr" and len(partitions) > 4:
        raise ValueError("an MBR holds at most 4 primary partitions (extended partitions are not built)")
    if not partitions:
        raise ValueError("a disk needs at least one partition")
    if gap_mib < 0:
        raise ValueError("gap_mib cannot be negative")
    for fs_type, size_mib, files in partitions:
        _check_partition(fs_type, size_mib, files)

    layout: list[tuple[int, int]] = []
    gaps: list[tuple[int, int]] = []
    cursor = 0 if scheme == "none" else MIB
    for _, size_mib, _ in partitions:
        layout.append((cursor, size_mib * MIB))
        cursor += size_mib * MIB
        if scheme != "none" and gap_mib:
            gaps.append((cursor, gap_mib * MIB))
            cursor += gap_mib * MIB
    disk_size = cursor + (MIB if scheme == "gpt" else 0)  # the backup GPT lives past the last gap

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as disk:
        disk.truncate(disk_size)
        fs_types = [fs_type for fs_type, _, _ in partitions]
        identity = _layout_identity(partitions)
        if scheme == "mbr":
            _write_mbr(disk, [(start, size, _MBR_TYPE[t]) for (start, size), t in zip(layout, fs_types)], identity)
        elif scheme == "gpt":
            _write_gpt(disk, disk_size, [(start, size, t) for (start, size), t in zip(layout, fs_types)], identity)

    built = []
    with tempfile.TemporaryDirectory(prefix="fieldlab-disk-", dir=path.parent) as work:
        for index, ((fs_type, _, files), (start, size)) in enumerate(zip(partitions, layout)):
            image = Path(work) / f"partition-{index}.img"
            _make_file_system(image, fs_type, size, start // SECTOR, list(files), Path(work) / f"staging-{index}",
                              _derived_uuid(identity, f"fs-{index}"))
            _place(image, path, start)
            built.append(BuiltPartition(index, start, size, fs_type, tuple(files)))
    return BuiltDisk(path, scheme, disk_size, tuple(built), tuple(gaps))


def _layout_identity(partitions: Sequence[tuple[str, int, Sequence[PlantedFile]]]) -> bytes:
    """A digest of what the disk holds: its disk signature and GUIDs derive from it, so the same request gives
    the same bytes (``fieldlab validate`` promises a reproducible corpus) while different disks still differ."""
    digest = hashlib.sha256()
    for fs_type, size_mib, files in partitions:
        digest.update(f"{fs_type}:{size_mib}\0".encode())
        for file in files:
            digest.update(f"{file.path}:{file.stream}:{file.deleted}:{file.sha1}\0".encode())
    return digest.digest()


def _derived_uuid(identity: bytes, purpose: str) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.sha256(identity + purpose.encode()).digest()[:16], version=4)


def _check_partition(fs_type: str, size_mib: int, files: Sequence[PlantedFile]) -> None:
    if fs_type not in FS_TYPES:
        raise ValueError(f"file system must be one of {FS_TYPES}, not {fs_type!r}")
    if size_mib < MIN_SIZE_MIB[fs_type]:
        raise ValueError(f"{fs_type} needs at least {MIN_SIZE_MIB[fs_type]} MiB, not {size_mib}")
    seen: set[tuple[str, str | None]] = set()
    deleted_by_path: dict[str, bool] = {}
    for file in files:
        if file.stream is not None and fs_type != "ntfs":
            raise ValueError(f"alternate data streams exist only on NTFS, not {fs_type}: {file.path}:{file.stream}")
        if (file.path, file.stream) in seen:
            raise ValueError(f"planted twice: {file.path}" + (f":{file.stream}" if file.stream else ""))
        if deleted_by_path.setdefault(file.path, file.deleted) != file.deleted:
            raise ValueError(f"a file and its streams are deleted together: {file.path}")
        seen.add((file.path, file.stream))
    directories = {str(parent) for path in deleted_by_path for parent in PurePosixPath(path).parents}
    if clash := directories & deleted_by_path.keys():
        raise ValueError(f"planted both as a file and as a folder: {sorted(clash)}")
    forbidden = {'"', "\0"} if fs_type == "ext4" else _WINDOWS_FORBIDDEN  # '"': debugfs quotes paths
    spellings: dict[str, str] = {}
    for path in deleted_by_path:
        if bad := forbidden & set(path):
            raise ValueError(f"{fs_type} names here cannot hold {''.join(sorted(bad))!r}: {path}")
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            key = prefix if fs_type == "ext4" else prefix.casefold()
            if spellings.setdefault(key, prefix) != prefix:
                raise ValueError(f"{fs_type} ignores case: {prefix!r} and {spellings[key]!r} are one name")


def _make_file_system(image: Path, fs_type: str, size: int, start_sector: int,
                      files: list[PlantedFile], staging: Path, fs_uuid: uuid.UUID) -> None:
    with open(image, "wb") as f:
        f.truncate(size)
    if fs_type == "ntfs":
        _make_ntfs(image, start_sector, files)
    elif fs_type in ("fat16", "fat32"):
        _make_fat(image, 16 if fs_type == "fat16" else 32, size, start_sector, files, staging)
    elif fs_type == "ext4":
        _make_ext4(image, files, staging, fs_uuid)
    elif fs_type == "hfsplus":
        write_hfsplus(image, [HfsFile(f.path, f.data, f.deleted) for f in files], fs_uuid.bytes, int(time.time()))
    else:
        _make_exfat(image, files)


def _place(image: Path, disk: Path, offset: int) -> None:
    """Copy a file system image into the disk, skipping zero blocks so the disk stays sparse."""
    zero = bytes(MIB)
    with open(image, "rb") as source, open(disk, "r+b") as target:
        position = 0
        while block := source.read(MIB):
            if block != zero[: len(block)]:
                target.seek(offset + position)
                target.write(block)
            position += len(block)


_PACKAGE_OF = {"mkfs.fat": "dosfstools", "mcopy": "mtools", "mdel": "mtools", "mke2fs": "e2fsprogs",
               "debugfs": "e2fsprogs", "mkntfs": "ntfs-3g", "mkfs.exfat": "exfatprogs", "ewfacquire": "ewf-tools",
               "cryptsetup": "cryptsetup-bin"}


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    if shutil.which(args[0]) is None:
        raise DiskBuildError(f"{args[0]} not found: install the {_PACKAGE_OF.get(args[0], args[0])} package")
    # stdin closed: mtools and friends ask questions on a clash, and a test must fail rather than hang.
    result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL,  # type: ignore[call-overload]
                            **kwargs)
    if result.returncode != 0:
        said = result.stderr.strip() or result.stdout.strip()
        raise DiskBuildError(f"{' '.join(args)} failed ({result.returncode}): {said}")
    return result


def _stage(staging: Path, files: list[PlantedFile]) -> float:
    """Write the files for mcopy/mke2fs, which copy their times: stamped explicitly with this process's clock,
    because the kernel's own stamp escapes libfaketime (``fieldlab validate`` builds under it, to be reproducible)."""
    for file in files:
        target = staging / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.data)
    now = time.time()
    for path in sorted(staging.rglob("*"), key=lambda p: -len(p.parts)):
        os.utime(path, (now, now))
    os.utime(staging, (now, now))
    return now


# --- partition tables ------------------------------------------------------------------


def _chs(lba: int) -> bytes:
    cylinder, head, sector = lba // (255 * 63), (lba // 63) % 255, lba % 63 + 1
    if cylinder > 1023:
        cylinder, head, sector = 1023, 254, 63
    return bytes([head, sector | ((cylinder >> 2) & 0xC0), cylinder & 0xFF])


def _mbr(entries: list[tuple[int, int, int]], identity: bytes) -> bytearray:
    """entries: (first sector, sector count, type byte)."""
    mbr = bytearray(SECTOR)
    struct.pack_into("<I", mbr, 440, int.from_bytes(identity[:4], "little") or 1)  # disk signature
    for slot, (first, count, type_byte) in enumerate(entries):
        entry = b"\x00" + _chs(first) + bytes([type_byte]) + _chs(first + count - 1) + struct.pack("<II", first, count)
        mbr[446 + 16 * slot: 462 + 16 * slot] = entry
    mbr[510:512] = b"\x55\xaa"
    return mbr


def _write_mbr(disk: BinaryIO, partitions: list[tuple[int, int, int]], identity: bytes) -> None:
    disk.seek(0)
    disk.write(_mbr([(start // SECTOR, size // SECTOR, type_byte) for start, size, type_byte in partitions], identity))


def _write_gpt(disk: BinaryIO, disk_size: int, partitions: list[tuple[int, int, str]], identity: bytes) -> None:
    sectors = disk_size // SECTOR
    protective = _mbr([(1, min(sectors - 1, 0xFFFFFFFF), 0xEE)], identity)
    table = bytearray(_GPT_ENTRIES * _GPT_ENTRY_SIZE)
    for slot, (start, size, fs_type) in enumerate(partitions):
        name = {"ext4": "Linux filesystem", "hfsplus": "Apple HFS+"}.get(fs_type, "Basic data partition").encode(
            "utf-16-le")
        table[slot * _GPT_ENTRY_SIZE: (slot + 1) * _GPT_ENTRY_SIZE] = (
            _GPT_TYPE[fs_type].bytes_le + _derived_uuid(identity, f"partition-{slot}").bytes_le
            + struct.pack("<QQQ", start // SECTOR, (start + size) // SECTOR - 1, 0) + name.ljust(72, b"\0")
        )
    disk_guid = _derived_uuid(identity, "disk").bytes_le
    table_crc = zlib.crc32(table)
    last = sectors - 1

    def header(mine: int, other: int, table_lba: int) -> bytes:
        fields = struct.pack("<8sIII4xQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, mine, other,
                             2 + _GPT_TABLE_SECTORS, last - 1 - _GPT_TABLE_SECTORS, disk_guid,
                             table_lba, _GPT_ENTRIES, _GPT_ENTRY_SIZE, table_crc)
        fields = fields[:16] + struct.pack("<I", zlib.crc32(fields)) + fields[20:]
        return fields.ljust(SECTOR, b"\0")

    for offset, data in ((0, bytes(protective)), (SECTOR, header(1, last, 2)), (2 * SECTOR, bytes(table)),
                         ((last - _GPT_TABLE_SECTORS) * SECTOR, bytes(table)),
                         (last * SECTOR, header(last, 1, last - _GPT_TABLE_SECTORS))):
        disk.seek(offset)
        disk.write(data)


# --- FAT -------------------------------------------------------------------------------


def _fits_short_name(name: str) -> bool:
    """Whether mtools stores ``name`` as a bare 8.3 entry (case kept by the NT flag bits), with no long name."""
    base, dot, ext = name.partition(".")
    if not base or len(base) > 8 or len(ext) > 3 or "." in ext or (dot and not ext):
        return False
    for part in (base, ext):
        if part and not (part.isupper() or part.islower() or part.upper() == part.lower()):
            return False
    return all(c in _SHORT_NAME_CHARS for c in (base + ext).upper())


def _fat_env() -> dict[str, str]:
    return {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull}


def _make_fat(image: Path, bits: int, size: int, start_sector: int, files: list[PlantedFile], staging: Path) -> None:
    sectors = size // SECTOR
    # FAT32 gets 512-byte clusters so that a small volume still has the 65525 clusters
    # that make it FAT32 to every reader; FAT16 gets the smallest clusters that stay under that.
    per_cluster = 1 if bits == 32 else max(1, 1 << max(0, (sectors // 65000)).bit_length())
    _run(["mkfs.fat", "-F", str(bits), "-s", str(per_cluster), "-h", str(start_sector),
          "-n", f"FIELDLAB{bits}", str(image)])
    if not files:
        return
    _stage(staging, files)
    tops = sorted(str(p) for p in staging.iterdir())
    _run(["mcopy", "-s", "-i", str(image), *tops, "::/"], env=_fat_env())
    deleted = [f"::/{f.path}" for f in files if f.deleted]
    if deleted:
        _run(["mdel", "-i", str(image), *deleted], env=_fat_env())


# --- ext4 ------------------------------------------------------------------------------


def _make_ext4(image: Path, files: list[PlantedFile], staging: Path, fs_uuid: uuid.UUID) -> None:
    staging.mkdir(parents=True, exist_ok=True)
    staged_at = _stage(staging, files)
    _run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "fieldlab", "-U", str(fs_uuid),
          "-E", f"root_owner=0:0,hash_seed={fs_uuid}", "-d", str(staging), str(image)])
    env = {**os.environ, "DEBUGFS_PAGER": "__none__"}
    # mke2fs -d copies each file's ctime, which only the kernel sets: give every copied inode the staging time.
    stamp = datetime.fromtimestamp(int(staged_at), timezone.utc).strftime("%Y%m%d%H%M%S")
    copied = ["/", *sorted("/" + p.relative_to(staging).as_posix() for p in staging.rglob("*"))]
    commands = image.with_suffix(".ctimes")
    commands.write_text("".join(f'sif "{path}" ctime {stamp}\n' for path in copied))
    _run(["debugfs", "-w", "-f", str(commands), str(image)], env=env)
    deleted = [f.path for f in files if f.deleted]
    if not deleted:
        return
    inodes = []
    for path in deleted:
        out = _run(["debugfs", "-R", f'stat "/{path}"', str(image)], env=env).stdout
        if "Inode:" not in out:
            raise DiskBuildError(f"debugfs cannot find /{path} in the new ext4 image")
        inodes.append(int(out.split("Inode:", 1)[1].split()[0]))
    # debugfs only frees the blocks; the kernel also sets the size to 0 and empties the
    # extent tree, which is why deleted ext4 content cannot be followed from its inode.
    script = []
    for path, inode in zip(deleted, inodes):
        script.append(f'rm "/{path}"')
        script += [f"sif <{inode}> size 0", f"sif <{inode}> blocks 0",
                   f"sif <{inode}> block[0] 0xF30A", f"sif <{inode}> block[1] 4"]
        script += [f"sif <{inode}> block[{i}] 0" for i in range(2, 12)]
        script += [f"sif <{inode}> block[{name}] 0" for name in ("IND", "DIND", "TIND")]
    commands = image.with_suffix(".debugfs")
    commands.write_text("\n".join(script) + "\n")
    result = _run(["debugfs", "-w", "-f", str(commands), str(image)], env=env)
    if problems := [line for line in result.stderr.splitlines() if ":" in line and not line.startswith("debugfs ")]:
        raise DiskBuildError(f"debugfs could not delete on ext4: {problems}")


# --- NTFS ------------------------------------------------------------------------------

_AT_DATA = 0x80
_S_IFREG, _S_IFDIR = 0o100000, 0o040000


@cache
def _libntfs() -> ctypes.CDLL:
    name = ctypes.util.find_library("ntfs-3g") or "libntfs-3g.so.89"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as error:
        raise DiskBuildError(f"libntfs-3g not found ({error}): install the ntfs-3g package") from error
    p, i, u8, u32, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8, ctypes.c_uint32, ctypes.c_int64
    for function, result, args in (
        ("ntfs_mount", p, [ctypes.c_char_p, ctypes.c_ulong]),
        ("ntfs_umount", i, [p, i]),
        ("ntfs_pathname_to_inode", p, [p, p, ctypes.c_char_p]),
        ("ntfs_create", p, [p, u32, p, u8, ctypes.c_uint]),
        ("ntfs_delete", i, [p, ctypes.c_char_p, p, p, p, u8]),
        ("ntfs_attr_add", i, [p, u32, p, u8, p, i64]),
        ("ntfs_attr_open", p, [p, u32, p, u32]),
        ("ntfs_attr_pwrite", i64, [p, i64, i64, p]),
        ("ntfs_attr_close", None, [p]),
        ("ntfs_inode_close", i, [p]),
        ("ntfs_inode_close_in_dir", i, [p, p]),
        ("ntfs_attr_truncate", i, [p, i64]),
        ("ntfs_set_ntfs_reparse_data", i, [p, ctypes.c_char_p, ctypes.c_size_t, i]),
        ("ntfs_set_ntfs_attrib", i, [p, ctypes.c_char_p, ctypes.c_size_t, i]),
    ):
        getattr(lib, function).restype = result
        getattr(lib, function).argtypes = args
    return lib


class _NtfsVolume:
    """An NTFS image opened read-write through libntfs-3g: make folders, write files and streams, delete."""

    def __init__(self, lib: ctypes.CDLL, handle: int) -> None:
        self._lib = lib
        self._vol = handle
        self._unnamed = ctypes.addressof(ctypes.c_uint16.in_dll(lib, "AT_UNNAMED"))
        self._folders = {""}

    def _check(self, ok: object, what: str, opened: tuple[int, ...] = ()) -> None:
        """Raise with libntfs-3g's errno when ``ok`` is false, after closing the inodes still ``opened``."""
        if not ok:
            code = ctypes.get_errno()
            for inode in opened:
                self._lib.ntfs_inode_close(inode)
            raise DiskBuildError(f"libntfs-3g: {what}: {os.strerror(code)}")

    def _open(self, path: str, opened: tuple[int, ...] = ()) -> int:
        inode = self._lib.ntfs_pathname_to_inode(self._vol, None, f"/{path}".encode())
        self._check(inode, f"cannot find /{path}", opened)
        return inode

    def _create(self, folder: str, name: str, mode: int) -> tuple[int, int]:
        """Create ``name`` in ``folder``; returns (inode, folder inode), both still open."""
        parent = self._open(folder)
        encoded, length = _utf16(name)
        inode = self._lib.ntfs_create(parent, 0, ctypes.addressof(encoded), length, mode)
        self._check(inode, f"cannot create /{folder}/{name}", (parent,))
        return inode, parent

    def make_folders(self, path: str) -> None:
        for parent in reversed(PurePosixPath(path).parents):
            folder = str(parent) if str(parent) != "." else ""
            if folder in self._folders:
                continue
            head, _, name = folder.rpartition("/")
            inode, parent_inode = self._create(head, name, _S_IFDIR)
            self._lib.ntfs_inode_close_in_dir(inode, parent_inode)
            self._lib.ntfs_inode_close(parent_inode)
            self._folders.add(folder)

    def write_file(self, path: str, data: bytes, streams: dict[str, bytes]) -> None:
        head, _, name = path.rpartition("/")
        inode, parent = self._create(head, name, _S_IFREG)
        try:
            self._write_attribute(inode, None, data, path)
            for stream, stream_data in streams.items():
                encoded, length = _utf16(stream)
                # An empty stream first, filled like the main one: the stream then sits in the
                # file's own MFT record, as Windows puts it, not in an extension record.
                self._check(self._lib.ntfs_attr_add(inode, _AT_DATA, ctypes.addressof(encoded), length, None, 0) == 0,
                            f"cannot add stream {path}:{stream}")
                self._write_attribute(inode, (encoded, length), stream_data, f"{path}:{stream}")
        finally:
            self._lib.ntfs_inode_close_in_dir(inode, parent)
            self._lib.ntfs_inode_close(parent)

    def _write_attribute(self, inode: int, name: tuple[ctypes.Array[ctypes.c_char], int] | None,
                         data: bytes, label: str) -> None:
        address, length = (self._unnamed, 0) if name is None else (ctypes.addressof(name[0]), name[1])
        attribute = self._lib.ntfs_attr_open(inode, _AT_DATA, address, length)
        self._check(attribute, f"cannot open the data of {label}")
        try:
            written = 0
            while written < len(data):
                chunk = data[written:]
                count = self._lib.ntfs_attr_pwrite(attribute, written, len(chunk), chunk)
                self._check(count > 0, f"cannot write {label}")
                written += count
        finally:
            self._lib.ntfs_attr_close(attribute)

    def make_sparse(self, path: str, size: int) -> None:
        """Extend the file's unnamed data to ``size`` bytes without writing them: libntfs-3g makes the new part
        a hole (a sparse run), as Windows leaves a cloud placeholder's or a WOF-compressed file's data."""
        inode = self._open(path)
        try:
            attribute = self._lib.ntfs_attr_open(inode, _AT_DATA, self._unnamed, 0)
            self._check(attribute, f"cannot open the data of {path}")
            try:
                self._check(self._lib.ntfs_attr_truncate(attribute, size) == 0, f"cannot extend {path}")
            finally:
                self._lib.ntfs_attr_close(attribute)
        finally:
            self._lib.ntfs_inode_close(inode)

    def set_reparse_point(self, path: str, data: bytes) -> None:
        """Give the file a reparse point (tag, length, reserved, data), as the ``system.ntfs_reparse_data`` xattr
        of ntfs-3g does; libntfs-3g also sets the REPARSE_POINT attribute and indexes it in ``$Extend/$Reparse``."""
        inode = self._open(path)
        try:
            self._check(self._lib.ntfs_set_ntfs_reparse_data(inode, data, len(data), 0) == 0,
                        f"cannot set the reparse point of {path}")
        finally:
            self._lib.ntfs_inode_close(inode)

    def set_file_attributes(self, path: str, attributes: int) -> None:
        """The file's Windows attributes (``system.ntfs_attrib``): libntfs-3g keeps those Windows lets a user set."""
        inode = self._open(path)
        try:
            value = attributes.to_bytes(4, "little")
            self._check(self._lib.ntfs_set_ntfs_attrib(inode, value, 4, 0) == 0, f"cannot set attributes of {path}")
        finally:
            self._lib.ntfs_inode_close(inode)

    def delete(self, path: str) -> None:
        head, _, name = path.rpartition("/")
        # The file before its folder, as ntfs-3g's own unlink does: opened the other way round, a second delete
        # in the same folder wrote the first file's name back into the folder index.
        inode = self._open(path)
        parent = self._open(head, (inode,))
        encoded, length = _utf16(name)
        # ntfs_delete closes both inodes, whatever it returns.
        status = self._lib.ntfs_delete(self._vol, f"/{path}".encode(), inode, parent, ctypes.addressof(encoded), length)
        self._check(status == 0, f"cannot delete /{path}")


def _utf16(name: str) -> tuple[ctypes.Array[ctypes.c_char], int]:
    """A name as libntfs-3g takes it: UTF-16LE units in a buffer that lives as long as the caller holds it."""
    encoded = name.encode("utf-16-le")
    if len(encoded) // 2 > 255:
        raise ValueError(f"NTFS names hold at most 255 UTF-16 units: {name}")
    return ctypes.create_string_buffer(encoded), len(encoded) // 2


@contextmanager
def _ntfs_volume(image: Path) -> Iterator[_NtfsVolume]:
    lib = _libntfs()
    handle = lib.ntfs_mount(str(image).encode(), 0)
    if not handle:
        raise DiskBuildError(f"libntfs-3g cannot open {image}: {os.strerror(ctypes.get_errno())}")
    try:
        yield _NtfsVolume(lib, handle)
    finally:
        closed = lib.ntfs_umount(handle, 0) == 0
    if not closed:  # reached only when the work itself succeeded
        raise DiskBuildError(f"libntfs-3g could not close {image} cleanly: {os.strerror(ctypes.get_errno())}")


def _cover_text(path: str) -> bytes:
    """What the main stream of a file holds when only its alternate stream was planted."""
    return f"Nothing to see in {path}.\r\n".encode()


def _make_ntfs(image: Path, start_sector: int, files: list[PlantedFile]) -> None:
    # -p/-H/-S: the boot sector records where the partition starts, as Windows expects.
    _run(["mkntfs", "-F", "-f", "-Q", "-q", "-L", "FIELDLAB", "-p", str(start_sector), "-H", "255", "-S", "63",
          str(image)])
    if not files:
        return
    by_path: dict[str, list[PlantedFile]] = {}
    for file in files:
        by_path.setdefault(file.path, []).append(file)
    with _ntfs_volume(image) as volume:
        for path, planted in by_path.items():
            main = next((f.data for f in planted if f.stream is None), _cover_text(path))
            volume.make_folders(path)
            volume.write_file(path, main, {f.stream: f.data for f in planted if f.stream is not None})
        for path, planted in by_path.items():
            if planted[0].deleted:  # last, so no deleted record or cluster is reused
                volume.delete(path)


# --- exFAT -----------------------------------------------------------------------------


def _make_exfat(image: Path, files: list[PlantedFile]) -> None:
    _run(["mkfs.exfat", "-L", "FIELDLAB", str(image)])
    if files:
        with open(image, "r+b") as device:
            _ExfatVolume(device).populate(files)


_EXFAT_FILE, _EXFAT_STREAM, _EXFAT_NAME = 0x85, 0xC0, 0xC1
_EXFAT_BITMAP, _EXFAT_UPCASE = 0x81, 0x82
_ATTR_DIRECTORY, _ATTR_ARCHIVE = 0x10, 0x20


class _ExfatVolume:
    """Just enough of exFAT to add folders and files to a fresh volume and delete files.

    Every new folder and file is one contiguous run of clusters marked NoFatChain (no FAT
    entries), as Windows writes files on an unfragmented volume.  Folders are sized up
    front for the entries they will hold; the root folder grows along its FAT chain.
    """

    def __init__(self, device: BinaryIO) -> None:
        self._device = device
        boot = self._read(0, SECTOR)
        self._fat_offset = struct.unpack_from("<I", boot, 80)[0] * SECTOR
        self._heap_offset = struct.unpack_from("<I", boot, 88)[0] * SECTOR
        self._cluster_count = struct.unpack_from("<I", boot, 92)[0]
        root_cluster = struct.unpack_from("<I", boot, 96)[0]
        self._cluster_size = SECTOR << boot[109]
        if 1 << boot[108] != SECTOR:
            raise DiskBuildError("exFAT with sectors other than 512 bytes is not supported here")
        # folder path -> (first cluster, byte length, contiguous?)
        self._folders: dict[str, tuple[int, int, bool]] = {"": (root_cluster, self._chain_length(root_cluster), False)}
        self._upcase: dict[int, int] = {}
        self._search_from = 0  # clusters are only freed at the end, so allocation never looks back
        root = self._read_folder("")
        for slot in range(0, len(root), 32):
            kind = root[slot]
            if kind == _EXFAT_BITMAP:
                cluster, length = struct.unpack_from("<IQ", root, slot + 20)
                self._bitmap_offset = self._cluster_offset(cluster)
                self._bitmap = bytearray(self._read(self._bitmap_offset, length))
            elif kind == _EXFAT_UPCASE:
                cluster, length = struct.unpack_from("<IQ", root, slot + 20)
                self._upcase = _expand_upcase(self._read(self._cluster_offset(cluster), length))
        if not hasattr(self, "_bitmap"):
            raise DiskBuildError("exFAT volume without an allocation bitmap")
        self._entries: dict[str, tuple[str, int]] = {}  # file path -> (folder, entry offset within folder)
        self._runs: dict[str, tuple[int, int]] = {}  # file path -> (first cluster, cluster count)

    def _read(self, offset: int, length: int) -> bytes:
        self._device.seek(offset)
        return self._device.read(length)

    def _write(self, offset: int, data: bytes) -> None:
        self._device.seek(offset)
        self._device.write(data)

    def _cluster_offset(self, cluster: int) -> int:
        return self._heap_offset + (cluster - 2) * self._cluster_size

    def _fat_next(self, cluster: int) -> int:
        return struct.unpack("<I", self._read(self._fat_offset + 4 * cluster, 4))[0]

    def _chain(self, cluster: int) -> list[int]:
        chain = [cluster]
        while (following := self._fat_next(chain[-1])) < 0xFFFFFFF7:
            chain.append(following)
        return chain

    def _chain_length(self, cluster: int) -> int:
        return len(self._chain(cluster)) * self._cluster_size

    def _folder_clusters(self, folder: str) -> list[int]:
        first, length, contiguous = self._folders[folder]
        count = length // self._cluster_size
        return list(range(first, first + count)) if contiguous else self._chain(first)

    def _read_folder(self, folder: str) -> bytes:
        return b"".join(self._read(self._cluster_offset(c), self._cluster_size) for c in self._folder_clusters(folder))

    def _folder_byte_offset(self, folder: str, position: int) -> int:
        clusters = self._folder_clusters(folder)
        return self._cluster_offset(clusters[position // self._cluster_size]) + position % self._cluster_size

    def _allocate(self, count: int) -> int:
        run = 0
        for cluster_index in range(self._search_from, self._cluster_count):
            if self._bitmap[cluster_index // 8] >> (cluster_index % 8) & 1:
                run = 0
                continue
            run += 1
            if run == count:
                first = cluster_index - count + 1
                for index in range(first, first + count):
                    self._bitmap[index // 8] |= 1 << (index % 8)
                self._search_from = first + count
                return first + 2
        raise DiskBuildError(f"exFAT volume too small for {count} more clusters")

    def _free(self, first: int, count: int) -> None:
        for index in range(first - 2, first - 2 + count):
            self._bitmap[index // 8] &= ~(1 << (index % 8)) & 0xFF

    def _name_hash(self, name: str) -> int:
        value = 0
        for unit in struct.unpack(f"<{len(name.encode('utf-16-le')) // 2}H", name.encode("utf-16-le")):
            unit = self._upcase.get(unit, unit)
            for byte in (unit & 0xFF, unit >> 8):
                value = (((value << 15) | (value >> 1)) & 0xFFFF) + byte & 0xFFFF
        return value

    def _entry_set(self, name: str, attributes: int, first: int, length: int, flags: int) -> bytes:
        units = len(name.encode("utf-16-le")) // 2
        if units > 255:
            raise ValueError(f"exFAT names hold at most 255 characters: {name}")
        name_entries = -(-units // 15)
        stamp = _dos_timestamp(datetime.now(timezone.utc))
        utc = 0x80  # offset valid, and zero: the timestamps are UTC
        primary = struct.pack("<BBHH2xIIIBBBBB7x", _EXFAT_FILE, 1 + name_entries, 0, attributes,
                              stamp, stamp, stamp, 0, 0, utc, utc, utc)
        stream = struct.pack("<BBxBH2xQ4xIQ", _EXFAT_STREAM, flags, units, self._name_hash(name), length, first, length)
        encoded = name.encode("utf-16-le")
        names = b"".join(
            (bytes([_EXFAT_NAME, 0]) + encoded[30 * k: 30 * (k + 1)]).ljust(32, b"\0") for k in range(name_entries)
        )
        entries = bytearray(primary + stream + names)
        checksum = 0
        for position, byte in enumerate(entries):
            if position in (2, 3):
                continue
            checksum = (((checksum << 15) | (checksum >> 1)) & 0xFFFF) + byte & 0xFFFF
        struct.pack_into("<H", entries, 2, checksum)
        return bytes(entries)

    def _insert(self, folder: str, entries: bytes) -> int:
        content = self._read_folder(folder)
        needed = len(entries) // 32
        run = 0
        for slot in range(0, len(content), 32):
            kind = content[slot]
            if kind == 0x00 or kind & 0x80 == 0:  # end of folder, or a deleted entry
                run += 1
                if run == needed:
                    position = slot - 32 * (needed - 1)
                    for k in range(needed):
                        self._write(self._folder_byte_offset(folder, position + 32 * k), entries[32 * k: 32 * (k + 1)])
                    return position
            else:
                run = 0
        raise DiskBuildError(f"exFAT folder /{folder} is full (a bug: folders are sized before writing)")

    def populate(self, files: list[PlantedFile]) -> None:
        children: dict[str, set[str]] = {}
        for file in files:
            parts = file.path.split("/")
            for depth in range(len(parts)):
                children.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
        needed = {folder: sum(32 * (2 + -(-len(name.encode("utf-16-le")) // 30)) for name in names)
                  for folder, names in children.items()}
        self._grow_root(needed.get("", 0))
        for folder in sorted(children):  # parents sort before their children
            if folder:
                self._make_folder(folder, needed[folder])
        for file in files:
            self._write_file(file.path, file.data)
        for file in files:
            if file.deleted:
                self._delete(file.path)
        self._write(self._bitmap_offset, bytes(self._bitmap))

    def _grow_root(self, more: int) -> None:
        content = self._read_folder("")
        used = next((slot for slot in range(0, len(content), 32) if content[slot] == 0x00), len(content))
        chain = self._chain(self._folders[""][0])
        while used + more > len(chain) * self._cluster_size:
            cluster = self._allocate(1)
            self._write(self._cluster_offset(cluster), bytes(self._cluster_size))
            self._write(self._fat_offset + 4 * chain[-1], struct.pack("<I", cluster))
            self._write(self._fat_offset + 4 * cluster, struct.pack("<I", 0xFFFFFFFF))
            chain.append(cluster)

    def _make_folder(self, folder: str, size: int) -> None:
        parent, _, name = folder.rpartition("/")
        count = max(1, -(-size // self._cluster_size))
        first = self._allocate(count)
        self._write(self._cluster_offset(first), bytes(count * self._cluster_size))
        length = count * self._cluster_size
        self._insert(parent, self._entry_set(name, _ATTR_DIRECTORY, first, length, 0x03))
        self._folders[folder] = (first, length, True)

    def _write_file(self, path: str, data: bytes) -> None:
        folder, _, name = path.rpartition("/")
        count = -(-len(data) // self._cluster_size)
        first = self._allocate(count) if count else 0
        if count:
            self._write(self._cluster_offset(first), data.ljust(count * self._cluster_size, b"\0"))
        # Flags: AllocationPossible, and NoFatChain for a non-empty contiguous run.
        position = self._insert(folder, self._entry_set(name, _ATTR_ARCHIVE, first, len(data), 0x03 if count else 0x01))
        self._entries[path] = (folder, position)
        self._runs[path] = (first, count)

    def _delete(self, path: str) -> None:
        """Clear the in-use bit of every entry in the set and free the clusters, as Windows does."""
        folder, position = self._entries[path]
        head = self._folder_byte_offset(folder, position)
        secondary = self._read(head + 1, 1)[0]
        for k in range(secondary + 1):
            offset = self._folder_byte_offset(folder, position + 32 * k)
            self._write(offset, bytes([self._read(offset, 1)[0] & 0x7F]))
        first, count = self._runs[path]
        if count:
            self._free(first, count)


def _expand_upcase(table: bytes) -> dict[int, int]:
    """The exFAT up-case table, expanded from its compressed form (0xFFFF, n = n identity entries)."""
    units = struct.unpack(f"<{len(table) // 2}H", table[: len(table) // 2 * 2])
    mapping: dict[int, int] = {}
    character, index = 0, 0
    while index < len(units):
        if units[index] == 0xFFFF and index + 1 < len(units):
            character += units[index + 1]
            index += 2
            continue
        if units[index] != character:
            mapping[character] = units[index]
        character += 1
        index += 1
    return mapping


def _dos_timestamp(moment: datetime) -> int:
    return ((moment.year - 1980) << 25 | moment.month << 21 | moment.day << 16
            | moment.hour << 11 | moment.minute << 5 | moment.second // 2)


# --- acquisitions ----------------------------------------------------------------------


def to_e01(
    raw: Path,
    target_stem: Path,
    segment_size_mib: int | None = None,
    *,
    case_number: str = "FL-TEST-0001",
    evidence_number: str = "EV-001",
    examiner: str = "Test Examiner",
    description: str = "fieldlab generated test disk",
    notes: str = "generated content only",
    compression: str = "none",
) -> list[Path]:
    """Acquire ``raw`` into EnCase 6 segments ``<target_stem>.E01, .E02 ...`` with ewfacquire, as an examiner would.

    The case metadata, MD5 and SHA-1 are stored in the image.  A small
    ``segment_size_mib`` (ewfacquire's minimum is 1) forces several segments, so readers are
    tested on split E01 sets.  Compression is off by default because generated disks are
    mostly zeros and would otherwise fit in one segment; pass "deflate:fast" or
    "deflate:best" (ewfacquire -c) for compressed chunks.
    """
    raw, target_stem = Path(raw), Path(target_stem)
    existing = sorted(target_stem.parent.glob(target_stem.name + ".[Ee]??"))
    if existing:
        raise FileExistsError(f"E01 segments already exist: {existing[0]}; pick another target")
    target_stem.parent.mkdir(parents=True, exist_ok=True)
    args = ["ewfacquire", "-u", "-q", "-t", str(target_stem), "-f", "encase6", "-m", "fixed", "-M", "physical",
            "-C", case_number, "-E", evidence_number, "-e", examiner, "-D", description, "-N", notes,
            "-d", "sha1", "-c", compression]
    if segment_size_mib is not None:
        args += ["-S", str(segment_size_mib * MIB)]
    _run([*args, str(raw)])
    segments = sorted(target_stem.parent.glob(target_stem.name + ".E??"))
    if not segments:
        raise DiskBuildError(f"ewfacquire reported success but wrote no {target_stem}.E01")
    return segments


def to_split_raw(raw: Path, target_stem: Path, segment_size_mib: int, style: str = "numeric") -> list[Path]:
    """Cut ``raw`` into ``<stem>.001, .002 ...`` ("numeric") or ``<stem>.aa, .ab ...`` ("alpha"), as dd/split/FTK do."""
    if style not in ("numeric", "alpha"):
        raise ValueError(f"style must be 'numeric' or 'alpha', not {style!r}")
    if segment_size_mib < 1:
        raise ValueError("segment_size_mib must be at least 1")
    raw, target_stem = Path(raw), Path(target_stem)
    target_stem.parent.mkdir(parents=True, exist_ok=True)
    segments: list[Path] = []
    with open(raw, "rb") as source:
        while block := source.read(segment_size_mib * MIB):
            number = len(segments)
            if style == "numeric":
                suffix = f"{number + 1:03d}"
            else:
                if number >= 26 * 26:
                    raise ValueError("more than 676 segments: pick a bigger segment size")
                suffix = chr(97 + number // 26) + chr(97 + number % 26)
            segment = target_stem.parent / f"{target_stem.name}.{suffix}"
            segment.write_bytes(block)
            segments.append(segment)
    return segments


# --- standard disks for scan tests -------------------------------------------------------

_SID = "S-1-5-21-3623811015-3361044348-30300820-1001"


def standard_mbr_ntfs_disk(tmp: Path) -> BuiltDisk:
    """An MBR disk with one NTFS partition laid out like a Windows user's drive.

    Eight files (pictures where users keep them and where they hide them, a misnamed
    JPEG, a tiny file resident in its MFT record), two of them deleted, plus one picture
    hidden in an alternate data stream of an innocent text file.
    """
    files = [
        PlantedFile("Users/alex/Pictures/Holiday 2021/IMG_2041.jpg", _jpeg(101)),
        PlantedFile("Users/alex/Pictures/Holiday 2021/IMG_2042.jpg", _jpeg(102), deleted=True),
        PlantedFile("Users/alex/Downloads/image (3).png", _png(103)),
        PlantedFile("Users/alex/Downloads/setup_log_7731.dat", _jpeg(104)),  # the extension lies
        PlantedFile("Users/alex/AppData/Local/Temp/~DF3A91", _jpeg(105)),
        PlantedFile("Users/alex/Documents/notes.txt", b"shopping: milk, bread\r\n"),  # resident in the MFT
        PlantedFile("Users/alex/Documents/report.docx", random_bytes(106, 48_000), deleted=True),
        PlantedFile(f"$Recycle.Bin/{_SID}/$R8QZ1T4.jpg", _jpeg(107)),
        PlantedFile("Users/Public/readme.txt", _jpeg(108), stream="thumb.jpg"),
    ]
    return build_disk(Path(tmp) / "standard-mbr-ntfs.raw", "mbr", [("ntfs", 8, files)])


def standard_gpt_fat_ext_disk(tmp: Path) -> BuiltDisk:
    """A GPT disk with a FAT32 partition (a camera card's layout) and an ext4 one (a Linux home).

    Each holds pictures, other files and deleted files; on FAT one deleted name fits 8.3
    (TSK lists it with '_' for its first letter) and one has a long name (kept whole).
    """
    fat = [
        PlantedFile("DCIM/100CANON/IMG_0001.JPG", _jpeg(201)),
        PlantedFile("DCIM/100CANON/IMG_0002.JPG", _jpeg(202), deleted=True),
        PlantedFile("Pictures/Family Holiday 2019.jpg", _jpeg(203)),
        PlantedFile("Pictures/old scan.png", _png(204), deleted=True),
        PlantedFile("notes.txt", random_bytes(205, 3_000)),
    ]
    ext = [
        PlantedFile("home/alex/Pictures/cat.jpg", _jpeg(301)),
        PlantedFile("home/alex/.cache/thumbnails/normal/0a1b2c3d.png", _png(302)),
        PlantedFile("home/alex/Downloads/archive.bin", random_bytes(303, 100_000)),
        PlantedFile("home/alex/Downloads/party.jpg", _jpeg(304), deleted=True),
        PlantedFile("tmp/x.jpg", _jpeg(305), deleted=True),
    ]
    return build_disk(Path(tmp) / "standard-gpt-fat-ext.raw", "gpt", [("fat32", 33, fat), ("ext4", 8, ext)])
