"""What went wrong with an item or a place, in words a court report can use.

Every problem the scan records has a kind.  The kind says *what happened* (a
damaged PDF is not a file that "changed during the scan"), the stage column of
the errors table says *where* (walk, read, decode, carve, phone, verify).  The
verdict, `summary`, `fieldlab errors` and the report count problems by kind, so
an examiner sees at a glance which findings may be incomplete and why.

This module is imported by worker processes: it must stay free of heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable, Mapping

from fieldlab.errors import OptionError


class ProblemKind(StrEnum):
    UNREADABLE = "unreadable"  # could not be opened or read at all (I/O error, vanished, refused)
    DAMAGED = "damaged"  # its structure is corrupt: what could be read is kept
    TRUNCATED = "truncated"  # it ends early: the readable prefix is kept, hashed and searched
    CHANGED = "changed"  # it changed while the scan read it (a live folder or device)
    UNSUPPORTED = "unsupported"  # a format or feature fieldlab cannot read (say which)
    ENCRYPTED = "encrypted"  # locked, and no password given opened it
    BOMB = "bomb"  # expands far beyond its stored size: stopped, what was read is kept
    NESTING = "nesting"  # not opened: it lies deeper than the nesting limit (scan --max-depth)
    LIMIT = "limit"  # another bound was reached (members, entries, bytes): the rest was not listed
    NORMAL = "normal"  # empty or header-only the way the system keeps it: a fact, not an error
    INTERNAL = "internal"  # a fault of fieldlab itself: please report it

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_error(self) -> bool:
        """Counted as an error in the verdict; `normal` is listed but is not one."""
        return self is not ProblemKind.NORMAL


_LABELS = {
    ProblemKind.UNREADABLE: "unreadable",
    ProblemKind.DAMAGED: "damaged",
    ProblemKind.TRUNCATED: "truncated",
    ProblemKind.CHANGED: "changed during the scan",
    ProblemKind.UNSUPPORTED: "unsupported",
    ProblemKind.ENCRYPTED: "encrypted, not opened",
    ProblemKind.BOMB: "decompression bomb, stopped",
    ProblemKind.NESTING: "not opened: nesting limit",
    ProblemKind.LIMIT: "limit reached",
    ProblemKind.NORMAL: "normal",  # an empty cache, a fragment in free space: facts of the evidence
    ProblemKind.INTERNAL: "internal error",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one item: recorded, never raised, so the scan goes on."""

    kind: ProblemKind
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", self.message[:500])


def merged(problems: Iterable[Problem], shown: int = 20) -> tuple[Problem, ...]:
    """One problem per kind, in the order kinds first appear, messages joined (the first ``shown`` of each).

    A damaged archive with thousands of bad members is one row of each kind in the errors table, not thousands,
    and every kind still counts apart."""
    by_kind: dict[ProblemKind, list[str]] = {}
    for problem in problems:
        by_kind.setdefault(problem.kind, []).append(problem.message)
    return tuple(
        Problem(kind, "; ".join(messages[:shown]) + (f"; and {len(messages) - shown} more" if len(messages) > shown else ""))
        for kind, messages in by_kind.items()
    )


def parse_kind(text: str) -> ProblemKind:
    """A kind as the examiner types it (``fieldlab errors --kind damaged``); the message lists the valid ones."""
    try:
        return ProblemKind(text.strip().lower())
    except ValueError:
        raise OptionError(f"no problem kind {text!r}: choose one of {', '.join(ProblemKind)}") from None


def problems_summary(problems: Mapping[str, int]) -> str:
    """Recorded problems by kind, compactly: errors first, then what was not opened for depth, then what is normal.

    "2 damaged, 1 truncated · not opened: nesting limit 1 · 3 normal": a damaged file is never called changed,
    and a normal empty cache never reads as an error."""
    counts = {ProblemKind(kind): n for kind, n in problems.items() if n}
    errors = ", ".join(f"{counts[k]:,} {k.label}" for k in ProblemKind
                       if k in counts and k.is_error and k is not ProblemKind.NESTING)
    parts = [errors] if errors else []
    if ProblemKind.NESTING in counts:
        parts.append(f"{ProblemKind.NESTING.label} {counts[ProblemKind.NESTING]:,}")
    if ProblemKind.NORMAL in counts:
        parts.append(f"{counts[ProblemKind.NORMAL]:,} normal")
    return " · ".join(parts) or "none"
