#!/usr/bin/env python3
"""Classifier speed: fieldlab's stage against the nudenet package's own NudeDetector, and what it adds to a scan.

Why this exists: issue 22 wants the nudity-and-person signal during the scan
on a field laptop, at no less than twice the package's own throughput, without
ever delaying the exact verdict or the PDQ stage.  The package decodes each
file in full with OpenCV, runs the model with onnxruntime's default threads and
decodes the model's 2,100 candidates in a Python loop.  fieldlab's stage gets
the model's letterbox made from the reduced decode PDQ already did, runs the
model on batches of pictures in its own lower-priority processes and
post-processes with numpy.

Measured in one run, on the same page-cache-warm files (the EXIF sample photos
of ../shared/realdata and scikit-image's sample images), interleaved round by
round so the machine's load (other engineers share it) hits all alike:

- ``nudenet``: ``NudeDetector().detect(path)`` one file after another (decoding
  included; its onnxruntime session uses every core);
- the stage alone on letterboxes made beforehand, by batch size and
  onnxruntime threads, in this process; and over 2 worker processes of one
  thread, batches of 8, as the scan's classifier pool runs it;
- a scan of a folder of these photos (three distinct copies of each), stage off
  and on: the time until every picture's PDQ is recorded, and until the scan
  ends (every picture classified);
- with ``--scan``: the same two scans of the 2 GB drive-like corpus of
  ``bench/scan_folder.py`` (generated there, or reused, under ``--workdir``).

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/classify.py [--rounds 3] [--scan] [--write-docs]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
from scan_folder import ensure_corpus, load_average, markdown_table, replace_doc_section  # noqa: E402

from fieldlab.case.store import CaseStore  # noqa: E402
from fieldlab.detect.classify import Classifier, ModelPixels, ModelSpec, describe_model, model_pixels  # noqa: E402
from fieldlab.detect.perceptual import image_pdq  # noqa: E402
from fieldlab.triage.classify_pool import BATCH  # noqa: E402

KEY = "bench/classify.py"
REALDATA = Path(os.environ.get("FIELDLAB_REALDATA", REPO.parent / "shared" / "realdata"))
COPIES = 3


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


def letterboxes(files: list[Path], side: int) -> list[ModelPixels]:
    """What the decoding workers hand the classifier: the letterbox of the reduced decode PDQ used."""
    made = []
    for path in files:
        with path.open("rb") as stream:
            found = image_pdq(stream, keep_pixels=True)
        made.append(model_pixels(found.pixels, side, found.width, found.height))
    return made


def time_nudenet(files: list[Path]) -> float:
    from nudenet import NudeDetector

    detector = NudeDetector()
    detector.detect(str(files[0]))  # first run allocates
    start = time.perf_counter()
    for path in files:
        detector.detect(str(path))
    return time.perf_counter() - start


def time_stage(classifier: Classifier, pictures: list[ModelPixels], batch: int) -> float:
    classifier.classify_many(pictures[:batch])  # first run allocates
    start = time.perf_counter()
    for at in range(0, len(pictures), batch):
        classifier.classify_many(pictures[at:at + batch])
    return time.perf_counter() - start


_worker: Classifier | None = None


def _load(spec: ModelSpec) -> None:
    global _worker
    _worker = Classifier(spec)


def _classify_share(pictures: list[ModelPixels]) -> float:
    return time_stage(_worker, pictures, BATCH)


def time_stage_workers(spec: ModelSpec, pictures: list[ModelPixels], workers: int) -> float:
    """Wall time of the stage alone over ``workers`` processes of one thread: the slowest worker's time."""
    with cf.ProcessPoolExecutor(workers, initializer=_load, initargs=(spec,)) as pool:
        return max(pool.map(_classify_share, [pictures[i::workers] for i in range(workers)]))


def timed_scan(folder: Path, case: Path, workers: int, classify: bool) -> tuple[float, float]:
    """(seconds until the last PDQ/vPDQ result was recorded, seconds until the scan ended)."""
    from fieldlab import api

    recorded: list[float] = []
    record_media = CaseStore.record_media

    def noting(self: CaseStore, *args: object, **kwargs: object) -> None:
        record_media(self, *args, **kwargs)
        recorded.append(time.perf_counter())

    CaseStore.record_media = noting
    try:
        start = time.perf_counter()
        api.scan(folder, case, workers=workers, verify=False, classify=classify, home=case.parent / "home")
        end = time.perf_counter()
    finally:
        CaseStore.record_media = record_media
    return (recorded[-1] if recorded else end) - start, end - start


def photo_folder(files: list[Path], folder: Path) -> int:
    """``COPIES`` distinct copies of each photo (a trailing byte after the picture's data makes each copy new)."""
    folder.mkdir()
    for copy in range(COPIES):
        for number, path in enumerate(files):
            (folder / f"{copy}-{number:03d}{path.suffix}").write_bytes(path.read_bytes() + bytes([copy]))
    return COPIES * len(files)


