"""Periodic updates (CAID and Project VIC ship them monthly) merged into a compiled set without re-importing it.

The update file is parsed and compiled on its own, then its sorted columns are
merged with the set's: where both hold a digest the update's category wins
(a newer categorisation replaces an older one), and the per-record table is
re-pointed at the merged columns.  The merged set replaces the old one
atomically, so a failed update leaves the set as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from fieldlab.hashsets.compiled import (
    KINDS,
    NO_DIGEST,
    PHOTODNA_FILE,
    RECORDS_FILE,
    iter_photodna,
    load_column,
    load_records,
    save_column,
)
from fieldlab.hashsets.formats import detect_format
from fieldlab.hashsets.library import META_FILE, HashSetError, HashSetLibrary, ImportReport, _compile, _sha256_of
from fieldlab.hashsets.near import build_index
from fieldlab.hashsets.profiles import load_profile


def update_set(
    library: HashSetLibrary, name: str, source: Path, *, fmt: str = "auto", mapping_file: Path | None = None,
) -> ImportReport:
    (current,) = library.load([name])
    info = current.info
    if info.format == "vpdq":
        raise HashSetError(f"{name} is a set of known videos: import the new folder with --replace instead")
    profile = load_profile(info.profile, mapping_file)
    if profile.labels != info.labels:
        raise HashSetError(f"{name} was compiled with other category labels: re-import it instead")
    resolved = detect_format(source) if fmt == "auto" else fmt
    staging = library.folder / f".updating-{name}-{os.getpid()}"
    delta_folder = staging / "delta"
    shutil.rmtree(staging, ignore_errors=True)
    delta_folder.mkdir(parents=True)
    try:
        delta_info, problems = _compile(source, name, resolved, profile, delta_folder, info.known_good)
        old_folder, merged_folder = library.folder / name, staging / "merged"
        merged_folder.mkdir()
        counts = _merge(old_folder, delta_folder, merged_folder)
        records = np.load(merged_folder / RECORDS_FILE, mmap_mode="r")
        per_category = {info.labels[c]: int(n) for c, n in enumerate(np.bincount(records["code"], minlength=len(info.labels))) if n}
        update = {"source_name": source.name, "source_sha256": _sha256_of(source), "imported_at": time.time(),
                  "entries": delta_info.entries, "problems": delta_info.problems}
        merged_info = replace(
            info, entries=len(records), counts=counts, per_category=per_category,
            conflicts=info.conflicts + delta_info.conflicts, updates=[*info.updates, update],
        )
        (merged_folder / META_FILE).write_text(json.dumps(asdict(merged_info), indent=2), encoding="utf-8")
        shutil.copy(delta_folder / "problems.txt", merged_folder / "problems.txt")
        library._install(merged_folder, old_folder)  # noqa: SLF001 - the library's own atomic swap
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportReport(merged_info, problems, old_folder / "problems.txt")


def _merge(old_folder: Path, delta_folder: Path, target: Path) -> dict[str, int]:
    old_records, delta_records = load_records(old_folder), load_records(delta_folder)
    kinds = [k for k in KINDS if k in (old_records.dtype.names or ()) or k in (delta_records.dtype.names or ())]
    merged_records = np.zeros(len(old_records) + len(delta_records), dtype=[("code", np.uint8)] + [(k, np.uint32) for k in kinds])
    merged_records["code"][: len(old_records)] = old_records["code"]
    merged_records["code"][len(old_records) :] = delta_records["code"]
    counts = {}
    for kind in kinds:
        old, delta = load_column(old_folder, kind), load_column(delta_folder, kind)
        parts = [c for c in (old, delta) if c is not None]
        digests = np.concatenate([np.asarray(c.digests) for c in parts])
        codes = np.concatenate([np.asarray(c.codes) for c in parts])
        newer = np.concatenate([np.full(len(c.digests), i, dtype=np.uint8) for i, c in enumerate(parts)])
        order = np.lexsort((-newer.astype(np.int8), digests))  # per digest, the update's entry first
        digests, codes = digests[order], codes[order]
        first = np.ones(len(digests), dtype=bool)
        first[1:] = digests[1:] != digests[:-1]
        unique, unique_codes = digests[first], codes[first]
        save_column(target, kind, unique, codes=unique_codes)
        if kind == "pdq":
            build_index(target, unique)
        counts[kind] = len(unique)
        for offset, column, table in ((0, old, old_records), (len(old_records), delta, delta_records)):
            slots = np.full(len(table), NO_DIGEST, dtype=np.uint32)
            if column is not None and kind in (table.dtype.names or ()):
                present = table[kind] != NO_DIGEST
                slots[present] = np.searchsorted(unique, np.asarray(column.digests)[table[kind][present]])
            merged_records[kind][offset : offset + len(table)] = slots
    # An old record whose digest the update recategorised now carries the new category (by its first digest).
    primary = kinds[0]
    present = merged_records[primary] != NO_DIGEST
    decided = np.load(target / f"{primary}.codes.npy")
    merged_records["code"][present] = decided[merged_records[primary][present]]
    np.save(target / RECORDS_FILE, merged_records, allow_pickle=False)
    _merge_photodna(old_folder, delta_folder, len(old_records), target)
    return counts


def _merge_photodna(old_folder: Path, delta_folder: Path, delta_offset: int, target: Path) -> None:
    """The delta's records follow the old ones, so its PhotoDNA values follow too, renumbered."""
    values = [*iter_photodna(old_folder), *iter_photodna(delta_folder, delta_offset)]
    if values:
        with open(target / PHOTODNA_FILE, "w", encoding="ascii") as out:
            out.writelines(f"{record}\t{value}\n" for record, value in values)
