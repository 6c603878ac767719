"""Exact matching of item digests against the loaded hash sets, a batch at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fieldlab.hashsets.compiled import WIDTHS
from fieldlab.hashsets.library import LoadedSet

EXACT_METHODS = ("md5", "sha1", "sha256")


@dataclass(frozen=True)
class DigestQuery:
    """Hex digests of one item; any may be missing."""

    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Match:
    query_index: int  # position of the item in the batch
    hash_set: str
    hash_set_sha256: str
    profile: str
    category: str
    method: str
    trust_rank: int
    known_good: bool


class HashMatcher:
    def __init__(self, sets: Sequence[LoadedSet]) -> None:
        self.sets = tuple(sets)

    @property
    def versions(self) -> list[str]:
        return [s.info.version for s in self.sets]

    def match(self, queries: Sequence[DigestQuery]) -> list[Match]:
        matches: list[Match] = []
        for method in EXACT_METHODS:
            positions, packed = _pack(queries, method)
            if not positions:
                continue
            for loaded in self.sets:
                column = loaded.columns.get(method)
                if column is None:
                    continue
                codes = column.lookup(packed)
                for hit in np.flatnonzero(codes >= 0):
                    matches.append(
                        Match(
                            query_index=positions[hit],
                            hash_set=loaded.info.name,
                            hash_set_sha256=loaded.info.source_sha256,
                            profile=loaded.info.profile,
                            category=loaded.info.labels[codes[hit]],
                            method=method,
                            trust_rank=loaded.trust_rank,
                            known_good=loaded.info.known_good,
                        )
                    )
        return matches


def _pack(queries: Sequence[DigestQuery], method: str) -> tuple[list[int], np.ndarray]:
    positions, raw = [], []
    for index, query in enumerate(queries):
        value = getattr(query, method)
        if value:
            positions.append(index)
            raw.append(bytes.fromhex(value))
    return positions, np.array(raw, dtype=f"S{WIDTHS[method]}")
