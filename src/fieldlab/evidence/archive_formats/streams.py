"""Single compressed streams (gzip, bzip2, xz, zstd): one member, the expanded content.

Expanded here chunk by chunk (``_Expanding``, members or frames one after another), so the compressed bytes
consumed are known and the ratio rule applies as the stream expands: past ``BOMB_FLOOR`` of output, more than
``MAX_RATIO`` times the input stops it.  Libraries: ``zlib``, ``bz2``, ``lzma`` and ``zstandard``.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator

from fieldlab.evidence.archives import (
    BOMB_FLOOR,
    MAX_MEMBER_BYTES,
    MAX_RATIO,
    ArchiveError,
    BoundedMember,
    Member,
    MemberOpener,
    Passwords,
    as_binary,
)
from fieldlab.problems import Problem, ProblemKind

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_INPUT_CHUNK = 16 << 10  # small: bz2 and lzma hide the input they hold, so the bytes consumed are known to a chunk
_ZSTD_INPUT_CHUNK = 1 << 10  # zstd's decompressor cannot bound its output: 1 KiB of input makes at most ~32 MiB
_OUTPUT_CHUNK = 1 << 20


class _Decompressor:
    """zlib's, bz2's, lzma's and zstandard's decompressors behind one face: feed input, get bounded output."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._inner: Any  # the four decompressors share this face but no base class
        if kind == "gzip":
            self._inner = zlib.decompressobj(31)
        elif kind == "bzip2":
            self._inner = bz2.BZ2Decompressor()
        elif kind == "xz":
            self._inner = lzma.LZMADecompressor(lzma.FORMAT_XZ)
        else:
            import zstandard

            self._inner = zstandard.ZstdDecompressor().decompressobj()
        self._held = b""  # input given but not yet taken (zlib's unconsumed tail)

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def leftover(self) -> bytes:
        """After the end of its stream: the input given that lies past it (the next member's start).  zlib keeps
        it in ``unused_data`` (its unconsumed tail repeats it); zstd is fed in steps, so the rest is still here."""
        return self._inner.unused_data + (self._held if self._kind == "zstd" else b"")

    @property
    def needs_input(self) -> bool:
        if self._kind in ("bzip2", "xz"):
            return self._inner.needs_input
        return not self._held

    @property
    def unread(self) -> int:
        """Input given but not yet expanded, where the decompressor says (zlib exactly: deflate's 1032:1 ceiling is
        too near the 1000:1 rule for an estimate)."""
        if self._inner.eof:
            return len(self.leftover)
        return len(self._held)

    def decompress(self, data: bytes) -> bytes:
        if self._kind in ("bzip2", "xz"):
            return self._inner.decompress(data, _OUTPUT_CHUNK)
        data, self._held = self._held + data, b""
        if self._kind == "gzip":
            out = self._inner.decompress(data, _OUTPUT_CHUNK)
            self._held = self._inner.unconsumed_tail
            return out
        data, self._held = data[:_ZSTD_INPUT_CHUNK], data[_ZSTD_INPUT_CHUNK:]
        return self._inner.decompress(data)


KINDS = ("gzip", "bzip2", "xz", "zstd")
_STREAM_MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00", "zstd": b"\x28\xb5\x2f\xfd"}
_STREAM_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError)


def _zstd_error() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


