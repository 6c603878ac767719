#!/usr/bin/env python3
"""One NTFS folder of many files: the walk (``ImageSource.walk()``) and a ``fieldlab scan --no-perceptual --no-carve
--no-embedded`` of a raw NTFS volume holding a flat folder of ``--files`` files, in a fresh process each.

Why this exists: The Sleuth Kit lists an NTFS folder in quadratic time (24 s for 160,000 files, and its orphan search
lists it again), so fieldlab lists large folders from their own index (``evidence/ntfs_index.py``).  The volume
(built once through libntfs-3g into ``bench/.work/ntfs-large-folder/``) holds ``flat/`` of ``--files`` files of
2,000 bytes and nothing else.  ``--src`` runs another checkout (main's, for the before figure).  Checks that every
file was listed.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/ntfs_large_folder.py [--files 160000] [--src OTHER/src] [--no-scan]

Prints only; the figures go into ``evidence/ntfs_index.py``'s docstring and docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from tests.evidence.disk_builders import _ntfs_volume  # noqa: E402 - after the path

sys.path.insert(0, str(REPO / "bench"))
import scan_folder  # noqa: E402,F401 - its import keeps the scans' bytecode, as installed (measure_as_installed)

WORK = REPO / "bench" / ".work" / "ntfs-large-folder"
_WALK = """
import sys, time
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item
started, cpu = time.perf_counter(), time.process_time()
listed = sum(1 for i in ImageSource(sys.argv[1]).walk() if isinstance(i, Item) and i.path.startswith("flat/"))
print(listed, time.perf_counter() - started, time.process_time() - cpu)
"""


def build(files: int) -> Path:
    image = WORK / f"flat-{files}.img"
    if image.exists():
        return image
    WORK.mkdir(parents=True, exist_ok=True)
    partial = image.with_suffix(".partial")
    with partial.open("wb") as raw:
        raw.truncate(max(256, files // 100) << 20)
    subprocess.run(["mkntfs", "-F", "-f", "-Q", "-q", str(partial)], check=True, capture_output=True)
    with _ntfs_volume(partial) as volume:
        volume.make_folders("flat/x")
        for n in range(files):
            volume.write_file(f"flat/f{n:07d}.jpg", b"x" * 2000, {})
    partial.rename(image)
    return image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=160_000)
    parser.add_argument("--src", type=Path, default=REPO / "src")
    parser.add_argument("--no-scan", action="store_true")
    args = parser.parse_args()
    image = build(args.files)
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", _WALK, str(image)], env=env, check=True, capture_output=True,
                         text=True).stdout.split()
    listed, wall, cpu = int(out[0]), float(out[1]), float(out[2])
    print(f"{args.src}: walk of {args.files:,} files: {wall:.1f} s wall, {cpu:.1f} s CPU (load {load:.1f})")
    if listed != args.files:
        print(f"BENCH FAILED: the walk listed {listed:,} of {args.files:,} files")
        return 1
    if not args.no_scan:
        with tempfile.TemporaryDirectory(dir=WORK) as case:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fieldlab", "scan", str(image), "--case", case, "--no-perceptual",
                            "--no-carve", "--no-embedded"], env=env, check=True, capture_output=True)
            print(f"{args.src}: fieldlab scan: {time.perf_counter() - started:.1f} s wall "
                  f"(load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
