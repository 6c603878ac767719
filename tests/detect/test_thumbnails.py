"""Thumbnail caches: real Windows caches give the pictures other tools extracted, generated ones round-trip,
and damage is reported in place, never fatal to the rest of the cache."""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import struct
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fieldlab.detect import thumbnails
from fieldlab.detect.thumbnails import (
    MAX_PICTURE_BYTES,
    ThumbnailCacheError,
    ThumbnailEntry,
    cache_kind,
    list_thumbnails,
    read_thumbnail,
)
from tests.conftest import REALDATA
from tests.detect.thumbnail_builders import (
    THUMBDATA_HEADER,
    THUMBDATA_SLOT,
    CachedPicture,
    CatalogPicture,
    compound_file,
    thumbcache,
    thumbdata,
    thumbnail,
    thumbs_db_streams,
    without_segments,
)

DERIVED = REALDATA / "_derived" / "thumbs"
WINDOWS_10_CACHE = REALDATA / "infosecstreams__huntress2023/forensics/Opposable-Thumbs/thumbcache_256.db"
XP_THUMBS_DBS = ["boneknuckleskin__libforensics/unittests/data/thumbsdb/thumbs.db", "berkus__thumbsdb/assets/Thumbs.db"]
ENTRY_HEADER = 56  # Windows 8 and later


def listing(data: bytes, kind: str) -> tuple[list[ThumbnailEntry], list[ThumbnailCacheError]]:
    found = list(list_thumbnails(io.BytesIO(data), len(data), kind))
    return ([e for e in found if isinstance(e, ThumbnailEntry)], [e for e in found if isinstance(e, ThumbnailCacheError)])


def pictures_of(data: bytes, kind: str) -> dict[str, bytes]:
    entries, _ = listing(data, kind)
    return {e.key: read_thumbnail(io.BytesIO(data), len(data), kind, e) for e in entries}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def cache_entry_offsets(cache: bytes) -> list[int]:
    return [match.start() for match in re.finditer(b"CMMM", cache)][1:]  # the first is the file header


@pytest.fixture(scope="module")
def windows_10_answers() -> dict:
    return json.loads((DERIVED / "thumbcache_256_entries.json").read_text())


@pytest.fixture(scope="module")
def windows_10_cache() -> bytes:
    return WINDOWS_10_CACHE.read_bytes()


@pytest.fixture(scope="module")
def pictures() -> list[CachedPicture]:
    return [CachedPicture(0x0D2DA8ADFB7DC237, thumbnail(1, 256, 192)), CachedPicture(0x0924BC51F9B84EE8, b""),
            CachedPicture(0x88FD4F656E4F2271, thumbnail(2, 192, 256), slack=6),
            CachedPicture(0x3FA8AAFDD63E1168, thumbnail(3, 256, 144)), CachedPicture(0xFFFFFFFFFFFFFFFF, thumbnail(4))]


@pytest.fixture(scope="module")
def xp_pictures() -> list[CatalogPicture]:
    return [CatalogPicture(i, f"holiday {i:02d} é.jpg", 1_262_304_000 + 86_400.5 * i, thumbnail(10 + i))
            for i in range(1, 13)]


# --------------------------------------------------------------------------- real Windows 10 thumbcache


def test_a_real_windows_10_cache_lists_all_22_entries_by_hash(windows_10_cache: bytes, windows_10_answers: dict) -> None:
    entries, problems = listing(windows_10_cache, cache_kind(windows_10_cache[:4096]))
    in_use = [a for a in windows_10_answers["entries"] if a["entry_hash"] != "0" * 16]  # the last one is free space
    assert problems == []
    assert [e.key for e in entries] == [a["entry_hash"] for a in in_use] and len(entries) == 22


