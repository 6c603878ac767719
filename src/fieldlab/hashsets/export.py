"""A compiled set written back out as CSV or VICS 2.0, record by record, as it was imported.

Exports stream: a set of tens of millions of records never sits in memory.
Categories are written as the profile's labels (``A``/``B``/``C`` or Project
VIC ``0``-``4``), which every profile maps back to themselves on import.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator, TextIO

import numpy as np

from fieldlab.hashsets.compiled import KINDS, NO_DIGEST, PHOTODNA_FILE, iter_photodna, load_records
from fieldlab.hashsets.library import HashSetError, HashSetLibrary, LoadedSet

CHUNK = 100_000
VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#Media"


def iter_records(library: HashSetLibrary, loaded: LoadedSet) -> Iterator[dict[str, str]]:
    """Each source record: its category label, the hex of every digest it had, and its PhotoDNA if it had one."""
    table = load_records(library.folder / loaded.info.name)
    photodna = iter_photodna(library.folder / loaded.info.name)
    next_photodna = next(photodna, None)
    kinds = [k for k in KINDS if k in table.dtype.names]
    labels = loaded.info.labels
    for start in range(0, len(table), CHUNK):
        chunk = np.asarray(table[start : start + CHUNK])
        columns = {}
        for kind in kinds:
            slots = chunk[kind]
            present = slots != NO_DIGEST
            digests = np.asarray(loaded.columns[kind].digests)[np.where(present, slots, 0)]
            width = digests.dtype.itemsize
            columns[kind] = [bytes(d).ljust(width, b"\0").hex() if p else "" for d, p in zip(digests, present)]
        for row, code in enumerate(chunk["code"]):
            record = {kind: columns[kind][row] for kind in kinds}
            record["category"] = labels[code]
            record["photodna"] = ""
            if next_photodna is not None and next_photodna[0] == start + row:
                record["photodna"] = next_photodna[1]
                next_photodna = next(photodna, None)
            yield record


def write_csv(library: HashSetLibrary, loaded: LoadedSet, out: TextIO) -> int:
    kinds = [k for k in KINDS if k in loaded.columns]
    if (library.folder / loaded.info.name / PHOTODNA_FILE).exists():
        kinds.append("photodna")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*kinds, "category"])
    count = 0
    for record in iter_records(library, loaded):
        writer.writerow([record[k] for k in kinds] + [record["category"]])
        count += 1
    return count


def write_vics(library: HashSetLibrary, loaded: LoadedSet, out: TextIO) -> int:
    """A VICS 2.0 media file; PDQ goes into AlternativeHashes, as Project VIC carries it."""
    region = "UK" if loaded.info.profile == "uk" else "US"
    out.write('{"@odata.context": ' + json.dumps(VICS_CONTEXT.format(region)) + ', "value": [')
    count = 0
    for record in iter_records(library, loaded):
        media: dict[str, object] = {"MediaID": count + 1}
        if record.get("md5"):
            media["MD5"] = record["md5"].upper()
        if record.get("sha1"):
            media["SHA1"] = record["sha1"].upper()
        if record.get("sha256"):
            media["SHA256"] = record["sha256"].upper()
        if record["photodna"]:
            media["PhotoDNA"] = record["photodna"]
        if record.get("pdq"):
            media["AlternativeHashes"] = [{"HashName": "PDQ", "HashValue": record["pdq"]}]
        if record["category"] != "uncategorised":
            media["Category"] = int(record["category"]) if record["category"].isdigit() else record["category"]
        out.write(("," if count else "") + "\n  " + json.dumps(media))
        count += 1
    out.write("\n]}\n")
    return count


def export_set(library: HashSetLibrary, name: str, fmt: str, target: Path) -> int:
    (loaded,) = library.load([name])
    if loaded.videos is not None:
        raise HashSetError(f"{name} is a set of known videos (vPDQ): its hash files are the export")
    writer = {"csv": write_csv, "vics": write_vics}[fmt]
    with open(target, "w", encoding="utf-8", newline="") as out:
        return writer(library, loaded, out)
