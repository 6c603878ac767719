"""Perceptual matching of decoded media: PDQ (with rotations and mirrors) for pictures, vPDQ for videos."""

from __future__ import annotations

import numpy as np

from fieldlab.case.store import CaseStore, HitRecord
from fieldlab.detect.perceptual import DIHEDRAL_NAMES
from fieldlab.hashsets.matcher import HashMatcher, Match
from fieldlab.hashsets.videos import MIN_QUALITY
from fieldlab.results import MediaResult

REMATCH_CHUNK = 5_000
_TRANSFORMS = len(DIHEDRAL_NAMES)


class NearMatching:
    def __init__(self, matcher: HashMatcher, radius: int = 31) -> None:
        self.matcher, self.radius = matcher, radius

    def hits(self, results: list[MediaResult]) -> list[HitRecord]:
        pictures = [(r.item_id, r.dihedral) for r in results if r.kind == "image" and r.dihedral is not None and _usable(r)]
        videos = [(r.item_id, [bytes.fromhex(f.pdq) for f in r.frames if f.quality >= MIN_QUALITY]) for r in results
                  if r.kind == "video" and not r.error]
        return self._picture_hits(pictures) + self._video_hits(videos)

    def _picture_hits(self, pictures: list[tuple[int, bytes]]) -> list[HitRecord]:
        """Per picture and set, the closest known hash over the 8 transforms; the untransformed one wins ties."""
        if not pictures:
            return []
        rows = np.frombuffer(b"".join(d for _, d in pictures), dtype=np.uint8).reshape(-1, 32)
        best: dict[tuple[int, str], tuple[int, int, Match]] = {}
        for match in self.matcher.match_pdq(rows, self.radius):
            if match.known_good:
                continue
            picture, transform = divmod(match.query_index, _TRANSFORMS)
            key = (pictures[picture][0], match.hash_set)
            if key not in best or (_bits(match), transform) < best[key][:2]:
                best[key] = (_bits(match), transform, match)
        return [_record(item_id, m, _bits(m), DIHEDRAL_NAMES[t])
                for (item_id, _), (_, t, m) in sorted(best.items(), key=lambda e: e[0])]

    def _video_hits(self, videos: list[tuple[int, list[bytes]]]) -> list[HitRecord]:
        if not videos:
            return []
        frames = [np.frombuffer(b"".join(f), dtype=np.uint8).reshape(-1, 32) for _, f in videos]
        best: dict[tuple[int, str], Match] = {}
        for match in self.matcher.match_videos(frames, self.radius):
            key = (videos[match.query_index][0], match.hash_set)
            if not match.known_good and (key not in best or _share(match) > _share(best[key])):
                best[key] = match  # the known video this one covers best
        return [_record(item_id, m, _share(m), None) for (item_id, _), m in sorted(best.items(), key=lambda e: e[0])]

    def rematch(self, store: CaseStore, exhibit_id: int) -> None:
        """Media decoded by an earlier run, matched against today's sets (a set may have been added since).

        Through ``hits``, the very function that matched them when decoded: a second copy of its rules
        (quality, errors) once drifted, and re-running a scan added hits its first run had rightly refused."""
        after = 0
        while decoded := store.done_media(exhibit_id, after, REMATCH_CHUNK):
            store.add_hits(self.hits(decoded))
            after = decoded[-1].item_id


def _bits(match: Match) -> int:
    assert match.distance is not None, "a PDQ match has its differing bits"
    return match.distance


def _share(match: Match) -> int:
    assert match.frames_matched_pct is not None, "a vPDQ match has its share of frames matched"
    return match.frames_matched_pct


def _usable(result: MediaResult) -> bool:
    """Meta's rule: a PDQ of quality under 50 (a near-blank picture) matches too much to mean anything."""
    return not result.error and result.dihedral is not None and (result.pdq_quality or 0) >= MIN_QUALITY


def _record(item_id: int, match: Match, measure: int, transform: str | None) -> HitRecord:
    """The hit as stored: its one ``distance`` column holds a picture's differing bits or a video's percentage
    (the method says which), as the case schema has always kept it."""
    return HitRecord(
        item_id, match.hash_set, match.hash_set_sha256, match.profile, match.category, match.method, match.trust_rank,
        measure, transform, match.matched_hash,
    )
