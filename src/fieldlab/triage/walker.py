"""The walk of a disk image in a process of its own, beside the scan's main process.

Why: the main process records what the walk finds, hands files to the readers and records what they read; with the
walk in it too, it was the scan's bottleneck.  On the 10 GiB seized laptop (201,107 files, E01) it was busy for all
of an exact-only scan's 69 s, the walk more than half of it, while the two readers waited: 169% CPU of 200%.  In its
own process the walk runs beside the recording, and on a machine with more cores the readers are no longer held to
what one process can record and walk.

The walker sends each entry as the row the case store records (``item_row``, computed here rather than in the main
process) with the file's media runs, in chunks, through a pipe: tuples of plain values, which unpickle in ~2 us, where
an ``Item`` took ~16 us.  The pipe holds what the main process has not taken yet; when it is full the walker waits.
The walker opens the source itself, from the scan's ``SourceSpec``, as the readers do.

Other sources (folders, archives, phone extractions) are walked in the main process (``WalkInPlace``): a folder's
walk costs ~15 us a file, less than sending it does; on 200,000 small files the scan took 14.1 s with a walker
process and 12.8 s without.
"""

from __future__ import annotations

import multiprocessing
import time
from itertools import islice
from multiprocessing.connection import Connection
from typing import Iterator, Union

from fieldlab.case.store import ItemRow, item_row, listed_state
from fieldlab.errors import ScanError
from fieldlab.evidence.extents import Extents, RunsFields
from fieldlab.evidence.folder import FolderEntry, walk_folder_entries
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import ItemKind, WalkError
from fieldlab.evidence.sources import EvidenceSource, FolderSource, SourceSpec, open_source
from fieldlab.locator import file_texts
from fieldlab.triage.reader import prepare_worker

CHUNK_ENTRIES = 1000  # entries per message: few round trips, yet the first files reach the readers at once
CHUNK_SECONDS = 0.05  # a slow walk (a damaged disk, a network share) still sends what it has this often
_STOP_SECONDS = 5

# What the walker sends: a row and its runs (as Extents' fields), or a problem of the walk.
Walked = Union[tuple[ItemRow, "RunsFields | None"], WalkError]


class WalkFailed(ScanError):
    """The walker process stopped without finishing the walk."""


class Walker:
    """The walk of ``spec`` running in a child process; ``take`` gives what it has found so far."""

    def __init__(self, spec: SourceSpec) -> None:
        context = multiprocessing.get_context("fork")
        self._receiving, sending = context.Pipe(duplex=False)
        self._process = context.Process(target=_walk, args=(spec, sending), name="fieldlab-walker", daemon=True)
        self._process.start()
        sending.close()  # the child's end: once it exits, a read here ends instead of waiting forever
        self.finished = False

    def take(self, most: int, timeout: float) -> list[Walked]:
        """Entries found since the last call, about ``most`` at most; waits up to ``timeout`` seconds for the first.
        Once the walk has ended, ``finished`` is set."""
        taken: list[Walked] = []
        while not self.finished and len(taken) < most and self._receiving.poll(0 if taken else timeout):
            try:
                message = self._receiving.recv()
            except EOFError:
                raise WalkFailed(f"the walk stopped unexpectedly (walker exit code {self._exit_code()})") from None
            if message is None:
                self.finished = True
            elif isinstance(message, str):
                raise WalkFailed(f"the walk failed: {message}")
            else:
                taken += message
        return taken

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(_STOP_SECONDS)
            if self._process.is_alive():
                self._process.kill()
        self._process.join()
        self._receiving.close()

    def _exit_code(self) -> int | None:
        self._process.join(_STOP_SECONDS)
        return self._process.exitcode

    def __enter__(self) -> Walker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class WalkInPlace:
    """``Walker``'s interface over a walk run in the scan's own process."""

    def __init__(self, source: EvidenceSource) -> None:
        self._rows = walked_rows(source)
        self.finished = False

    def take(self, most: int, timeout: float) -> list[Walked]:  # the walk in place never waits: no timeout
        taken: list[Walked] = [entry if isinstance(entry, WalkError) else (entry, None)
                               for entry in islice(self._rows, most)]
        self.finished = len(taken) < most
        return taken


def walked_rows(source: EvidenceSource) -> Iterator[ItemRow | WalkError]:
    """The walk of ``source`` as the case's rows: a plain folder's straight from what its walk finds (its subclasses
    list otherwise: one file, an encrypted backup's manifest), any other source's from its items."""
    if type(source) is FolderSource:
        return (entry if isinstance(entry, WalkError) else folder_row(entry) for entry in walk_folder_entries(source.root))
    return (entry if isinstance(entry, WalkError) else item_row(entry) for entry in source.walk())


def folder_row(entry: FolderEntry) -> ItemRow:
    """``item_row(item_of(entry))``, without making the item."""
    st, kind = entry.stat, entry.kind
    locator, path = file_texts(entry.relative)
    # a regular file, as most entries are, without the look-up keyed by an enum member (its hash is a Python call)
    kind_text, state = _FILE_ROW_KIND if kind is _FILE else _ROW_KINDS[kind]
    return tuple.__new__(ItemRow, (locator, path, kind_text, st.st_size if kind is _FILE else 0,  # results.py
                                   st.st_mtime, st.st_atime, st.st_ctime, entry.btime,
                                   entry.link_target, "", state))


_ROW_KINDS = {kind: (kind.value, listed_state(kind)) for kind in ItemKind}  # an enum's value is a Python-level property
_FILE = ItemKind.FILE
_FILE_ROW_KIND = _ROW_KINDS[_FILE]


def runs_of(fields: RunsFields) -> Extents:
    return Extents._make(fields)


def _walk(spec: SourceSpec, sending: Connection) -> None:
    """The child: walk, send chunks, then None; or the reason it could not, as text."""
    prepare_worker()  # Ctrl-C is the scan's to act on; die with the scan
    try:
        source = open_source(spec)
        try:
            extents = source.extents if isinstance(source, ImageSource) else None
            chunk: list[Walked] = []
            sent = time.monotonic()
            for entry in source.walk():
                if isinstance(entry, WalkError):
                    chunk.append(entry)
                else:
                    row = item_row(entry)
                    held = extents.take(row[0]) if extents is not None and entry.kind is ItemKind.FILE else None
                    chunk.append((row, None if held is None else held.plain()))
                if len(chunk) >= CHUNK_ENTRIES or time.monotonic() - sent >= CHUNK_SECONDS:
                    sending.send(chunk)
                    chunk, sent = [], time.monotonic()
            sending.send(chunk)
            sending.send(None)
        finally:
            source.close()
    except Exception as exc:  # noqa: BLE001 - any failure is the scan's to report, in words
        sending.send(f"{type(exc).__name__}: {exc}")
    finally:
        sending.close()
