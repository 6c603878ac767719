"""An Android backup (``.ab``) as a container: the files of the tar inside are its members.

The tar is compressed (and often encrypted) as one stream, so it cannot be
seeked: listing is one forward pass, and reading keeps a cursor that moves
forward member by member.  Readers ask for members in order, so a scan
decrypts and inflates the backup about once per worker; asking for an
earlier member starts a new pass from the beginning.  Members are named as
in the backup (``apps/com.whatsapp/ef/WhatsApp/Media/...``): the app's
package name is the second component, which is how ``phone.apps`` places them.
"""

from __future__ import annotations

import io
import tarfile
from typing import BinaryIO, Iterator

from fieldlab.evidence.archives import (
    KEEP_LAST,
    MAX_MEMBERS,
    ArchiveError,
    BoundedMember,
    Member,
    MemberOpener,
    Passwords,
    as_binary,
)
from fieldlab.evidence.phone.android_backup import AndroidBackupError, open_backup_tar
from fieldlab.problems import Problem, ProblemKind

KIND = "android-backup"


def list_backup_members(stream: BinaryIO, passwords: Passwords) -> Iterator[Member | Problem]:
    """Members, then the problem that ended the listing early: an encrypted backup without its password lists
    nothing, a truncated one lists what came before the damage."""
    try:
        for index, info in _entries(stream, passwords):
            if info.isreg():
                yield Member(index, info.name.encode("utf-8", "surrogateescape"), info.size, None,
                             float(info.mtime) if info.mtime else None)
    except (AndroidBackupError, tarfile.TarError, EOFError, OSError) as exc:
        yield exc.problem if isinstance(exc, AndroidBackupError) else Problem(ProblemKind.DAMAGED, f"Android backup: {exc}")


def backup_opener(stream: BinaryIO, passwords: Passwords) -> MemberOpener:
    cursor = _Cursor(stream, passwords)

    def open_member(index: int, name: bytes) -> BinaryIO:
        return cursor.read(index, name)

    return open_member


class _Cursor:
    """One forward pass over the backup's tar, restarted only when a member behind it is wanted."""

    def __init__(self, stream: BinaryIO, passwords: Passwords) -> None:
        self._stream, self._passwords = stream, passwords
        self._pass: tuple[tarfile.TarFile, Iterator[tuple[int, tarfile.TarInfo]]] | None = None
        self._position = -1
        self._last: tuple[int, bytes] | None = None  # a reader opens a picture again for its EXIF thumbnail

    def read(self, index: int, name: bytes) -> BinaryIO:
        if self._last is not None and self._last[0] == index:
            return io.BytesIO(self._last[1])
        if self._pass is None or index <= self._position:
            self._pass = self._restart()
        archive, entries = self._pass
        try:
            for position, info in entries:
                self._position = position
                if position < index:
                    continue
                if position > index or info.name.encode("utf-8", "surrogateescape") != name or not info.isreg():
                    break
                data = archive.extractfile(info)
                assert data is not None, "tarfile gives every regular member a file object"
                content = BoundedMember(data, info.size)
                if info.size > KEEP_LAST:
                    return as_binary(content)  # read before the pass moves on: readers finish one member before the next
                self._last = (index, content.read())
                return io.BytesIO(self._last[1])
        except (AndroidBackupError, tarfile.TarError, EOFError, OSError) as exc:
            self._pass = None
            raise ArchiveError(f"Android backup: {exc}") from exc
        self._pass = None
        raise ArchiveError(f"member {index} is not {name[:80]!r} in this backup")

    def _restart(self) -> tuple[tarfile.TarFile, Iterator[tuple[int, tarfile.TarInfo]]]:
        self._pass = None
        self._stream.seek(0)
        tar_stream = open_backup_tar(self._stream, self._passwords)
        archive = tarfile.open(fileobj=io.BufferedReader(tar_stream, 1 << 20), mode="r|")
        self._position = -1
        return archive, _numbered(archive)


def _entries(stream: BinaryIO, passwords: Passwords) -> Iterator[tuple[int, tarfile.TarInfo]]:
    stream.seek(0)
    archive = tarfile.open(fileobj=io.BufferedReader(open_backup_tar(stream, passwords), 1 << 20), mode="r|")
    yield from _numbered(archive)


def _numbered(archive: tarfile.TarFile) -> Iterator[tuple[int, tarfile.TarInfo]]:
    for index, info in enumerate(archive):
        if index == MAX_MEMBERS:
            raise ArchiveError(f"more than {MAX_MEMBERS:,} members: the rest not listed")
        yield index, info
