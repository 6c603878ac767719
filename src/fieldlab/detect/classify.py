"""Nudity-and-person detections of one picture, and the one score that orders the review queue.

The detector is NudeNet's published YOLOv8 model (``320n.onnx``, shipped inside
the ``nudenet`` wheel) or a force's own model of the same contract
(docs/classifier.md), run through onnxruntime directly: fieldlab decides the
threads, the batching and the pixels.  The pixels are the reduced-size decode
PDQ already made (``detect.perceptual``), so a picture is decoded once.

Pre- and post-processing follow ``nudenet.NudeDetector`` step by step, so the
detections equal the package's on the same pixels (``tests/detect/
test_classify_parity.py``): pad the picture with black at the right and
bottom to a square, resize it to the model's side with OpenCV's bilinear
``resize`` on 8-bit pixels (what ``cv2.dnn.blobFromImage`` does), scale to
0-1, channels in BGR order (NudeNet's ``cvtColor`` and ``swapRB`` swap twice,
so its model sees BGR; a model of a force's own states its order); keep candidates whose best class scores at least 0.2, scale boxes back,
clip them to the picture, then class-agnostic non-maximum suppression at score
above 0.25 and overlap 0.45.  The post-processing is vectorised; NudeNet loops over
the 2,100 candidates in Python.

The score only orders what an examiner looks at first: it never decides a
category, a count or a charge.  Rule (``ordering_score``): the highest score of
a *nudity* class (exposed genitalia, anus, buttocks, female breast) if there is
one; otherwise a quarter of the highest score of any class (a person is in the
picture), so every picture with nudity (kept detections score 0.25 or more)
comes before every picture with only a person, which comes before a picture
with nothing detected (0).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fieldlab.errors import ScanError

CANDIDATE_SCORE = 0.2  # NudeNet's own thresholds, kept for parity
KEPT_SCORE = 0.25
OVERLAP = 0.45
LIKELY_NUDITY = 0.5  # the review app's "likely nudity" filter: a nudity class detected at this score or more
PERSON_WEIGHT = 0.25
MAX_DETECTIONS = 100  # per picture: a hostile picture cannot fill the case with boxes
MAX_SIDE = 1280  # a model asking for a larger input is refused (memory per batch)

NUDENET_MODEL = "320n.onnx"
NUDENET_LICENCE = ("AGPL-3.0 (the LICENSE file in the nudenet 3.4.2 wheel, and the model's own metadata); "
                   "the wheel's metadata says MIT")
NUDENET_NUDITY = frozenset({"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED", "BUTTOCKS_EXPOSED",
                            "FEMALE_BREAST_EXPOSED"})


class ClassifierError(ScanError):
    """The model cannot be used: missing, not of the documented contract, or onnxruntime is not installed."""


@dataclass(frozen=True)
class ModelSpec:
    """Which model a scan uses, as the report states it; sent to the decoding workers, which load it once each."""

    path: str
    name: str
    sha256: str
    licence: str
    labels: tuple[str, ...]
    nudity: frozenset[str]
    side: int
    bgr: bool = True  # channel order the model expects


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x, y, width, height in pixels of the stored picture


@dataclass(frozen=True)
class Classification:
    detections: tuple[Detection, ...]
    score: float  # the ordering score (module docstring)
    nudity: float  # the highest nudity-class score, 0 if none


def default_model_path() -> Path | None:
    """NudeNet's model inside the installed wheel, found without importing the package (it imports OpenCV's GUI-less
    build and its own detector, which a scan never uses)."""
    found = importlib.util.find_spec("nudenet")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / NUDENET_MODEL
    return path if path.is_file() else None


def available() -> bool:
    """The optional extra ``fieldlab[classify]`` is installed: onnxruntime, OpenCV and NudeNet's model."""
    return all(importlib.util.find_spec(name) for name in ("onnxruntime", "cv2")) and default_model_path() is not None


def describe_model(path: Path | None = None) -> ModelSpec:
    """Read a model's facts (labels, input side, licence) and hash the file; ClassifierError when unusable."""
    chosen = path or default_model_path()
    if chosen is None:
        raise ClassifierError("no classifier model: install fieldlab[classify] or give --classify-model FILE")
    session = _session(str(chosen))
    meta = session.get_modelmeta().custom_metadata_map
    labels = _labels(meta.get("names"))
    nudity = frozenset(json.loads(meta["fieldlab_nudity"])) if "fieldlab_nudity" in meta else NUDENET_NUDITY
    (model_input,) = session.get_inputs()
    output = session.get_outputs()[0]
    if len(model_input.shape) != 4 or len(output.shape) != 3:
        raise ClassifierError(f"{chosen.name}: not a detector of the documented contract (input NCHW, output N x (4+C) x A)")
    side = _side(meta.get("imgsz"), model_input.shape)
    channels = meta.get("fieldlab_channels", "BGR").upper()
    if channels not in ("BGR", "RGB"):
        raise ClassifierError(f"the model's 'fieldlab_channels' metadata is {channels[:20]!r}, not BGR or RGB")
    default = path is None or chosen == default_model_path()
    licence = NUDENET_LICENCE if default else str(meta.get("license") or meta.get("licence") or "not stated in the model")
    return ModelSpec(str(chosen), "NudeNet 320n (nudenet 3.4.2)" if default else chosen.name, _sha256(chosen), licence,
                     labels, nudity & frozenset(labels), side, channels == "BGR")


