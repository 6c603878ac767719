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

A member that ends early (a cut archive), stops on damage, or trips the
bomb rule while expanding is not lost: what was read before the stop is its
content, and the stream's ``problem`` says why it stopped and how much was
read (the reader flags the item ``truncated``).  Single compressed streams
(gzip, bzip2, xz, zstd) are expanded here chunk by chunk (``_Expanding``), so
the compressed bytes consumed are known and the ratio rule applies as the
stream expands: past ``BOMB_FLOOR`` of output, more than ``MAX_RATIO`` times
the input stops it.  A 7z archive is expanded in forward passes whose every
byte, skipped members' included, counts against one budget per archive
(``_SevenZipMembers``): a solid folder is never expanded once per member.

Libraries: Python's ``zipfile``, ``tarfile``, ``zlib``, ``bz2`` and ``lzma``
(zip including zip64 and OOXML/ODF/EPUB, tar of every flavour, and the
single-stream compressors), ``zstandard`` for zstd; ``py7zr`` for 7z; libarchive (through
``libarchive-c``) for RAR 4 and RAR 5, and for WinZip AES members of a zip.

Why libarchive for RAR, measured on Debian 12's libarchive 3.6.2: it reads
RAR 4 and RAR 5 in process, from any seekable stream (a RAR inside a zip
needs no temporary file), and with a seek callback it skips a non-solid
member's data without reading it (listing 20 members of 1 MiB read 6% of
the archive; with the solid flag set, all of it).  ``rarfile`` needs an
external ``unrar`` (non-free, not in Debian main) or ``unar``, run once per
member, which expands a solid archive from its start for every member.
What libarchive 3.6.2 cannot do, and what we do about it:

- it decrypts no RAR (neither RAR 4 AES-128 nor RAR 5 AES-256), so encrypted
  RAR members are listed and reported, never opened, whatever passwords the
  examiner supplies; an archive whose headers are encrypted lists nothing;
- it *ignores* a RAR 5 member's encryption record and hands back the
  ciphertext as if it were the content: the file headers are walked here
  (``_rar5_encrypted``) to know which members are encrypted;
