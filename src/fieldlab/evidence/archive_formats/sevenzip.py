"""7z archives, read with ``py7zr``: expanded in forward passes whose every byte, skipped members' included,
counts against one budget per archive (``SevenZipMembers``), so a solid folder is never expanded once per member.

Passwords supplied by the examiner open encrypted archives, including those whose member names are encrypted.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Iterator

from fieldlab.evidence.archives import (
    BOMB_FLOOR,
    MAX_MEMBERS,
    MAX_RATIO,
    ArchiveError,
    Expanded,
    Member,
    MemberOpener,
    Passwords,
    bomb_problem,
    locked_message,
)
from fieldlab.problems import Problem, ProblemKind


def list_7z(stream: BinaryIO, passwords: Passwords) -> Iterator[Member]:
    archive, locked = _7z_open(stream, passwords)
    with archive:
        encrypted = archive.needs_password()
        for index, info in enumerate(archive.list()[:MAX_MEMBERS]):
            if info.is_directory:
                continue
            problem = locked_message(passwords) if locked else bomb_problem(info.uncompressed, info.compressed)
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


def sevenzip_opener(stream: BinaryIO, passwords: Passwords) -> MemberOpener:
    return SevenZipMembers(stream, passwords).open


class SevenZipMembers:
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
            raise ArchiveError(locked_message(self._passwords), ProblemKind.ENCRYPTED)
        if problem := bomb_problem(info.uncompressed, info.compressed):
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
        return Expanded(sink.data(), sink.problem)

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
            # py7zr only calls create(); its WriterFactory base is not imported at module level (cheap imports)
            worker.register_filelike(file.id, MemIO(str(file.id), factory) if needed else None)  # type: ignore[arg-type]
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

    def __init__(self, sinks: dict[int, "_Sink"], members: SevenZipMembers, wanted: int) -> None:
        self._sinks, self._members, self._wanted = sinks, members, wanted
        self._keeping = 0
        self.current: _Sink | None = None

    def create(self, filename: str) -> "_Sink":
        index = int(filename)
        sink, info = self._sinks[index], self._members._infos[index]
        if index >= self._wanted and not bomb_problem(info.uncompressed, info.compressed):
            size = info.uncompressed or 0
            sink.keep = index == self._wanted or self._keeping + size <= SevenZipMembers.KEEP_AHEAD
            self._keeping += size if sink.keep else 0
        if self._sinks[self._wanted].opened and not sink.keep:
            raise _PassEnough  # what follows would be expanded only to be dropped
        sink.opened, self.current = True, sink
        return sink


class _Sink:
    """Where py7zr writes one member: every byte counted against the archive's budget, kept only when asked for."""

    def __init__(self, members: SevenZipMembers, keep: bool) -> None:
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
