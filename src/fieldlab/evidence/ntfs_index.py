"""An NTFS folder listed from its own ``$I30`` index and the MFT's file names, for folders too large for TSK.

Why: The Sleuth Kit 4.15 lists an NTFS folder in quadratic time (each name added after a linear search of the
names before it, ``tsk_fs_dir_add``, then every MFT record naming the folder checked against the whole list again,
``tsk_fs_dir_contains``): a flat folder of 10,000 files opens in 0.09 s, of 40,000 in 1.4 s, of 160,000 in 23.6 s,
and a collector's folder of a million pictures would take the best part of an hour.  This module gives the names
TSK gives, the way TSK finds them (``ntfs_dir_open_meta``), with dictionaries in place of the linear searches:

* the entries of ``$INDEX_ROOT`` and of every INDX record found at a cluster boundary of ``$INDEX_ALLOCATION``
  (read whole, the slack after its last record included), each record's fixups applied; an entry inside a record's
  used part is allocated, one after it (index slack) is a deleted name if it passes TSK's checks of a deleted
  entry (known name space, sizes, a name, times between 1970 and 2020: TSK's own bounds, so slack names written
  after 2020 are dropped by both), and every entry must name this folder as its parent;
* DOS (8.3) names are skipped, a name is added once per (record, name), an allocated one replacing a deleted one;
* then every record whose ``$FILE_NAME`` names this folder (at its sequence; a deleted folder's sequence minus one)
  and that the index did not list as allocated by that name: allocated or deleted after its record's in-use flag.

Where this differs from TSK, deliberately: an INDX record whose fixups fail is skipped with a recorded problem and
the rest of the folder is listed (TSK gives up on the whole folder); the allocation is read up to
``MAX_INDEX_BYTES`` (TSK refuses a folder over 128 MiB, about 500,000 files, outright).  What is lost, as with TSK:
deleted names overwritten in the slack, and a deleted name whose entry's start was overwritten; a file whose
``$FILE_NAME`` sits in an extension record (an attribute list) is found from the index only.

Measured (``bench/ntfs_large_folder.py``, 2 shared cores, load 2.5-5, main's code against this, three rounds):
one folder of 160,000 files, ``ImageSource.walk()`` 58.1-66.8 -> 5.1-8.5 s wall (50.7-63.5 -> 4.7-5.8 s CPU: the
MFT map ~0.9 s, this listing ~2.6 s, the rest the items), ``fieldlab scan --no-perceptual --no-carve
--no-embedded`` 66.0-88.6 -> 18.3-28.0 s; 40,000 files, walk 3.8 -> 1.4 s.  Below the threshold (``filesystem.LARGE_NTFS_INDEX_BYTES``, 4 MiB of index, ~17,000 names,
which TSK opens in ~0.25 s) TSK lists the folder as before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytsk3

from fieldlab.evidence.ntfs_mft_names import MftNames, utf16_name
from fieldlab.evidence.ntfs_record import apply_fixups
from fieldlab.problems import Problem, ProblemKind

MAX_INDEX_BYTES = 512 << 20  # ~2 million names (a million files need ~250 MiB of index): held in memory while listed
_INDEX_ROOT = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT)
_INDEX_ALLOCATION = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXALLOC)
_READ_SLACK = pytsk3.TSK_FS_FILE_READ_FLAG_SLACK
_READ_CHUNK = 16 << 20
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
_FILE_NAME_TYPE = 0x30
_ROOT_LIST = 0x10  # the node header inside $INDEX_ROOT
_RECORD_LIST = 0x18  # the node header inside an INDX record
_NODE_HEADER = struct.Struct("<III")  # entries start, used end, allocated end (from the node header)
_ENTRY = struct.Struct("<IHHHH")  # record low 32, record high 16, sequence, entry length, key length
_KEY_SIZES = struct.Struct("<QQ")  # at 0x28 of the key: allocated size, real size
_KEY_TIMES = struct.Struct("<QQ8xQ")  # at 0x08 of the key: created, modified, (changed), accessed
_INDX_HEADER = struct.Struct("<4sHH")  # signature, update sequence offset, its count
_ENTRY_HEAD, _KEY_HEAD = 16, 66  # bytes before the key, and before the name in the key
_SMALLEST_ENTRY = _ENTRY_HEAD + _KEY_HEAD + 2  # TSK's sizeof(ntfs_idxentry head + ntfs_attr_fname)
_POSIX, _WIN32, _DOS, _WIN32_AND_DOS = 0, 1, 2, 3
_STRIDE = 512
_FIRST_TIME, _PAST_LAST_TIME = 116_444_736 * 10**9, 132_217_921 * 10**9  # TSK's is_time: 1970 to 2020, 100 ns


@dataclass(frozen=True, slots=True)
class IndexName:
    """One name of the folder, as TSK's listing would carry it."""

    name: bytes  # UTF-8
    address: int  # the MFT record it names
    unallocated: bool  # a deleted name (index slack, a deleted folder's entry, or an unallocated record)