def test_a_real_windows_10_cache_gives_the_five_pictures_thumbcache_viewer_extracted(
        windows_10_cache: bytes, windows_10_answers: dict) -> None:
    entries, _ = listing(windows_10_cache, "thumbcache")
    by_key = {e.key: e for e in entries}
    with_data = [a for a in windows_10_answers["entries"] if a["data_size"]]
    assert len(with_data) == 5
    for answer in with_data:
        entry = by_key[answer["entry_hash"]]
        assert entry.offset == answer["offset"] + ENTRY_HEADER + 2 * len(answer["identifier"])
        assert entry.size == answer["data_size"] and entry.note is None  # both checksums verified
        assert entry.kind == {"89504e47": "png", "ffd8ffe0": "jpeg"}[answer["data_magic"]]
        picture = read_thumbnail(io.BytesIO(windows_10_cache), len(windows_10_cache), "thumbcache", entry)
        assert md5(picture) == answer["data_md5"]
        assert decoded(picture).shape[:2] == (answer["height"], answer["width"])


def test_entries_windows_keeps_without_a_picture_are_listed_as_empty(windows_10_cache: bytes) -> None:
    entries, _ = listing(windows_10_cache, "thumbcache")
    empty = [e for e in entries if e.size == 0]
    assert len(empty) == 17
    assert all(e.note == "empty entry" and e.offset == -1 and e.kind == "unknown" for e in empty)
    assert read_thumbnail(io.BytesIO(windows_10_cache), len(windows_10_cache), "thumbcache", empty[0]) == b""


# --------------------------------------------------------------------------- real Windows XP Thumbs.db


@pytest.mark.parametrize("path", XP_THUMBS_DBS)
def test_a_real_xp_thumbs_db_gives_catalog_names_times_and_the_known_pictures(path: str) -> None:
    answer = json.loads((DERIVED / "thumbsdb_contents.json").read_text())[path]
    data = (REALDATA / path).read_bytes()
    assert cache_kind(data[:4096], Path(path).name) == "thumbs.db"
    entries, problems = listing(data, "thumbs.db")
    catalog = answer["catalog"]["entries"]
    assert problems == [] and len(entries) == answer["catalog"]["count"] == len(catalog)
    assert [(e.key, e.name) for e in entries] == [(c["stream"], c["name"]) for c in catalog]
    assert [c["stream"] for c in catalog] == [str(c["id"])[::-1] for c in catalog]
    for entry, record in zip(entries, catalog):
        when = datetime.fromisoformat(record["mtime_utc"]).replace(tzinfo=timezone.utc).timestamp()
        assert entry.modified == pytest.approx(when, abs=1e-6)
    streams = {s["name"]: s for s in answer["streams"]}
    for entry in entries:
        # The answer's MD5 is of the stream after its 12-byte header: these pictures need no repair.
        picture = read_thumbnail(io.BytesIO(data), len(data), "thumbs.db", entry)
        assert (md5(picture), len(picture)) == (streams[entry.key]["jpeg_md5"], streams[entry.key]["jpeg_size"])
        assert entry.kind == "jpeg" and entry.size == len(picture) and entry.note is None
        assert max(decoded(picture).shape[:2]) == 96


# --------------------------------------------------------------------------- recognising caches


def test_caches_are_recognised_by_their_first_bytes_and_android_ones_by_name(windows_10_cache: bytes) -> None:
    xp = compound_file(thumbs_db_streams([CatalogPicture(1, "a.jpg", 0.0, thumbnail(1))]))
    document = compound_file({"WordDocument": b"\0" * 100, "\x05SummaryInformation": b"\0" * 48})
    assert cache_kind(windows_10_cache[:4096]) == "thumbcache"
    assert cache_kind(xp[:4096]) == "thumbs.db"
    assert cache_kind(xp[:512]) == "ole"  # the directory lies beyond what was read: listing decides
    assert cache_kind(document[:4096]) is None
    assert cache_kind(b"IMMM" + bytes(20)) == cache_kind(bytes(4) + b"IMMM" + bytes(20)) == "thumbcache_idx"
    assert cache_kind(b"\x01" + bytes(100), ".thumbdata3--1967290299") == "thumbdata"
    assert cache_kind(b"\x01" + bytes(100), ".thumbdata4--1763508120") == "thumbdata"
    assert cache_kind(b"\x01" + bytes(100), "thumbdata.txt") is None
    assert cache_kind(thumbnail(1)[:4096]) is None