- it refuses solid RAR 4 members after the first ("RAR solid archive support
  unavailable"): they are listed from their headers (``_rar4_headers``) and
  reported, not read; solid RAR 5 is read (tested here with stored members
  only: there is no RAR encoder to make compressed ones);
- it does not say how many bytes a member takes in the archive: the bytes it
  consumed between two headers are counted instead, for the bomb check.

A solid archive is one compressed stream: member N can be expanded only after
members 0..N-1.  The RAR opener keeps one forward pass open and moves it
member by member, so members asked for in order (as workers ask for them)
cost one pass in all; the last small member is kept, since a reader opens a
member twice when its first bytes say it holds more (an EXIF thumbnail).

Passwords supplied by the examiner are tried on encrypted zip members
(ZipCrypto through ``zipfile``; WinZip AES through libarchive) and 7z
archives (``py7zr``, including 7z archives whose names are encrypted).  A
member one of them opens is listed and read like any other; which password
worked is not kept.
"""

from __future__ import annotations

import bz2
import calendar
import contextlib
import ctypes
import functools
import gzip
import hashlib
import io
import lzma
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, TypeVar

from fieldlab.problems import Problem, ProblemKind

_T = TypeVar("_T")
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 8 << 30
MAX_RATIO = 1000  # deflate tops out near 1032:1; beyond that a declared size is a lie or a bomb
BOMB_FLOOR = 64 << 20  # small members may have any ratio (a file of zeros compresses 1000:1)
MAX_DEPTH = 5  # archives within archives within ...: the default; scan --max-depth raises it for one scan

CONTAINER_KINDS = {  # file type label (fieldlab.detect.filetype) -> how it is opened
    "zip": "zip", "ooxml": "zip", "odf": "zip", "epub": "zip",
    "tar": "tar", "gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "zstd": "zstd", "7z": "7z", "rar": "rar",
}
STREAM_KINDS = frozenset({"gzip", "bzip2", "xz", "zstd"})  # one compressed stream: its content is no archive level
Passwords = tuple[str, ...]  # supplied by the examiner, tried in turn on encrypted members; never stored


class ArchiveError(Exception):
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
_DAMAGE = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, KeyError,
           RuntimeError, NotImplementedError)


def list_members(stream: BinaryIO, kind: str, passwords: Passwords = ()) -> Iterator[Member]:
    """Members in directory order; regular files only (folders and links carry no content of their own).
    An encrypted member that one of ``passwords`` opens carries no problem: it is read like any other."""
    try:
        yield from _LISTERS[kind](stream, passwords)
    except ArchiveError:
        raise
    except _DAMAGE as exc:
        if isinstance(exc, EOFError) or "unexpected end" in str(exc):  # the listing runs off the end of the data
            raise ArchiveError(f"cut short: the {kind} archive ends inside its listing ({exc})",
                               ProblemKind.TRUNCATED) from exc
        raise ArchiveError(f"damaged {kind} archive: {exc}") from exc


MemberOpener = Callable[[int, bytes], BinaryIO]


def member_opener(stream: BinaryIO, kind: str, passwords: Passwords = ()) -> MemberOpener:
    """Reads the archive's directory once; the opener it returns gives one member's content as a readable stream,
    stopped at its declared size and at ``MAX_MEMBER_BYTES``.

    Parsing the directory per member made a zip of 20,000 members take over ten minutes (each member re-read the
    whole central directory); callers keep the opener for the members that follow.
    """
    opener = _guarded(kind, "open", lambda: _OPENERS[kind](stream, passwords))
    return lambda index, name: _guarded(kind, f"open member {index} of", lambda: opener(index, name))


def _guarded(kind: str, what: str, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except ArchiveError:
        raise
    except _DAMAGE as exc:
        raise ArchiveError(f"cannot {what} the {kind} archive: {exc}") from exc


def _locked(passwords: Passwords) -> str:
    if not passwords:
        return "encrypted: its content needs the password"
    return f"encrypted: none of the {len(passwords)} supplied passwords opens it"


def _password_bytes(passwords: Passwords) -> list[bytes]:
    """Each password as the bytes an archiver may have stored it in: UTF-8 (Info-ZIP, 7-Zip), or the Windows
    and DOS code pages older Windows archivers used."""
    found: list[bytes] = []
    for password in passwords:
        for codec in ("utf-8", "cp1252", "cp437"):
            with contextlib.suppress(UnicodeEncodeError):
                if (encoded := password.encode(codec)) not in found:
                    found.append(encoded)
    return found


def _bomb(size: int | None, stored: int | None) -> str | None:
    if size is None:
        return None
    if size > MAX_MEMBER_BYTES:
        return f"declares {size:,} bytes, over the {MAX_MEMBER_BYTES:,} limit: not expanded"
    if stored is not None and size > BOMB_FLOOR and size > MAX_RATIO * max(stored, 1):
        return f"declares {size:,} bytes from {stored:,} stored: a decompression bomb, not expanded"
    return None


# zip ---------------------------------------------------------------------------------


def _zip_list(stream: BinaryIO, passwords: Passwords) -> Iterator[Member]:
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as exc:
        yield from _cut_zip_list(stream, passwords, exc)
        return
    with archive:
        keys = _ZipKeys(archive, stream, passwords)
        for index, info in enumerate(archive.infolist()[:MAX_MEMBERS + 1]):
            if index == MAX_MEMBERS:
                raise ArchiveError(f"more than {MAX_MEMBERS:,} members: the rest not listed", ProblemKind.LIMIT)
            if info.is_dir():
                continue
            encrypted = bool(info.flag_bits & 0x1)
            locked = encrypted and not keys.unlock(info)
            problem = _locked(passwords) if locked else _bomb(info.file_size, info.compress_size)
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


def _zip_opener(stream: BinaryIO, passwords: Passwords) -> MemberOpener:
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as exc:
        return _cut_zip_opener(stream, passwords, exc)
    infos = archive.infolist()
    keys = _ZipKeys(archive, stream, passwords)

    def open_member(index: int, name: bytes) -> BinaryIO:
        if index >= len(infos) or _zip_name(infos[index]) != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        info = infos[index]
        if problem := _bomb(info.file_size, info.compress_size):
            raise ArchiveError(problem, ProblemKind.BOMB)
        if not info.flag_bits & 0x1:
            return BoundedMember(archive.open(info), info.file_size)
        unlocking = keys.unlock(info)
        if not unlocking:
            raise ArchiveError(_locked(passwords), ProblemKind.ENCRYPTED)
        if info.compress_type == _WINZIP_AES:  # zipfile cannot decrypt it
            return BoundedMember(_LibarchiveMember(stream, ("zip_streamable",), unlocking, info.header_offset), info.file_size)
        return BoundedMember(archive.open(info, pwd=unlocking[0]), info.file_size)

    return open_member


_ZIP_STREAMABLE = ("zip_streamable",)


def _cut_zip_list(stream: BinaryIO, passwords: Passwords, cause: Exception) -> Iterator[Member]:
    """A zip without its central directory (cut short, or its end damaged): the members its local headers
    describe, read forward by libarchive, then the damage reported."""
    if _head(stream)[:4] != b"PK\x03\x04":
        raise ArchiveError(f"damaged zip archive: {cause}")
    cursor = _LibarchiveCursor(stream, _ZIP_STREAMABLE)
    count = 0
    try:
        for index, facts in cursor.entries():
            if index == MAX_MEMBERS:
                break
            if facts.regular:
                count += 1
                problem = _locked(passwords) if facts.encrypted else _bomb(facts.size, None)
                yield Member(index, facts.name, facts.size, None, facts.mtime, facts.encrypted, problem)
    except ArchiveError:
        pass  # the cut: what was listed before it stands
    finally:
        cursor.close()
    raise ArchiveError(f"damaged zip archive ({cause}): its central directory is missing, {count} members were "
                       "listed from their local headers (a zip cut short keeps what lies before the cut)")


def _cut_zip_opener(stream: BinaryIO, passwords: Passwords, cause: Exception) -> MemberOpener:
    members: dict[int, Member] = {}
    with contextlib.suppress(ArchiveError):
        members.update((member.index, member) for member in _cut_zip_list(stream, passwords, cause))
    cursor = _LibarchiveCursor(stream, _ZIP_STREAMABLE)

    def open_member(index: int, name: bytes) -> BinaryIO:
        member = members.get(index)
        if member is None or member.name != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        if member.problem:
            raise ArchiveError(member.problem, ProblemKind.ENCRYPTED if member.encrypted else ProblemKind.BOMB)
        content = BoundedMember(cursor.open(index, name), member.size)
        if member.size is None or member.size > KEEP_LAST:
            return content
        return _Expanded(content.read(), content.problem)  # read now: the cursor moves on to the next member

    return open_member


_WINZIP_AES = 99  # the compression method of a WinZip AES member; the real one is in its 0x9901 extra field


class _ZipKeys:
    """The supplied passwords, as bytes, tried on one archive's encrypted members.

    The password that opened the last member is tried first, and alone when it passes: an archive nearly always
    has one password, so a long list is searched once per archive, not once per member.
    """

    def __init__(self, archive: zipfile.ZipFile, stream: BinaryIO, passwords: Passwords) -> None:
        self._archive, self._stream, self._candidates = archive, stream, _password_bytes(passwords)
        self._worked: bytes | None = None

    def unlock(self, info: zipfile.ZipInfo) -> list[bytes]:
        """The passwords to open the member with (none: it stays locked).  A password is checked against the
        member's own check value: ZipCrypto's check byte, which one wrong password in 256 passes too (then the
        content's CRC decides), or WinZip AES's two-byte verifier (libarchive then checks the others)."""
        if not self._candidates:
            return []
        passes = self._check(info)
        if self._worked is not None and passes(self._worked):
            return [self._worked]
        keys = [key for key in self._candidates if passes(key)]
        if len(keys) > 1 and info.compress_type != _WINZIP_AES:
            keys = [key for key in keys if self._crc_matches(info, key)][:1]
        if keys:
            self._worked = keys[0]
        return keys

    def _check(self, info: zipfile.ZipInfo) -> Callable[[bytes], bool]:
        if info.compress_type != _WINZIP_AES:
            return lambda key: self._zipcrypto_passes(info, key)
        found = _winzip_aes_verifier(self._stream, info)
        if found is None:
            return lambda key: False
        salt, verifier, key_size = found
        return lambda key: hashlib.pbkdf2_hmac("sha1", key, salt, 1000, 2 * key_size + 2)[-2:] == verifier

    def _zipcrypto_passes(self, info: zipfile.ZipInfo, key: bytes) -> bool:
        try:
            self._archive.open(info, pwd=key).close()
        except (RuntimeError, NotImplementedError):  # "Bad password"; strong encryption (PKWARE SES)
            return False
        return True

    def _crc_matches(self, info: zipfile.ZipInfo, key: bytes) -> bool:
        try:
            with self._archive.open(info, pwd=key) as content:  # zipfile checks the CRC at the end
                for _ in iter(lambda: content.read(1 << 20), b""):
                    pass
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
            return False
        return True


def _winzip_aes_verifier(stream: BinaryIO, info: zipfile.ZipInfo) -> tuple[bytes, bytes, int] | None:
    """The salt and password verifier stored before a WinZip AES member's data (AE-1/AE-2), and the key size."""
    strength = _winzip_aes_strength(info.extra)
    if strength is None:
        return None
    salt_size, key_size = 4 + 4 * strength, 8 + 8 * strength
    stream.seek(info.header_offset)
    local = stream.read(30)
    if len(local) < 30 or not local.startswith(b"PK\x03\x04"):
        return None
    stream.seek(info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little"))
    head = stream.read(salt_size + 2)
    return (head[:salt_size], head[salt_size:], key_size) if len(head) == salt_size + 2 else None


def _winzip_aes_strength(extra: bytes) -> int | None:
    """1, 2 or 3 (AES-128, -192, -256) from the 0x9901 extra field."""
    position = 0
    while position + 4 <= len(extra):
        tag, size = int.from_bytes(extra[position:position + 2], "little"), int.from_bytes(extra[position + 2:position + 4], "little")
        if tag == 0x9901 and 7 <= size <= len(extra) - position - 4 and extra[position + 8] in (1, 2, 3):
            return extra[position + 8]
        position += 4 + size
    return None


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
            raise ArchiveError(f"more than {MAX_MEMBERS:,} members: the rest not listed", ProblemKind.LIMIT)
        yield info


def _tar_opener(stream: BinaryIO) -> MemberOpener:
    archive = tarfile.open(fileobj=stream, mode="r:")
    entries: list[tarfile.TarInfo] = []
    with contextlib.suppress(ArchiveError, *_DAMAGE):  # a cut or damaged tail: the entries before it are still read
        entries.extend(_tar_entries(archive))

    def open_member(index: int, name: bytes) -> BinaryIO:
        info = entries[index] if index < len(entries) else None
        if info is None or not info.isreg() or info.name.encode("utf-8", "surrogateescape") != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        if info.issparse():
            return BoundedMember(archive.extractfile(info), info.size)
        # read where the content lies, not through tarfile, which refuses a member cut short by the archive's end
        return BoundedMember(_Slice(stream, info.offset_data, info.size), info.size)

    return open_member


class _Slice(io.RawIOBase):
    """``length`` bytes of a seekable stream from ``offset``, ending early where the stream does."""

    def __init__(self, stream: BinaryIO, offset: int, length: int) -> None:
        self._stream, self._offset, self._length, self._position = stream, offset, length, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        wanted = min(len(buffer), self._length - self._position)
        if wanted <= 0:
            return 0
        self._stream.seek(self._offset + self._position)
        data = self._stream.read(wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


# single-stream compressors -------------------------------------------------------------

_INPUT_CHUNK = 16 << 10  # small: bz2 and lzma hide the input they hold, so the bytes consumed are known to a chunk
_ZSTD_INPUT_CHUNK = 1 << 10  # zstd's decompressor cannot bound its output: 1 KiB of input makes at most ~32 MiB
_OUTPUT_CHUNK = 1 << 20


class _Decompressor:
    """zlib's, bz2's, lzma's and zstandard's decompressors behind one face: feed input, get bounded output."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
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

    def readinto(self, buffer: bytearray | memoryview) -> int:
        while not self._spill and not self._ended:
            self._spill = memoryview(self._expand())
        data, self._spill = self._spill[: len(buffer)], self._spill[len(buffer):]
        buffer[: len(data)] = data
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


def _single_list(kind: str, default_name: bytes) -> Callable[[BinaryIO], Iterator[Member]]:
    def listing(stream: BinaryIO) -> Iterator[Member]:
        stream.seek(0)
        _Expanding(stream, kind).read(1)  # fails here on a stream of which nothing expands
        yield Member(0, _gzip_name(stream) or default_name, None, None, None)

    return listing


def _single_opener(kind: str) -> Callable[[BinaryIO], MemberOpener]:
    def opening(stream: BinaryIO) -> MemberOpener:
        def open_member(index: int, name: bytes) -> BinaryIO:
            if index != 0:
                raise ArchiveError("a compressed stream has one member")
            stream.seek(0)
            return BoundedMember(_Expanding(stream, kind), None)

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


def _7z_list(stream: BinaryIO, passwords: Passwords) -> Iterator[Member]:
    archive, locked = _7z_open(stream, passwords)
    with archive:
        encrypted = archive.needs_password()
        for index, info in enumerate(archive.list()[:MAX_MEMBERS]):
            if info.is_directory:
                continue
            problem = _locked(passwords) if locked else _bomb(info.uncompressed, info.compressed)
            mtime = info.creationtime.timestamp() if info.creationtime else None
            yield Member(index, info.filename.encode("utf-8", "surrogateescape"), info.uncompressed, info.compressed,
                         mtime, encrypted, problem)


def _7z_open(stream: BinaryIO, passwords: Passwords):  # noqa: ANN202 - py7zr is imported late
    """The archive opened with the first supplied password that decrypts it (its names, when they are encrypted
    too, else its first member), and whether its content stays locked."""
    import py7zr

    def opened(password: str | None = None) -> py7zr.SevenZipFile:
        stream.seek(0)  # py7zr reads the signature where the stream stands
        return py7zr.SevenZipFile(stream, mode="r", password=password)

    try:
        archive = opened()
    except py7zr.exceptions.PasswordRequired:
        for password in passwords:
            try:  # a wrong password turns the header into noise, which fails in any of many ways
                return opened(password), False
            except Exception:  # noqa: BLE001, S112 - the next password
                continue
        raise ArchiveError("encrypted 7z archive: its member names are encrypted too"
                           + (f", and none of the {len(passwords)} supplied passwords opens it" if passwords else ""),
                           ProblemKind.ENCRYPTED) from None
    except (py7zr.exceptions.Bad7zFile, py7zr.exceptions.UnsupportedCompressionMethodError) as exc:
        raise ArchiveError(f"damaged or unsupported 7z archive: {exc}") from exc
    if not archive.needs_password():
        return archive, False
    for password in passwords:
        trial = opened(password)
        if _7z_decrypts(trial):
            archive.close()
            return trial, False
        trial.close()
    return archive, True


def _7z_decrypts(archive) -> bool:  # noqa: ANN001 - a py7zr.SevenZipFile
    """Whether the archive's password expands its first member: a wrong one fails the decoder or the CRC."""
    import py7zr.io

    first = next((info for info in archive.list() if not info.is_directory and info.uncompressed), None)
    if first is None:
        return True
    try:
        archive.extract(targets=[first.filename], factory=py7zr.io.BytesIOFactory(0))  # expanded, checked, dropped
    except Exception:  # noqa: BLE001 - noise from a wrong key fails in the decompressor, or at the CRC
        return False
    finally:
        archive.reset()
    return True


class _SevenZipMembers:
    """The members of one 7z archive, expanded in forward passes that count every byte against the archive's budget.

    py7zr expands whole folders; in a solid folder, reaching member N expands members 0..N-1 too.  Opening each
    member in a pass of its own made an archive of one 4 GiB member of zeros and 2,000 small ones expand the zeros
    2,000 times.  Here a pass writes every member it expands into a sink that counts its bytes (skipped members
    included) against ``budget`` (``MAX_RATIO`` times the archive's size, at least ``BOMB_FLOOR``); the member
    asked for and those after it are kept, up to ``KEEP_AHEAD`` bytes, for the requests that follow (workers ask
    in order).  Once the budget is spent, the members not yet opened are reported, not expanded.
    """

    KEEP_AHEAD = 64 << 20

    def __init__(self, stream: BinaryIO, passwords: Passwords) -> None:
        self._archive, self._locked = _7z_open(stream, passwords)  # the directory (and password) found once
        self._passwords = passwords
        self._infos = self._archive.list()
        self.budget = max(BOMB_FLOOR, MAX_RATIO * stream.seek(0, io.SEEK_END))
        self.spent = 0
        self._kept: dict[int, _Sink] = {}

    def open(self, index: int, name: bytes) -> BinaryIO:
        if index >= len(self._infos) or self._infos[index].filename.encode("utf-8", "surrogateescape") != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        info = self._infos[index]
        if self._locked:
            raise ArchiveError(_locked(self._passwords), ProblemKind.ENCRYPTED)
        if problem := _bomb(info.uncompressed, info.compressed):
            raise ArchiveError(problem, ProblemKind.BOMB)
        if not info.uncompressed:
            return io.BytesIO(b"")  # nothing to expand (an empty member has no stream in the archive)
        if index not in self._kept and self.spent <= self.budget:
            self._expand_from(index)
        for earlier in [i for i in self._kept if i < index]:  # workers read on in order
            del self._kept[earlier]
        sink = self._kept.get(index)
        if sink is None:
            raise ArchiveError(f"not opened: the archive's expansion budget ({self.budget:,} bytes: {MAX_RATIO} times "
                               f"its size, at least {BOMB_FLOOR >> 20} MiB) is spent", ProblemKind.LIMIT)
        return _Expanded(sink.data(), sink.problem)

    def _expand_from(self, index: int) -> None:
        """One pass from the start of the archive, keeping member ``index`` and the members after it that fit."""
        from py7zr.io import MemIO

        self._kept.clear()
        sinks = {i: _Sink(self, keep=False) for i in range(len(self._infos))}
        factory = _SinkFactory(sinks, self, index)
        self._archive.reset()
        worker = self._archive.worker
        for file in self._archive.files:  # folders holding nothing from ``index`` on are not expanded at all
            needed = not file.is_directory and (file.id >= index if file.folder is None
                                                else any(other.id >= index for other in file.folder.files))
            worker.register_filelike(file.id, MemIO(str(file.id), factory) if needed else None)
        try:
            worker.extract(self._archive.fp, None, parallel=False)
        except (_PassEnough, _BudgetSpent):
            pass
        except Exception as exc:  # noqa: BLE001 - py7zr's decoders fail on damage in many ways
            if factory.current is not None and factory.current.keep:
                factory.current.problem = Problem(ProblemKind.DAMAGED, f"stopped by damage after "
                                                  f"{factory.current.written:,} bytes: {type(exc).__name__}: {exc}")
        finally:
            self._archive.reset()
        self._kept = {i: sink for i, sink in sinks.items() if sink.keep and (sink.opened or sink.problem)}


class _PassEnough(Exception):
    """The member asked for is expanded and no more fit to keep: the pass stops early."""


class _BudgetSpent(Exception):
    """The archive's expansion budget is spent: the pass stops."""


class _SinkFactory:
    """py7zr's writer factory: hands each member's sink out by member id, and decides which are kept."""

    def __init__(self, sinks: dict[int, "_Sink"], members: _SevenZipMembers, wanted: int) -> None:
        self._sinks, self._members, self._wanted = sinks, members, wanted
        self._keeping = 0
        self.current: _Sink | None = None

    def create(self, filename: str) -> "_Sink":
        index = int(filename)
        sink, info = self._sinks[index], self._members._infos[index]
        if index >= self._wanted and not _bomb(info.uncompressed, info.compressed):
            size = info.uncompressed or 0
            sink.keep = index == self._wanted or self._keeping + size <= _SevenZipMembers.KEEP_AHEAD
            self._keeping += size if sink.keep else 0
        if self._sinks[self._wanted].opened and not sink.keep:
            raise _PassEnough  # what follows would be expanded only to be dropped
        sink.opened, self.current = True, sink
        return sink


class _Sink:
    """Where py7zr writes one member: every byte counted against the archive's budget, kept only when asked for."""

    def __init__(self, members: _SevenZipMembers, keep: bool) -> None:
        self._members, self.keep, self.opened = members, keep, False
        self._buffer = io.BytesIO()
        self.written = 0
        self.problem: Problem | None = None

    def write(self, data: bytes | bytearray) -> int:
        room = self._members.budget - self._members.spent
        self._members.spent += len(data)
        self.written += min(len(data), max(room, 0))
        if self.keep:
            self._buffer.write(data[: max(room, 0)])  # py7zr writes in blocks of many MiB: keep what fits
        if self._members.spent > self._members.budget:
            if self.keep:
                self.problem = Problem(ProblemKind.BOMB, f"the archive's expansion budget ({self._members.budget:,} "
                                       f"bytes) was spent after {self.written:,} bytes of this member: stopped there, "
                                       "what was expanded is kept")
            raise _BudgetSpent
        return len(data)

    def data(self) -> bytes:
        return self._buffer.getvalue()

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.written

    def close(self) -> None:
        pass


class _Expanded(io.BytesIO):
    """A member already expanded in memory, with the problem that stopped its expansion, if one did."""

    def __init__(self, data: bytes, problem: Problem | None) -> None:
        super().__init__(data)
        self.problem = problem


# rar ---------------------------------------------------------------------------------

_RAR_FORMATS = ("rar", "rar5")
_RAR_NO_DECRYPTION = "encrypted: RAR encryption cannot be opened here (libarchive does not decrypt RAR), password or not"
KEEP_LAST = 32 << 20  # the last member read, kept for a second open, when no larger than this


def _rar_list(stream: BinaryIO, passwords: Passwords) -> Iterator[Member]:
    """Members as libarchive lists them, with the encryption libarchive 3.6 does not report (RAR 5) from the
    headers, and the bytes each takes in the archive counted from the stream libarchive consumed."""
    head = _head(stream)
    if _rar_headers_encrypted(head):
        raise ArchiveError("encrypted RAR archive: its member names are encrypted too, and RAR encryption cannot be "
                           "opened here (libarchive does not decrypt RAR)", ProblemKind.ENCRYPTED)
    encrypted_rar5 = _rar5_encrypted(stream) if head.startswith(b"Rar!\x1a\x07\x01\x00") else []
    solid_rar4 = head.startswith(b"Rar!\x1a\x07\x00") and len(head) > 11 and bool(head[10] & 0x08)
    cursor = _LibarchiveCursor(stream, _RAR_FORMATS)
    pending: tuple[int, _EntryFacts, int] | None = None  # a member waits for the next header to know its stored size
    try:
        for index, facts in cursor.entries():
            if index == MAX_MEMBERS:
                raise ArchiveError(f"more than {MAX_MEMBERS:,} members: the rest not listed", ProblemKind.LIMIT)
            if pending is not None and (member := _rar_member(*pending, cursor.consumed, encrypted_rar5)):
                yield member
            pending = (index, facts, cursor.consumed)
    except ArchiveError as exc:
        if pending is not None and (member := _rar_member(*pending, cursor.consumed, encrypted_rar5)):
            yield member  # listed before the damage: its stored size is at most what was consumed
        if not (solid_rar4 and "solid" in str(exc)):
            raise
        listed = pending[0] if pending is not None else -1
        yield from (member for member in _rar4_headers(stream) if member.index > listed)
        raise ArchiveError("solid RAR 4 archive: libarchive expands only its first member; the others are listed "
                           "from their headers, not read", ProblemKind.UNSUPPORTED) from exc
    finally:
        cursor.close()
    if pending is not None and (member := _rar_member(*pending, cursor.consumed, encrypted_rar5)):
        yield member
    if cursor.consumed > stream.seek(0, io.SEEK_END):  # libarchive seeks past a cut and takes the end for the last header
        raise ArchiveError("damaged or unreadable RAR archive: truncated (its last member runs past the end of the file)",
                           ProblemKind.TRUNCATED)


def _rar_member(index: int, facts: _EntryFacts, start: int, end: int, encrypted_rar5: list[bool]) -> Member | None:
    if not facts.regular:
        return None
    encrypted = facts.encrypted or (index < len(encrypted_rar5) and encrypted_rar5[index])
    stored = max(end - start, 0)
    problem = _RAR_NO_DECRYPTION if encrypted else _bomb(facts.size, stored)
    return Member(index, facts.name, facts.size, stored, facts.mtime, encrypted, problem)


def _rar_opener(stream: BinaryIO, passwords: Passwords) -> MemberOpener:
    members: dict[int, Member] = {}
    with contextlib.suppress(ArchiveError):  # a damaged tail: the members before it can still be read
        members.update((m.index, m) for m in _rar_list(stream, passwords))
    cursor = _LibarchiveCursor(stream, _RAR_FORMATS)
    last: dict[int, _Expanded] = {}

    def open_member(index: int, name: bytes) -> BinaryIO:
        member = members.get(index)
        if member is None or member.name != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        if member.problem:
            raise ArchiveError(member.problem, ProblemKind.ENCRYPTED if member.encrypted else
                               ProblemKind.UNSUPPORTED if member.problem == _RAR4_SOLID else ProblemKind.BOMB)
        if index in last:
            return _Expanded(last[index].getvalue(), last[index].problem)
        content = BoundedMember(cursor.open(index, name), member.size)
        if member.size is None or member.size > KEEP_LAST:
            return content
        kept = _Expanded(content.read(), content.problem)
        last.clear()
        last[index] = kept
        return _Expanded(kept.getvalue(), kept.problem)

    return open_member


_RAR4_SOLID = "solid RAR 4: libarchive cannot expand it (only a solid archive's first member)"


def _rar4_headers(stream: BinaryIO) -> Iterator[Member]:
    """The regular files a RAR 4 archive's file headers describe, for what libarchive will not list: block
    header (CRC, type, flags, size), then for a file (type 0x74) packed and unpacked sizes, host, CRC, DOS time,
    version, method, name size, attributes, [high halves of the sizes], name; its data follows the header."""
    position, index = 7, 0
    while index <= MAX_MEMBERS:
        stream.seek(position)
        block = stream.read(7)
        if len(block) < 7:
            return
        kind, flags, size = block[2], int.from_bytes(block[3:5], "little"), int.from_bytes(block[5:7], "little")
        body = stream.read(max(size - 7, 0))
        if size < 7 or len(body) < size - 7 or kind == 0x7B:
            return
        data_size = int.from_bytes(body[:4], "little") if flags & 0x8000 and len(body) >= 4 else 0
        if kind == 0x74 and len(body) >= 25:
            unpacked, name_size = int.from_bytes(body[4:8], "little"), int.from_bytes(body[19:21], "little")
            name_at = 25
            if flags & 0x0100 and len(body) >= 33:  # sizes over 4 GiB
                data_size |= int.from_bytes(body[25:29], "little") << 32
                unpacked |= int.from_bytes(body[29:33], "little") << 32
                name_at = 33
            name = body[name_at:name_at + name_size].split(b"\0")[0]  # a Unicode name follows its DOS form
            encrypted = bool(flags & 0x0004)
            if flags & 0x00E0 != 0x00E0:  # not a directory
                problem = _RAR_NO_DECRYPTION if encrypted else _RAR4_SOLID
                yield Member(index, name, unpacked, data_size, _dos_time(int.from_bytes(body[13:17], "little")),
                             encrypted, problem)
            index += 1
        position += size + data_size


def _dos_time(value: int) -> float | None:
    """A DOS date and time (no zone: read as UTC, as for zip)."""
    fields = (1980 + (value >> 25), (value >> 21) & 15, (value >> 16) & 31,
              (value >> 11) & 31, (value >> 5) & 63, (value & 31) * 2)
    try:
        return float(calendar.timegm(time.struct_time((*fields, 0, 0, 0))))
    except (OverflowError, ValueError):
        return None


def _head(stream: BinaryIO) -> bytes:
    stream.seek(0)
    return stream.read(64)


def _rar_headers_encrypted(head: bytes) -> bool:
    """RAR 4: the main header's "block headers are encrypted" flag; RAR 5: an archive encryption header first."""
    if head.startswith(b"Rar!\x1a\x07\x00"):
        return len(head) > 11 and head[9] == 0x73 and bool(head[10] & 0x80)
    if head.startswith(b"Rar!\x1a\x07\x01\x00"):
        _, position = _vint(head, 12)
        kind, _ = _vint(head, position)
        return kind == 4
    return False


def _rar5_encrypted(stream: BinaryIO) -> list[bool]:
    """For each RAR 5 file header in order (as libarchive lists them): whether it has an encryption record.

    Header layout (RAR 5.0 format): CRC32, size (vint), type, flags, [extra size], [data size], fields, extra
    area of records (size, type, data); record type 1 is file encryption.  Service headers (type 3) are not
    listed by libarchive and are skipped here too.
    """
    found: list[bool] = []
    position = 8
    while len(found) <= MAX_MEMBERS:
        stream.seek(position)
        prefix = stream.read(4 + 3)
        size, offset = _vint(prefix, 4)
        if size <= 0 or size > 2 << 20:
            break
        stream.seek(position + offset)
        header = stream.read(size)
        if len(header) < size:
            break
        kind, at = _vint(header, 0)
        flags, at = _vint(header, at)
        extra_size, data_size = 0, 0
        if flags & 0x0001:
            extra_size, at = _vint(header, at)
        if flags & 0x0002:
            data_size, at = _vint(header, at)
        if kind == 2:
            found.append(_has_record(header[size - extra_size:], 1) if 0 < extra_size <= size else False)
        elif kind == 5:
            break
        position += offset + size + data_size
    return found


def _has_record(extra: bytes, wanted: int) -> bool:
    at = 0
    while at < len(extra):
        size, start = _vint(extra, at)
        kind, _ = _vint(extra, start)
        if kind == wanted:
            return True
        if size <= 0:
            return False
        at = start + size
    return False


def _vint(data: bytes, at: int) -> tuple[int, int]:
    """RAR 5's variable-length integer at ``at``: its value and where the next field starts (-1 if cut short)."""
    value, shift = 0, 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at
    return -1, len(data)


# libarchive ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EntryFacts:
    name: bytes
    size: int | None
    mtime: float | None
    encrypted: bool  # as libarchive reports it
    regular: bool


class _LibarchiveCursor:
    """One libarchive pass over the stream, moved forward entry by entry; going back starts a new pass."""

    def __init__(self, stream: BinaryIO, formats: tuple[str, ...], keys: list[bytes] | None = None, start: int = 0) -> None:
        self._stream, self._formats, self._keys, self._start = stream, formats, keys or [], start
        self._what = "RAR archive" if formats == _RAR_FORMATS else "zip member"
        self._pass: contextlib.ExitStack | None = None
        self._archive: int | None = None
        self.index = -1  # of the entry whose header was read last
        self._unread = False  # its content not yet handed out
        self.consumed = 0  # bytes of the stream libarchive has consumed in this pass
        self.generation = 0

    def entries(self) -> Iterator[tuple[int, _EntryFacts]]:
        self._begin()
        while (facts := self._next()) is not None:
            yield self.index, facts

    def open(self, index: int, name: bytes) -> BinaryIO:
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
        self._pass = contextlib.ExitStack()
        reader = _libarchive_reader(self._stream, self._formats, self._keys, self._start)
        self._archive = self._call(lambda: self._pass.enter_context(reader))
        self.index, self._unread, self.consumed = -1, False, 0
        self.generation += 1

    def _next(self) -> _EntryFacts | None:
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
        return _EntryFacts((entry.pathname or "").encode("utf-8", "surrogateescape"), entry.size, mtime,
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

    def __init__(self, cursor: _LibarchiveCursor, generation: int) -> None:
        self._cursor, self._generation, self._index = cursor, generation, cursor.index

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if (self._cursor.generation, self._cursor.index) != (self._generation, self._index):
            raise ArchiveError("the archive was read on past this member before its content was")
        data = self._cursor.read(min(len(buffer), 1 << 20))
        buffer[: len(data)] = data
        return len(data)


class _LibarchiveMember(io.RawIOBase):
    """The first entry found at ``start`` in the stream: one zip member (its local header, then its data) read
    by libarchive, for what ``zipfile`` cannot decrypt."""

    def __init__(self, stream: BinaryIO, formats: tuple[str, ...], keys: list[bytes], start: int) -> None:
        self._cursor = _LibarchiveCursor(stream, formats, keys, start)
        self._content = self._cursor.open(0, next(self._cursor.entries())[1].name)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
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
            count = stream.readinto(buffer)
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

# bounded reading -------------------------------------------------------------------------


class BoundedMember(io.RawIOBase):
    """A member's content, stopped at its declared size (when known) and at ``MAX_MEMBER_BYTES``.

    A member that ends before its declared size, fails to expand part way (a bad CRC, a cut or corrupt stream) or
    expands past its bound stops there: what was read is its content, and ``problem`` says why it stopped and how
    much was read.  Nothing is raised, so the prefix is hashed and searched like any content.
    """

    def __init__(self, inner: BinaryIO, declared: int | None) -> None:
        self._inner, self._declared, self._done = inner, declared, 0
        self._limit = MAX_MEMBER_BYTES if declared is None else min(declared, MAX_MEMBER_BYTES)
        self._problem: Problem | None = None

    @property
    def problem(self) -> Problem | None:
        return self._problem or getattr(self._inner, "problem", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._problem is not None:
            return 0
        try:
            data = self._inner.read(min(len(buffer), self._limit - self._done + 1))
        except (ArchiveError, *_DAMAGE) as exc:
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
        buffer[: len(data)] = data
        self._done += len(data)
        return len(data)

    def _of_declared(self) -> str:
        return "" if self._declared is None else f" of {self._declared:,} declared"

    def close(self) -> None:
        self._inner.close()
        super().close()


def _without_passwords(function: Callable[[BinaryIO], _T]) -> Callable[[BinaryIO, Passwords], _T]:
    return lambda stream, _passwords: function(stream)


_LISTERS: dict[str, Callable[[BinaryIO, Passwords], Iterator[Member]]] = {
    "zip": _zip_list,
    "tar": _without_passwords(_tar_list),
    **{kind: _without_passwords(_single_list(kind, b"content")) for kind in _STREAM_MAGIC},
    "7z": _7z_list,
    "rar": _rar_list,
}
_OPENERS: dict[str, Callable[[BinaryIO, Passwords], MemberOpener]] = {
    "zip": _zip_opener,
    "tar": _without_passwords(_tar_opener),
    **{kind: _without_passwords(_single_opener(kind)) for kind in _STREAM_MAGIC},
    "7z": lambda stream, passwords: _SevenZipMembers(stream, passwords).open,
    "rar": _rar_opener,
}
