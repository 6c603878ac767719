"""The validation record: what an accreditation assessor reads (scope, method, corpus, results, limits, versions,
machine), as JSON for tools and as HTML and PDF through the report renderer.

``results`` holds only what the same seed and version must reproduce (the scores); times and the machine are
apart, under ``timing`` and ``environment``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from fieldlab.validation.run import FieldlabRun
from fieldlab.validation.score import Score
from fieldlab.validation.truth import Truth

SCOPE = ("Finding known indecent images of children (by hash set: MD5, SHA-1, PDQ and vPDQ) in seized computer "
         "disks, removable media and phone extractions, by a triage examiner using fieldlab with its default "
         "settings. Only generated pictures and videos are used; categories are labels in generated hash sets.")
METHOD = ("A corpus of exhibits is built from a seed: disk images (E01, split raw, raw, QCOW2, VHDX; MBR and GPT; "
          "NTFS, FAT32, ext4, exFAT, HFS+; ext4 inside LUKS1) and phone extractions (an Android file-system tar, an iOS backup folder, an Android "
          ".ab backup, a UFDR package), each holding known items planted by class (the hiding place) among a "
          "benign population of pictures, videos, documents and programs. The hash sets a force would hold are "
          "written (MD5/SHA-1 CSV and VICS, a categorised PDQ list, vPDQ files) and imported through the public "
          "API; every exhibit is scanned with the default settings, the archive password given (one more "
          "archive's password is given to nobody), the LUKS passphrase given to the encrypted laptop's scan. A planted item is found when a match names its own known hash "
          "in its own exhibit; an item out of reach counts when its container is reported as encrypted and "
          "nothing of it matched. Recall per class carries a 95% Wilson interval; every match on anything else is "
          "a false positive.")
# What the corpus does not hold, and why: the record states it so nobody reads the results as covering it.
NOT_COVERED = (
    ("HFS+ beyond the basics", "the corpus's HFS+ volume is written by fieldlab's own TN1150 writer (no tool here "
                               "makes one): no journal, no extents-overflow records, no compressed files, no hard "
                               "links, ASCII names"),
    ("NTFS volume shadow copies", "no tool on Linux creates them (libvshadow and vshadowmount only read), so the "
                                  "shadow-copy layer is not measured here"),
    ("encrypted phone backups", "the iOS backup and the Android .ab are unencrypted; fieldlab's decryption of both "
                                "is covered by its own tests, not by this corpus"),
    ("deleted files inside LUKS, LUKS2, and LVM", "the LUKS1 volume holds allocated files only, and no exhibit is "
                                                  "LUKS2 or LVM; carving inside unlocked volumes and logical volumes, "
                                                  "LUKS2 and LVM groups over several partitions are covered by "
                                                  "fieldlab's own tests, not by this corpus"),
)
LIBRARIES = ("pytsk3", "libewf-python", "pdqhash", "Pillow", "av", "numpy", "libarchive-c", "weasyprint",
             "SQLAlchemy")


@dataclass(frozen=True)
class WrittenRecord:
    json: Path
    html: Path
    pdf: Path


def build_record(truth: Truth, run: FieldlabRun, result: Score, *, peers: dict[str, Score]) -> dict:
    by_ref = {r.ref: r for r in run.exhibits}
    limits = [{"name": c.name, "found": c.found, "planted": c.planted, "missed": list(c.missed)}
              for c in result.classes if c.found < c.planted]
    return {
        "scope": SCOPE,
        "method": METHOD,
        "corpus": {
            "seed": truth.seed, "size": truth.size, "sha256": truth.corpus_sha256,
            "exhibits": [{"ref": e.ref, "source": e.source, "description": e.description, "files": len(e.files),
                          "bytes": by_ref[e.ref].bytes, "seconds": round(by_ref[e.ref].seconds, 2)}
                         for e in truth.exhibits],
        },
        "fieldlab": asdict(result),
        "peers": [{"name": name, "found": {c.name: c.found for c in s.classes}, "score": asdict(s)}
                  for name, s in peers.items()],
        "limits": limits,
        "not_covered": [{"what": what, "why": why} for what, why in NOT_COVERED],
        "timing": {r.ref: {"seconds": round(r.seconds, 2), "bytes": r.bytes, "files": r.items, "errors": r.errors}
                   for r in run.exhibits},
        "environment": environment(),
    }


def environment() -> dict[str, str]:
    """The versions of everything the figures depend on, and the machine they were measured on."""
    versions = {"fieldlab": importlib.metadata.version("fieldlab"), "commit": _commit(),
                "python": sys.version.split()[0]}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    import pytsk3

    versions["The Sleuth Kit"] = pytsk3.TSK_VERSION_STR
    versions["machine"] = f"{platform.node()}: {platform.platform()}, {os.cpu_count()} CPUs, {_memory()}"
    return versions


def _commit() -> str:
    source = Path(__file__).resolve().parents[3]
    try:
        out = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if out.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return out.stdout.strip() + (" with local changes" if dirty else "")


def _memory() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return "memory unknown"
    return f"{pages * size / 2**30:.1f} GiB memory"


def write_record(record: dict, folder: Path) -> WrittenRecord:
    from fieldlab.report.render import html_to_pdf, render_template

    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path, pdf_path = (folder / f"validation-record.{ext}" for ext in ("json", "html", "pdf"))
    json_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    html = render_template("validation.html.j2", r=record)
    html_path.write_text(html, encoding="utf-8")
    pdf_path.write_bytes(html_to_pdf(html))
    return WrittenRecord(json_path, html_path, pdf_path)