def test_a_thumbcache_index_is_recognised_and_holds_no_pictures() -> None:
    for index in (b"IMMM" + struct.pack("<5I", 21, 0, 3, 100, 0), struct.pack("<I", 0) + b"IMMM" + bytes(40)):
        assert listing(index, cache_kind(index)) == ([], [])


def test_files_that_are_not_the_cache_raise_at_once() -> None:
    document = compound_file({"WordDocument": b"\0" * 100})
    unknown_version = b"CMMM" + struct.pack("<I", 25) + bytes(64)
    for data, kind in [(b"not a cache at all" * 10, "thumbcache"), (unknown_version, "thumbcache"), (b"", "thumbcache"),
                       (b"not an OLE file" * 40, "thumbs.db"), (document, "ole"), (b"", "thumbs.db")]:
        with pytest.raises(ThumbnailCacheError):
            list_thumbnails(io.BytesIO(data), len(data), kind)  # raised by the call, before any iteration


# --------------------------------------------------------------------------- generated Windows thumbcache


@pytest.mark.parametrize("version", [20, 21, 30, 31, 32])
def test_a_generated_thumbcache_round_trips(pictures: list[CachedPicture], version: int) -> None:
    cache = thumbcache(pictures, version=version)
    entries, problems = listing(cache, cache_kind(cache[:4096]))
    assert problems == []
    assert [e.key for e in entries] == [f"{p.entry_hash:016x}" for p in pictures]
    assert [e.kind for e in entries] == ["jpeg", "unknown", "jpeg", "jpeg", "jpeg"]
    assert [e.note for e in entries] == [None, "empty entry", None, None, None]
    assert list(pictures_of(cache, "thumbcache").values()) == [p.picture for p in pictures]


def test_a_cache_of_a_newer_format_version_is_read_as_the_newest_known_one(pictures: list[CachedPicture]) -> None:
    cache = bytearray(thumbcache(pictures))
    struct.pack_into("<I", cache, 4, 33)
    entries, problems = listing(bytes(cache), "thumbcache")
    assert len(entries) == len(pictures)
    assert [str(p) for p in problems] == ["thumbcache format version 33 is newer than any known; read as version 32"]


def test_the_generated_windows_10_cache_is_laid_out_like_the_real_one(pictures: list[CachedPicture],
                                                                      windows_10_cache: bytes) -> None:
    cache = thumbcache(pictures)
    real_first, real_free = struct.unpack_from("<II", windows_10_cache, 16)
    first, free = struct.unpack_from("<II", cache, 16)
    assert cache[:12] == windows_10_cache[:12] and (real_first, first) == (24, 24)
    for data, free_at in ((windows_10_cache, real_free), (cache, free)):
        entry_size, entry_hash = struct.unpack_from("<IQ", data, free_at + 4)
        assert data[free_at:free_at + 4] == b"CMMM" and entry_hash == 0 and free_at + entry_size == len(data)
        assert len(data) % (1 << 20) == 0 and not any(data[free_at + ENTRY_HEADER:])


def test_a_picture_left_in_the_free_space_is_found_and_noted(pictures: list[CachedPicture]) -> None:
    cache = bytearray(thumbcache(pictures))
    live = cache_entry_offsets(bytes(cache))
    first_entry = bytes(cache[live[0]:live[1]])
    remnant_at = live[-1] + ENTRY_HEADER + 4096
    cache[remnant_at:remnant_at + len(first_entry)] = first_entry
    entries, problems = listing(bytes(cache), "thumbcache")
    assert problems == [] and len(entries) == 6
    remnant = entries[-1]
    assert remnant.key == f"{pictures[0].entry_hash:016x}@{remnant_at}"  # the address stays unique
    assert remnant.note == "found in the cache's free space"
    assert pictures_of(bytes(cache), "thumbcache")[remnant.key] == pictures[0].picture


def test_checksum_mismatches_are_noted_and_the_picture_still_given(pictures: list[CachedPicture]) -> None:
    cache = bytearray(thumbcache(pictures))
    first_picture = listing(bytes(cache), "thumbcache")[0][0].offset
    second = cache_entry_offsets(bytes(cache))[1]
    cache[first_picture + 100] ^= 0xFF  # the checksum covers the first 1024 bytes whole
    cache[second + 30] ^= 0x01  # the second entry's width field, which nothing else reads
    entries, problems = listing(bytes(cache), "thumbcache")
    assert problems == []
    assert entries[0].note == "data checksum mismatch"
    assert entries[1].note == "header checksum mismatch; empty entry"


