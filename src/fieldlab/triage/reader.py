"""Worker side of a scan: open items by locator, read each once, and return digests and type.

Runs in worker processes.  Only small task and result records cross the
process boundary; the bytes are read where they are hashed.
"""

from __future__ import annotations

import io
import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

from fieldlab.case.store import ItemResult
from fieldlab.detect.digests import digest_file
from fieldlab.detect.filetype import HEAD_SIZE, extension_mismatch, identify
from fieldlab.evidence.folder import open_beneath, open_root
from fieldlab.locator import Locator

_root_fds: dict[str, int] = {}


@dataclass(frozen=True)
class ReadTask:
    item_id: int
    locator: str
    name: str  # display name, for the extension check
    size: int  # as listed by the walk
    mtime: float | None


def ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the scan, which stops them cleanly and keeps what is already recorded."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def read_batch(source: str, tasks: list[ReadTask], want_sha256: bool) -> list[ItemResult]:
    root_fd = _root_fds.get(source)
    if root_fd is None:
        root_fd = _root_fds[source] = open_root(Path(source))
    return [_read_guarded(root_fd, task, want_sha256) for task in tasks]


def _read_guarded(root_fd: int, task: ReadTask, want_sha256: bool) -> ItemResult:
    """One hostile file must never stop the scan: any failure becomes that item's error."""
    try:
        return _read_one(root_fd, task, want_sha256)
    except Exception as exc:  # noqa: BLE001 - recorded against the item, the scan goes on
        return ItemResult(task.item_id, error=f"internal error while reading: {type(exc).__name__}: {exc}"[:500])


def _read_one(root_fd: int, task: ReadTask, want_sha256: bool) -> ItemResult:
    try:
        relative = _relative_path(task.locator)
        fd = open_beneath(root_fd, relative)
    except FileNotFoundError:
        return ItemResult(task.item_id, error="vanished since it was listed")
    except OSError as exc:
        return ItemResult(task.item_id, error=f"cannot be opened: {exc.strerror or exc}")
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return ItemResult(task.item_id, error="is no longer a regular file")
        with io.FileIO(fd, "rb", closefd=False) as handle:
            digests, head = digest_file(handle, HEAD_SIZE, want_sha256)
        after = os.fstat(fd)
    except OSError as exc:
        return ItemResult(task.item_id, error=f"read failed: {exc.strerror or exc}")
    finally:
        os.close(fd)
    file_type = identify(head)
    return ItemResult(
        task.item_id,
        md5=digests.md5,
        sha1=digests.sha1,
        sha256=digests.sha256,
        file_type=file_type.label,
        mime=file_type.mime,
        family=file_type.family,
        extension_mismatch=extension_mismatch(task.name, file_type),
        warning=_change_note(task, before, after, digests.size),
    )


def _relative_path(locator_text: str) -> bytes:
    layers = Locator.parse(locator_text).layers
    if len(layers) != 1 or layers[0].kind != "file":
        raise OSError(f"not a file of a folder source: {locator_text}")
    return layers[0].value


def _change_note(task: ReadTask, before: os.stat_result, after: os.stat_result, read: int) -> str | None:
    """The digests are of what was read; say so when that differs from what the walk listed."""
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or read != after.st_size:
        return f"changed while being read (listed {task.size} bytes, read {read})"
    if before.st_size != task.size or (task.mtime is not None and abs(before.st_mtime - task.mtime) > 1e-6):
        return f"changed since it was listed (listed {task.size} bytes, now {before.st_size})"
    return None
