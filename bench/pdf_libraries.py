#!/usr/bin/env python3
"""Which PDF library reads the pictures inside PDFs: pikepdf (qpdf, C++) against pypdf (pure Python).

``fieldlab.evidence.pdf_members`` lists every image object of a PDF and decodes
the ones not stored as JPEG.  This measures, for both libraries, on the same
generated files in the same process, interleaved round by round:

- speed: open + list every image object, then decode each to a Pillow image,
  on a 50-page PDF with one 1000x750 Flate picture a page (half of them with a
  PNG predictor, as pdfTeX writes them);
- robustness: a 6-page PDF (Flate, predicted Flate, RunLength, LZW,
  ASCIIHex+Flate, JPEG) truncated at 12 points, with 150 copies of it each
  with 20 random bytes overwritten, with garbage after a PDF header, and with
  a 1 GB Flate bomb in a 100x100 image: each case runs in its own process
  (so a crash or a hang is seen as one), 20 s allowed; the outcome is how
  many pictures were decoded, a clean Python exception, a hang or a crash.

Usage (from the repository root, with the project's venv; both libraries installed)::

    .venv/bin/python bench/pdf_libraries.py [--rounds 3] [--mutants 150]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.detect.media_builders import picture  # noqa: E402
from tests.evidence import pdf_builders as build  # noqa: E402

WORK = Path(__file__).resolve().parent / ".work" / "pdf"
LIMIT = 256 << 20


def pikepdf_images(data: bytes) -> tuple[list, object]:
    import pikepdf

    pikepdf.settings.set_qpdf_limits(flate_max_memory=LIMIT, png_max_memory=LIMIT, run_length_max_memory=LIMIT,
                                     tiff_max_memory=LIMIT)
    pdf = pikepdf.open(io.BytesIO(data))
    found = [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image"]
    return found, lambda obj, pdf=pdf: pikepdf.PdfImage(obj).as_pil_image()  # the image lives as long as its Pdf


def pypdf_images(data: bytes) -> tuple[list, object]:
    import pypdf
    from pypdf.generic import StreamObject

    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    numbers = sorted({(n, g) for g, ns in reader.xref.items() for n in ns} | {(n, 0) for n in reader.xref_objStm})
    found = []
    for number, generation in numbers:
        obj = reader.get_object(number)
        if isinstance(obj, StreamObject) and obj.get("/Subtype") == "/Image":
            found.append(obj)
    return found, lambda obj: obj.decode_as_image()


LIBRARIES = {"pikepdf": pikepdf_images, "pypdf": pypdf_images}


def speed(path: Path, rounds: int) -> dict[str, tuple[float, float, int]]:
    data = path.read_bytes()
    times: dict[str, list[tuple[float, float, int]]] = {name: [] for name in LIBRARIES}
    for _ in range(rounds):
        for name, opener in LIBRARIES.items():
            start = time.perf_counter()
            found, decode = opener(data)
            listed = time.perf_counter()
            for obj in found:
                decode(obj).load()
            times[name].append((listed - start, time.perf_counter() - listed, len(found)))
    return {name: (statistics.median(t[0] for t in runs), statistics.median(t[1] for t in runs), runs[0][2])
            for name, runs in times.items()}


def one_case(library: str, path: str) -> None:
    """Child process: decode what can be decoded, print the count or the exception's type."""
    try:
        found, decode = LIBRARIES[library](Path(path).read_bytes())
        decoded = 0
        for obj in found:
            try:
                decode(obj).load()
                decoded += 1
            except Exception:  # noqa: BLE001 - a damaged picture; count the rest
                pass
        print(f"decoded {decoded}")
    except Exception as exc:  # noqa: BLE001
        print(f"error {type(exc).__name__}")


def run_case(library: str, path: Path) -> str:
    try:
        done = subprocess.run([sys.executable, __file__, "--case", library, str(path)], capture_output=True,
                              text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "hang"
    if done.returncode != 0:
        return f"crash ({done.returncode}: {done.stderr.strip()[-300:]})"
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"


def damaged_cases(mutants: int) -> list[tuple[str, Path]]:
    source = picture(5, 400, 300)
    whole = build.pdf([[enc(source)] for enc in (build.flate, build.flate_predicted, build.run_length, build.lzw,
                                                  build.hex_flate, build.dct)])
    cases = [("whole", whole)]
    points = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99)
    cases += [(f"truncated {p}%", whole[: len(whole) * p // 100]) for p in points]
    rng = random.Random(7)
    for n in range(mutants):
        data = bytearray(whole)
        for _ in range(20):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cases.append((f"mutant {n}", bytes(data)))
    cases.append(("garbage", b"%PDF-1.7\n" + rng.randbytes(200_000)))
    bomb = build.PdfImage(zlib.compress(bytes(1 << 30), 9), 100, 100, ("/FlateDecode",), "/DeviceGray")
    cases.append(("flate bomb", build.pdf([[bomb]])))
    WORK.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in cases:
        path = WORK / (name.replace(" ", "-").replace("%", "pc") + ".pdf")
        path.write_bytes(data)
        paths.append((name, path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mutants", type=int, default=150)
    parser.add_argument("--case", nargs=2)
    args = parser.parse_args()
    if args.case:
        one_case(*args.case)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    fifty = WORK / "fifty-pages.pdf"
    if not fifty.exists():
        encoders = (build.flate, build.flate_predicted)
        fifty.write_bytes(build.pdf([[encoders[n % 2](picture(100 + n, 1000, 750))] for n in range(50)]))
    print(f"50-page PDF, {fifty.stat().st_size / 1e6:.1f} MB, 50 Flate pictures of 1000x750")
    for name, (listed, decoded, count) in speed(fifty, args.rounds).items():
        print(f"  {name:8} open+list {listed * 1000:7.1f} ms ({count} images)   decode {decoded * 1000:7.0f} ms"
              f"   ({decoded / count * 1000:.1f} ms a picture)")
    outcomes: dict[str, dict[str, str]] = {name: {} for name in LIBRARIES}
    for case, path in damaged_cases(args.mutants):
        for name in LIBRARIES:
            outcomes[name][case] = run_case(name, path)
    for name, results in outcomes.items():
        print(f"\n{name}:")
        for case, result in results.items():
            if not case.startswith("mutant"):
                print(f"  {case:14} {result}")
        mutant_results = [r for c, r in results.items() if c.startswith("mutant")]
        tally: dict[str, int] = {}
        for result in mutant_results:
            key = result if not result.startswith("decoded") else f"decoded {min(int(result.split()[1]), 6)}"
            tally[key] = tally.get(key, 0) + 1
        print(f"  mutants: {dict(sorted(tally.items()))}")


if __name__ == "__main__":
    main()
