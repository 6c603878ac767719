"""Archives and container files as nested evidence: list their members, and open one member as a stream.

A member is addressed by a ``member`` locator layer ``"<index>:<name>"``: the
index (its place in the archive's directory) keeps two members of one name
apart, which hostile archives use to hide a file behind a harmless one.

Everything here reads suspect-made bytes, so every promise the archive makes
is bounded: members per archive, bytes expanded per member (a member that
expands past its declared size or past ``MAX_MEMBER_BYTES`` is stopped), and
the ratio of declared to stored size (a member claiming over ``MAX_RATIO``
times its stored size and over 64 MiB is refused as a decompression bomb).
Nesting depth is bounded by the caller, by counting locator layers.

Libraries: Python's ``zipfile``, ``tarfile``, ``gzip``, ``bz2`` and ``lzma``
(zip including zip64 and OOXML/ODF/EPUB, tar of every flavour, and the three
single-stream compressors); ``py7zr`` for 7z.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, TypeVar

_T = TypeVar("_T")
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 8 << 30
MAX_RATIO = 1000  # deflate tops out near 1032:1; beyond that a declared size is a lie or a bomb
BOMB_FLOOR = 64 << 20  # small members may have any ratio (a file of zeros compresses 1000:1)
MAX_DEPTH = 5  # archives within archives within ... a depth the examiner can raise

CONTAINER_KINDS = {  # file type label (fieldlab.detect.filetype) -> how it is opened
    "zip": "zip", "ooxml": "zip", "odf": "zip", "epub": "zip",
    "tar": "tar", "gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "7z": "7z",
}


class ArchiveError(Exception):
    """The archive (or one member) cannot be listed or read; the message says why, for the item's error."""


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


def list_members(stream: BinaryIO, kind: str) -> Iterator[Member]:
    """Members in directory order; regular files only (folders and links carry no content of their own)."""
    try:
        yield from _LISTERS[kind](stream)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError, KeyError, RuntimeError) as exc:
        raise ArchiveError(f"damaged {kind} archive: {exc}") from exc


MemberOpener = Callable[[int, bytes], BinaryIO]


def member_opener(stream: BinaryIO, kind: str) -> MemberOpener:
    """Reads the archive's directory once; the opener it returns gives one member's content as a readable stream,
    stopped at its declared size and at ``MAX_MEMBER_BYTES``.

    Parsing the directory per member made a zip of 20,000 members take over ten minutes (each member re-read the
    whole central directory); callers keep the opener for the members that follow.
    """
    opener = _guarded(kind, "open", lambda: _OPENERS[kind](stream))
    return lambda index, name: _guarded(kind, f"open member {index} of", lambda: opener(index, name))


def _guarded(kind: str, what: str, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError, KeyError, RuntimeError) as exc:
        raise ArchiveError(f"cannot {what} the {kind} archive: {exc}") from exc


def _bomb(size: int | None, stored: int | None) -> str | None:
    if size is None:
        return None
    if size > MAX_MEMBER_BYTES:
        return f"declares {size:,} bytes, over the {MAX_MEMBER_BYTES:,} limit: not expanded"
    if stored is not None and size > BOMB_FLOOR and size > MAX_RATIO * max(stored, 1):
        return f"declares {size:,} bytes from {stored:,} stored: a decompression bomb, not expanded"
    return None


# zip ---------------------------------------------------------------------------------


def _zip_list(stream: BinaryIO) -> Iterator[Member]:
    with zipfile.ZipFile(stream) as archive:
        for index, info in enumerate(archive.infolist()[:MAX_MEMBERS + 1]):
            if index == MAX_MEMBERS:
                raise ArchiveError(f"more than {MAX_MEMBERS:,} members: the rest not listed")
            if info.is_dir():
                continue
            encrypted = bool(info.flag_bits & 0x1)
            problem = "encrypted: its content needs the password" if encrypted else _bomb(info.file_size, info.compress_size)
            yield Member(index, _zip_name(info), info.file_size, info.compress_size, _zip_time(info), encrypted, problem)


def _zip_name(info: zipfile.ZipInfo) -> bytes:
    """The name as stored: UTF-8 when flagged, else the cp437 bytes zipfile decoded it from."""
    if info.flag_bits & 0x800:
        return info.filename.encode("utf-8", "surrogateescape")
    try:
        return info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename.encode("utf-8", "surrogateescape")


def _zip_time(info: zipfile.ZipInfo) -> float | None:
    import calendar

    try:
        return float(calendar.timegm((*info.date_time, 0, 0, 0)))  # DOS time has no zone: read as UTC, as TSK does
    except (OverflowError, ValueError):
        return None


def _zip_opener(stream: BinaryIO) -> MemberOpener:
    archive = zipfile.ZipFile(stream)
    infos = archive.infolist()

    def open_member(index: int, name: bytes) -> BinaryIO:
        if index >= len(infos) or _zip_name(infos[index]) != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        info = infos[index]
        if problem := ("encrypted: its content needs the password" if info.flag_bits & 0x1 else None) or _bomb(
            info.file_size, info.compress_size
        ):
            raise ArchiveError(problem)
        return _Bounded(archive.open(info), info.file_size)

    return open_member


# tar ---------------------------------------------------------------------------------


def _tar_list(stream: BinaryIO) -> Iterator[Member]:
    with tarfile.open(fileobj=stream, mode="r:") as archive:
        for index, info in enumerate(_tar_entries(archive)):
            if info.isreg():
                yield Member(index, info.name.encode("utf-8", "surrogateescape"), info.size, info.size,
                             float(info.mtime) if info.mtime else None, problem=_bomb(info.size, None))


