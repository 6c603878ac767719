"""Scoring a scan (fieldlab's or a peer's) against the truth: recall per class with a 95% Wilson interval,
false positives on the benign population, category agreement, and the charging table against the truth's own.

A finding is tied to a planted item through the hash it matched, never through a path: every planted item has
a known picture or video of its own, so the matched MD5/SHA-1, the known PDQ or the known video's name says
which item was found, wherever fieldlab found it (carved, a member, a stream).  A finding whose known item was
planted in another exhibit, or in none, is a false positive.

A class whose items cannot be reached (``truth.NOT_REACHABLE``: a password the examiner was not given) is scored
on its expected result instead: an item counts as found when the tool reported its container as encrypted in
its exhibit and matched nothing of it.  A peer reports no problems, so it scores none there.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

from fieldlab.validation.truth import NOT_REACHABLE, KnownItem, Truth

Z95 = 1.959963984540054
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    """One match a tool reported: in which exhibit, on which item, through which hash, with which category."""

    exhibit: str
    item: str  # the tool's own name for the item (fieldlab: its locator)
    path: str
    method: str  # md5, sha1, pdq, vpdq, ...
    matched: str  # the hash that matched: the item's MD5/SHA-1, or the known PDQ, or the known video's name
    category: str | None


@dataclass(frozen=True)
class ReportedProblem:
    """A problem a tool recorded: in which exhibit, what kind (``encrypted``, ...), on which path."""

    exhibit: str
    kind: str
    path: str


@dataclass(frozen=True)
class ClassScore:
    name: str
    description: str
    planted: int
    found: int
    recall: float
    low: float  # 95% Wilson interval
    high: float
    category_agreed: int  # of the found, those whose every finding carried the truth's category
    missed: tuple[str, ...]  # where up to MAX_EXAMPLES missed items hide


@dataclass(frozen=True)
class FalseFinding:
    exhibit: str
    path: str
    method: str
    reason: str


@dataclass(frozen=True)
class ChargingDifference:
    exhibit: str
    basis: str
    medium: str
    category: str
    expected: int
    reported: int


@dataclass(frozen=True)
class Score:
    classes: tuple[ClassScore, ...]
    planted: int
    found: int
    hit_items: int  # distinct items with a finding
    true_items: int  # of those, items whose finding names a known item planted in that exhibit
    precision: float | None  # None: nothing matched, so there is no precision to state
    benign_items: int
    benign_hit: int  # benign items with any finding: the false positives on the negative control
    false_findings: tuple[FalseFinding, ...]
    charging_differences: tuple[ChargingDifference, ...] | None  # None: the tool has no charging table


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval: unlike the normal approximation it stays inside [0, 1] and is honest for the
    small counts and 100% rates a validation corpus produces."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    denominator = 1 + z * z / trials
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


def score(truth: Truth, findings: list[Finding], reported_charging: dict[tuple[str, str, str, str], int] | None,
          problems: list[ReportedProblem] | None = None) -> Score:
    """``reported_charging`` maps (exhibit, basis, medium, category) to images counted; None for a peer, which
    reports no ``problems`` either."""
    known_by_hash: dict[str, KnownItem] = {}
    for known in truth.known:
        for value in (known.md5, known.sha1, known.pdq, known.ident):
            if value:
                known_by_hash[value.lower()] = known
    by_item: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        by_item[(finding.exhibit, finding.item)].append(finding)

    found: dict[str, list[Finding]] = defaultdict(list)
    false_findings: list[FalseFinding] = []
    true_items = 0
    for (exhibit, _), item_findings in sorted(by_item.items()):
        right = False
        for finding in item_findings:
            named = known_by_hash.get(finding.matched.lower())
            if named is not None and named.exhibit == exhibit:
                found[named.ident].append(finding)
                right = True
        if right:
            true_items += 1
        else:
            first = item_findings[0]
            reason = "matched no planted item" if known_by_hash.get(first.matched.lower()) is None \
                else f"matched {known_by_hash[first.matched.lower()].ident}, planted in another exhibit"
            false_findings.append(FalseFinding(exhibit, first.path, first.method, reason))

    classes = []
    for info in truth.classes:
        members = [k for k in truth.known if k.klass == info.name]
        if info.basis == NOT_REACHABLE:
            hit = [k for k in members if k.ident not in found and _reported_encrypted(k, problems or [])]
            agreed = len(hit)  # nothing matched, so no category could disagree
        else:
            hit = [k for k in members if k.ident in found]
            agreed = sum(1 for k in hit if all(f.category == k.category for f in found[k.ident]))
        low, high = wilson(len(hit), len(members))
        reached = {k.ident for k in hit}
        missed = tuple(f"{k.ident} ({k.exhibit}): {k.location}" for k in members if k.ident not in reached)
        classes.append(ClassScore(info.name, info.description, len(members), len(hit),
                                  len(hit) / len(members) if members else 0.0, low, high, agreed,
                                  missed[:MAX_EXAMPLES]))

    benign_paths = {(b.exhibit, b.path) for b in truth.benign}
    benign_hit = {(e, f.path) for (e, _), fs in by_item.items() for f in fs
                  if any(f.path.endswith("/" + p) or f.path == p for ex, p in benign_paths if ex == e)}
    return Score(
        tuple(classes), len(truth.known), sum(c.found for c in classes), len(by_item), true_items,
        true_items / len(by_item) if by_item else None, len(truth.benign), len(benign_hit), tuple(false_findings),
        None if reported_charging is None else _charging_differences(truth, reported_charging),
    )


def _reported_encrypted(known: KnownItem, problems: list[ReportedProblem]) -> bool:
    """Whether an ``encrypted`` problem names the item's container (or a member of it) in the item's exhibit."""
    if not known.container:
        return False
    names = re.compile(rf"(^|/){re.escape(known.container)}($| \u203a )")  # the file, or a member of it
    return any(p.exhibit == known.exhibit and p.kind == "encrypted" and names.search(p.path) for p in problems)


def expected_charging(truth: Truth) -> dict[tuple[str, str, str, str], int]:
    """The truth's own charging table: each planted item is one image, counted on the basis its class implies
    (an item out of reach is not charged)."""
    basis = {c.name: c.basis for c in truth.classes}
    table: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for known in truth.known:
        if basis[known.klass] != NOT_REACHABLE:
            table[(known.exhibit, basis[known.klass], known.medium, known.category)] += 1
    return dict(table)


def _charging_differences(truth: Truth, reported: dict[tuple[str, str, str, str], int]
                          ) -> tuple[ChargingDifference, ...]:
    expected = expected_charging(truth)
    return tuple(ChargingDifference(*key, expected.get(key, 0), reported.get(key, 0))
                 for key in sorted(expected.keys() | reported.keys()) if expected.get(key, 0) != reported.get(key, 0))
