"""Fuzzing the thumbnail-cache parsers (Windows thumbcache, Thumbs.db) and the EXIF parsers (camera facts, the
EXIF thumbnail's run): mutated real caches and photos end within a time bound with a result, a recorded problem
or the one exception class each promises; never a hang, never another exception, never an unbounded result."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, UnidentifiedImageError

from fieldlab.detect.exif import photo_facts
from fieldlab.detect.exif_thumbnail import APP1_MAX, exif_thumbnail_run, thumbnail_run_in_tiff
from fieldlab.detect.thumbnails import (
    MAX_PICTURE_BYTES,
    ThumbnailCacheError,
    ThumbnailEntry,
    list_thumbnails,
    read_thumbnail,
)
from tests.conftest import REALDATA
from tests.fuzz_support import FUZZ, mutated, within

THUMBCACHES = [
    (REALDATA / "infosecstreams__huntress2023/forensics/Opposable-Thumbs/thumbcache_256.db").read_bytes()[:96_000],
    (REALDATA / "fox-it__dissect.thumbcache/tests/data/windows_10/thumbcache_idx.db").read_bytes(),
    (REALDATA / "fox-it__dissect.thumbcache/tests/data/windows_11/thumbcache_32.db").read_bytes()[:64_000],
]
THUMBS_DBS = [(REALDATA / "berkus__thumbsdb/assets/Thumbs.db").read_bytes(),
              (REALDATA / "boneknuckleskin__libforensics/unittests/data/thumbsdb/thumbs.db").read_bytes()]
PHOTOS = [(REALDATA / "ianare__exif-samples/jpg" / name).read_bytes()[:80_000]
          for name in ("Canon_40D.jpg", "Nikon_D70.jpg", "Reconyx_HC500_Hyperfire.jpg", "long_description.jpg",
                       "gps/DSCN0010.jpg")]


def _exercise_cache(data: bytes, kind: str) -> None:
    try:
        found = list(list_thumbnails(io.BytesIO(data), len(data), kind))
    except ThumbnailCacheError:
        return
    for entry in found:
        if isinstance(entry, ThumbnailCacheError):
            continue
        assert isinstance(entry, ThumbnailEntry)
        try:
            picture = read_thumbnail(io.BytesIO(data), len(data), kind, entry)
        except ThumbnailCacheError:
            continue
        assert len(picture) <= min(MAX_PICTURE_BYTES, len(data))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("kind", "seeds"), [("thumbcache", THUMBCACHES), ("thumbs.db", THUMBS_DBS)])
@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_mutated_thumbnail_caches_end_with_entries_or_a_problem(kind: str, seeds: list[bytes],
                                                                data: st.DataObject) -> None:
    cache = data.draw(mutated(seeds))
    with within():
        _exercise_cache(cache, kind)


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns of each corrupt tag it skips
@settings(FUZZ, max_examples=200)
@given(photo=mutated(PHOTOS))
def test_mutated_photos_give_exif_facts_and_a_thumbnail_run_or_none(photo: bytes) -> None:
    with within():
        run = exif_thumbnail_run(io.BytesIO(photo))
        if run is not None:
            offset, length = run
            assert 0 <= offset and 0 < length and offset + length <= len(photo) + APP1_MAX
        try:
            image = Image.open(io.BytesIO(photo))
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            return  # Pillow no longer sees a picture: nothing for the EXIF reader
        with image:
            photo_facts(image)


@settings(FUZZ, max_examples=200)
@given(tiff=st.one_of(st.binary(max_size=600), mutated([p[p.find(b"Exif\0\0") + 6:][:4000] for p in PHOTOS])),
       start=st.integers(0, 1 << 20))
def test_any_exif_block_gives_a_thumbnail_run_inside_it_or_none(tiff: bytes, start: int) -> None:
    with within():
        run = thumbnail_run_in_tiff(tiff, start)
    if run is not None:
        assert start <= run[0] and run[0] + run[1] <= start + len(tiff)