def _tar_entries(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for count, info in enumerate(archive):
        if count == MAX_MEMBERS:
            raise ArchiveError(f"more than {MAX_MEMBERS:,} members: the rest not listed")
        yield info


def _tar_opener(stream: BinaryIO) -> MemberOpener:
    archive = tarfile.open(fileobj=stream, mode="r:")
    entries = list(_tar_entries(archive))

    def open_member(index: int, name: bytes) -> BinaryIO:
        info = entries[index] if index < len(entries) else None
        member = archive.extractfile(info) if info is not None and info.isreg() else None
        if member is None or info.name.encode("utf-8", "surrogateescape") != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        return _Bounded(member, info.size)

    return open_member


# single-stream compressors -------------------------------------------------------------


def _single_list(opener: Callable[[BinaryIO], BinaryIO], default_name: bytes) -> Callable[[BinaryIO], Iterator[Member]]:
    def listing(stream: BinaryIO) -> Iterator[Member]:
        stream.seek(0)
        with opener(stream) as expanded:
            expanded.read(1)  # fails here on a stream that is not what its signature says
        yield Member(0, _gzip_name(stream) or default_name, None, None, None)

    return listing


def _single_opener(opener: Callable[[BinaryIO], BinaryIO]) -> Callable[[BinaryIO], MemberOpener]:
    def opening(stream: BinaryIO) -> MemberOpener:
        def open_member(index: int, name: bytes) -> BinaryIO:
            if index != 0:
                raise ArchiveError("a compressed stream has one member")
            stream.seek(0)
            return _Bounded(opener(stream), None)

        return open_member

    return opening


def _gzip_name(stream: BinaryIO) -> bytes | None:
    """The original file name a gzip header may carry (FNAME), bounded; None for the other formats."""
    stream.seek(0)
    header = stream.read(10 + 1024)
    if not header.startswith(b"\x1f\x8b") or len(header) < 10 or not header[3] & 0x08:
        return None
    start = 10
    if header[3] & 0x04:  # FEXTRA comes first
        start += 2 + int.from_bytes(header[10:12], "little")
    end = header.find(b"\0", start)
    return header[start:end] if end > start else None


# 7z ----------------------------------------------------------------------------------


def _7z_list(stream: BinaryIO) -> Iterator[Member]:
    import py7zr

    try:
        archive = py7zr.SevenZipFile(stream, mode="r")
    except py7zr.exceptions.PasswordRequired:
        raise ArchiveError("encrypted 7z archive: its member names are encrypted too") from None
    except (py7zr.exceptions.Bad7zFile, py7zr.exceptions.UnsupportedCompressionMethodError) as exc:
        raise ArchiveError(f"damaged or unsupported 7z archive: {exc}") from exc
    with archive:
        encrypted = archive.needs_password()
        for index, info in enumerate(archive.list()[:MAX_MEMBERS]):
            if info.is_directory:
                continue
            problem = "encrypted: its content needs the password" if encrypted else _bomb(info.uncompressed, info.compressed)
            mtime = info.creationtime.timestamp() if info.creationtime else None
            yield Member(index, info.filename.encode("utf-8", "surrogateescape"), info.uncompressed, info.compressed,
                         mtime, encrypted, problem)


def _7z_opener(stream: BinaryIO) -> MemberOpener:
    return lambda index, name: _7z_member(stream, index, name)  # py7zr extracts per call: nothing to keep


def _7z_member(stream: BinaryIO, index: int, name: bytes) -> BinaryIO:
    import py7zr
    import py7zr.io

    with py7zr.SevenZipFile(stream, mode="r") as archive:
        infos = archive.list()
        if index >= len(infos) or infos[index].filename.encode("utf-8", "surrogateescape") != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        info = infos[index]
        if problem := _bomb(info.uncompressed, info.compressed):
            raise ArchiveError(problem)
        # py7zr extracts whole members: bounded above by the declared size, which its buffer also caps
        factory = py7zr.io.BytesIOFactory(min(info.uncompressed or 0, MAX_MEMBER_BYTES))
        archive.extract(targets=[info.filename], factory=factory)
        product = factory.products.get(info.filename)
    if product is None:
        raise ArchiveError(f"member {index} could not be extracted")
    product.seek(0)
    return io.BytesIO(product.read())


# bounded reading -------------------------------------------------------------------------


class _Bounded(io.RawIOBase):
    """A member's stream that refuses to expand past its declared size (when known) or ``MAX_MEMBER_BYTES``."""

    def __init__(self, inner: BinaryIO, declared: int | None) -> None:
        self._inner, self._limit, self._done = inner, MAX_MEMBER_BYTES if declared is None else declared, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._inner.read(len(buffer))
        if self._done + len(data) > self._limit:
            raise ArchiveError(f"expands past {self._limit:,} bytes: stopped (a decompression bomb, or a size that lies)")
        buffer[: len(data)] = data
        self._done += len(data)
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


_LISTERS: dict[str, Callable[[BinaryIO], Iterator[Member]]] = {
    "zip": _zip_list,
    "tar": _tar_list,
    "gzip": _single_list(lambda s: gzip.GzipFile(fileobj=s, mode="rb"), b"content"),
    "bzip2": _single_list(lambda s: bz2.BZ2File(s, mode="rb"), b"content"),
    "xz": _single_list(lambda s: lzma.LZMAFile(s, mode="rb"), b"content"),
    "7z": _7z_list,
}
_OPENERS: dict[str, Callable[[BinaryIO], MemberOpener]] = {
    "zip": _zip_opener,
    "tar": _tar_opener,
    "gzip": _single_opener(lambda s: gzip.GzipFile(fileobj=s, mode="rb")),
    "bzip2": _single_opener(lambda s: bz2.BZ2File(s, mode="rb")),
    "xz": _single_opener(lambda s: lzma.LZMAFile(s, mode="rb")),
    "7z": _7z_opener,
}
