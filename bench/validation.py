"""Run `fieldlab validate` and write its results table (fieldlab and the peers) into docs/benchmarks.md.

    .venv/bin/python bench/validation.py --size standard --seed 1 [--workdir DIR] [--no-docs]

Everything in the section comes from the validation record the run writes (validation-record.json) and from the
wall clock and load average measured around it, so the figures in the docs are the record's, never typed in.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from scan_folder import load_average, replace_doc_section  # noqa: E402 - the shared helpers live beside this script

from fieldlab.validation import validate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="standard", choices=("quick", "standard", "large"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep the corpus and the record here (default: a temporary "
                                                     "folder, removed afterwards)")
    parser.add_argument("--no-docs", action="store_true", help="print the section only; leave docs/benchmarks.md")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fieldlab-validation-"))
    out = work / f"validate-{args.size}-seed{args.seed}"
    load_before = load_average()
    started = time.perf_counter()
    validate(out, seed=args.seed, size=args.size, peers=True)
    seconds = time.perf_counter() - started
    record = json.loads((out / "validation-record.json").read_text(encoding="utf-8"))
    body = section(record, args, seconds, load_before, load_average())
    print(body)
    if not args.no_docs:
        replace_doc_section(f"fieldlab validate --size {args.size}", body)
    if args.workdir is None:
        shutil.rmtree(work)


def section(record: dict, args: argparse.Namespace, seconds: float, load_before: str, load_after: str) -> str:
    env, corpus, result = record["environment"], record["corpus"], record["fieldlab"]
    peers = record["peers"]
    names = [p["name"] for p in peers]
    lines = [
        f"## Validation corpus ({args.size}): fieldlab vs " + (", ".join(f"`{n}`" for n in names) or "no peer")
        + " (`fieldlab validate`)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `.venv/bin/python bench/validation.py --size "
        f"{args.size} --seed {args.seed}` (`fieldlab validate --size {args.size} --seed {args.seed} --peers`; see "
        "docs/validation.md).",
        "",
        f"- Machine: {env['machine']}; load average (1/5/15 min) {load_before} before, {load_after} after",
        f"- fieldlab {env['fieldlab']} at commit `{env['commit']}`; Python {env['python']}; The Sleuth Kit "
        f"{env['The Sleuth Kit']}, libewf-python {env['libewf-python']}, Pillow {env['Pillow']}, PyAV {env['av']}, "
        f"pdqhash {env['pdqhash']}",
        f"- Corpus SHA-256 `{corpus['sha256']}`: {result['planted']:,} known items in {len(result['classes'])} "
        f"classes, {result['benign_items']:,} benign items",
        f"- Whole run (build the corpus, import the sets, scan every exhibit, run the peers, write the record): "
        f"{seconds / 60:.1f} min wall clock",
        "",
        "| exhibit | what | bytes | files listed | problems recorded | scan seconds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    timing = record["timing"]
    for exhibit in corpus["exhibits"]:
        ref = exhibit["ref"]
        lines.append(f"| {ref} | {exhibit['description']} | {exhibit['bytes']:,} | {timing[ref]['files']:,} | "
                     f"{timing[ref]['errors']:,} | {exhibit['seconds']:.1f} |")
    lines += ["", "Found per class. fieldlab: a match naming the item's own known hash (MD5/SHA-1, PDQ, vPDQ) in its "
              "own exhibit; `archive/password-not-given`: the zip reported as encrypted and nothing of it matched. "
              "Peers: their recovered or carved files whose MD5 the set lists (disk exhibits only, each turned into "
              "one raw image first).", "",
              "| " + " | ".join(["class", "planted", "fieldlab", "recall (95% Wilson)", *names]) + " |",
              "|---|---:|---:|---|" + "---:|" * len(names)]
    for index, c in enumerate(result["classes"]):
        cells = [str(p["score"]["classes"][index]["found"]) for p in peers]
        lines.append(f"| `{c['name']}` | {c['planted']} | {c['found']} | {100 * c['recall']:.0f}% "
                     f"({100 * c['low']:.0f}-{100 * c['high']:.0f}%) |" + "".join(f" {x} |" for x in cells))
    lines.append(f"| **all** | {result['planted']} | {result['found']} | "
                 f"{100 * result['found'] / result['planted']:.1f}% |"
                 + "".join(f" {p['score']['found']} |" for p in peers))
    precision = "n/a" if result["precision"] is None else f"{100 * result['precision']:.1f}%"
    lines += ["", f"fieldlab matched {result['hit_items']:,} items, {result['true_items']:,} of them a planted item "
              f"of their own exhibit (precision {precision}); benign items matched: {result['benign_hit']} of "
              f"{result['benign_items']:,}. " + " ".join(
                  f"{p['name']}: {p['score']['hit_items']} items matched, {p['score']['benign_hit']} benign."
                  for p in peers)]
    for false in result["false_findings"]:
        lines.append(f"- false match: {false['exhibit']} `{false['path']}` ({false['method']}): {false['reason']}")
    differences = result["charging_differences"] or []
    lines += ["", "Charging table against the truth's: " + (
        "every cell equal." if not differences else "; ".join(
            f"{d['exhibit']} {d['basis']} {d['medium']} {d['category']}: truth {d['expected']}, fieldlab "
            f"{d['reported']}" for d in differences) + ".")]
    if record["limits"]:
        lines += ["", "Classes below 100% (the record's limits, with up to five of the missed items):", ""]
        for limit in record["limits"]:
            lines.append(f"- `{limit['name']}` {limit['found']}/{limit['planted']}: " + "; ".join(limit["missed"]))
    lines += ["", "Not covered by the corpus: " + "; ".join(f"{n['what']} ({n['why']})"
                                                         for n in record.get("not_covered", [])) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
