"""libarchive (through ``libarchive-c``) as a forward cursor over one stream: for RAR, for a zip without its
central directory, and for WinZip AES zip members."""

from __future__ import annotations

import calendar
import contextlib
import ctypes
import functools
import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator, TypeVar

from fieldlab.evidence.archives import ArchiveError
from fieldlab.problems import ProblemKind

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_T = TypeVar("_T")


@dataclass(frozen=True)
class EntryFacts:
    name: bytes
    size: int | None
    mtime: float | None
    encrypted: bool  # as libarchive reports it
    regular: bool


class LibarchiveCursor:
    """One libarchive pass over the stream, moved forward entry by entry; going back starts a new pass."""

    def __init__(self, stream: BinaryIO, formats: tuple[str, ...], keys: list[bytes] | None = None, start: int = 0) -> None:
        self._stream, self._formats, self._keys, self._start = stream, formats, keys or [], start
        self._what = "RAR archive" if "rar" in formats else "zip member"
        self._pass: contextlib.ExitStack | None = None
        self._archive: int | None = None
        self.index = -1  # of the entry whose header was read last
        self._unread = False  # its content not yet handed out
        self.consumed = 0  # bytes of the stream libarchive has consumed in this pass
        self.generation = 0

    def entries(self) -> Iterator[tuple[int, EntryFacts]]:
        self._begin()
        while (facts := self._next()) is not None:
            yield self.index, facts

    def open(self, index: int, name: bytes) -> io.RawIOBase:
        if self._archive is None or index < self.index or (index == self.index and not self._unread):
            self._begin()
        facts = None
        while self.index < index:
            facts = self._next()
            if facts is None:
                raise ArchiveError(f"member {index} is not in this archive")
        if facts is not None and facts.name != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        self._unread = False
        return _LibarchiveContent(self, self.generation)

    def read(self, size: int) -> bytes:
        ffi = _libarchive_ffi()
        buffer = ctypes.create_string_buffer(size)
        count = self._call(lambda: ffi.read_data(self._archive, buffer, size))
        return buffer.raw[:count]

    def close(self) -> None:
        if self._pass is not None:
            self._pass.close()
        self._pass, self._archive = None, None

    def _begin(self) -> None:
        self.close()
        self._pass = stack = contextlib.ExitStack()
        reader = _libarchive_reader(self._stream, self._formats, self._keys, self._start)
        self._archive = self._call(lambda: stack.enter_context(reader))
        self.index, self._unread, self.consumed = -1, False, 0
        self.generation += 1

    def _next(self) -> EntryFacts | None:
        ffi = _libarchive_ffi()
        from libarchive.entry import ArchiveEntry

        entry = ArchiveEntry(self._archive)
        if self._call(lambda: ffi.read_next_header2(self._archive, entry._entry_p)) == ffi.ARCHIVE_EOF:
            self.consumed = ffi.filter_bytes(self._archive, -1)
            return None
        self.index += 1
        self._unread = True
        self.consumed = ffi.filter_bytes(self._archive, -1)
        mtime = None if entry.mtime is None else float(entry.mtime)
        if mtime is not None and ffi.format_name(self._archive) == b"RAR":
            mtime = float(calendar.timegm(time.localtime(mtime)))  # DOS time, which libarchive read as local: as UTC
        return EntryFacts((entry.pathname or "").encode("utf-8", "surrogateescape"), entry.size, mtime,
                           bool(_entry_is_data_encrypted()(entry._entry_p)), entry.isreg)

    def _call(self, call: Callable[[], _T]) -> _T:
        from libarchive.exception import ArchiveError as LibarchiveError

        try:
            return call()
        except LibarchiveError as exc:
            self.close()
            raise ArchiveError(f"damaged or unreadable {self._what}: {exc.msg or 'libarchive gave no reason'}") from exc


