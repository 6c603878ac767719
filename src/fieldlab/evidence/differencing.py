"""Differencing disk images (VHD/VHDX, QCOW2 over a backing file, VMDK and VDI snapshots): finding each parent, opening
the chain.

A child holds only what was written after its parent was frozen; every other read falls through to the parent, so
without it the child is not a disk at all.  The parent's name (and, for VHD/VHDX and VMDK, its identifier) is
written in the child (a VDI writes the identifier only): suspect-controlled.  Only the last component of that name is used, and it is looked for only
in the folder holding the child and in the places the examiner gives (``--parent``: files or folders), never at a
path the image names; symbolic links are not followed.  Where the format gives identifiers the parent must carry
the one its child names (VHD/VHDX, VMDK, VDI): a parent changed since the snapshot would make a disk that never existed.  A QCOW2 names
its backing file only, so the name decides, or the examiner's word.  A chain longer than ``MAX_CHAIN`` layers, or
one that meets a file twice, ends as incomplete.
"""

from __future__ import annotations

import itertools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pymodi
import pyqcow
import pyvhdi
import pyvmdk

from fieldlab.evidence.vdi import VdiReader, is_vdi
from fieldlab.problems import Problem

MAX_CHAIN = 16  # layers, the child included; real snapshot trees are a handful deep
MAX_FOLDER_ENTRIES = 10_000  # entries of a folder looked at when a parent is searched by its identifier
_VHD_DIFFERENTIAL = 4
_VMDK_NO_PARENT = 0xFFFFFFFF
UDIF_TRAILER = 512  # an Apple disk image (UDIF .dmg) ends with this "koly" block


@dataclass(frozen=True)
class ChainLink:
    """One file of a differencing chain, as the exhibit records it: what was opened, and what it asked for."""

    path: str
    identifier: str | None  # the VHD/VHDX GUID or VMDK content id; QCOW2 has none
    parent_name: str | None  # the parent as this file names it (None: the base of the chain)
    parent_identifier: str | None


@dataclass(frozen=True)
class LayeredFormat:
    """How one container format read through a libyal handle opens a file and names its parent (a UDIF .dmg and a
    QCOW2 without a backing file name none)."""

    kind: str
    is_format: Callable[[str], bool]
    open: Callable[[str], Any]
    parent_name: Callable[[Any], str | None]
    identifier: Callable[[Any], str | None]
    parent_identifier: Callable[[Any], str | None]
    problems: Callable[[Any], tuple[Problem, ...]] = lambda h: ()  # what is wrong with a file that still reads


def _open_vhd(path: str) -> Any:
    handle = pyvhdi.file()
    handle.open(path, "r")
    return handle


def _open_qcow(path: str) -> Any:
    handle = pyqcow.file()
    handle.open(path, "r")
    return handle


def _open_vmdk(path: str) -> Any:
    handle = pyvmdk.handle()
    handle.open(path, "r")
    handle.open_extent_data_files()
    return handle


