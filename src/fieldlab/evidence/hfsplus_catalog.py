"""A folder's children read straight from the HFS+ catalog B-tree (Apple TN1150), for folders TSK refuses.

The Sleuth Kit 4.15 (in pytsk3) refuses to list an HFS+ folder whose thread record starts within 528 bytes of
its catalog node's end: it measures the room left against the largest thread record there could be, not the
record's own length.  Any folder on a real Mac disk can land there, and every file in it would go unlisted and
unhashed.  TSK still opens each file by its catalog node ID (CNID), so only the *listing* is done here: the
children's names and CNIDs, which the walk then opens through TSK like any other entry.

The catalog file is read through TSK (CNID 4), so its extents, overflow records included, are TSK's to follow;
every node, record and key offset read here is checked against the node, and every walk through the tree is
bounded by its depth limit and a set of nodes already seen, so a hostile catalog (a node pointing at itself, a
record running past its node) ends with a recorded problem, never a loop or a crash.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytsk3

from fieldlab.problems import Problem, ProblemKind

CATALOG_CNID = 4  # the catalog file's own CNID, which TSK opens it by
MAX_TREE_DEPTH = 16  # Apple's kMaxTreeDepth: no valid catalog is deeper
_DESCRIPTOR = 14  # fLink, bLink, kind, height, numRecords, reserved
_LEAF, _INDEX, _HEADER = -1, 0, 1
_FOLDER, _FILE = 1, 2  # record types; 3 and 4, the threads, name no entry
_VARIABLE_INDEX_KEYS = 4

ReadAt = Callable[[int, int], bytes]


@dataclass(frozen=True)
class CatalogChild:
    """One entry of a folder as the catalog lists it, named the way TSK names HFS+ entries."""

    name: bytes  # UTF-8 of the stored (decomposed) UTF-16, NUL as '^' and '/' as ':' like TSK 4.15, not normalised
    cnid: int  # the address TSK opens it by (a hard link's own: its target is walked in the private folder)
    folder: bool


@dataclass(frozen=True)
class CatalogListing:
    children: tuple[CatalogChild, ...]
    problems: tuple[Problem, ...]  # what could not be read: the children found before it are kept


@dataclass(frozen=True)
class _Tree:
    node_size: int
    nodes: int
    root: int
    variable_index_keys: bool
    max_key_length: int


@dataclass(frozen=True)
class _Record:
    parent: int
    name: bytes  # the key's UTF-16BE name, as stored
    data: bytes  # what follows the key


class _BadNode(Exception):
    """A node or record that breaks the B-tree's rules; never leaves this module (it becomes a Problem)."""


