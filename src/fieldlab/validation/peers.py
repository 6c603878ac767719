"""Peers on the same exhibits, scored by the same truth: ``tsk_recover -e`` (every allocated and deleted file of
every partition) hashed with MD5, and ``foremost`` carving, where installed.  A peer matches exact hashes only:
its findings are its recovered files whose MD5 a hash set lists.  Containers a tool cannot open (QCOW2 for
both; E01 for foremost, which reads raw bytes) are left out of its run, and the record says which."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from fieldlab.validation.score import Finding
from fieldlab.validation.truth import Truth

_TIMEOUT = 1800


def run_peers(corpus: Path, truth: Truth, work: Path) -> dict[str, list[Finding]]:
    known = {k.md5 for k in truth.known}
    results: dict[str, list[Finding]] = {}
    if shutil.which("tsk_recover") and shutil.which("mmls"):
        results["tsk_recover -e"] = _tsk_recover(corpus, truth, work / "tsk_recover", known)
    if shutil.which("foremost"):
        results["foremost"] = _foremost(corpus, truth, work / "foremost", known)
    return results


def _segments(corpus: Path, truth: Truth, ref: str) -> list[Path]:
    exhibit = next(e for e in truth.exhibits if e.ref == ref)
    return [corpus / name for name, _, _ in exhibit.files]


def _disk_exhibits(truth: Truth, suffixes: tuple[str, ...]) -> list[str]:
    return [e.ref for e in truth.exhibits if e.source.lower().endswith(suffixes)]


def _tsk_recover(corpus: Path, truth: Truth, work: Path, known: set[str]) -> list[Finding]:
    findings = []
    for ref in _disk_exhibits(truth, (".e01", ".001", ".raw")):
        images = [str(p) for p in _segments(corpus, truth, ref)]
        table = subprocess.run(["mmls", *images], capture_output=True, text=True, timeout=_TIMEOUT).stdout
        starts = [int(m.group(1)) for m in re.finditer(r"^\d+:\s+\d+:?\d*\s+(\d+)\s", table, re.MULTILINE)]
        for start in starts or [0]:
            target = work / ref / str(start)
            subprocess.run(["tsk_recover", "-e", "-o", str(start), *images, str(target)], capture_output=True,
                           timeout=_TIMEOUT)
            findings += _hashed(ref, target, known)
    return findings


def _foremost(corpus: Path, truth: Truth, work: Path, known: set[str]) -> list[Finding]:
    findings = []
    for ref in _disk_exhibits(truth, (".001", ".raw")):
        target = work / ref
        with subprocess.Popen(["foremost", "-Q", "-o", str(target)], stdin=subprocess.PIPE) as carver:
            for segment in _segments(corpus, truth, ref):
                with open(segment, "rb") as data:
                    shutil.copyfileobj(data, carver.stdin)
            carver.stdin.close()
            carver.wait(timeout=_TIMEOUT)
        findings += _hashed(ref, target, known)
    return findings


def _hashed(ref: str, folder: Path, known: set[str]) -> list[Finding]:
    findings = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        if digest in known:
            findings.append(Finding(ref, str(path.relative_to(folder)), str(path.relative_to(folder)), "md5", digest,
                                    None))
    return findings
