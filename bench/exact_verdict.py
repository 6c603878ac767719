#!/usr/bin/env python3
"""Do the default scan's later stages delay the exact verdict?  A seized laptop's E01, each scan stopped at it.

Issue 17 asks that the time to the exact verdict (walk complete, every listed
item read) be unchanged by the stages a default scan adds: embedded media,
carving, perceptual hashing and the image's background verification.  The
full ``bench/seized_disk.py`` run measures it once per size beside everything
else, in 30+ minutes; this measures only that milestone, alternating the scans
round by round so a drift of the machine hits every variant alike, and stops
each scan once the milestone is in its case database.  Variants: ``exact`` (the
four ``--no-`` options of the exact-only scan), ``default``, and the default
without one stage (``noverify``, ``noembed``, ``nocarve``) to say which stage
costs what.  The disk, its E01 and the known set are ``bench/seized_disk.py``'s
(built there if missing); the E01's pages are evicted before every scan.  Each process's peak PSS is sampled too
(the main process, and the others by size: the walker, which keeps the MFT's chunks, is the largest), to show
where a scan's memory goes as the disk grows.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/exact_verdict.py [--size 20] [--runs 2] [--variants exact,default,noverify,noembed]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seized_disk import (  # noqa: E402 - the shared helpers live beside this script
    FIELDLAB_EXACT,
    HASHSET_ENTRIES,
    REPO,
    SAMPLE_EVERY,
    KnownFile,
    _group_members,
    _memory,
    _note_milestones,
    ensure_disk,
    evict_all,
    fieldlab_executable,
    import_hashset,
    load_average,
    machine_facts,
    markdown_table,
    wait_for_quiet,
    write_hashset,
)

VARIANTS = {
    "exact": FIELDLAB_EXACT,
    "default": (),
    "noverify": ("--no-verify",),
    "noembed": ("--no-embedded",),
    "nocarve": ("--no-carve",),
}
MAX_SECONDS = 3600.0
MIB = 1 << 20  # a scan that has not reached its exact verdict by then is a failed run


def time_to_verdict(fieldlab: str, e01: Path, segments: list[Path], case_dir: Path, env: dict[str, str],
                    options: tuple[str, ...]) -> tuple[float, int, list[int]]:
    """Seconds to the exact verdict of one scan, stopped there; the main process's peak PSS and the other processes'
    (largest first), in bytes."""
    shutil.rmtree(case_dir, ignore_errors=True)
    os.sync()
    evict_all(segments)
    database = case_dir / "case.sqlite"
    marks: dict[str, float] = {}
    peaks: dict[int, int] = {}
    started = time.perf_counter()
    with open(case_dir.parent / f"{case_dir.name}.log", "wb") as log:
        process = subprocess.Popen([fieldlab, "scan", str(e01), "--case", str(case_dir), "--exhibit", "LAPTOP",
                                    "--no-live", *options], env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            while "exact verdict" not in marks:
                now = time.perf_counter() - started
                if process.poll() is not None:
                    _note_milestones(database, marks, now)
                    if "exact verdict" not in marks:
                        sys.exit(f"BENCH FAILED: the scan ended ({process.returncode}) before its exact verdict")
                    break
                if now > MAX_SECONDS:
                    sys.exit(f"BENCH FAILED: no exact verdict after {MAX_SECONDS:.0f} s")
                _note_milestones(database, marks, now)
                for pid in _group_members(process.pid):
                    peaks[pid] = max(peaks.get(pid, 0), _memory(pid)[1])
                time.sleep(SAMPLE_EVERY)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()
    shutil.rmtree(case_dir, ignore_errors=True)
    main = peaks.pop(process.pid, 0)
    return marks["exact verdict"], main, sorted(peaks.values(), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=float, default=20.0, help="disk size in GiB (default 20)")
    parser.add_argument("--runs", type=int, default=2, help="rounds (median reported)")
    parser.add_argument("--variants", default="exact,default,noverify,noembed",
                        help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work" / "seized-disk")
    parser.add_argument("--max-wait", type=float, default=60.0,
                        help="seconds to wait before each scan for the load to fall under 1 (default 60)")
    args = parser.parse_args()
    variants = args.variants.split(",")
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    facts = machine_facts()
    workdir = args.workdir.resolve()
    e01, disk = ensure_disk(workdir, args.size)
    segments = [e01.parent / name for name in disk.e01_segments]
    env = {**os.environ, "FIELDLAB_HOME": str(workdir / f"library-{args.size:g}gib"), "FIELDLAB_EXAMINER": "bench"}
    fieldlab = fieldlab_executable()
    hashset_csv = workdir / f"hashset-{args.size:g}gib.csv"
    known = [KnownFile(p.path, p.md5, p.sha1) for p in disk.planted + disk.in_archives + disk.in_free_space]
    write_hashset(hashset_csv, known, HASHSET_ENTRIES)
    import_hashset(fieldlab, hashset_csv, env, HASHSET_ENTRIES)
    load_before = load_average()
    times: dict[str, list[float]] = {v: [] for v in variants}
    memory: dict[str, list[str]] = {v: [] for v in variants}
    for run in range(1, args.runs + 1):
        for variant in variants:
            wait_for_quiet(args.max_wait)
            verdict, main, others = time_to_verdict(fieldlab, e01, segments, workdir / "cases" / f"verdict-{variant}", env,
                                              VARIANTS[variant])
            times[variant].append(verdict)
            memory[variant].append(f"main {main / MIB:,.0f}, others {', '.join(f'{p / MIB:,.0f}' for p in others)}")
            print(f"round {run}, {variant}: exact verdict {verdict:.1f} s; peak PSS MiB: {memory[variant][-1]}",
                  flush=True)
    base = statistics.median(times[variants[0]])
    rows = [[variant, " ".join(f"{v:.1f}" for v in times[variant]), f"{statistics.median(times[variant]):.1f}",
             f"{statistics.median(times[variant]) / base - 1:+.1%}"] for variant in variants]
    print(f"\n{args.size:g} GiB E01, fieldlab at {facts.fieldlab_commit}; load average before {load_before}, "
          f"after {load_average()}\n")
    print(markdown_table(("Scan", "Exact verdict per round, s", "Median, s", f"Against {variants[0]}"), rows))
    print()
    print(markdown_table(("Scan", "Peak PSS per process, MiB, per round"),
                         [[variant, "; ".join(memory[variant])] for variant in variants]))


if __name__ == "__main__":
    main()
