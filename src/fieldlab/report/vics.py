"""The case's counted images as a Project VIC VICS 2.0 case file, for Griffeye, CAID or another VICS tool.

One ``Case`` (``value[0]``) holds one ``Media`` per picture or video (VICS keys Media by MD5, so copies of one file
are one Media) with a ``MediaFile`` per copy: its name, folder, times, deleted and unallocated flags, the exhibit
(``SourceID``) and, for a run carved from the media, its offset (``PhysicalLocation``).  Field names and types are
those of the Project VIC 2.0 OData model (``ProjectVicDataModel.2.0.xml``); hashes and categories are written by
the hash-set exporter's ``vics_media``, so a case file and a hash-set export read back alike.

Categories: US profile as Project VIC's numbers 0-4.  UK profile: a force's own CAID numbers when its mapping file
(the one given to ``hashset import --mapping``) maps numbers to A/B/C; without one, the labels ``A``/``B``/``C``,
which is how our importer reads UK categories (the CAID numbers are not public, and we do not guess them).
A category from an examiner is not pre-categorised; a near match only is ``IsSuspected``: a lead, not a finding.

With ``all_media`` every other picture and video of the case follows, uncategorised, for review elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, groupby
from typing import TextIO

from fieldlab import __version__
from fieldlab.case.item_rows import ItemRow, iter_pictures_and_videos_by_md5, media_items_by_id
from fieldlab.case.store import CaseStore
from fieldlab.hashsets.export import vics_media
from fieldlab.hashsets.profiles import UNCATEGORISED, Profile
from fieldlab.report.case_items import (
    DELETED,
    UNALLOCATED,
    carved_run,
    case_uuid,
    file_name,
    folder_of,
    utc_iso,
    with_count,
)
from fieldlab.report.charging import CountedItem, charging_table

CASES_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#Cases"
_BYTE = range(256)  # VICS Category is an Edm.Byte
_EXIF_NAMES = {  # detect.exif.PhotoFacts field -> the EXIF tag name examiners know
    "make": "Make", "model": "Model", "serial": "BodySerialNumber", "lens": "LensModel", "software": "Software",
    "taken_local": "DateTimeOriginal", "taken_at": "DateTimeOriginalUTC", "gps_lat": "GPSLatitude",
    "gps_lon": "GPSLongitude", "gps_alt": "GPSAltitude", "orientation": "Orientation", "unique_id": "ImageUniqueID",
}


@dataclass(frozen=True)
class _Copy:
    item: ItemRow
    pdq: str | None
    exif: str | None
    counted: CountedItem | None


def category_codes(profile: Profile) -> dict[str, int]:
    """Label -> the VICS number for it: the profile's raw values that are numbers (US 0-4; a UK force's CAID codes
    from its mapping file), the smallest where several map to one label."""
    codes: dict[str, int] = {}
    for raw, label in sorted(profile.mapping.items(), key=lambda entry: (len(entry[0]), entry[0])):
        if raw.isdigit() and int(raw) in _BYTE and label != UNCATEGORISED:
            codes.setdefault(label, int(raw))
    return codes


def write_vics(store: CaseStore, out: TextIO, profile: Profile, *, all_media: bool = False) -> int:
    """Write the case file; returns how many MediaFiles (copies) it lists."""
    table = charging_table(store, profile.name)
    codes = category_codes(profile)
    case = {"CaseID": str(case_uuid(store)), "CaseNumber": store.case_dir.resolve().name,
            "SourceApplicationName": "fieldlab", "SourceApplicationVersion": __version__}
    region = "UK" if profile.name == "uk" else "US"
    out.write('{"@odata.context": ' + json.dumps(CASES_CONTEXT.format(region)) + ', "value": [\n  {'
              + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in case.items()) + ', "Media": [')
    media_count = precategorized = files = 0
    groups = _counted_groups(store, table.items)
    if all_media:
        groups = chain(groups, _other_media(store, {i.md5 for i in table.items if i.md5}))
    for copies in groups:
        media_count += 1
        record = _media(media_count, copies, codes, files)
        files += len(copies)
        precategorized += bool(record.get("IsPrecategorized"))
        out.write(("," if media_count > 1 else "") + "\n    " + json.dumps(record, ensure_ascii=False))
    out.write(f'\n  ], "TotalMediaFiles": {media_count}, "TotalPrecategorized": {precategorized}}}\n]}}\n')
    return files


def _media(media_id: int, copies: list[_Copy], codes: dict[str, int], first_file_id: int) -> dict[str, object]:
    first = copies[0]
    counted = next((c.counted for c in copies if c.counted), None)
    category = counted.category if counted else UNCATEGORISED
    sha256 = next((c.item.sha256 for c in copies if c.item.sha256), None)
    record = vics_media(media_id, md5=first.item.md5, sha1=first.item.sha1, sha256=sha256, category=category,
                        pdq=next((c.pdq for c in copies if c.pdq), None), photodna=None, codes=codes)
    record["IsPrecategorized"] = counted is not None and counted.basis != "examiner"
    if counted is not None:
        if counted.basis != "examiner" and counted.hash_set:
            record["PrecategorizationSource"] = counted.hash_set
        record["IsSuspected"] = counted.basis == "indicative"
        record["Comments"] = f"{counted.basis}: {counted.how}"
    record["MediaSize"] = first.item.size
    if first.item.mime:
        record["MimeType"] = first.item.mime
    exifs = _exifs(first.item.md5 or "", next((c.exif for c in copies if c.exif), None))
    if exifs:
        record["Exifs"] = exifs
    record["MediaFiles"] = [_media_file(c.item, first_file_id + n) for n, c in enumerate(copies, start=1)]
    return record


def _media_file(item: ItemRow, file_id: int) -> dict[str, object]:
    flags = item.flag_set
    values: dict[str, object | None] = {
        "MD5": (item.md5 or "").upper(), "MediaFileID": file_id, "FileName": file_name(item.path),
        "FilePath": folder_of(item.path), "Created": utc_iso(item.btime), "Written": utc_iso(item.mtime),
        "Accessed": utc_iso(item.atime), "Unallocated": bool(flags & UNALLOCATED), "Deleted": bool(flags & DELETED),
        "SourceID": item.exhibit,
    }
    run = carved_run(item.locator)
    if run is not None and run.parent is None:
        values["PhysicalLocation"] = run.offset
    return {k: v for k, v in values.items() if v is not None}


def _exifs(md5: str, exif_json: str | None) -> list[dict[str, str]]:
    try:
        facts = json.loads(exif_json) if exif_json else {}
    except ValueError:
        return []
    if not isinstance(facts, dict):
        return []
    found = []
    for key, name in _EXIF_NAMES.items():
        value = facts.get(key)
        if value is None:
            continue
        text = utc_iso(value) if key == "taken_at" and isinstance(value, (int, float)) else str(value)
        if text:
            found.append({"MD5": md5.upper(), "PropertyName": name, "PropertyValue": text, "PropertyGroup": "EXIF"})
    return found


def _counted_groups(store: CaseStore, counted: list[CountedItem]) -> Iterator[list[_Copy]]:
    """The counted copies by MD5, in the charging table's order; copies without an MD5 cannot be a VICS Media."""
    by_id = {c.item_id: c for c in counted if c.md5}
    rows = {item_id: _Copy(with_count(r.item, by_id[item_id]), r.pdq, r.exif, by_id[item_id])
            for item_id, r in media_items_by_id(store, list(by_id)).items()}
    order: dict[str, list[_Copy]] = {}
    for c in counted:
        if c.item_id in rows:
            order.setdefault(c.md5 or "", []).append(rows[c.item_id])
    yield from order.values()


def _other_media(store: CaseStore, counted_md5s: set[str]) -> Iterator[list[_Copy]]:
    """Every other picture and video with an MD5, grouped by it, streamed in MD5 order."""
    for md5, group in groupby(iter_pictures_and_videos_by_md5(store), key=lambda r: r.item.md5):
        if md5 not in counted_md5s:
            yield [_Copy(r.item, r.pdq, r.exif, None) for r in group]

