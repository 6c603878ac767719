"""Disk images and devices as one read-only byte range: raw, split raw, EWF, VMDK, VHD/VHDX, QCOW2, VirtualBox VDI,
Apple disk images (UDIF .dmg), block devices.

A differencing VHD/VHDX or VDI, a QCOW2 with a backing file or a VMDK snapshot is opened with its parents
(``evidence/differencing.py``); the chain is part of the container's facts, and a missing parent makes the media
incomplete rather than empty.

The container is recognised by content (signatures checked by the libyal
libraries themselves, a VDI by its signature (``evidence/vdi.py``, our own reader), a UDIF by its trailer), never by
extension; split sets are found from the first
segment's name.  Everything is opened read-only: the libyal handles are opened
in mode "r", raw files and devices with O_RDONLY, so no code path can write.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol, Sequence

import pyewf
import pyqcow
import pysmraw
import pyvhdi
import pyvmdk

from fieldlab.errors import EvidenceError
from fieldlab.evidence.differencing import (
    FORMATS,
    UDIF_TRAILER,
    ChainLink,
    LayeredFormat,
    OpenedChain,
    is_udif,
    is_vmdk_descriptor,
    open_chain,
)
from fieldlab.evidence.ewf_chunks import EwfChunkReader, EwfLayoutError
from fieldlab.evidence.vdi import is_vdi
from fieldlab.problems import Problem, ProblemKind


class ContainerError(EvidenceError):
    """The image cannot be opened; the message names the file and what is wrong."""


ContainerKind = Literal["raw", "split-raw", "ewf", "vmdk", "vhd", "qcow2", "vdi", "dmg", "device"]  # in the exhibit's facts


@dataclass(frozen=True)
class ContainerInfo:
    kind: ContainerKind
    segments: tuple[str, ...]
    media_size: int
    bytes_per_sector: int = 512
    stored_hashes: dict[str, str] = field(default_factory=dict)  # e.g. {"md5": ..., "sha1": ...} from EWF
    headers: dict[str, str] = field(default_factory=dict)  # EWF case number, examiner, acquisition date...
    chain: tuple[ChainLink, ...] = ()  # a differencing image: the child first, then each parent down to the base
    missing_parent: str | None = None  # why the chain is incomplete: then nothing of the media can be read
    device_ids: tuple[str, ...] = ()  # a block device's /dev/disk/by-id names: the same disk under any node
    problems: tuple[Problem, ...] = ()  # what is wrong with the container itself (a .dmg read as raw bytes, and why)


class _Handle(Protocol):
    def read_buffer_at_offset(self, size: int, offset: int) -> bytes: ...
    def close(self) -> None: ...


class MediaReader:
    """Positional reads over the whole media, whatever the container."""

    def __init__(self, info: ContainerInfo, handle: _Handle | None = None, fd: int | None = None,
                 parents: Sequence[_Handle] = ()) -> None:
        self.info = info
        self._handle = handle
        self._fd = fd
        self._parents = list(parents)  # a differencing image reads through them: closed with it

    @property
    def size(self) -> int:
        return self.info.media_size

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size or size <= 0:
            return b""
        size = min(size, self.size - offset)
        if self._fd is not None:
            return os.pread(self._fd, size, offset)
        if self._handle is None:
            raise ValueError("read from a closed media reader")
        return self._handle.read_buffer_at_offset(size, offset)

    def read_into(self, buffer: memoryview, offset: int) -> int:
        """``read`` into ``buffer``, as many bytes as it holds (fewer at the end of the media): an E01's chunks are
        copied there as they are inflated, without a bytes object of the whole read in between."""
        if isinstance(self._handle, EwfChunkReader) and offset < self.size:
            return self._handle.read_into(buffer[:self.size - offset], offset)
        data = self.read(offset, len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def keep(self, runs: Sequence[tuple[int, int]]) -> None:
        """A walk is about to read these media runs (file-system metadata) over and over: a container that
        inflates what it reads (EWF) keeps them once inflated; ``()`` lets them go."""
        if isinstance(self._handle, EwfChunkReader):
            self._handle.keep(runs)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for handle in [self._handle, *self._parents]:
            if handle is not None:
                handle.close()
        self._handle, self._parents = None, []


_SPLIT_NUMERIC = re.compile(r"^(?P<stem>.+)\.(?P<n>\d{3})$")
_SPLIT_ALPHA = re.compile(r"^(?P<stem>.+)\.(?P<n>[a-z]{2})$")
_EWF_HEADERS = ("case_number", "evidence_number", "description", "examiner_name", "notes", "acquiry_date",
                "system_date", "acquiry_operating_system", "acquiry_software", "acquiry_software_version", "model",
                "serial_number")


def open_container(path: Path, parents: Sequence[Path] = ()) -> MediaReader:
    """The media of the image or device at ``path``; ``parents`` are the examiner's places (files or folders) for
    the parents of a differencing image, besides the folder holding it."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ContainerError(f"{path}: {exc.strerror}") from None
    if stat.S_ISBLK(st.st_mode):
        media = _open_raw(path, "device", [path])
        media.info = replace(media.info, device_ids=device_ids(path))
        return media
    if not stat.S_ISREG(st.st_mode):
        raise ContainerError(f"{path} is neither an image file nor a block device")
    name = str(path)
    try:
        if pyewf.check_file_signature(name):
            return _open_ewf(path)
        if pyqcow.check_file_signature(name):
            return _open_layered(path, "qcow2", parents)
        if pyvhdi.check_file_signature(name):
            return _open_layered(path, "vhd", parents)
        if pyvmdk.check_file_signature(name) or is_vmdk_descriptor(path):
            return _open_layered(path, "vmdk", parents)
        if is_vdi(path):
            return _open_layered(path, "vdi", parents)
        if is_udif(path):
            return _open_udif(path)
    except OSError as exc:
        raise ContainerError(f"{path}: {exc}") from None
    segments = split_raw_segments(path)
    if len(segments) > 1:
        return _open_split_raw(segments)
    return _open_raw(path, "raw", [path])


