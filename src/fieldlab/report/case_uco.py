"""The examination and its counted images as CASE/UCO JSON-LD, the exchange format of the CASE community.

Written for CASE 1.5.0 / UCO 1.5.0, the release ``case_validate`` (PyPI ``case-utils``) checks by default:

- each exhibit is a ``case-investigation:ProvenanceRecord`` (``exhibitNumber``) of its source: the image file or
  folder as given, with the media hashes computed when the image was verified;
- the examination is one ``case-investigation:InvestigativeAction`` with fieldlab (name and version) as its
  ``instrument``, the examiner who ran the first scan as ``performer``, the exhibits' records as ``object``, and a
  record per exhibit of the images found on it as ``result``, between the first scan's start and the last's end;
- each counted copy is a ``uco-observable:File`` with a ``FileFacet`` (name, path in the exhibit, size, times,
  allocation) and a ``ContentDataFacet`` (size, MIME type, MD5/SHA1/SHA256 ``uco-types:Hash``); its category and
  basis under the profile are its tags.  A run carved from the media, or any item inside another (archive member,
  thumbnail), is ``Contained_Within`` its container, with the byte range where known.

Times are ``xsd:dateTime`` in UTC.  Identifiers are UUIDs derived from the case and the item, so exporting a case
twice names every node alike.  Evidence strings are JSON strings (``json.dumps`` escapes them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TextIO

from fieldlab import __version__
from fieldlab.case.audit import current_actor
from fieldlab.case.item_rows import ExhibitRow, ItemRow, exhibit_rows, items_at, items_by_id
from fieldlab.case.store import CaseStore
from fieldlab.hashsets.profiles import Profile
from fieldlab.report.case_items import (
    DELETED,
    UNALLOCATED,
    carved_run,
    case_uuid,
    file_name,
    utc_iso,
    with_count,
)
from fieldlab.report.charging import charging_table

CASE_VERSION = "1.5.0"
CONTEXT = {
    "kb": "http://example.org/kb/",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_HASHES = (("md5", "MD5"), ("sha1", "SHA1"), ("sha256", "SHA256"))
_SOURCE_TYPES = {"image": "uco-observable:File", "file": "uco-observable:File", "folder": "uco-observable:Directory"}


class _Ids:
    """Node identifiers: a UUID per (kind, key) within the case, the same on every export."""

    def __init__(self, case: uuid.UUID) -> None:
        self._case = case

    def __call__(self, kind: str, key: object) -> str:
        return f"kb:{kind}-{uuid.uuid5(self._case, f'{kind}:{key}')}"


def write_case_uco(store: CaseStore, out: TextIO, profile: Profile) -> int:
    """Write the JSON-LD graph; returns how many counted copies it describes."""
    table = charging_table(store, profile.name)
    ids = _Ids(case_uuid(store))
    exhibit_list = exhibit_rows(store)
    counted = {c.item_id: c for c in table.items}
    found = items_by_id(store, sorted(counted))
    rows = [with_count(found[i], counted[i]) for i in sorted(counted) if i in found]
    parents = _parents(store, rows)

    out.write('{\n  "@context": ' + json.dumps(CONTEXT) + ',\n  "@graph": [')
    nodes = _nodes(ids, exhibit_list, rows, parents, profile, _performer(store))
    for n, node in enumerate(nodes):
        out.write(("," if n else "") + "\n    " + json.dumps(node, ensure_ascii=False))
    out.write("\n  ]\n}\n")
    return len(rows)


def _nodes(ids: _Ids, exhibit_list: list[ExhibitRow], rows: list[ItemRow], parents: dict[int, ItemRow],
           profile: Profile, performer: str) -> Iterator[dict]:
    tool, examiner = ids("tool", f"fieldlab {__version__}"), ids("identity", performer)
    yield {"@id": tool, "@type": "uco-tool:Tool", "uco-core:name": "fieldlab", "uco-tool:version": __version__,
           "uco-tool:toolType": "forensic triage"}
    yield {"@id": examiner, "@type": "uco-identity:Person", "uco-core:name": performer}
    records, results = [], []
    for exhibit in exhibit_list:
        source, record, result = (ids(kind, exhibit.ref) for kind in ("exhibit-source", "provenance-record", "result"))
        records.append({"@id": record})
        results.append({"@id": result})
        yield _source(ids, source, exhibit)
        yield {"@id": record, "@type": "case-investigation:ProvenanceRecord",
               "case-investigation:exhibitNumber": exhibit.ref, "uco-core:object": [{"@id": source}]}
        on_exhibit = [r for r in rows if r.exhibit == exhibit.ref]
        yield {"@id": result, "@type": "case-investigation:ProvenanceRecord",
               "case-investigation:rootExhibitNumber": exhibit.ref,
               "uco-core:description": f"Images counted on exhibit {exhibit.ref} ({profile.name} profile)",
               "uco-core:object": [{"@id": ids("file", r.item_id)} for r in on_exhibit]}
    action = {"@id": ids("investigative-action", "examination"), "@type": "case-investigation:InvestigativeAction",
              "uco-core:name": "triage examination",
              "uco-core:description": "Scan of the exhibits for known and near-matching indecent images of children, "
                                      f"counted under the {profile.name} profile",
              "uco-action:instrument": {"@id": tool}, "uco-action:performer": {"@id": examiner},
              "uco-action:object": records, "uco-action:result": results}
    started = [e.scan_started_at for e in exhibit_list if e.scan_started_at is not None]
    finished = [e.scan_finished_at for e in exhibit_list if e.scan_finished_at is not None]
    if started:
        action["uco-action:startTime"] = _time(min(started))
    if finished and len(finished) == len(exhibit_list):
        action["uco-action:endTime"] = _time(max(finished))
    yield action
    sources = {e.ref: ids("exhibit-source", e.ref) for e in exhibit_list}
    written: set[int] = set()
    for row in rows:
        yield _file(ids, row, profile)
        written.add(row.item_id)
    for row in rows:
        parent = parents.get(row.item_id)
        if parent is not None and parent.item_id not in written:
            yield _file(ids, parent, None)
            written.add(parent.item_id)
        relation = _contained_within(ids, row, parent, sources.get(row.exhibit))
        if relation is not None:
            yield relation


def _source(ids: _Ids, node: str, exhibit: ExhibitRow) -> dict:
    facets: list[dict] = [{"@id": ids("file-facet", f"source:{exhibit.ref}"), "@type": "uco-observable:FileFacet",
                           "uco-observable:filePath": exhibit.source,
                           "uco-observable:isDirectory": exhibit.source_kind == "folder"}]
    hashes = [_hash(ids, method, exhibit.media_hashes[kind]) for kind, method in _HASHES
              if exhibit.media_hashes.get(kind)]
    if hashes:
        facets.append({"@id": ids("content-data-facet", f"source:{exhibit.ref}"),
                       "@type": "uco-observable:ContentDataFacet", "uco-observable:hash": hashes})
    return {"@id": node, "@type": _SOURCE_TYPES.get(exhibit.source_kind, "uco-observable:ObservableObject"),
            "uco-core:name": f"exhibit {exhibit.ref}", "uco-core:hasFacet": facets}


def _file(ids: _Ids, row: ItemRow, profile: Profile | None) -> dict:
    flags = row.flag_set
    status = "unallocated" if flags & UNALLOCATED else "deleted" if flags & DELETED else "allocated"
    file_facet: dict[str, object] = {
        "@id": ids("file-facet", row.item_id), "@type": "uco-observable:FileFacet",
        "uco-observable:fileName": file_name(row.path), "uco-observable:filePath": row.path,
        "uco-observable:sizeInBytes": row.size, "uco-observable:allocationStatus": status,
    }
    for prop, seconds in (("modifiedTime", row.mtime), ("accessedTime", row.atime),
                          ("metadataChangeTime", row.ctime), ("observableCreatedTime", row.btime)):
        if seconds is not None and utc_iso(seconds):
            file_facet[f"uco-observable:{prop}"] = _time(seconds)
    content: dict[str, object] = {"@id": ids("content-data-facet", row.item_id),
                                  "@type": "uco-observable:ContentDataFacet", "uco-observable:sizeInBytes": row.size}
    if row.mime:
        content["uco-observable:mimeType"] = row.mime
    hashes = [_hash(ids, method, getattr(row, kind)) for kind, method in _HASHES if getattr(row, kind)]
    if hashes:
        content["uco-observable:hash"] = hashes
    node: dict[str, object] = {"@id": ids("file", row.item_id), "@type": "uco-observable:File",
                               "uco-core:hasFacet": [file_facet, content]}
    description = [f"exhibit {row.exhibit}", f"locator {row.locator}"]
    if row.origin:
        description.append(f"path on the device {row.origin}")
    if profile is not None and row.category is not None:
        node["uco-core:tag"] = [f"{profile.name} category {row.category}", f"basis: {row.basis}"]
        description.append(f"{row.basis}: {row.how}")
    node["uco-core:description"] = "; ".join(description)
    return node


def _contained_within(ids: _Ids, row: ItemRow, parent: ItemRow | None, source: str | None) -> dict | None:
    run = carved_run(row.locator)
    if parent is not None:
        target = ids("file", parent.item_id)
    elif run is not None and run.parent is None and source is not None:
        target = source
    else:
        return None
    relation: dict[str, object] = {
        "@id": ids("relationship", row.item_id), "@type": "uco-observable:ObservableRelationship",
        "uco-core:source": {"@id": ids("file", row.item_id)}, "uco-core:target": {"@id": target},
        "uco-core:kindOfRelationship": "Contained_Within", "uco-core:isDirectional": True,
    }
    if run is not None:
        relation["uco-core:hasFacet"] = [{"@id": ids("data-range-facet", row.item_id),
                                          "@type": "uco-observable:DataRangeFacet",
                                          "uco-observable:rangeOffset": run.offset,
                                          "uco-observable:rangeSize": run.length}]
    return relation


def _hash(ids: _Ids, method: str, value: str) -> dict:
    return {"@id": ids("hash", f"{method}:{value.lower()}"), "@type": "uco-types:Hash",
            "uco-types:hashMethod": method, "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": value.lower()}}


def _time(seconds: float) -> dict[str, str | None]:
    return {"@type": "xsd:dateTime", "@value": utc_iso(seconds)}


def _performer(store: CaseStore) -> str:
    """Who examined: the examiner who started the first scan, else whoever exports."""
    first = next((e for e in store.audit.entries() if e.action == "scan_started"), None)
    return first.actor if first else current_actor()


def _parents(store: CaseStore, rows: list[ItemRow]) -> dict[int, ItemRow]:
    """Each item's container, where the container is itself an item of the exhibit (an archive, a photo)."""
    wanted: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        parent = row.locator.rpartition("|")[0]
        if parent:
            wanted.setdefault((row.exhibit, parent), []).append(row.item_id)
    containers = items_at(store, list(wanted))
    return {child: containers[place] for place, children in wanted.items() if place in containers for child in children}

