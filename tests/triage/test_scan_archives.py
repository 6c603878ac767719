"""Archives and container documents: every member an item, read, matched; bombs and damage stopped and reported."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import sqlite3
import tarfile
import zipfile
from pathlib import Path

import py7zr
import pytest

import fieldlab
from fieldlab.demo import procedural_jpeg, procedural_png
from fieldlab.evidence.archives import MAX_DEPTH
from tests.builders import KnownFile, write_csv_hashset
from tests.conftest import REALDATA

DFTT8 = REALDATA / "sleuthkit__sleuthkit_test_data" / "from_brian" / "8-jpeg-search.zip"
IN_ARCHIVES = {  # the answer key's pictures inside archives, by MD5
    "f9956284a89156ef6967b49eced9d1b1": "file8.jpg",  # zip
    "c5a6917669c77d20f30ecb39d389eb7d": "file9.jpg",  # zip renamed .boo
    "c476a66ccdc2796b4f6f8e27273dd788": "file10.jpg",  # tar inside gzip
}


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar_gz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _seven_zip(tmp_path: Path, entries: dict[str, bytes]) -> bytes:
    path = tmp_path / "made.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(data, name)
    data = path.read_bytes()
    path.unlink()
    return data


def _docx(picture: bytes) -> bytes:
    return _zip({
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "word/document.xml": b"<w:document/>",
        "word/media/image1.jpeg": picture,
    })


def test_dftt8_pictures_inside_zip_renamed_zip_and_tar_gz_are_found_with_the_key_md5(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    with zipfile.ZipFile(DFTT8) as archive:
        archive.extract("8-jpeg-search/8-jpeg-search.dd", evidence)
    fieldlab.scan(evidence / "8-jpeg-search" / "8-jpeg-search.dd", tmp_path / "case", exhibit_ref="HDD")
    rows = _db(tmp_path / "case").execute("SELECT md5, locator, flags, file_type FROM items").fetchall()
    found = {md5: (locator, flags, kind) for md5, locator, flags, kind in rows}
    for md5, name in IN_ARCHIVES.items():
        locator, flags, kind = found[md5]
        assert "|member:" in locator and locator.endswith(name) and "in_archive" in flags and kind == "jpeg"
    assert found["c476a66ccdc2796b4f6f8e27273dd788"][0].count("|member:") == 2  # gzip, then the tar inside


@pytest.fixture()
def hidden(tmp_path: Path) -> tuple[Path, list[KnownFile]]:
    """Known pictures inside nested zips (3 deep), a 7z, a tar.gz, a bzip2, a docx, and an archive renamed."""
    pictures = [procedural_jpeg(80 + n, 320, 240) for n in range(5)] + [procedural_png(90, 200, 150)]
    known = [KnownFile(f"k{n}", data, "ABC"[n % 3]) for n, data in enumerate(pictures)]
    nested = _zip({"level2.zip": _zip({"level3.zip": _zip({"deep/k0.jpg": pictures[0]})})})
    files = {
        "Downloads/nested.zip": nested,
        "Downloads/photos.7z": _seven_zip(tmp_path, {"holiday/k1.jpg": pictures[1], "readme.txt": b"hello"}),
        "Downloads/backup.tar.gz": _tar_gz({"home/k2.jpg": pictures[2], "home/notes.txt": b"notes"}),
        "Downloads/k3.jpg.bz2": bz2.compress(pictures[3]),
        "Documents/report.docx": _docx(pictures[4]),
        "AppData/cache.dat": _zip({"img/k5.png": pictures[5]}, zipfile.ZIP_STORED),  # an archive by any other name
    }
    evidence = tmp_path / "evidence"
    for relative, data in files.items():
        (evidence / relative).parent.mkdir(parents=True, exist_ok=True)
        (evidence / relative).write_bytes(data)
    return evidence, known


def test_known_pictures_hidden_in_archives_and_documents_are_hits(tmp_path: Path, hidden: tuple[Path, list[KnownFile]]) -> None:
    evidence, known = hidden
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")
    result = fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    hits = {h.md5: h for h in fieldlab.hits(tmp_path / "case")}
    assert set(hits) == {k.md5 for k in known}
    assert hits[known[0].md5].locator.count("|member:") == 3
    assert hits[known[0].md5].path == "Downloads/nested.zip › level2.zip › level3.zip › deep/k0.jpg"
    assert result.progress.hit_items == len(known)
    assert _db(tmp_path / "case").execute("SELECT COUNT(*) FROM items WHERE state = 'pending'").fetchone() == (0,)


def test_a_zip_bomb_is_stopped_and_reported_and_the_rest_is_still_scanned(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    bomb = _zip({"zeros.bin": b"\0" * (300 << 20), "k.jpg": procedural_jpeg(95)})  # 300 MiB of zeros in ~300 KB
    (evidence / "innocent.zip").write_bytes(bomb)
    gz_bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    (evidence / "tiny.gz").write_bytes(gz_bomb)
    (evidence / "photo.jpg").write_bytes(procedural_jpeg(96))
    known = [KnownFile("k.jpg", procedural_jpeg(95), "A"), KnownFile("photo.jpg", procedural_jpeg(96), "B")]
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", known), name="known")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    assert {h.path for h in fieldlab.hits(tmp_path / "case")} == {"innocent.zip › k.jpg", "photo.jpg"}
    zeros = db.execute("SELECT kind, state FROM items WHERE path LIKE '%zeros.bin'").fetchone()
    assert zeros == ("name_only", "done")  # listed, never expanded
    messages = " ".join(m for (m,) in db.execute("SELECT message FROM errors"))
    assert "decompression bomb" in messages


def test_archives_nested_beyond_the_limit_are_listed_but_not_opened_and_reported_as_nesting(tmp_path: Path) -> None:
    data = procedural_jpeg(97)
    for level in range(MAX_DEPTH + 1):
        data = _zip({f"level{level}.zip" if level else "k.jpg": data})
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "deep.zip").write_bytes(data)
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    deepest = max(locator.count("|member:") for (locator,) in db.execute("SELECT locator FROM items"))
    assert deepest == MAX_DEPTH
    (path, kind, message), = db.execute("SELECT path, kind, message FROM errors").fetchall()
    assert path.endswith("level1.zip") and kind == "nesting" and "at the limit of 5" in message
    assert path in message  # names the container not opened


def test_encrypted_and_damaged_archives_are_reported_with_what_is_visible(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    plain = _zip({"a.jpg": procedural_jpeg(98)})
    encrypted = bytearray(plain)
    # set the "encrypted" flag bit in the local and central headers: zipfile then refuses to read the content
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = encrypted.find(signature)
        encrypted[position + offset] |= 0x01
    (evidence / "locked.zip").write_bytes(bytes(encrypted))
    (evidence / "broken.zip").write_bytes(plain[:-10])  # its end-of-directory record cut short
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    member = db.execute("SELECT kind, size FROM items WHERE path = 'locked.zip › a.jpg'").fetchone()
    assert member == ("name_only", len(procedural_jpeg(98)))  # name and size visible, content not read
    messages = {path: m for path, m in db.execute("SELECT path, message FROM errors")}
    assert "encrypted" in messages["locked.zip"]
    assert "damaged" in messages["broken.zip"] or "zip" in messages["broken.zip"]
    assert db.execute("SELECT state FROM items WHERE path = 'broken.zip'").fetchone() == ("done",)


EMBEDDED = {  # the answer key's pictures embedded in other files, by MD5 of the picture alone
    "f407ab92da959c7ab03292cfe596a99d": "file11.dat",  # after 1572 random bytes (the whole file's MD5 in the key)
    "61c0b55639e52d1ce82aba834ada2bab": "file12.doc",  # the Word document
}


def test_dftt8_pictures_embedded_after_junk_and_in_a_word_document_are_carved_out(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    with zipfile.ZipFile(DFTT8) as archive:
        archive.extract("8-jpeg-search/8-jpeg-search.dd", evidence)
    fieldlab.scan(evidence / "8-jpeg-search" / "8-jpeg-search.dd", tmp_path / "case", exhibit_ref="HDD")
    db = _db(tmp_path / "case")
    parents = {path.rsplit("/", 1)[-1]: md5 for path, md5 in db.execute("SELECT path, md5 FROM items")}
    assert {name: parents[name] for name in EMBEDDED.values()} == {v: k for k, v in EMBEDDED.items()}
    carved = db.execute("SELECT path, file_type, flags FROM items WHERE locator LIKE '%|carved:%'").fetchall()
    holders = {path.split(" › ")[0].rsplit("/", 1)[-1] for path, kind, flags in carved if kind == "jpeg"}
    assert set(EMBEDDED.values()) <= holders
    assert all("carved" in flags for _, _, flags in carved)
    invalid = {path.split(" › ")[0].rsplit("/", 1)[-1] for path, _, _ in carved}
    assert not invalid & {"file3.jpg", "file4.jpg", "file5.rtf"}  # random bytes and bare 0xFFD8 are no pictures


def test_without_the_embedded_search_pictures_inside_unknown_files_are_left_alone(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "blob.dat").write_bytes(b"junk" * 500 + procedural_jpeg(99) + b"tail")
    fieldlab.scan(evidence, tmp_path / "with", exhibit_ref="EX1")
    fieldlab.scan(evidence, tmp_path / "without", exhibit_ref="EX1", embedded=False)
    count = "SELECT COUNT(*) FROM items WHERE locator LIKE '%|carved:%'"
    assert _db(tmp_path / "with").execute(count).fetchone() == (1,)
    assert _db(tmp_path / "without").execute(count).fetchone() == (0,)


def test_members_of_many_archives_read_in_turn_are_each_read_from_their_own(tmp_path: Path) -> None:
    """Workers keep the last few archives open; more archives than that, read in turn, must not mix up."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(12):
        (evidence / f"a{n:02d}.zip").write_bytes(_zip({f"m{k}.txt": f"archive {n} member {k}".encode() for k in range(3)}))
        (evidence / f"t{n:02d}.tar.gz").write_bytes(_tar_gz({"x.txt": f"tar {n}".encode()}))
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1", workers=1)
    db = _db(tmp_path / "case")
    rows = db.execute("SELECT path, md5, state FROM items WHERE path LIKE '%.txt'").fetchall()
    assert len(rows) == 12 * 4 and {state for _, _, state in rows} == {"done"}
    for path, md5, _ in rows:
        archive, member = path.split(" › ")[0], path.split(" › ")[-1]
        n = int(archive[1:3])
        expected = f"tar {n}" if archive.startswith("t") else f"archive {n} member {member[1]}"
        assert md5 == hashlib.md5(expected.encode()).hexdigest(), path


def test_a_gzip_header_over_corrupt_deflate_data_is_the_item_s_error_not_an_internal_one(tmp_path: Path) -> None:
    """Random files start with 1f 8b 08 often enough on a big disk; their 'deflate data' is garbage."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    garbage = bytes.fromhex("1f8b0800000000000003d78c37b4f0e50c422be69d08349eef0908917ee20f1c9b3297d01b45d2e1f14c33359c")
    (evidence / "f0559903").write_bytes(garbage * 8)
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="EX1")
    db = _db(tmp_path / "case")
    assert db.execute("SELECT state FROM items WHERE path = 'f0559903'").fetchone() == ("done",)
    (message,) = [m for (m,) in db.execute("SELECT message FROM errors")]
    assert "gzip" in message and "internal error" not in message
