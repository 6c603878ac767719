#!/usr/bin/env python3
"""Hash sets at national scale: import, open, memory and exact look-ups, against a Python set and SQLite.

Generates a CSV of N MD5+SHA-1 entries with UK categories (default 30 million, about 2.2 GB), then in one run:
- imports it with ``fieldlab hashset import`` (a fresh library) and records time and on-disk size;
- in a fresh process, opens the library and looks up batches of digests (half known, half not), recording the
  time to open, the look-ups per second and the process's peak RSS;
- does the same look-ups with a Python ``set`` of the raw MD5s, and with an indexed SQLite table: the peers.

PDQ near matching (the second half of issue 4's benchmark) is not measured here yet.
Figures go to docs/benchmarks.md between this script's markers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_folder import fieldlab_executable, machine_facts, markdown_table, replace_doc_section  # noqa: E402

WORK = Path(__file__).resolve().parent / ".work" / "hashsets"
CATEGORIES = np.array(["A", "B", "C", "non-indecent", ""], dtype=object)
ROWS_PER_WRITE = 1_000_000


def generate(path: Path, entries: int, seed: int) -> np.ndarray:
    """The CSV, written in blocks from a seeded generator; returns a sample of its MD5s to query with."""
    marker = path.with_suffix(".json")
    wanted = {"entries": entries, "seed": seed}
    sample_path = path.with_suffix(".sample.npy")
    if marker.exists() and json.loads(marker.read_text()) == wanted and path.exists():
        return np.load(sample_path)
    rng = np.random.default_rng(seed)
    samples = []
    with open(path, "w", encoding="ascii") as out:
        out.write("md5,sha1,category\n")
        for start in range(0, entries, ROWS_PER_WRITE):
            count = min(ROWS_PER_WRITE, entries - start)
            md5 = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
            sha1 = rng.integers(0, 256, size=(count, 20), dtype=np.uint8)
            categories = CATEGORIES[rng.choice(len(CATEGORIES), size=count, p=[0.2, 0.25, 0.45, 0.05, 0.05])]
            md5_hex = [bytes(row).hex() for row in md5]
            sha1_hex = [bytes(row).hex() for row in sha1]
            out.writelines(f"{m},{s},{c}\n" for m, s, c in zip(md5_hex, sha1_hex, categories))
            samples.append(md5[rng.choice(count, size=min(count, 20_000), replace=False)])
    sample = np.concatenate(samples)
    np.save(sample_path, sample)
    marker.write_text(json.dumps(wanted))
    return sample


def queries_from(sample: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Half known digests, half random ones: triage mostly sees files no set holds."""
    rng = np.random.default_rng(seed)
    known = sample[rng.choice(len(sample), size=count // 2, replace=count // 2 > len(sample))]
    unknown = rng.integers(0, 256, size=(count - count // 2, 16), dtype=np.uint8)
    mixed = np.concatenate([known, unknown])
    return mixed[rng.permutation(len(mixed))]


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


LOOKUP_CHILD = r"""
import json, resource, sys, time
import numpy as np
start = time.perf_counter()
from fieldlab.hashsets.library import HashSetLibrary
library = HashSetLibrary(sys.argv[1])
(loaded,) = library.load(["bench"])
column = loaded.columns["md5"]
opened = time.perf_counter() - start
queries = np.load(sys.argv[2])
digests = np.frombuffer(queries.tobytes(), dtype="S16")
batch = 100_000
found = 0
t = time.perf_counter()
for offset in range(0, len(digests), batch):
    found += int((column.lookup(digests[offset:offset + batch]) >= 0).sum())
elapsed = time.perf_counter() - t
print(json.dumps({"open_s": opened, "lookup_s": elapsed, "found": found,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_fieldlab(home: Path, queries_path: Path) -> dict:
    output = subprocess.run([sys.executable, "-c", LOOKUP_CHILD, str(home), str(queries_path)], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output)


def measure_python_set(csv_path: Path, queries: np.ndarray) -> dict:
    t = time.perf_counter()
    known = set()
    with open(csv_path, encoding="ascii") as source:
        next(source)
        for line in source:
            known.add(bytes.fromhex(line[:32]))
    built = time.perf_counter() - t
    keys = [bytes(q) for q in queries]
    t = time.perf_counter()
    found = sum(1 for k in keys if k in known)
    elapsed = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"build_s": built, "lookup_s": elapsed, "found": found, "peak_rss_mib": rss}


def measure_sqlite(csv_path: Path, queries: np.ndarray, db_path: Path) -> dict:
    if db_path.exists():
        db_path.unlink()
    t = time.perf_counter()
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE h (md5 BLOB PRIMARY KEY, category TEXT) WITHOUT ROWID")
    with open(csv_path, encoding="ascii") as source:
        next(source)
        batch = []
        for line in source:
            md5, _, category = line.rstrip("\n").split(",")
            batch.append((bytes.fromhex(md5), category))
            if len(batch) == 100_000:
                db.executemany("INSERT OR IGNORE INTO h VALUES (?, ?)", batch)
                batch.clear()
        db.executemany("INSERT OR IGNORE INTO h VALUES (?, ?)", batch)
    db.commit()
    built = time.perf_counter() - t
    keys = [(bytes(q),) for q in queries]
    t = time.perf_counter()
    found = sum(1 for k in keys if db.execute("SELECT 1 FROM h WHERE md5 = ?", k).fetchone())
    elapsed = time.perf_counter() - t
    return {"build_s": built, "lookup_s": elapsed, "found": found, "disk_mb": db_path.stat().st_size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=30_000_000)
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--no-peers", action="store_true", help="skip the Python set and SQLite peers")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    csv_path = WORK / f"set-{args.entries}.csv"
    sample = generate(csv_path, args.entries, args.seed)
    queries = queries_from(sample, args.queries, args.seed + 1)
    queries_path = WORK / "queries.npy"
    np.save(queries_path, queries)

    home = WORK / "library"
    subprocess.run(["rm", "-rf", str(home)], check=True)
    env = {**os.environ, "FIELDLAB_HOME": str(home)}
    t = time.perf_counter()
    subprocess.run([fieldlab_executable(), "hashset", "import", str(csv_path), "--name", "bench"], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    import_s = time.perf_counter() - t
    library_mb = folder_size(home) / 1e6
    ours = measure_fieldlab(home, queries_path)
    expected = args.queries // 2
    if ours["found"] < expected:
        sys.exit(f"BENCH FAILED: fieldlab found {ours['found']} of {expected} known digests")

    rows = [["fieldlab compiled store", f"{import_s:.0f}", f"{library_mb:,.0f}", f"{ours['open_s']:.2f}",
             f"{args.queries / ours['lookup_s']:,.0f}", f"{ours['peak_rss_mib']:,.0f}", f"{ours['found']:,}"]]
    if not args.no_peers:
        py = measure_python_set(csv_path, queries)
        rows.append(["Python set of MD5 bytes", f"{py['build_s']:.0f} (build)", "-", f"{py['build_s']:.0f}",
                     f"{args.queries / py['lookup_s']:,.0f}", f"{py['peak_rss_mib']:,.0f}", f"{py['found']:,}"])
        sq = measure_sqlite(csv_path, queries, WORK / "peer.sqlite")
        rows.append(["SQLite table, MD5 primary key", f"{sq['build_s']:.0f} (build)", f"{sq['disk_mb']:,.0f}", "0.00",
                     f"{args.queries / sq['lookup_s']:,.0f}", "-", f"{sq['found']:,}"])
    table = markdown_table(
        ["Store", "Import / build (s)", "On disk (MB)", "Open (s)", "Look-ups/s", "Peak RSS (MiB)", "Found"], rows
    )
    facts = machine_facts()
    body = "\n".join([
        "## Hash sets at scale: import, open, memory, exact look-ups",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
        f"`.venv/bin/python bench/hashsets.py --entries {args.entries} --queries {args.queries}`.",
        "",
        facts.as_markdown().rstrip(),
        f"- Set: {args.entries:,} generated CSV rows `md5,sha1,category` ({csv_path.stat().st_size / 1e9:.1f} GB), "
        "categories A/B/C/non-indecent/empty; queries: "
        f"{args.queries:,} MD5s, half from the set, half random, in batches of 100,000.",
        "- fieldlab's open, look-ups and peak RSS are measured in a fresh process that only opens the library and "
        "looks up; the Python set's RSS is the bench process's own peak after building it.",
        "",
        table,
        "",
        "Targets (issue 4): import under 3 minutes for 30 million rows; open in about 1 s; under 1.5 GB while "
        "matching; over 1 million look-ups/s. PDQ near matching at 10 million hashes is not benchmarked yet.",
    ])
    print(body)
    if not args.no_docs:
        replace_doc_section("bench/hashsets.py", body)


if __name__ == "__main__":
    main()
