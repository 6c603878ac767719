"""The thumbnail workers' side of ``thumbnails``: open an item by its locator, decode it no larger than needed, and
encode a fresh JPEG (a video: a sheet of frames sampled across its length).

A module of its own so that the review server never imports the decoders (PIL, PyAV) or the evidence readers: the
thumbnail workers' forkserver preloads it, and the server starts without paying for them."""

from __future__ import annotations

import io
from typing import BinaryIO

import av
from PIL import Image

from fieldlab.detect.perceptual import DEFAULT_MAX_PIXELS, IMAGE_FORMATS
from fieldlab.detect.video import VideoDecodeError, first_video_stream
from fieldlab.evidence.reopen import ReopenError, reopen
from fieldlab.evidence.sources import ItemStream
from fieldlab.problems import ProblemKind
from fieldlab.triage.reader import worker_context
from fieldlab.web.thumbnails import ThumbnailTask, ThumbnailUnavailable

SIDE = 256
FRAMES = 6  # a video's sheet: 3 x 2 frames
QUALITY = 80
MAX_FRAMES_DECODED = 600  # for one video's six samples: 20 s of 30 fps, whatever its keyframes
SEEK_BEYOND_SECONDS = 3.0  # a sample further ahead than this is sought, a nearer one decoded to
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}  # EXIF orientation -> the turn that shows the picture upright
_DECODE_FAILURES = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
                    Image.DecompressionBombError, av.FFmpegError)


def render_thumbnail(task: ThumbnailTask) -> bytes:
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
