"""Every item of the case as Digital Forensics XML, for tools that read fiwalk's output (and for diffing two scans).

One ``<fileobject>`` per item, its children in the order the schema fixes: ``filename`` (the path in the exhibit),
``id`` (the item id the CLI and review app take), ``name_type``, ``filesize``, ``alloc`` (0 for deleted, orphan and
carved items; ``alloc_inode``/``alloc_name`` for a name whose metadata entry went to another file), ``orphan``,
``inode`` (the file system's metadata address), the four times in ISO 8601 UTC, ``link_target``, a ``byte_run``
for an item carved from the media (``carved:<offset>+<length>``: ``img_offset``), and MD5/SHA-1/SHA-256 digests.
What DFXML has no element for (exhibit, locator, the path on a phone, the app and place, the type fieldlab saw, the
category and basis under the profile) follows in fieldlab's own namespace, which the schema allows.

The ``<source>`` lists each exhibit's source as given; ``<metadata>`` says which exhibit is which.  Items stream
from the database through lxml's incremental writer, which escapes every evidence string.
"""

from __future__ import annotations

import getpass
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from typing import TYPE_CHECKING, BinaryIO

from lxml import etree

from fieldlab import __version__
from fieldlab.case.item_rows import ExhibitRow, ItemRow, exhibit_rows
from fieldlab.case.store import CaseStore
from fieldlab.hashsets.profiles import Profile
from fieldlab.hashsets.records import DIGEST_KINDS
from fieldlab.locator import Locator, LocatorError
from fieldlab.report.case_items import (
    DELETED,
    UNALLOCATED,
    carved_run,
    case_uuid,
    iter_items,
    utc_iso,
    xml_text,
)
from fieldlab.report.charging import charging_table

if TYPE_CHECKING:
    from lxml.etree._serializer import _IncrementalFileWriter

DFXML_VERSION = "1.2.0"
DFXML_NS = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
DC_NS = "http://purl.org/dc/elements/1.1/"
FIELDLAB_NS = "urn:fieldlab:dfxml:1"
NSMAP = {None: DFXML_NS, "dc": DC_NS, "fieldlab": FIELDLAB_NS}
_NAME_TYPES = {"file": "r", "symlink": "l"}
_LIBRARIES = ("lxml", "sqlalchemy", "pytsk3")


def write_dfxml(store: CaseStore, out: BinaryIO, profile: Profile) -> int:
    """Write the DFXML document; returns how many fileobjects it holds."""
    counted = {c.item_id: c for c in charging_table(store, profile.name).items}
    exhibit_list = exhibit_rows(store)
    count = 0
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(_df("dfxml"), version=DFXML_VERSION, nsmap=NSMAP):
            for element in (_metadata(store, exhibit_list, profile), _creator(), _source(exhibit_list)):
                _stream(xf, element, 1)
            for row in iter_items(store, counted):
                _stream(xf, _fileobject(row, profile), 1)
                count += 1
            xf.write("\n")
    out.write(b"\n")
    return count


def _stream(xf: _IncrementalFileWriter, element: etree._Element, depth: int) -> None:
    """Write ``element`` inside the open root, so the root's namespace declarations serve it (an element written
    whole would repeat them on every fileobject)."""
    xf.write("\n" + "  " * depth)
    with xf.element(element.tag, dict(element.attrib)):
        if element.text:
            xf.write(element.text)
        for child in element:
            _stream(xf, child, depth + 1)
        if len(element):
            xf.write("\n" + "  " * depth)


