#!/usr/bin/env python3
"""Where a scan of many small files leaves a core idle: each process's CPU over time.

Why this exists: on two cores the scan's main process (walk, case inserts) and its two readers share the machine,
and the wall time is lost in three places, each with its own cure: before the readers start (imports, the hash set,
the case), after they stop (what the main process does alone at the end), and in between, when the cores are not
both busy.  ``fieldlab scan`` runs on ``bench/many_files.py``'s tree, as that bench runs it, in its own process
group; every ``--every`` seconds this reads the user+system CPU ticks of every process in the group from
``/proc/PID/stat`` and the main thread's state (R running or runnable, S sleeping, D waiting for the disk).  The
page cache should be warm (run ``many_files.py`` first, or the tree once through ``cat``): a cold tree measures the
disk.

Usage (from the repository root, with the project's venv; the tree and the library are ``many_files.py``'s)::

    .venv/bin/python bench/scan_timeline.py [--count 1000000] [--runs 2] [--src OTHER/src] [--every 0.05]

Prints only; run it under the quiet lock when the figures are to be quoted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_folder import REPO, fieldlab_executable, load_average  # noqa: E402 - the shared helpers live beside this script

TICK = os.sysconf("SC_CLK_TCK")
BUSY = 0.2  # cores: the readers count as started (or stopped) once together above (below) this


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the scan started
    cpu: dict[int, float]  # CPU seconds so far, by process id
    main_state: str  # the main thread's: R, S, D


def _group_cpu(group: int) -> dict[int, float]:
    cpu = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        if int(fields[2]) == group:  # after "(comm)": state ppid pgrp ... utime (12th) stime (13th)
            cpu[int(name)] = (int(fields[11]) + int(fields[12])) / TICK
    return cpu


def _thread_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/task/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return "?"


def watch(command: list[str], env: dict[str, str], every: float) -> tuple[float, int, list[Sample]]:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    samples = []
    while process.poll() is None:
        samples.append(Sample(time.perf_counter() - started, _group_cpu(process.pid), _thread_state(process.pid)))
        time.sleep(every)
    if process.returncode != 0:
        sys.exit(f"BENCH FAILED: fieldlab scan exited {process.returncode}")
    return time.perf_counter() - started, process.pid, samples


def summary(wall: float, main: int, samples: list[Sample]) -> str:
    """Start, steady state and tail, from the CPU each process used between consecutive samples."""
    rates = []  # (at, main's cores, the readers' cores)
    for before, after in zip(samples, samples[1:]):
        span = after.at - before.at
        used = {pid: (cpu - before.cpu.get(pid, cpu)) / span for pid, cpu in after.cpu.items()}
        rates.append((after.at, used.get(main, 0.0), sum(v for pid, v in used.items() if pid != main)))
    reading = [at for at, _, readers in rates if readers > BUSY]
    if not reading:
        return f"wall {wall:.1f} s: the readers never got busy (too few samples?)"
    first, last = reading[0], reading[-1]
    steady = [(m, r) for at, m, r in rates if first + 0.5 < at < last - 0.5] or [(m, r) for _, m, r in rates]
    states = Counter(s.main_state for s in samples if first + 0.5 < s.at < last - 0.5)
    shares = ", ".join(f"{state} {count / max(1, sum(states.values())):.0%}" for state, count in states.most_common())
    seen: dict[int, float] = {}  # each process's CPU when last sampled: the readers exit before the main process
    for sample in samples:
        seen.update(sample.cpu)
    return (f"wall {wall:.1f} s; CPU s: main {seen.get(main, 0.0):.1f}, readers "
            f"{' + '.join(f'{v:.1f}' for pid, v in sorted(seen.items()) if pid != main)} (as last sampled); readers busy "
            f"from {first:.1f} to {last:.1f} s (start {first:.1f} s, tail {wall - last:.1f} s); steady state: "
            f"{sum(m + r for m, r in steady) / len(steady):.2f} cores busy, main {sum(m for m, _ in steady) / len(steady):.2f}; "
            f"main thread {shares}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="the many_files.py tree (default 1,000,000)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work", help="where many_files.py keeps it")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the fieldlab source tree to scan with")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between samples")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    tree, home = workdir / f"many-files-{args.count}", workdir / "many-files-library"
    if not (workdir / f"many-files-{args.count}.json").exists() or not home.exists():
        sys.exit(f"no tree or library for {args.count:,} files: run bench/many_files.py --count {args.count} first")
    env = {**os.environ, "FIELDLAB_HOME": str(home), "FIELDLAB_EXAMINER": "bench",
           "PYTHONPATH": os.pathsep.join([str(args.src.resolve()), os.environ.get("PYTHONPATH", "")])}
    case = workdir / f"timeline-case-{args.count}"
    command = [fieldlab_executable(), "scan", str(tree), "--case", str(case), "--exhibit", "MANY", "--no-live",
               "--no-perceptual", "--no-embedded"]
    print(f"{args.count:,} files, code from {args.src}, a sample every {args.every} s; load {load_average()}")
    for run in range(1, args.runs + 1):
        shutil.rmtree(case, ignore_errors=True)
        wall, main_pid, samples = watch(command, env, args.every)
        print(f"run {run}: {summary(wall, main_pid, samples)}", flush=True)
    shutil.rmtree(case, ignore_errors=True)


if __name__ == "__main__":
    main()
