"""Known-video sets: Meta's vPDQ hash files imported from a folder, matched by the seconds of a known video covered."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fieldlab.hashsets.export import export_set
from fieldlab.hashsets.library import HashSetError, HashSetLibrary
from fieldlab.hashsets.matcher import HashMatcher
from fieldlab.hashsets.update import update_set
from tests.conftest import REALDATA

SAMPLES = REALDATA / "facebook__ThreatExchange" / "vpdq" / "sample-hashes"


def frames_of(path: Path, start: int, step: int) -> np.ndarray:
    """Every ``step``-th good frame from ``start``: how the scan samples a video, at a phase of its own."""
    rows = [line.split(",") for line in path.read_text().split()]
    good = [bytes.fromhex(r[2]) for r in rows if int(r[1]) >= 50][start::step]
    return np.frombuffer(b"".join(good), dtype=np.uint8).reshape(-1, 32)


def write_video(path: Path, seconds: list[bytes], per_second: int = 3, quality: int = 100) -> Path:
    lines, frame = [], 0
    for second, digest in enumerate(seconds):
        for k in range(per_second):
            lines.append(f"{frame},{quality},{digest.hex()},{second + k / per_second:.3f}")
            frame += 1
    path.write_text("\n".join(lines) + "\n")
    return path


def random_hashes(seed: int, count: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [bytes(r) for r in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def test_meta_sample_hash_files_import_and_a_one_per_second_sample_at_another_phase_matches(tmp_path: Path) -> None:
    library = HashSetLibrary(tmp_path / "home")
    report = library.import_file(SAMPLES, name="known-videos", category="A")
    assert report.info.format == "vpdq" and report.info.counts["videos"] == 9 and report.info.problems == 0
    assert report.info.per_category == {"A": 9}
    matcher = HashMatcher(library.load())
    names = ["pattern-hd-no-bar", "pattern-sd-grey-bar", "test-padded-dimensions"]
    queries = [frames_of(SAMPLES / f"{n}.txt", 15, 30) for n in names]  # mid-second: not the frames the set holds
    matches = matcher.match_videos(queries)
    for index, name in enumerate(names):
        mine = {m.matched_hash: m for m in matches if m.query_index == index}
        assert name in mine and mine[name].method == "vpdq" and mine[name].category == "A"
        assert mine[name].frames_matched_pct >= 80  # percent of the known video's seconds
    assert not any(m.matched_hash.startswith("doorknob") for m in matches)  # another video altogether


def test_categories_csv_gives_each_video_its_category_and_the_option_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "known"
    folder.mkdir()
    write_video(folder / "first.txt", random_hashes(1, 5))
    write_video(folder / "second.txt", random_hashes(2, 5))
    (folder / "categories.csv").write_text("file,category\nfirst.txt,B\n")
    report = HashSetLibrary(tmp_path / "home").import_file(folder, name="v", category="C")
    assert report.info.per_category == {"B": 1, "C": 1}


@pytest.mark.parametrize(
    "categories",
    [
        b"\xef\xbb\xbfFile Name\tCategory\r\nfirst.mp4\tB\r\nsecond.txt\t\r\n",  # BOM, TSV, the video's name
        b'"Video";"CATEGORY"\nC:\\seized\\first.mp4;B\n',  # semicolons, quoted names, a Windows path
        b"category,filename\nB,first\n",  # the category first, the name without an extension
    ],
)
def test_categories_csv_header_variants_name_each_video_and_its_category_reaches_the_match(
    tmp_path: Path, categories: bytes
) -> None:
    folder = tmp_path / "known"
    folder.mkdir()
    first = random_hashes(11, 5)
    write_video(folder / "first.txt", first)
    write_video(folder / "second.txt", random_hashes(12, 5))
    (folder / "categories.csv").write_bytes(categories)
    library = HashSetLibrary(tmp_path / "home")
    report = library.import_file(folder, name="v", category="C")
    assert report.info.per_category == {"B": 1, "C": 1} and report.info.problems == 0
    (match,) = HashMatcher(library.load()).match_videos([np.frombuffer(b"".join(first), np.uint8).reshape(-1, 32)])
    assert (match.matched_hash, match.method, match.category) == ("first", "vpdq", "B")


def test_a_categories_csv_without_a_file_column_is_a_problem_and_the_option_applies(tmp_path: Path) -> None:
    folder = tmp_path / "known"
    folder.mkdir()
    write_video(folder / "first.txt", random_hashes(13, 5))
    (folder / "categories.csv").write_text("md5,category\nabc,B\n")
    report = HashSetLibrary(tmp_path / "home").import_file(folder, name="v", category="C")
    assert report.info.per_category == {"C": 1}
    assert [p.line for p in report.problems] == [1] and "file" in report.problems[0].reason


def test_a_video_matches_when_80_percent_of_its_seconds_are_covered_and_not_below(tmp_path: Path) -> None:
    folder = tmp_path / "known"
    folder.mkdir()
    seconds = random_hashes(3, 10)
    write_video(folder / "ten-seconds.txt", seconds)
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(folder, name="v", category="A")
    matcher = HashMatcher(library.load())
    as_rows = lambda hashes: np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)  # noqa: E731
    nudged = [bytes([h[0] ^ 0xFF]) + h[1:] for h in seconds]  # 8 bits away: still close
    matches = matcher.match_videos([as_rows(nudged[:8]), as_rows(seconds[:7]), as_rows(random_hashes(4, 30))])
    assert [(m.query_index, m.distance, m.frames_matched_pct) for m in matches] == [(0, None, 80)]


def test_bad_lines_and_unusable_files_are_reported_with_their_file_and_the_rest_imported(tmp_path: Path) -> None:
    folder = tmp_path / "known"
    folder.mkdir()
    good = random_hashes(5, 3)
    (folder / "mixed.txt").write_text(
        f"0,100,{good[0].hex()},0.0\nnot,a,line\n1,100,{'zz' * 32},1.0\n2,101,{good[1].hex()},2.0\n"
        f"3,100,{good[2].hex()},nan\n4,100,{good[2].hex()},3.0\n"
    )
    write_video(folder / "blurry.txt", random_hashes(6, 3), quality=10)
    (folder / "empty.txt").write_text("\n")
    report = HashSetLibrary(tmp_path / "home").import_file(folder, name="v", category="A")
    assert report.info.counts["videos"] == 1
    reasons = [p.reason for p in report.problems]
    assert sum("mixed.txt" in r for r in reasons) == 4  # bad shape, bad hex, bad quality, bad timestamp
    assert any("blurry" in r and "quality" in r for r in reasons)
    assert any("empty.txt" in r and "no frame hashes" in r for r in reasons)


def test_a_folder_without_hash_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.txt").write_text("hello\n")
    with pytest.raises(HashSetError, match="no usable vPDQ"):
        HashSetLibrary(tmp_path / "home").import_file(tmp_path / "nothing", name="v")


def test_video_sets_are_replaced_not_updated_and_not_exported_as_digests(tmp_path: Path) -> None:
    folder = tmp_path / "known"
    shutil.copytree(SAMPLES, folder)
    library = HashSetLibrary(tmp_path / "home")
    library.import_file(folder, name="v", category="A")
    with pytest.raises(HashSetError, match="--replace"):
        update_set(library, "v", folder)
    with pytest.raises(HashSetError, match="known videos"):
        export_set(library, "v", "csv", target=tmp_path / "out.csv")
