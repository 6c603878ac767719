"""vPDQ of videos: agreement with Meta's sample hashes, matching re-encoded copies, and damaged or hostile files."""

from __future__ import annotations

import io
import math
from pathlib import Path

import av
import pytest

from fieldlab.demo import procedural_jpeg
from fieldlab.detect import video as video_module
from fieldlab.detect.perceptual import hamming
from fieldlab.detect.video import FrameHash, VideoDecodeError, VideoPdq, video_pdq
from tests.conftest import REALDATA
from tests.detect.media_builders import mp3_with_cover_art, procedural_video, reencode_video, still_video
from tests.detect.vpdq_reference import read_vpdq_file, vpdq_match

THREATEXCHANGE = REALDATA / "facebook__ThreatExchange"
SAMPLE_VIDEOS = sorted((THREATEXCHANGE / "tmk" / "sample-videos").glob("*.mp4"))
SAMPLE_HASHES = THREATEXCHANGE / "vpdq" / "sample-hashes"
WITH_128X128_HASHES = [p.stem for p in SAMPLE_VIDEOS if (SAMPLE_HASHES / f"{p.stem}-128x128.txt").is_file()]
MATCH = 31
MATCHING_SHARE = 0.8  # Meta's vPDQ rule: at least 80% of the known video's frames matched


@pytest.fixture(scope="module")
def sample_results() -> dict[str, VideoPdq]:
    return {path.stem: video_pdq(str(path)) for path in SAMPLE_VIDEOS}


def reference(name: str) -> list[FrameHash]:
    return read_vpdq_file(SAMPLE_HASHES / f"{name}.txt")


# --------------------------------------------------------------------------- Meta's sample videos


def test_the_sample_videos_are_there() -> None:
    assert len(SAMPLE_VIDEOS) == 5 and len(WITH_128X128_HASHES) == 4


@pytest.mark.parametrize("name", [p.stem for p in SAMPLE_VIDEOS])
def test_each_sampled_frame_is_within_31_bits_of_metas_hash_of_the_same_moment(
        sample_results: dict[str, VideoPdq], name: str) -> None:
    every_frame = reference(name)
    for frame in sample_results[name].frames:
        nearest = min(every_frame, key=lambda known: abs(known.timestamp - frame.timestamp))
        assert hamming(frame.pdq, nearest.pdq) <= MATCH, frame


@pytest.mark.parametrize("name", [p.stem for p in SAMPLE_VIDEOS])
def test_one_frame_a_second_is_sampled_from_the_start(sample_results: dict[str, VideoPdq], name: str) -> None:
    result = sample_results[name]
    assert result.partial is None and result.codec == "h264" and result.frame_rate == 30
    assert [f.timestamp for f in result.frames] == [float(s) for s in range(math.ceil(result.duration))]
    assert [f.frame for f in result.frames] == [30 * s for s in range(math.ceil(result.duration))]


@pytest.mark.parametrize("name", [p.stem for p in SAMPLE_VIDEOS])
def test_metas_every_frame_hashes_match_our_one_per_second_hashes(sample_results: dict[str, VideoPdq],
                                                                  name: str) -> None:
    """With our hashes as the known video, Meta's every-frame hashes match it; and every frame of ours is found."""
    ours, theirs = sample_results[name].frames, reference(name)
    assert vpdq_match(query=theirs, known=ours)[0] >= MATCHING_SHARE
    assert vpdq_match(query=ours, known=theirs)[1] == 1.0


@pytest.mark.parametrize("name", WITH_128X128_HASHES)
def test_metas_128x128_hashes_match_the_full_size_ones(name: str) -> None:
    small = read_vpdq_file(SAMPLE_HASHES / f"{name}-128x128.txt")
    assert vpdq_match(query=small, known=reference(name))[0] >= MATCHING_SHARE


def test_vpdq_file_is_read_line_by_line() -> None:
    frames = read_vpdq_file(SAMPLE_HASHES / "doorknob-hd-no-bar.txt")
    assert len(frames) == 120
    assert frames[1] == FrameHash(1, 100, bytes.fromhex(
        "dadb999c25266273529cadac8dcb52c22324ad3bce99726c38660d93c799f07c"), 0.033)


