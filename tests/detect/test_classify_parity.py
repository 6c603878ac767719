"""fieldlab's detections equal the nudenet package's own NudeDetector on public photos of people and scenes.

Correctness of the classifier is parity with the published reference: the same
model file, our own pre- and post-processing.  Tolerance:

- on the same pixels (a full decode, as NudeDetector reads the file): the same
  detections, scores within 1e-4, boxes within 1 pixel;
- on the scan's reduced-size decode (JPEG DCT scaling or an integer box
  reduction, shared with PDQ) of pictures larger than that decode: every
  reference detection scoring 0.3 or more found with the same class, score
  within 0.06 and each box edge within 2% of the picture's longer side.

No test picture is explicit: the EXIF sample photos, Meta's PDQ test photos
and scikit-image's sample images (a portrait, a cameraman, scenes).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage
from nudenet import NudeDetector
from PIL import Image

from fieldlab.detect.classify import Classification, Classifier, Detection, describe_model, model_pixels, ordering_score
from fieldlab.detect.perceptual import image_pdq
from tests.conftest import REALDATA

SKIMAGE = Path(skimage.data_dir)
PHOTOS = [
    SKIMAGE / "astronaut.png", SKIMAGE / "camera.png", SKIMAGE / "coffee.png", SKIMAGE / "chelsea.png",
    SKIMAGE / "rocket.jpg", SKIMAGE / "moon.png", SKIMAGE / "color.png",
    REALDATA / "ianare__exif-samples/jpg/xmp/no_exif.jpg", REALDATA / "ianare__exif-samples/jpg/gps/DSCN0027.jpg",
    REALDATA / "ianare__exif-samples/jpg/gps/DSCN0010.jpg", REALDATA / "ianare__exif-samples/jpg/Canon_40D.jpg",
    REALDATA / "ianare__exif-samples/jpg/orientation/portrait_1.jpg",
    REALDATA / "facebook__ThreatExchange/pdq/data/reg-test-input/labelme-subset/q0291.jpg",
    REALDATA / "facebook__ThreatExchange/pdq/data/reg-test-input/pen-and-coaster.png",
    REALDATA / "facebook__ThreatExchange/pdq/data/bridge-mods/aaa-orig.jpg",
]


@pytest.fixture(scope="module")
def ours() -> Classifier:
    return Classifier(describe_model())


@pytest.fixture(scope="module")
def reference() -> NudeDetector:
    return NudeDetector()


def _reference(detector: NudeDetector, path: Path) -> list[tuple[str, float, tuple[int, ...]]]:
    return sorted((d["class"], d["score"], tuple(d["box"])) for d in detector.detect(str(path)))


def _ours(found: Classification) -> list[tuple[str, float, tuple[int, ...]]]:
    return sorted((d.label, d.score, d.box) for d in found.detections)


def test_the_default_model_is_nudenets_file_with_its_classes_and_both_licences() -> None:
    spec = describe_model()
    assert Path(spec.path).name == "320n.onnx" and len(spec.sha256) == 64
    assert spec.side == 320 and len(spec.labels) == 18 and "FACE_FEMALE" in spec.labels
    assert "AGPL-3.0" in spec.licence and "MIT" in spec.licence
    assert spec.nudity == {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED", "BUTTOCKS_EXPOSED",
                           "FEMALE_BREAST_EXPOSED"}


def test_on_the_same_pixels_detections_equal_nudenets(ours: Classifier, reference: NudeDetector) -> None:
    compared = 0
    for path in PHOTOS:
        bgr = cv2.imread(str(path))
        found = _ours(ours.classify(np.ascontiguousarray(bgr[..., ::-1]), bgr.shape[1], bgr.shape[0]))
        expected = _reference(reference, path)
        assert [label for label, _, _ in found] == [label for label, _, _ in expected], path.name
        assert np.abs(np.subtract([b for *_, b in found], [b for *_, b in expected]).reshape(-1)).max(initial=0) <= 1
        assert [score for _, score, _ in found] == pytest.approx([score for _, score, _ in expected], abs=1e-4), path.name
        compared += len(expected)
    assert compared >= 12  # faces, covered and exposed classes: the comparison is not of empty lists


def test_a_batch_of_pictures_gives_each_the_detections_it_gets_alone(ours: Classifier) -> None:
    """The scan runs the model on batches (triage/classify_pool.py): batching must not change a detection."""
    pictures = []
    for path in PHOTOS[:8]:
        with Image.open(path) as opened:
            pixels = np.asarray(opened.convert("RGB"))
        pictures.append(model_pixels(pixels, ours.spec.side, pixels.shape[1], pixels.shape[0]))
    together = ours.classify_many(pictures)
    alone = [found for picture in pictures for found in ours.classify_many([picture])]
    assert sum(len(found.detections) for found in alone) >= 6
    for batched, single in zip(together, alone):
        assert [d.label for d in batched.detections] == [d.label for d in single.detections]
        boxes = np.subtract([d.box for d in batched.detections], [d.box for d in single.detections])
        assert np.abs(boxes).max(initial=0) <= 1  # integer pixels of float boxes equal to within rounding
        assert [d.score for d in batched.detections] == pytest.approx([d.score for d in single.detections], abs=1e-5)


@pytest.mark.parametrize("name", ["astronaut.png", "camera.png", "no_exif.jpg", "q0291.jpg"])
@pytest.mark.parametrize("factor, suffix", [(4, ".png"), (5, ".jpg")])
def test_on_the_scans_reduced_decode_detections_match_nudenets_on_the_full_picture(
    tmp_path: Path, ours: Classifier, reference: NudeDetector, name: str, factor: int, suffix: str,
) -> None:
    source = next(p for p in PHOTOS if p.name == name)
    with Image.open(source) as opened:
        picture = opened.convert("RGB")
    large = picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.LANCZOS)
    path = tmp_path / f"large{suffix}"
    large.save(path, quality=92)
    with path.open("rb") as stream:
        decoded = image_pdq(stream, keep_pixels=True)
    assert decoded.pixels.shape[:2] != (large.height, large.width)  # the reduced decode, not the full picture
    found = _ours(ours.classify(decoded.pixels, decoded.width, decoded.height))
    tolerance = 0.02 * max(large.size)
    expected = [d for d in _reference(reference, path) if d[1] >= 0.3]
    assert expected
    for label, score, box in expected:
        assert any(label == f_label and abs(score - f_score) <= 0.06
                   and np.abs(np.subtract(box, f_box)).max() <= tolerance for f_label, f_score, f_box in found), (
            f"{label} {score:.3f} {box} not in {found}")


def test_the_ordering_score_puts_nudity_before_people_before_nothing() -> None:
    nudity = frozenset({"BUTTOCKS_EXPOSED"})
    exposed = (Detection("BUTTOCKS_EXPOSED", 0.26, (0, 0, 1, 1)), Detection("FACE_MALE", 0.9, (0, 0, 1, 1)))
    person = (Detection("FACE_MALE", 0.99, (0, 0, 1, 1)),)
    assert ordering_score(exposed, nudity) == (0.26, 0.26)
    assert ordering_score(person, nudity) == pytest.approx((0.2475, 0.0))
    assert ordering_score((), nudity) == (0.0, 0.0)
