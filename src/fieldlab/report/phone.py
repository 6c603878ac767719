"""Phones in a case, for the examiner's screen: the devices, what their galleries and manifests record, and the
pictures their own cameras may have taken.  Every value came from the suspect's device: rich markup is escaped."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timezone
from typing import Iterable, TextIO

from rich.markup import escape
from rich.table import Table

from fieldlab.case.phone import CameraMatch, DeviceRow, RecordCounts, RecordRow
from fieldlab.report.csv_safe import write_rows_csv

_DEVICE_FIELDS = ("platform", "make", "model", "product_type", "os_version", "build", "serial", "imei", "iccid",
                  "phone_number", "device_name", "extraction")


def devices_table(found: list[DeviceRow]) -> Table:
    table = Table(title="Devices", title_justify="left")
    for column in ("Exhibit", "Device", "OS", "Identifiers", "Extraction", "Described by"):
        table.add_column(column)
    for row in found:
        facts = row.facts
        device = " ".join(filter(None, (facts.make, facts.model, f"({facts.product_type})" if facts.product_type else None)))
        identifiers = ", ".join(f"{label} {value}" for label, value in
                                (("serial", facts.serial), ("IMEI", facts.imei), ("ICCID", facts.iccid),
                                 ("number", facts.phone_number)) if value)
        os_text = " ".join(filter(None, (facts.platform, facts.os_version, f"build {facts.build}" if facts.build else None)))
        extraction = " ".join(filter(None, (facts.extraction, _utc(facts.extracted_at))))
        table.add_row(*(escape(v or "") for v in (row.exhibit, device, os_text, identifiers, extraction, row.source_path)))
    return table


def records_table(exhibit: str, counts: list[RecordCounts]) -> Table:
    table = Table(title=f"Gallery and manifest records: {escape(exhibit)}", title_justify="left")
    for column in ("Source", "Records", "File here", "Referenced, not present", "In trash", "Hidden"):
        table.add_column(column, justify="left" if column == "Source" else "right")
    names = {"manifest": "iOS backup manifest", "photos": "iOS Photos.sqlite", "mediastore": "Android MediaStore",
             "ufdr": "UFDR report"}
    for c in counts:
        table.add_row(names.get(c.database, c.database), f"{c.records:,}", f"{c.files_present:,}",
                      f"{c.not_present:,}", f"{c.trashed:,}", f"{c.hidden:,}")
    return table


def camera_table(found: list[CameraMatch]) -> Table:
    table = Table(title="Pictures a seized device's camera may have taken (first generation?)", title_justify="left")
    for column in ("Item", "Exhibit", "Path", "EXIF camera", "Seized device"):
        table.add_column(column)
    for match in found:
        device = " ".join(filter(None, (match.device.exhibit, match.device.facts.model or match.device.facts.product_type)))
        table.add_row(str(match.item_id), escape(match.exhibit), escape(match.path), escape(match.camera), escape(device))
    return table


RECORD_COLUMNS = [f.name for f in fields(RecordRow)]


def write_records_csv(rows: Iterable[RecordRow], out: TextIO) -> int:
    return write_rows_csv(rows, RECORD_COLUMNS, out)


def _utc(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None