def scan_pairs(folder: Path, work: Path, workers: int, rounds: int) -> dict[bool, tuple[float, float]]:
    """Best of ``rounds`` scans with the stage off and on, interleaved, each into a fresh case."""
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for round_number in range(rounds):
        for classify in (False, True):
            case = work / f"case-{round_number}-{classify}"
            runs[classify].append(timed_scan(folder, case, workers, classify))
            shutil.rmtree(case)
    return {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}


def scan_rows(found: dict[bool, tuple[float, float]]) -> list[list[str]]:
    (off_pdq, off_end), (on_pdq, on_end) = found[False], found[True]
    return [["`--no-classify`", f"{off_pdq:.2f}", f"{off_end:.2f}", ""],
            ["stage on", f"{on_pdq:.2f}", f"{on_end:.2f}",
             f"{on_pdq - off_pdq:+.2f} s to all PDQ ({100 * (on_pdq - off_pdq) / off_pdq:+.0f}%), "
             f"{on_end - off_end:+.2f} s to the end ({100 * (on_end - off_end) / off_end:+.0f}%)"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scan", action="store_true", help="also scan the 2 GB drive-like corpus, stage off and on")
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    files = photos()
    spec = describe_model()
    pictures = letterboxes(files, spec.side)
    cores = os.cpu_count() or 1
    workers = min(2, cores)
    one, two = Classifier(spec, threads=1), Classifier(spec, threads=2)
    loads = [load_average()]
    stage_kinds = {"batch 1, 1 thread": (one, 1), f"batch {BATCH}, 1 thread": (one, BATCH),
                   "batch 1, 2 threads": (two, 1), f"batch {BATCH}, 2 threads": (two, BATCH)}
    times: dict[str, list[float]] = {k: [] for k in ("nudenet", *stage_kinds, "pool")}
    for _ in range(args.rounds):
        times["nudenet"].append(time_nudenet(files))
        for name, (classifier, batch) in stage_kinds.items():
            times[name].append(time_stage(classifier, pictures, batch))
        times["pool"].append(time_stage_workers(spec, pictures, workers))
        loads.append(load_average())
    with tempfile.TemporaryDirectory(prefix="fieldlab-bench-classify-") as work:
        folder_files = photo_folder(files, Path(work) / "photos")
        folder = scan_pairs(Path(work) / "photos", Path(work), workers, args.rounds)
    loads.append(load_average())
    drive = None
    if args.scan:
        corpus = ensure_corpus(args.workdir.resolve() / "corpus", args.size_gb)
        with tempfile.TemporaryDirectory(prefix="fieldlab-bench-classify-", dir=args.workdir) as work:
            drive = scan_pairs(args.workdir.resolve() / "corpus", Path(work), workers, 1)
        loads.append(load_average())
    best = {k: min(v) for k, v in times.items()}
    rate = {k: len(files) / v for k, v in best.items()}
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "unknown")
    rows = [["nudenet NudeDetector.detect (decoding included, default threads)", f"{rate['nudenet']:.1f}",
             f"{1000 * best['nudenet'] / len(files):.1f}", "1.00"]]
    rows += [[f"fieldlab stage alone, 1 process, {name}", f"{rate[name]:.1f}", f"{1000 * best[name] / len(files):.1f}",
              f"{rate[name] / rate['nudenet']:.2f}"] for name in stage_kinds]
    rows.append([f"fieldlab stage alone, {workers} processes x 1 thread, batch {BATCH} (the scan's pool)",
                 f"{rate['pool']:.1f}", f"{1000 * best['pool'] / len(files):.1f}", f"{rate['pool'] / rate['nudenet']:.2f}"])
    header = ["scan", "all PDQ recorded (s)", "scan ended (s)", "stage on against off"]
    body = [
        "## Classifier stage against nudenet's NudeDetector (`bench/classify.py`)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {cores} cores ({cpu_model}), "
        f"{len(files)} photos (EXIF samples of ../shared/realdata and scikit-image's sample images), best of "
        f"{args.rounds} interleaved rounds; load average (1/5/15 min) before and after each part: "
        f"{'; '.join(loads)}. The machine was shared with other engineers' work while measuring: ratios measured "
        "in the same run are the figures to read.",
        "",
        markdown_table(["what", "pictures/s", "ms each", "x nudenet"], rows),
        "",
        f"Scan of a folder of {folder_files} photos ({COPIES} distinct copies of each), {workers} workers, best of "
        f"{args.rounds}, stage off and on interleaved. The stage's pool runs at `os.nice` 10 after the hashes: the "
        "PDQ results are recorded first, the classification finishes after them.",
        "",
        markdown_table(header, scan_rows(folder)),
    ]
    if drive is not None:
        body += ["", f"The {args.size_gb:g} GB drive-like corpus of `bench/scan_folder.py` ({corpus.files:,} files), "
                 f"{workers} workers, one scan each way:", "", markdown_table(header, scan_rows(drive))]
    body += ["", f"Model {spec.name}, SHA-256 {spec.sha256}: its input is `batch x 3 x height x width`, so the scan "
             f"runs it on batches of {BATCH}. The stage's pixels are the reduced decode PDQ made, so fieldlab pays no "
             "decode of its own; nudenet decodes in full."]
    text = "\n".join(body)
    print(text)
    if args.write_docs:
        replace_doc_section(KEY, text)


if __name__ == "__main__":
    main()
