"""What every evidence export makes of a case's rows (``case.item_rows``): deleted or unallocated, carved runs, times
in UTC, names and XML-safe text, and each item with its category where the charging table counts it.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Iterator, Mapping

from fieldlab.case.item_rows import ItemRow, case_created_at
from fieldlab.case.item_rows import iter_items as case_items
from fieldlab.case.store import CaseStore
from fieldlab.locator import Locator, LocatorError, parse_runs
from fieldlab.report.charging import CountedItem

DELETED = frozenset({"deleted", "orphan", "reallocated"})  # a name the file system no longer lists as live
UNALLOCATED = frozenset({"carved", "unallocated"})  # found in free space, not through any file system entry
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class CarvedRun:
    pieces: tuple[tuple[int, int], ...]  # (offset, length): one, or two for a file found in two fragments
    parent: str | None  # the locator of the item it was carved from; None: the exhibit's media itself

    @property
    def offset(self) -> int:
        return self.pieces[0][0]

    @property
    def length(self) -> int:
        return sum(length for _, length in self.pieces)


def iter_items(store: CaseStore, counted: Mapping[int, CountedItem] | None = None) -> Iterator[ItemRow]:
    """Every item of every exhibit, in exhibit then item order; ``counted`` (by item id) adds category and basis."""
    counted = counted or {}
    for item in case_items(store):
        yield with_count(item, counted.get(item.item_id))


def with_count(item: ItemRow, counted: CountedItem | None) -> ItemRow:
    """The item with its category and basis when the charging table counts it."""
    if counted is None:
        return item
    return replace(item, category=counted.category, basis=counted.basis, how=counted.how, hash_set=counted.hash_set)


def case_uuid(store: CaseStore) -> uuid.UUID:
    """A stable identifier of the case (from its creation record), so every export of it names the same case."""
    created = case_created_at(store)
    return uuid.uuid5(uuid.NAMESPACE_URL, f"fieldlab:case:{created or store.case_dir.resolve()}")


def utc_iso(seconds: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC (``...Z``); None for no time or one no calendar holds."""
    if seconds is None or not math.isfinite(seconds):
        return None
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def carved_run(locator: str) -> CarvedRun | None:
    """Where a carved item lies, from its locator's last ``carved:<offset>+<length>[,<offset>+<length>]`` layer."""
    try:
        parsed = Locator.parse(locator)
        if not parsed.layers or parsed.layers[-1].kind != "carved":
            return None
        pieces = parse_runs(parsed.layers[-1].value)
    except LocatorError:
        return None
    return CarvedRun(pieces, parsed.parent.to_text() if parsed.parent else None)


def file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def folder_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold (control characters, lone surrogates) as ``\\xNN`` escapes.

    Markup characters are left alone: the XML writer escapes those.
    """
    return _NOT_XML.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