# --------------------------------------------------------------------------- generated Thumbs.db


def test_a_generated_xp_thumbs_db_round_trips(xp_pictures: list[CatalogPicture]) -> None:
    data = compound_file(thumbs_db_streams(xp_pictures))
    entries, problems = listing(data, "thumbs.db")
    assert problems == []
    assert [(e.key, e.name, e.modified) for e in entries] == [
        (str(p.id)[::-1], p.name, p.modified) for p in xp_pictures]
    assert list(pictures_of(data, "thumbs.db").values()) == [p.picture for p in xp_pictures]


def test_a_listing_of_a_compound_file_of_unknown_kind_decides_it_is_a_thumbs_db(xp_pictures: list[CatalogPicture]) -> None:
    data = compound_file(thumbs_db_streams(xp_pictures))
    assert listing(data, "ole") == listing(data, "thumbs.db")


def test_a_thumbs_db_over_7_mb_is_read_through_its_continued_allocation_table_list() -> None:
    distinct = [thumbnail(seed, 160, 120) for seed in range(8)]
    pictures = [CatalogPicture(i, f"{i}.jpg", 0.0, distinct[i % 8]) for i in range(1, 2301)]
    data = compound_file(thumbs_db_streams(pictures))
    assert struct.unpack_from("<I", data, 72)[0] == 1  # the 109 sector numbers in the header did not suffice
    entries, problems = listing(data, "thumbs.db")
    assert problems == [] and len(entries) == len(pictures)
    assert read_thumbnail(io.BytesIO(data), len(data), "thumbs.db", entries[-1]) == pictures[-1].picture


def test_jpegs_stored_without_huffman_tables_are_repaired_to_the_same_picture() -> None:
    # libjpeg falls back on the standard Huffman tables by itself; other decoders (browsers, PDQ ports) need them.
    original = thumbnail(7)
    stored = without_segments(original, {0xC4})
    data = compound_file(thumbs_db_streams([CatalogPicture(1, "a.jpg", 0.0, stored)]))
    [entry], problems = listing(data, "thumbs.db")
    assert problems == [] and entry.note == "repaired: JPEG tables added"
    assert (entry.offset, entry.size) == (-1, len(stored))  # the stored bytes, not the repaired ones
    repaired = read_thumbnail(io.BytesIO(data), len(data), "thumbs.db", entry)
    assert np.array_equal(decoded(repaired), decoded(original))


def test_jpegs_stored_without_any_tables_get_the_standard_ones() -> None:
    original = thumbnail(8, quality=50)
    stored = without_segments(original, {0xC4, 0xDB})
    with pytest.raises(OSError):
        decoded(stored)
    data = compound_file(thumbs_db_streams([CatalogPicture(1, "a.jpg", 0.0, stored)]))
    [entry], _ = listing(data, "thumbs.db")
    repaired = read_thumbnail(io.BytesIO(data), len(data), "thumbs.db", entry)
    assert np.array_equal(decoded(repaired), decoded(original))  # quality 50 uses exactly the standard tables


def test_a_windows_7_thumbs_db_on_a_share_lists_its_named_streams() -> None:
    streams = {f"256_{seed:016x}": struct.pack("<6I", 24, 1, 0, 0, 0, 0) + thumbnail(seed, 256, 192) for seed in (3, 4)}
    data = compound_file(streams)
    assert cache_kind(data[:4096]) == "thumbs.db"
    entries, problems = listing(data, "thumbs.db")
    assert problems == [] and all(e.name is None and e.modified is None for e in entries)
    assert pictures_of(data, "thumbs.db") == {key: stream[24:] for key, stream in streams.items()}


