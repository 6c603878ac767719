#!/usr/bin/env python3
"""A million small files: does ``fieldlab scan`` keep its memory bounded, and how many files a second does it read?

Why this exists: a seized phone backup or a browser cache holds millions of
tiny files, where per-file overhead (walk, open, database rows), not hashing,
sets the pace, and anything kept per file in memory grows until the machine
swaps.  The scan design promises memory bounded whatever the source size; this
measures it.  The fieldlab process tree (the main process and its reader
processes, all in one process group) is sampled every 0.2 s from /proc: the sum
of RSS (which counts pages the forked workers share with the parent once per
process, so it overstates), the sum of PSS (shared pages split fairly: the real
footprint) and the largest single RSS.  Progress is read from the case database
at each sample, so the samples at 25/50/75/100% of files read show whether memory
grows with the number of files.  hashdeep runs over the same tree first (the
untimed first run warms the page cache, the second is timed) as the peer figure.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/many_files.py [--count 1000000] [--workdir bench/.work] [--no-peer] [--keep]

The tree is generated once per --count (fixed seed) and reused while its marker file matches.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_folder import (  # noqa: E402 - the shared helpers live beside this script
    DOCS,
    MB,
    REPO,
    _busy_seconds,
    fieldlab_executable,
    import_hashset,
    load_average,
    machine_facts,
    markdown_table,
    replace_doc_section,
    run_checked,
    timed,
    wait_for_quiet,
    write_hashset,
)

SEED = 20240612
GENERATOR_VERSION = 1
SAMPLE_EVERY = 0.2  # seconds between RSS samples
FILES_PER_FOLDER = 100
PAGE = os.sysconf("SC_PAGE_SIZE")

# Where small files pile up on a real drive; the walk puts the first ones first, the last ones last.
TREE_TEMPLATES = (
    "Users/alex/AppData/Local/Chatly/Cache/Cache_Data/{a:02x}/{b:02x}",
    "Users/alex/Pictures/Thumbnails/{a:03d}/{b:02d}",
    "Users/alex/AppData/Roaming/Mail/Profiles/x7f3.default/ImapMail/{a:03d}/cur/{b:02d}",
    "Users/alex/Documents/Projects/site-{a:03d}/node_modules/pkg{b:03d}/lib",
    "Windows/WinSxS/amd64_component_{a:04d}_{b:02d}",
)


@dataclass(frozen=True)
class Tree:
    count: int
    seed: int
    generator: int
    bytes: int
    folders: int


def ensure_tree(root: Path, count: int) -> Tree:
    """``count`` files of 0-2 KB in nested folders, written with raw os calls (about 20-50 us a file)."""
    marker = root.parent / f"{root.name}.json"
    if marker.exists():
        try:
            tree = Tree(**json.loads(marker.read_text(encoding="utf-8")))
            if (tree.count, tree.seed, tree.generator) == (count, SEED, GENERATOR_VERSION):
                print(f"Reusing {count:,} files in {root}")
                return tree
        except (ValueError, TypeError):
            pass
    if root.exists():
        print(f"Removing the stale tree {root} ...", flush=True)
        shutil.rmtree(root)
    print(f"Creating {count:,} small files in {root} ...", flush=True)
    started = time.monotonic()
    rng = np.random.default_rng(SEED)
    pool = rng.bytes(64 << 20)  # file bodies are slices of this; an 8-byte serial makes each one distinct
    sizes = rng.integers(0, 2049, count)
    sizes[rng.random(count) < 0.03] = 0  # empty files are common (lock files, placeholders)
    offsets = rng.integers(0, len(pool) - 4096, count)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    total, folders, folder_fd = 0, 0, -1
    for index in range(count):
        if index % FILES_PER_FOLDER == 0:
            if folder_fd >= 0:
                os.close(folder_fd)
            leaf = index // FILES_PER_FOLDER
            template = TREE_TEMPLATES[leaf % len(TREE_TEMPLATES)]
            folder = root / template.format(a=(leaf // len(TREE_TEMPLATES)) // 64, b=(leaf // len(TREE_TEMPLATES)) % 64)
            folder.mkdir(parents=True, exist_ok=True)
            folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            folders += 1
        size = int(sizes[index])
        body = index.to_bytes(8, "little") + pool[int(offsets[index]) : int(offsets[index]) + size]
        fd = os.open(f"f{index:07d}", flags, 0o644, dir_fd=folder_fd)
        os.write(fd, body[:size])
        os.close(fd)
        total += size
        if index and index % 100_000 == 0:
            print(f"  {index:,} files ({time.monotonic() - started:.0f} s)", flush=True)
    if folder_fd >= 0:
        os.close(folder_fd)
    tree = Tree(count, SEED, GENERATOR_VERSION, total, folders)
    marker.write_text(json.dumps(asdict(tree)) + "\n", encoding="utf-8")
    print(f"  done: {count:,} files, {total / MB:,.0f} MB in {folders:,} folders, {time.monotonic() - started:.0f} s")
    return tree


# --------------------------------------------------------------------------- watching the process tree


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the scan started
    files_done: int
    processes: int
    rss_sum: int  # bytes
    pss_sum: int
    rss_max: int


def _group_members(group: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        if int(fields[2]) == group:  # fields after "(comm)": state ppid pgrp ...
            members.append(int(entry.name))
    return members


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes; (0, 0) for a process that has just exited."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            rss = int(statm.read().split()[1]) * PAGE
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return rss, int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0, 0


def _files_done(database: Path) -> int | None:
    """Files read so far, from the scan's own database; None before it exists.

    Workers are fed pending items in id order, so every item below the lowest
    pending id is read (give or take the few batches in flight).  Both look-ups
    are index seeks, cheap enough to ask at every sample.
    """
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1) as db:
            (listed,) = db.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()
            (first_pending,) = db.execute(
                "SELECT min(id) FROM items WHERE exhibit_id = 1 AND state = 'pending'"
            ).fetchone()
        return listed if first_pending is None else first_pending - 1
    except sqlite3.Error:
        return None


@dataclass(frozen=True)
class ScanRun:
    wall: float
    cpu: float  # user + system seconds of the scan's processes
    sampler_cpu: float  # what watching it cost
    others_cpu: float  # what the rest of the machine used meanwhile
    samples: list[Sample]


def _children_cpu_seconds() -> float:
    """CPU time of reaped children, grandchildren included once their own parent reaped them (the scan's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def watch_scan(command: list[str], env: dict[str, str], database: Path, log: Path) -> ScanRun:
    """Run the scan in its own process group and sample it every SAMPLE_EVERY seconds until it exits."""
    children_before, sampler_before, busy_before = _children_cpu_seconds(), time.process_time(), _busy_seconds()
    started = time.perf_counter()
    with open(log, "wb") as output:  # a file, not a pipe: a chatty scan must never block on a full pipe
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        samples: list[Sample] = []
        done = 0
        while process.poll() is None:
            now = time.perf_counter() - started
            done = _files_done(database) or done
            usage = [m for m in (_memory(pid) for pid in _group_members(process.pid)) if m[0]]
            if usage:
                samples.append(Sample(now, done, len(usage), sum(u[0] for u in usage), sum(u[1] for u in usage),
                                      max(u[0] for u in usage)))
            time.sleep(SAMPLE_EVERY)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"BENCH FAILED: fieldlab scan exited {process.returncode}:\n{tail}")
    sampler = time.process_time() - sampler_before
    scan_cpu = _children_cpu_seconds() - children_before
    others = max(0.0, _busy_seconds() - busy_before - sampler - scan_cpu)
    return ScanRun(wall, scan_cpu, sampler, others, samples)


