"""Thumbnail caches as containers: each cached picture a member, so it is read, hashed and PDQ-matched like a file.

Member keys are ``<position>:<cache key>`` (thumbcache entry hash, Thumbs.db
stream name, thumbdata offset); the member's display name is the original
file name where the cache records it (Thumbs.db's Catalog).  An OLE file that
turns out not to be a Thumbs.db (a Word document) simply has no thumbnails.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Iterator

from fieldlab.detect.thumbnails import ThumbnailCacheError, ThumbnailEntry, cache_kind, list_thumbnails, read_thumbnail
from fieldlab.evidence.archives import ArchiveError, Member, MemberOpener
from fieldlab.problems import Problem, ProblemKind

KINDS = ("thumbcache", "thumbs.db", "ole", "thumbdata")


def thumbnail_container(head: bytes, name: str | None) -> str | None:
    kind = cache_kind(head, name)
    return kind if kind in KINDS else None


def list_thumbnail_members(stream: BinaryIO, kind: str) -> Iterator[Member | Problem | str]:
    """Members, and problems (as text) where the cache is damaged; nothing at all for an OLE file without thumbnails.

    A cache that holds no picture is recorded as normal: Windows keeps a header-only ``thumbcache_*.db`` for every
    size, and an examiner should see that it was opened and empty, not that something went wrong."""
    size = _size(stream)
    try:
        found = list(list_thumbnails(stream, size, "thumbs.db" if kind == "ole" else kind))
    except ThumbnailCacheError as exc:
        if kind == "ole":
            return
        raise ArchiveError(f"damaged {kind}: {exc}") from exc
    if kind != "ole" and not found:
        yield Problem(ProblemKind.NORMAL, f"{kind}: no thumbnails stored (an empty cache, as the system keeps them)")
    for index, entry in enumerate(found):
        if isinstance(entry, ThumbnailCacheError):
            yield f"{kind}: {entry}"
            continue
        yield Member(
            index, entry.key.encode("utf-8", "surrogateescape"), entry.size, entry.size, entry.modified,
            problem=None if entry.size else "empty entry: no picture stored",
            label=_label(entry),
        )


def thumbnail_opener(stream: BinaryIO, kind: str) -> MemberOpener:
    """Lists the cache once; the opener then reads any of its pictures by position and key."""
    size = _size(stream)
    kind = "thumbs.db" if kind == "ole" else kind
    try:
        entries = list(list_thumbnails(stream, size, kind))
    except ThumbnailCacheError as exc:
        raise ArchiveError(f"cannot read the {kind}: {exc}") from exc

    def open_member(index: int, key: bytes) -> BinaryIO:
        entry = entries[index] if index < len(entries) else None
        if not isinstance(entry, ThumbnailEntry) or entry.key.encode("utf-8", "surrogateescape") != key:
            raise ArchiveError(f"thumbnail {index} is not {key[:80]!r} in this cache")
        try:
            return io.BytesIO(read_thumbnail(stream, size, kind, entry))
        except ThumbnailCacheError as exc:
            raise ArchiveError(f"cannot read thumbnail {key[:80]!r}: {exc}") from exc

    return open_member


def _label(entry: ThumbnailEntry) -> bytes:
    shown = entry.name or f"thumbnail {entry.key}"
    return shown.encode("utf-8", "surrogateescape")


def _size(stream: BinaryIO) -> int:
    end = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return end