class _Expanding(io.RawIOBase):
    """A compressed stream expanded as it is read: members or frames one after another (a multi-member gzip),
    bounded by the ratio rule as it goes, and kept up to where it is cut short or damaged.

    ``problem`` is set when the expansion stopped before the stream's end: truncated, damaged or a bomb; what came
    out before the stop is the content.  A stream of which nothing at all can be expanded raises ``ArchiveError``:
    it is not what its signature says.
    """

    def __init__(self, raw: BinaryIO, kind: str) -> None:
        self._raw, self._kind = raw, kind
        self._decompressor = _Decompressor(kind)
        self._errors = (*_STREAM_ERRORS, _zstd_error()) if kind == "zstd" else _STREAM_ERRORS
        self._spill = memoryview(b"")  # output not yet handed out (a zstd step may make 32 MiB)
        self._read = 0  # compressed bytes read from the stream
        self.produced = 0  # expanded bytes handed out
        self.problem: Problem | None = None
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        while not self._spill and not self._ended:
            self._spill = memoryview(self._expand())
        data, self._spill = self._spill[: len(view)], self._spill[len(view):]
        view[: len(data)] = data
        self.produced += len(data)
        consumed = self._read - self._decompressor.unread
        if self.produced > MAX_MEMBER_BYTES or (self.produced > BOMB_FLOOR and self.produced > MAX_RATIO * consumed):
            self._spill = memoryview(b"")
            self._stop(ProblemKind.BOMB, f"a decompression bomb: {self.produced:,} bytes expanded from "
                       f"{consumed:,} compressed bytes (over {MAX_RATIO}:1 past {BOMB_FLOOR >> 20} MiB, or over "
                       f"{MAX_MEMBER_BYTES >> 30} GiB): stopped, the first {self.produced:,} bytes kept")
        return len(data)

    def _expand(self) -> bytes:
        """The next piece of output (maybe empty), reading more input when the decompressor wants it."""
        try:
            if self._decompressor.eof:
                return self._next_member()
            data = b""
            if self._decompressor.needs_input:
                data = self._raw.read(_INPUT_CHUNK)
                if not data:
                    self._stop(ProblemKind.TRUNCATED, f"cut short: the {self._kind} stream ends before its end marker;"
                               f" {self.produced + len(self._spill):,} bytes readable")
                    return b""
                self._read += len(data)
            return self._decompressor.decompress(data)
        except self._errors as exc:
            if self.produced == 0 and not self._spill:
                raise ArchiveError(f"damaged {self._kind} stream: {exc}") from exc
            self._stop(ProblemKind.DAMAGED, f"damaged {self._kind} stream ({exc}): {self.produced:,} bytes readable")
            return b""

    def _next_member(self) -> bytes:
        """After one member's end: the first output of the next member, past zero padding; the end of the data
        ends the stream."""
        rest = self._decompressor.leftover.lstrip(b"\0")
        while not rest:
            data = self._raw.read(_INPUT_CHUNK)
            if not data:
                self._ended = True
                return b""
            self._read += len(data)
            rest = data.lstrip(b"\0")
        if not rest.startswith(_STREAM_MAGIC[self._kind][: len(rest)]):
            self._stop(ProblemKind.DAMAGED, f"{self.produced:,} bytes expanded; what follows the {self._kind} stream "
                       "is not another one and was not read")
            return b""
        self._decompressor = _Decompressor(self._kind)
        return self._decompressor.decompress(rest)

    def _stop(self, kind: ProblemKind, message: str) -> None:
        if self.problem is None:
            self.problem = Problem(kind, message)
        self._ended = True


def stream_lister(kind: str) -> Callable[[BinaryIO, Passwords], Iterator[Member]]:
    """The one member of a ``kind`` stream: named as a gzip header names it, else "content"."""

    def listing(stream: BinaryIO, _passwords: Passwords = ()) -> Iterator[Member]:
        stream.seek(0)
        _Expanding(stream, kind).read(1)  # fails here on a stream of which nothing expands
        yield Member(0, _gzip_name(stream) or b"content", None, None, None)

    return listing


def stream_opener(kind: str) -> Callable[[BinaryIO, Passwords], MemberOpener]:
    def opening(stream: BinaryIO, _passwords: Passwords = ()) -> MemberOpener:
        def open_member(index: int, name: bytes) -> BinaryIO:
            if index != 0:
                raise ArchiveError("a compressed stream has one member")
            stream.seek(0)
            return as_binary(BoundedMember(_Expanding(stream, kind), None))

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