def is_vmdk_descriptor(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(64).lstrip().startswith(b"# Disk DescriptorFile")


def is_udif(path: Path) -> bool:
    """Whether the file ends with a UDIF trailer: the only mark a .dmg carries (its data fork starts with the first
    compressed chunk).  libmodi's own signature check also takes a sparse image's "sprs" head, which is not read.
    A file that cannot be read is no UDIF: opening it says why."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) < UDIF_TRAILER:
                return False
            f.seek(-UDIF_TRAILER, os.SEEK_END)
            return f.read(4) == b"koly"
    except OSError:
        return False


def _open_udif(path: str) -> Any:
    handle = pymodi.handle()
    handle.open(path, "r")
    return handle


def _vdi_parent(handle: VdiReader) -> str | None:
    """A VDI names no parent file, only its identifier: an empty name, so the parent is searched by identifier."""
    return None if handle.header.parent_identifier is None else ""


def _vhd_is_child(handle: Any) -> bool:
    return handle.get_disk_type() == _VHD_DIFFERENTIAL


def _vmdk_id(value: int | None) -> str | None:
    return None if value is None or value == _VMDK_NO_PARENT else f"{value:08x}"


FORMATS = {
    "vhd": LayeredFormat(
        "vhd", pyvhdi.check_file_signature, _open_vhd,
        lambda h: h.get_parent_filename() if _vhd_is_child(h) else None,
        lambda h: str(h.get_identifier()).lower(),
        lambda h: str(h.get_parent_identifier()).lower() if _vhd_is_child(h) else None,
    ),
    "qcow2": LayeredFormat(
        "qcow2", pyqcow.check_file_signature, _open_qcow, lambda h: h.get_backing_filename(),
        lambda h: None, lambda h: None,
    ),
    "vmdk": LayeredFormat(
        "vmdk", lambda p: bool(pyvmdk.check_file_signature(p)) or is_vmdk_descriptor(Path(p)), _open_vmdk, lambda h: h.get_parent_filename(),
        lambda h: _vmdk_id(h.get_content_identifier()), lambda h: _vmdk_id(h.get_parent_content_identifier()),
    ),
    "vdi": LayeredFormat(
        "vdi", is_vdi, VdiReader, _vdi_parent, lambda h: str(h.header.identifier),
        lambda h: None if h.header.parent_identifier is None else str(h.header.parent_identifier),
        lambda h: h.problems,
    ),
    "dmg": LayeredFormat(
        "dmg", lambda p: is_udif(Path(p)), _open_udif, lambda h: None, lambda h: None, lambda h: None,
    ),
}


@dataclass
class OpenedChain:
    handles: list[Any]  # the child first; each one's parent set on it when the chain is complete
    links: tuple[ChainLink, ...]
    missing: str | None  # why the chain could not be completed, in the examiner's words


class _NoParent(Exception):
    pass


def open_chain(path: Path, fmt: LayeredFormat, handle: Any, given: Sequence[Path] = ()) -> OpenedChain:
    """The chain of ``handle`` (opened from ``path``) down to its base, its parents found in the allowed places.

    An incomplete chain is returned with ``missing`` set and no parent attached: reads of the child then fail,
    which is the truth; the caller reports it."""
    handles, links, seen = [handle], [], {key for key in (_file_key(path),) if key is not None}
    current_path, current, missing = path, handle, None
    while True:
        link = ChainLink(str(current_path), fmt.identifier(current), fmt.parent_name(current),
                         fmt.parent_identifier(current))
        links.append(link)
        if link.parent_name is None:
            break
        if len(links) >= MAX_CHAIN:
            missing = f"{path.name} is a chain of more than {MAX_CHAIN} differencing images: not opened"
            break
        try:
            current_path, current = _find_parent(fmt, link, Path(current_path), given, seen)
        except _NoParent as exc:
            missing = str(exc)
            break
        handles.append(current)
    if missing is None:
        for child, parent in reversed(list(zip(handles, handles[1:]))):  # each parent complete before its child
            child.set_parent(parent)
    return OpenedChain(handles, tuple(links), missing)


def _find_parent(fmt: LayeredFormat, link: ChainLink, child: Path, given: Sequence[Path],
                 seen: set[tuple[int, int]]) -> tuple[Path, Any]:
    wanted = last_component(link.parent_name or "")
    notes: list[str] = []
    for candidate, by_examiner in _candidates(wanted, child.parent, given, by_identifier=bool(link.parent_identifier)):
        key = _file_key(candidate)
        named = candidate.name == wanted or by_examiner
        if key is None:
            continue
        if key in seen:
            if named:
                notes.append(f"{candidate} is already a layer of this chain (a loop)")
            continue
        try:
            if not fmt.is_format(str(candidate)):
                if named:
                    notes.append(f"{candidate} is not a {fmt.kind.upper()} image")
                continue
            handle = fmt.open(str(candidate))
        except OSError as exc:
            if named:
                notes.append(f"{candidate} cannot be opened: {exc}")
            continue
        identifier = fmt.identifier(handle)
        if link.parent_identifier and identifier != link.parent_identifier:
            if named:
                notes.append(f"{candidate} has identifier {identifier}, not {link.parent_identifier}: it changed "
                             "after the child was made, or is another disk")
            handle.close()
            continue
        if link.parent_identifier or named:
            seen.add(key)
            return candidate, handle
        handle.close()
    wanted_text = " ".join(filter(None, (repr(wanted) if wanted else "", f"(identifier {link.parent_identifier})"
                                         if link.parent_identifier else "")))
    places = ", ".join(str(p) for p in dict.fromkeys([child.parent, *given]))
    raise _NoParent(
        f"{child.name} is a differencing image: its parent {wanted_text} was not found in {places}"
        + "".join(f"; {note}" for note in list(dict.fromkeys(notes))[:3])
        + ". Put the parent beside it or give it with --parent PATH"
    )


def _candidates(wanted: str, folder: Path, given: Sequence[Path], by_identifier: bool) -> Iterator[tuple[Path, bool]]:
    """Where a parent may be, most likely first: the examiner's files (the named one first), then the named file
    in each allowed folder, then (when the parent has an identifier) every file of those folders."""
    files = [Path(p) for p in given if not Path(p).is_dir()]
    folders = list(dict.fromkeys([folder, *(Path(p) for p in given if Path(p).is_dir())]))
    yield from ((f, True) for f in sorted(files, key=lambda f: f.name != wanted))
    if wanted:
        yield from ((f / wanted, False) for f in folders)
    if by_identifier:
        for f in folders:
            yield from ((entry, False) for entry in _folder_files(f))


def _folder_files(folder: Path) -> Iterator[Path]:
    try:
        with os.scandir(folder) as entries:
            listed = [Path(e.path) for e in itertools.islice(entries, MAX_FOLDER_ENTRIES)]
    except OSError:
        return iter(())
    return iter(sorted(listed))


def last_component(name: str) -> str:
    """The file name an image gives its parent, without any folder (Windows or POSIX): never a way out."""
    component = name.replace("\\", "/").rstrip("/").rpartition("/")[2]
    return "" if component in (".", "..") else component


def _file_key(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a regular file that is not a symbolic link; None for anything else."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None
