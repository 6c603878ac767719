"""The ground truth of a validation corpus: what was planted where, and what a correct scan reports.

Written by the corpus builder beside the exhibits (``truth.json``) and read back by the scorer, so a corpus
built once can be scored again (another fieldlab version, a peer tool) against exactly the same truth.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

TRUTH_FILE = "truth.json"
TRUTH_VERSION = 2


@dataclass(frozen=True)
class ClassInfo:
    name: str  # "ntfs/deleted", "near/rotate", ...
    description: str  # what the hiding place is, for the record
    basis: str  # what the charging table should count it as: "hash set" (exact) or "indicative" (near); or
    # NOT_REACHABLE: the item cannot be reached (a password not given), and the expected result is its container
    # reported as encrypted, with no match and nothing charged


NOT_REACHABLE = "not reachable"


@dataclass(frozen=True)
class KnownItem:
    """One planted item: a known picture or video (its own, used nowhere else) hidden in one place."""

    ident: str  # "K0001": names its record in every hash set (vPDQ files are named after it)
    klass: str
    exhibit: str
    location: str  # where it hides, in words an examiner can follow ("C:/Users/alex/x.jpg, deleted")
    category: str  # the UK label its hash-set records carry
    medium: str  # "still" or "movie"
    md5: str  # of the known original (what the hash sets hold)
    sha1: str
    pdq: str | None  # of the known original picture (stills only)
    container: str | None = None  # of a NOT_REACHABLE item: the path of the file holding it, inside its exhibit


@dataclass(frozen=True)
class BenignItem:
    exhibit: str
    path: str  # as fieldlab lists it, inside its exhibit
    kind: str  # picture, video, document, executable


@dataclass(frozen=True)
class ExhibitInfo:
    ref: str
    source: str  # relative to the corpus folder: the file (first segment) an examiner scans
    description: str
    files: tuple[tuple[str, int, str], ...]  # (relative path, size, SHA-256) of every file the exhibit consists of
    luks_password: str | None = None  # the passphrase of its LUKS volume, as the suspect disclosed it: a
    # generated test value, given to the scan as ``--luks-password``


@dataclass(frozen=True)
class Truth:
    seed: int
    size: str
    password: str  # the archive password an examiner was told
    classes: tuple[ClassInfo, ...]
    exhibits: tuple[ExhibitInfo, ...]
    known: tuple[KnownItem, ...]
    benign: tuple[BenignItem, ...]
    corpus_sha256: str  # over every exhibit file's path and SHA-256, in order

    def write(self, folder: Path) -> Path:
        path = folder / TRUTH_FILE
        path.write_text(json.dumps({"version": TRUTH_VERSION, **asdict(self)}, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> Truth:
        data = json.loads((folder / TRUTH_FILE).read_text(encoding="utf-8"))
        if data.pop("version") != TRUTH_VERSION:
            raise ValueError(f"{folder / TRUTH_FILE} was written by another version of fieldlab validate")
        return cls(
            data["seed"], data["size"], data["password"],
            tuple(ClassInfo(**c) for c in data["classes"]),
            tuple(ExhibitInfo(e["ref"], e["source"], e["description"], tuple(tuple(f) for f in e["files"]),
                              e.get("luks_password")) for e in data["exhibits"]),
            tuple(KnownItem(**k) for k in data["known"]),
            tuple(BenignItem(**b) for b in data["benign"]),
            data["corpus_sha256"],
        )
