#!/usr/bin/env python3
"""Carving: fieldlab ``carve()`` against foremost and PhotoRec on one generated raw disk image, in one run.

Why this exists: the carver is meant to recover at least as many whole pictures
and videos as PhotoRec (the carver examiners trust most) and to be at least as
fast as foremost (the quickest common one).  All of them run on the same image,
page cache warm, one after the other, and each tool's output is checked against
the ground truth by MD5: a file counts as recovered only if a tool produced its
exact bytes.

The image (``--size-gb`` GB, fixed seed, generated once into
``bench/.work/carve/`` and reused while its marker file matches the parameters)
is laid out like unallocated space: stretches of random bytes (encrypted or
compressed leftovers), zeros (never-used or wiped clusters) and text, with
media files starting on sector or 4 KiB cluster boundaries between them, or,
for a quarter of the files of the strong-signature kinds (all but BMP and
TIFF), at an odd byte offset, as a picture inside the remains of a deleted
document or mail store lies:
camera-sized JPEGs (some with EXIF thumbnails), small JPEGs, PNG, GIF, BMP,
WebP, TIFF, HEIC, MP4 (H.264) and AVI (MJPEG), all generated (procedural
pictures, see ``tests/detect/carve_builders.py``).  Some camera JPEGs are
fragmented: their second half lies after a gap of filler.  No contiguous carver
can rebuild those, so they are counted apart.  A few decoys (a JPEG SOI or PNG
signature followed by garbage) test that nothing false is reported as whole.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/carve.py [--size-gb 2] [--workdir bench/.work/carve] [--write-docs]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

from scan_folder import (  # noqa: E402
    MachineFacts,
    Timing,
    load_average,
    machine_facts,
    markdown_table,
    replace_doc_section,
    timed,
)

from fieldlab.demo import procedural_jpeg  # noqa: E402
from fieldlab.detect.carve import CarvedRun, carve  # noqa: E402
from fieldlab.detect.carving.decode import DECODE_THREADS  # noqa: E402
from tests.detect import carve_builders as build  # noqa: E402

GENERATOR_VERSION = 3  # bump when the layout changes, so old images are rebuilt
SEED = 20240717
SECTOR = 512
MB = 1_000_000
MEDIA_SHARE = 0.5  # of the image's bytes; the rest is filler
FRAGMENTED_SHARE = 0.08  # of camera JPEGs
DECOY_SHARE = 0.02  # of planted items
UNALIGNED_SHARE = 0.25  # of the files of kinds with a strong signature, planted at an odd byte offset
WEAK_KINDS = frozenset({"bmp", "tiff"})  # looked for on sector boundaries only, so always planted on one

# No mp4: foremost's mp4 handler ends the whole run at the first ISO file it misreads (measured on the 0.5 GB image:
# with mp4, nothing past 208 MB was extracted and the run took half the time; it never recovered an MP4 here anyway).
FOREMOST_TYPES = "jpg,png,gif,bmp,avi"
# PhotoRec's scripted mode (phcli.c): partition_none = the whole image as one unpartitioned space; paranoid = keep
# only files that pass its checks; fileopt,everything,disable then enable each wanted family by its extension.
PHOTOREC_FAMILIES = ("jpg", "png", "gif", "bmp", "mov", "riff", "tif")


# --------------------------------------------------------------------------- the image and its ground truth


@dataclass(frozen=True)
class Planted:
    kind: str  # fieldlab's kind: jpeg, png, gif, bmp, webp, tiff, heic, mp4, avi
    offset: int
    length: int
    md5: str
    fragmented: bool  # stored in two pieces with filler between: no contiguous carver can recover it
    aligned: bool  # starts on a sector boundary


@dataclass
class Image:
    size_gb: float
    seed: int
    generator: int
    size: int = 0
    planted: list[Planted] = field(default_factory=list)
    decoys: int = 0

    def same_parameters(self, other: Image) -> bool:
        return (self.size_gb, self.seed, self.generator) == (other.size_gb, other.seed, other.generator)

    @classmethod
    def load(cls, marker: Path) -> Image | None:
        try:
            raw = json.loads(marker.read_text(encoding="utf-8"))
            return cls(raw["size_gb"], raw["seed"], raw["generator"], raw["size"],
                       [Planted(**p) for p in raw["planted"]], raw["decoys"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, marker: Path) -> None:
        marker.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")

    @property
    def whole(self) -> list[Planted]:
        return [p for p in self.planted if not p.fragmented]

    @property
    def unaligned(self) -> list[Planted]:
        return [p for p in self.whole if not p.aligned]


# (kind, relative weight in media bytes); a spec is (kind, seed, parameters) so workers can rebuild it from a seed.
MIX = (("jpeg-camera", 0.42), ("jpeg-small", 0.03), ("png", 0.10), ("gif", 0.04), ("bmp", 0.08), ("webp", 0.02),
       ("tiff", 0.06), ("heic", 0.015), ("mp4", 0.185), ("avi", 0.05))
MEAN_BYTES = {"jpeg-camera": 600_000, "jpeg-small": 25_000, "png": 250_000, "gif": 55_000, "bmp": 730_000,
              "webp": 20_000, "tiff": 330_000, "heic": 80_000, "mp4": 4_200_000, "avi": 400_000}  # measured
CAMERA = ((2048, 1536), (2592, 1944), (3264, 2448))


def media_specs(rng: np.random.Generator, budget: int) -> list[tuple[str, int, tuple[int, ...]]]:
    specs: list[tuple[str, int, tuple[int, ...]]] = []
    for kind, weight in MIX:
        for _ in range(max(1, round(budget * weight / MEAN_BYTES[kind]))):
            seed = SEED * 1000 + len(specs)
            if kind == "jpeg-camera":
                width, height = CAMERA[int(rng.integers(len(CAMERA)))]
                specs.append((kind, seed, (width, height, int(rng.integers(85, 96)), int(rng.random() < 0.3))))
            elif kind == "jpeg-small":
                specs.append((kind, seed, (int(rng.integers(160, 1024)), int(rng.integers(120, 768)))))
            elif kind == "webp":
                specs.append((kind, seed, ((640, 480), (800, 600), (1024, 768))[int(rng.integers(3))]))
            elif kind in ("png", "bmp", "tiff"):
                specs.append((kind, seed, (int(rng.integers(200, 900)), int(rng.integers(150, 700)))))
            elif kind == "mp4":
                specs.append((kind, seed, (int(rng.integers(60, 160)),)))
            elif kind == "avi":
                specs.append((kind, seed, (int(rng.integers(30, 150)),)))
            else:
                specs.append((kind, seed, ()))
    order = rng.permutation(len(specs))
    return [specs[i] for i in order]


def make_media(spec: tuple[str, int, tuple[int, ...]]) -> tuple[str, bytes]:
    kind, seed, p = spec
    if kind == "jpeg-camera":
        width, height, quality, with_thumbnail = p
        if with_thumbnail:
            return "jpeg", build.jpeg_with_exif_thumbnail(seed, width, height)
        return "jpeg", procedural_jpeg(seed, width, height, quality)
    if kind == "jpeg-small":
        return "jpeg", procedural_jpeg(seed, *p)
    if kind == "png":
        return "png", build.png(seed, *p)
    if kind == "gif":
        return "gif", build.gif(seed, frames=2 + seed % 5)
    if kind == "bmp":
        return "bmp", build.bmp(seed, *p)
    if kind == "webp":
        return "webp", build.webp(seed, *p)
    if kind == "tiff":
        return "tiff", build.tiff(seed, *p, compression=("raw", "tiff_deflate", "tiff_lzw")[seed % 3])
    if kind == "heic":
        return "heic", build.heic(seed, 640, 480)
    if kind == "mp4":
        return "mp4", build.video(seed, "mp4", "libx264", frames=p[0], size=(640, 360), grain=48)
    return "avi", build.video(seed, "avi", "mjpeg", frames=p[0], size=(320, 240))


def _filler(rng: np.random.Generator, mean: float) -> Iterator[bytes]:
    """Unallocated space between files: mostly short stretches, now and then a long one (exponential sizes)."""
    size = int(rng.exponential(mean)) // SECTOR * SECTOR
    kind = ("random", "zeros", "text")[int(rng.choice(3, p=(0.5, 0.3, 0.2)))]
    for start in range(0, size, 8 << 20):
        yield build.filler(rng, min(8 << 20, size - start), kind)


def _decoy(rng: np.random.Generator) -> bytes:
    """A header over garbage: what a carver must not call a whole file."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" if rng.random() < 0.5 else b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"
    return head + rng.bytes(int(rng.integers(10_000, 400_000)))


