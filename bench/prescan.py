#!/usr/bin/env python3
"""The sampling pre-scan against a full scan, on one generated 20 GB sparse disk image, in one run.

Why this exists: issue 11 asks for a verdict in minutes on disks too big to read whole.  ``fieldlab prescan``
reads random 4 KiB windows and matches them against block-hash sets; this measures how long it takes to find
planted known files that occupy a stated fraction of the disk, against ``fieldlab scan --no-perceptual --no-carve
--no-verify`` of the same image (the exact-hash verdict: walk the file system, read and hash every file), in the
same session.

The image (``--size-gb`` GB, fixed seed, generated once into ``bench/.work/prescan/`` and reused while its marker
file matches the parameters) is an MBR disk with one NTFS partition filling it, built by
``tests/evidence/disk_builders.py`` (``mkntfs -Q``, files written through libntfs-3g, the image kept sparse):

- known files: generated JPEGs (1024x768 to 2048x1536) under ``Users/alex/Downloads``, ``--known-mb`` MB in all;
- other pictures: generated JPEGs of other seeds under ``Users/alex/Pictures`` (not known);
- other files: ``--other-mb`` MB of pseudo-random bytes named as videos under ``Users/alex/Videos``;
- remnants: 8 runs of 16 MB of pseudo-random bytes written into free clusters spread over the volume, as old
  deleted data lies.

So the image is 20 GB but holds a few hundred MB of data, and the rest reads as zeros (holes).

The library (``bench/.work/prescan/home``) holds three block-hash sets, built with ``fieldlab hashset blocks``:
``known-all`` (every planted known file), ``known-tenth`` (one known file in ten: a tenth of the fraction) and
``absent`` (20 pictures that are not on the disk, for the clean-disk case), and one exact set (MD5/SHA-1 CSV of
the known files) for the full scan.

Runs, first with the image's pages evicted from the page cache before every run (``posix_fadvise(DONTNEED)``,
checked with ``fincore``: reads go to the virtual disk), then with the image in the page cache:

- full scan, ``--runs`` times, each into a fresh case, checked to report exactly the known files;
- ``fieldlab prescan --block-sets known-all --stop-on-match --seed S --json`` for ``--seeds`` seeds: the time to
  the first detection, as the process saw it (wall, start-up included) and as the pre-scan reports it (from its
  start of sampling); every match checked to be a block of a known file;
- the same with ``known-tenth``;
- ``fieldlab prescan --block-sets absent --confidence 0.95 --min-mib 1 --seed 1``: a clean verdict with its
  statement (no match allowed).

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/prescan.py [--size-gb 20] [--known-mb 20] [--other-mb 300] [--seeds 5] [--runs 2]
        [--workdir bench/.work/prescan] [--write-docs]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from multiprocessing import Pool
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

from scan_folder import (  # noqa: E402
    MachineFacts,
    Timing,
    fieldlab_executable,
    load_average,
    machine_facts,
    markdown_table,
    replace_doc_section,
    timed,
)

from fieldlab.demo import procedural_jpeg  # noqa: E402
from fieldlab.evidence.image import ImageSource  # noqa: E402
from tests.evidence.disk_builders import PlantedFile, build_disk  # noqa: E402

MB = 1_000_000
MIB = 1 << 20
SEED = 20261129
REMNANTS, REMNANT_MB = 8, 16
PICTURE_SIZES = ((1024, 768), (1600, 1200), (2048, 1536))


# --------------------------------------------------------------------------- the image


@dataclass
class Image:
    size_gb: float
    known_mb: float
    other_mb: float
    seed: int
    size: int = 0
    known: list[dict] = field(default_factory=list)  # {"name", "md5", "sha1", "size"}
    tenth: list[str] = field(default_factory=list)  # names of the known files in the known-tenth set
    pictures: int = 0
    picture_bytes: int = 0
    other_bytes: int = 0
    remnant_bytes: int = 0

    @property
    def known_bytes(self) -> int:
        return sum(k["size"] for k in self.known)

    def same_parameters(self, other: Image) -> bool:
        return (self.size_gb, self.known_mb, self.other_mb, self.seed) == (other.size_gb, other.known_mb,
                                                                           other.other_mb, other.seed)

    @classmethod
    def load(cls, marker: Path) -> Image | None:
        try:
            return cls(**json.loads(marker.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, marker: Path) -> None:
        marker.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")


def _jpeg(job: tuple[int, int, int]) -> bytes:
    seed, width, height = job
    return procedural_jpeg(seed, width, height, 88)


def _pictures(rng: np.random.Generator, first_seed: int, budget: int, pool: Pool) -> list[bytes]:
    jobs, total = [], 0
    while total < budget:
        width, height = PICTURE_SIZES[int(rng.integers(len(PICTURE_SIZES)))]
        jobs.append((first_seed + len(jobs), width, height))
        total += width * height // 7  # about the size these JPEGs come out at; the real total is reported
    return pool.map(_jpeg, jobs)


def ensure_image(workdir: Path, args: argparse.Namespace) -> Image:
    wanted = Image(args.size_gb, args.known_mb, args.other_mb, SEED)
    marker, path = workdir / "image.json", workdir / "evidence" / "image.raw"
    existing = Image.load(marker)
    if existing and existing.same_parameters(wanted) and path.exists() and (workdir / "reference").is_dir():
        return existing
    print(f"generating the {args.size_gb:g} GB image in {workdir} ...", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    with Pool() as pool:
        known = _pictures(rng, 1_000_000, int(args.known_mb * MB), pool)
        others = _pictures(rng, 2_000_000, int(args.known_mb * 3 * MB), pool)
        absent = pool.map(_jpeg, [(3_000_000 + n, 1600, 1200) for n in range(20)])
    planted = [PlantedFile(f"Users/alex/Downloads/img_{n:04d}.jpg", data) for n, data in enumerate(known)]
    planted += [PlantedFile(f"Users/alex/Pictures/2019/IMG_{n:04d}.JPG", data) for n, data in enumerate(others)]
    video_size = 20 * MB
    videos = max(1, round(args.other_mb * MB / video_size))
    planted += [PlantedFile(f"Users/alex/Videos/clip_{n:02d}.mp4", rng.bytes(video_size)) for n in range(videos)]
    partition_mib = int(args.size_gb * 1e9) // MIB - 3  # 1 MiB before the partition, 2 MiB of gap after it
    disk = build_disk(path, "mbr", [("ntfs", partition_mib, planted)])
    remnant_bytes = _write_remnants(path, disk.size, rng)

    image = Image(args.size_gb, args.known_mb, args.other_mb, SEED, disk.size, pictures=len(others),
                  picture_bytes=sum(map(len, others)), other_bytes=videos * video_size, remnant_bytes=remnant_bytes)
    reference = workdir / "reference"
    for n, data in enumerate(known):
        name = f"img_{n:04d}.jpg"
        image.known.append({"name": name, "md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
                            "size": len(data)})
        _write(reference / "all" / name, data)
        if n % 10 == 0:
            _write(reference / "tenth" / name, data)
            image.tenth.append(name)
    for n, data in enumerate(absent):
        _write(reference / "absent" / f"absent_{n:02d}.jpg", data)
    (workdir / "exact.csv").write_text("md5,sha1,category\n" + "".join(f"{k['md5']},{k['sha1']},A\n"
                                                                     for k in image.known), encoding="utf-8")
    image.save(marker)
    return image


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_remnants(path: Path, disk_size: int, rng: np.random.Generator) -> int:
    """Random data in free clusters near REMNANTS evenly spread offsets: what deleted files leave behind."""
    source = ImageSource(path)
    try:
        runs = [run for run in source.unallocated_regions() if run[1] >= REMNANT_MB * MB + 8192]
    finally:
        source.close()
    length = REMNANT_MB * MB // 4096 * 4096

    def nearest_in(run: tuple[int, int], target: int) -> int:
        low, high = -(-run[0] // 4096) * 4096, (run[0] + run[1] - length) // 4096 * 4096
        return min(max(target, low), high)

    with open(path, "r+b") as disk:
        for n in range(1, REMNANTS + 1):
            target = disk_size * n // (REMNANTS + 1)
            disk.seek(min((nearest_in(run, target) for run in runs), key=lambda offset: abs(offset - target)))
            disk.write(rng.bytes(length))
    return REMNANTS * length


# --------------------------------------------------------------------------- the library


def ensure_library(fieldlab: str, workdir: Path, env: dict[str, str]) -> dict[str, dict]:
    """Block-hash sets and the exact set, built through the CLI; each block set's figures from ``hashset list``."""
    home = Path(env["FIELDLAB_HOME"])
    shutil.rmtree(home, ignore_errors=True)
    for name in ("all", "tenth", "absent"):
        set_name = "absent" if name == "absent" else f"known-{name}"
        run([fieldlab, "hashset", "blocks", str(workdir / "reference" / name), "--name", set_name, "--category",
             "A"], env)
    run([fieldlab, "hashset", "import", str(workdir / "exact.csv"), "--name", "exact"], env)
    figures = {}
    for set_name in ("known-all", "known-tenth", "absent"):
        stats = json.loads((home / "hashsets" / set_name / "blocks.json").read_text(encoding="utf-8"))
        figures[set_name] = stats
    return figures


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"BENCH FAILED: {' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# --------------------------------------------------------------------------- the runs


