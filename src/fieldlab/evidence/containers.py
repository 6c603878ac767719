"""Disk images and devices as one read-only byte range: raw, split raw, EWF, VMDK, VHD/VHDX, QCOW2, block devices.

The container is recognised by content (signatures checked by the libyal
libraries themselves), never by extension; split sets are found from the first
segment's name.  Everything is opened read-only: the libyal handles are opened
in mode "r", raw files and devices with O_RDONLY, so no code path can write.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyewf
import pyqcow
import pysmraw
import pyvhdi
import pyvmdk


class ContainerError(Exception):
    """The image cannot be opened; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ContainerInfo:
    kind: str  # raw | split-raw | ewf | vmdk | vhd | qcow2 | device
    segments: tuple[str, ...]
    media_size: int
    bytes_per_sector: int = 512
    stored_hashes: dict[str, str] = field(default_factory=dict)  # e.g. {"md5": ..., "sha1": ...} from EWF
    headers: dict[str, str] = field(default_factory=dict)  # EWF case number, examiner, acquisition date...


class _Handle(Protocol):
    def read_buffer_at_offset(self, size: int, offset: int) -> bytes: ...
    def close(self) -> None: ...


class MediaReader:
    """Positional reads over the whole media, whatever the container."""

    def __init__(self, info: ContainerInfo, handle: _Handle | None = None, fd: int | None = None) -> None:
        self.info = info
        self._handle = handle
        self._fd = fd

    @property
    def size(self) -> int:
        return self.info.media_size

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size or size <= 0:
            return b""
        size = min(size, self.size - offset)
        if self._fd is not None:
            return os.pread(self._fd, size, offset)
        return self._handle.read_buffer_at_offset(size, offset)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None


_SPLIT_NUMERIC = re.compile(r"^(?P<stem>.+)\.(?P<n>\d{3})$")
_SPLIT_ALPHA = re.compile(r"^(?P<stem>.+)\.(?P<n>[a-z]{2})$")
_EWF_HEADERS = ("case_number", "evidence_number", "description", "examiner_name", "notes", "acquiry_date",
                "system_date", "acquiry_operating_system", "acquiry_software", "acquiry_software_version", "model",
                "serial_number")


def open_container(path: Path) -> MediaReader:
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ContainerError(f"{path}: {exc.strerror}") from None
    if stat.S_ISBLK(st.st_mode):
        return _open_raw(path, "device", [path])
    if not stat.S_ISREG(st.st_mode):
        raise ContainerError(f"{path} is neither an image file nor a block device")
    name = str(path)
    try:
        if pyewf.check_file_signature(name):
            return _open_ewf(path)
        if pyqcow.check_file_signature(name):
            return _open_libyal(path, "qcow2", pyqcow.file())
        if pyvhdi.check_file_signature(name):
            return _open_libyal(path, "vhd", pyvhdi.file())
        if pyvmdk.check_file_signature(name) or _is_vmdk_descriptor(path):
            return _open_vmdk(path)
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


def _is_vmdk_descriptor(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(64).lstrip().startswith(b"# Disk DescriptorFile")


def _open_raw(path: Path, kind: str, segments: list[Path]) -> MediaReader:
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
    return MediaReader(info, handle)


def _open_libyal(path: Path, kind: str, handle: _Handle) -> MediaReader:
    handle.open(str(path), "r")
    return MediaReader(ContainerInfo(kind, (str(path),), handle.get_media_size()), handle)


def _open_vmdk(path: Path) -> MediaReader:
    handle = pyvmdk.handle()
    handle.open(str(path), "r")
    try:
        handle.open_extent_data_files()
    except OSError as exc:
        raise ContainerError(f"VMDK {path}: its extent files cannot be opened: {exc}") from None
    return MediaReader(ContainerInfo("vmdk", (str(path),), handle.get_media_size()), handle)
