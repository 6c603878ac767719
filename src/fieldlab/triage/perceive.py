"""Worker side of the perceptual stage: decode pictures and videos already read, and hash what they show.

Runs in its own pool of worker processes, apart from the readers: native
decoders (libjpeg, libheif, FFmpeg) handle hostile bytes, and if one crashes
it takes down only a decoding worker, never the scan or its exact hashing.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from fieldlab.case.store import FrameRecord, MediaResult
from fieldlab.detect.perceptual import ImageDecodeError, image_pdq, pdq_hex
from fieldlab.detect.video import VideoDecodeError, video_pdq
from fieldlab.evidence.archives import ArchiveError
from fieldlab.evidence.nested import open_nested
from fieldlab.evidence.sources import ItemStream, SourceSpec
from fieldlab.locator import Locator
from fieldlab.problems import Problem, ProblemKind
from fieldlab.triage.reader import opened_source

STREAM_BUFFER = 1 << 20


@dataclass(frozen=True)
class MediaTask:
    item_id: int
    locator: str
    family: str  # image | video
    size: int


def perceive_batch(spec: SourceSpec, tasks: list[MediaTask]) -> list[MediaResult]:
    source = opened_source(spec)
    results = []
    for task in tasks:
        try:
            results.append(_perceive(source, task, spec.unlock.archive_passwords))
        except Exception as exc:  # noqa: BLE001 - one hostile file is that file's error, the scan goes on
            results.append(MediaResult(task.item_id, task.family, error=Problem(
                ProblemKind.INTERNAL, f"internal error while decoding: {type(exc).__name__}: {exc}")))
    return results


def _perceive(source, task: MediaTask, passwords: tuple[str, ...] = ()) -> MediaResult:  # noqa: ANN001 - an EvidenceSource
    try:
        handle = open_nested(source, Locator.parse(task.locator), passwords)  # a member a password opened, too
    except OSError as exc:
        return MediaResult(task.item_id, task.family,
                           error=Problem(ProblemKind.UNREADABLE, f"cannot be opened: {exc.strerror or exc}"))
    except ArchiveError as exc:
        return MediaResult(task.item_id, task.family, error=exc.problem)
    try:
        stream = io.BufferedReader(ItemStream(handle, handle.size or task.size), STREAM_BUFFER)
        if task.family == "video":
            return _video(task, stream)
        return _image(task, stream)
    finally:
        handle.close()


def _image(task: MediaTask, stream: io.BufferedReader) -> MediaResult:
    try:
        found = image_pdq(stream)
    except ImageDecodeError as exc:
        return MediaResult(task.item_id, "image", error=Problem(ProblemKind.DAMAGED, str(exc)))
    facts = found.facts
    return MediaResult(
        task.item_id, "image", format=found.format, width=found.width, height=found.height,
        pdq=pdq_hex(found.pdq), pdq_quality=found.quality, dihedral=b"".join(found.dihedral),
        exif=json.dumps(facts.to_json_dict(), sort_keys=True) if facts else None,
        camera=" ".join(filter(None, (facts.make, facts.model)))[:200] or None if facts else None,
        camera_serial=facts.serial[:200] if facts and facts.serial else None,
    )


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
