"""Worker side of a scan: open items by locator, read each once, and return digests and type.

Runs in worker processes.  Only small task and result records cross the
process boundary; each worker opens the evidence itself, once, in its
``EvidenceContext`` (``worker_context``), and reads the bytes where they are hashed.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import io
import os
import signal
from dataclasses import dataclass
from typing import NamedTuple

from fieldlab.detect.carve import carve
from fieldlab.detect.digests import digest_file
from fieldlab.detect.embedded import EmbeddedMediaHint
from fieldlab.detect.exif_thumbnail import exif_thumbnail_run
from fieldlab.detect.filetype import HEAD_SIZE, FileType, extension_mismatch, identify
from fieldlab.evidence.archive_formats.registry import BY_KIND, kind_from_head
from fieldlab.evidence.archives import MAX_DEPTH, ArchiveError, Passwords
from fieldlab.evidence.context import EvidenceContext, OpenedExhibit
from fieldlab.evidence.extents import Extents, RunsFields
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, ItemFlag, ItemKind, parsed_flags
from fieldlab.evidence.nested import archive_levels, member_items
from fieldlab.evidence.reopen import ReopenError, reopen_folder_file, reopen_item
from fieldlab.evidence.sources import FolderSource, ItemHandle, ItemStream, SourceSpec
from fieldlab.locator import Locator, file_path, run_key
from fieldlab.problems import Problem, ProblemKind, merged
from fieldlab.results import ItemResult, TupleBatch

EMBED_LIMIT = 64 << 20  # documents and unknown files up to this are searched for embedded media
EMBED_MAX = 10_000
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ReadTask(NamedTuple):
    """One item for a reader; a named tuple for the same reason as ``ItemResult``: it is pickled once per file
    (measured per task: 1.9 us as a named tuple, 3.0 us as a frozen dataclass, in the main process)."""

    item_id: int
    locator: str
    path: str  # display path: the extension check, and the paths of members found inside
    size: int  # as listed by the walk
    mtime: float | None
    flags: str = ""  # as stored: members of a deleted archive are deleted too
    extents: RunsFields | None = None  # where the walk found its content on the media (an Extents as a plain tuple,
    # so a batch pickles in C alone: see TupleBatch): read from there, not via TSK

    @property
    def name(self) -> str:
        """The last name in the path, inside its container if it has one ("a.pdf › PDF image object 7 ..." claims
        no extension: the container's ".pdf" is not the member's)."""
        return self.path.rsplit(" › ", 1)[-1].rsplit("/", 1)[-1]


def prepare_worker() -> None:
    """Workers leave Ctrl-C to the scan, which stops them cleanly and keeps what is already recorded,
    and die with the scan if it is killed outright, rather than linger holding the evidence open.  A forked worker
    starts with a context of its own, never the evidence its parent had open."""
    global _worker_context
    _worker_context = None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def worker_pool(workers: int, niceness: int = 0) -> cf.ProcessPoolExecutor:
    """Processes for units of work (``prepare_worker``), at ``niceness`` for their whole life: without privileges
    a process cannot raise its priority back, so a pool that must later run at full speed is replaced, not reniced."""
    return cf.ProcessPoolExecutor(max_workers=workers, initializer=_prepare_niced_worker, initargs=(niceness,))


def _prepare_niced_worker(niceness: int) -> None:
    prepare_worker()
    if niceness:
        os.nice(niceness)


_worker_context: EvidenceContext | None = None  # this process's, once it has run a unit of work


def worker_context() -> EvidenceContext:
    """The context of this worker process, made by the first unit it runs (a local pool's, a Dask worker's, a
    thumbnail worker's) and kept, so the evidence is opened once per process, not once per batch."""
    global _worker_context
    if _worker_context is None:
        _worker_context = EvidenceContext()
    return _worker_context


@dataclass(frozen=True)
class ReadOptions:
    sha256: bool = False
    embedded: bool = True  # search documents and unknown files for pictures and videos inside them
    max_depth: int = MAX_DEPTH  # archive levels opened; a container deeper is reported as a nesting problem


def read_batch(spec: SourceSpec, tasks: list[ReadTask], options: ReadOptions,
               context: EvidenceContext | None = None) -> list[ItemResult]:
    """``context``: where the evidence stays open; this worker process's own when not given."""
    exhibit = (context or worker_context()).exhibit(spec)
    passwords = spec.unlock.archive_passwords  # the examiner's, for encrypted archive members: in memory only
    return TupleBatch(ItemResult, [_read_guarded(exhibit, task, options, passwords) for task in tasks])


def _read_guarded(exhibit: OpenedExhibit, task: ReadTask, options: ReadOptions, passwords: Passwords) -> ItemResult:
    """One hostile file must never stop the scan: any failure becomes that item's error."""
    try:
        return _read_one(exhibit, task, options, passwords)
    except Exception as exc:  # noqa: BLE001 - recorded against the item, the scan goes on
        return ItemResult(task.item_id, error=Problem(ProblemKind.INTERNAL,
                                                      f"internal error while reading: {type(exc).__name__}: {exc}"))


def _read_one(exhibit: OpenedExhibit, task: ReadTask, options: ReadOptions, passwords: Passwords) -> ItemResult:
    try:
        handle = _opened(exhibit, task, passwords)
    except ReopenError as exc:
        return ItemResult(task.item_id, error=exc.problem)
    try:
        hint = EmbeddedMediaHint(EMBED_LIMIT) if options.embedded else None
        digests, head = digest_file(handle, HEAD_SIZE, options.sha256, hint)
        changed = handle.changed(task.size, task.mtime, digests.size)
        stopped = getattr(handle, "problem", None)  # an archive member's content that stopped early (MemberHandle)
    except OSError as exc:
        return ItemResult(task.item_id, error=Problem(ProblemKind.UNREADABLE, f"read failed: {exc.strerror or exc}"))
    except ArchiveError as exc:
        return ItemResult(task.item_id, error=exc.problem)
    finally:
        handle.close()
    file_type = identify(head)
    name = task.name
    children, inside = _children(exhibit, task, name, head, file_type, hint is not None and hint.found, passwords,
                                 options.max_depth)
    problems = ((changed,) if changed else ()) + ((stopped,) if stopped else ()) + inside
    return tuple.__new__(ItemResult, (  # every field, in order (results.py): a million small files make a million
        task.item_id, digests.md5, digests.sha1, digests.sha256, file_type.label, file_type.mime, file_type.family,
        extension_mismatch(name, file_type), None,
        merged(problems) if problems else (),  # one row a kind
        digests.size, tuple(children), stopped is not None,
    ))


def _opened(exhibit: OpenedExhibit, task: ReadTask, passwords: Passwords) -> ItemHandle:
    """The item by its media runs when the walk gave them (a disk image's plain file: its locator is not even parsed,
    ~6 us a file), by its path when it is a folder's own file (no locator objects either), else by its locator."""
    source = exhibit.source
    if task.extents is not None and isinstance(source, ImageSource):
        return source.open_extents(Extents._make(task.extents))
    if type(source) is FolderSource and (relative := file_path(task.locator)) is not None:
        return reopen_folder_file(source, relative)
    return reopen_item(exhibit, task.locator, passwords)


def _children(
    exhibit: OpenedExhibit, task: ReadTask, name: str, head: bytes, file_type: FileType, media_inside: bool,
    passwords: Passwords = (), max_depth: int = MAX_DEPTH,
) -> tuple[list[Item], tuple[Problem, ...]]:
    """What the item (named ``name``) holds, as child items to read in their turn: an archive's, container
    document's or thumbnail cache's members, a PDF's pictures and a HEIF picture's thumbnails (rendered), a photo's
    EXIF thumbnail, or pictures embedded in a document or unknown file.  The item is opened again only when its
    first bytes (or its type) say so, and as it was for its digests (by its media runs when the walk gave them: TSK
    re-reading its metadata would inflate its MFT chunk in an E01 again)."""
    flags = parsed_flags(task.flags) if task.flags else frozenset()
    if ItemFlag.THUMBNAIL in flags or ItemFlag.CARVED in flags:
        return [], ()  # a picture from a cache or carved: whatever it looks like, it holds nothing more
    kind = kind_from_head(head, name, file_type.label)
    container = BY_KIND[kind] if kind else None
    if container is not None:
        exif_run = container.exif_thumbnail  # a HEIF picture's EXIF preview
    else:
        exif_run = exif_thumbnail_run if file_type.label == "jpeg" and b"Exif\0\0" in head else None
    embedded = (container is None or container.embedded_media) and media_inside and task.size <= EMBED_LIMIT
    if kind is None and not exif_run and not embedded:
        return [], ()
    locator = Locator.parse(task.locator)
    try:
        handle = _opened(exhibit, task, passwords)
    except ReopenError as exc:
        return [], (Problem(exc.problem.kind, f"archive not opened: {exc}"),)
    try:
        stream = io.BufferedReader(ItemStream(handle, handle.size), 1 << 20)
        children, problems = (member_items(locator, task.path, flags, stream, kind, passwords, max_depth,
                                           archive_levels(exhibit.containers, locator)) if kind else ([], ()))
        # a container whose members are thumbnails and has some is a cache, not a document holding pictures
        if embedded and not (container and container.child_flag is ItemFlag.THUMBNAIL and children):
            stream.seek(0)
            children += _embedded(locator, task, flags, stream.read(EMBED_LIMIT))
        elif exif_run:
            run = exif_run(stream)
            if run is not None:
                children.append(Item(locator.child("carved", run_key(*run)), f"{task.path} › EXIF thumbnail",
                                     ItemKind.FILE, run[1], task.mtime, flags=flags | {ItemFlag.THUMBNAIL}))
        return children, problems
    finally:
        handle.close()


def _embedded(locator: Locator, task: ReadTask, flags: frozenset[ItemFlag], data: bytes) -> list[Item]:
    """Complete pictures and videos inside a document or an unknown file (a Word file's pictures, a JPEG after
    junk), found byte by byte; the file itself, when it is nothing but one picture, is not a child of itself."""
    runs = carve(_BytesReader(data), [(0, len(data))], alignment=1, validate=True, fragmented=False)
    return [
        Item(locator.child("carved", run_key(run.offset, run.length)), f"{task.path} › embedded {run.kind} at {run.offset}",
             ItemKind.FILE, run.length, task.mtime, flags=flags | {ItemFlag.CARVED})
        for run in runs
        if run.valid and not (run.offset == 0 and run.length == len(data))
    ][:EMBED_MAX]


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, offset: int, size: int) -> bytes:
        return self._data[offset:offset + size]
