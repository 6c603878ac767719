"""Every NTFS file name the MFT records, read once: which names each folder's records claim, and which records are
unallocated, for listing huge folders and finding orphan files without The Sleuth Kit's quadratic listing.

Why: TSK adds each name of a folder after a linear search of the names it already has (``tsk_fs_dir_add``), and
then checks every MFT record naming the folder as parent against the list again (``tsk_fs_dir_contains``); a
folder of 160,000 files takes 24 s to open, its orphan search as long again.  One pass over ``$MFT`` gives the
same parent -> children map TSK builds (``ntfs_parent_act``) in a dictionary.

Each record is checked by ``ntfs_record.checked_base_record`` (signature, header, fixups; not its own number, which
TSK does not check either); a record that fails is left out, as TSK leaves it out of its own map.  Only base
records are read (a file whose names are in an extension record, through an attribute list, is not in the map:
rare, and such a file is still listed from its folder's index).  The pass reads at most ``MAX_RECORDS`` records
and ``MAX_ATTRIBUTES`` attributes of each, in 128 KiB spans.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Container, Iterator
from dataclasses import dataclass

from fieldlab.evidence.ntfs_record import MAX_ATTRIBUTES, MftRecords, checked_base_record
from fieldlab.problems import Problem, ProblemKind

MAX_RECORDS = 50_000_000  # 50 GiB of MFT at 1 KiB a record: far beyond any real volume
_SPAN_BYTES = 128 << 10  # small reads: an E01's chunk cache keeps the MFT's chunks for them (ewf_chunks.keep)
_FILE_NAME, _INDEX_ALLOCATION, _END = 0x30, 0xA0, 0xFFFFFFFF
_IN_USE, _IS_DIRECTORY = 0x01, 0x02
_DOS_NAMESPACE = 2  # the 8.3 alias of a long name: TSK keeps no name of it
_FLAGS = struct.Struct("<H")  # at 0x16
_ATTRIBUTE = struct.Struct("<IIB")  # type, length, non-resident
_RESIDENT = struct.Struct("<IH")  # at 0x10: content length, content offset
_REAL_SIZE = struct.Struct("<q")  # at 0x30 of a non-resident attribute
_PARENT = struct.Struct("<IHH")  # the parent reference: 48-bit record number, 16-bit sequence


@dataclass(frozen=True, slots=True)
class MftName:
    """One (non-DOS) ``$FILE_NAME`` of a base record."""

    record: int
    parent: int
    parent_sequence: int
    name: bytes  # UTF-8, as TSK converts it


@dataclass(frozen=True)
class MftNames:
    """The names of a volume's base records by parent folder, and its unallocated records."""

    by_parent: dict[int, tuple[MftName, ...]]  # the names of unallocated records, and those in the folders asked for
    unallocated: frozenset[int]  # records with a sound header whose in-use flag is clear
    first_names: dict[int, bytes]  # an unallocated record's first name, which TSK shows an orphan by
    directories: frozenset[int]  # unallocated records flagged as folders
    problems: tuple[Problem, ...]

    @classmethod
    def read(cls, records: MftRecords, folders: Container[int], limit: int = MAX_RECORDS) -> MftNames:
        """The names of the unallocated records (for orphans), and every name whose parent is one of ``folders``
        (the folders to list): a volume of a million files keeps only what it needs in memory."""
        by_parent: defaultdict[int, list[MftName]] = defaultdict(list)
        unallocated: list[int] = []
        first_names: dict[int, bytes] = {}
        directories: set[int] = set()
        problems: list[Problem] = []
        total = records.count
        if total > limit:
            problems.append(Problem(ProblemKind.LIMIT, f"the MFT holds {total:,} records: only the first "
                                                       f"{limit:,} are read for file names"))
            total = limit
        size = records.record_size
        per_span = max(1, _SPAN_BYTES // size)
        for first in range(0, total, per_span):
            span = records.read_span(first, min(per_span, total - first))
            for index in range(len(span) // size):
                number = first + index
                checked = checked_base_record(span[index * size:(index + 1) * size], number, number_checked=False)
                if checked is None:
                    continue
                fixed, start, used = checked
                flags = _FLAGS.unpack_from(fixed, 0x16)[0]
                names = _file_names(fixed, start, used, number)
                for name in names:
                    if not flags & _IN_USE or name.parent in folders:
                        by_parent[name.parent].append(name)
                if not flags & _IN_USE:
                    unallocated.append(number)
                    if names:
                        first_names[number] = names[0].name
                    if flags & _IS_DIRECTORY:
                        directories.add(number)
            if len(span) < min(per_span, total - first) * size:
                problems.append(Problem(ProblemKind.DAMAGED, f"the MFT could not be read from record {first:,}: "
                                                             "later records are not in its file-name map"))
                break
        return cls({parent: tuple(names) for parent, names in by_parent.items()}, frozenset(unallocated),
                   first_names, frozenset(directories), tuple(problems))


def large_folders(records: MftRecords, index_bytes: int, limit: int = MAX_RECORDS) -> frozenset[int]:
    """The folders (deleted ones included) whose ``$I30`` index allocation, as their base record states it, is
    larger than ``index_bytes``: decided before TSK opens any folder.

    Why here, not folder by folder: TSK's orphan search lists every folder, so the walk must know before it lists
    ``$OrphanFiles`` whether a folder too large for TSK is anywhere on the volume.  Only folder records are parsed
    (the flags byte is read raw first): 0.03-0.15 s for 160,000 records, most of it the reading of ``$MFT``.  A
    folder whose index allocation is described in an extension record (an attribute list) is not found, and TSK
    lists it as before."""
    found: set[int] = set()
    size = records.record_size
    total = min(records.count, limit)
    per_span = max(1, _SPAN_BYTES // size)
    for first in range(0, total, per_span):
        span = records.read_span(first, min(per_span, total - first))
        for index in range(len(span) // size):
            if not span[index * size + 0x16] & _IS_DIRECTORY:
                continue
            checked = checked_base_record(span[index * size:(index + 1) * size], first + index, number_checked=False)
            if checked is not None and _index_allocation_size(*checked) > index_bytes:
                found.add(first + index)
    return frozenset(found)


def _attributes(record: bytearray, offset: int, used: int) -> Iterator[tuple[int, int, int, int]]:
    """(type, offset, length, non-resident) of each attribute from ``offset``, at most ``MAX_ATTRIBUTES``; the end
    marker, or a header that does not fit the record's used part, ends them."""
    for _ in range(MAX_ATTRIBUTES):
        if offset + 0x18 > used:
            return
        kind, length, non_resident = _ATTRIBUTE.unpack_from(record, offset)
        if kind == _END or length < 0x18 or length % 8 or offset + length > used:
            return
        yield kind, offset, length, non_resident
        offset += length


def _index_allocation_size(record: bytearray, offset: int, used: int) -> int:
    """The real size of the record's non-resident ``$INDEX_ALLOCATION`` (0 if it has none here)."""
    for kind, start, length, non_resident in _attributes(record, offset, used):
        if kind == _INDEX_ALLOCATION and non_resident and length >= 0x40:
            return max(_REAL_SIZE.unpack_from(record, start + 0x30)[0], 0)
    return 0


def _file_names(record: bytearray, offset: int, used: int, number: int) -> list[MftName]:
    """The record's non-DOS ``$FILE_NAME`` attributes, in their order; a malformed attribute ends the reading."""
    names: list[MftName] = []
    for kind, start, length, non_resident in _attributes(record, offset, used):
        if kind == _FILE_NAME and not non_resident:
            content_length, content_offset = _RESIDENT.unpack_from(record, start + 0x10)
            content = start + content_offset
            if content_offset >= 0x18 and content_length >= 0x42 and content + content_length <= start + length:
                name = _name_of(record, content, content_length, number)
                if name is not None:
                    names.append(name)
    return names


def _name_of(record: bytearray, content: int, content_length: int, number: int) -> MftName | None:
    low, high, parent_sequence = _PARENT.unpack_from(record, content)
    characters, namespace = record[content + 0x40], record[content + 0x41]
    if namespace == _DOS_NAMESPACE or 0x42 + 2 * characters > content_length:
        return None
    raw = bytes(record[content + 0x42:content + 0x42 + 2 * characters])
    return MftName(number, low | high << 32, parent_sequence, utf16_name(raw))


def utf16_name(raw: bytes | bytearray) -> bytes:
    """An NTFS name as UTF-8 the way TSK 4.15 converts it (checked against its listing): up to a NUL; an unpaired
    surrogate as ``^``, a high one swallowing the unit after it, a high one at the end dropped."""
    try:
        text = raw.decode("utf-16-le")
    except UnicodeDecodeError:
        text = _lenient_utf16(raw)
    return text.partition("\0")[0].encode("utf-8")


def _lenient_utf16(raw: bytes | bytearray) -> str:
    units = struct.unpack(f"<{len(raw) // 2}H", raw[:len(raw) // 2 * 2])
    out: list[str] = []
    index = 0
    while index < len(units):
        unit = units[index]
        if 0xD800 <= unit < 0xDC00:
            if index + 1 == len(units):
                break
            following = units[index + 1]
            out.append(chr(0x10000 + (unit - 0xD800 << 10) + following - 0xDC00) if 0xDC00 <= following < 0xE000
                       else "^")
            index += 2
            continue
        out.append("^" if 0xDC00 <= unit < 0xE000 else chr(unit))
        index += 1
    return "".join(out)
