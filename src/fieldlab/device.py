"""What a phone extraction says about the device it came from.

The facts come from the device's own files (an iOS backup's ``Info.plist``,
Android's ``build.prop``, a Cellebrite ``report.xml``), so every value is
suspect-controlled text: kept as text, shown escaped, never interpreted
beyond comparison.  They matter twice: in the report (which device this
exhibit is) and for spotting pictures its own camera took (possible
first-generation material, the most urgent lead for safeguarding a child).

Shared vocabulary, like ``problems`` and ``locator``: the phone parsers (evidence/) write it, detect/ compares a
picture's camera with it, the case stores it; none of them depends on another for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DeviceFacts:
    platform: str  # android | ios
    source: str  # the file the facts were read from (display path inside the exhibit)
    make: str | None = None  # manufacturer as the device names itself: "Apple", "samsung"
    model: str | None = None  # marketing or model number as EXIF would carry it: "iPhone 7 Plus", "SM-G960F"
    product_type: str | None = None  # Apple's identifier ("iPhone9,3") or Android's ro.product.device
    os_version: str | None = None
    build: str | None = None
    serial: str | None = None
    imei: str | None = None
    iccid: str | None = None
    phone_number: str | None = None
    device_name: str | None = None  # the owner's name for it: "Joe's iPhone"
    extraction: str | None = None  # backup | logical | full file system | ufdr ...
    extracted_at: float | None = None  # UTC seconds, where the extraction records it

    def to_json_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}
