"""NTFS reparse points that change what a file's content is: cloud placeholders and WOF ("Compact OS") files.

Why: on a Windows 10/11 laptop OneDrive's Files On-Demand leaves a picture that is only in the cloud as a file with
a cloud reparse point (``IO_REPARSE_TAG_CLOUD`` .. ``CLOUD_F``, MS-FSCC 2.1.2.1) and an unnamed $DATA of the full
size that is all sparse: The Sleuth Kit reads it as that many zeros.  Hashing those zeros tells the examiner
nothing and could match a set's entry for a zero-filled file; the file's name, size and times are what matter (a
production order to the provider), so such a file is listed, flagged ``cloud_only`` and never read.  A cloud file
whose content is on the disk ("locally available") is read as any file and flagged ``cloud_local``.

Windows also compresses system binaries (and whatever ``compact /c /exe:...`` is pointed at) with WOF: the
reparse point (``IO_REPARSE_TAG_WOF``) names the algorithm, $DATA is sparse and the content sits compressed in
the ``WofCompressedData`` stream (``wof.py`` reads it).

Reparse data is suspect-controlled: at most ``MAX_REPARSE_DATA`` bytes are read (Windows' own limit) and a
stream's runs are looked at up to ``MAX_RUNS_CHECKED``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable

import pytsk3

from fieldlab.evidence.archives import ArchiveError
from fieldlab.evidence.item import ItemFlag
from fieldlab.problems import ProblemKind

MAX_REPARSE_DATA = 16 * 1024  # MAXIMUM_REPARSE_DATA_BUFFER_SIZE: Windows refuses larger reparse points
MAX_RUNS_CHECKED = 65_536  # a longer run list is not a placeholder's: its content is taken as present
WOF_STREAM = b"WofCompressedData"
_CLOUD_TAG, _CLOUD_MASK = 0x9000001A, 0xFFFF0FFF  # CLOUD_1..CLOUD_F vary the 0x0000F000 bits
_WOF_TAG = 0x80000017
_MICROSOFT_TAG = 0x80000000  # other vendors' reparse data starts with a 16-byte GUID
_HEADER = struct.Struct("<IHH")  # tag, data length, reserved
_WOF_INFO = struct.Struct("<IIII")  # WOF version, provider, file provider version, compression format
_WOF_FILE_PROVIDER, _WIM_PROVIDER = 2, 1
_REPARSE = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_REPARSE)
_NTFS_DATA = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
_SPARSE_RUN = int(pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE)
_RESIDENT = int(pytsk3.TSK_FS_ATTR_RES)


class ReparseError(ArchiveError):
    """A file whose reparse point says its content cannot be read here (in the cloud, an unknown WOF algorithm,
    a damaged WOF stream): recorded against the item with its kind, as a compressed member's failure is."""


@dataclass(frozen=True)
class ReparsePoint:
    tag: int
    data: bytes  # the reparse data after the header (and a third party's GUID)

    @property
    def is_cloud(self) -> bool:
        return self.tag & _CLOUD_MASK == _CLOUD_TAG

    @property
    def is_wof(self) -> bool:
        return self.tag == _WOF_TAG


@dataclass(frozen=True)
class WofFormat:
    """How a WOF file's content is compressed: the algorithm's name and the uncompressed size of each chunk."""

    name: str
    chunk_size: int


WOF_FORMATS = {0: WofFormat("XPRESS4K", 4096), 1: WofFormat("LZX", 32768), 2: WofFormat("XPRESS8K", 8192),
               3: WofFormat("XPRESS16K", 16384)}  # the file provider's compression formats (wimlib's wof.h)


def parsed_reparse_point(raw: bytes) -> ReparsePoint | None:
    """The tag and data of a $REPARSE_POINT attribute's content; None if it is too short to hold a tag."""
    if len(raw) < _HEADER.size:
        return None
    tag, length, _ = _HEADER.unpack_from(raw)
    start = _HEADER.size if tag & _MICROSOFT_TAG else _HEADER.size + 16
    return ReparsePoint(tag, bytes(raw[start:start + length]))


def wof_format(point: ReparsePoint) -> WofFormat:
    """The compression of a WOF file; ReparseError (``unsupported``) when its content is elsewhere (a WIMBoot
    file's, in a WIM file) or compressed some way fieldlab does not know."""
    if len(point.data) < _WOF_INFO.size:
        raise ReparseError(f"WOF reparse data of {len(point.data)} bytes: too short to name its compression")
    version, provider, _, algorithm = _WOF_INFO.unpack_from(point.data)
    if provider == _WIM_PROVIDER:
        raise ReparseError("WOF file backed by a WIM file (WIMBoot): its content is in that WIM, not read here",
                           ProblemKind.UNSUPPORTED)
    if version != 1 or provider != _WOF_FILE_PROVIDER or algorithm not in WOF_FORMATS:
        raise ReparseError(f"WOF compression not supported (version {version}, provider {provider}, "
                           f"format {algorithm})", ProblemKind.UNSUPPORTED)
    return WOF_FORMATS[algorithm]


def file_reparse_point(file: pytsk3.File, attributes: Iterable[pytsk3.Attribute]) -> ReparsePoint | None:
    """The reparse point of an NTFS file whose ``attributes`` TSK lists, or None if it has none (or it cannot be
    read: the file is then read as TSK reads it)."""
    for attribute in attributes:
        info = attribute.info
        if int(info.type) == _REPARSE:
            try:
                raw = file.read_random(0, min(max(int(info.size), 0), MAX_REPARSE_DATA), info.type, info.id)
            except (OSError, RuntimeError):
                return None
            return parsed_reparse_point(raw)
    return None


def content_absent(attributes: Iterable[pytsk3.Attribute], size: int) -> bool:
    """Whether part of the unnamed data stream's first ``size`` bytes is a hole (a sparse run, or no run at all):
    for a cloud file, content the provider holds and this disk does not."""
    data = [a for a in attributes if int(a.info.type) == _NTFS_DATA and not a.info.name]
    if size <= 0 or not data or int(data[0].info.flags) & _RESIDENT:
        return False
    covered = 0
    for checked, run in enumerate(data[0]):
        if checked >= MAX_RUNS_CHECKED:
            return False
        if int(run.flags) & _SPARSE_RUN:
            return True
        covered += int(run.len)
    return covered == 0


def reparse_flag(point: ReparsePoint | None, attributes: Iterable[pytsk3.Attribute], size: int) -> ItemFlag | None:
    """What the walk says of a file with this reparse point: cloud-only, a cloud file present here, WOF-compressed,
    or nothing (a link, a junction, any other tag: read as TSK reads it)."""
    if point is None:
        return None
    if point.is_cloud:
        return ItemFlag.CLOUD_ONLY if content_absent(attributes, size) else ItemFlag.CLOUD_LOCAL
    if point.is_wof:
        return ItemFlag.WOF_COMPRESSED
    return None