def _fileobject(row: ItemRow, profile: Profile) -> etree._Element:
    flags = row.flag_set
    obj = etree.Element(_df("fileobject"))
    _child(obj, "filename", row.path)
    _child(obj, "id", row.item_id)
    _child(obj, "name_type", _NAME_TYPES.get(row.kind, "-"))
    _child(obj, "filesize", row.size)
    if "reallocated" in flags:  # the name is deleted, its metadata entry belongs to another file now
        _child(obj, "alloc_inode", 1)
        _child(obj, "alloc_name", 0)
    else:
        _child(obj, "alloc", 0 if flags & (DELETED | UNALLOCATED) else 1)
    if "orphan" in flags:
        _child(obj, "orphan", 1)
    inode = _inode(row.locator)
    if inode is not None:
        _child(obj, "inode", inode)
    for name, seconds in (("mtime", row.mtime), ("ctime", row.ctime), ("atime", row.atime), ("crtime", row.btime)):
        _child(obj, name, utc_iso(seconds))
    _child(obj, "link_target", row.link_target)
    run = carved_run(row.locator)
    if run is not None:
        runs = etree.SubElement(obj, _df("byte_runs"))
        file_offset = 0
        for offset, length in run.pieces:  # a file found in two fragments: one byte_run each, as DFXML lists extents
            byte_run = etree.SubElement(runs, _df("byte_run"), file_offset=str(file_offset))
            byte_run.set("img_offset" if run.parent is None else _fl("parent_offset"), str(offset))
            byte_run.set("len", str(length))
            file_offset += length
    for kind in DIGEST_KINDS:
        digest = getattr(row, kind)
        if digest:
            _child(obj, "hashdigest", digest, type=kind)
    _extension(obj, "exhibit", row.exhibit)
    _extension(obj, "locator", row.locator)
    if run is not None and run.parent is not None:
        _extension(obj, "parent_locator", run.parent)
    for name in ("origin", "app", "place", "flags", "file_type", "mime", "state"):
        _extension(obj, name, getattr(row, name) or None)
    if row.known_good:
        _extension(obj, "known_good", "1")
    if row.category is not None:
        _extension(obj, "category", row.category, profile=profile.name, basis=row.basis or "", how=row.how or "")
    return obj


def _metadata(store: CaseStore, exhibit_list: list[ExhibitRow], profile: Profile) -> etree._Element:
    metadata = etree.Element(_df("metadata"))
    etree.SubElement(metadata, f"{{{DC_NS}}}type").text = "Triage examination: every item of every exhibit"
    etree.SubElement(metadata, _fl("case"), id=str(case_uuid(store)), profile=profile.name)
    for exhibit in exhibit_list:
        element = etree.SubElement(metadata, _fl("exhibit"), ref=xml_text(exhibit.ref),
                                   source=xml_text(exhibit.source), kind=exhibit.source_kind)
        if exhibit.hash_state:
            element.set("hash_state", exhibit.hash_state)
        for kind, digest in sorted(exhibit.media_hashes.items()):
            if kind in DIGEST_KINDS:
                etree.SubElement(element, _df("hashdigest"), type=kind).text = digest
    return metadata


def _creator() -> etree._Element:
    creator = etree.Element(_df("creator"))
    _child(creator, "program", "fieldlab")
    _child(creator, "version", __version__)
    environment = etree.SubElement(creator, _df("execution_environment"))
    uname = platform.uname()
    for name, value in (("os_sysname", uname.system), ("os_release", uname.release), ("os_version", uname.version),
                        ("host", uname.node), ("arch", uname.machine), ("command_line", " ".join(sys.argv)),
                        ("uid", str(os.getuid()) if hasattr(os, "getuid") else None), ("username", _username()),
                        ("start_time", datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"))):
        _child(environment, name, value or None)
    etree.SubElement(creator, _df("library"), name="python", version=platform.python_version())
    for library in _LIBRARIES:
        try:
            etree.SubElement(creator, _df("library"), name=library, version=package_metadata.version(library))
        except package_metadata.PackageNotFoundError:
            continue
    return creator


def _source(exhibit_list: list[ExhibitRow]) -> etree._Element:
    source = etree.Element(_df("source"))
    for exhibit in exhibit_list:
        _child(source, "image_filename", exhibit.source)
    return source


def _inode(locator: str) -> int | None:
    """The metadata address of a file-system entry (the ``fsfile:<address>:<path>`` layer it ends with)."""
    try:
        last = Locator.parse(locator).layers[-1]
    except (LocatorError, IndexError):
        return None
    if last.kind != "fsfile":
        return None
    address = last.value.partition(b":")[0]
    return int(address) if address.isdigit() else None


def _child(parent: etree._Element, name: str, value: object, **attributes: str) -> None:
    if value is None:
        return
    etree.SubElement(parent, _df(name), attributes).text = xml_text(str(value))


def _extension(parent: etree._Element, name: str, value: str | None, **attributes: str) -> None:
    if value is None:
        return
    element = etree.SubElement(parent, _fl(name), {k: xml_text(v) for k, v in attributes.items()})
    element.text = xml_text(value)


def _df(name: str) -> str:
    return f"{{{DFXML_NS}}}{name}"


def _fl(name: str) -> str:
    return f"{{{FIELDLAB_NS}}}{name}"


def _username() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None

