"""What every container format shares: the member record, the archive error, the limits, and bounded reading.

The formats themselves (zip, tar, compressed streams, 7z, RAR, and the
documents, pictures, caches and backups read as containers) live one family a
module in ``fieldlab.evidence.archive_formats``; its ``registry`` says which
kind is opened by which module.

A member is addressed by a ``member`` locator layer ``"<index>:<name>"``: the
index (its place in the archive's directory) keeps two members of one name
apart, which hostile archives use to hide a file behind a harmless one.

Everything here reads suspect-made bytes, so every promise the archive makes
is bounded: members per archive, bytes expanded per member (a member that
expands past its declared size or past ``MAX_MEMBER_BYTES`` is stopped), and
the ratio of declared to stored size (a member claiming over ``MAX_RATIO``
times its stored size and over 64 MiB is refused as a decompression bomb).
Nesting depth is bounded by the caller, by counting locator layers.

A member that ends early (a cut archive), stops on damage, or trips the
bomb rule while expanding is not lost: what was read before the stop is its
content, and the stream's ``problem`` says why it stopped and how much was
read (the reader flags the item ``truncated``).
"""

from __future__ import annotations

import contextlib
import io
import lzma
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, BinaryIO, Callable, cast

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

from fieldlab.errors import EvidenceError
from fieldlab.problems import Problem, ProblemKind

MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 8 << 30
MAX_RATIO = 1000  # deflate tops out near 1032:1; beyond that a declared size is a lie or a bomb
BOMB_FLOOR = 64 << 20  # small members may have any ratio (a file of zeros compresses 1000:1)
MAX_DEPTH = 5  # archives within archives within ...: the default; scan --max-depth raises it for one scan
KEEP_LAST = 32 << 20  # a member read forward in one pass (RAR, a cut zip) is kept for a second open up to this
Passwords = tuple[str, ...]  # supplied by the examiner, tried in turn on encrypted members; never stored


class ArchiveError(EvidenceError):
    """The archive (or one member) cannot be listed or read; the message says why, for the item's error, and
    ``kind`` what sort of problem it is."""

    def __init__(self, message: str, kind: ProblemKind = ProblemKind.DAMAGED) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def problem(self) -> Problem:
        return Problem(self.kind, str(self))


@dataclass(frozen=True)
class Member:
    index: int
    name: bytes
    size: int | None  # declared, uncompressed; None when the format does not say (a gzip stream)
    stored: int | None  # bytes it takes in the archive
    mtime: float | None
    encrypted: bool = False
    problem: str | None = None  # listed but not to be read: encrypted, a bomb, not a regular file
    label: bytes | None = None  # what to show when it is not the name (a thumbnail's original file name)

    @property
    def key(self) -> bytes:
        return b"%d:%s" % (self.index, self.name)


def parse_key(value: bytes) -> tuple[int, bytes]:
    index, colon, name = value.partition(b":")
    if not colon or not index.isdigit():
        raise ArchiveError(f"not an archive member address: {value[:80]!r}")
    return int(index), name


# what the archive libraries raise on bytes that are not what the signature promised (zlib and lzma raise their own)
DAMAGE = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, KeyError,
          RuntimeError, NotImplementedError)


MemberOpener = Callable[[int, bytes], BinaryIO]


def locked_message(passwords: Passwords) -> str:
    if not passwords:
        return "encrypted: its content needs the password"
    return f"encrypted: none of the {len(passwords)} supplied passwords opens it"


def password_bytes(passwords: Passwords) -> list[bytes]:
    """Each password as the bytes an archiver may have stored it in: UTF-8 (Info-ZIP, 7-Zip), or the Windows
    and DOS code pages older Windows archivers used."""
    found: list[bytes] = []
    for password in passwords:
        for codec in ("utf-8", "cp1252", "cp437"):
            with contextlib.suppress(UnicodeEncodeError):
                if (encoded := password.encode(codec)) not in found:
                    found.append(encoded)
    return found