def milestone_rows(samples: list[Sample], count: int) -> list[list[str]]:
    """For 25/50/75/100% of files read: the first sample at or past it, and the peak up to it."""
    rows = []
    for share in (0.25, 0.5, 0.75, 1.0):
        reached = [s for s in samples if s.files_done >= share * count]
        at = reached[0] if reached else samples[-1]  # the scan can finish between two samples
        before = [s for s in samples if s.at <= at.at]
        label = f"{share:.0%}" if reached else f"{share:.0%} (last sample: {at.files_done / count:.0%})"
        rows.append([
            label, f"{at.at:.0f}", f"{at.rss_sum / 2**20:,.0f}", f"{at.pss_sum / 2**20:,.0f}",
            f"{at.rss_max / 2**20:,.0f}", f"{max(s.rss_sum for s in before) / 2**20:,.0f}",
        ])
    return rows


def _growth(samples: list[Sample], count: int) -> str:
    """One sentence on whether memory grew with the files read, from the 25% and 75% samples (workers alive at both)."""
    quarter = next((s for s in samples if s.files_done >= 0.25 * count), None)
    three_quarters = next((s for s in samples if s.files_done >= 0.75 * count), None)
    if quarter is None or three_quarters is None or quarter is three_quarters:
        return "Too few samples between 25% and 75% of files read to judge memory growth."
    change = three_quarters.pss_sum / quarter.pss_sum - 1
    return (f"Between 25% and 75% of files read ({(0.5 * count):,.0f} files) the tree PSS went from "
            f"{quarter.pss_sum / 2**20:,.0f} to {three_quarters.pss_sum / 2**20:,.0f} MiB ({change:+.1%}) and the tree RSS "
            f"from {quarter.rss_sum / 2**20:,.0f} to {three_quarters.rss_sum / 2**20:,.0f} MiB.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="number of small files (default 1,000,000)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work", help="tree, library and case")
    parser.add_argument("--no-peer", action="store_true", help="skip the hashdeep runs")
    parser.add_argument("--keep", action="store_true", help="keep the case folder for inspection")
    parser.add_argument("--no-docs", action="store_true", help="print the results only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    machine = machine_facts()  # before anything runs: the code measured is the code as it is now
    workdir = args.workdir.resolve()
    root = workdir / f"many-files-{args.count}"
    tree = ensure_tree(root, args.count)

    fieldlab = fieldlab_executable()
    home = workdir / "many-files-library"
    env = {**os.environ, "FIELDLAB_HOME": str(home), "FIELDLAB_EXAMINER": "bench"}
    hashset_csv = workdir / "many-files-hashset.csv"
    write_hashset(hashset_csv, [], 100_000)  # random digests only: every file is matched, none is known
    import_hashset(fieldlab, hashset_csv, env)

    hashdeep_run = None
    if not args.no_peer:
        print("hashdeep, untimed (warms the page cache) ...", flush=True)
        hashdeep = ["hashdeep", "-c", "md5,sha1", "-r", str(root)]
        run_checked(hashdeep)
        print("hashdeep, timed ...", flush=True)
        hashdeep_run = timed(lambda: run_checked(hashdeep))
        print(f"  {hashdeep_run.wall:.1f} s, {args.count / hashdeep_run.wall:,.0f} files/s", flush=True)

    case_dir = workdir / f"many-files-case-{args.count}"
    shutil.rmtree(case_dir, ignore_errors=True)
    load_before = load_average()
    command = [fieldlab, "scan", str(root), "--case", str(case_dir), "--exhibit", "MANY", "--no-live", "--no-perceptual", "--no-embedded"]
    print(f"fieldlab scan of {args.count:,} files, sampling memory every {SAMPLE_EVERY} s ...", flush=True)
    quiet_limit = 60.0
    waited = wait_for_quiet(quiet_limit)
    run = watch_scan(command, env, case_dir / "case.sqlite", workdir / f"many-files-scan-{args.count}.log")
    wall, samples = run.wall, run.samples
    load_after = load_average()
    with sqlite3.connect(f"file:{case_dir / 'case.sqlite'}?mode=ro", uri=True) as db:
        states = dict(db.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall())
    if states.get("done") != args.count:
        sys.exit(f"BENCH FAILED: fieldlab item states {states}, expected {args.count:,} done")
    database_mb = sum(p.stat().st_size for p in case_dir.glob("case.sqlite*")) / MB
    if not args.keep:
        shutil.rmtree(case_dir)

    peak_rss = max(s.rss_sum for s in samples)
    peak_pss = max(s.pss_sum for s in samples)
    peak_single = max(s.rss_max for s in samples)
    processes = max(s.processes for s in samples)
    rows = [["fieldlab scan", f"{wall:.1f}", f"{args.count / wall:,.0f}", f"{tree.bytes / MB / wall:.1f}",
             f"{run.cpu:.1f}", f"{run.others_cpu:.1f}",
             f"{peak_rss / 2**20:,.0f}", f"{peak_pss / 2**20:,.0f}", f"{peak_single / 2**20:,.0f}"]]
    if hashdeep_run is not None:
        rows.append(["hashdeep -c md5,sha1 -r", f"{hashdeep_run.wall:.1f}", f"{args.count / hashdeep_run.wall:,.0f}",
                     f"{tree.bytes / MB / hashdeep_run.wall:.1f}", f"{hashdeep_run.cpu:.1f}",
                     f"{hashdeep_run.others:.1f}", "", "", ""])
    table = markdown_table(("Tool", "Wall (s)", "Files/s", "MB/s", "CPU s", "Others' CPU s", "Peak tree RSS (MiB)",
                            "Peak tree PSS (MiB)", "Peak single RSS (MiB)"), rows)
    milestones = markdown_table(("Files read", "At (s)", "Tree RSS (MiB)", "Tree PSS (MiB)", "Largest process RSS (MiB)",
                                 "Peak tree RSS so far (MiB)"), milestone_rows(samples, args.count))
    print()
    print(table)
    print()
    print(milestones)
    print(f"\n{len(samples)} samples (the sampler used {run.sampler_cpu:.1f} CPU s), up to {processes} processes; "
          f"case database {database_mb:,.0f} MB")
    growth = _growth(samples, args.count)
    print(growth)
    if args.no_docs:
        return
    command_text = ".venv/bin/python bench/many_files.py" + (f" --count {args.count}" if args.count != 1_000_000 else "")
    peer = ("hashdeep ran twice over the tree just before: the first run, untimed, warmed the page cache; the second "
            "is the figure below." if hashdeep_run is not None else "hashdeep was not run (--no-peer).")
    section = f"""## Many small files: memory and files per second

Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `{command_text}`.

{machine.as_markdown()}- Load average (1/5/15 min) before the scan {load_before}, after {load_after}

**Tree** (generated, seed {tree.seed}): {tree.count:,} files of 0-2 KB ({tree.bytes / MB:,.0f} MB; about 3% empty,
the rest distinct) in {tree.folders:,} folders of {FILES_PER_FOLDER}, 5-9 levels deep, under cache, thumbnail, mail,
node_modules and WinSxS paths. The library holds one 100,000-row CSV hash set of random digests, so every file is
matched and none is known.

**Method.** `fieldlab scan TREE --case <fresh empty folder> --exhibit MANY --no-live` runs in its own process group
({processes} processes at most: the main process and its reader processes), its compiled
bytecode kept as an installed fieldlab keeps it (`measure_as_installed` in bench/scan_folder.py; runs before
2026-12-07 11:00 UTC compiled its ~150 modules from source first: ~0.2 s, timed by hand). Every {SAMPLE_EVERY} s the bench sums
the RSS and the PSS of every process in the group from `/proc` and notes the largest single RSS ({len(samples)}
samples); RSS counts the pages forked workers share with the main process once per process, so the tree RSS
overstates and the tree PSS is the real footprint. At each sample it also reads from the case database (read-only,
WAL) how many files are read: every item below the lowest pending id. The sampling used {run.sampler_cpu:.1f} CPU s
of the {wall:.0f} s run, on the same {machine.nproc} cores; "others' CPU s" is what the rest of the machine used
meanwhile (from `/proc/stat`: other users' jobs and kernel threads); {
    "each tool started once the machine was nearly idle" if waited < quiet_limit else
    "the machine never became nearly idle (the bench gave up waiting after a minute), so the tools shared the cores "
    "with the other jobs counted there"}. {peer} The case database ended at {database_mb:,.0f} MB.

{table}

Memory as the scan went on (first sample at or past each share of files read; the reader processes have exited
by the 100% sample when it comes after the last batch):

{milestones}

**Reading.** {growth} fieldlab read {args.count / wall:,.0f} files/s{
    f", {hashdeep_run.wall / wall:.2f}x hashdeep's {args.count / hashdeep_run.wall:,.0f}" if hashdeep_run else ""}.
"""
    replace_doc_section("bench/many_files.py", section)
    print(f"Wrote the results to {DOCS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
