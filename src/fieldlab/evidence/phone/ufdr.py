"""Cellebrite UFDR report packages: which file in the package was which file on the phone.

A ``.ufdr`` is a zip holding ``report.xml`` and the extracted files sorted by
category (``files/Image/IMG_0001.jpg``), which loses their original paths.
``report.xml`` has, per file, ``<file path="/private/var/mobile/Media/DCIM/..."
deleted="Deleted" size="...">`` with ``<item name="Local Path">files\\Image\\...</item>``
in its ``File`` metadata section, and the device in ``<metadata section="Device Info">``.
Parsed as a stream (reports reach gigabytes): elements are dropped once read,
a document type declaration is refused (entity expansion is how XML bombs
work), and the counts of files and the text kept are bounded.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import BinaryIO

from fieldlab.device import DeviceFacts
from fieldlab.errors import EvidenceError

MAX_FILES = 5_000_000
MAX_TEXT = 4096
REPORT_NAMES = ("report.xml", "ufedreport.xml")

# Device Info item names seen in UFED reports, most specific first
_DEVICE_ITEMS = {
    "make": ("DeviceInfoDetectedManufacturer", "DeviceInfoSelectedManufacturer", "Vendor", "Manufacturer"),
    "model": ("DeviceInfoDetectedModel", "DeviceInfoSelectedDeviceName", "Model"),
    "product_type": ("DeviceInfoDetectedPhoneModel", "ProductType", "DeviceInfoProductType"),
    "os_version": ("DeviceInfoOSVersion", "OSVersion", "DeviceInfoAndroidVersion", "DeviceInfoVersion"),
    "serial": ("DeviceInfoSerial", "SerialNumber", "Serial"),
    "imei": ("IMEI", "DeviceInfoIMEI"),
    "iccid": ("ICCID", "DeviceInfoICCID"),
    "phone_number": ("MSISDN", "LastUsedMSISDN"),
    "device_name": ("DeviceInfoDeviceName", "DeviceName", "DeviceInfoUniqueID"),
}


class UfdrError(EvidenceError):
    """The report cannot be read; what was read before the damage is still returned by ``read_report``."""


@dataclass(frozen=True)
class UfdrFile:
    local_path: str  # inside the package, '/'-separated, as the zip names it
    device_path: str  # where the file was on the phone
    deleted: bool
    size: int | None


@dataclass
class UfdrReport:
    device: DeviceFacts | None
    files: list[UfdrFile] = field(default_factory=list)
    problem: str | None = None  # set when the report was damaged part-way: ``files`` holds what came before


def read_report(stream: BinaryIO, source: str) -> UfdrReport:
    head = stream.read(4096)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise UfdrError(f"{source}: a document type declaration is not accepted in a report")
    stream.seek(0)
    device_values: dict[str, str] = {}
    extraction: dict[str, str] = {}
    report = UfdrReport(None)
    section_stack: list[str | None] = []
    current: dict | None = None
    try:
        for event, element in ET.iterparse(stream, events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                if tag == "metadata":
                    section_stack.append(element.get("section"))
                elif tag == "file":
                    current = {"path": _text(element.get("path")), "deleted": (element.get("deleted") or "").lower(),
                               "size": element.get("size"), "local": None}
                elif tag == "extractionInfo" and not extraction:
                    extraction = {"type": _text(element.get("type")), "name": _text(element.get("name"))}
                continue
            if tag == "metadata":
                if section_stack:
                    section_stack.pop()
            elif tag == "item":
                section = section_stack[-1] if section_stack else None
                name = element.get("name") or ""
                if current is not None and name == "Local Path":
                    current["local"] = _text(element.text).replace("\\", "/").lstrip("/")
                elif current is None and section == "Device Info" and name not in device_values:
                    device_values[name] = _text(element.text).strip()
                elif current is None and section == "Extraction Data" and name not in device_values:
                    device_values[name] = _text(element.text).strip()
            elif tag == "file" and current is not None:
                if current["local"] and current["path"] and len(report.files) < MAX_FILES:
                    report.files.append(UfdrFile(current["local"], current["path"], current["deleted"] == "deleted",
                                                 _size(current["size"])))
                current = None
            element.clear()  # everything needed was taken at its start or end: keep memory flat
    except ET.ParseError as exc:
        report.problem = f"{source} is damaged ({exc}); the {len(report.files)} files listed before it are kept"
    report.device = _device(device_values, extraction, source)
    return report


def _device(values: dict[str, str], extraction: dict[str, str], source: str) -> DeviceFacts | None:
    found = {key: next((values[n] for n in names if values.get(n)), None) for key, names in _DEVICE_ITEMS.items()}
    if not any(found.values()):
        return None
    make = (found["make"] or "").lower()
    platform = "ios" if "apple" in make or "iphone" in (found["model"] or "").lower() else "android"
    started = values.get("DeviceInfoExtractionStartDateTime") or values.get("ExtractionStartDateTime")
    kind = " ".join(filter(None, ("UFDR", extraction.get("type")))) or "UFDR"
    return DeviceFacts(platform=platform, source=source, extraction=kind, extracted_at=_time(started), **found)


def _time(text: str | None) -> float | None:
    """UFED writes "06/05/2024 10:00:00(UTC+1)" (day first) or ISO 8601."""
    if not text:
        return None
    local = re.match(r"\s*(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\s*\(UTC([+-]\d{1,2})(?::?(\d{2}))?\))?", text)
    try:
        if local:
            day, month, year, hour, minute, second = (int(v) for v in local.groups()[:6])
            hours, minutes = int(local[7] or 0), int(local[8] or 0)
            zone = dt.timezone(dt.timedelta(hours=hours, minutes=minutes if hours >= 0 else -minutes))
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).timestamp()


def _size(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if 0 <= value < 1 << 50 else None


def _text(value: str | None) -> str:
    return (value or "")[:MAX_TEXT].replace("\0", "")