@dataclass(frozen=True)
class FolderListing:
    names: tuple[IndexName, ...]
    problems: tuple[Problem, ...]  # what could not be read: the names found are kept


def index_allocation_size(folder: pytsk3.File) -> int:
    """The size of the folder's ``$I30`` index allocation (0 for a small folder indexed in its record alone)."""
    try:
        return max((int(a.info.size) for a in folder if int(a.info.type) == _INDEX_ALLOCATION), default=0)
    except (OSError, RuntimeError):
        return 0


def list_ntfs_folder(folder: pytsk3.File, names: MftNames, last_record: int, cluster_size: int,
                     limit: int) -> FolderListing:
    """The names of the folder ``folder`` (opened by its address); ``limit`` bounds how many are kept."""
    meta = folder.info.meta
    listing = _Listing(int(meta.addr), bool(int(meta.flags) & _META_UNALLOC), last_record, limit)
    root = _attribute_bytes(folder, _INDEX_ROOT, 1 << 16)
    if root is None or len(root) < _ROOT_LIST + _NODE_HEADER.size or struct.unpack_from("<I", root)[0] != \
            _FILE_NAME_TYPE:
        listing.problem(ProblemKind.DAMAGED, "its $INDEX_ROOT is missing or does not index file names")
    else:
        start, used_end, end = _NODE_HEADER.unpack_from(root, _ROOT_LIST)
        if not start <= used_end <= end or _ROOT_LIST + end > len(root):
            listing.problem(ProblemKind.DAMAGED, "its $INDEX_ROOT's entry offsets are invalid")
        else:
            listing.entries(root, _ROOT_LIST + start, _ROOT_LIST + end, _ROOT_LIST + used_end)
    if index_allocation_size(folder) > MAX_INDEX_BYTES:
        listing.problem(ProblemKind.LIMIT, f"its index claims more than {MAX_INDEX_BYTES:,} bytes: not read")
    else:
        allocation = _attribute_bytes(folder, _INDEX_ALLOCATION, MAX_INDEX_BYTES)
        if allocation:
            _index_records(listing, allocation, cluster_size)
    sequence = int(meta.seq) - 1 if listing.deleted_folder else int(meta.seq)
    listing.mft_children(names, sequence)
    return FolderListing(tuple(listing.names.values()), tuple(listing.problems))


def _attribute_bytes(folder: pytsk3.File, kind: int, limit: int) -> bytearray | None:
    """The content of the folder's ``$I30`` attribute of ``kind`` (at most ``limit`` bytes; every INDX record whole,
    the slack after its used part included), or None."""
    for attribute in folder:
        info = attribute.info
        if int(info.type) != kind:
            continue
        size = min(max(int(info.size), 0), limit)
        content = bytearray()
        try:
            for offset in range(0, size, _READ_CHUNK):
                piece = folder.read_random(offset, min(_READ_CHUNK, size - offset), info.type, info.id, _READ_SLACK)
                content += piece
                if len(piece) < min(_READ_CHUNK, size - offset):
                    break
        except (OSError, RuntimeError):
            return None
        return content
    return None


def _index_records(listing: _Listing, allocation: bytearray, cluster_size: int) -> None:
    """Every INDX record of the allocation, found like TSK finds them: by signature at cluster boundaries, each
    running to the next (so the slack past its used part is read)."""
    step = max(cluster_size, _STRIDE)
    starts = [o for o in range(0, len(allocation) - _RECORD_LIST - _NODE_HEADER.size, step)
              if allocation[o:o + 4] == b"INDX"]
    for here, following in zip(starts, [*starts[1:], len(allocation)], strict=True):
        record = allocation[here:following]
        _, usa_offset, usa_count = _INDX_HEADER.unpack_from(record)
        if usa_count < 1 or (usa_count - 1) * _STRIDE > len(record) or usa_offset + 2 * usa_count > _STRIDE - 2 \
                or usa_offset < _RECORD_LIST + _NODE_HEADER.size:
            listing.problem(ProblemKind.DAMAGED, f"the INDX record at {here:,} has an invalid update sequence")
            continue
        fixed = apply_fixups(record, usa_offset, usa_count)
        if fixed is None:
            listing.problem(ProblemKind.DAMAGED, f"the INDX record at {here:,} fails its fixups (a torn write or "
                                                 "damage): its files are listed from the MFT alone")
            continue
        start, used_end, _ = _NODE_HEADER.unpack_from(fixed, _RECORD_LIST)
        if _RECORD_LIST + start > len(fixed) or _RECORD_LIST + used_end > len(fixed) or used_end < start:
            listing.problem(ProblemKind.DAMAGED, f"the INDX record at {here:,} has invalid entry offsets")
            continue
        listing.entries(fixed, _RECORD_LIST + start, len(fixed), _RECORD_LIST + used_end)


