"""Worker side of the perceptual stage: decode pictures and videos already read, and hash what they show.

Runs in its own pool of worker processes, apart from the readers: native
decoders (libjpeg, libheif, FFmpeg) handle hostile bytes, and if one crashes
it takes down only a decoding worker, never the scan or its exact hashing.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from fieldlab.detect.classify import Classifier, ClassifierError, ModelSpec
from fieldlab.detect.perceptual import ImageDecodeError, ImagePdq, image_pdq, pdq_hex
from fieldlab.detect.video import VideoDecodeError, video_pdq
from fieldlab.evidence.reopen import ReopenError, reopen_item
from fieldlab.evidence.sources import ItemStream, SourceSpec
from fieldlab.problems import Problem, ProblemKind
from fieldlab.results import ClassifiedPicture, FrameRecord, MediaResult
from fieldlab.triage.reader import opened_source

STREAM_BUFFER = 1 << 20


@dataclass(frozen=True)
class MediaTask:
    item_id: int
    locator: str
    family: str  # image | video
    size: int


def perceive_batch(spec: SourceSpec, tasks: list[MediaTask], model: ModelSpec | None = None) -> list[MediaResult]:
    """Decode and hash each task; with ``model``, classify each picture after its PDQ, on the same reduced pixels."""
    source = opened_source(spec)
    results = []
    for task in tasks:
        try:
            results.append(_perceive(source, task, spec.unlock.archive_passwords, model))
        except Exception as exc:  # noqa: BLE001 - one hostile file is that file's error, the scan goes on
            results.append(MediaResult(task.item_id, task.family, error=Problem(
                ProblemKind.INTERNAL, f"internal error while decoding: {type(exc).__name__}: {exc}")))
    return results


def _perceive(source, task: MediaTask, passwords: tuple[str, ...] = (), model: ModelSpec | None = None) -> MediaResult:  # noqa: ANN001 - an EvidenceSource
    try:
        handle = reopen_item(source, task.locator, passwords)  # a member a password opened, too
    except ReopenError as exc:
        return MediaResult(task.item_id, task.family, error=exc.problem)
    try:
        stream = io.BufferedReader(ItemStream(handle, handle.size or task.size), STREAM_BUFFER)
        if task.family == "video":
            return _video(task, stream)
        return _image(task, stream, model)
    finally:
        handle.close()


def _image(task: MediaTask, stream: io.BufferedReader, model: ModelSpec | None) -> MediaResult:
    try:
        found = image_pdq(stream, keep_pixels=model is not None)
    except ImageDecodeError as exc:
        return MediaResult(task.item_id, "image", error=Problem(ProblemKind.DAMAGED, str(exc)))
    facts = found.facts
    classified = _classify(model, found) if model is not None else None
    return MediaResult(
        task.item_id, "image", format=found.format, width=found.width, height=found.height,
        pdq=pdq_hex(found.pdq), pdq_quality=found.quality, dihedral=b"".join(found.dihedral),
        exif=json.dumps(facts.to_json_dict(), sort_keys=True) if facts else None,
        camera=" ".join(filter(None, (facts.make, facts.model)))[:200] or None if facts else None,
        camera_serial=facts.serial[:200] if facts and facts.serial else None, classified=classified,
    )


_loaded: dict[str, Classifier | ClassifierError] = {}  # per worker process: a model is loaded (or fails) once


def _classify(model: ModelSpec, found: ImagePdq) -> ClassifiedPicture:
    """The picture's detections, or why there are none: a model that cannot load, or fails on this picture, is a
    problem of this picture only, and its hashes stand."""
    loaded = _loaded.get(model.sha256)
    if loaded is None:
        try:
            loaded = _loaded[model.sha256] = Classifier(model)
        except ClassifierError as exc:
            loaded = _loaded[model.sha256] = exc
    if isinstance(loaded, ClassifierError):
        return ClassifiedPicture(model.sha256, problem=Problem(ProblemKind.UNSUPPORTED, f"not classified: {loaded}"))
    try:
        return ClassifiedPicture(model.sha256, loaded.classify(found.pixels, found.width, found.height))
    except Exception as exc:  # noqa: BLE001 - onnxruntime's failures are untyped; the picture is still hashed
        message = f"not classified: the model failed on this picture: {type(exc).__name__}: {exc}"
        return ClassifiedPicture(model.sha256, problem=Problem(ProblemKind.INTERNAL, message))


def _video(task: MediaTask, stream: io.BufferedReader) -> MediaResult:
    try:
        found = video_pdq(stream)
    except VideoDecodeError as exc:
        return MediaResult(task.item_id, "video", error=Problem(ProblemKind.DAMAGED, str(exc)))
    frames = tuple(FrameRecord(f.frame, f.timestamp, f.quality, pdq_hex(f.pdq)) for f in found.frames)
    return MediaResult(
        task.item_id, "video", format=None, width=found.width, height=found.height, duration=found.duration,
        frame_rate=found.frame_rate, codec=found.codec, frames=frames,
        partial=Problem(found.partial_kind or ProblemKind.DAMAGED, found.partial) if found.partial else None,
    )
