"""Android extractions: the device named by ``build.prop``, and where an extraction keeps its shared storage.

``build.prop`` (``system/build.prop``, ``vendor/build.prop``, or a copy a
logical extraction makes) is ``key=value`` text written by the vendor: model,
manufacturer, OS release, build id.  Serial numbers and IMEIs are not there
on modern phones; the extraction tool's own report (UFDR) carries them.
"""

from __future__ import annotations

from fieldlab.device import DeviceFacts
from fieldlab.errors import EvidenceError

MAX_BUILD_PROP = 1 << 20
MAX_VALUE = 200
BUILD_PROP_NAMES = ("build.prop",)
# ro.product.* has several namespaced variants; the first one present wins
_KEYS = {
    "model": ("ro.product.model", "ro.product.system.model", "ro.product.vendor.model", "ro.product.odm.model"),
    "make": ("ro.product.manufacturer", "ro.product.system.manufacturer", "ro.product.vendor.manufacturer",
             "ro.product.brand"),
    "product_type": ("ro.product.device", "ro.product.system.device", "ro.product.vendor.device", "ro.product.name"),
    "os_version": ("ro.build.version.release", "ro.system.build.version.release",
                   "ro.vendor.build.version.release"),
    "build": ("ro.build.display.id", "ro.build.id", "ro.system.build.id"),
    "serial": ("ro.serialno", "ro.boot.serialno"),
}


class BuildPropError(EvidenceError):
    """Not a build.prop worth trusting: no product keys in it."""


def device_from_build_prop(data: bytes, source: str) -> DeviceFacts:
    values: dict[str, str] = {}
    for line in data[:MAX_BUILD_PROP].decode("utf-8", "replace").splitlines():
        key, separator, value = line.partition("=")
        key = key.strip()
        if separator and key and not key.startswith("#") and key not in values:
            values[key] = value.strip().replace("\0", "")[:MAX_VALUE]
    found = {field: next((values[k] for k in keys if values.get(k)), None) for field, keys in _KEYS.items()}
    if not found["model"] and not found["product_type"]:
        raise BuildPropError(f"{source} names no device (no ro.product.model)")
    return DeviceFacts(platform="android", source=source, extraction="file system", model=found["model"],
                       make=found["make"], product_type=found["product_type"], os_version=found["os_version"],
                       build=found["build"], serial=found["serial"])
