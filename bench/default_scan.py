#!/usr/bin/env python3
"""The default scan against exact-only on a seized-disk E01, for this tree and, with ``--against SRC``, another
source tree (e.g. main before a change), runs interleaved so both see the same machine load.

Issue 17 asks for the default scan (PDQ, vPDQ, embedded media, carving, verification) to reach its exact verdict
when exact-only does, and its full verdict within 1.5x of the peer's exact-only time.  This reuses the E01 that
``bench/seized_disk.py`` built (read only, never rebuilt here) and its way of running and watching a scan (pages
evicted first; first hit and exact verdict sampled from the case database every 0.2 s; CPU of the process tree).
Cases and the hash-set library go to ``--workdir``, never beside the E01.  Prints one JSON line per run and the
medians; leaves docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seized_disk  # noqa: E402 - the E01, and how a scan is run and checked, are that benchmark's
from scan_folder import KnownFile, import_hashset, load_average, write_hashset  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MODES = {"exact": seized_disk.FIELDLAB_EXACT, "default": seized_disk.FIELDLAB_DEFAULT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--disks", type=Path, default=REPO / "bench" / ".work" / "seized-disk",
                        help="bench/seized_disk.py's work folder, holding disk-<size>gib.json and its E01")
    parser.add_argument("--size", default="1", help="the disk's size in GiB, as seized_disk.py named it (default 1)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fieldlab-default-scan"),
                        help="cases and hash-set libraries")
    parser.add_argument("--against", type=Path, help="another source tree (its src/ folder) to measure beside this one")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    marker = args.disks / f"disk-{args.size}gib.json"
    disk = seized_disk.SeizedDisk.load(marker)
    if disk is None:
        sys.exit(f"no seized disk at {marker}: build it with bench/seized_disk.py --build-only --sizes {args.size}")
    segments = [marker.parent / f"disk-{args.size}gib" / name for name in disk.e01_segments]
    trees = {"this tree": REPO / "src", **({"against": args.against} if args.against else {})}
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv = args.workdir / "hashset.csv"
    write_hashset(csv, [KnownFile(p.path, p.md5, p.sha1) for p in disk.planted + disk.in_archives + disk.in_free_space],
                  seized_disk.HASHSET_ENTRIES)
    fieldlab = seized_disk.fieldlab_executable()
    envs = {}
    for number, (label, src) in enumerate(trees.items()):
        home = args.workdir / f"library-{number}"
        envs[label] = {**os.environ, "PYTHONPATH": str(src), "FIELDLAB_HOME": str(home), "FIELDLAB_EXAMINER": "bench"}
        import_hashset(fieldlab, csv, envs[label], seized_disk.HASHSET_ENTRIES)
    runs: list[dict] = []
    for run in range(args.runs):
        for mode, options in MODES.items():
            for number, label in enumerate(trees):
                before = load_average()
                watched, facts = seized_disk.run_fieldlab(fieldlab, segments[0], segments,
                                                          args.workdir / "cases" / f"{number}-{mode}", envs[label],
                                                          options)
                if mode == "exact":
                    seized_disk.check_exact(facts, disk)
                else:
                    seized_disk.check_full(facts, disk)
                runs.append({"run": run, "tree": label, "mode": mode, "first_hit": watched.first_hit,
                             "exact_verdict": watched.exact_verdict, "wall": watched.wall, "cpu": watched.cpu,
                             "others_cpu": watched.others, "load_before": before, "load_after": load_average()})
                print(json.dumps(runs[-1]), flush=True)
    for label in trees:
        for mode in MODES:
            mine = [r for r in runs if r["tree"] == label and r["mode"] == mode]
            medians = {key: statistics.median(r[key] or 0.0 for r in mine)
                       for key in ("first_hit", "exact_verdict", "wall", "cpu", "others_cpu")}
            print(f"{label}, {mode}: " + ", ".join(f"{key} {value:.1f}" for key, value in medians.items()))


if __name__ == "__main__":
    main()
