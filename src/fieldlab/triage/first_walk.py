"""The first walk of a source walked in place (a folder): its entries go from the walk to the readers in memory and
into the case once, complete, in the walk's order.

Why: a walk recorded as it goes inserts every file as pending, selects it again to hand it to a reader, and updates
it with its digests; on a folder of many small files those three round trips were most of the main process's work,
and the main process is the pace there (docs/architecture.md, "Many small files").  Here a file is inserted once,
with its digests (``CaseStore.record_listed``).

What keeps a scan resumable: nothing walked is in the case before it is read, and the walk is marked complete only
once every entry it listed is recorded (``recorded``), so a scan that stops at any point walks again on resuming,
and that walk (the case now holds items) is recorded as it goes, as any resumed walk is.  Memory stays bounded: the
walk waits while ``room`` is false, a few batches ahead of the readers.  Batches are recorded in the order they were
handed out, whatever order they come back in, so item ids follow the walk's order as a recorded walk's do; unless
one batch is read so slowly (a file of many GB) that more than ``most_held`` later ones wait for it: those are then
recorded as they are, out of order, rather than kept in memory with the other reader idle.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable

from fieldlab.case.store import ItemRow
from fieldlab.evidence.item import ItemKind
from fieldlab.results import ItemResult, TupleBatch
from fieldlab.triage.reader import ReadTask

_FILE = ItemKind.FILE.value


class FirstWalkBatch:
    """Consecutive entries of the walk; its files' tasks carry their positions in ``rows`` as item ids."""

    def __init__(self, rows: list[ItemRow]) -> None:
        self.rows = rows
        self.tasks = TupleBatch(ReadTask, [  # every field, in order (results.py)
            tuple.__new__(ReadTask, (position, row.locator, row.path, row.size, row.mtime, row.flags, None))
            for position, row in enumerate(rows) if row.kind == _FILE])
        self.results: list[ItemResult] | None = None  # once read


class FirstWalk:
    """Entries listed and not yet recorded: waiting for a reader, or in a batch handed out."""

    def __init__(self, ahead: int, most_held: int) -> None:
        self._ahead, self._most_held = ahead, most_held
        self._waiting: deque[ItemRow] = deque()
        self._handed_out: deque[FirstWalkBatch] = deque()

    @property
    def room(self) -> bool:
        """Whether the walk may list more: fewer than ``ahead`` entries wait for a reader.  Links and special files
        count too: a folder of nothing else must not fill the memory while the readers are busy."""
        return len(self._waiting) < self._ahead

    @property
    def recorded(self) -> bool:
        """Every entry listed so far is recorded (or was never handed out and none waits)."""
        return not self._waiting and not self._handed_out

    def add(self, rows: Iterable[ItemRow]) -> None:
        self._waiting.extend(rows)

    def next_batch(self, most_files: int, most_bytes: int) -> FirstWalkBatch | None:
        """The next entries in walk order, up to ``most_files`` files or ``most_bytes`` bytes (at least one entry)."""
        rows: list[ItemRow] = []
        files = size = 0
        while self._waiting:
            row = self._waiting[0]
            if row.kind == _FILE:
                if files and (files >= most_files or size + row.size > most_bytes):
                    break
                files += 1
                size += row.size
            rows.append(self._waiting.popleft())
        if not rows:
            return None
        batch = FirstWalkBatch(rows)
        self._handed_out.append(batch)
        return batch

    def back(self, batch: FirstWalkBatch, results: list[ItemResult]) -> list[FirstWalkBatch]:
        """``batch`` is read: the batches now to record, in the order they were handed out (none while an earlier
        one is still being read, up to ``most_held`` of them)."""
        batch.results = results
        ready = []
        while self._handed_out and self._handed_out[0].results is not None:
            ready.append(self._handed_out.popleft())
        held = [b for b in self._handed_out if b.results is not None]
        if len(held) > self._most_held:
            for b in held:
                self._handed_out.remove(b)
            ready += held
        return ready