@pytest.mark.parametrize("line", ["1,100,abc,0.0", "1,100", "x,100," + "0" * 64 + ",0.0"])
def test_a_malformed_vpdq_line_is_reported_with_its_number(tmp_path: Path, line: str) -> None:
    path = tmp_path / "hashes.txt"
    path.write_text(f"0,100,{'0' * 64},0.000\n\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3"):
        read_vpdq_file(path)


# --------------------------------------------------------------------------- generated videos


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return procedural_video(tmp_path_factory.mktemp("video") / "original.mp4", seed=7)


@pytest.fixture(scope="module")
def original_hashes(original: Path) -> VideoPdq:
    return video_pdq(str(original))


def one_per_step(frames: tuple[FrameHash, ...], step: float) -> bool:
    """Sample k lies in the step ending at k steps: on a keyframe in it, or at its end."""
    return all(k * step - step < f.timestamp <= k * step for k, f in enumerate(frames))


def test_a_generated_video_is_described_and_sampled_once_a_second(original_hashes: VideoPdq) -> None:
    result = original_hashes
    assert (result.width, result.height, result.codec, result.frame_rate, result.duration) == (480, 360, "h264", 15, 10)
    assert len(result.frames) == 10 and one_per_step(result.frames, 1.0) and result.partial is None


def test_with_a_keyframe_every_second_every_sample_is_a_keyframe(tmp_path: Path) -> None:
    """The cheap path: one decoded frame per sample, as for phone videos."""
    path = procedural_video(tmp_path / "phone-like.mp4", seed=9, fps=15, gop=14)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keyframes = {round(float(p.pts * stream.time_base), 3) for p in container.demux(stream) if p.is_keyframe}
    result = video_pdq(str(path))
    assert len(result.frames) >= 10 and one_per_step(result.frames, 1.0)  # an 11th when a keyframe is in (9, 10]
    assert {f.timestamp for f in result.frames} <= keyframes


def test_a_smaller_harder_compressed_copy_matches(tmp_path: Path, original: Path,
                                                  original_hashes: VideoPdq) -> None:
    copy = video_pdq(str(reencode_video(original, tmp_path / "copy.mp4", size=(320, 240), crf=35)))
    assert copy.width == 320 and (tmp_path / "copy.mp4").stat().st_size < original.stat().st_size / 2
    assert vpdq_match(query=copy.frames, known=original_hashes.frames) == (1.0, 1.0)


@pytest.mark.parametrize("seed", [20, 21, 22])
def test_an_unrelated_video_does_not_match(tmp_path: Path, original_hashes: VideoPdq, seed: int) -> None:
    other = video_pdq(str(procedural_video(tmp_path / "other.mp4", seed=seed)))
    assert vpdq_match(query=other.frames, known=original_hashes.frames) == (0.0, 0.0)


def test_a_file_object_gives_the_same_hashes_as_a_path(original: Path, original_hashes: VideoPdq) -> None:
    with original.open("rb") as stream:
        assert video_pdq(stream) == original_hashes


class Unseekable(io.RawIOBase):
    """A pipe-like stream: reads forward only."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)


def test_an_unseekable_stream_is_decoded_straight_through_to_the_same_hashes(original: Path,
                                                                             original_hashes: VideoPdq) -> None:
    assert video_pdq(Unseekable(original.read_bytes())) == original_hashes


def test_a_still_video_keeps_one_frame(tmp_path: Path) -> None:
    result = video_pdq(str(still_video(tmp_path / "still.mp4", seed=3, seconds=6)))
    assert len(result.frames) == 1 and result.frames[0].timestamp == 0 and result.partial is None


def test_the_sample_limit_spreads_samples_over_the_whole_video(original: Path) -> None:
    result = video_pdq(str(original), max_samples=5)
    assert len(result.frames) == 5 and one_per_step(result.frames, 2.0) and result.partial is None


class SlowClock:
    """Stands in for the time module: every reading is 50 ms after the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 0.05
        return self.now


def test_the_time_limit_returns_what_was_hashed(monkeypatch: pytest.MonkeyPatch, original: Path) -> None:
    monkeypatch.setattr(video_module, "time", SlowClock())
    result = video_pdq(str(original), max_seconds_wall=2.0)
    assert 1 <= len(result.frames) < 10 and result.partial.startswith("time limit reached")


# --------------------------------------------------------------------------- damaged and hostile input


