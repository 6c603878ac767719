#!/usr/bin/env python3
"""Start-up: how long ``fieldlab --help``, ``fieldlab summary CASE`` and ``fieldlab hits CASE`` take (issue 17 asks
for under 0.3 s), and how soon ``fieldlab serve CASE`` answers (issue 17: within 1 s of start), for this tree and,
with ``--against SRC``, another source tree (e.g. main before a change), runs interleaved so both see the same
machine load.

Each command is run N times as a fresh ``python -m fieldlab`` process; wall time and CPU time (user + system, of
the child) are reported as medians. CPU time is the steadier figure on a shared machine: wall time includes waiting
for a core. The case is the demo case (``fieldlab demo``), built once in a temporary folder.

The review server is started on a free port and its main page (``/``, which sends a browser without a session to the
login page) asked for every 10 ms until it answers 200: the wall time is from starting the process to that answer,
the CPU time the server process's own at that moment (from ``/proc``; the thumbnail workers it starts beside it are
other processes).

Figures go to docs/benchmarks.md between this script's markers.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_folder import load_average, machine_facts, markdown_table, replace_doc_section  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PYCACHE = Path(tempfile.gettempdir()) / "fieldlab-startup-pycache"
PARTS = {"sys": "the interpreter alone", "fieldlab.cli": "typer, rich and the command modules: every command",
         "pydantic": "typer 0.29 coerces every parameter of the command run through it",
         "sqlalchemy": "Core, to open the case: summary, hits, serve", "fastapi": "serve"}
NOTES = """\
`--help` loads typer, rich and the command modules only (no pytsk3, pyewf, SQLAlchemy, NumPy, PIL, av, FastAPI:
`tests/test_cli.py::test_start_up_loads_no_evidence_database_or_imaging_library`). `summary` and `hits` also load
SQLAlchemy Core and its SQLite dialect to open the case, and nothing else heavy (no NumPy, PostgreSQL dialect, ORM,
evidence reader: `tests/test_cli.py::test_summary_and_hits_load_only_the_case_database`); with SQLAlchemy's import
alone (above) on top of the command line's own, they cannot reach 0.3 s. A prototype (timed by hand, not by this
script) that read the same SQL through the `sqlite3` module took about 0.25 s CPU, but it needs the two queries as
SQL text beside their Core statements (a second query implementation), so it was not adopted. The review server
answers once the command line, FastAPI, SQLAlchemy and its routes are loaded and the case is open; its thumbnail
workers (PIL, PyAV, the evidence readers) start beside it (`tests/security/test_start_and_stop.py`).
"""


def child_environment(src: Path) -> dict[str, str]:
    """``src`` first on the path, and compiled bytecode kept (in ``PYCACHE``, outside the trees measured), as an
    installed fieldlab has it: without it every run compiles ~50 fieldlab modules from source (0.17 s measured),
    which is not start-up an examiner sees."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(src: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``python -m fieldlab ARGS`` with ``src`` first on the path."""
    return run_python(src, ["-m", "fieldlab", *args])


def run_python(src: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``python ARGS`` with ``src`` first on the path."""
    env = child_environment(src)
    before = os.times()
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def serve_once(src: Path, case: Path, timeout: float = 120.0) -> tuple[float, float]:
    """Wall seconds from starting ``fieldlab serve CASE`` to the first 200 of its main page, and the server
    process's CPU seconds by then."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = child_environment(src)
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "fieldlab", "serve", str(case), "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start, process_cpu_seconds(server.pid)
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"fieldlab serve exited with {server.returncode} before answering") from None
                time.sleep(0.01)
        raise RuntimeError(f"fieldlab serve did not answer within {timeout:.0f} s")
    finally:
        server.terminate()
        server.wait(timeout=60)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used (``/proc/PID/stat`` fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def commit_of(src: Path) -> str:
    """The short commit of the tree holding ``src`` (with ``+changes`` if it differs from it), or ``no git``."""
    found = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if found.returncode != 0:
        return "no git"
    dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no", "."],
                           capture_output=True, text=True).stdout.strip()
    return found.stdout.strip() + (" +changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    parser.add_argument("--against", type=Path, help="another source tree (its src/ folder) to measure beside this one")
    parser.add_argument("--no-docs", action="store_true", help="print the figures, do not write docs/benchmarks.md")
    options = parser.parse_args()
    trees = {f"this tree ({commit_of(REPO / 'src')})": REPO / "src"} | (
        {f"{options.against} ({commit_of(options.against)})": options.against} if options.against else {})
    with tempfile.TemporaryDirectory() as folder:
        demo = Path(folder) / "demo"
        run_once(REPO / "src", ["demo", str(demo)])
        commands = {"--help": ["--help"], "summary CASE": ["summary", str(demo / "case")],
                    "hits CASE": ["hits", str(demo / "case")]}
        for src in trees.values():  # untimed: fills the bytecode cache
            for args in commands.values():
                run_once(src, args)
            serve_once(src, demo / "case")
        load_before = load_average()
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        parts: dict[str, list[float]] = {}
        for _ in range(options.runs):
            for command, args in commands.items():
                for tree, src in trees.items():
                    times.setdefault((command, tree), []).append(run_once(src, args))
            for tree, src in trees.items():
                times.setdefault(("serve CASE", tree), []).append(serve_once(src, demo / "case"))
            for module in PARTS:
                parts.setdefault(module, []).append(run_python(REPO / "src", ["-c", f"import {module}"])[1])
    rows = []
    for (command, tree), samples in times.items():
        label = f"`fieldlab {command}`" + (" (to the first 200 of `/`)" if command == "serve CASE" else "")
        rows.append([label, tree, f"{statistics.median(w for w, _ in samples):.2f} s",
                     f"{statistics.median(c for _, c in samples):.2f} s", f"{min(c for _, c in samples):.2f} s"])
    facts = machine_facts()
    body = ("## Start-up: `fieldlab --help`, `summary`, `hits`, and the review server\n\n"
            f"`python bench/startup.py --runs {options.runs}"
            + (f" --against {options.against}" if options.against else "") + "`; "
            f"{facts.nproc} cores ({facts.cpu_model}), Python {facts.python}, load average before "
            f"{load_before}, after {load_average()} (wall time on a loaded machine includes waiting for a core: "
            "CPU time is the steadier figure).\n\n"
            + markdown_table(["command", "tree", "wall (median)", "CPU (median)", "CPU (best)"], rows) + "\n\n"
            "What a command's start-up is made of (this tree, `python -c 'import MODULE'` in a fresh process, CPU):\n\n"
            + markdown_table(["import", "CPU (median)", "CPU (best)"],
                             [[f"`{module}` ({why})", f"{statistics.median(parts[module]):.2f} s",
                               f"{min(parts[module]):.2f} s"] for module, why in PARTS.items()]) + "\n\n" + NOTES)
    print(body)
    if not options.no_docs:
        replace_doc_section("bench/startup.py", body)


if __name__ == "__main__":
    main()
