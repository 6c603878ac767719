"""Peers on the same exhibits, scored by the same truth: ``tsk_recover -e`` (every allocated and deleted file of
every partition) hashed with MD5, and ``foremost`` and ``photorec`` carving the whole disk, where installed.  A peer matches exact
hashes only: its findings are the recovered files whose MD5 a hash set lists.  Each disk exhibit is first turned
into one raw image (``ewfexport``, ``qemu-img convert`` for QCOW2 and VHDX, segments joined) so that both read every
container; the phone extractions are not disks and are left out of their runs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from fieldlab.validation.score import Finding
from fieldlab.validation.truth import Truth

_TIMEOUT = 1800
_PHOTOREC_FAMILIES = ("jpg", "png", "gif", "bmp", "mov", "riff", "tif", "zip")


def run_peers(corpus: Path, truth: Truth, work: Path) -> dict[str, list[Finding]]:
    known = {k.md5 for k in truth.known}
    results: dict[str, list[Finding]] = {}
    tools = [name for name in ("tsk_recover", "foremost", "photorec") if shutil.which(name)]
    if not tools:
        return results
    raws = _raw_images(corpus, truth, work / "raw")
    if "tsk_recover" in tools:
        results["tsk_recover -e"] = _tsk_recover(raws, work / "tsk_recover", known)
    if "foremost" in tools:
        results["foremost"] = _foremost(raws, work / "foremost", known)
    if "photorec" in tools:
        results["photorec"] = _photorec(raws, work / "photorec", known)
    shutil.rmtree(work / "raw")  # only the converted copies: a raw exhibit is read where it is
    return results


def _raw_images(corpus: Path, truth: Truth, work: Path) -> dict[str, Path]:
    """One raw image per disk exhibit, in ``work``."""
    raws = {}
    work.mkdir(parents=True, exist_ok=True)
    for exhibit in truth.exhibits:
        source, raw = corpus / exhibit.source, work / f"{exhibit.ref}.raw"
        suffix = source.suffix.lower()
        if suffix == ".e01":
            subprocess.run(["ewfexport", "-q", "-u", "-t", str(raw.with_suffix("")), "-f", "raw", str(source)],
                           capture_output=True, check=True, timeout=_TIMEOUT)
        elif suffix in (".qcow2", ".vhdx"):
            subprocess.run(["qemu-img", "convert", "-f", suffix[1:], "-O", "raw", str(source), str(raw)],
                           capture_output=True, check=True, timeout=_TIMEOUT)
        elif suffix == ".dd":
            raw = source  # already one raw image
        elif suffix == ".001":
            with open(raw, "wb") as out:
                for name, _, _ in exhibit.files:
                    with open(corpus / name, "rb") as segment:
                        shutil.copyfileobj(segment, out)
        else:
            continue
        raws[exhibit.ref] = raw
    return raws


def _tsk_recover(raws: dict[str, Path], work: Path, known: set[str]) -> list[Finding]:
    findings = []
    for ref, raw in raws.items():
        table = subprocess.run(["mmls", str(raw)], capture_output=True, text=True, timeout=_TIMEOUT).stdout
        starts = [int(m.group(1)) for m in re.finditer(r"^\d+:\s+\d+:?\d*\s+(\d+)\s", table, re.MULTILINE)]
        for start in starts or [0]:
            target = work / ref / str(start)
            subprocess.run(["tsk_recover", "-e", "-o", str(start), str(raw), str(target)], capture_output=True,
                           timeout=_TIMEOUT)
            findings += _hashed(ref, target, known)
    return findings


def _foremost(raws: dict[str, Path], work: Path, known: set[str]) -> list[Finding]:
    findings = []
    for ref, raw in raws.items():
        target = work / ref
        work.mkdir(parents=True, exist_ok=True)  # foremost makes only the last folder of -o
        subprocess.run(["foremost", "-Q", "-i", str(raw), "-o", str(target)], capture_output=True, timeout=_TIMEOUT)
        findings += _hashed(ref, target, known)
    return findings


def _photorec(raws: dict[str, Path], work: Path, known: set[str]) -> list[Finding]:
    """The whole disk as one unpartitioned space (its file systems' free space and the gaps between them), the
    picture, movie and archive families on, as ``bench/carve.py`` runs it."""
    families = ",".join(f"{family},enable" for family in _PHOTOREC_FAMILIES)
    findings = []
    for ref, raw in raws.items():
        target = work / ref
        target.mkdir(parents=True, exist_ok=True)  # PhotoRec makes OUT/recup.N, not OUT itself
        subprocess.run(["photorec", "/log", "/d", str(target / "recup"), "/cmd", str(raw),
                        f"partition_none,options,paranoid,fileopt,everything,disable,{families},search"],
                       capture_output=True, cwd=target, timeout=_TIMEOUT)
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
