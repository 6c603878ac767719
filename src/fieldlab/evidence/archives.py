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
single-stream compressors); ``py7zr`` for 7z; libarchive (through
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
MAX_DEPTH = 5  # archives within archives within ... a depth the examiner can raise

CONTAINER_KINDS = {  # file type label (fieldlab.detect.filetype) -> how it is opened
    "zip": "zip", "ooxml": "zip", "odf": "zip", "epub": "zip",
    "tar": "tar", "gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "7z": "7z", "rar": "rar",
}
Passwords = tuple[str, ...]  # supplied by the examiner, tried in turn on encrypted members; never stored


class ArchiveError(Exception):
    """The archive (or one member) cannot be listed or read; the message says why, for the item's error."""

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
    with zipfile.ZipFile(stream) as archive:
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
    archive = zipfile.ZipFile(stream)
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
    entries = list(_tar_entries(archive))

    def open_member(index: int, name: bytes) -> BinaryIO:
        info = entries[index] if index < len(entries) else None
        member = archive.extractfile(info) if info is not None and info.isreg() else None
        if member is None or info.name.encode("utf-8", "surrogateescape") != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        return BoundedMember(member, info.size)

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
            return BoundedMember(opener(stream), None)

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


def _7z_opener(stream: BinaryIO, passwords: Passwords) -> MemberOpener:
    import py7zr.io

    archive, locked = _7z_open(stream, passwords)  # the directory (and the password) found once, for every member
    infos = archive.list()

    def open_member(index: int, name: bytes) -> BinaryIO:
        if index >= len(infos) or infos[index].filename.encode("utf-8", "surrogateescape") != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        info = infos[index]
        if problem := (_locked(passwords) if locked else None) or _bomb(info.uncompressed, info.compressed):
            raise ArchiveError(problem, ProblemKind.ENCRYPTED if locked else ProblemKind.BOMB)
        # py7zr extracts whole members: bounded above by the declared size, which its buffer also caps
        factory = py7zr.io.BytesIOFactory(min(info.uncompressed or 0, MAX_MEMBER_BYTES))
        try:
            archive.extract(targets=[info.filename], factory=factory)
        except Exception as exc:  # noqa: BLE001 - py7zr's decoders fail on damage in many ways
            raise ArchiveError(f"member {index} could not be extracted: {type(exc).__name__}: {exc}") from exc
        finally:
            archive.reset()
        product = factory.products.get(info.filename)
        if product is None:
            raise ArchiveError(f"member {index} could not be extracted")
        product.seek(0)
        return io.BytesIO(product.read())

    return open_member


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
    last: dict[int, bytes] = {}

    def open_member(index: int, name: bytes) -> BinaryIO:
        member = members.get(index)
        if member is None or member.name != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        if member.problem:
            raise ArchiveError(member.problem)
        if index in last:
            return io.BytesIO(last[index])
        content = BoundedMember(cursor.open(index, name), member.size)
        if member.size is None or member.size > KEEP_LAST:
            return content
        data = content.read()
        last.clear()
        last[index] = data
        return io.BytesIO(data)

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
    """A member's stream that refuses to expand past its declared size (when known) or ``MAX_MEMBER_BYTES``."""

    def __init__(self, inner: BinaryIO, declared: int | None) -> None:
        self._inner, self._limit, self._done = inner, MAX_MEMBER_BYTES if declared is None else declared, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError) as exc:  # a bad CRC, a cut or corrupt stream
            raise ArchiveError(f"damaged member: {exc}") from exc
        if self._done + len(data) > self._limit:
            raise ArchiveError(f"expands past {self._limit:,} bytes: stopped (a decompression bomb, or a size that lies)",
                               ProblemKind.BOMB)
        buffer[: len(data)] = data
        self._done += len(data)
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _without_passwords(function: Callable[[BinaryIO], _T]) -> Callable[[BinaryIO, Passwords], _T]:
    return lambda stream, _passwords: function(stream)


_LISTERS: dict[str, Callable[[BinaryIO, Passwords], Iterator[Member]]] = {
    "zip": _zip_list,
    "tar": _without_passwords(_tar_list),
    "gzip": _without_passwords(_single_list(lambda s: gzip.GzipFile(fileobj=s, mode="rb"), b"content")),
    "bzip2": _without_passwords(_single_list(lambda s: bz2.BZ2File(s, mode="rb"), b"content")),
    "xz": _without_passwords(_single_list(lambda s: lzma.LZMAFile(s, mode="rb"), b"content")),
    "7z": _7z_list,
    "rar": _rar_list,
}
_OPENERS: dict[str, Callable[[BinaryIO, Passwords], MemberOpener]] = {
    "zip": _zip_opener,
    "tar": _without_passwords(_tar_opener),
    "gzip": _without_passwords(_single_opener(lambda s: gzip.GzipFile(fileobj=s, mode="rb"))),
    "bzip2": _without_passwords(_single_opener(lambda s: bz2.BZ2File(s, mode="rb"))),
    "xz": _without_passwords(_single_opener(lambda s: lzma.LZMAFile(s, mode="rb"))),
    "7z": _7z_opener,
    "rar": _rar_opener,
}
