"""Thumbnail caches in a scan: every cached picture an item of its own, matched by PDQ to the picture it shows."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import fieldlab
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from tests.conftest import REALDATA
from tests.detect.media_builders import encoded, picture
from tests.detect.thumbnail_builders import CachedPicture, CatalogPicture, compound_file, thumbcache, thumbs_db_streams

HUNTRESS = REALDATA / "infosecstreams__huntress2023" / "forensics" / "Opposable-Thumbs" / "thumbcache_256.db"
ENTRIES = REALDATA / "_derived" / "thumbs" / "thumbcache_256_entries.json"


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


def test_a_real_windows_10_cache_gives_one_item_per_stored_thumbnail_with_its_md5(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence" / "Users" / "alex" / "AppData" / "Local" / "Microsoft" / "Windows" / "Explorer"
    evidence.mkdir(parents=True)
    shutil.copy(HUNTRESS, evidence / "thumbcache_256.db")
    fieldlab.scan(tmp_path / "evidence", tmp_path / "case", exhibit_ref="PC")
    rows = _db(tmp_path / "case").execute(
        "SELECT md5, kind, flags FROM items WHERE locator LIKE '%|member:%'").fetchall()
    assert all("thumbnail" in flags for _, _, flags in rows) and len(rows) == 22
    entries = [e for e in json.loads(ENTRIES.read_text())["entries"] if int(e["entry_hash"], 16)]  # not free space
    assert len(entries) == 22
    stored = sorted(md5 for md5, kind, _ in rows if kind == "file")
    assert stored == sorted(e["data_md5"] for e in entries if e["data_size"]) and len(stored) == 5


def test_a_thumbnail_of_a_known_picture_in_a_cache_is_a_near_match(tmp_path: Path) -> None:
    original = picture(110)
    small = encoded(original.resize((256, 192)), quality=70).getvalue()
    other = encoded(picture(111).resize((256, 192)), quality=70).getvalue()
    evidence = tmp_path / "evidence"
    (evidence / "Explorer").mkdir(parents=True)
    (evidence / "Explorer" / "thumbcache_256.db").write_bytes(
        thumbcache([CachedPicture(0x1234ABCD, small), CachedPicture(0x5678, b""), CachedPicture(0x9ABC, other)]))
    (evidence / "Pictures").mkdir()
    (evidence / "Pictures" / "Thumbs.db").write_bytes(compound_file(thumbs_db_streams(
        [CatalogPicture(1, "holiday-001.jpg", 1_100_000_000.0, encoded(original.resize((96, 72)), quality=75).getvalue())])))
    known = tmp_path / "known.pdq"
    known.write_text(f"pdq {pdq_hex(image_pdq(encoded(original, quality=95)).pdq)}\n")
    fieldlab.import_hashset(known, name="pdq-known", category="A")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="PC")
    hits = {h.path: h for h in fieldlab.hits(tmp_path / "case")}
    assert set(hits) == {"Explorer/thumbcache_256.db › thumbnail 000000001234abcd",
                         "Pictures/Thumbs.db › holiday-001.jpg"}
    assert all(h.method == "pdq" for h in hits.values())
    mtime = _db(tmp_path / "case").execute(
        "SELECT mtime FROM items WHERE path = 'Pictures/Thumbs.db › holiday-001.jpg'").fetchone()[0]
    assert mtime == 1_100_000_000.0  # the Catalog's time of the original picture


def test_the_exif_thumbnail_of_an_edited_photo_still_shows_the_original(tmp_path: Path) -> None:
    from tests.detect.test_exif_thumbnail import with_exif_thumbnail

    original = picture(112)
    preview = encoded(original.resize((160, 120)), quality=80).getvalue()
    edited = encoded(picture(113), quality=90).getvalue()  # the picture itself replaced, its preview left alone
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "IMG_0001.jpg").write_bytes(with_exif_thumbnail(edited, preview))
    known = tmp_path / "known.pdq"
    known.write_text(f"pdq {pdq_hex(image_pdq(encoded(original, quality=95)).pdq)}\n")
    fieldlab.import_hashset(known, name="pdq-known", category="B")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="CAM")
    (hit,) = fieldlab.hits(tmp_path / "case")
    assert (hit.path, hit.method, hit.category) == ("IMG_0001.jpg › EXIF thumbnail", "pdq", "B")
    assert hit.locator.startswith("file:IMG_0001.jpg|carved:")
    assert hit.md5 == hashlib.md5(preview).hexdigest()
