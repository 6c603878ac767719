"""Items inside items: open any locator whose tail is archive members or carved runs, and list members as items.

Every source (folder, disk image) opens the outer item; the ``member`` and
``carved`` layers after it are opened here, one inside the next, so any
evidence source gets archives, documents, nested archives and media embedded
in other files for free.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import TYPE_CHECKING, BinaryIO

from fieldlab.detect.filetype import HEAD_SIZE
from fieldlab.evidence.archive_formats.registry import BY_KIND, kind_from_head, list_members, member_opener
from fieldlab.evidence.archives import (
    BOMB_FLOOR,
    MAX_DEPTH,
    MAX_MEMBER_BYTES,
    MAX_RATIO,
    ArchiveError,
    ByteWindow,
    Member,
    MemberOpener,
    Passwords,
    as_binary,
    parse_key,
)
from fieldlab.evidence.item import Item, ItemFlag, ItemKind
from fieldlab.evidence.sources import EvidenceSource, ItemHandle, ItemStream
from fieldlab.locator import VOLUME_LAYER_KINDS, Locator, LocatorError, display_bytes, parse_run
from fieldlab.problems import Problem, ProblemKind, merged

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

SPOOL_LIMIT = 256 << 20  # a member that is itself a container is held in memory up to this, for cheap seeking
STREAM_BUFFER = 1 << 20


class MemberHandle:
    """An archive member opened for reading: the ``ItemHandle`` the readers expect."""

    def __init__(self, stream: BinaryIO, outer: ItemHandle | None, content: BinaryIO | None = None) -> None:
        self._stream, self._outer, self._content = stream, outer, content
        self.size = len(stream.getbuffer()) if isinstance(stream, io.BytesIO) else 0  # 0: not known until read

    @property
    def problem(self) -> Problem | None:
        """Why the member's content stopped early (cut short, damaged, a bomb), once it has been read to its end;
        the content is then the readable prefix."""
        return getattr(self._content, "problem", None)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int) -> None:
        self._stream.seek(offset)

    def changed(self, listed_size: int, listed_mtime: float | None, bytes_read: int) -> Problem | None:
        """The outer item's check; a member's own size was verified against its declaration while reading."""
        return None

    def close(self) -> None:
        self._stream.close()
        if self._outer is not None:  # None: the outer item stays open with its container, for the next member
            self._outer.close()


def depth(locator: Locator) -> int:
    return sum(1 for layer in locator.layers if layer.kind == "member")


def archive_levels(containers: OpenedContainers, locator: Locator) -> int:
    """How many archives the item lies in, as an examiner counts them: the content of a compressed stream is the
    stream's own level (a .tar.gz is one archive, not two).  The kinds come from the containers opened on the way
    to the item; a container whose kind is not known counts as a level."""
    layers = locator.layers
    return sum(1 for position, layer in enumerate(layers) if layer.kind == "member"
               and _archive_level(containers.kind(Locator(layers[:position]).to_text())))


def _archive_level(kind: str | None) -> bool:
    return kind not in BY_KIND or BY_KIND[kind].archive_level


NESTED_KINDS = ("member", "carved")


class OpenedContainers:
    """The containers of one opened source whose directory has been read, with the outer item each holds open, and
    the kind of each container met, for counting archive levels.  Workers read members in order, so the last few
    containers cover nearly every member; both are bounded, and ``close`` closes the outer items still held."""

    KEEP_OPEN = 8
    KEEP_KINDS = 4096

    def __init__(self) -> None:
        self._opened: OrderedDict[tuple[str, Passwords], tuple[MemberOpener, ItemHandle | None]] = OrderedDict()
        self._kinds: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._opened)

    def opener(self, container: str, passwords: Passwords) -> MemberOpener | None:
        """The member opener of the container at ``container`` (a locator's text), now the most recently used."""
        key = (container, passwords)
        if key not in self._opened:
            return None
        self._opened.move_to_end(key)
        return self._opened[key][0]

    def keep(self, container: str, passwords: Passwords, kind: str, opener: MemberOpener,
             outer: ItemHandle | None) -> None:
        self._opened[(container, passwords)] = (opener, outer)
        while len(self._opened) > self.KEEP_OPEN:
            _, (_, evicted) = self._opened.popitem(last=False)
            if evicted is not None:
                evicted.close()
        self._kinds[container] = kind
        self._kinds.move_to_end(container)
        while len(self._kinds) > self.KEEP_KINDS:
            self._kinds.popitem(last=False)

    def kind(self, container: str) -> str | None:
        return self._kinds.get(container)

    def close(self) -> None:
        while self._opened:
            _, (_, outer) = self._opened.popitem()
            if outer is not None:
                outer.close()
        self._kinds.clear()


def open_nested(source: EvidenceSource, locator: Locator, passwords: Passwords = (), *,
                containers: OpenedContainers) -> ItemHandle:
    """``passwords``: the examiner's, tried on encrypted archive members (``UnlockOptions.archive_passwords``);
    ``containers``: those already opened in ``source``, kept for the members that follow."""
    layers = locator.layers
    # a carved run after volume layers alone is the source's own (a run of a disk image's media or of a decrypted
    # volume); one after an item's layer is a run of that item
    first = next((i for i, layer in enumerate(layers) if layer.kind in NESTED_KINDS
                  and any(outer.kind not in VOLUME_LAYER_KINDS for outer in layers[:i])), None)
    if first is None:
        return source.open_item(locator)
    if any(layer.kind not in NESTED_KINDS for layer in layers[first:]):
        raise LocatorError(f"members and carved runs must follow the item that holds them: {locator}")
    # the innermost container already open (members are read in order, many from one archive) is the start
    start = next((p for p in range(len(layers) - 1, first - 1, -1)
                  if layers[p].kind == "member" and containers.opener(Locator(layers[:p]).to_text(), passwords)),
                 None)
    outer = None
    if start is None:
        outer = source.open_item(Locator(layers[:first]))
        start = first
    try:
        stream: BinaryIO = io.BufferedReader(ItemStream(outer, outer.size), STREAM_BUFFER) if outer else io.BytesIO()
        for position in range(start, len(layers)):
            layer, inner = layers[position], position < len(layers) - 1
            if layer.kind == "carved":
                offset, length = parse_run(layer.value)
                stream = _spooled(as_binary(ByteWindow(stream, offset, length,
                                                       f"carved run {offset}+{length} lies past the end of the data holding it")))
                continue
            container = Locator(layers[:position]).to_text()
            opener = containers.opener(container, passwords)
            if opener is None:
                kind = container_kind(stream, _name_of(layers[position - 1].value))
                if kind is None:
                    raise ArchiveError("the item holding this member is not an archive (any more)")
                holds_outer = position == first  # the container's stream reads the outer item itself
                opener = member_opener(stream, kind, passwords)
                containers.keep(container, passwords, kind, opener, outer if holds_outer else None)
                if holds_outer:
                    outer = None  # closed by the cache when the container is evicted
            member = opener(*parse_key(layer.value))
            stream = _seekable(member) if inner else _spooled(member)
        return MemberHandle(stream, outer, member if layers[-1].kind == "member" else None)
    except BaseException:
        if outer is not None:
            outer.close()
        raise


def container_kind(stream: BinaryIO, name: str | None = None) -> str | None:
    """How to open the members of this item: an archive's kind by its content, a thumbnail cache's (name too)."""
    stream.seek(0)
    head = stream.read(HEAD_SIZE)
    stream.seek(0)
    return kind_from_head(head, name)


def _name_of(layer_value: bytes) -> str:
    """The file name a layer gives its content: the last path component, after a member's ``index:``."""
    tail = layer_value.rsplit(b"/", 1)[-1]
    return tail.decode("utf-8", "surrogateescape")


def _seekable(stream: BinaryIO) -> BinaryIO:
    """An inner container must seek (zip reads its directory from the end): hold it in memory, bounded."""
    data = _read_up_to(stream, SPOOL_LIMIT + 1)
    if len(data) > SPOOL_LIMIT:
        raise ArchiveError(f"an archive inside an archive over {SPOOL_LIMIT >> 20} MiB is not opened", ProblemKind.LIMIT)
    return io.BytesIO(data)


def _spooled(stream: BinaryIO) -> BinaryIO:
    """In memory (seekable, as decoders want) when small enough; otherwise streamed, read once from the start."""
    head = _read_up_to(stream, SPOOL_LIMIT + 1)
    if len(head) <= SPOOL_LIMIT:
        return io.BytesIO(head)
    return io.BufferedReader(_Chain(head, stream), STREAM_BUFFER)


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes, or fewer only at the end: a member's stream hands out what one expansion step made."""
    parts, count = [], 0
    while count < size and (part := stream.read(min(size - count, 16 << 20))):
        parts.append(part)
        count += len(part)
    return b"".join(parts)


class _Chain(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        if self._head:
            count = min(len(view), len(self._head))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


def member_items(parent_locator: Locator, parent_path: str, parent_flags: frozenset[ItemFlag], stream: BinaryIO,
                 kind: str, passwords: Passwords = (), max_depth: int = MAX_DEPTH,
                 levels: int | None = None) -> tuple[list[Item], tuple[Problem, ...]]:
    """The container's members as child items, and the problems (damaged, bombs, too deep) for the parent's errors,
    one per kind.

    A container lying ``max_depth`` archive ``levels`` deep (default: its member layers) is not opened: the
    examiner sees a nesting problem naming it, and can raise the limit for a scan (``scan --max-depth``).  Member
    layers are bounded at twice the limit too, so streams inside streams (a gzip quine) end."""
    levels = depth(parent_locator) if levels is None else levels
    if levels >= max_depth or depth(parent_locator) >= 2 * max_depth:
        return [], (Problem(ProblemKind.NESTING, f"{parent_path} lies {levels} archive levels deep, at the limit of "
                            f"{max_depth}: its members were not listed (scan --max-depth raises the limit)"),)
    container = BY_KIND[kind]
    flags = (parent_flags - {ItemFlag.CARVED}) | {container.child_flag}
    children, problems = [], []
    try:
        for member in list_members(stream, kind, passwords):
            if isinstance(member, (str, Problem)):
                problems.append(member if isinstance(member, Problem) else Problem(ProblemKind.DAMAGED, member))
                continue
            if member.problem and container.unread_member is not None:
                problems.append(Problem(_member_problem_kind(member, container.unread_member),
                                        f"{display_bytes(member.name[:200])}: {member.problem}"))
            children.append(Item(
                locator=parent_locator.child("member", member.key),
                path=f"{parent_path} › {display_bytes(member.label or member.name)}",
                kind=ItemKind.NAME_ONLY if member.problem else ItemKind.FILE,
                size=member.size or 0,
                mtime=member.mtime,
                flags=frozenset(flags),
            ))
    except ArchiveError as exc:
        problems.append(exc.problem)
    return children, merged(problems)


def _member_problem_kind(member: Member, unread: ProblemKind) -> ProblemKind:
    """Why a listed member is not read: locked, a bomb, or what its container says (a picture over the decoding
    bounds, a format fieldlab cannot expand: solid RAR 4, a link)."""
    if member.encrypted:
        return ProblemKind.ENCRYPTED
    size = member.size or 0
    if size > MAX_MEMBER_BYTES or size > BOMB_FLOOR and size > MAX_RATIO * max(member.stored or 1, 1):
        return ProblemKind.BOMB
    return unread