class HfsCatalog:
    """The catalog B-tree of one HFS+ volume, read node by node through ``read_at`` (offsets in the catalog)."""

    def __init__(self, read_at: ReadAt, size: int) -> None:
        self._read_at = read_at
        self._size = size

    @classmethod
    def of(cls, fs: pytsk3.FS_Info) -> HfsCatalog:
        """The catalog file of ``fs`` through TSK; an unreadable one reads as empty, which each listing reports."""
        try:
            catalog = fs.open_meta(inode=CATALOG_CNID)
            size = int(catalog.info.meta.size)
        except (OSError, RuntimeError, AttributeError):
            return cls(lambda offset, length: b"", 0)
        return cls(catalog.read_random, size)

    def children(self, parent: int, *, limit: int) -> CatalogListing:
        """The folder and file records whose key's parent is ``parent``, in catalog order, at most ``limit``."""
        children: list[CatalogChild] = []
        problems: list[Problem] = []
        found = False  # any record of the folder, its thread included: none means the catalog does not know it
        try:
            tree = self._tree()
            for record in self._records_from(tree, parent):
                if record.parent < parent:
                    continue
                if record.parent > parent:
                    break
                found = True
                child = _child(record)
                if child is None:
                    continue
                if len(children) == limit:
                    problems.append(Problem(ProblemKind.LIMIT, f"more than {limit:,} entries: the rest are skipped"))
                    break
                children.append(child)
        except _BadNode as exc:  # what was listed before it stands; the rest of this folder is lost
            problems.append(Problem(ProblemKind.DAMAGED, f"the HFS+ catalog cannot be read further: {exc}"))
        else:
            if not found:
                problems.append(Problem(ProblemKind.DAMAGED, f"the HFS+ catalog holds no record of folder {parent}"))
        return CatalogListing(tuple(children), tuple(problems))

    def _tree(self) -> _Tree:
        header = self._read(0, 512, "the catalog's header node")
        if header[8:9] != bytes([_HEADER]):
            raise _BadNode("node 0 is not a B-tree header node")
        depth, root, node_size, max_key, nodes = struct.unpack_from(">HI12xHHI", header, _DESCRIPTOR)
        attributes = struct.unpack_from(">I", header, _DESCRIPTOR + 38)[0]
        if node_size not in (512, 1024, 2048, 4096, 8192, 16384, 32768):
            raise _BadNode(f"its node size is said to be {node_size:,} bytes")
        nodes = min(nodes, self._size // node_size)
        if depth > MAX_TREE_DEPTH or not 0 < root < nodes:
            raise _BadNode(f"its root node {root:,} (depth {depth}) is not one of its {nodes:,} nodes")
        return _Tree(node_size, nodes, root, bool(attributes & _VARIABLE_INDEX_KEYS), max_key)

    def _records_from(self, tree: _Tree, parent: int) -> Iterator[_Record]:
        """Every leaf record from the leaf where ``parent``'s records start, following the leaves' forward links.

        The index is descended by parent CNID alone: a folder's thread record has the empty name, the least key
        of its parent, so the last index key below (parent, "") leads to the leaf where the folder's records
        begin, without HFS+'s case-folding name order."""
        seen: set[int] = set()
        number = tree.root
        for _ in range(MAX_TREE_DEPTH):
            kind, forward, records = self._node(tree, number, seen)
            if kind == _LEAF:
                break
            if kind != _INDEX or not records:
                raise _BadNode(f"node {number:,} is neither a leaf nor an index node with records")
            below = [r for r in records if r.parent < parent or (r.parent == parent and not r.name)]
            number = _pointer((below or records)[-1 if below else 0], number)
        else:
            raise _BadNode(f"no leaf within {MAX_TREE_DEPTH} levels of the root")
        while True:
            yield from records
            if forward == 0:
                return
            number = forward
            kind, forward, records = self._node(tree, number, seen)
            if kind != _LEAF:
                raise _BadNode(f"the leaves' chain leads to node {number:,}, which is no leaf")

    def _node(self, tree: _Tree, number: int, seen: set[int]) -> tuple[int, int, list[_Record]]:
        """Kind, forward link and records of node ``number``, each record's bounds checked."""
        if not 0 < number < tree.nodes:
            raise _BadNode(f"node {number:,} lies outside the catalog's {tree.nodes:,} nodes")
        if number in seen:
            raise _BadNode(f"node {number:,} is reached twice (a loop)")
        seen.add(number)
        size = tree.node_size
        node = self._read(number * size, size, f"node {number:,}")
        forward, _, kind, _, count = struct.unpack_from(">IIbBH", node)
        table = size - 2 * (count + 1)  # each record's offset, and the free space's, from the node's end back
        if table < _DESCRIPTOR:
            raise _BadNode(f"node {number:,} claims {count:,} records, more than it can hold")
        offsets = struct.unpack_from(f">{count + 1}H", node, table)[::-1]
        records = []
        for index in range(count):
            start, end = offsets[index], offsets[index + 1]
            if not _DESCRIPTOR <= start < end <= table:
                raise _BadNode(f"record {index} of node {number:,} lies outside it ({start:,} to {end:,})")
            if kind in (_LEAF, _INDEX):
                records.append(_record(tree, node[start:end], kind, f"record {index} of node {number:,}"))
        return kind, forward, records

    def _read(self, offset: int, length: int, what: str) -> bytes:
        if offset + length > self._size:
            raise _BadNode(f"{what} lies past the catalog's end ({self._size:,} bytes)")
        try:
            data = self._read_at(offset, length)
        except (OSError, RuntimeError) as exc:
            raise _BadNode(f"{what} cannot be read: {exc}") from None
        if len(data) != length:
            raise _BadNode(f"{what} reads {len(data):,} of its {length:,} bytes")
        return data


def _record(tree: _Tree, raw: bytes, kind: int, what: str) -> _Record:
    if len(raw) < 8:
        raise _BadNode(f"{what} is too short for a key")
    key_length, parent, name_length = struct.unpack_from(">HIH", raw)
    if kind == _INDEX and not tree.variable_index_keys:
        key_length = tree.max_key_length
    if key_length < 6 or 6 + 2 * name_length > key_length or 2 + key_length > len(raw):
        raise _BadNode(f"{what}: its key ({key_length} bytes, a name of {name_length}) runs past the record")
    return _Record(parent, raw[8: 8 + 2 * name_length], raw[2 + key_length:])


def _pointer(record: _Record, number: int) -> int:
    if len(record.data) < 4:
        raise _BadNode(f"an index record of node {number:,} has no child pointer")
    return int.from_bytes(record.data[:4], "big")


def _child(record: _Record) -> CatalogChild | None:
    """The entry a folder or file record names; thread records (and anything else) list nothing."""
    if len(record.data) < 12:
        return None
    kind, cnid = struct.unpack_from(">h6xI", record.data)
    if kind not in (_FOLDER, _FILE) or cnid == 0:
        return None
    return CatalogChild(_tsk_name(record.name), cnid, kind == _FOLDER)


def _tsk_name(utf16: bytes) -> bytes:
    """The name as TSK spells it: HFS+ may store NUL and '/', which a path cannot hold."""
    text = utf16.decode("utf-16-be", "surrogatepass").replace("\0", "^").replace("/", ":")
    return text.encode("utf-8", "surrogatepass")