def test_a_truncated_video_with_its_index_first_gives_a_partial_result(tmp_path: Path, original: Path,
                                                                      original_hashes: VideoPdq) -> None:
    data = original.read_bytes()
    result = video_pdq(io.BytesIO(data[: len(data) * 6 // 10]))
    assert 1 <= len(result.frames) < len(original_hashes.frames)
    assert result.frames == original_hashes.frames[: len(result.frames)]
    assert result.partial is not None and ("decode error" in result.partial or "truncated" in result.partial)


def test_a_truncated_video_whose_index_was_at_the_end_raises_a_clear_error(tmp_path: Path) -> None:
    data = procedural_video(tmp_path / "index-last.mp4", seed=8, seconds=4, faststart=False).read_bytes()
    with pytest.raises(VideoDecodeError, match="truncated MP4"):
        video_pdq(io.BytesIO(data[: len(data) // 2]))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "cannot open"),
    (b"just some text, not a video\n" * 50, "cannot open"),
    (procedural_jpeg(1), "still image"),
], ids=["empty", "text", "jpeg"])
def test_what_is_not_a_video_raises_video_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(VideoDecodeError, match=message):
        video_pdq(io.BytesIO(data))


def test_frames_over_the_pixel_limit_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch,
                                                                 original: Path) -> None:
    monkeypatch.setattr(video_module, "MAX_FRAME_PIXELS", 480 * 360 - 1)
    with pytest.raises(VideoDecodeError, match="480x360 frames, over the 172,799 pixel limit"):
        video_pdq(str(original))


def test_cover_art_of_an_audio_file_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="no video stream in this mp3 file"):
        video_pdq(str(mp3_with_cover_art(tmp_path / "song.mp3")))


def test_the_report_pictures_and_review_thumbnails_share_the_video_guard(monkeypatch: pytest.MonkeyPatch,
                                                                       original: Path, tmp_path: Path) -> None:
    """One guard (``first_video_stream``) for every reader of videos: lowering its limit refuses the video for the
    report's picture and the review's sheet too, and cover art is no video for either."""
    from fieldlab.report.pictures import _first_frame
    from fieldlab.web.thumbnail_render import _video_sheet
    from fieldlab.web.thumbnails import ThumbnailUnavailable

    song = mp3_with_cover_art(tmp_path / "song.mp3")
    assert _first_frame(io.BytesIO(original.read_bytes())).size == (480, 360)
    with pytest.raises(VideoDecodeError, match="no video stream in this mp3 file"):
        _first_frame(io.BytesIO(song.read_bytes()))
    with pytest.raises(ThumbnailUnavailable, match="no video stream in this mp3 file"):
        _video_sheet(io.BytesIO(song.read_bytes()))
    monkeypatch.setattr(video_module, "MAX_FRAME_PIXELS", 480 * 360 - 1)
    with pytest.raises(VideoDecodeError, match="over the 172,799 pixel limit"):
        _first_frame(io.BytesIO(original.read_bytes()))
    with pytest.raises(ThumbnailUnavailable, match="over the 172,799 pixel limit"):
        _video_sheet(io.BytesIO(original.read_bytes()))


# --------------------------------------------------------------------------- Meta's matching rule


def frame(pdq: bytes, quality: int = 100) -> FrameHash:
    return FrameHash(0, quality, pdq, 0.0)


A, B, C = bytes(32), bytes([0xFF] * 32), bytes([0x0F] * 32)
NEAR_A = bytes([0x01] * 31) + b"\x00"  # 31 bits from A: still a match


def test_match_shares_count_distinct_hashes_on_each_side() -> None:
    known = [frame(A), frame(A), frame(B)]
    query = [frame(NEAR_A), frame(C)]
    assert vpdq_match(query, known) == (0.5, 0.5)


def test_frames_under_the_quality_floor_are_left_out_on_both_sides() -> None:
    assert vpdq_match([frame(A), frame(B, quality=49)], [frame(A), frame(C, quality=10)]) == (1.0, 1.0)
    assert vpdq_match([frame(A, quality=10)], [frame(A)]) == (0.0, 0.0)


def test_radius_bounds_a_frame_match() -> None:
    assert vpdq_match([frame(NEAR_A)], [frame(A)], radius=30) == (0.0, 0.0)
    assert vpdq_match([], [frame(A)]) == (0.0, 0.0)
