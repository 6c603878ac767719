"""Thumbnails for the review app: made on demand from the evidence, re-encoded, cached in the case folder.

An item is re-opened by its locator in a worker process (never the server's:
a decoder fed hostile bytes may crash or hang, and only that worker dies),
decoded no larger than needed, shrunk to ``SIDE`` pixels and encoded afresh as
a JPEG without metadata: the suspect bytes themselves never reach a browser.
A video becomes a sheet of ``FRAMES`` frames sampled across its length: no
video element, no sound.

The cache is ``thumbnails/<item id>.jpg`` in the case folder (0700, files
0600; ``.failed`` beside it records why a file could not be shown, so a
hostile file is tried once, not on every page view).  A known-hash hit's
picture is never cached: it is made for each request of a reveal and kept
only in memory.  Names from the evidence are never used as file names.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import io
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Literal

import av
from PIL import Image

from fieldlab.case.private import make_private_folder, write_private_bytes
from fieldlab.detect.perceptual import DEFAULT_MAX_PIXELS, IMAGE_FORMATS
from fieldlab.detect.video import VideoDecodeError, first_video_stream
from fieldlab.errors import WebError
from fieldlab.evidence.reopen import ReopenError, reopen
from fieldlab.evidence.sources import ItemStream, SourceSpec
from fieldlab.problems import ProblemKind
from fieldlab.triage.reader import prepare_worker, worker_context

SIDE = 256
FRAMES = 6  # a video's sheet: 3 x 2 frames
QUALITY = 80
SECONDS_PER_ITEM = 20.0  # far beyond an honest file (a 12 MP JPEG takes ~40 ms at reduced scale)
MAX_FRAMES_DECODED = 600  # for one video's six samples: 20 s of 30 fps, whatever its keyframes
SEEK_BEYOND_SECONDS = 3.0  # a sample further ahead than this is sought, a nearer one decoded to
WARM_UP_ATTEMPTS = 3  # starting the workers is tried this often before the server starts without them
WARM_UP_SECONDS = 60.0
FOLDER = "thumbnails"
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}  # EXIF orientation -> the turn that shows the picture upright
_START_FAILURES = (BrokenProcessPool, EOFError, OSError)  # a worker process could not be forked or reached
_DECODE_FAILURES = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
                    Image.DecompressionBombError, av.FFmpegError)


class ThumbnailUnavailable(WebError):
    """No picture can be shown for the item; the message says why, in the examiner's words.  ``lasting``: trying
    again cannot help (the bytes do not decode); otherwise (evidence not reachable, a password needed) it may."""

    def __init__(self, message: str, lasting: bool = True) -> None:
        super().__init__(message)
        self.lasting = lasting

    def __reduce__(self):  # noqa: ANN204 - raised in a worker process, re-raised here whole
        return type(self), (str(self), self.lasting)


@dataclass(frozen=True)
class ThumbnailTask:
    item_id: int
    spec: SourceSpec  # the exhibit's source, opened by the worker itself
    locator: str
    family: str  # image | video
    size: int


# worker side

def render(task: ThumbnailTask) -> bytes:
    """The thumbnail's JPEG bytes; ThumbnailUnavailable when the item cannot be opened or decoded.  Runs in a
    thumbnail worker, whose context keeps the exhibits open for the pictures that follow."""
    try:
        handle = reopen(task.spec, task.locator, worker_context())
    except ReopenError as exc:
        raise ThumbnailUnavailable(f"cannot be previewed: {exc}",
                                   lasting=exc.problem.kind in (ProblemKind.DAMAGED, ProblemKind.UNSUPPORTED)) from None
    try:
        stream = io.BufferedReader(ItemStream(handle, handle.size or task.size), 1 << 20)
        try:
            return _video_sheet(stream) if task.family == "video" else _picture(stream)
        except _DECODE_FAILURES as exc:
            raise ThumbnailUnavailable(f"cannot be decoded: {type(exc).__name__}: {exc}"[:300]) from None
    finally:
        handle.close()


def _picture(stream: BinaryIO) -> bytes:
    with Image.open(stream, formats=IMAGE_FORMATS) as image:
        if image.width * image.height > DEFAULT_MAX_PIXELS:
            raise ThumbnailUnavailable(f"{image.width}x{image.height} is over the {DEFAULT_MAX_PIXELS:,} pixel limit")
        image.draft("RGB", (SIDE, SIDE))  # JPEG: decoded at 1/2, 1/4 or 1/8 scale, no smaller than SIDE
        try:
            orientation = image.getexif().get(0x0112)
        except _DECODE_FAILURES:  # a damaged EXIF block does not stop the picture being shown
            orientation = None
        shown = image.convert("RGB")
    if orientation in _UPRIGHT:  # shown upright, as the examiner would see it on the device
        shown = shown.transpose(_UPRIGHT[orientation])
    shown.thumbnail((SIDE, SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return _jpeg(shown)


def _video_sheet(stream: BinaryIO) -> bytes:
    cell = (SIDE * 2 // 3, SIDE // 2)
    with av.open(stream, mode="r", metadata_errors="ignore") as container:
        try:
            video = first_video_stream(container)
        except VideoDecodeError as exc:
            raise ThumbnailUnavailable(str(exc)) from None
        video.thread_type = "AUTO"
        frames = _sampled_frames(container, video)
    if not frames:
        raise ThumbnailUnavailable("no frame of this video could be decoded")
    sheet = Image.new("RGB", (cell[0] * 3, cell[1] * 2), (40, 40, 40))
    for index, frame in enumerate(frames[:FRAMES]):
        frame.thumbnail(cell, Image.Resampling.BILINEAR)
        x, y = (index % 3) * cell[0], (index // 3) * cell[1]
        sheet.paste(frame, (x + (cell[0] - frame.width) // 2, y + (cell[1] - frame.height) // 2))
    return _jpeg(sheet)


def _sampled_frames(container: av.container.InputContainer, video: av.VideoStream) -> list[Image.Image]:
    """One frame from each sixth of the video.  A sample far ahead is reached by seeking (so a long video is never
    decoded whole); a near one by decoding on, which is cheaper when keyframes are sparse.  The frames decoded in
    all are capped, so a hostile or huge stream costs a bounded time."""
    time_base = video.time_base
    duration = None
    if video.duration is not None and time_base:
        duration = float(video.duration * time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    if not duration or duration <= 0 or not time_base:  # nowhere to seek to: the first frames
        return [frame.to_image() for frame, _ in zip(container.decode(video), range(FRAMES))]
    start = float(video.start_time * time_base) if video.start_time is not None else 0.0
    frames: list[Image.Image] = []
    decoded, position, stream = 0, None, None
    for k in range(FRAMES):
        target = start + duration * (k + 0.5) / FRAMES
        try:
            if stream is None or position is None or target - position > SEEK_BEYOND_SECONDS:
                container.seek(int(target / time_base), stream=video, backward=True)
                stream = container.decode(video)
            frame = None
            for frame in stream:
                decoded += 1
                position = frame.time
                if frame.time is None or frame.time >= target or decoded >= MAX_FRAMES_DECODED:
                    break
        except av.FFmpegError:
            stream = frame = None
        if frame is not None:
            frames.append(frame.to_image())
        if decoded >= MAX_FRAMES_DECODED:
            break
    return frames


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=QUALITY, optimize=False)  # no EXIF, no ICC: pixels only
    return out.getvalue()


# server side

class ThumbnailService:
    """Thumbnails from the cache, or made in a pool of worker processes, each within ``seconds_per_item``.

    A worker that crashes or overruns takes the pool with it: the pool is rebuilt, and the items that were in it
    are retried one at a time in a pool of their own, so exactly the file at fault is recorded as failed."""

    def __init__(self, case_dir: Path, workers: int = 2, seconds_per_item: float = SECONDS_PER_ITEM,
                 render: Callable[[ThumbnailTask], bytes] = render) -> None:
        self.folder = Path(case_dir) / FOLDER
        self.workers, self.seconds_per_item, self.render = workers, seconds_per_item, render
        self._lock = threading.Lock()
        self._alone = threading.Lock()  # suspects are decoded one at a time
        self._slots = threading.Semaphore(workers)  # the deadline counts decoding, not queueing
        self._pools: dict[str, cf.ProcessPoolExecutor] = {}
        self._in_flight: dict[int, cf.Future] = {}

    def cached(self, item_id: int) -> bytes | None:
        try:
            return (self.folder / f"{int(item_id)}.jpg").read_bytes()
        except FileNotFoundError:
            return None

    def failure(self, item_id: int) -> str | None:
        try:
            return (self.folder / f"{int(item_id)}.failed").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def thumbnail(self, task: ThumbnailTask, keep: bool = True) -> bytes:
        """The JPEG bytes, from the cache or made now; ThumbnailUnavailable with the reason otherwise.

        ``keep=False`` (a known-hash hit, shown only during a reveal) makes the picture afresh each time and never
        leaves it on disk, so nothing of it outlasts the reveal; a copy cached before is removed."""
        if not keep:
            (self.folder / f"{int(task.item_id)}.jpg").unlink(missing_ok=True)
        found = self.cached(task.item_id)
        if found is not None:
            return found
        if (reason := self.failure(task.item_id)) is not None:
            raise ThumbnailUnavailable(reason)
        with self._lock:  # two requests for one item share one decode
            shared = self._in_flight.get(task.item_id)
            if shared is None:
                shared = self._in_flight[task.item_id] = cf.Future()
                mine = True
            else:
                mine = False
        if not mine:
            return shared.result()
        try:
            data = self._make(task)
            if keep:
                self._store(task.item_id, ".jpg", data)
            shared.set_result(data)
            return data
        except BaseException as exc:  # whatever happened, a request waiting on this decode hears of it
            shared.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._in_flight.pop(task.item_id, None)

    def _make(self, task: ThumbnailTask) -> bytes:
        with self._slots:
            outcome = self._run("shared", task)
        if isinstance(outcome, str):
            with self._alone:
                outcome = self._run("alone", task)
            if isinstance(outcome, str):
                reason = "the decoder crashed or hung on this file and was stopped; the server went on"
                self._store(task.item_id, ".failed", reason.encode())
                raise ThumbnailUnavailable(reason)
        if isinstance(outcome, ThumbnailUnavailable):
            if outcome.lasting:  # not when a drive reconnected or a password given later may work
                self._store(task.item_id, ".failed", str(outcome).encode())
            raise outcome
        return outcome

    def _run(self, which: str, task: ThumbnailTask) -> bytes | ThumbnailUnavailable | Literal["broken"]:
        pool = self._pool(which)
        try:
            future = pool.submit(self.render, task)
        except _START_FAILURES as exc:  # the workers could not be started (a loaded machine): not this item's fault
            self._discard(which, pool, kill=True)
            raise ThumbnailUnavailable(f"the thumbnail workers could not start ({type(exc).__name__}): try again "
                                       "in a moment") from None
        try:
            return future.result(timeout=self.seconds_per_item)
        except ThumbnailUnavailable as exc:
            return exc
        except cf.TimeoutError:
            self._discard(which, pool, kill=True)
            return "broken"
        except BrokenProcessPool:
            self._discard(which, pool, kill=False)
            return "broken"
        except Exception as exc:  # noqa: BLE001 - a fault of ours in the worker: said at once, not cached
            return ThumbnailUnavailable(f"cannot be previewed: internal error: {type(exc).__name__}: {exc}"[:300],
                                        lasting=False)

    def _pool(self, which: str) -> cf.ProcessPoolExecutor:
        with self._lock:
            pool = self._pools.get(which)
            if pool is None:
                context = multiprocessing.get_context("forkserver")  # no fork of a threaded server
                context.set_forkserver_preload([__name__])
                pool = self._pools[which] = cf.ProcessPoolExecutor(
                    max_workers=1 if which == "alone" else self.workers, mp_context=context,
                    initializer=prepare_worker)
            return pool

    def _discard(self, which: str, pool: cf.ProcessPoolExecutor, kill: bool) -> None:
        with self._lock:
            if self._pools.get(which) is pool:
                del self._pools[which]
            else:
                return  # another request already replaced it
        if kill:  # ProcessPoolExecutor cannot stop a running task before Python 3.14
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def warm_up(self, attempts: int = WARM_UP_ATTEMPTS) -> bool:
        """Start the workers now, so the first gallery page does not wait for them.  On a loaded machine starting
        them can fail (the forkserver cannot fork: EOFError); that is tried again, and if it keeps failing the
        server starts anyway and the workers are started by the first thumbnail asked for.  True if they run."""
        for attempt in range(attempts):
            pool = self._pool("shared")
            try:
                for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
                    future.result(timeout=WARM_UP_SECONDS)
                return True
            except (*_START_FAILURES, cf.TimeoutError):
                self._discard("shared", pool, kill=True)
                time.sleep(0.5 * (attempt + 1))
        return False

    def _store(self, item_id: int, suffix: str, data: bytes) -> None:
        if not self.folder.is_dir():
            make_private_folder(self.folder)
        final = self.folder / f"{int(item_id)}{suffix}"
        temporary = final.with_name(f"{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        write_private_bytes(temporary, data)
        os.replace(temporary, final)

    def close(self) -> None:
        """Stop the workers and wait for them (a decode in progress is of no more use).  Waiting matters: uvicorn
        ends its process by raising SIGTERM again once the app has stopped, which runs no finalizers, so the pools'
        semaphores must be released here or the resource tracker reports them leaked."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        del pools
        gc.collect()  # the queues' semaphores are freed with the queues, which sit in reference cycles