class _ImageWriter:
    def __init__(self, path: Path) -> None:
        self.out = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.position = 0

    def write(self, data: bytes) -> int:
        at = self.position
        self.out.write(data)
        self.position += len(data)
        return at

    def align(self, rng: np.random.Generator, to: int) -> None:
        self.write(build.filler(rng, -self.position % to))

    def close(self) -> None:
        self.out.close()


def ensure_image(workdir: Path, size_gb: float) -> Image:
    image_path, marker = workdir / "image.raw", workdir / "image.json"
    wanted = Image(size_gb, SEED, GENERATOR_VERSION)
    existing = Image.load(marker)
    if existing is not None and existing.same_parameters(wanted) and image_path.exists() \
            and image_path.stat().st_size == existing.size:
        print(f"Reusing {image_path} ({existing.size / MB:,.0f} MB, {len(existing.planted)} planted files)")
        return existing
    marker.unlink(missing_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"Generating a {size_gb:g} GB raw image in {image_path} (seed {SEED}) ...", flush=True)
    started = time.monotonic()
    target = int(size_gb * 1e9) // SECTOR * SECTOR
    rng = np.random.default_rng(SEED)
    specs = media_specs(rng, int(target * MEDIA_SHARE))
    mean_gap = target * (1 - MEDIA_SHARE) / len(specs)
    writer = _ImageWriter(image_path)
    writer.write(bytes(1 << 20))  # where a partition table and boot code would be
    with multiprocessing.Pool(os.cpu_count() or 1) as pool:
        for (spec_kind, _, _), (kind, data) in zip(specs, pool.imap(make_media, specs, chunksize=2), strict=True):
            for chunk in _filler(rng, mean_gap):
                writer.write(chunk)
            if writer.position + len(data) + (4 << 20) > target:
                break
            if rng.random() < DECOY_SHARE:
                writer.align(rng, SECTOR)
                writer.write(_decoy(rng))
                wanted.decoys += 1
            writer.align(rng, 4096 if rng.random() < 0.5 else SECTOR)
            aligned = kind in WEAK_KINDS or rng.random() >= UNALIGNED_SHARE
            if not aligned:
                writer.write(build.filler(rng, int(rng.integers(0, 256)) * 2 + 1, "text"))
            md5 = hashlib.md5(data).hexdigest()
            if spec_kind == "jpeg-camera" and rng.random() < FRAGMENTED_SHARE:
                split = len(data) // 2 // SECTOR * SECTOR
                at = writer.write(data[:split])
                writer.write(build.filler(rng, int(rng.integers(16, 512)) * SECTOR))
                writer.write(data[split:])
                wanted.planted.append(Planted(kind, at, len(data), md5, True, aligned))
            else:
                wanted.planted.append(Planted(kind, writer.write(data), len(data), md5, False, aligned))
    while writer.position < target:
        writer.write(build.filler(rng, min(8 << 20, target - writer.position), "zeros"))
    writer.close()
    wanted.size = writer.position
    wanted.save(marker)  # written last: an interrupted generation is redone, never half-reused
    print(f"  {len(wanted.planted)} files ({sum(p.fragmented for p in wanted.planted)} fragmented, "
          f"{sum(not p.aligned for p in wanted.planted)} at odd offsets), "
          f"{wanted.decoys} decoys, in {time.monotonic() - started:.0f} s")
    return wanted


