"""The sizes of an NTFS file's unnamed data stream, read from its MFT record as the published format lays it out.

Why: bytes of a stream past its *initialised size* (valid data length) read as zeros, and The Sleuth Kit reads them
so; pytsk3 does not expose that size.  Reading the record ourselves (through TSK, from the ``$MFT`` file the walk is
already reading, so its chunks are cached) gives the on-disk truth without touching TSK's memory.

The record is suspect-controlled: its update-sequence fixups must all match, every attribute's length is checked
against the record, at most ``MAX_ATTRIBUTES`` are looked at, and anything unexpected (an attribute list, which can
put the data in another record; a second unnamed data stream; an extension record) gives None: the file is then
read through TSK as before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytsk3

MAX_ATTRIBUTES = 64  # a record of 4 KiB holds at most ~170 minimal attributes; real files have a handful
_STRIDE = 512  # the update sequence protects the last two bytes of every 512 bytes of a record (whatever the sector)
_SMALLEST_RECORD, _LARGEST_RECORD = 512, 65536
_END = 0xFFFFFFFF
_ATTRIBUTE_LIST, _DATA = 0x20, 0x80
_MFT, _BOOT = 0, 7  # the MFT's own record, and $Boot (the boot sector)
_RECORD_HEADER = struct.Struct("<4sHH12xHHII")  # signature, USA offset, USA count, first attribute, flags, used, size
_NON_RESIDENT = struct.Struct("<HHqq8xqqq")  # flags, id, starting VCN, last VCN, (run list ...), allocated, real, initial
_ATTRIBUTE_HEAD = struct.Struct("<IIBB")  # type, length, non-resident, name length
_TYPE = struct.Struct("<I")
_BASE_RECORD = struct.Struct("<Q")  # at 0x20: zero in a base record
_NUMBER = struct.Struct("<I")  # at 0x2C (NTFS 3.1 records): the record's own number


@dataclass(frozen=True, slots=True)
class DataSizes:
    """The unnamed non-resident $DATA attribute of a base record: its id and its sizes in bytes."""

    attribute_id: int
    allocated: int
    size: int
    initialized: int


def unnamed_data_sizes(record: bytes, record_number: int) -> DataSizes | None:
    """The sizes of the record's unnamed non-resident $DATA, or None unless the whole record checks out."""
    checked = checked_base_record(record, record_number)
    if checked is None:
        return None
    fixed, first, used = checked
    found: DataSizes | None = None
    offset = first
    for _ in range(MAX_ATTRIBUTES):
        if offset + 4 > used:
            return None
        if _TYPE.unpack_from(fixed, offset)[0] == _END:
            return found
        if offset + 0x18 > used:
            return None
        kind, length, non_resident, name_length = _ATTRIBUTE_HEAD.unpack_from(fixed, offset)
        if length < 0x18 or length % 8 or offset + length > used or kind == _ATTRIBUTE_LIST:
            return None
        if kind == _DATA and name_length == 0:
            if found is not None or not non_resident or length < 0x40:
                return None  # a second unnamed stream, or a resident one (TSK listed it non-resident)
            found = _non_resident_sizes(fixed, offset)
            if found is None:
                return None
        offset += length
    return None  # more attributes than any real file has


def checked_base_record(record: bytes, record_number: int, *,
                        number_checked: bool = True) -> tuple[bytearray, int, int] | None:
    """A base record with its update sequence applied, where its attributes start and where its used part ends;
    None unless its header, fixups and (if ``number_checked``) its own number all check out, or if it is an
    extension record.  mkntfs leaves the number of the reserved records 16-23 at 0, and TSK reads them anyway."""
    if len(record) < _SMALLEST_RECORD or len(record) % _STRIDE:
        return None
    signature, usa_offset, usa_count, first, _, used, allocated = _RECORD_HEADER.unpack_from(record)
    if signature != b"FILE" or allocated != len(record) or usa_count != len(record) // _STRIDE + 1:
        return None
    if usa_offset % 2 or usa_offset < 0x28 or usa_offset + 2 * usa_count > _STRIDE - 2:
        return None  # the sequence would overlap the header or the first stride's own check bytes
    if not usa_offset + 2 * usa_count <= first < used <= len(record):
        return None  # attributes would overlap the update sequence, or run past the record
    fixed = apply_fixups(record, usa_offset, usa_count)
    if fixed is None:
        return None
    if _BASE_RECORD.unpack_from(fixed, 0x20)[0] != 0:
        return None  # an extension record: its base record is the file
    if number_checked and usa_offset >= 0x30 and _NUMBER.unpack_from(fixed, 0x2C)[0] != record_number & 0xFFFFFFFF:
        return None  # the record says it is another one
    return fixed, first, used


