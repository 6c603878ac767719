#!/usr/bin/env python3
"""Start-up: how long ``fieldlab --help``, ``fieldlab summary CASE`` and ``fieldlab hits CASE`` take (issue 17 asks
for under 0.3 s), for this tree and, with ``--against SRC``, another source tree (e.g. main before a change), runs
interleaved so both see the same machine load.

Each command is run N times as a fresh ``python -m fieldlab`` process; wall time and CPU time (user + system, of
the child) are reported as medians. CPU time is the steadier figure on a shared machine: wall time includes waiting
for a core. The case is the demo case (``fieldlab demo``), built once in a temporary folder.

Figures go to docs/benchmarks.md between this script's markers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_folder import load_average, machine_facts, markdown_table, replace_doc_section  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def run_once(src: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``python -m fieldlab ARGS`` with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = os.times()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fieldlab", *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    parser.add_argument("--against", type=Path, help="another source tree (its src/ folder) to measure beside this one")
    parser.add_argument("--no-docs", action="store_true", help="print the figures, do not write docs/benchmarks.md")
    options = parser.parse_args()
    trees = {"this tree": REPO / "src"} | ({str(options.against): options.against} if options.against else {})
    with tempfile.TemporaryDirectory() as folder:
        demo = Path(folder) / "demo"
        run_once(REPO / "src", ["demo", str(demo)])
        commands = {"--help": ["--help"], "summary CASE": ["summary", str(demo / "case")],
                    "hits CASE": ["hits", str(demo / "case")]}
        load_before = load_average()
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(options.runs):
            for command, args in commands.items():
                for tree, src in trees.items():
                    times.setdefault((command, tree), []).append(run_once(src, args))
    rows = []
    for (command, tree), samples in times.items():
        rows.append([f"`fieldlab {command}`", tree, f"{statistics.median(w for w, _ in samples):.2f} s",
                     f"{statistics.median(c for _, c in samples):.2f} s", f"{min(c for _, c in samples):.2f} s"])
    facts = machine_facts()
    body = ("## Start-up: `fieldlab --help`, `summary`, `hits`\n\n"
            f"`python bench/startup.py --runs {options.runs}"
            + (f" --against {options.against}" if options.against else "") + "`; "
            f"{facts.nproc} cores ({facts.cpu_model}), Python {facts.python}, load average before "
            f"{load_before}, after {load_average()} (wall time on a loaded machine includes waiting for a core: "
            "CPU time is the steadier figure).\n\n"
            + markdown_table(["command", "tree", "wall (median)", "CPU (median)", "CPU (best)"], rows) + "\n")
    print(body)
    if not options.no_docs:
        replace_doc_section("bench/startup.py", body)


if __name__ == "__main__":
    main()