# --------------------------------------------------------------------------- the contenders


@dataclass
class Outcome:
    name: str
    command: str
    timing: Timing | None = None
    found: Counter[str] = field(default_factory=Counter)  # planted whole files recovered exactly, by kind
    found_unaligned: int = 0  # of those, files planted at an odd offset
    furthest: int = 0  # end of the furthest planted file recovered: a tool that gave up early stops short
    fragments: int = 0  # fragmented planted files recovered exactly (expected: none)
    outputs: int = 0  # files (or valid runs) the tool produced
    unmatched: int = 0  # of those, ones that are no planted file
    bytes_out: int = 0
    unmatched_types: Counter[str] = field(default_factory=Counter)  # file extension (fieldlab: kind) of those

    @property
    def recovered(self) -> int:
        return sum(self.found.values())


def tally(outcome: Outcome, image: Image, outputs: Iterator[tuple[str, str, int]]) -> None:
    """Count a tool's outputs, each (md5, extension or kind, size), against the planted files."""
    by_md5 = {p.md5: p for p in image.planted}
    seen: set[str] = set()
    for md5, file_type, size in outputs:
        outcome.outputs += 1
        outcome.bytes_out += size
        planted = by_md5.get(md5)
        if planted is None:
            outcome.unmatched += 1
            outcome.unmatched_types[file_type] += 1
        elif md5 not in seen:
            seen.add(md5)
            if planted.fragmented:
                outcome.fragments += 1
            else:
                outcome.found[planted.kind] += 1
                outcome.found_unaligned += not planted.aligned
                outcome.furthest = max(outcome.furthest, planted.offset + planted.length)


