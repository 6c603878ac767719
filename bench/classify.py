#!/usr/bin/env python3
"""Classifier speed: fieldlab's stage against the nudenet package's own NudeDetector on the same photos.

Why this exists: issue 22 wants the nudity-and-person signal during the scan
on a field laptop, at no less than twice the package's own throughput.  The
package decodes each file in full with OpenCV, runs the model with
onnxruntime's default threads and decodes the model's 2,100 candidates in a
Python loop.  fieldlab's stage starts from the reduced decode PDQ already made
(so decoding is not its cost), runs one onnxruntime thread per decoding worker
(one worker per core, as the scan runs it) and post-processes with numpy.

Measured in one run, on the same page-cache-warm files (the EXIF sample photos
of ../shared/realdata and scikit-image's sample images), interleaved round by
round so the machine's load (other engineers share it) hits both alike:

- ``nudenet``: ``NudeDetector().detect(path)`` one file after another (decoding
  included; its onnxruntime session uses every core);
- ``fieldlab stage, 2 workers``: ``Classifier.classify`` on the reduced decode
  in two processes of one thread each (the stage alone);
- ``fieldlab stage, 1 worker``: the same in this process, one thread;
- ``PDQ decode`` and ``PDQ decode + stage``: what the stage adds to a decoding
  worker's time per picture.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/classify.py [--rounds 3] [--write-docs]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
from scan_folder import load_average, markdown_table, replace_doc_section  # noqa: E402

from fieldlab.detect.classify import Classifier, ModelSpec, describe_model  # noqa: E402
from fieldlab.detect.perceptual import image_pdq  # noqa: E402

KEY = "bench/classify.py"
REALDATA = Path(os.environ.get("FIELDLAB_REALDATA", REPO.parent / "shared" / "realdata"))


def photos() -> list[Path]:
    import skimage

    exif = sorted(p for p in (REALDATA / "ianare__exif-samples" / "jpg").rglob("*.jpg") if "invalid" not in p.parts)
    sample = sorted(Path(skimage.data_dir).glob("*.png")) + sorted(Path(skimage.data_dir).glob("*.jpg"))
    return [p for p in exif + sample if _decodable(p)]


def _decodable(path: Path) -> bool:
    import cv2

    try:
        with path.open("rb") as stream:
            image_pdq(stream)
    except Exception:  # noqa: BLE001 - a sample the scan would record as undecodable is left out of both sides
        return False
    return cv2.imread(str(path)) is not None


def time_nudenet(files: list[Path]) -> float:
    from nudenet import NudeDetector

    detector = NudeDetector()
    detector.detect(str(files[0]))  # first run allocates
    start = time.perf_counter()
    for path in files:
        detector.detect(str(path))
    return time.perf_counter() - start


_worker: Classifier | None = None


def _load(spec: ModelSpec) -> None:
    global _worker
    _worker = Classifier(spec)


def _classify_files(paths: list[Path]) -> float:
    """Inside a worker: the stage alone on pixels decoded beforehand, as the scan hands them over after PDQ."""
    decoded = []
    for path in paths:
        with path.open("rb") as stream:
            decoded.append(image_pdq(stream, keep_pixels=True))
    start = time.perf_counter()
    for found in decoded:
        _worker.classify(found.pixels, found.width, found.height)
    return time.perf_counter() - start


def time_stage_workers(spec: ModelSpec, files: list[Path], workers: int) -> float:
    """Wall time of the stage alone over ``workers`` processes: the slowest worker's classifying time."""
    with cf.ProcessPoolExecutor(workers, initializer=_load, initargs=(spec,)) as pool:
        shares = [files[i::workers] for i in range(workers)]
        return max(pool.map(_classify_files, shares))


def time_decode(files: list[Path], classifier: Classifier | None) -> float:
    start = time.perf_counter()
    for path in files:
        with path.open("rb") as stream:
            found = image_pdq(stream, keep_pixels=classifier is not None)
        if classifier is not None:
            classifier.classify(found.pixels, found.width, found.height)
    return time.perf_counter() - start


