"""What a walker found: where a file's structure ends, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class End(Enum):
    FOUND = "found"  # the format's own end (EOI, IEND, trailer, declared size) inside the limit
    LIMIT = "limit"  # the structure goes on past the limit (region end or max_file): the file is cut
    BROKEN = "broken"  # the structure stops making sense before its end: damaged, overwritten or fragmented


@dataclass(frozen=True)
class Walk:
    kind: str
    length: int  # header to the end found; to the limit or the break otherwise
    end: End
    sound: int  # leading bytes whose structure checked out: a header inside them is part of this file
    note: str | None = None  # why the structure broke, or what was stepped over on the way


def complete(kind: str, length: int, note: str | None = None) -> Walk:
    return Walk(kind, length, End.FOUND, length, note)


def cut(kind: str, offset: int, limit: int, sound_to: int, note: str | None = None) -> Walk:
    """The structure runs on past ``limit``: everything up to it belongs to the file, as far as anyone can tell."""
    return Walk(kind, limit - offset, End.LIMIT, max(0, sound_to - offset), note)


def broken(kind: str, offset: int, at: int, note: str) -> Walk:
    """The structure fails at ``at``: the run ends there, and only what came before it is vouched for."""
    return Walk(kind, at - offset, End.BROKEN, at - offset, note)
