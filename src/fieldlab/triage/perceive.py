"""Worker side of the perceptual stage: decode pictures and videos already read, and hash what they show.

Runs in its own pool of worker processes, apart from the readers: native
decoders (libjpeg, libheif, FFmpeg) handle hostile bytes, and if one crashes
it takes down only a decoding worker, never the scan or its exact hashing.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import BinaryIO

from fieldlab.detect.classify import ModelPixels, ModelSpec, model_pixels
from fieldlab.detect.perceptual import ImageDecodeError, UndecodableImageFormat, image_pdq, pdq_hex
from fieldlab.detect.video import VideoDecodeError, video_pdq
from fieldlab.evidence.context import EvidenceContext, OpenedExhibit
from fieldlab.evidence.reopen import ReopenError, reopen_item
from fieldlab.evidence.sources import ItemStream, SourceSpec
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import FrameRecord, MediaKind, MediaResult
from fieldlab.triage.reader import worker_context

STREAM_BUFFER = 1 << 20
VIDEO_FRAMES = 4  # sampled frames of a video handed to the classifier, spread over its length


@dataclass(frozen=True)
class MediaTask:
    item_id: int
    locator: str
    family: MediaKind
    size: int


def perceive_batch(spec: SourceSpec, tasks: list[MediaTask], model: ModelSpec | None = None,
                   context: EvidenceContext | None = None) -> list[MediaResult]:
    """Decode and hash each task.  With ``model``, each result also carries the picture (a few sampled frames of a
    video) as the model's input, made from the same reduced decode; it is classified apart, at a lower priority,
    once the hashes are recorded (``triage/classify_pool.py``), so classifying never delays a near match.
    ``context``: where the evidence stays open; this worker process's own when not given."""
    exhibit = (context or worker_context()).exhibit(spec)
    results = []
    for task in tasks:
        try:
            results.append(_perceive(exhibit, task, spec.unlock.archive_passwords, model))
        except Exception as exc:  # noqa: BLE001 - one hostile file is that file's error, the scan goes on
            results.append(MediaResult(task.item_id, task.family, error=Problem(
                ProblemKind.INTERNAL, f"internal error while decoding: {type(exc).__name__}: {exc}")))
    return results


def _perceive(exhibit: OpenedExhibit, task: MediaTask, passwords: tuple[str, ...] = (),
              model: ModelSpec | None = None) -> MediaResult:
    try:
        handle = reopen_item(exhibit, task.locator, passwords)  # a member a password opened, too
    except ReopenError as exc:
        return MediaResult(task.item_id, task.family, error=exc.problem)
    try:
        stream = io.BufferedReader(ItemStream(handle, handle.size or task.size), STREAM_BUFFER)
        if task.family == "video":
            return _video(task, stream, model)
        return _image(task, stream, model)
    finally:
        handle.close()


def _image(task: MediaTask, stream: BinaryIO, model: ModelSpec | None) -> MediaResult:
    try:
        found = image_pdq(stream, keep_pixels=model is not None)
    except ImageDecodeError as exc:
        kind = ProblemKind.UNSUPPORTED if isinstance(exc, UndecodableImageFormat) else ProblemKind.DAMAGED
        return MediaResult(task.item_id, "image", error=Problem(kind, str(exc)))
    facts = found.facts
    return MediaResult(
        task.item_id, "image", format=found.format, width=found.width, height=found.height,
        pdq=pdq_hex(found.pdq), pdq_quality=found.quality, dihedral=b"".join(found.dihedral),
        exif=json.dumps(facts.to_json_dict(), sort_keys=True) if facts else None,
        camera=" ".join(filter(None, (facts.make, facts.model)))[:200] or None if facts else None,
        camera_serial=facts.serial[:200] if facts and facts.serial else None,
        for_classifier=_letterboxes(model, (found.pixels,) if model else (), found.width, found.height),
    )


def _letterboxes(model: ModelSpec | None, reduced: tuple, width: int, height: int) -> tuple[ModelPixels, ...]:
    """The model's input from reduced decodes.  Left empty if that fails: the hashes stand, and the classifier's
    pass over what is left decodes the item again and records why it cannot be classified."""
    if model is None:
        return ()
    try:
        return tuple(model_pixels(pixels, model.side, width, height) for pixels in reduced)
    except Exception:  # noqa: BLE001 - OpenCV's errors are untyped; this must never cost the item its hashes
        return ()


def _video(task: MediaTask, stream: BinaryIO, model: ModelSpec | None) -> MediaResult:
    try:
        found = video_pdq(stream, keep_frames=VIDEO_FRAMES if model else 0)
    except VideoDecodeError as exc:
        return MediaResult(task.item_id, "video", error=Problem(ProblemKind.DAMAGED, str(exc)))
    frames = tuple(FrameRecord(f.frame, f.timestamp, f.quality, pdq_hex(f.pdq)) for f in found.frames)
    return MediaResult(
        task.item_id, "video", format=None, width=found.width, height=found.height, duration=found.duration,
        frame_rate=found.frame_rate, codec=found.codec, frames=frames,
        partial=Problem(found.partial_kind or ProblemKind.DAMAGED, found.partial) if found.partial else None,
        for_classifier=_letterboxes(model, found.pixels, found.width, found.height),
    )
