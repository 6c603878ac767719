"""VirtualBox disk images (.vdi) read as the disk they hold: no libyal library reads them, so this small reader does.

A VDI starts with a text line ("<<< Oracle VM VirtualBox Disk Image >>>", or another maker's), then at 0x40 the
signature 0xBEDA107F and a version 1.1 header: image type (dynamic, fixed, undo, differencing), where the block map
and the data area start, the disk's size, its block size (1 MiB as VirtualBox and qemu write it) and the number of
blocks, and the image's identifiers.  The block map gives each block of the disk, in disk order, one little-endian
uint32: the block's place in the data area (blocks are stored in the order they were first written), or
0xFFFFFFFF (never written) or 0xFFFFFFFE (discarded), both reading as zeros.  A fixed image is the same with every
block stored in order.

Every figure is the suspect's: the header must be whole and of version 1.1, blocks a power of two of sane size,
the blocks must cover the disk size exactly (to within one block), and the block map must lie inside the file and
below ``MAX_MAP_BYTES``; otherwise opening fails with the reason.  A stored block lying (partly) past the file's
end (a truncated copy, or a forged index) reads as zeros where the file ends, and two blocks of the disk sharing
one stored block (a forged map) are read as the map says: both are problems of the container, named when it opens,
as a truncated E01 segment is.  The file is opened read-only.

A differencing (snapshot) VDI names its parent by identifier only (no file name): the chain is opened by
``evidence/differencing.py`` as VHD/VMDK chains are, the parent being the file beside the child or given with
``--parent`` that carries that identifier.  In a differencing image a never-written block reads through to the
parent and a discarded one as zeros; without its parent such a read fails, which is the truth.
"""

from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from fieldlab.errors import EvidenceError
from fieldlab.problems import Problem, ProblemKind

SIGNATURE = 0xBEDA107F
VERSION_1_1 = 0x00010001
HEADER_BYTES = 0x200  # read at once: the 0x40-byte text, signature and version, a version 1.1 header and padding
_HEADER_SIZES = (0x180, 0x190)  # the header's own count: qemu's, and VirtualBox's with its LCHS geometry
MAX_MAP_BYTES = 256 << 20  # 64M blocks: a 64 TiB disk in 1 MiB blocks
MIN_BLOCK, MAX_BLOCK = 4096, 256 << 20
NOT_STORED = 0xFFFFFFFE  # this and above: not in this file: discarded (zeros) or never written (below: the parent's)
NEVER_WRITTEN = 0xFFFFFFFF
_TYPES = {1: "dynamic", 2: "fixed", 3: "undo", 4: "differencing"}
_LAYOUT = "<IIIII256xIIIIIIIQIIII16s16s16s16s"  # from the signature at 0x40


class VdiError(EvidenceError, OSError):
    """The file carries the VDI signature but cannot be read as a VDI; the message says why.  An OSError too, as the
    libyal readers' errors are: the container and chain code catches those."""


@dataclass(frozen=True)
class VdiHeader:
    image_type: str
    map_offset: int
    data_offset: int
    disk_size: int
    block_size: int
    blocks: int
    identifier: uuid.UUID
    parent_identifier: uuid.UUID | None  # None unless differencing


def is_vdi(path: str | Path) -> bool:
    """Whether the file carries the VDI signature and version 1.1 (the text line before them varies by maker, so it
    is not checked)."""
    with open(path, "rb") as f:
        return _signed(f.read(0x48))


def _signed(head: bytes) -> bool:
    return len(head) >= 0x48 and struct.unpack_from("<II", head, 0x40) == (SIGNATURE, VERSION_1_1)


def parse_header(head: bytes, file_size: int) -> VdiHeader:
    """The header of a file of ``file_size`` bytes whose first ``HEADER_BYTES`` are ``head``, checked."""
    if len(head) < HEADER_BYTES or not _signed(head):
        raise VdiError(f"its header is cut short ({len(head):,} of {HEADER_BYTES:,} bytes)")
    (_, _, header_size, image_type, _, map_offset, data_offset, _, _, _, sector_size, _, disk_size, block_size,
     block_extra, blocks, _, created, _, parent, _) = struct.unpack_from(_LAYOUT, head, 0x40)
    if not _HEADER_SIZES[0] <= header_size <= _HEADER_SIZES[1]:
        raise VdiError(f"its header says it is {header_size:,} bytes")
    if image_type not in _TYPES:
        raise VdiError(f"image type {image_type} is none VirtualBox writes (1 dynamic, 2 fixed, 3 undo, 4 differencing)")
    if sector_size not in (512, 4096) or not MIN_BLOCK <= block_size <= MAX_BLOCK or block_size & (block_size - 1):
        raise VdiError(f"sectors of {sector_size:,} bytes, blocks of {block_size:,}")
    if block_extra:
        raise VdiError(f"{block_extra:,} bytes of extra data a block, which VirtualBox never writes")
    if not (blocks - 1) * block_size < disk_size <= blocks * block_size:
        raise VdiError(f"a disk of {disk_size:,} bytes in {blocks:,} blocks of {block_size:,}")
    if 4 * blocks > MAX_MAP_BYTES or map_offset < 0x48 + header_size or map_offset + 4 * blocks > file_size:
        raise VdiError(f"its block map ({4 * blocks:,} bytes at {map_offset:,}) does not lie inside the file "
                       f"({file_size:,} bytes) or is too large")
    if data_offset < map_offset + 4 * blocks:
        raise VdiError(f"its data area (at {data_offset:,}) overlaps its block map")
    return VdiHeader(_TYPES[image_type], map_offset, data_offset, disk_size, block_size, blocks,
                     uuid.UUID(bytes_le=created), uuid.UUID(bytes_le=parent) if image_type == 4 else None)


