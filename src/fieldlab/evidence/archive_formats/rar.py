"""RAR 4 and RAR 5 archives, read through libarchive (``libarchive-c``).

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
"""

from __future__ import annotations

import calendar
import contextlib
import io
import time
from typing import BinaryIO, Iterator

from fieldlab.evidence.archive_formats.libarchive_cursor import EntryFacts, LibarchiveCursor
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
)
from fieldlab.problems import ProblemKind

_RAR_FORMATS = ("rar", "rar5")
_RAR_NO_DECRYPTION = "encrypted: RAR encryption cannot be opened here (libarchive does not decrypt RAR), password or not"


def list_rar(stream: BinaryIO, passwords: Passwords) -> Iterator[Member]:
    """Members as libarchive lists them, with the encryption libarchive 3.6 does not report (RAR 5) from the
    headers, and the bytes each takes in the archive counted from the stream libarchive consumed."""
    head = head_of(stream)
    if _rar_headers_encrypted(head):
        raise ArchiveError("encrypted RAR archive: its member names are encrypted too, and RAR encryption cannot be "
                           "opened here (libarchive does not decrypt RAR)", ProblemKind.ENCRYPTED)
    encrypted_rar5 = _rar5_encrypted(stream) if head.startswith(b"Rar!\x1a\x07\x01\x00") else []
    solid_rar4 = head.startswith(b"Rar!\x1a\x07\x00") and len(head) > 11 and bool(head[10] & 0x08)
    cursor = LibarchiveCursor(stream, _RAR_FORMATS)
    pending: tuple[int, EntryFacts, int] | None = None  # a member waits for the next header to know its stored size
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


def _rar_member(index: int, facts: EntryFacts, start: int, end: int, encrypted_rar5: list[bool]) -> Member | None:
    if not facts.regular:
        return None
    encrypted = facts.encrypted or (index < len(encrypted_rar5) and encrypted_rar5[index])
    stored = max(end - start, 0)
    problem = _RAR_NO_DECRYPTION if encrypted else bomb_problem(facts.size, stored)
    return Member(index, facts.name, facts.size, stored, facts.mtime, encrypted, problem)


def rar_opener(stream: BinaryIO, passwords: Passwords) -> MemberOpener:
    members: dict[int, Member] = {}
    with contextlib.suppress(ArchiveError):  # a damaged tail: the members before it can still be read
        members.update((m.index, m) for m in list_rar(stream, passwords))
    cursor = LibarchiveCursor(stream, _RAR_FORMATS)
    last: dict[int, Expanded] = {}

    def open_member(index: int, name: bytes) -> BinaryIO:
        member = members.get(index)
        if member is None or member.name != name:
            raise ArchiveError(f"member {index} is not {name[:80]!r} in this archive")
        if member.problem:
            raise ArchiveError(member.problem, ProblemKind.ENCRYPTED if member.encrypted else
                               ProblemKind.UNSUPPORTED if member.problem == _RAR4_SOLID else ProblemKind.BOMB)
        if index in last:
            return Expanded(last[index].getvalue(), last[index].problem)
        content = BoundedMember(cursor.open(index, name), member.size)
        if member.size is None or member.size > KEEP_LAST:
            return as_binary(content)
        kept = Expanded(content.read(), content.problem)
        last.clear()
        last[index] = kept
        return Expanded(kept.getvalue(), kept.problem)

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
