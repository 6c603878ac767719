"""Category profiles: how a hash set's raw category values become the labels a case reports.

A UK case reports the Sentencing Council categories A, B, C; a US case reports
Project VIC 0-4.  The integer codes a UK CAID export uses are not public, so a
force supplies them in a mapping file (JSON object ``{"raw value": "label"}``)
rather than us guessing.  Raw values that a profile cannot map are imported as
uncategorised and counted in the import report, never dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from fieldlab.errors import HashSetError, OptionError

UNCATEGORISED = "uncategorised"


class ProfileError(HashSetError, ValueError):
    """A mapping file cannot be read, or maps to labels the profile does not have (a ValueError too, as always)."""


@dataclass(frozen=True)
class Profile:
    name: str
    labels: tuple[str, ...]  # most serious first: when two records disagree the earlier label wins
    descriptions: dict[str, str]
    mapping: dict[str, str] = field(default_factory=dict)  # normalised raw value -> label
    indecent: frozenset[str] = frozenset()  # labels that make a match a finding of illegal material

    def map(self, raw: str | None) -> str | None:
        """The label for ``raw``, UNCATEGORISED for an empty value, None when the value is unknown."""
        if raw is None or not raw.strip():
            return UNCATEGORISED
        return self.mapping.get(_normalise(raw))

    def severity(self, label: str) -> int:
        """Lower is more serious; unknown labels sort last."""
        try:
            return self.labels.index(label)
        except ValueError:
            return len(self.labels)

    def with_overrides(self, overrides: dict[str, str]) -> Profile:
        bad = sorted(set(overrides.values()) - set(self.labels))
        if bad:
            raise ProfileError(f"mapping names labels the {self.name} profile does not have: {', '.join(bad)}")
        merged = dict(self.mapping)
        merged.update({_normalise(k): v for k, v in overrides.items()})
        return Profile(self.name, self.labels, self.descriptions, merged, self.indecent)


def _normalise(raw: str) -> str:
    text = raw.strip().lower()
    text = re.sub(r"^(category|cat)[\s._-]*", "", text)
    return text


UK = Profile(
    name="uk",
    labels=("A", "B", "C", "non-indecent", UNCATEGORISED),
    descriptions={
        "A": "penetrative sexual activity, sexual activity with an animal, or sadism",
        "B": "non-penetrative sexual activity",
        "C": "other indecent images",
        "non-indecent": "not indecent",
        UNCATEGORISED: "known to the set, no category given",
    },
    mapping={
        "a": "A",
        "b": "B",
        "c": "C",
        "non-indecent": "non-indecent",
        "not indecent": "non-indecent",
        "nonindecent": "non-indecent",
        "uncategorised": UNCATEGORISED,
        "uncategorized": UNCATEGORISED,
    },
    indecent=frozenset({"A", "B", "C"}),
)

US = Profile(
    name="us",
    labels=("1", "2", "3", "4", "0", UNCATEGORISED),
    descriptions={
        "0": "non-pertinent",
        "1": "child abuse material",
        "2": "child exploitive / age difficult",
        "3": "CGI / animation",
        "4": "comparison images",
        UNCATEGORISED: "known to the set, no category given",
    },
    mapping={
        **{str(n): str(n) for n in range(5)},
        "non-pertinent": "0",
        "uncategorised": UNCATEGORISED,
        "uncategorized": UNCATEGORISED,
    },
    indecent=frozenset({"1", "2"}),
)

PROFILES = {p.name: p for p in (UK, US)}


def ordered_categories(present: Iterable[str]) -> list[str]:
    """Categories in the order of their profile (most serious first), UK before US, only those present."""
    present = set(present)
    ordered = [label for profile in PROFILES.values() for label in profile.labels]
    columns = [label for label in dict.fromkeys(ordered) if label in present and label != UNCATEGORISED]
    if UNCATEGORISED in present:
        columns.append(UNCATEGORISED)
    return columns + sorted(present - set(columns))


def load_profile(name: str, mapping_file: Path | None = None) -> Profile:
    try:
        profile = PROFILES[name]
    except KeyError:
        raise OptionError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}") from None
    if mapping_file is None:
        return profile
    try:
        overrides = json.loads(Path(mapping_file).read_text(encoding="utf-8-sig"))
    except ValueError as exc:  # not UTF-8, or not JSON
        raise ProfileError(f"{mapping_file}: not a JSON mapping file ({exc})") from None
    if not isinstance(overrides, dict) or not all(isinstance(v, str) for v in overrides.values()):
        raise ProfileError(f"{mapping_file}: a mapping file is a JSON object of raw value -> label")
    return profile.with_overrides({str(k): v for k, v in overrides.items()})