TOOL_REPORTS = frozenset({"audit.txt", "report.xml"})  # foremost's and PhotoRec's own accounts of a run


def written_files(folder: Path) -> Iterator[tuple[str, str, int]]:
    for root, _, names in os.walk(folder):
        for name in names:
            if name in TOOL_REPORTS:
                continue
            with open(os.path.join(root, name), "rb") as handle:
                md5 = hashlib.file_digest(handle, "md5").hexdigest()
                yield md5, Path(name).suffix.lstrip(".") or "none", handle.tell()


def run_fieldlab(image_path: Path, size: int) -> tuple[list[CarvedRun], Timing]:
    runs: list[CarvedRun] = []

    def action() -> None:
        reader = build.FileReader(image_path)
        try:
            runs.extend(carve(reader, [(0, size)], alignment=SECTOR, validate=True))
        finally:
            reader.close()

    return runs, timed(action)


def valid_runs(image_path: Path, runs: list[CarvedRun]) -> Iterator[tuple[str, str, int]]:
    with open(image_path, "rb") as handle:
        for run in runs:
            if run.valid:
                pieces = (run.offset, run.length), *((run.second,) if run.second else ())
                data = b"".join(os.pread(handle.fileno(), length, offset) for offset, length in pieces)
                yield hashlib.md5(data).hexdigest(), run.kind, run.size


def run_tool(command: list[str], cwd: Path) -> Timing:
    def action() -> None:
        done = subprocess.run(command, cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True)
        if done.returncode != 0:
            sys.exit(f"BENCH FAILED: {' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")

    return timed(action)


def photorec_command(image_path: Path, out: Path) -> list[str]:
    families = ",".join(f"{family},enable" for family in PHOTOREC_FAMILIES)
    return ["photorec", "/log", "/d", str(out / "recup"), "/cmd", str(image_path),
            f"partition_none,options,paranoid,fileopt,everything,disable,{families},search"]


def tool_version(command: list[str]) -> str:
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    return (done.stdout + done.stderr).strip().splitlines()[0] if (done.stdout + done.stderr).strip() else "unknown"


