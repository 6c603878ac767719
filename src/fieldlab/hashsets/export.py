"""A compiled set written back out as CSV or VICS 2.0, record by record, as it was imported.

Exports stream: a set of tens of millions of records never sits in memory.
Categories are written as the profile's labels (``A``/``B``/``C`` or Project
VIC ``0``-``4``), which every profile maps back to themselves on import.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator, Mapping, TextIO

import numpy as np

from fieldlab.hashsets.compiled import KINDS, NO_DIGEST, PHOTODNA_FILE, iter_photodna, load_records
from fieldlab.hashsets.library import HashSetError, HashSetLibrary, LoadedSet
from fieldlab.hashsets.profiles import UNCATEGORISED

CHUNK = 100_000
VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#Media"


def iter_records(library: HashSetLibrary, loaded: LoadedSet) -> Iterator[dict[str, str]]:
    """Each source record: its category label, the hex of every digest it had, and its PhotoDNA if it had one."""
    table = load_records(library.folder / loaded.info.name)
    photodna = iter_photodna(library.folder / loaded.info.name)
    next_photodna = next(photodna, None)
    kinds = [k for k in KINDS if k in (table.dtype.names or ())]
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


def vics_category(label: str, codes: Mapping[str, int] | None = None) -> int | str | None:
    """A profile label as VICS ``Category``: its number (``codes``, or the label itself when it is one), else the
    label's text, which every profile maps back to itself on import; None for uncategorised (no Category)."""
    if label == UNCATEGORISED:
        return None
    if codes and label in codes:
        return codes[label]
    return int(label) if label.isdigit() else label


def vics_media(media_id: int, *, md5: str | None, sha1: str | None, sha256: str | None, category: str,
               pdq: str | None = None, photodna: str | None = None,
               codes: Mapping[str, int] | None = None) -> dict[str, object]:
    """The hashes and category of one VICS 2.0 ``Media``: hex upper-cased; SHA-256 and PDQ go into
    AlternativeHashes (the 2.0 model has no property for either), as Project VIC carries them."""
    media: dict[str, object] = {"MediaID": media_id}
    if md5:
        media["MD5"] = md5.upper()
    if sha1:
        media["SHA1"] = sha1.upper()
    if photodna:
        media["PhotoDNA"] = photodna
    alternatives = [("SHA256", sha256.upper() if sha256 else None), ("PDQ", pdq)]
    if any(value for _, value in alternatives):
        media["AlternativeHashes"] = [{**({"MD5": md5.upper()} if md5 else {}), "HashName": name, "HashValue": value}
                                      for name, value in alternatives if value]
    vics = vics_category(category, codes)
    if vics is not None:
        media["Category"] = vics
    return media


def write_vics(library: HashSetLibrary, loaded: LoadedSet, out: TextIO) -> int:
    """A VICS 2.0 media file, each record a Media (``vics_media``)."""
    region = "UK" if loaded.info.profile == "uk" else "US"
    out.write('{"@odata.context": ' + json.dumps(VICS_CONTEXT.format(region)) + ', "value": [')
    count = 0
    for record in iter_records(library, loaded):
        media = vics_media(count + 1, md5=record.get("md5"), sha1=record.get("sha1"), sha256=record.get("sha256"),
                           category=record["category"], pdq=record.get("pdq"), photodna=record["photodna"])
        out.write(("," if count else "") + "\n  " + json.dumps(media))
        count += 1
    out.write("\n]}\n")
    return count


def export_set(library: HashSetLibrary, name: str, fmt: str, *, target: Path) -> int:
    (loaded,) = library.load([name])
    if loaded.videos is not None:
        raise HashSetError(f"{name} is a set of known videos (vPDQ): its hash files are the export")
    writer = {"csv": write_csv, "vics": write_vics}[fmt]
    with open(target, "w", encoding="utf-8", newline="") as out:
        return writer(library, loaded, out)
