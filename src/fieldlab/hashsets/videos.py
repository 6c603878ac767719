"""Known videos compiled for vPDQ matching: every known video's frame hashes, in one near-match index.

vPDQ's rule (Meta): a query video matches a known one when at least 80% of
the known video's unique frames (quality >= 50) are within distance 31 of
some frame of the query.  Frames of all known videos share one index, so a
query video costs one batched search whatever the number of known videos;
the matched frames are then counted per video.

The rule assumes both sides were sampled at the same rate and phase.  They
are not: Meta's sample hash files hold every frame (30 per second) while the
scan samples one frame per second.  Measured on those samples, a query of
one frame per second matched 2-75% of the known videos' frames; reducing the
known videos to one frame per second still failed when the query's samples
fell half a second later (fast-changing videos move more than 31 bits in
half a second).  So the unit counted is the known video's *second*: a second
is matched when any of its frames is close to a query frame, and a video
matches when 80% of its seconds are.  For a known video hashed at one frame
per second this is exactly Meta's rule.  Files without timestamps count
each frame as its own second.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fieldlab.hashsets.formats.vpdq import KnownVideo
from fieldlab.hashsets.near import PdqIndex, build_index
from fieldlab.hashsets.records import MIN_PDQ_QUALITY as MIN_QUALITY
from fieldlab.hashsets.records import HashSetFileError

SAMPLE_SECONDS = 1.0
VIDEOS_FILE = "videos.json"
FRAMES_FILE = "video_frames.npy"
FRAME_SECOND_FILE = "video_frames.second.npy"
SECOND_VIDEO_FILE = "video_seconds.video.npy"
INDEX_NAME = "video_frames"


@dataclass(frozen=True)
class VideoMatch:
    query: int  # which query video of the batch
    video: int  # which known video
    fraction: float  # of the known video's seconds matched


class VideoColumnBuilder:
    """Collects known videos as they are parsed: their distinct good frames, each with its second."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes = array("B")
        self._frames = bytearray()
        self._frame_second = array("I")  # per frame: its second, numbered across the whole set
        self._second_video = array("I")  # per second: its video

    def add(self, video: KnownVideo, code: int) -> bool:
        """False when the video has no frame of usable quality (it could never be matched)."""
        kept = dict.fromkeys(
            (digest, _second(position, timestamp))
            for position, (quality, digest, timestamp) in enumerate(video.frames)
            if quality >= MIN_QUALITY
        )
        if not kept:
            return False
        number = len(self.names)
        self.names.append(video.name)
        self.codes.append(code)
        seconds: dict[int, int] = {}
        for digest, second in kept:
            if second not in seconds:
                seconds[second] = len(self._second_video)
                self._second_video.append(number)
            self._frames += digest
            self._frame_second.append(seconds[second])
        return True

    def __len__(self) -> int:
        return len(self.names)

    def save(self, folder: Path) -> int:
        frames = np.frombuffer(bytes(self._frames), dtype=np.uint8).reshape(-1, 32)
        np.save(folder / FRAMES_FILE, frames, allow_pickle=False)
        np.save(folder / FRAME_SECOND_FILE, np.frombuffer(self._frame_second.tobytes(), dtype=np.uint32), allow_pickle=False)
        np.save(folder / SECOND_VIDEO_FILE, np.frombuffer(self._second_video.tobytes(), dtype=np.uint32), allow_pickle=False)
        (folder / VIDEOS_FILE).write_text(json.dumps({"names": self.names, "codes": list(self.codes)}), encoding="utf-8")
        build_index(folder, frames, INDEX_NAME)
        return len(frames)


def _second(position: int, timestamp: float | None) -> int:
    return position if timestamp is None else int(timestamp // SAMPLE_SECONDS)


@dataclass(frozen=True)
class KnownVideos:
    names: list[str]
    codes: np.ndarray  # uint8 category code per video
    seconds: np.ndarray  # per video: how many seconds have a good frame
    frame_second: np.ndarray  # per indexed frame: its second
    second_video: np.ndarray  # per second: its video
    index: PdqIndex

    @classmethod
    def load(cls, folder: Path) -> KnownVideos | None:
        if not (folder / VIDEOS_FILE).is_file():
            return None
        listing = json.loads((folder / VIDEOS_FILE).read_text(encoding="utf-8"))
        frames = np.load(folder / FRAMES_FILE, mmap_mode="r", allow_pickle=False)
        frame_second = np.load(folder / FRAME_SECOND_FILE, allow_pickle=False)
        second_video = np.load(folder / SECOND_VIDEO_FILE, allow_pickle=False)
        names, codes = listing["names"], listing["codes"]
        if (len(frame_second) != len(frames) or len(names) != len(codes)
                or (len(frame_second) and frame_second.max() >= len(second_video))
                or (len(second_video) and second_video.max() >= len(names))):
            raise HashSetFileError(f"the known videos in {folder} are damaged: re-import the set")
        return cls(names, np.array(codes, dtype=np.uint8), np.bincount(second_video, minlength=len(names)),
                   frame_second, second_video, PdqIndex.load(folder, frames, INDEX_NAME))

    def match(self, query_frames: list[np.ndarray], radius: int = 31, threshold: float = 0.8) -> list[VideoMatch]:
        """Known videos of which at least ``threshold`` of the seconds hold a frame close to a query video's frame.

        ``query_frames``: per query video, its frame hashes (``(n, 32)`` uint8) of quality >= 50.
        """
        sizes = [len(f) for f in query_frames]
        if not sum(sizes):
            return []
        owners = np.repeat(np.arange(len(query_frames)), sizes)
        near = self.index.search(np.concatenate([f for f in query_frames if len(f)]), radius)
        seconds = len(self.second_video)
        # each (query video, known second) once, then counted per (query video, known video)
        pairs = np.unique(owners[near.query] * seconds + self.frame_second[near.entry])
        query_video, second = np.divmod(pairs, seconds)
        keys, matched = np.unique(query_video * len(self.names) + self.second_video[second], return_counts=True)
        query_video, video = np.divmod(keys, len(self.names))
        fraction = matched / self.seconds[video]
        return [VideoMatch(int(q), int(v), float(f)) for q, v, f in zip(query_video, video, fraction) if f >= threshold]