def ensure_tools() -> None:
    missing = [tool for tool in ("foremost", "photorec") if shutil.which(tool) is None]
    if missing:
        print(f"Installing {', '.join(missing)} (apt-get install -y foremost testdisk) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "foremost", "testdisk"], check=True, stdout=subprocess.DEVNULL)


def warm(image_path: Path) -> None:
    with open(image_path, "rb", buffering=0) as handle:
        while handle.read(16 << 20):
            pass


# --------------------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="image size in GB (default 2)")
    parser.add_argument("--workdir", type=Path, default=BENCH / ".work" / "carve", help="image and tool outputs")
    parser.add_argument("--write-docs", action="store_true", help="write the results into docs/benchmarks.md")
    args = parser.parse_args()

    facts = machine_facts()
    ensure_tools()
    workdir = args.workdir.resolve()
    image = ensure_image(workdir, args.size_gb)
    image_path = workdir / "image.raw"
    outputs = workdir / "outputs"
    shutil.rmtree(outputs, ignore_errors=True)
    outputs.mkdir(parents=True)
    warm(image_path)
    load_before = load_average()

    contenders: list[Outcome] = []
    print("fieldlab carve() ...", end="", flush=True)
    fieldlab = Outcome("fieldlab carve()", "carve(reader, [(0, size)], alignment=512, validate=True)")
    runs, fieldlab.timing = run_fieldlab(image_path, image.size)
    tally(fieldlab, image, valid_runs(image_path, runs))
    contenders.append(fieldlab)
    print(f" {fieldlab.timing.wall:.1f} s", flush=True)

    for name, command_of in _peer_commands(image_path).items():
        out = outputs / name.split()[0] / ("quick" if "-q" in name else "default")
        out.parent.mkdir(parents=True, exist_ok=True)
        if name == "photorec":
            out.mkdir()  # PhotoRec makes OUT/recup.N, not OUT itself
            for leftover in ("photorec.ses", "photorec.log"):  # a session file would make it offer to resume
                (workdir / leftover).unlink(missing_ok=True)
        command = command_of(out)
        print(f"{name} ...", end="", flush=True)
        outcome = Outcome(name, " ".join(command).replace(str(workdir), "WORK"))
        outcome.timing = run_tool(command, workdir)
        tally(outcome, image, written_files(out))
        contenders.append(outcome)
        print(f" {outcome.timing.wall:.1f} s", flush=True)
    load_after = load_average()

    table, kinds_table = results_tables(image, contenders)
    print()
    print(table)
    print()
    print(kinds_table)
    verdicts = targets(image, contenders)
    print("\n" + "\n".join(verdicts))
    fragment_starts = {p.offset for p in image.planted if p.fragmented}
    invalid_or_partial = Counter(
        "first piece of a fragmented JPEG" if r.offset in fragment_starts else f"other ({(r.note or '').split(':')[0]})"
        for r in runs if not r.valid)
    print(f"\nfieldlab runs not valid: {dict(invalid_or_partial)}")
    if args.write_docs:
        versions = {"foremost": "foremost " + tool_version(["foremost", "-V"]),
                    "photorec": tool_version(["photorec", "/version"])}
        section = doc_section(args, facts, image, table, kinds_table, verdicts, versions, (load_before, load_after),
                              invalid_or_partial)
        replace_doc_section("bench/carve.py", section)
        print(f"Wrote the results to {(REPO / 'docs' / 'benchmarks.md').relative_to(REPO)}")


def _peer_commands(image_path: Path) -> dict[str, Callable[[Path], list[str]]]:
    return {
        "foremost": lambda out: ["foremost", "-t", FOREMOST_TYPES, "-i", str(image_path), "-o", str(out)],
        "foremost -q": lambda out: ["foremost", "-q", "-t", FOREMOST_TYPES, "-i", str(image_path), "-o", str(out)],
        "photorec": lambda out: photorec_command(image_path, out),
    }


def results_tables(image: Image, contenders: list[Outcome]) -> tuple[str, str]:
    whole, unaligned = len(image.whole), len(image.unaligned)
    fieldlab = contenders[0]
    rows = []
    for c in contenders:
        assert c.timing is not None
        rows.append([
            c.name, f"{c.timing.wall:.1f}", f"{c.timing.cpu:.1f}", f"{image.size / MB / c.timing.wall:,.0f}",
            f"{c.recovered} / {whole}", f"{c.recovered - c.found_unaligned} / {whole - unaligned}",
            f"{c.found_unaligned} / {unaligned}", f"{c.furthest / MB:,.0f}", f"{c.fragments}", f"{c.outputs:,}", f"{c.bytes_out / MB:,.0f}",
            f"{c.unmatched:,}", ", ".join(f"{n} {t}" for t, n in c.unmatched_types.most_common()) or "-",
            f"{c.timing.wall / fieldlab.timing.wall:.2f}x" if fieldlab.timing else "", f"{c.timing.others:.1f}",
        ])
    table = markdown_table(("Tool", "Wall s", "CPU s", "MB/s", "Whole planted files recovered (exact MD5)",
                            "of them on a sector", "at an odd offset", "Furthest found, MB",
                            "Fragmented recovered", "Files (fieldlab: valid runs) out", "MB out",
                            "Of those, no planted file", "by type", "Time vs fieldlab", "Others' CPU s"), rows)
    planted = Counter(p.kind for p in image.whole)
    kinds = sorted(planted)
    kind_rows = [[c.name, *(f"{c.found[k]}" for k in kinds)] for c in contenders]
    kinds_table = markdown_table(("Recovered whole, by kind", *kinds),
                                 [["planted", *(f"{planted[k]}" for k in kinds)], *kind_rows])
    return table, kinds_table


def targets(image: Image, contenders: list[Outcome]) -> list[str]:
    fieldlab, by_name = contenders[0], {c.name: c for c in contenders}
    photorec, foremost = by_name["photorec"], by_name["foremost"]
    assert fieldlab.timing and foremost.timing and by_name["foremost -q"].timing and photorec.timing
    aligned, unaligned = len(image.whole) - len(image.unaligned), len(image.unaligned)

    def on_sectors(c: Outcome) -> int:
        return c.recovered - c.found_unaligned

    return [
        f"- Recovery on sector boundaries: fieldlab {on_sectors(fieldlab)} of {aligned} whole planted files, PhotoRec "
        f"{on_sectors(photorec)} (targets: all of them, as the sector-aligned search found, and at least as many as "
        f"PhotoRec): **{'met' if on_sectors(fieldlab) == aligned >= on_sectors(photorec) else 'not met'}**.",
        f"- Recovery at odd offsets: fieldlab {fieldlab.found_unaligned} of {unaligned}, foremost "
        f"{foremost.found_unaligned}, foremost -q {by_name['foremost -q'].found_unaligned}, PhotoRec "
        f"{photorec.found_unaligned}.",
        f"- Recovery overall: fieldlab {fieldlab.recovered} whole planted files, PhotoRec {photorec.recovered} "
        f"(target: at least as many): **{'met' if fieldlab.recovered >= photorec.recovered else 'not met'}**.",
        f"- Speed: fieldlab {fieldlab.timing.wall:.1f} s, foremost {foremost.timing.wall:.1f} s "
        f"({foremost.timing.wall / fieldlab.timing.wall:.2f}x fieldlab's time; target: fieldlab at least as fast): "
        f"**{'met' if fieldlab.timing.wall <= foremost.timing.wall else 'not met'}**. foremost -q (sector "
        f"boundaries only) took {by_name['foremost -q'].timing.wall:.1f} s.",
        f"- CPU time: fieldlab {fieldlab.timing.cpu:.1f} s (decoding every picture it reports as valid), foremost "
        f"{foremost.timing.cpu:.1f} s, foremost -q {by_name['foremost -q'].timing.cpu:.1f} s, PhotoRec "
        f"{photorec.timing.cpu:.1f} s.",
    ]


def doc_section(args: argparse.Namespace, facts: MachineFacts, image: Image, table: str, kinds_table: str,
                verdicts: list[str], versions: dict[str, str], load: tuple[str, str],
                invalid: Counter[str]) -> str:
    command = ".venv/bin/python bench/carve.py" + (f" --size-gb {args.size_gb:g}" if args.size_gb != 2 else "") + \
        " --write-docs"
    fragmented = sum(p.fragmented for p in image.planted)
    media_share = sum(p.length for p in image.planted) / image.size
    invalid_text = ", ".join(f"{count} {note}" for note, count in invalid.most_common()) or "none"
    busy = float(load[0].split(" / ")[0]) > facts.nproc / 2
    under_load = (". **Measured under load** (others' work on the machine, the \"Others' CPU s\" column): the "
                  "times are noisy and the ratios only indicative." if busy else "")
    return f"""## Carving: fieldlab carve() vs foremost vs PhotoRec

Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `{command}`.

- Machine: `nproc` = {facts.nproc}, CPU `{facts.cpu_model}`, {facts.memory_gib:.1f} GiB RAM, Linux {facts.kernel}
- Python {facts.python}; fieldlab at commit `{facts.fieldlab_commit}`; {versions['foremost']}; {versions['photorec']}
- Load average (1/5/15 min) before the runs {load[0]}, after {load[1]}{under_load}

**Image** (generated, seed {image.seed}, `bench/.work/carve/image.raw`, {image.size / MB:,.0f} MB): filler of random
bytes, zeros and text between {len(image.planted)} planted media files on sector or 4 KiB boundaries, except
{len(image.unaligned)} whole files of the kinds with a strong signature (a quarter of them) that start at an odd byte
offset after a stretch of text ({media_share:.0%} of the bytes are media); {fragmented} of the camera JPEGs are fragmented (two pieces with filler between)
and counted apart, and {image.decoys} decoys (a JPEG or PNG header over garbage) sit on sector boundaries. All pictures are procedural and
the videos are a procedural picture panning (H.264 in MP4, MJPEG in AVI), made by `tests/detect/carve_builders.py`.

**Method.** The image was read once untimed so all tools start with it in the page cache; then each tool ran once,
one after another, each started once the machine was nearly idle. A planted file counts as recovered by a tool
only if the tool output its exact bytes (MD5); for fieldlab, which reports runs rather than writing files, the
valid runs are read back from the image and hashed outside the timed part, while foremost and PhotoRec write their
files (the "MB out" column) inside theirs, into the page cache of the same disk.

- fieldlab: `carve(reader, [(0, size)], alignment=512, max_file=256 MiB, validate=True)` over the whole image as
  one region, through a file-backed reader (`os.pread`): JPEG, PNG, GIF, RIFF and ISO `ftyp` headers are looked
  for at every byte, BMP and TIFF headers on sector boundaries only. JPEGs are validated by a 1/8-scale decode, other pictures
  by a full Pillow (or pillow-heif) decode, on {DECODE_THREADS} threads beside the scan; videos by their box or
  chunk walk. foremost and PhotoRec run on one core, so the CPU seconds are the like-for-like cost.
- foremost: `foremost -t {FOREMOST_TYPES} -i IMAGE -o OUT` (default: searches every byte), and the same with `-q`
  (headers on 512-byte boundaries only)
- PhotoRec: `photorec /log /d OUT/recup /cmd IMAGE partition_none,options,paranoid,fileopt,everything,disable,\
{",".join(f"{f},enable" for f in PHOTOREC_FAMILIES)},search` (whole image, paranoid checks on, only these families)

{table}

{kinds_table}

foremost has no TIFF, WebP or HEIC support in its built-in types, and runs without `mp4`: its mp4 handler ends
the whole run at the first ISO file it misreads (with it, nothing past 208 MB of the 500 MB image came out, in half
the time: a speed for 40% of the image). "Furthest found" is the end of the furthest planted file a tool recovered,
to show whether it covered the image. PhotoRec's `mov` family covers MP4 and HEIC and
`riff` covers AVI and WebP. fieldlab's runs reported as not valid: {invalid_text}.

**Against the targets.**
{chr(10).join(verdicts)}
"""


if __name__ == "__main__":
    main()
