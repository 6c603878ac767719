"""The demo case is what examiners see first and what other tests stand on: it must be exact."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from fieldlab.demo import VICS_CONTEXT, DemoCase, build_demo_case, procedural_jpeg, procedural_png
from fieldlab.hashsets.profiles import load_profile


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> DemoCase:
    return build_demo_case(tmp_path_factory.mktemp("demo") / "case")


def snapshot(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file's bytes and every entry's mtime, keyed by relative path."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes() if path.is_file() else None, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def evidence_digests(case: DemoCase) -> dict[str, tuple[str, str]]:
    return {
        path.relative_to(case.evidence_dir).as_posix(): (hashlib.md5(data := path.read_bytes()).hexdigest(),
                                                         hashlib.sha1(data).hexdigest())
        for path in case.evidence_dir.rglob("*") if path.is_file()
    }


def vics_media(case: DemoCase) -> list[dict]:
    document = json.loads(case.vics_path.read_text(encoding="utf-8"))
    assert document["@odata.context"] == VICS_CONTEXT
    (vics_case,) = document["value"]
    return vics_case["Media"]


def csv_rows(case: DemoCase) -> list[dict[str, str]]:
    with open(case.csv_path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("encode", "mime"), [(procedural_jpeg, "JPEG"), (procedural_png, "PNG")])
def test_procedural_images_decode_at_the_requested_size(encode, mime) -> None:
    with Image.open(io.BytesIO(encode(3, 200, 150))) as image:
        assert (image.format, image.size, image.mode) == (mime, (200, 150), "RGB")
        image.load()


def test_procedural_images_are_reproducible_per_seed_and_distinct_across_seeds() -> None:
    assert procedural_jpeg(5) == procedural_jpeg(5)
    assert procedural_png(5) == procedural_png(5)
    assert len({procedural_jpeg(seed, 64, 48) for seed in range(50)}) == 50


def test_procedural_jpeg_is_fast_enough_for_bulk_demos() -> None:
    started = time.perf_counter()
    for seed in range(20):
        procedural_jpeg(seed)
    assert (time.perf_counter() - started) / 20 < 0.05  # generous: a few ms on a laptop, shared CI is slower


def test_same_seed_builds_byte_identical_case_with_identical_times(tmp_path: Path) -> None:
    first, second = build_demo_case(tmp_path / "a", seed=11), build_demo_case(tmp_path / "b", seed=11)
    assert snapshot(first.evidence_dir) == snapshot(second.evidence_dir)
    for name in ("vics_path", "csv_path", "mapping_path"):
        assert getattr(first, name).read_bytes() == getattr(second, name).read_bytes()
    assert (first.planted, first.decoys) == (second.planted, second.decoys)


def test_different_seeds_plant_different_files(tmp_path: Path, case: DemoCase) -> None:
    other = build_demo_case(tmp_path / "other", seed=8)
    assert not {p.md5 for p in case.planted} & {p.md5 for p in other.planted}


def test_planted_digests_are_the_real_digests_of_the_files_on_disk(case: DemoCase) -> None:
    on_disk = evidence_digests(case)
    for planted in case.planted:
        assert on_disk[planted.relative_path] == (planted.md5, planted.sha1)


def test_every_known_file_has_unique_content_except_the_deliberate_copy(case: DemoCase) -> None:
    copies = Counter(p.md5 for p in case.planted)
    assert sorted(copies.values()) == [1] * (len(case.planted) - 2) + [2]
    duplicated = [p for p in case.planted if copies[p.md5] == 2]
    assert duplicated[0].relative_path != duplicated[1].relative_path
    assert duplicated[0].category == duplicated[1].category


def test_every_planted_hash_is_in_the_vics_file_and_the_csv_with_its_category(case: DemoCase) -> None:
    mapping = json.loads(case.mapping_path.read_text(encoding="utf-8"))
    vics = {m["MD5"]: (m["SHA1"], mapping[str(m["Category"])]) for m in vics_media(case)}
    rows = {r["md5"]: (r["sha1"], r["category"]) for r in csv_rows(case)}
    for planted in case.planted:
        assert vics[planted.md5.upper()] == (planted.sha1.upper(), planted.category)
        assert rows[planted.md5] == (planted.sha1, planted.category)


def test_decoys_make_the_hash_set_bigger_than_the_device_and_none_is_on_disk(case: DemoCase) -> None:
    unique_planted = {p.md5 for p in case.planted}
    media, rows = vics_media(case), csv_rows(case)
    assert case.decoys > 0
    assert len(media) == len(rows) == len(unique_planted) + case.decoys
    on_disk = {md5 for md5, _ in evidence_digests(case).values()}
    decoys = {m["MD5"].lower() for m in media} - unique_planted
    assert len(decoys) == case.decoys and not decoys & on_disk


def test_vics_file_uses_data_model_names_uppercase_hex_and_categories_1_to_3(case: DemoCase) -> None:
    for media in vics_media(case):
        assert media["IsPrecategorized"] is True and media["Category"] in (1, 2, 3)
        assert len(media["MD5"]) == 32 and media["MD5"] == media["MD5"].upper()
        assert len(media["SHA1"]) == 40 and media["SHA1"] == media["SHA1"].upper()
        assert media["MimeType"] in ("image/jpeg", "image/png") and media["MediaSize"] > 0
        assert {"FileName", "FilePath"} <= set(media["MediaFiles"][0])
    assert sorted(m["MediaID"] for m in vics_media(case)) == list(range(1, len(vics_media(case)) + 1))


def test_mapping_file_loads_as_a_uk_profile_override(case: DemoCase) -> None:
    profile = load_profile("uk", case.mapping_path)
    assert [profile.map(raw) for raw in ("1", "2", "3")] == ["A", "B", "C"]


@pytest.mark.parametrize("scale", [1, 2])
def test_categories_a_b_c_each_appear_at_least_twice_per_scale(tmp_path: Path, scale: int) -> None:
    built = build_demo_case(tmp_path / "case", scale=scale)
    counts = Counter(p.category for p in built.planted)
    assert set(counts) == {"A", "B", "C"} and min(counts.values()) >= 2 * scale
    assert built.decoys == 40 * scale


def test_a_known_file_hides_behind_a_lying_extension(case: DemoCase) -> None:
    disguised = [p for p in case.planted if p.relative_path.endswith((".txt", ".dat"))]
    assert disguised
    assert (case.evidence_dir / disguised[0].relative_path).read_bytes().startswith(b"\xff\xd8\xff")


def test_known_files_sit_in_temp_without_extension_in_recycle_bin_and_deep_folders(case: DemoCase) -> None:
    paths = [p.relative_path for p in case.planted]
    temp = [p for p in paths if p.startswith("Users/alex/AppData/Local/Temp/")]
    assert temp and "." not in temp[0].rsplit("/", 1)[1]
    assert any(p.startswith("$Recycle.Bin/") for p in paths)
    assert max(p.count("/") for p in paths) >= 12


def test_known_files_are_never_only_inside_zips(case: DemoCase) -> None:
    assert not any(".zip/" in p.relative_path or p.relative_path.endswith(".zip") for p in case.planted)
    assert (case.evidence_dir / "Users/alex/Downloads/holiday_pics.zip").is_file()


def test_zero_length_file_is_present(case: DemoCase) -> None:
    assert any(p.is_file() and p.stat().st_size == 0 for p in case.evidence_dir.rglob("*"))


def test_holiday_photos_carry_fake_camera_exif(case: DemoCase) -> None:
    photos = sorted((case.evidence_dir / "Users/alex/Pictures/Holiday 2019").glob("*.JPG"))
    assert photos
    with Image.open(photos[0]) as image:
        exif = image.getexif()
        assert exif[0x010F] and exif[0x0110]  # Make, Model
        assert exif.get_ifd(0x8769)[0x9003].startswith("2019:08:")  # DateTimeOriginal


def test_file_times_are_plausible_past_dates(case: DemoCase) -> None:
    for path in case.evidence_dir.rglob("*"):
        assert 1_500_000_000 < path.stat().st_mtime < time.time() - 86_400 * 365


def test_hash_sets_are_written_next_to_the_evidence_not_inside_it(case: DemoCase) -> None:
    for path in (case.vics_path, case.csv_path, case.mapping_path):
        assert path.parent == case.evidence_dir.parent / "hashsets"


def test_non_empty_destination_is_refused_and_left_untouched(tmp_path: Path) -> None:
    (tmp_path / "case").mkdir()
    (tmp_path / "case" / "keep.txt").write_text("examiner notes")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        build_demo_case(tmp_path / "case")
    assert [p.name for p in (tmp_path / "case").iterdir()] == ["keep.txt"]


def test_empty_destination_is_accepted_and_nothing_is_written_outside_it(tmp_path: Path) -> None:
    (tmp_path / "case").mkdir()
    build_demo_case(tmp_path / "case")
    assert [p.name for p in tmp_path.iterdir()] == ["case"]
    assert sorted(p.name for p in (tmp_path / "case").iterdir()) == ["evidence", "hashsets"]