def locally(model: ModelSpec) -> ModelSpec:
    """The model as this process finds it: a cluster worker may have the ``fieldlab[classify]`` extra installed at
    another path than the scanning machine, so NudeNet's model is looked for in this machine's wheel too, and
    used only if it is the very file the scan named (same SHA-256)."""
    if Path(model.path).is_file():
        return model
    own = default_model_path()
    return replace(model, path=str(own)) if own is not None and _sha256(own) == model.sha256 else model


def _labels(names: str | None) -> tuple[str, ...]:
    """Class names from the model's ``names`` metadata: a JSON list, or the ``{0: 'A', 1: 'B'}`` Ultralytics writes
    (parsed as a literal, never evaluated)."""
    if not names:
        raise ClassifierError("the model has no 'names' metadata: its classes cannot be named")
    try:
        parsed = json.loads(names) if names.lstrip().startswith("[") else ast.literal_eval(names)
    except (ValueError, SyntaxError) as error:
        raise ClassifierError(f"the model's 'names' metadata cannot be read: {error}") from error
    if isinstance(parsed, dict):
        parsed = [parsed[k] for k in sorted(parsed)]
    if not parsed or not all(isinstance(n, str) for n in parsed):
        raise ClassifierError("the model's 'names' metadata is not a list of class names")
    return tuple(parsed)