class _Listing:
    """The names found so far, keyed by (record, name) as ``tsk_fs_dir_add`` de-duplicates them."""

    def __init__(self, address: int, deleted_folder: bool, last_record: int, limit: int) -> None:
        self.address, self.deleted_folder, self.last_record, self.limit = address, deleted_folder, last_record, limit
        self.names: dict[tuple[int, bytes], IndexName] = {}
        self.problems: list[Problem] = []
        self._full = False

    def problem(self, kind: ProblemKind, message: str) -> None:
        self.problems.append(Problem(kind, message))

    def add(self, name: IndexName) -> None:
        key = (name.address, name.name)
        known = self.names.get(key)
        if known is not None:
            if known.unallocated and not name.unallocated:
                self.names[key] = name  # in place, as TSK replaces it
            return
        if len(self.names) >= self.limit:
            if not self._full:
                self._full = True
                self.problem(ProblemKind.LIMIT, f"more than {self.limit:,} entries: the rest are skipped")
            return
        self.names[key] = name

    def entries(self, buffer: bytes | bytearray, offset: int, end: int, used_end: int) -> None:
        """The index entries of one node, from ``offset`` to ``end``; those past ``used_end`` are index slack.
        Every step moves forward by at least 4 bytes, so the loop ends."""
        stashed: IndexName | None = None
        whole = end - offset
        while offset + _SMALLEST_ENTRY < end:
            low, high, _, length, key_length = _ENTRY.unpack_from(buffer, offset)
            record = low | high << 32
            key = offset + _ENTRY_HEAD
            if record > self.last_record or length <= key_length or length % 4 or length > whole or \
                    _parent_of(buffer, key) != self.address:
                offset += 4
                continue
            characters, namespace = buffer[key + 0x40], buffer[key + 0x41]
            in_slack = key_length == 0 or offset + length > used_end
            if in_slack and not _plausible_deleted_key(buffer, key, characters, namespace):
                offset += 4
                continue
            if namespace == _DOS:
                if stashed is not None:
                    self.add(stashed)
                    stashed = None
            else:
                if stashed is not None:
                    self.add(stashed)
                    stashed = None
                name_end = key + _KEY_HEAD + 2 * characters
                if name_end < end:
                    found = IndexName(utf16_name(buffer[key + _KEY_HEAD:name_end]), record,
                                      self.deleted_folder or in_slack)
                    if namespace == _WIN32_AND_DOS:
                        self.add(found)
                    else:
                        stashed = found
            if key_length == 0:  # TSK's guess at a deleted entry's length
                offset = (offset + _ENTRY_HEAD + _KEY_HEAD + 2 * characters + 3) // 4 * 4
            else:
                offset += length
        if stashed is not None:
            self.add(stashed)

    def mft_children(self, names: MftNames, sequence: int) -> None:
        """Records naming this folder as parent at ``sequence`` that the index did not list as allocated by that
        name: each is added by every name it has in this folder, deleted if its record is unallocated."""
        mine = names.by_parent.get(self.address, ())
        names_of: dict[int, list[bytes]] = {}
        for child in mine:
            names_of.setdefault(child.record, []).append(child.name)
        for child in mine:
            if child.parent_sequence != sequence:
                continue
            known = self.names.get((child.record, child.name))
            if known is not None and not known.unallocated:
                continue
            deleted = child.record in names.unallocated
            for name in names_of[child.record]:
                self.add(IndexName(name, child.record, deleted))


def _parent_of(buffer: bytes | bytearray, key: int) -> int:
    low, high = struct.unpack_from("<IH", buffer, key)
    return low | high << 32


def _plausible_deleted_key(buffer: bytes | bytearray, key: int, characters: int, namespace: int) -> bool:
    """TSK's checks of an entry in index slack: a known name space, sizes that fit, a name, believable times."""
    if namespace not in (_POSIX, _WIN32, _DOS, _WIN32_AND_DOS):
        return False
    allocated, real = _KEY_SIZES.unpack_from(buffer, key + 0x28)
    if allocated < real or characters == 0 or buffer[key + _KEY_HEAD] == 0:
        return False
    return all(_FIRST_TIME <= t < _PAST_LAST_TIME for t in _KEY_TIMES.unpack_from(buffer, key + 0x08))