def test_a_catalog_entry_whose_stream_is_gone_is_still_listed_for_its_name(xp_pictures: list[CatalogPicture]) -> None:
    streams = thumbs_db_streams(xp_pictures)
    del streams["5"]
    entries, problems = listing(compound_file(streams), "thumbs.db")
    gone = entries[4]
    assert problems == []
    assert (gone.key, gone.name, gone.size, gone.note) == ("5", xp_pictures[4].name, 0, "thumbnail stream missing")


# --------------------------------------------------------------------------- generated Android thumbdata


def test_a_generated_android_thumbdata_round_trips() -> None:
    exif_like = embedded_jpeg_in_app1(thumbnail(23), thumbnail(24, 40, 30))
    slots = {0: thumbnail(20), 3: thumbnail(21, 128, 96), 4: thumbnail(22, progressive=True), 7: exif_like}
    data = thumbdata(slots, stale={3: thumbnail(25)[1000:2500]})  # the tail of an older, longer thumbnail
    assert cache_kind(data[:4096], ".thumbdata3--1967290299") == "thumbdata"
    entries, problems = listing(data, "thumbdata")
    assert problems == []
    expected = {str(slot * THUMBDATA_SLOT + THUMBDATA_HEADER): jpeg for slot, jpeg in slots.items()}
    assert [e.key for e in entries] == list(expected) and all(e.kind == "jpeg" for e in entries)
    assert pictures_of(data, "thumbdata") == expected


def embedded_jpeg_in_app1(outer: bytes, inner: bytes) -> bytes:
    """``outer`` with an APP1 segment holding ``inner`` whole, as EXIF carries its own thumbnail."""
    segment = b"Exif\0\0" + inner
    return outer[:2] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + outer[2:]


def test_thumbdata_scanning_crosses_read_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    slots = {slot: thumbnail(30 + slot) for slot in range(6)}
    data = thumbdata(slots)
    monkeypatch.setattr(thumbnails, "_SCAN_WINDOW", 3 * THUMBDATA_SLOT + 17)  # a window edge falls inside a picture
    monkeypatch.setattr(thumbnails, "_MAX_THUMBDATA_JPEG", THUMBDATA_SLOT)
    assert list(pictures_of(data, "thumbdata").values()) == list(slots.values())


# --------------------------------------------------------------------------- damage: thumbcache


def test_a_truncated_cache_keeps_the_entries_before_the_cut(pictures: list[CachedPicture]) -> None:
    cache = thumbcache(pictures)
    cut = cache[:cache_entry_offsets(cache)[2] + 500]
    entries, problems = listing(cut, "thumbcache")
    assert [e.key for e in entries] == [f"{p.entry_hash:016x}" for p in pictures[:2]]
    assert len(problems) == 1 and "past the end of the file" in str(problems[0])


def test_an_entry_size_pointing_past_the_end_loses_only_that_entry(pictures: list[CachedPicture]) -> None:
    cache = bytearray(thumbcache(pictures))
    offsets = cache_entry_offsets(bytes(cache))
    struct.pack_into("<I", cache, offsets[2] + 4, 0xFFFFFFF0)
    entries, problems = listing(bytes(cache), "thumbcache")
    assert [e.key for e in entries] == [f"{p.entry_hash:016x}" for i, p in enumerate(pictures) if i != 2]
    assert len(problems) == 1 and str(offsets[2]) in str(problems[0])
    assert list(pictures_of(bytes(cache), "thumbcache").values()) == [p.picture for i, p in enumerate(pictures) if i != 2]


def test_garbage_between_and_after_entries_is_reported_once_each_and_skipped(pictures: list[CachedPicture]) -> None:
    cache = thumbcache(pictures)
    offsets = cache_entry_offsets(cache)
    garbage = random.Random(1).randbytes(3000)
    damaged = cache[:offsets[1]] + garbage + cache[offsets[1]:offsets[-1]] + garbage  # no free-space record at the end
    entries, problems = listing(damaged, "thumbcache")
    assert [e.key for e in entries] == [f"{p.entry_hash:016x}" for p in pictures]
    assert len(problems) == 2 and all("are not a cache entry" in str(p) for p in problems)