def evict(path: Path) -> float:
    """Drop the image's pages from the page cache; the share of it still resident afterwards (0 when all gone)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return resident(path)


def resident(path: Path) -> float:
    done = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                          capture_output=True, text=True, check=False)
    try:
        return int(done.stdout.split()[0]) / path.stat().st_size
    except (IndexError, ValueError):
        return float("nan")


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as handle:
        while handle.read(16 << 20):
            pass


@dataclass
class ScanRun:
    timing: Timing
    hits: int


@dataclass
class PrescanRun:
    timing: Timing
    first_match: float | None  # seconds from the start of sampling, as the pre-scan reports it
    first_match_window: int | None  # windows drawn until the first matching one, included
    blocks_read: int
    zero_blocks: int
    matches: int
    probability: float
    statement: str


def full_scan(fieldlab: str, image_path: Path, cases: Path, env: dict[str, str], image: Image) -> ScanRun:
    case = cases / "scan"
    shutil.rmtree(case, ignore_errors=True)
    command = [fieldlab, "scan", str(image_path), "--case", str(case), "--exhibit", "BENCH", "--no-live",
               "--no-perceptual", "--no-carve", "--no-verify"]
    timing = timed(lambda: run(command, env))
    hits_file = case / "hits.json"
    run([fieldlab, "hits", str(case), "--format", "json", "--output", str(hits_file)], env)
    names = {row["path"].rsplit("/", 1)[-1] for row in json.loads(hits_file.read_text(encoding="utf-8"))}
    expected = {k["name"] for k in image.known}
    if names != expected:
        sys.exit(f"BENCH FAILED: the full scan reported {len(names)} known files, {len(expected)} are planted")
    shutil.rmtree(case, ignore_errors=True)
    return ScanRun(timing, len(names))


def prescan(fieldlab: str, image_path: Path, env: dict[str, str], options: list[str], allowed: set[str]) -> PrescanRun:
    command = [fieldlab, "prescan", str(image_path), "--json", "--minutes", "10", *options]
    output: list[str] = []
    timing = timed(lambda: output.append(run(command, env)))
    result = json.loads(output[0])
    wrong = {m["file_name"] for m in result["matches"]} - allowed
    if wrong:
        sys.exit(f"BENCH FAILED: the pre-scan matched blocks of files not on the disk: {sorted(wrong)[:5]}")
    return PrescanRun(timing, result["first_match_seconds"], result["first_match_window"], result["blocks_read"],
                      result["zero_blocks"], len(result["matches"]), result["statement"]["probability"],
                      result["statement_text"])


@dataclass
class Round:
    cache: str
    scans: list[ScanRun] = field(default_factory=list)
    first_detection: dict[str, list[PrescanRun]] = field(default_factory=dict)
    clean: PrescanRun | None = None
    resident_before: list[float] = field(default_factory=list)


def one_round(cache: str, fieldlab: str, image_path: Path, workdir: Path, env: dict[str, str], image: Image,
              args: argparse.Namespace) -> Round:
    outcome = Round(cache)

    def prepare() -> None:
        if cache == "cold":
            outcome.resident_before.append(evict(image_path))

    if cache == "warm":
        warm(image_path)
        outcome.resident_before.append(resident(image_path))
    for _ in range(args.runs):
        prepare()
        print(f"[{cache}] full scan ...", end="", flush=True)
        outcome.scans.append(full_scan(fieldlab, image_path, workdir / "cases", env, image))
        print(f" {outcome.scans[-1].timing.wall:.1f} s", flush=True)
    for set_name, allowed in (("known-all", {k["name"] for k in image.known}), ("known-tenth", set(image.tenth))):
        runs = outcome.first_detection.setdefault(set_name, [])
        for seed in range(1, args.seeds + 1):
            prepare()
            runs.append(prescan(fieldlab, image_path, env, ["--block-sets", set_name, "--stop-on-match", "--seed",
                                                            str(seed)], allowed))
            if runs[-1].first_match is None:
                sys.exit(f"BENCH FAILED: the pre-scan with {set_name}, seed {seed}, found nothing")
            print(f"[{cache}] prescan {set_name} seed {seed}: first match after {runs[-1].first_match:.2f} s, "
                  f"at window {runs[-1].first_match_window:,}, wall {runs[-1].timing.wall:.2f} s", flush=True)
    prepare()
    outcome.clean = prescan(fieldlab, image_path, env, ["--block-sets", "absent", "--confidence", "0.95",
                                                        "--min-mib", "1", "--seed", "1"], set())
    if outcome.clean.matches:
        sys.exit("BENCH FAILED: the pre-scan matched a set of pictures that are not on the disk")
    print(f"[{cache}] prescan absent to 95% for 1 MiB: {outcome.clean.timing.wall:.1f} s, "
          f"{outcome.clean.blocks_read:,} blocks", flush=True)
    return outcome


# --------------------------------------------------------------------------- the report


def results_table(rounds: list[Round], image: Image, sets: dict[str, dict]) -> str:
    rows = []
    for outcome in rounds:
        scan_wall = statistics.median(s.timing.wall for s in outcome.scans)
        rows.append([outcome.cache, "full scan (exact hashes, every file)",
                     " / ".join(f"{s.timing.wall:.2f}" for s in outcome.scans), f"{scan_wall:.2f}", "-", "-", "1.00x"])
        for set_name, runs in outcome.first_detection.items():
            wall = statistics.median(r.timing.wall for r in runs)
            sampled = statistics.median(r.first_match for r in runs if r.first_match is not None)
            blocks = statistics.median(r.first_match_window for r in runs if r.first_match_window is not None)
            share = _known_share(image, set_name, sets)
            rows.append([outcome.cache, f"prescan `{set_name}` to first match ({share:.3%} of the disk known)",
                         " / ".join(f"{r.timing.wall:.2f}" for r in runs), f"{wall:.2f}", f"{sampled:.2f}",
                         f"{blocks:,.0f}", f"{scan_wall / wall:.1f}x"])
        assert outcome.clean is not None
        rows.append([outcome.cache, "prescan `absent` to 95% for 1 MiB (clean verdict)",
                     f"{outcome.clean.timing.wall:.2f}", f"{outcome.clean.timing.wall:.2f}", "-",
                     f"{outcome.clean.blocks_read:,}", f"{scan_wall / outcome.clean.timing.wall:.1f}x"])
    return markdown_table(("Cache", "Run", "Wall s (each run)", "Median wall s", "Median s to first match (in the "
                           "pre-scan)", "Median windows read to the first match (clean: all read)",
                           "Full scan wall / this wall"), rows)


def _known_share(image: Image, set_name: str, sets: dict[str, dict]) -> float:
    total = sets[set_name]["total_bytes"]
    return total / image.size


def startup_seconds(fieldlab: str, env: dict[str, str]) -> float:
    """Wall time of ``fieldlab --help``: the Python start-up and imports every command pays."""
    return statistics.median(timed(lambda: run([fieldlab, "--help"], env)).wall for _ in range(3))


def doc_section(args: argparse.Namespace, facts: MachineFacts, image: Image, sets: dict[str, dict], table: str,
                rounds: list[Round], load: tuple[str, str], startup: float) -> str:
    command = ".venv/bin/python bench/prescan.py" + "".join(
        f" --{name.replace('_', '-')} {getattr(args, name):g}" for name, default in
        (("size_gb", 20), ("known_mb", 20), ("other_mb", 300), ("seeds", 5), ("runs", 2))
        if getattr(args, name) != default) + " --write-docs"
    set_rows = [[name, f"{s['files']:,}", f"{s['total_bytes'] / MB:,.1f}", f"{s['unique']:,}",
                 f"{s['low_entropy']:,}", f"{s['common']:,}", f"{100 * s['kept'] * 4096 / s['total_bytes']:.1f}%",
                 f"{s['total_bytes'] / image.size:.4%}" if name != "absent" else "not on the disk"]
                for name, s in sets.items()]
    sets_table = markdown_table(("Block set", "Files", "MB", "Blocks kept", "Low-entropy", "Common",
                                 "Kept fraction", "Share of the disk"), set_rows)
    cold = next(r for r in rounds if r.cache == "cold")
    clean_statement = cold.clean.statement if cold.clean else ""
    clean_zero = cold.clean.zero_blocks / cold.clean.blocks_read if cold.clean and cold.clean.blocks_read else 0.0
    expected = {name: image.size / 4096 / (sets[name]["kept"]) for name in ("known-all", "known-tenth")}
    evicted = max(cold.resident_before) if cold.resident_before else float("nan")
    files_mb = (image.known_bytes + image.picture_bytes + image.other_bytes) / MB
    return f"""## Sampling pre-scan vs full scan on a 20 GB disk image

Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `{command}`.

