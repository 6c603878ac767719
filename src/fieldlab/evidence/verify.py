"""Is the image still what was acquired? Recompute the media hash and compare it with the one stored at acquisition.

A scan verifies in the background (``BackgroundVerification``): a separate
process at the lowest CPU priority reads the media sequentially from the
start of the scan, so the hash is computed in the CPU the scan leaves idle
and never delays the verdict; once every listed file is read (the exact
verdict), the process gets the scan's own priority back where the system
allows it, so it runs beside decoding rather than alone at the end.
Measured on the 1 GiB seized-disk E01 (2 cores): verification costs 4.5 CPU s (2.4 s reading and inflating, 2.0 s MD5+SHA-1),
and an exact-only scan keeps about one core idle on average.  Hashing "from
the same reads" as the scan's readers would have saved only the inflating
half: the readers run in several processes and in no media order, and about
a fifth of the chunks (free space) no reader touches, so a second,
sequential pass was needed anyway.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

from fieldlab.errors import FieldlabError
from fieldlab.evidence.allocation import MAX_INFLATION
from fieldlab.evidence.containers import MediaReader, open_container
from fieldlab.evidence.media_claim import media_claim

CHUNK = 8 << 20
LOWEST_PRIORITY = 19  # the nice value of the background verification


@dataclass(frozen=True)
class VerifyResult:
    state: str  # verified | mismatch | no stored hash | unreadable
    stored: dict[str, str] = field(default_factory=dict)
    computed: dict[str, str] = field(default_factory=dict)
    message: str = ""


def verify_media(media: MediaReader, progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Read the whole media once (MD5 and SHA-1 together) and compare with every hash the container stores."""
    stored = {k: v.lower() for k, v in media.info.stored_hashes.items() if k in ("md5", "sha1")}
    if media.info.missing_parent:
        return VerifyResult("unreadable", stored, {}, media.info.missing_parent)
    claim = media_claim(media.info)
    if not stored and claim.read_limit is not None and media.size > claim.read_limit:
        return VerifyResult("no stored hash", stored, {}, (
            f"the container stores no hash to compare with, and its media ({media.size:,} bytes) is more than "
            f"{MAX_INFLATION:,} times what its files hold ({claim.file_bytes:,} bytes): not hashed, since hashing "
            "what it does not store would take days"))
    hashers = {"md5": hashlib.md5(), "sha1": hashlib.sha1()}
    offset = 0
    try:
        while offset < media.size:
            chunk = media.read(offset, CHUNK)
            if not chunk:
                raise OSError(f"no data at offset {offset:,} of {media.size:,}")
            for hasher in hashers.values():
                hasher.update(chunk)
            offset += len(chunk)
            if progress:
                progress(offset, media.size)
    except OSError as exc:
        return VerifyResult("unreadable", stored, {}, f"the media could not be read completely: {exc}")
    computed = {name: h.hexdigest() for name, h in hashers.items()}
    if not stored:
        return VerifyResult("no stored hash", stored, computed, "the container stores no hash to compare with")
    wrong = [name for name, value in stored.items() if computed[name] != value]
    if wrong:
        return VerifyResult("mismatch", stored, computed, f"{', '.join(wrong).upper()} differ from the acquisition hash")
    names = " and ".join(name.upper() for name in stored)
    verb = "matches" if len(stored) == 1 else "match"
    return VerifyResult("verified", stored, computed, f"{names} {verb} the acquisition hash")


class BackgroundVerification:
    """``verify_media`` of an image in its own process at the lowest CPU priority, followed through a pipe.

    The process sends ``(done, total)`` after every 8 MiB hashed and the
    ``VerifyResult`` last.  It is a separate process, not a thread, so its
    inflating and hashing get their own (niced) CPU time and not the scan's
    GIL.  If the scan dies, the pipe breaks and the process ends at its next
    report; a scan stopped early leaves the exhibit's hash unchecked, and
    running the scan again verifies it from the start.
    """

    def __init__(self, image: Path, parents: Sequence[Path] = ()) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of the scan's state copied
        self._reports, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_verify_in_background,
                                        args=(str(image), [str(p) for p in parents], sender), daemon=True)
        self._process.start()
        self.pid = cast(int, self._process.pid)  # set once started
        os.setpriority(os.PRIO_PROCESS, self.pid, LOWEST_PRIORITY)  # from its start: its imports too
        sender.close()  # the child holds the only sending end: its exit is the pipe's end
        self.done = self.total = 0
        self.result: VerifyResult | None = None

    def poll(self, timeout: float = 0.0) -> int:
        """Take in what the process has sent (waiting up to ``timeout`` for the first message); returns how many
        8 MiB units were hashed since the last call."""
        units = 0
        while self.result is None and self._reports.poll(timeout):
            timeout = 0.0
            try:
                message = self._reports.recv()
            except EOFError:  # ended without a result: it crashed or was killed
                self._process.join()
                self.result = VerifyResult("unreadable", message="the verification process ended without a result "
                                                                 f"(exit code {self._process.exitcode})")
                break
            if isinstance(message, VerifyResult):
                self.result = message
            else:
                self.done, self.total = message
                units += 1
        return units

    def hurry(self) -> bool:
        """Back to normal priority, once the exact verdict is in: on a busy machine a niced process left
        alone finishes several times later.  Raising a priority needs root or CAP_SYS_NICE; without them the
        process stays niced.  Returns whether it was raised."""
        try:
            os.setpriority(os.PRIO_PROCESS, self.pid, os.getpriority(os.PRIO_PROCESS, 0))
        except (PermissionError, ProcessLookupError):
            return False
        return True

    @property
    def running(self) -> bool:
        return self._process.is_alive()

    def close(self) -> None:
        """End the process if it still runs (the scan was stopped or failed)."""
        if self.running:
            self._process.terminate()
        self._process.join()
        self._reports.close()

    def __enter__(self) -> BackgroundVerification:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _verify_in_background(image: str, parents: list[str], reports: Connection) -> None:
    try:
        try:
            media = open_container(Path(image), [Path(p) for p in parents])
        except FieldlabError as exc:
            reports.send(VerifyResult("unreadable", message=f"the image could not be opened: {exc}"))
            return
        try:
            reports.send(verify_media(media, lambda done, total: reports.send((done, total))))
        finally:
            media.close()
    except (BrokenPipeError, EOFError):  # the scan is gone: nobody wants the answer
        return