class _LibarchiveContent(io.RawIOBase):
    """The content of the entry a cursor stands on; refuses to read once the cursor has moved on."""

    def __init__(self, cursor: LibarchiveCursor, generation: int) -> None:
        self._cursor, self._generation, self._index = cursor, generation, cursor.index

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        if (self._cursor.generation, self._cursor.index) != (self._generation, self._index):
            raise ArchiveError("the archive was read on past this member before its content was")
        data = self._cursor.read(min(len(view), 1 << 20))
        view[: len(data)] = data
        return len(data)


class LibarchiveMember(io.RawIOBase):
    """The first entry found at ``start`` in the stream: one zip member (its local header, then its data) read
    by libarchive, for what ``zipfile`` cannot decrypt."""

    def __init__(self, stream: BinaryIO, formats: tuple[str, ...], keys: list[bytes], start: int) -> None:
        self._cursor = LibarchiveCursor(stream, formats, keys, start)
        self._content = self._cursor.open(0, next(self._cursor.entries())[1].name)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._content.readinto(buffer)

    def close(self) -> None:
        self._cursor.close()
        super().close()


@contextlib.contextmanager
def _libarchive_reader(stream: BinaryIO, formats: tuple[str, ...], keys: list[bytes], start: int) -> Iterator[int]:
    """A libarchive reader of these formats only (and no filters: nothing else is guessed inside the bytes) over
    ``stream`` from ``start``, with every password added: libarchive tries each on each encrypted entry.

    The reader keeps its own position and seeks to it before each read, so other readers of the same stream
    (``zipfile`` holds it too) cannot move it.
    """
    ffi = _libarchive_ffi()
    buffer = ctypes.create_string_buffer(1 << 16)
    address = ctypes.cast(buffer, ctypes.c_void_p)
    position = start

    def read(_archive: int, _context: int, pointer: int) -> int:
        nonlocal position
        try:
            stream.seek(position)
            count = stream.readinto(buffer)  # type: ignore[attr-defined]  # every stream given here has it; BinaryIO omits it
        except (OSError, ValueError, ArchiveError):
            return -1  # ARCHIVE_FATAL: libarchive reports the read as failed
        position += count or 0
        ctypes.cast(pointer, ctypes.POINTER(ctypes.c_void_p))[0] = address
        return count or 0

    def seek(_archive: int, _context: int, offset: int, whence: int) -> int:
        nonlocal position
        try:
            target = {0: start + offset, 1: position + offset, 2: stream.seek(offset, 2)}[whence]
        except (OSError, ValueError, KeyError):
            return -1
        position = max(target, start)
        return position - start

    archive = ffi.read_new()
    try:
        for name in formats:
            ffi.get_read_format_function(name)(archive)
        for key in keys:
            ffi.read_add_passphrase(archive, key)
        read_callback, seek_callback = ffi.READ_CALLBACK(read), ffi.SEEK_CALLBACK(seek)
        ffi.read_set_seek_callback(archive, seek_callback)
        ffi.read_open(archive, None, ffi.NO_OPEN_CB, read_callback, ffi.NO_CLOSE_CB)
        yield archive
    finally:
        ffi.read_free(archive)


def _libarchive_ffi():  # noqa: ANN202 - the libarchive.ffi module
    """libarchive-c's bindings, imported on first use: without the system library, only RAR and AES zip fail."""
    try:
        from libarchive import ffi
    except (ImportError, OSError, AttributeError, TypeError) as exc:
        raise ArchiveError("reading RAR (and AES-encrypted zip) needs libarchive: install the Debian package "
                           f"libarchive13 and the Python package libarchive-c ({exc})", ProblemKind.UNSUPPORTED) from exc
    return ffi


@functools.cache
def _entry_is_data_encrypted() -> Callable[[int], int]:
    function = _libarchive_ffi().libarchive.archive_entry_is_data_encrypted
    function.argtypes, function.restype = [ctypes.c_void_p], ctypes.c_int
    return function