def _side(imgsz: str | None, shape: list) -> int:
    fixed = shape[2] if isinstance(shape[2], int) else None
    side = fixed or (json.loads(imgsz)[0] if imgsz else 320)
    if not isinstance(side, int) or not 32 <= side <= MAX_SIDE:
        raise ClassifierError(f"model input side {side!r} is outside 32-{MAX_SIDE}")
    return side


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _session(path: str, threads: int = 1):  # noqa: ANN202 - an onnxruntime.InferenceSession
    """One thread: the decoding pool already runs one worker per core."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ClassifierError("onnxruntime is not installed: install fieldlab[classify]") from error
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4  # a failure is recorded against its picture, not printed
    try:
        return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own untyped failures for a bad file
        raise ClassifierError(f"the model {Path(path).name} cannot be loaded: {error}"[:500]) from error


@dataclass(frozen=True)
class ModelPixels:
    """One picture (or video frame) as the model takes it: NudeNet's letterbox, made in the decoding worker from the
    reduced decode PDQ used, so only ``side`` x ``side`` x 3 bytes travel to the classifier, never the decode."""

    letterbox: np.ndarray = field(compare=False, repr=False)  # side x side x 3, uint8, RGB
    shown: tuple[int, int]  # width, height of the pixels that were letterboxed
    stored: tuple[int, int]  # width, height of the stored picture: boxes are given in its pixels


def model_pixels(pixels: np.ndarray, side: int, width: int, height: int) -> ModelPixels:
    """NudeNet's letterbox of RGB ``pixels`` (a reduced copy of a ``width`` x ``height`` picture): black padding
    right and bottom to a square, then OpenCV's bilinear resize of 8-bit pixels to the model's side."""
    import cv2

    shown_height, shown_width = pixels.shape[:2]
    longest = max(shown_height, shown_width)
    square = np.zeros((longest, longest, 3), dtype=np.uint8)
    square[:shown_height, :shown_width] = pixels[..., :3]
    resized = cv2.resize(square, (side, side), interpolation=cv2.INTER_LINEAR)
    return ModelPixels(resized, (shown_width, shown_height), (width, height))


def model_input(letterboxes: list[np.ndarray], bgr: bool = True) -> np.ndarray:
    """A batch of letterboxes as the model's input: 0-1 floats, NCHW, in the model's channel order."""
    stacked = np.stack(letterboxes)
    if bgr:
        stacked = stacked[..., ::-1]
    return (stacked.astype(np.float32) * np.float32(1 / 255.0)).transpose(0, 3, 1, 2)


class Classifier:
    """A loaded model.  ``classify_many`` runs the model once on a batch: NudeNet's 320n takes any batch size (its
    input is ``batch x 3 x height x width``), and a batch of 8 runs faster than 8 runs of one (bench/classify.py)."""

    def __init__(self, spec: ModelSpec, threads: int = 1) -> None:
        self.spec = spec
        self._session = _session(spec.path, threads)
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name

    def classify(self, pixels: np.ndarray, width: int, height: int) -> Classification:
        """RGB ``pixels`` (height x width x 3, uint8) of a ``width`` x ``height`` picture, maybe a reduced copy."""
        (found,) = self.classify_many([model_pixels(pixels, self.spec.side, width, height)])
        return found

    def classify_many(self, batch: list[ModelPixels]) -> list[Classification]:
        """One run of the model on the batch; any failure of the run fails the whole batch (the caller retries its
        pictures one by one to find the one the model fails on)."""
        (output,) = self._session.run([self._output], {self._input: model_input([p.letterbox for p in batch],
                                                                                 self.spec.bgr)})
        if output.ndim != 3 or output.shape[0] != len(batch) or output.shape[1] != 4 + len(self.spec.labels):
            raise ClassifierError(f"model output {output.shape} is not {len(batch)} x (4 + {len(self.spec.labels)}) x A")
        return [self._classification(rows, picture) for rows, picture in zip(output, batch)]

    def _classification(self, rows: np.ndarray, picture: ModelPixels) -> Classification:
        (shown_width, shown_height), (width, height) = picture.shown, picture.stored
        found = detections(rows, self.spec, shown_width, shown_height)
        scale_x, scale_y = width / shown_width, height / shown_height
        scaled = tuple(Detection(d.label, d.score, _scaled(d.box, scale_x, scale_y)) for d in found)
        return Classification(scaled, *ordering_score(scaled, self.spec.nudity))


def detections(output: np.ndarray, spec: ModelSpec, width: int, height: int) -> tuple[Detection, ...]:
    """YOLOv8 rows (cx, cy, w, h, one score per class) to boxes in the picture's pixels, after NudeNet's rules."""
    rows = output.T
    scores = rows[:, 4:]
    best = scores.max(axis=1)
    keep = best >= CANDIDATE_SCORE
    rows, best, classes = rows[keep], best[keep], scores[keep].argmax(axis=1)
    if not len(rows):
        return ()
    longest = max(width, height)
    factor = longest / spec.side
    cx, cy, w, h = (rows[:, i].astype(np.float64) for i in range(4))
    x = np.clip((cx - w / 2) * factor, 0, width)
    y = np.clip((cy - h / 2) * factor, 0, height)
    w = np.minimum(w * factor, width - x)
    h = np.minimum(h * factor, height - y)
    boxes = np.stack([x, y, w, h], axis=1)
    kept = _suppress(boxes, best.astype(np.float64))[:MAX_DETECTIONS]
    return tuple(Detection(spec.labels[classes[i]], float(best[i]), _box(boxes[i])) for i in kept)


def _box(row: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in row)
    return x, y, w, h


def _suppress(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """OpenCV's ``dnn.NMSBoxes``: scores above ``KEPT_SCORE``, by score (stable), drop a box overlapping a kept one by more than ``OVERLAP``
    (intersection over union of x, y, width, height boxes, as OpenCV computes it for float Rect2d)."""
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > KEPT_SCORE]
    kept: list[int] = []
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    for i in order:
        if kept:
            k = np.asarray(kept)
            inter = (np.clip(np.minimum(x2[k], x2[i]) - np.maximum(x1[k], x1[i]), 0, None)
                     * np.clip(np.minimum(y2[k], y2[i]) - np.maximum(y1[k], y1[i]), 0, None))
            union = area[k] + area[i] - inter
            overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
            if (overlap > OVERLAP).any():
                continue
        kept.append(int(i))
    return kept


def _scaled(box: tuple[int, int, int, int], sx: float, sy: float) -> tuple[int, int, int, int]:
    if sx == 1 and sy == 1:
        return box
    x, y, w, h = box
    return round(x * sx), round(y * sy), round(w * sx), round(h * sy)


def ordering_score(found: tuple[Detection, ...], nudity_labels: frozenset[str]) -> tuple[float, float]:
    """(ordering score, highest nudity score): the rule in the module docstring."""
    nudity = max((d.score for d in found if d.label in nudity_labels), default=0.0)
    if nudity:
        return nudity, nudity
    return PERSON_WEIGHT * max((d.score for d in found), default=0.0), 0.0


def likely_nudity(nudity: float | None) -> bool:
    return nudity is not None and nudity >= LIKELY_NUDITY


def strongest(frames: list[Classification]) -> Classification:
    """A video's classification: that of its sampled frame with the highest ordering score (so the video sorts as
    its strongest frame would, and its boxes are that frame's)."""
    return max(frames, key=lambda found: found.score)
