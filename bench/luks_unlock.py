#!/usr/bin/env python3
"""Unlocking LUKS1: the CPU one process spends opening the volume, and a whole ``fieldlab scan`` of a LUKS image.

Why this exists: with cryptsetup's default key-slot iterations every process of a scan that ran libluksde's PBKDF2
(about a million iterations a second) spent some 10 s of CPU before it read a byte.  The disk (built once into
``bench/.work/luks/``): GPT, one partition holding a LUKS1 volume (aes-xts-plain64, sha256, the key slot's PBKDF2
iterations as cryptsetup's benchmark of this machine sets them, no ``--pbkdf-force-iterations``) around a 64 MiB
ext4 of 300 generated files and one known one.  Each run names the source tree it runs (``--src``: main's checkout
for the before figure), counts in every process, through a ``sitecustomize`` hook, the libluksde volumes made and the
PBKDF2 calls ``hashlib`` ran, and checks the scan found the known file.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/luks_unlock.py [--src OTHER/src] [--runs 1]

Prints only; the figures go into docs/benchmarks.md and ``evidence/luks_key.py`` by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from fieldlab.validation.disks import PlantedFile, build_disk, random_bytes  # noqa: E402 - after the path
from fieldlab.validation.luks import build_luks1_disk  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import scan_folder  # noqa: E402,F401 - its import keeps the scans' bytecode, as installed (measure_as_installed)

PASSPHRASE = "bench passphrase of a seized laptop"
KNOWN = PlantedFile("home/alex/Pictures/IMG_0001.JPG", random_bytes(7, 200_000))
FILES = [PlantedFile(f"home/alex/Documents/file{i:03d}.bin", random_bytes(100 + i, 100_000)) for i in range(300)]
_HOOK = '''
import hashlib, os
_log = os.environ["FIELDLAB_BENCH_UNLOCKS"]
def _note(what):
    with open(_log, "a") as out:
        out.write(f"{os.getpid()} {what}\\n")
_pbkdf2 = hashlib.pbkdf2_hmac
def _counted_pbkdf2(name, password, salt, iterations, dklen=None):
    if iterations >= 1000:  # the least cryptsetup writes: fieldlab's check of which hashes run (1 each) left out
        _note(f"pbkdf2 {iterations}")
    return _pbkdf2(name, password, salt, iterations, dklen)
hashlib.pbkdf2_hmac = _counted_pbkdf2
try:
    import pyluksde
    _volume = pyluksde.volume
    def _counted_volume():
        _note("libluksde")
        return _volume()
    pyluksde.volume = _counted_volume
except ImportError:
    pass
'''
_OPEN_ONE = '''
import sys, time
from pathlib import Path
from fieldlab.evidence.image import ImageSource, UnlockOptions
started = time.process_time()
source = ImageSource(Path(sys.argv[1]), UnlockOptions(luks_password=sys.argv[2]))
assert source.facts.volumes[0].unlocked, source.facts.volumes[0].problem
print(time.process_time() - started)
'''


def build(work: Path) -> tuple[Path, int]:
    """The disk and its key slot's iterations, built once."""
    disk, marker = work / "evidence" / "laptop.raw", work / "disk.json"
    if marker.exists() and disk.exists():
        return disk, json.loads(marker.read_text())["slot_iterations"]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        plain = build_disk(Path(scratch) / "plain.img", "none", [("ext4", 64, [KNOWN, *FILES])]).path
        built = build_luks1_disk(disk, "gpt", plain, PASSPHRASE, iterations=None)
    with open(disk, "rb") as image:
        image.seek(built.volume_offset + 208 + 4)
        iterations = struct.unpack(">I", image.read(4))[0]
    (work / "known.csv").write_text(f"md5,category\n{KNOWN.md5},A\n")
    marker.write_text(json.dumps({"slot_iterations": iterations}))
    return disk, iterations


def counted(log: Path) -> dict[str, Counter[str]]:
    """What each process ran: pid -> {"libluksde": n, "pbkdf2": n}."""
    per_process: dict[str, Counter[str]] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        pid, what = line.split(" ", 2)[:2]
        per_process.setdefault(pid, Counter())[what] += 1
    return per_process


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the fieldlab source tree to run")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work" / "luks")
    args = parser.parse_args()
    disk, iterations = build(args.workdir)
    print(f"disk {disk} ({disk.stat().st_size / 2**20:.0f} MiB), key slot PBKDF2 iterations {iterations:,}; "
          f"source tree {args.src}; load {os.getloadavg()[0]:.2f}", flush=True)
    hooks = args.workdir / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(_HOOK)
    home = args.workdir / "home"
    env = dict(os.environ, PYTHONPATH=str(args.src), FIELDLAB_HOME=str(home),
               FIELDLAB_EXAMINER="bench")
    subprocess.run([sys.executable, "-m", "fieldlab", "hashset", "import", str(args.workdir / "known.csv"), "--name",
                    "bench", "--replace"], check=True, env=env, capture_output=True)
    for run in range(args.runs):
        one = float(subprocess.run([sys.executable, "-c", _OPEN_ONE, str(disk), PASSPHRASE], check=True, env=env,
                                   capture_output=True, text=True).stdout)
        log = args.workdir / f"unlocks-{run}.log"
        log.unlink(missing_ok=True)
        case = args.workdir / "cases" / f"run{run}"
        shutil.rmtree(case, ignore_errors=True)
        hooked = dict(env, PYTHONPATH=os.pathsep.join([str(hooks), env["PYTHONPATH"]]), FIELDLAB_BENCH_UNLOCKS=str(log))
        load, cpu, started = os.getloadavg()[0], children_cpu(), time.monotonic()
        scanned = subprocess.run([sys.executable, "-m", "fieldlab", "scan", str(disk), "--case", str(case),
                                  "--exhibit", "BENCH", "--no-live", "--luks-password", PASSPHRASE], env=hooked,
                                 capture_output=True, text=True)
        wall, cpu = time.monotonic() - started, children_cpu() - cpu
        hits = subprocess.run([sys.executable, "-m", "fieldlab", "hits", str(case), "--format", "csv"], env=env,
                              capture_output=True, text=True).stdout
        if scanned.returncode != 0 or KNOWN.md5 not in hits:
            sys.exit(f"BENCH FAILED: the scan exited {scanned.returncode} or missed the known file:\n"
                     f"{scanned.stdout[-2000:]}{scanned.stderr[-2000:]}")
        processes = counted(log)
        opened = sum(c["libluksde"] for c in processes.values())
        derived = sum(1 for c in processes.values() if c["pbkdf2"])
        print(f"run {run + 1}: one process opens the volume in {one:.2f} s CPU; the scan: {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU (load {load:.2f}); libluksde volumes made {opened} in "
              f"{sum(1 for c in processes.values() if c['libluksde'])} processes, hashlib PBKDF2 calls "
              f"{sum(c['pbkdf2'] for c in processes.values())} in {derived} processes", flush=True)


if __name__ == "__main__":
    main()
