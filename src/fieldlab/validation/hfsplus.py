"""HFS+ volumes written from Apple's Technical Note TN1150 ("HFS Plus Volume Format"), for the validation corpus.

No tool on this platform makes HFS+ (Debian 13 has no ``hfsprogs``/``mkfs.hfsplus``), so the corpus writes the few
structures a volume needs itself: the volume header (at 1 KiB, and its copy 1 KiB before the end), the allocation
bitmap, an empty extents-overflow B-tree, and the catalog B-tree with a folder or file record and a thread record
for every folder and file, in key order (parent CNID, then the name compared case-insensitively, as HFS+ does).
Each file's data fork is one contiguous extent.  A deleted file is what macOS leaves: no catalog record, its blocks
free in the bitmap, its content still in them, so only carving finds it.  Names must be ASCII here: HFS+ stores
Unicode decomposed and compares it through Apple's case-folding table, which ASCII needs only ``lower()`` of.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

BLOCK = 4096
CATALOG_NODE = 8192
EXTENTS_NODE = 4096
HFS_EPOCH = 2_082_844_800  # seconds from 1904-01-01 (HFS+ dates) to 1970-01-01
_ROOT_PARENT, _ROOT = 1, 2
_FIRST_USER_CNID = 16
_LEAF, _INDEX, _HEADER = -1, 0, 1
_FOLDER, _FILE, _FOLDER_THREAD, _FILE_THREAD = 1, 2, 3, 4
_THREAD_EXISTS = 0x0002
_UNMOUNTED_CLEANLY = 1 << 8
_BIG_KEYS, _VARIABLE_INDEX_KEYS = 2, 4
_MAX_CATALOG_KEY = 516


@dataclass(frozen=True)
class HfsFile:
    path: str  # '/'-separated, no leading slash, ASCII
    data: bytes
    deleted: bool = False


@dataclass(frozen=True)
class _Record:
    parent: int
    name: str
    body: bytes

    @property
    def order(self) -> tuple[int, str]:
        return self.parent, self.name.lower()

    @property
    def key(self) -> bytes:
        encoded = self.name.encode("utf-16-be")
        return struct.pack(">HIH", 6 + len(encoded), self.parent, len(self.name)) + encoded


def write_hfsplus(image: Path, files: Sequence[HfsFile], identity: bytes, mtime: int,
                  label: str = "Macintosh HD") -> None:
    """Write an HFS+ volume over the whole of ``image`` (its size set already) holding ``files``."""
    size = image.stat().st_size
    total_blocks = size // BLOCK
    when = mtime + HFS_EPOCH
    for file in files:
        if not file.path.isascii() or ":" in file.path:
            raise ValueError(f"HFS+ names here must be ASCII without ':': {file.path!r}")

    folders: dict[str, tuple[int, int]] = {"": (_ROOT, _ROOT_PARENT)}  # path -> (cnid, parent's cnid)
    children: dict[int, int] = {_ROOT: 0}
    placed: list[tuple[HfsFile, int, int]] = []  # (file, cnid, parent's cnid)
    next_cnid = _FIRST_USER_CNID
    for file in (f for f in files if not f.deleted):
        parent = _ROOT
        for folder in reversed(PurePosixPath(file.path).parents[:-1]):
            key = folder.as_posix()
            if key not in folders:
                folders[key], children[next_cnid] = (next_cnid, parent), 0
                children[parent] += 1
                next_cnid += 1
            parent = folders[key][0]
        placed.append((file, next_cnid, parent))
        children[parent] += 1
        next_cnid += 1

    allocation_blocks = -(-(-(-total_blocks // 8)) // BLOCK)
    cursor = 1 + allocation_blocks + 1  # block 0 holds the volume header; the extents B-tree takes one block
    records: list[_Record] = []
    for path, (cnid, parent) in folders.items():
        name = label if cnid == _ROOT else PurePosixPath(path).name
        records.append(_Record(parent, name, _folder_record(cnid, children[cnid], when)))
        records.append(_Record(cnid, "", struct.pack(">hhI", _FOLDER_THREAD, 0, parent) + _unistr(name)))
    # the catalog's size depends on the file records, whose extents depend on where the catalog ends: a file
    # record's size does not depend on its extent, so the catalog is sized with placeholder extents first
    provisional = records + [r for f, cnid, parent in placed for r in _file_records(f, cnid, parent, 0, when)]
    catalog = _catalog_nodes(sorted(provisional, key=lambda r: r.order))
    catalog_start = cursor
    catalog_blocks = len(catalog) * CATALOG_NODE // BLOCK
    cursor += catalog_blocks
    used = [(0, 1), (1, allocation_blocks), (1 + allocation_blocks, 1), (catalog_start, catalog_blocks)]
    data_at: list[tuple[int, bytes]] = []
    for file, cnid, parent in placed:
        blocks = -(-len(file.data) // BLOCK)
        records += _file_records(file, cnid, parent, cursor if blocks else 0, when)
        used.append((cursor, blocks))
        data_at.append((cursor, file.data))
        cursor += blocks
    for file in (f for f in files if f.deleted):
        data_at.append((cursor, file.data))  # free blocks that still hold the content
        cursor += -(-len(file.data) // BLOCK)
    used.append((total_blocks - 1, 1))  # the alternate volume header's block
    if cursor >= total_blocks - 1:
        raise ValueError(f"{len(files)} files do not fit an HFS+ volume of {size} bytes")
    final = _catalog_nodes(sorted(records, key=lambda r: r.order))
    if len(final) != len(catalog):
        raise AssertionError("the catalog changed size once its extents were filled in")
    catalog = final

    bitmap = bytearray(allocation_blocks * BLOCK)
    for start, count in used:
        for block in range(start, start + count):
            bitmap[block // 8] |= 0x80 >> (block % 8)
    free = total_blocks - sum(count for _, count in used)
    header = _volume_header(
        when=when, files=len(placed), folders=len(folders) - 1, total_blocks=total_blocks, free_blocks=free,
        next_allocation=cursor, next_cnid=next_cnid, volume_id=hashlib.sha256(identity + b"hfs+").digest()[:8],
        allocation=(allocation_blocks * BLOCK, 1, allocation_blocks),
        extents=(EXTENTS_NODE, 1 + allocation_blocks, 1),
        catalog=(len(catalog) * CATALOG_NODE, catalog_start, catalog_blocks))
    with open(image, "r+b") as volume:
        for offset, data in ((1024, header), (size - 1024, header), (BLOCK, bytes(bitmap)),
                             ((1 + allocation_blocks) * BLOCK, _empty_btree(EXTENTS_NODE, 10, _BIG_KEYS)),
                             (catalog_start * BLOCK, b"".join(catalog)), *((b * BLOCK, d) for b, d in data_at)):
            volume.seek(offset)
            volume.write(data)


def _unistr(name: str) -> bytes:
    encoded = name.encode("utf-16-be")
    return struct.pack(">H", len(encoded) // 2) + encoded


def _bsd(mode: int) -> bytes:
    return struct.pack(">IIBBHI", 501, 20, 0, 0, mode, 1)


def _folder_record(cnid: int, valence: int, when: int) -> bytes:
    return (struct.pack(">hHII5I", _FOLDER, 0, valence, cnid, when, when, when, when, 0) + _bsd(0o040755)
            + bytes(32) + struct.pack(">II", 0, 0))


def _fork(length: int, start: int) -> bytes:
    blocks = -(-length // BLOCK)
    return struct.pack(">QII", length, 0, blocks) + struct.pack(">II", start, blocks) + bytes(56)


def _file_records(file: HfsFile, cnid: int, parent: int, start: int, when: int) -> list[_Record]:
    name = PurePosixPath(file.path).name
    body = (struct.pack(">hHII5I", _FILE, _THREAD_EXISTS, 0, cnid, when, when, when, when, 0) + _bsd(0o100644)
            + bytes(32) + struct.pack(">II", 0, 0) + _fork(len(file.data), start) + _fork(0, 0))
    return [_Record(parent, name, body),
            _Record(cnid, "", struct.pack(">hhI", _FILE_THREAD, 0, parent) + _unistr(name))]


def _node(kind: int, height: int, entries: list[bytes], size: int, forward: int = 0, backward: int = 0) -> bytes:
    """A B-tree node: descriptor, records, and the offsets of each record and of the free space at the end."""
    node = bytearray(size)
    struct.pack_into(">IIbBHH", node, 0, forward, backward, kind, height, len(entries), 0)
    offset = 14
    for index, entry in enumerate(entries):
        node[offset: offset + len(entry)] = entry
        struct.pack_into(">H", node, size - 2 * (index + 1), offset)
        offset += len(entry)
    struct.pack_into(">H", node, size - 2 * (len(entries) + 1), offset)
    return bytes(node)


def _pack(records: list[_Record], size: int) -> list[list[bytes]]:
    """Records in order, as many a node as fit (14-byte descriptor, 2 bytes of offset each, 2 for free space)."""
    nodes: list[list[bytes]] = [[]]
    room = size - 14 - 2
    for record in records:
        entry = record.key + record.body
        if len(entry) + 2 > room and nodes[-1]:
            nodes.append([])
            room = size - 14 - 2
        nodes[-1].append(entry)
        room -= len(entry) + 2
    return nodes


def _catalog_nodes(records: list[_Record]) -> list[bytes]:
    """Node 0 the header, then the leaves linked left to right, then each index level up to the root."""
    levels: list[list[tuple[list[bytes], _Record]]] = []
    leaf_entries = _pack(records, CATALOG_NODE)
    firsts, at = [], 0
    for entries in leaf_entries:
        firsts.append(records[at])
        at += len(entries)
    levels.append(list(zip(leaf_entries, firsts)))
    numbers = [list(range(1, 1 + len(leaf_entries)))]
    next_number = 1 + len(leaf_entries)
    while len(levels[-1]) > 1:
        pointers = [_Record(first.parent, first.name, struct.pack(">I", number))
                    for (_, first), number in zip(levels[-1], numbers[-1])]
        grouped = _pack(pointers, CATALOG_NODE)
        level, at = [], 0
        for entries in grouped:
            level.append((entries, pointers[at]))
            at += len(entries)
        levels.append(level)
        numbers.append(list(range(next_number, next_number + len(level))))
        next_number += len(level)
    nodes = [b""] * next_number
    for height, (level, level_numbers) in enumerate(zip(levels, numbers), start=1):
        for index, ((entries, _), number) in enumerate(zip(level, level_numbers)):
            forward = level_numbers[index + 1] if index + 1 < len(level_numbers) else 0
            backward = level_numbers[index - 1] if index else 0
            nodes[number] = _node(_LEAF if height == 1 else _INDEX, height, entries, CATALOG_NODE, forward, backward)
    header = struct.pack(">HIIIIHHIIHIBBI64x", len(levels), numbers[-1][0], len(records), numbers[0][0],
                         numbers[0][-1], CATALOG_NODE, _MAX_CATALOG_KEY, next_number, 0, 0, CATALOG_NODE, 0, 0,
                         _BIG_KEYS | _VARIABLE_INDEX_KEYS)
    nodes[0] = _header_node(header, CATALOG_NODE, next_number)
    return nodes


def _header_node(header: bytes, size: int, used_nodes: int) -> bytes:
    node_map = bytearray(size - 256)  # what is left of the node after descriptor, header, user data and offsets
    for number in range(used_nodes):
        node_map[number // 8] |= 0x80 >> (number % 8)
    return _node(_HEADER, 0, [header, bytes(128), bytes(node_map)], size)


def _empty_btree(size: int, max_key: int, attributes: int) -> bytes:
    header = struct.pack(">HIIIIHHIIHIBBI64x", 0, 0, 0, 0, 0, size, max_key, 1, 0, 0, size, 0, 0, attributes)
    return _header_node(header, size, 1)


def _volume_header(*, when: int, files: int, folders: int, total_blocks: int, free_blocks: int,
                   next_allocation: int, next_cnid: int, volume_id: bytes, allocation: tuple[int, int, int],
                   extents: tuple[int, int, int], catalog: tuple[int, int, int]) -> bytes:
    def fork(length: int, start: int, blocks: int) -> bytes:
        return struct.pack(">QII", length, 0, blocks) + struct.pack(">II", start, blocks) + bytes(56)

    finder_info = bytes(24) + volume_id
    head = struct.pack(">2sHI4sI4I", b"H+", 4, _UNMOUNTED_CLEANLY, b"10.0", 0, when, when, 0, when)
    head += struct.pack(">IIIIIIIIII", files, folders, BLOCK, total_blocks, free_blocks, next_allocation,
                        BLOCK, BLOCK, next_cnid, 1)
    head += struct.pack(">Q", 1) + finder_info
    head += fork(*allocation) + fork(*extents) + fork(*catalog) + bytes(80) + bytes(80)
    assert len(head) == 512
    return head
