"""vPDQ of one video: PDQ hashes of frames sampled about once a second, and Meta's rule for matching two such lists.

Sample k is taken from the k-th step of the video (by default the second
before time k).  Hashing seeks to time k, landing on the keyframe before it:
when that keyframe lies in the step it is the sample, so videos with a
keyframe every second or so (phone cameras) cost about one decoded frame per
sample; otherwise decoding goes forward to time k.  A long video is thus
never decoded whole.  Samples are one per step but not evenly spaced; vPDQ
matching treats frames as an unordered set, so only their density matters.
Seeking pays only while
keyframes are closer together than the sampling step: once seeks have decoded
more frames on average than carrying straight on would (judged after three),
hashing decodes straight through and picks frames by timestamp.  Unseekable
input (a pipe) is decoded straight through from the start.

Decoding lets FFmpeg use threads (``thread_type="AUTO"``).  Measured on two
cores: with one core free, 1.35x faster than a single thread on Meta's sample
clips and 1.5-1.7x on generated 720p clips; pinned to one core (a scan busy
on every core), the same speed within 3%.

Frames are scaled down by an integer factor to a shorter side of at least
``FRAME_SIDE`` pixels before hashing.  Against Meta's per-frame reference
hashes of its sample videos, this stays within 18 bits (mean 6); the reference
for ``doorknob-hd-no-bar`` was evidently made from a half-size copy of the clip
(full-size frames differ from it by up to 76 bits, half-size ones by 14 at
most).  Display-rotation metadata (portrait phone clips) is not applied: the
stored frames are hashed, as the stored pixels of photos are.

Consecutive samples within ``PRUNE_DISTANCE`` bits of the last sample kept are
dropped, as Meta's vPDQ description suggests: a still or slow scene yields one
hash instead of one a second.  A dropped frame is then within
``PRUNE_DISTANCE`` of one kept, so at most matches between radius 31 and 31 +
``PRUNE_DISTANCE`` are lost.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO

import av
import numpy as np
import pdqhash

from fieldlab.errors import EvidenceError
from fieldlab.problems import ProblemKind

FRAME_SIDE = 360
PRUNE_DISTANCE = 4
DEFAULT_MAX_SAMPLES = 1200  # a longer video is sampled more sparsely, so the whole of it is still covered
DEFAULT_MAX_SECONDS_WALL = 60.0
MAX_FRAME_PIXELS = 50_000_000  # 8K is 33 MP; a stream claiming more is hostile or broken
_NOT_VIDEO_FORMATS = ("image2", "tty")  # plus every "*_pipe" demuxer: still images FFmpeg can also open


class VideoDecodeError(EvidenceError):
    """Not a video, or no frame of it could be decoded."""


@dataclass(frozen=True)
class FrameHash:
    frame: int  # index of the frame in the video, from its timestamp and the average frame rate
    quality: int  # 0-100; vPDQ matching ignores frames under 50
    pdq: bytes  # 32 bytes, canonical as in fieldlab.detect.perceptual
    timestamp: float  # seconds from the start of the video stream
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)  # the reduced frame that was hashed


@dataclass(frozen=True)
class VideoPdq:
    frames: tuple[FrameHash, ...]
    duration: float | None  # seconds, as the container declares it
    width: int
    height: int
    codec: str
    frame_rate: float | None
    partial: str | None  # why hashing stopped before the end, or None when it reached it
    partial_kind: ProblemKind | None = None  # what that was: a limit, damage, or a stream cut short
    pixels: tuple[np.ndarray, ...] = field(default=(), compare=False, repr=False)  # ``keep_frames`` hashed frames


def video_pdq(stream: BinaryIO | str, seconds_per_sample: float = 1.0, max_samples: int = DEFAULT_MAX_SAMPLES,
              max_seconds_wall: float = DEFAULT_MAX_SECONDS_WALL, keep_frames: int = 0) -> VideoPdq:
    """Hash one frame per ``seconds_per_sample`` of the first video stream (fewer if that would exceed ``max_samples``).

    ``stream`` is a path, or a binary file object whose offset 0 is the
    video's first byte.  Stops early, and says why in ``partial``, when the
    wall-clock budget is spent, the sample budget is spent, a decode error
    occurs, or the stream ends well before its declared duration (a
    truncated file).  ``keep_frames``: also return the reduced pixels of up to that many of the kept frames,
    spread over the video, for the classifier (``detect.classify``): the frames vPDQ decoded, not a second decode.
    """
    if seconds_per_sample <= 0 or max_samples < 1:
        raise ValueError("seconds_per_sample must be positive and max_samples at least 1")
    try:
        container = av.open(stream, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as error:
        raise VideoDecodeError(f"FFmpeg cannot open it as a video ({error}); a truncated MP4 or MOV whose index "
                               "was at its end fails the same way") from error
    with container:
        video = _video_stream(container)
        video.thread_type = "AUTO"  # measured in the module docstring
        sampler = _Sampler(container, video, seconds_per_sample, max_samples, time.monotonic() + max_seconds_wall)
        spread = _Spread(keep_frames)
        frames = []
        for frame in _pruned(sampler.hashes()):
            spread.offer(frame.pixels)
            frames.append(replace(frame, pixels=None))  # one frame's pixels at a time, whatever the video's length
        if not frames:
            raise VideoDecodeError(f"no frame could be decoded{': ' + sampler.stopped if sampler.stopped else ''}")
        return VideoPdq(tuple(frames), sampler.duration, video.codec_context.width, video.codec_context.height,
                        video.codec_context.name, sampler.frame_rate, sampler.stopped, sampler.stopped_kind,
                        spread.chosen())


class _Spread:
    """Up to ``count`` of the items offered one by one, evenly spread over all of them, in bounded memory: every
    ``stride``-th item is kept, and when twice ``count`` are kept every other one is dropped and the stride doubles."""

    def __init__(self, count: int) -> None:
        self.count, self.stride, self.offered = count, 1, 0
        self.kept: list[np.ndarray] = []

    def offer(self, item: np.ndarray | None) -> None:
        if self.count and item is not None and self.offered % self.stride == 0:
            self.kept.append(item)
            if len(self.kept) > 2 * self.count:
                self.kept, self.stride = self.kept[::2], self.stride * 2
        self.offered += 1

    def chosen(self) -> tuple[np.ndarray, ...]:
        if len(self.kept) <= self.count:
            return tuple(self.kept)
        return tuple(self.kept[i] for i in np.linspace(0, len(self.kept) - 1, self.count).round().astype(int))


def _video_stream(container: av.container.InputContainer) -> av.VideoStream:
    name = container.format.name
    if name.endswith("_pipe") or name in _NOT_VIDEO_FORMATS:
        raise VideoDecodeError(f"a still image ({name}), not a video")
    return first_video_stream(container)


def first_video_stream(container: av.container.InputContainer) -> av.VideoStream:
    """The first moving-picture stream of an opened container, checked before any frame is decoded: the one guard
    that vPDQ, the report's pictures and the review thumbnails share.  VideoDecodeError when there is none (audio
    files show their cover art as a one-picture "video" stream, which is not one) or its frames claim more than
    ``MAX_FRAME_PIXELS`` (hostile or broken: decoding them would exhaust memory)."""
    moving = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not moving:
        raise VideoDecodeError(f"no video stream in this {container.format.name} file")
    video = moving[0]
    width, height = video.codec_context.width, video.codec_context.height
    if width * height > MAX_FRAME_PIXELS:
        raise VideoDecodeError(f"video claims {width}x{height} frames, over the {MAX_FRAME_PIXELS:,} pixel limit")
    return video


class _Sampler:
    """Walks one video stream to each wanted time, seeking while seeking pays, and hashes the frame found there."""

    def __init__(self, container: av.container.InputContainer, video: av.VideoStream, step: float, max_samples: int,
                 deadline: float) -> None:
        self.container, self.video, self.deadline, self.max_samples = container, video, deadline, max_samples
        if video.time_base is None:  # a demuxed stream has one; without it no timestamp can be read
            raise VideoDecodeError("the video stream has no time base")
        self.time_base = video.time_base
        self.start = float(video.start_time * self.time_base) if video.start_time is not None else 0.0
        self.duration = _duration(container, video)
        rate = video.average_rate or video.guessed_rate
        self.frame_rate = float(rate) if rate else None
        if self.duration and self.duration / step > max_samples:
            step = self.duration / max_samples
        self.step = step
        self.stopped: str | None = None
        self.stopped_kind: ProblemKind | None = None
        self._seeking = True
        self._seeks = self._frames_after_seeks = 0  # the cost of seeking so far, to judge whether it pays
        self._frames: Iterator[av.VideoFrame] | None = None
        self._last_time: float | None = None  # stream time of the last frame decoded
        self._sampled = -math.inf  # stream time of the last frame hashed

    def hashes(self) -> Iterator[FrameHash]:
        target, count = 0.0, 0
        try:
            while (found := self._frame_at(target)) is not None:
                frame, seconds = found
                yield self._hash(frame, seconds)
                count += 1
                target = max(target + self.step, seconds + 1e-6)
                if count == self.max_samples:
                    if self.duration is None or target < self.duration:
                        self.stopped = f"sample limit reached: {count} samples, up to {seconds:.1f} s"
                        self.stopped_kind = ProblemKind.LIMIT
                    break
        except TimeoutError:
            self.stopped = f"time limit reached at {self._position()} of video"
            self.stopped_kind = ProblemKind.LIMIT
        except (av.FFmpegError, OSError, ValueError) as error:
            self.stopped = f"decode error at {self._position()}: {error}"
            self.stopped_kind = ProblemKind.DAMAGED
        if self.stopped is None and self.duration and self._last_time is not None:
            if self._last_time + self.step + 1.0 < self.duration:
                self.stopped = (f"stream ends at {self._last_time:.1f} s of a declared {self.duration:.1f} s"
                                " (truncated?)")
                self.stopped_kind = ProblemKind.TRUNCATED

    def _frame_at(self, target: float) -> tuple[av.VideoFrame, float] | None:
        """The frame to hash for ``target`` seconds, and its time; None at the end of the stream.

        That is the keyframe a seek lands on when it lies in the step ending at
        ``target`` (one frame decoded per sample), else the first frame at or
        after ``target``.
        """
        sought = self._seeking and self._seek(target)
        judged = sought and self._last_time is not None  # the first seek, to the start, costs nothing
        if self._frames is None:
            self._frames = self.container.decode(self.video)
        decoded = 0
        for frame in self._frames:
            if time.monotonic() > self.deadline:
                raise TimeoutError
            decoded += 1
            seconds = self._seconds(frame)
            self._last_time = seconds
            landed_near = sought and decoded == 1 and target - seconds < self.step and seconds > self._sampled
            if seconds >= target - 1e-3 or landed_near:
                if judged:
                    self._judge_seeking(decoded)
                self._sampled = seconds
                return frame, seconds
        return None

    def _judge_seeking(self, decoded: int) -> None:
        """Stop seeking once seeks decode more frames on average than decoding straight through would."""
        self._seeks += 1
        self._frames_after_seeks += decoded
        straight_through = self.step * self.frame_rate if self.frame_rate else math.inf
        if self._seeks >= 3 and self._frames_after_seeks / self._seeks > straight_through:
            self._seeking = False  # keyframes are sparser than samples

    def _seek(self, target: float) -> bool:
        try:
            self.container.seek(int((self.start + target) / self.time_base), stream=self.video, backward=True)
        except (av.FFmpegError, OSError, ValueError):
            self._seeking = False  # unseekable input: decode through from where we are
            return False
        self._frames = None
        return True

    def _seconds(self, frame: av.VideoFrame) -> float:
        if frame.pts is None:  # no timestamps: count frames instead
            return (self._last_time or 0.0) + (1 / self.frame_rate if self.frame_rate else self.step)
        return float(frame.pts * self.time_base) - self.start

    def _position(self) -> str:
        return f"{self._last_time:.1f} s" if self._last_time is not None else "the start"

    def _hash(self, frame: av.VideoFrame, seconds: float) -> FrameHash:
        factor = max(1, min(frame.width, frame.height) // FRAME_SIDE)
        pixels = frame.to_ndarray(format="rgb24", width=frame.width // factor, height=frame.height // factor,
                                  interpolation="AREA")
        bits, quality = pdqhash.compute(pixels)
        number = round(seconds * self.frame_rate) if self.frame_rate else 0
        pdq = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()
        return FrameHash(number, int(quality), pdq, round(seconds, 3), pixels)


def _duration(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    if video.duration is not None and video.time_base is not None:
        seconds = float(video.duration * video.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _pruned(frames: Iterator[FrameHash]) -> Iterator[FrameHash]:
    kept: bytes | None = None
    for frame in frames:
        if kept is None or _distance(frame.pdq, kept) > PRUNE_DISTANCE:
            kept = frame.pdq
            yield frame


def _distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a) ^ int.from_bytes(b)).bit_count()
