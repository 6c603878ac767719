"""Matching item digests against the loaded hash sets, a batch at a time: exact digests, and PDQ within a radius."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from fieldlab.hashsets.compiled import WIDTHS
from fieldlab.hashsets.library import LoadedSet
from fieldlab.hashsets.records import EXACT_METHODS, MatchMethod


class Digested(Protocol):
    """What ``HashMatcher.match`` asks of each query: hex digests, any of them missing.  A scan's records of files
    read (``results.ReadDigests``) are matched as they are, with no query object made per file."""

    @property
    def md5(self) -> str | None: ...
    @property
    def sha1(self) -> str | None: ...
    @property
    def sha256(self) -> str | None: ...


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
    method: MatchMethod
    trust_rank: int
    known_good: bool
    distance: int | None = None  # PDQ matches only: differing bits
    matched_hash: str | None = None  # PDQ: the known hash (hex) that was close; vPDQ: the known video's name
    frames_matched_pct: int | None = None  # vPDQ matches only: percent of the known video's frames matched


class HashMatcher:
    def __init__(self, sets: Sequence[LoadedSet]) -> None:
        self.sets = tuple(sets)

    @property
    def versions(self) -> list[str]:
        return [s.info.version for s in self.sets]

    def holds(self, method: str) -> bool:
        """Whether any loaded set holds digests of this kind: the scan computes SHA-256 when one does."""
        return any(method in loaded.columns for loaded in self.sets)

    def match(self, queries: Sequence[Digested]) -> list[Match]:
        matches: list[Match] = []
        for method in EXACT_METHODS:
            holding = [(loaded, loaded.columns[method]) for loaded in self.sets if method in loaded.columns]
            if not holding:
                continue  # no set holds this kind: nothing to pack (a small file's batch is mostly packing)
            positions, packed = _pack(queries, method)
            if not positions:
                continue
            for loaded, column in holding:
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


    def match_pdq(self, hashes: np.ndarray, radius: int = 31) -> list[Match]:
        """Per query row (32-byte PDQ) and set, the closest known hash within ``radius`` bits."""
        matches: list[Match] = []
        for loaded in self.sets:
            if loaded.pdq_index is None or len(hashes) == 0:
                continue
            near = loaded.pdq_index.search(hashes, radius)
            order = np.lexsort((near.distance, near.query))  # per query, closest first
            closest = order[np.r_[True, near.query[order][1:] != near.query[order][:-1]]] if len(order) else order
            digests, codes = loaded.columns["pdq"].digests, loaded.columns["pdq"].codes
            for row in closest:
                entry = int(near.entry[row])
                matches.append(
                    Match(
                        query_index=int(near.query[row]),
                        hash_set=loaded.info.name,
                        hash_set_sha256=loaded.info.source_sha256,
                        profile=loaded.info.profile,
                        category=loaded.info.labels[codes[entry]],
                        method=MatchMethod.PDQ,
                        trust_rank=loaded.trust_rank,
                        known_good=loaded.info.known_good,
                        distance=int(near.distance[row]),
                        matched_hash=bytes(digests[entry]).ljust(32, b"\0").hex(),
                    )
                )
        return matches


    def match_videos(self, query_frames: list[np.ndarray], radius: int = 31, threshold: float = 0.8) -> list[Match]:
        """Known videos matched vPDQ-style by each query video's frames (quality >= 50, ``(n, 32)`` uint8)."""
        matches: list[Match] = []
        for loaded in self.sets:
            if loaded.videos is None:
                continue
            for found in loaded.videos.match(query_frames, radius, threshold):
                matches.append(
                    Match(
                        query_index=found.query,
                        hash_set=loaded.info.name,
                        hash_set_sha256=loaded.info.source_sha256,
                        profile=loaded.info.profile,
                        category=loaded.info.labels[loaded.videos.codes[found.video]],
                        method=MatchMethod.VPDQ,
                        trust_rank=loaded.trust_rank,
                        known_good=loaded.info.known_good,
                        frames_matched_pct=round(100 * found.fraction),
                        matched_hash=loaded.videos.names[found.video][:64],
                    )
                )
        return matches


def _pack(queries: Sequence[Digested], method: str) -> tuple[list[int], np.ndarray]:
    """Positions of the queries holding a ``method`` digest, and those digests as one ``S<width>`` array.  Digests of
    the expected length are converted in one ``fromhex`` (a small file's batch is mostly this packing); any other
    string is packed on its own, as numpy pads or cuts it, so it can never shift its neighbours."""
    width = WIDTHS[method]
    values = [getattr(query, method) for query in queries]
    positions = [index for index, value in enumerate(values) if value]
    present = [values[index] for index in positions]
    if all(len(value) == 2 * width for value in present):
        return positions, np.frombuffer(bytes.fromhex("".join(present)), dtype=f"S{width}")
    return positions, np.array([bytes.fromhex(value) for value in present], dtype=f"S{width}")
