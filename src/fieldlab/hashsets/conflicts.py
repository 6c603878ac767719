"""Where hash sets disagree: the same digest under different categories in two known-bad sets.

The rule that decides an item's category is in ``case.read_rows.deciding_category``: the most trusted set's
category wins (``fieldlab hashset trust``), then the most serious. This module only finds the disagreements
so that an examiner can see them, and so that a report can say they were looked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Iterator, Sequence

import numpy as np

from fieldlab.hashsets.library import LoadedSet
from fieldlab.hashsets.records import DIGEST_KINDS, DigestKind


@dataclass(frozen=True)
class Conflict:
    kind: DigestKind
    digest: str  # lowercase hex
    trusted_set: str
    trusted_category: str
    other_set: str
    other_category: str


def find_conflicts(sets: Sequence[LoadedSet]) -> Iterator[Conflict]:
    """Every disagreement between two known-bad sets, the more trusted set first in each."""
    bad = sorted((s for s in sets if not s.info.known_good), key=lambda s: s.trust_rank)
    for trusted, other in combinations(bad, 2):
        for kind in (k for k in DIGEST_KINDS if k in trusted.columns and k in other.columns):
            a, b = trusted.columns[kind], other.columns[kind]
            common, in_a, in_b = np.intersect1d(a.digests, b.digests, assume_unique=True, return_indices=True)
            labels_a = np.asarray(trusted.info.labels, dtype=object)[a.codes[in_a]]
            labels_b = np.asarray(other.info.labels, dtype=object)[b.codes[in_b]]
            for index in np.flatnonzero(labels_a != labels_b):
                yield Conflict(
                    kind, bytes(common[index]).ljust(a.digests.dtype.itemsize, b"\0").hex(),
                    trusted.info.name, labels_a[index], other.info.name, labels_b[index],
                )