def test_a_huge_entry_count_in_the_header_is_not_trusted(pictures: list[CachedPicture]) -> None:
    cache = bytearray(thumbcache(pictures, version=21))
    struct.pack_into("<I", cache, 20, 0xFFFFFFFF)
    entries, problems = listing(bytes(cache), "thumbcache")
    assert problems == [] and len(entries) == len(pictures)


def test_a_cache_with_more_entries_than_the_limit_stops_with_a_problem(pictures: list[CachedPicture],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thumbnails, "MAX_ENTRIES", 3)
    cache = thumbcache(pictures)
    found = list(list_thumbnails(io.BytesIO(cache), len(cache), "thumbcache"))
    assert [type(f) for f in found] == [ThumbnailEntry] * 3 + [ThumbnailCacheError]


def test_a_file_of_nothing_but_signatures_ends_after_the_problem_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thumbnails, "MAX_PROBLEMS", 50)
    hostile = struct.pack("<4s5I", b"CMMM", 32, 4, 0, 24, 0) + b"CMMM\xff\xff\xff\xff" * 100_000
    found = list(list_thumbnails(io.BytesIO(hostile), len(hostile), "thumbcache"))
    assert len(found) == 51 and "the rest of the cache was not read" in str(found[-1])


# --------------------------------------------------------------------------- damage: Thumbs.db


def test_a_catalog_entry_with_a_bad_length_ends_the_catalog_but_every_picture_is_listed(
        xp_pictures: list[CatalogPicture]) -> None:
    for bad_length in (0xFFFF, 5):
        streams = thumbs_db_streams(xp_pictures)
        catalog = bytearray(streams["Catalog"])
        third = catalog.find(xp_pictures[2].name.encode("utf-16-le")) - 16
        struct.pack_into("<I", catalog, third, bad_length)
        streams["Catalog"] = bytes(catalog)
        data = compound_file(streams)
        entries, problems = listing(data, "thumbs.db")
        assert [e.name for e in entries[:2]] == [p.name for p in xp_pictures[:2]]
        assert all(e.name is None for e in entries[2:]) and len(entries) == len(xp_pictures)
        assert len(problems) == 1 and "Catalog entry 3" in str(problems[0])
        assert sorted(pictures_of(data, "thumbs.db").values()) == sorted(p.picture for p in xp_pictures)


def test_a_huge_catalog_count_is_reported_and_not_trusted(xp_pictures: list[CatalogPicture]) -> None:
    streams = thumbs_db_streams(xp_pictures)
    streams["Catalog"] = streams["Catalog"][:4] + struct.pack("<I", 0xFFFFFFFF) + streams["Catalog"][8:]
    entries, problems = listing(compound_file(streams), "thumbs.db")
    assert len(entries) == len(xp_pictures) and all(e.name for e in entries)
    assert [str(p) for p in problems] == [f"the Catalog header counts 4294967295 entries; it holds {len(xp_pictures)}"]


