#!/usr/bin/env python3
"""Exact-only scans of an E01 and of the same media as raw: wall and CPU time, and E01 chunks inflated per chunk touched.

Why this exists: issue 17 asks that an E01 scan run within 1.3x of the same media as a raw file, and that each
EWF chunk be inflated about once per scan.  Every process of the scan (the walk, each reader) inflates chunks
through its own cache (``evidence/ewf_chunks.py``); this script counts them across processes by starting the scan
with a ``sitecustomize`` that records the index of every chunk a process inflates, and reports inflations per
distinct chunk touched.  It also times inflating every deflated chunk of the image once, with libdeflate (what
``ewf_chunks`` uses) and with Python's zlib (and zlib-ng or ISA-L if installed): the floor of any E01 read path.  The raw file is made once with ``ewfexport -t`` beside the case folders and deleted at
the end.  Runs alternate E01 and raw; medians of ``--runs``, with the load average before each.

Usage (from the repository root)::

    .venv/bin/python bench/e01_chunk_reads.py E01 [--runs 3] [--workdir /tmp/e01-bench] [--src OTHER/src] [--keep]

``--src`` scans with another checkout's code (a before/after comparison); ``--keep`` keeps the raw copy for it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

import deflate
import numpy as np
import pyewf

from fieldlab.evidence.ewf_chunks import read_chunk_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scan_folder  # noqa: E402,F401 - its import keeps the scans' bytecode, as installed (measure_as_installed)

REPO = Path(__file__).resolve().parent.parent
SCAN_FLAGS = ["--no-perceptual", "--no-carve", "--no-embedded", "--no-verify", "--no-live"]
_COUNTER = '''
import os, struct
from fieldlab.evidence import ewf_chunks

_inflate = ewf_chunks.EwfChunkReader._inflate
_log = os.open(os.path.join(os.environ["FIELDLAB_BENCH_INFLATIONS"], "chunks.u32"),
               os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # forked readers write here too: each record names its process

def _counted(self, index, raw, deflated):
    os.write(_log, struct.pack("<II", os.getpid(), index))
    return _inflate(self, index, raw, deflated)

ewf_chunks.EwfChunkReader._inflate = _counted
'''


def scan(image: Path, case: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (this scan and all its processes) of one exact-only scan into a new case."""
    shutil.rmtree(case, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "fieldlab", "scan", str(image), "--case", str(case), *SCAN_FLAGS],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def inflations(folder: Path) -> tuple[int, int, dict[int, tuple[int, int]]]:
    """(chunks inflated, distinct chunks, per process: (inflated, distinct)) from the log in ``folder``."""
    records = np.fromfile(folder / "chunks.u32", dtype="<u4").reshape(-1, 2)
    chunks = records[:, 1]
    per_process = {int(pid): (int((records[:, 0] == pid).sum()), len(np.unique(chunks[records[:, 0] == pid])))
                   for pid in np.unique(records[:, 0])}
    return len(chunks), len(np.unique(chunks)), per_process


def inflate_times(image: Path) -> dict[str, float]:
    """CPU seconds to inflate every deflated chunk of the image once, by each inflater at hand (same bytes in, each
    result checked against libdeflate's)."""
    segments = pyewf.glob(str(image))
    handle = pyewf.handle()
    handle.open(segments)
    size, chunk = handle.get_media_size(), handle.get_chunk_size()
    table = read_chunk_table(segments, -(-size // chunk))
    files = [open(path, "rb") for path in segments]
    stored = []
    for index in np.flatnonzero(table.deflated).tolist():
        f = files[int(table.segment[index])]
        f.seek(int(table.offset[index]))
        stored.append(f.read(min(int(table.stored[index]), chunk + 1024)))
    inflaters = {"libdeflate": lambda raw: deflate.zlib_decompress(raw, chunk),
                 "zlib": lambda raw: zlib.decompressobj().decompress(raw, chunk)}
    try:
        from zlib_ng import zlib_ng
        inflaters["zlib-ng"] = lambda raw: zlib_ng.decompressobj().decompress(raw, chunk)
    except ImportError:
        pass
    try:
        from isal import isal_zlib
        inflaters["ISA-L"] = lambda raw: isal_zlib.decompressobj().decompress(raw, chunk)
    except ImportError:
        pass
    expected = [bytes(deflate.zlib_decompress(raw, chunk)) for raw in stored[:200]]
    times = {}
    for name, inflate in inflaters.items():
        if [bytes(inflate(raw)) for raw in stored[:200]] != expected:
            raise SystemExit(f"{name} inflates the chunks differently")
        started = time.process_time()
        for raw in stored:
            inflate(raw)
        times[name] = time.process_time() - started
    print(f"inflating all {len(stored):,} deflated chunks once: "
          + ", ".join(f"{name} {seconds:.2f} s ({seconds / max(len(stored), 1) * 1e6:.0f} us a chunk)"
                      for name, seconds in times.items()), flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/e01-bench"))
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the fieldlab source tree to scan with")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (the raw copy) for another run")
    args = parser.parse_args()
    inflate_times(args.image)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "raw" / "media.raw"  # in a folder of its own: no case folder may sit beside an image
    if not raw.exists():
        raw.parent.mkdir(exist_ok=True)
        subprocess.run(["ewfexport", "-u", "-q", "-t", str(raw.parent / "media"), "-f", "raw", str(args.image)], check=True,
                       stdout=subprocess.DEVNULL)
    hooks, counts = work / "hooks", work / "inflations"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(_COUNTER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(args.src), os.environ.get("PYTHONPATH", "")]))
    counted = dict(env, PYTHONPATH=os.pathsep.join([str(hooks), env["PYTHONPATH"]]), FIELDLAB_BENCH_INFLATIONS=str(counts))
    timings: dict[str, list[tuple[float, float, float]]] = {"E01": [], "raw": []}
    for _ in range(args.runs):
        for label, image in (("E01", args.image), ("raw", raw)):
            load = os.getloadavg()[0]
            wall, cpu = scan(image, work / "cases" / label, env)
            timings[label].append((wall, cpu, load))
            print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU, load {load:.2f}", flush=True)
    shutil.rmtree(counts, ignore_errors=True)
    counts.mkdir()
    scan(args.image, work / "cases" / "counted", counted)
    inflated, touched, per_process = inflations(counts)
    if args.runs:
        e01, plain = (statistics.median(t[0] for t in timings[k]) for k in ("E01", "raw"))
        cpu_e01, cpu_raw = (statistics.median(t[1] for t in timings[k]) for k in ("E01", "raw"))
        print(f"median E01 {e01:.1f} s wall / {cpu_e01:.1f} s CPU; raw {plain:.1f} s / {cpu_raw:.1f} s; "
              f"E01/raw {e01 / plain:.2f}x wall")
    print(f"chunks inflated {inflated:,}, distinct chunks touched {touched:,}: {inflated / max(touched, 1):.2f} each")
    for pid, (count, distinct) in sorted(per_process.items(), key=lambda p: -p[1][0]):
        print(f"  process {pid}: {count:,} inflated, {distinct:,} distinct")
    if not args.keep:
        shutil.rmtree(work)  # the raw copy of the media included


if __name__ == "__main__":
    main()
