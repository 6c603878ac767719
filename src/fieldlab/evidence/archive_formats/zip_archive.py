"""Zip archives (zip64, and the OOXML, ODF and EPUB documents built on zip): members listed from the central
directory, or from the local headers when the directory is missing (a zip cut short).

Read with Python's ``zipfile``; what it cannot do is done by libarchive: list a zip without its central
directory, and decrypt WinZip AES members.  Passwords supplied by the examiner are tried on encrypted members
(ZipCrypto through ``zipfile``, WinZip AES through libarchive); a member one of them opens is listed and read like
any other, and which password worked is not kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import zipfile
import zlib
from typing import BinaryIO, Callable, Iterator

from fieldlab.evidence.archive_formats.libarchive_cursor import LibarchiveCursor, LibarchiveMember
from fieldlab.evidence.archives import (
    KEEP_LAST,
    MAX_MEMBERS,
    ArchiveError,
    BoundedMember,
    Expanded,
    Member,
    MemberOpener,
    Passwords,
    as_binary,
    bomb_problem,
    head_of,
    locked_message,
    password_bytes,
)
from fieldlab.problems import ProblemKind


def list_zip(stream: BinaryIO, passwords: Passwords) -> Iterator[Member]:
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
            problem = locked_message(passwords) if locked else bomb_problem(info.file_size, info.compress_size)
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


def zip_opener(stream: BinaryIO, passwords: Passwords) -> MemberOpener:
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
        if problem := bomb_problem(info.file_size, info.compress_size):
            raise ArchiveError(problem, ProblemKind.BOMB)
        if not info.flag_bits & 0x1:
            return as_binary(BoundedMember(archive.open(info), info.file_size))
        unlocking = keys.unlock(info)
        if not unlocking:
            raise ArchiveError(locked_message(passwords), ProblemKind.ENCRYPTED)
        if info.compress_type == _WINZIP_AES:  # zipfile cannot decrypt it
            return as_binary(BoundedMember(LibarchiveMember(stream, ("zip_streamable",), unlocking, info.header_offset),
                                            info.file_size))
        return as_binary(BoundedMember(archive.open(info, pwd=unlocking[0]), info.file_size))

    return open_member


_ZIP_STREAMABLE = ("zip_streamable",)


def _cut_zip_list(stream: BinaryIO, passwords: Passwords, cause: Exception) -> Iterator[Member]:
    """A zip without its central directory (cut short, or its end damaged): the members its local headers
    describe, read forward by libarchive, then the damage reported."""
    if head_of(stream)[:4] != b"PK\x03\x04":
        raise ArchiveError(f"damaged zip archive: {cause}")
    cursor = LibarchiveCursor(stream, _ZIP_STREAMABLE)
    count = 0
    try:
        for index, facts in cursor.entries():
            if index == MAX_MEMBERS:
                break
            if facts.regular:
                count += 1
                problem = locked_message(passwords) if facts.encrypted else bomb_problem(facts.size, None)
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
    cursor = LibarchiveCursor(stream, _ZIP_STREAMABLE)

    def open_member(index: int, name: bytes) -> BinaryIO:
        member = members.get(index)
        if member is None or member.name != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        if member.problem:
            raise ArchiveError(member.problem, ProblemKind.ENCRYPTED if member.encrypted else ProblemKind.BOMB)
        content = BoundedMember(cursor.open(index, name), member.size)
        if member.size is None or member.size > KEEP_LAST:
            return as_binary(content)
        return Expanded(content.read(), content.problem)  # read now: the cursor moves on to the next member

    return open_member


_WINZIP_AES = 99  # the compression method of a WinZip AES member; the real one is in its 0x9901 extra field


class _ZipKeys:
    """The supplied passwords, as bytes, tried on one archive's encrypted members.

    The password that opened the last member is tried first, and alone when it passes: an archive nearly always
    has one password, so a long list is searched once per archive, not once per member.
    """

    def __init__(self, archive: zipfile.ZipFile, stream: BinaryIO, passwords: Passwords) -> None:
        self._archive, self._stream, self._candidates = archive, stream, password_bytes(passwords)
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
