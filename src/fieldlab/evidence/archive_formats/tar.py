"""Tar archives of every flavour Python's ``tarfile`` reads; a member cut short by the archive's end keeps what
lies before the cut."""

from __future__ import annotations

import contextlib
import tarfile
from typing import BinaryIO, Iterator

from fieldlab.evidence.archives import (
    DAMAGE,
    MAX_MEMBERS,
    ArchiveError,
    BoundedMember,
    ByteWindow,
    Member,
    MemberOpener,
    Passwords,
    as_binary,
    bomb_problem,
)
from fieldlab.problems import ProblemKind


def list_tar(stream: BinaryIO, _passwords: Passwords = ()) -> Iterator[Member]:
    stream.seek(0)  # tarfile reads from where the stream stands; a listing or an opener may have moved it
    with tarfile.open(fileobj=stream, mode="r:") as archive:
        for index, info in enumerate(_tar_entries(archive)):
            if info.isreg():
                yield Member(index, info.name.encode("utf-8", "surrogateescape"), info.size, info.size,
                             float(info.mtime) if info.mtime else None, problem=bomb_problem(info.size, None))


def _tar_entries(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for count, info in enumerate(archive):
        if count == MAX_MEMBERS:
            raise ArchiveError(f"more than {MAX_MEMBERS:,} members: the rest not listed", ProblemKind.LIMIT)
        yield info


def tar_opener(stream: BinaryIO, _passwords: Passwords = ()) -> MemberOpener:
    stream.seek(0)
    archive = tarfile.open(fileobj=stream, mode="r:")
    entries: list[tarfile.TarInfo] = []
    with contextlib.suppress(ArchiveError, *DAMAGE):  # a cut or damaged tail: the entries before it are still read
        entries.extend(_tar_entries(archive))

    def open_member(index: int, name: bytes) -> BinaryIO:
        info = entries[index] if index < len(entries) else None
        if info is None or not info.isreg() or info.name.encode("utf-8", "surrogateescape") != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        if info.issparse():
            sparse = archive.extractfile(info)
            assert sparse is not None, "tarfile gives every regular member a file object"
            return as_binary(BoundedMember(sparse, info.size))
        # read where the content lies, not through tarfile, which refuses a member cut short by the archive's end
        return as_binary(BoundedMember(ByteWindow(stream, info.offset_data, info.size), info.size))

    return open_member