def split_raw_segments(first: Path) -> list[Path]:
    """The segments of a split raw set (.000/.001…, .001/.002…, .aa/.ab…) starting at ``first``, in order."""
    for pattern in (_SPLIT_NUMERIC, _SPLIT_ALPHA):
        match = pattern.match(first.name)
        if match:
            break
    else:
        return [first]
    numeric = pattern is _SPLIT_NUMERIC
    start = match["n"]
    if numeric and int(start) > 1:
        return [first]
    segments, index = [first], _segment_index(start, numeric)
    while len(segments) < 100_000:
        index += 1
        candidate = first.with_name(f"{match['stem']}.{_segment_name(index, numeric, len(start))}")
        if not candidate.is_file():
            break
        segments.append(candidate)
    return segments


def _segment_index(text: str, numeric: bool) -> int:
    return int(text) if numeric else (ord(text[0]) - 97) * 26 + ord(text[1]) - 97


def _segment_name(index: int, numeric: bool, width: int) -> str:
    if numeric:
        return f"{index:0{width}d}"
    if index >= 26 * 26:
        return "~~"  # no such segment: ends the set
    return chr(97 + index // 26) + chr(97 + index % 26)


def device_ids(device: Path, by_id: Path = Path("/dev/disk/by-id"), limit: int = 1000) -> tuple[str, ...]:
    """The names udev gives ``device`` (model and serial, WWN), which stay the same whatever node it gets."""
    target = os.path.realpath(device)
    try:
        with os.scandir(by_id) as entries:
            names = [e.name for _, e in zip(range(limit), entries) if os.path.realpath(e.path) == target]
    except OSError:
        return ()
    return tuple(sorted(names))


def _open_raw(path: Path, kind: ContainerKind, segments: list[Path]) -> MediaReader:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    size = os.lseek(fd, 0, os.SEEK_END)
    return MediaReader(ContainerInfo(kind, tuple(map(str, segments)), size), fd=fd)


def _open_split_raw(segments: list[Path]) -> MediaReader:
    handle = pysmraw.handle()
    try:
        handle.open([str(s) for s in segments], "r")
    except OSError as exc:
        raise ContainerError(f"split raw image {segments[0]}: {exc}") from None
    return MediaReader(ContainerInfo("split-raw", tuple(map(str, segments)), handle.get_media_size()), handle)


def _open_ewf(path: Path) -> MediaReader:
    segments = pyewf.glob(str(path))
    handle = pyewf.handle()
    try:
        handle.open(segments, "r")
    except OSError as exc:
        raise ContainerError(f"EWF image {path} (segments {', '.join(map(os.path.basename, segments))}): {exc}") from None
    hashes = {k.lower().replace("-", ""): v for k, v in (handle.get_hash_values() or {}).items() if v}
    headers = {k: v for k in _EWF_HEADERS if (v := handle.get_header_value(k))}
    info = ContainerInfo("ewf", tuple(segments), handle.get_media_size(), handle.get_bytes_per_sector(), hashes, headers)
    try:
        return MediaReader(info, EwfChunkReader(segments, handle, info.media_size, handle.get_chunk_size()))
    except (EwfLayoutError, OSError):
        return MediaReader(info, handle)  # a layout only libewf knows (EWF2, damaged tables): its own reads


def _open_layered(path: Path, kind: Literal["vmdk", "vhd", "qcow2", "vdi", "dmg"], parents: Sequence[Path]) -> MediaReader:
    fmt = FORMATS[kind]
    try:
        handle = fmt.open(str(path))
    except OSError as exc:
        raise ContainerError(f"{kind.upper()} {path}: {exc}") from None
    opened = open_chain(path, fmt, handle, parents)
    differencing = len(opened.links) > 1 or opened.missing is not None
    info = ContainerInfo(kind, (str(path),), handle.get_media_size(), chain=opened.links if differencing else (),
                         missing_parent=opened.missing, problems=_chain_problems(fmt, opened))
    return MediaReader(info, handle, parents=opened.handles[1:])


def _chain_problems(fmt: LayeredFormat, opened: OpenedChain) -> tuple[Problem, ...]:
    """What is wrong with each file of the chain that still reads (a VDI's truncated blocks), a parent's named."""
    return tuple(problem if depth == 0 else Problem(problem.kind, f"its parent {link.path}: {problem.message}")
                 for depth, (handle, link) in enumerate(zip(opened.handles, opened.links))
                 for problem in fmt.problems(handle))


def _open_udif(path: Path) -> MediaReader:
    """A .dmg through libmodi, which inflates its chunks (zlib, bzip2, ADC, LZFSE) from the tables of its XML plist.

    The trailer is suspect data: a .dmg libmodi refuses (trailer or plist damaged, a segmented image), or whose
    reported media gives no bytes where it says there are some, is read as the raw bytes it is, with a problem saying
    why: what it holds uncompressed is still walked or carved, and the scan goes on.  A chunk that fails to inflate
    later is a read error of the items lying on it."""
    with open(path, "rb") as f:
        f.seek(-UDIF_TRAILER, os.SEEK_END)
        trailer = f.read(UDIF_TRAILER)
    segment, segments = struct.unpack_from(">II", trailer, 56)
    if segments > 1:  # libmodi refuses them
        return _udif_read_as_raw(path, ProblemKind.UNSUPPORTED, f"segment {segment} of an image in {segments} "
                                 "segments (.dmgpart files), which libmodi does not read")
    try:
        media = _open_layered(path, "dmg", ())
    except ContainerError as exc:
        return _udif_read_as_raw(path, ProblemKind.DAMAGED, str(exc).removeprefix(f"DMG {path}: "))
    tail = min(UDIF_TRAILER, media.size)
    try:
        short = media.size == 0 or len(media.read(media.size - tail, tail)) < tail
    except OSError:
        short = False  # a chunk that fails to inflate: the survey says the end is unreadable, the rest is read
    if short:
        media.close()
        return _udif_read_as_raw(path, ProblemKind.DAMAGED, f"its chunk tables give {media.size:,} bytes of media, "
                                 "but reads of them end before that")
    stated = struct.unpack_from(">Q", trailer, 492)[0] * 512  # libmodi sizes the media from the chunk tables
    if stated != media.size:
        media.info = replace(media.info, problems=(Problem(ProblemKind.DAMAGED, (
            f"its trailer says the media is {stated:,} bytes, its chunk tables {media.size:,}: read as the chunk "
            "tables say")),))
    return media


def _udif_read_as_raw(path: Path, kind: ProblemKind, why: str) -> MediaReader:
    media = _open_raw(path, "raw", [path])
    media.info = replace(media.info, problems=(Problem(kind, (
        f"an Apple disk image (UDIF .dmg) that cannot be read as one ({why[:300]}): read as raw bytes, so only what it "
        "holds uncompressed can be found")),))
    return media