def fat_offset(data: bytes, sector: int) -> int:
    """Where the allocation table's entry for ``sector`` is (the builder's table fits in one list of the header)."""
    fat_sector = struct.unpack_from("<I", data, 76 + 4 * (sector // 128))[0]
    return (fat_sector + 1) * 512 + 4 * (sector % 128)


def test_cyclic_sector_chains_end_with_a_problem_instead_of_a_hang(xp_pictures: list[CatalogPicture]) -> None:
    streams = thumbs_db_streams(xp_pictures)
    streams["big"] = thumbnail(99, 400, 300)  # over 4096 bytes: in regular sectors
    data = bytearray(compound_file(streams))
    first_directory = struct.unpack_from("<I", data, 48)[0]
    struct.pack_into("<I", data, fat_offset(bytes(data), first_directory + 1), first_directory)  # directory loops
    entries, problems = listing(bytes(data), "thumbs.db")
    assert [str(p) for p in problems] == ["the directory loops back after 2 sectors: the rest of it is lost"]
    # Two directory sectors were read: the root, the Catalog and six thumbnail streams.
    assert len(entries) == len(xp_pictures)
    assert sum(e.note == "thumbnail stream missing" for e in entries) == len(xp_pictures) - 6

    data = bytearray(compound_file(streams))
    big = next(e for e in listing(bytes(data), "thumbs.db")[0] if e.key == "big")
    big_sector = big.offset // 512 - 1
    struct.pack_into("<I", data, fat_offset(bytes(data), big_sector + 1), big_sector + 1)  # a sector pointing to itself
    entries, problems = listing(bytes(data), "thumbs.db")
    assert problems == [] and len(entries) == len(xp_pictures) + 1
    assert next(e for e in entries if e.key == "big").note.startswith(
        "stream cut short (its sector chain loops back after 2 sectors): 1024 of")


def test_a_looping_mini_stream_chain_ends_with_a_problem(xp_pictures: list[CatalogPicture]) -> None:
    data = bytearray(compound_file(thumbs_db_streams(xp_pictures)))
    first_mini_fat_sector = struct.unpack_from("<I", data, 60)[0]
    mini_fat = (first_mini_fat_sector + 1) * 512
    struct.pack_into("<I", data, mini_fat + 4 * 1, 0)  # the Catalog's second mini sector leads back to its first
    entries, problems = listing(bytes(data), "thumbs.db")
    assert "the Catalog is damaged: stream cut short (its sector chain loops back after 2 sectors)" in str(problems[0])
    assert len(entries) == len(xp_pictures)


# --------------------------------------------------------------------------- damage: thumbdata


def test_a_damaged_or_cut_thumbdata_picture_is_reported_and_the_others_kept() -> None:
    slots = {slot: thumbnail(40 + slot) for slot in range(4)}
    data = bytearray(thumbdata(slots))
    second = THUMBDATA_SLOT + THUMBDATA_HEADER
    data[second + 4:second + 40] = bytes(36)  # its first segment length and what follows are gone
    data = bytes(data[:3 * THUMBDATA_SLOT + THUMBDATA_HEADER + 1000])  # and the last is cut off
    entries, problems = listing(data, "thumbdata")
    assert [e.key for e in entries] == [str(THUMBDATA_HEADER), str(2 * THUMBDATA_SLOT + THUMBDATA_HEADER)]
    assert len(problems) == 2 and str(second) in str(problems[0])


# --------------------------------------------------------------------------- reading is bounded


def test_reading_refuses_spans_outside_the_file_or_bigger_than_a_thumbnail() -> None:
    data = bytes(1000)
    for offset, size in [(900, 200), (-5, 10), (0, MAX_PICTURE_BYTES + 1)]:
        entry = ThumbnailEntry("x", None, offset, size, "jpeg", None, None)
        with pytest.raises(ThumbnailCacheError):
            read_thumbnail(io.BytesIO(data), len(data), "thumbcache", entry)


@pytest.mark.timeout(60)
def test_randomly_damaged_caches_yield_problems_never_other_exceptions(windows_10_cache: bytes,
                                                                       xp_pictures: list[CatalogPicture]) -> None:
    rng = random.Random(2024)
    samples = [(windows_10_cache[:100_000], "thumbcache"), ((REALDATA / XP_THUMBS_DBS[0]).read_bytes(), "thumbs.db"),
               (compound_file(thumbs_db_streams(xp_pictures)), "thumbs.db"),
               (thumbdata({slot: thumbnail(60 + slot) for slot in range(3)}), "thumbdata")]
    for original, kind in samples:
        for _ in range(150):
            damaged = bytearray(original)
            for _ in range(rng.randint(1, 12)):
                at = rng.randrange(len(damaged))
                damaged[at:at + 4] = rng.choice([rng.randbytes(4), b"\xff\xff\xff\xff", b"\0\0\0\0", b"\xfe\xff\xff\xff"])
            damaged = bytes(damaged[:rng.randint(len(damaged) // 2, len(damaged))])
            try:
                found = list(list_thumbnails(io.BytesIO(damaged), len(damaged), kind))
            except ThumbnailCacheError:
                continue  # no longer recognisable as the format at all
            for entry in (f for f in found if isinstance(f, ThumbnailEntry)):
                try:
                    picture = read_thumbnail(io.BytesIO(damaged), len(damaged), kind, entry)
                except ThumbnailCacheError:
                    continue
                assert len(picture) <= MAX_PICTURE_BYTES + 1000