- Machine: `nproc` = {facts.nproc}, CPU `{facts.cpu_model}`, {facts.memory_gib:.1f} GiB RAM, Linux {facts.kernel}
- Python {facts.python}; fieldlab at commit `{facts.fieldlab_commit}`
- Load average (1/5/15 min) before the runs {load[0]}, after {load[1]}

**Image** (generated, seed {image.seed}, `bench/.work/prescan/evidence/image.raw`, {image.size / 1e9:,.2f} GB, sparse): MBR,
one NTFS partition (4 KiB clusters, at 1 MiB) filling the disk, made by `tests/evidence/disk_builders.py`. It holds
{len(image.known)} known JPEGs ({image.known_bytes / MB:,.1f} MB, {image.known_bytes / image.size:.3%} of the disk)
under `Users/alex/Downloads`, {image.pictures} other generated JPEGs ({image.picture_bytes / MB:,.1f} MB), {image.other_bytes / MB:,.0f} MB of
pseudo-random "videos", and {REMNANTS} runs of {REMNANT_MB} MB of pseudo-random remnants in free clusters spread over
the volume; the rest of the 20 GB was never written and reads as zeros. The full scan reads the allocated files
only ({files_mb:,.0f} MB), not the 20 GB.

{sets_table}

**Method.** Both contenders run as `fieldlab` processes (start-up included in "wall"), one after another, each
started once the machine was nearly idle. First *cold*: before every run the image's pages were evicted from the
page cache with `posix_fadvise(POSIX_FADV_DONTNEED)` (at most {evicted:.1%} of the image resident afterwards, by
`fincore`), so reads reach the virtual disk; then *warm*: the image read once, its data in the page cache.