def bomb_problem(size: int | None, stored: int | None) -> str | None:
    if size is None:
        return None
    if size > MAX_MEMBER_BYTES:
        return f"declares {size:,} bytes, over the {MAX_MEMBER_BYTES:,} limit: not expanded"
    if stored is not None and size > BOMB_FLOOR and size > MAX_RATIO * max(stored, 1):
        return f"declares {size:,} bytes from {stored:,} stored: a decompression bomb, not expanded"
    return None


def head_of(stream: BinaryIO) -> bytes:
    stream.seek(0)
    return stream.read(64)


class Expanded(io.BytesIO):
    """A member already expanded in memory, with the problem that stopped its expansion, if one did."""

    def __init__(self, data: bytes, problem: Problem | None) -> None:
        super().__init__(data)
        self.problem = problem


class BoundedMember(io.RawIOBase):
    """A member's content, stopped at its declared size (when known) and at ``MAX_MEMBER_BYTES``.

    A member that ends before its declared size, fails to expand part way (a bad CRC, a cut or corrupt stream) or
    expands past its bound stops there: what was read is its content, and ``problem`` says why it stopped and how
    much was read.  Nothing is raised, so the prefix is hashed and searched like any content.
    """

    def __init__(self, inner: IO[bytes] | io.RawIOBase, declared: int | None) -> None:
        self._inner, self._declared, self._done = inner, declared, 0
        self._limit = MAX_MEMBER_BYTES if declared is None else min(declared, MAX_MEMBER_BYTES)
        self._problem: Problem | None = None

    @property
    def problem(self) -> Problem | None:
        return self._problem or getattr(self._inner, "problem", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        if self._problem is not None:
            return 0
        try:
            data = self._inner.read(min(len(view), self._limit - self._done + 1))
        except (ArchiveError, *DAMAGE) as exc:
            cut = isinstance(exc, EOFError) or (isinstance(exc, ArchiveError) and exc.kind is ProblemKind.TRUNCATED)
            self._problem = Problem(ProblemKind.TRUNCATED if cut else ProblemKind.DAMAGED,
                                    f"stopped by damage after {self._done:,} bytes{self._of_declared()}: {exc}")
            return 0
        if not data and self._declared is not None and self._done < self._declared and self.problem is None:
            self._problem = Problem(ProblemKind.TRUNCATED,
                                    f"cut short: {self._done:,} bytes readable{self._of_declared()}")
        if self._done + len(data) > self._limit:
            data = data[: self._limit - self._done]
            self._problem = Problem(
                ProblemKind.BOMB if self._limit == MAX_MEMBER_BYTES else ProblemKind.DAMAGED,
                f"expands past {self._limit:,} bytes{' (its declared size)' if self._limit == self._declared else ''}:"
                f" stopped there (a decompression bomb, or a size that lies)")
        view[: len(data)] = data
        self._done += len(data)
        return len(data)

    def _of_declared(self) -> str:
        return "" if self._declared is None else f" of {self._declared:,} declared"

    def close(self) -> None:
        self._inner.close()
        super().close()


def as_binary(stream: io.RawIOBase) -> BinaryIO:
    """One of our raw streams as the ``BinaryIO`` member openers return: at run time it is one (read, seek, tell,
    close, a context manager), but typeshed does not derive ``io.RawIOBase`` from ``typing.BinaryIO``."""
    return cast(BinaryIO, stream)


class ByteWindow(io.RawIOBase):
    """``length`` bytes of a seekable stream from ``offset``: a tar member's data, a carved run inside its file.
    ``past_end`` is the error to raise when the stream ends before the window does (a carved run must be whole);
    without it the window ends early, as a cut archive's last member does."""

    def __init__(self, stream: BinaryIO, offset: int, length: int, past_end: str | None = None) -> None:
        self._stream, self._offset, self._length, self._position = stream, offset, length, 0
        self._past_end = past_end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        wanted = min(len(view), self._length - self._position)
        if wanted <= 0:
            return 0
        self._stream.seek(self._offset + self._position)
        data = self._stream.read(wanted)
        if not data and self._past_end:
            raise ArchiveError(self._past_end)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)