class VdiReader:
    """Positional reads of a VDI's disk, block by block through its map (the ``read_buffer_at_offset`` of a libyal
    handle, for ``MediaReader``)."""

    def __init__(self, path: str | Path) -> None:
        self._fd: int | None = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._file_size = os.fstat(self._fd).st_size
            self.header = parse_header(os.pread(self._fd, HEADER_BYTES, 0), self._file_size)
        except BaseException:
            self.close()
            raise
        self._parent: VdiReader | None = None

    # The block map (up to MAX_MAP_BYTES) and its checks only once something reads through them: a parent is searched
    # by identifier among every VDI of its folder, and each candidate is opened for its header alone.
    @cached_property
    def map(self) -> np.ndarray:
        if self._fd is None:
            raise ValueError("read from a closed VDI")
        return read_map(self._fd, self.header)

    @cached_property
    def problems(self) -> tuple[Problem, ...]:
        return map_problems(self.map, self.header, self._file_size)

    def get_media_size(self) -> int:
        return self.header.disk_size

    def set_parent(self, parent: VdiReader) -> None:
        self._parent = parent

    def read_buffer_at_offset(self, size: int, offset: int) -> bytes:
        if self._fd is None:
            raise ValueError("read from a closed VDI")
        block_size, end = self.header.block_size, min(offset + size, self.header.disk_size)
        parts = []
        while offset < end:
            block, within = divmod(offset, block_size)
            length = min(block_size - within, end - offset)
            index = int(self.map[block])
            if index == NEVER_WRITTEN and self.header.parent_identifier is not None:
                data = self._parent_read(length, offset)
            elif index >= NOT_STORED:
                data = b""
            else:
                data = os.pread(self._fd, length, self.header.data_offset + index * block_size + within)
            parts.append(data + bytes(length - len(data)))  # past the file's end: zeros, named when it opened
            offset += length
        return b"".join(parts)

    def _parent_read(self, size: int, offset: int) -> bytes:
        if self._parent is None:
            raise VdiError(f"this block lies in the parent VDI {self.header.parent_identifier}, which is missing")
        return self._parent.read_buffer_at_offset(size, offset)  # a parent smaller than its child: zeros after it

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_map(fd: int, header: VdiHeader) -> np.ndarray:
    data = os.pread(fd, 4 * header.blocks, header.map_offset)
    if len(data) != 4 * header.blocks:
        raise VdiError(f"its block map cannot be read whole ({len(data):,} of {4 * header.blocks:,} bytes)")
    return np.frombuffer(data, dtype="<u4")


def stored_blocks(block_map: np.ndarray, header: VdiHeader, file_size: int) -> np.ndarray:
    """Per block of the disk, whether its bytes lie whole in the file."""
    whole = (file_size - header.data_offset) // header.block_size
    return (block_map < NOT_STORED) & (block_map < max(whole, 0))


def map_problems(block_map: np.ndarray, header: VdiHeader, file_size: int) -> tuple[Problem, ...]:
    """What is wrong with a map that still reads: blocks past the file's end, blocks sharing one stored block."""
    problems = []
    written = block_map[block_map < NOT_STORED]
    past = int(len(written) - np.count_nonzero(stored_blocks(block_map, header, file_size)))
    if past:
        problems.append(Problem(ProblemKind.TRUNCATED, (
            f"{past:,} blocks of its disk ({header.block_size:,} bytes each) lie past the end of the file "
            f"({file_size:,} bytes): read as zeros where the file ends")))
    shared = shared_blocks(block_map)
    if shared:
        problems.append(Problem(ProblemKind.DAMAGED, (
            f"its block map gives {shared:,} blocks of the disk a stored block another block already has: "
            "read as the map says")))
    return tuple(problems)


def shared_blocks(block_map: np.ndarray) -> int:
    """Blocks of the disk given a stored block another one already has: a map VirtualBox never writes."""
    written = block_map[block_map < NOT_STORED]
    return len(written) - len(np.unique(written))