def _non_resident_sizes(record: bytearray, offset: int) -> DataSizes | None:
    flags, attribute_id, first_vcn, last_vcn, allocated, size, initialized = _NON_RESIDENT.unpack_from(
        record, offset + 0x0C)
    if first_vcn != 0 or last_vcn < -1 or flags != 0:
        return None  # a later piece of the stream, or a compressed, encrypted or sparse one
    if not 0 <= initialized <= allocated or not 0 <= size <= allocated:
        return None
    return DataSizes(attribute_id, allocated, size, initialized)


def apply_fixups(record: bytes | bytearray, usa_offset: int, usa_count: int) -> bytearray | None:
    """The record (an MFT or an INDX record) with its update sequence applied, or None if a stride's check fails (a
    torn write, or a forged record).  The caller has checked the sequence lies inside the record's first stride."""
    check = record[usa_offset:usa_offset + 2]
    fixed = bytearray(record)
    for stride in range(1, usa_count):
        end, saved = stride * _STRIDE, usa_offset + 2 * stride
        if record[end - 2:end] != check:
            return None
        fixed[end - 2:end] = record[saved:saved + 2]
    return fixed


class MftRecords:
    """A file system's MFT records, read through TSK from its ``$MFT`` file, as the walk meets their files."""

    def __init__(self, mft: pytsk3.File, record_size: int) -> None:
        self._mft, self.record_size = mft, record_size

    @classmethod
    def open(cls, fs: pytsk3.FS_Info) -> MftRecords | None:
        """The records of ``fs``, with their size from the boot sector; None if either cannot be read."""
        try:
            boot = fs.open_meta(inode=_BOOT).read_random(0, 512)
            mft = fs.open_meta(inode=_MFT)
        except (OSError, RuntimeError):
            return None
        size = record_size(boot)
        return None if size is None else cls(mft, size)

    @property
    def count(self) -> int:
        """How many whole records the ``$MFT`` file holds."""
        meta = self._mft.info.meta
        return max(int(meta.size), 0) // self.record_size if meta is not None else 0

    def read_span(self, first: int, count: int) -> bytes:
        """The bytes of ``count`` records from record ``first`` on (shorter at the end of the file or on a read
        error: the caller checks each record's length)."""
        try:
            return self._mft.read_random(first * self.record_size, count * self.record_size)
        except (OSError, RuntimeError):
            return b""

    def data_sizes(self, record_number: int) -> DataSizes | None:
        if record_number < 0:
            return None
        try:
            record = self._mft.read_random(record_number * self.record_size, self.record_size)
        except (OSError, RuntimeError):
            return None
        if len(record) != self.record_size:
            return None
        return unnamed_data_sizes(record, record_number)


def record_size(boot: bytes) -> int | None:
    """An MFT record's size from the NTFS boot sector: clusters per record, or (if negative) 2 to the minus that
    power bytes."""
    if len(boot) < 0x44 or boot[3:11] != b"NTFS    ":
        return None
    sector, cluster_sectors = struct.unpack_from("<HB", boot, 0x0B)
    per_record = struct.unpack_from("<b", boot, 0x40)[0]
    size = per_record * sector * cluster_sectors if per_record > 0 else 1 << min(-per_record, 31)
    if not _SMALLEST_RECORD <= size <= _LARGEST_RECORD or size & (size - 1):
        return None
    return size