- full scan: `fieldlab scan IMAGE --case <fresh> --exhibit BENCH --no-live --no-perceptual --no-carve --no-verify`
  with the exact set (MD5/SHA-1 of the known files); each run checked to report exactly the {len(image.known)}
  known files. `--no-verify` because verifying a raw image's hash reads all 20 GB after the verdict.
- pre-scan to the first match: `fieldlab prescan IMAGE --block-sets SET --stop-on-match --seed S --json` for seeds
  1-{args.seeds}; every match checked to be a block of a planted known file. "s to first match" is the pre-scan's
  own clock, from its first read (the wall adds Python start-up, opening the image and the sets).
- clean verdict: `fieldlab prescan IMAGE --block-sets absent --confidence 0.95 --min-mib 1 --seed 1` (no picture of
  that set is on the disk; no match allowed). Its statement: "{clean_statement}"

{table}

Every wall includes {startup:.2f} s of Python start-up and imports (the median wall of `fieldlab --help`), which is
most of a pre-scan's wall here. Of the windows the clean run read, {clean_zero:.1%} were zeros (never written): they
are recognised by one comparison and not hashed, so on a full disk each window costs a hash more (5.8 µs a phase).

The time to a first match is random: with k matchable windows among N, the number of windows read until the first
hit has mean about N/k (geometric; here {expected['known-all']:,.0f} windows for `known-all` and
{expected['known-tenth']:,.0f} for `known-tenth`), so single runs spread widely; the median of the seeds is shown with
every run.
The full scan's time grows with the data the file systems hold (here {files_mb:,.0f} MB of files); the
pre-scan's time to a match depends on the share of the disk that is known material, not on the disk's size, and
its time to a clean statement on the number of windows the statement needs (see `docs/prescan.md`).
"""


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=20.0, help="image size in GB (default 20)")
    parser.add_argument("--known-mb", type=float, default=20.0, help="MB of known files planted (default 20)")
    parser.add_argument("--other-mb", type=float, default=300.0, help="MB of other files planted (default 300)")
    parser.add_argument("--seeds", type=int, default=5, help="pre-scan runs (seeds) per block set (default 5)")
    parser.add_argument("--runs", type=int, default=2, help="full scans per cache state (default 2)")
    parser.add_argument("--workdir", type=Path, default=BENCH / ".work" / "prescan", help="image, library, cases")
    parser.add_argument("--write-docs", action="store_true", help="write the results into docs/benchmarks.md")
    args = parser.parse_args()

    facts = machine_facts()
    fieldlab = fieldlab_executable()
    workdir = args.workdir.resolve()
    image = ensure_image(workdir, args)
    image_path = workdir / "evidence" / "image.raw"
    env = {**os.environ, "FIELDLAB_HOME": str(workdir / "home")}
    sets = ensure_library(fieldlab, workdir, env)
    startup = startup_seconds(fieldlab, env)
    load_before = load_average()
    rounds = [one_round(cache, fieldlab, image_path, workdir, env, image, args) for cache in ("cold", "warm")]
    load_after = load_average()
    table = results_table(rounds, image, sets)
    print()
    print(table)
    if args.write_docs:
        replace_doc_section("bench/prescan.py", doc_section(args, facts, image, sets, table, rounds,
                                                            (load_before, load_after), startup))
        print(f"Wrote the results to {(REPO / 'docs' / 'benchmarks.md').relative_to(REPO)}")


if __name__ == "__main__":
    main()