def time_scans(files: list[Path], workers: int) -> tuple[float, float]:
    """Wall time of a whole scan of a folder of these photos, without and with the stage (fresh cases)."""
    import shutil
    import tempfile

    from fieldlab import api

    with tempfile.TemporaryDirectory(prefix="fieldlab-bench-classify-") as work:
        folder = Path(work) / "photos"
        folder.mkdir()
        for number, path in enumerate(files):
            shutil.copyfile(path, folder / f"{number:03d}{path.suffix}")
        walls = []
        for run, classify in enumerate((False, True)):
            start = time.perf_counter()
            api.scan(folder, Path(work) / f"case{run}", workers=workers, verify=False, classify=classify,
                     home=Path(work) / "home")
            walls.append(time.perf_counter() - start)
    return walls[0], walls[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    files = photos()
    spec = describe_model()
    _load(spec)
    cores = os.cpu_count() or 1
    loads = [load_average()]
    times: dict[str, list[float]] = {k: [] for k in ("nudenet", "stage2", "stage1", "decode", "decode+stage")}
    for _ in range(args.rounds):
        times["nudenet"].append(time_nudenet(files))
        times["stage2"].append(time_stage_workers(spec, files, min(2, cores)))
        times["stage1"].append(_classify_files(files))
        times["decode"].append(time_decode(files, None))
        times["decode+stage"].append(time_decode(files, _worker))
        loads.append(load_average())
    scans = [time_scans(files, min(2, cores)) for _ in range(args.rounds)]
    plain, classified = min(s[0] for s in scans), min(s[1] for s in scans)
    loads.append(load_average())
    best = {k: min(v) for k, v in times.items()}
    rate = {k: len(files) / v for k, v in best.items()}
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "unknown")
    rows = [
        ["nudenet NudeDetector.detect (decoding included, default threads)", f"{rate['nudenet']:.1f}",
         f"{1000 * best['nudenet'] / len(files):.1f}", "1.00"],
        ["fieldlab stage alone, 2 workers x 1 thread", f"{rate['stage2']:.1f}",
         f"{1000 * best['stage2'] / len(files):.1f}", f"{rate['stage2'] / rate['nudenet']:.2f}"],
        ["fieldlab stage alone, 1 worker x 1 thread", f"{rate['stage1']:.1f}",
         f"{1000 * best['stage1'] / len(files):.1f}", f"{rate['stage1'] / rate['nudenet']:.2f}"],
        ["PDQ decode + hash, 1 thread (for scale)", f"{rate['decode']:.1f}",
         f"{1000 * best['decode'] / len(files):.1f}", ""],
        ["PDQ decode + hash + stage, 1 thread", f"{rate['decode+stage']:.1f}",
         f"{1000 * best['decode+stage'] / len(files):.1f}", ""],
    ]
    body = "\n".join([
        "## Classifier stage against nudenet's NudeDetector (`bench/classify.py`)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {cores} cores ({cpu_model}), "
        f"{len(files)} photos (EXIF samples of ../shared/realdata and scikit-image's sample images), best of "
        f"{args.rounds} interleaved rounds; load average (1/5/15 min) before and after each round: "
        f"{'; '.join(loads)}. The machine was shared with other engineers' work while measuring.",
        "",
        markdown_table(["what", "pictures/s", "ms each", "x nudenet"], rows),
        "",
        f"Whole scan of a folder of the same {len(files)} photos, {min(2, cores)} workers (best of {args.rounds}): "
        f"{plain:.2f} s with `--no-classify`, {classified:.2f} s with the stage, {classified - plain:+.2f} s "
        f"({100 * (classified - plain) / plain:+.0f}%), model loading in each worker included. Not measured: the "
        "2 GB drive-like corpus of `bench/scan_folder.py`.",
        "",
        f"Model {spec.name}, SHA-256 {spec.sha256}. The stage's pixels are the reduced decode PDQ made (a JPEG "
        "decoded at DCT scale, shorter side >= 512), so fieldlab pays no decode of its own; nudenet decodes in full.",
    ])
    print(body)
    if args.write_docs:
        replace_doc_section(KEY, body)


if __name__ == "__main__":
    main()
