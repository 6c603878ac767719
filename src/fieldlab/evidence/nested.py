"""Items inside items: open any locator whose tail is archive members, and list a container's members as items.

Every source (folder, disk image) opens the outer item; the ``member`` layers
after it are opened here, one container inside the next, so any evidence
source gets archives, documents and nested archives for free.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from fieldlab.detect.filetype import HEAD_SIZE, identify
from fieldlab.evidence.archives import CONTAINER_KINDS, MAX_DEPTH, ArchiveError, list_members, open_member, parse_key
from fieldlab.evidence.item import Item, ItemFlag, ItemKind
from fieldlab.evidence.sources import EvidenceSource, ItemHandle, ItemStream
from fieldlab.locator import Locator, LocatorError, display_bytes

SPOOL_LIMIT = 256 << 20  # a member that is itself a container is held in memory up to this, for cheap seeking
STREAM_BUFFER = 1 << 20


class MemberHandle:
    """An archive member opened for reading: the ``ItemHandle`` the readers expect."""

    def __init__(self, stream: BinaryIO, outer: ItemHandle) -> None:
        self._stream, self._outer = stream, outer
        self.size = len(stream.getbuffer()) if isinstance(stream, io.BytesIO) else 0  # 0: not known until read

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int) -> None:
        self._stream.seek(offset)

    def changed(self, listed_size: int, listed_mtime: float | None, bytes_read: int) -> str | None:
        """The outer item's check; a member's own size was verified against its declaration while reading."""
        return None

    def close(self) -> None:
        self._stream.close()
        self._outer.close()


def depth(locator: Locator) -> int:
    return sum(1 for layer in locator.layers if layer.kind == "member")


def open_nested(source: EvidenceSource, locator: Locator) -> ItemHandle:
    layers = locator.layers
    first = next((i for i, layer in enumerate(layers) if layer.kind == "member"), None)
    if first is None:
        return source.open_item(locator)
    if first == 0 or any(layer.kind != "member" for layer in layers[first:]):
        raise LocatorError(f"archive members must follow the item that holds them: {locator}")
    outer = source.open_item(Locator(layers[:first]))
    try:
        stream: BinaryIO = io.BufferedReader(ItemStream(outer, outer.size), STREAM_BUFFER)
        for position, layer in enumerate(layers[first:]):
            kind = container_kind(stream)
            if kind is None:
                raise ArchiveError("the item holding this member is not an archive (any more)")
            index, name = parse_key(layer.value)
            member = open_member(stream, kind, index, name)
            inner = position < len(layers) - first - 1
            stream = _seekable(member) if inner else _spooled(member)
        return MemberHandle(stream, outer)
    except BaseException:
        outer.close()
        raise


def container_kind(stream: BinaryIO) -> str | None:
    stream.seek(0)
    head = stream.read(HEAD_SIZE)
    stream.seek(0)
    return CONTAINER_KINDS.get(identify(head).label)


def _seekable(stream: BinaryIO) -> BinaryIO:
    """An inner container must seek (zip reads its directory from the end): hold it in memory, bounded."""
    data = stream.read(SPOOL_LIMIT + 1)
    if len(data) > SPOOL_LIMIT:
        raise ArchiveError(f"an archive inside an archive over {SPOOL_LIMIT >> 20} MiB is not opened")
    return io.BytesIO(data)


def _spooled(stream: BinaryIO) -> BinaryIO:
    """In memory (seekable, as decoders want) when small enough; otherwise streamed, read once from the start."""
    head = stream.read(SPOOL_LIMIT + 1)
    if len(head) <= SPOOL_LIMIT:
        return io.BytesIO(head)
    return io.BufferedReader(_Chain(head, stream), STREAM_BUFFER)


class _Chain(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


def member_items(parent_locator: Locator, parent_path: str, parent_flags: frozenset[ItemFlag], stream: BinaryIO,
                 kind: str) -> tuple[list[Item], str | None]:
    """The container's members as child items, and a problem (damaged, bombs, too deep) for the parent's errors."""
    if depth(parent_locator) >= MAX_DEPTH:
        return [], f"archive nested deeper than {MAX_DEPTH} levels: not opened"
    flags = (parent_flags - {ItemFlag.CARVED}) | {ItemFlag.IN_ARCHIVE}
    children, problems = [], []
    try:
        for member in list_members(stream, kind):
            if member.problem:
                problems.append(f"{display_bytes(member.name[:200])}: {member.problem}")
            children.append(Item(
                locator=parent_locator.child("member", member.key),
                path=f"{parent_path} › {display_bytes(member.name)}",
                kind=ItemKind.NAME_ONLY if member.problem else ItemKind.FILE,
                size=member.size or 0,
                mtime=member.mtime,
                flags=frozenset(flags),
            ))
    except ArchiveError as exc:
        problems.append(str(exc))
    problem = "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
    return children, problem or None
