"""Pictures that are only pixels in a file (a PDF's Flate images, a HEIC's thumbnails) found in a scan by PDQ."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import zipfile
from pathlib import Path

from typer.testing import CliRunner

import fieldlab
from fieldlab.cli import app
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from tests.builders import KnownFile, write_csv_hashset
from tests.conftest import REALDATA
from tests.detect.media_builders import encoded, picture
from tests.evidence import pdf_builders as build
from tests.evidence.heif_builders import exif_block, heic

REAL_HEIC = REALDATA / "ianare__exif-samples" / "heic"


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / "case.sqlite")


def _pdq_set(path: Path, *pictures) -> Path:  # noqa: ANN002 - Pillow images
    path.write_text("".join(f"pdq {pdq_hex(image_pdq(encoded(p, quality=95)).pdq)}\n" for p in pictures))
    return path


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_flate_pictures_in_pdfs_are_pdq_near_matches_and_their_jpegs_exact_hits_counted_once(tmp_path: Path) -> None:
    original, jpeg_picture = picture(120, 800, 600), picture(121, 400, 300)
    jpeg = build.jpeg_bytes(jpeg_picture)
    report = build.pdf([[build.flate(original)], [build.PdfImage(jpeg, 400, 300, ("/DCTDecode",))]])
    scanned = build.pdf([[build.flate_predicted(original.resize((400, 300)))]])
    whole = build.pdf([[build.flate(picture(122, 300, 200))] for _ in range(3)])
    evidence = tmp_path / "evidence"
    (evidence / "Documents").mkdir(parents=True)
    (evidence / "Documents" / "report.pdf").write_bytes(report)
    (evidence / "Documents" / "broken.pdf").write_bytes(whole[: whole.index(b"9 0 obj")])
    (evidence / "Documents" / "poster.pdf").write_bytes(
        build.pdf([[build.claiming(build.flate(picture(123, 64, 48)), 300_000, 300_000)]]))
    (evidence / "Downloads").mkdir()
    (evidence / "Downloads" / "papers.zip").write_bytes(_zip({"scan.pdf": scanned}))
    runner = CliRunner()
    pdq_list = _pdq_set(tmp_path / "known.pdq", original)
    md5_list = write_csv_hashset(tmp_path / "known.csv", [KnownFile("k.jpg", jpeg, "B")])
    assert runner.invoke(app, ["hashset", "import", str(pdq_list), "--name", "pdq-known"]).exit_code == 0
    assert runner.invoke(app, ["hashset", "import", str(md5_list), "--name", "md5-known"]).exit_code == 0
    case = tmp_path / "case"
    result = runner.invoke(app, ["scan", str(evidence), "--case", str(case), "--exhibit", "PC", "--no-live"])
    assert result.exit_code == 0, result.output

    hits = {h.path: h for h in fieldlab.hits(case)}
    rendered = "Documents/report.pdf › PDF image object 3 (FlateDecode 800x600), rendered as PNG"
    zipped = "Downloads/papers.zip › scan.pdf › PDF image object 3 (FlateDecode 400x300), rendered as PNG"
    (carved,) = [p for p in hits if "embedded jpeg" in p]
    assert set(hits) == {rendered, zipped, carved}
    assert hits[rendered].method == hits[zipped].method == "pdq"
    assert hits[rendered].locator == "file:Documents/report.pdf|member:3:object 3 0"
    assert hits[carved].method in ("md5", "sha1") and hits[carved].md5 == hashlib.md5(jpeg).hexdigest()
    db = _db(case)
    assert db.execute("SELECT COUNT(*) FROM items WHERE md5 = ?", (hits[carved].md5,)).fetchone() == (1,)
    assert db.execute("SELECT extension_mismatch, flags FROM items WHERE path = ?", (rendered,)).fetchone() == (
        0, "in_archive")
    assert db.execute("SELECT COUNT(*) FROM items WHERE state = 'pending'").fetchone() == (0,)
    errors = {path: message for path, message in db.execute("SELECT path, message FROM errors")}
    assert "object table was rebuilt" in errors["Documents/broken.pdf"]
    assert "300000x300000 pixels, over the 100 MP limit" in errors["Documents/poster.pdf"]
    broken = db.execute("SELECT COUNT(*) FROM items WHERE path LIKE 'Documents/broken.pdf › %' AND md5 IS NOT NULL")
    assert broken.fetchone() == (2,)  # the two pictures still whole


def test_the_thumbnail_of_an_edited_heic_still_shows_the_original_and_its_exif_preview_is_an_exact_hit(
    tmp_path: Path,
) -> None:
    original, edited = picture(130, 640, 480), picture(131, 640, 480)
    preview = encoded(picture(132).resize((160, 120)), quality=80).getvalue()
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "IMG_0001.HEIC").write_bytes(heic(edited, thumbnail_of=original, exif=exif_block(preview)))
    (evidence / "IMG_5195.HEIC").write_bytes((REAL_HEIC / "IMG_5195.HEIC").read_bytes())
    fieldlab.import_hashset(_pdq_set(tmp_path / "known.pdq", original), name="pdq-known", category="A")
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("p.jpg", preview, "C")]), name="md5")
    fieldlab.scan(evidence, tmp_path / "case", exhibit_ref="PHONE")
    hits = {h.path: h for h in fieldlab.hits(tmp_path / "case")}
    rendered = "IMG_0001.HEIC › HEIF thumbnail 160x120, rendered as PNG"
    assert set(hits) == {rendered, "IMG_0001.HEIC › EXIF thumbnail"}
    thumbnail = hits[rendered]
    assert (thumbnail.method, thumbnail.category, thumbnail.locator) == (
        "pdq", "A", "file:IMG_0001.HEIC|member:0:image 0 thumbnail 0")
    exif = hits["IMG_0001.HEIC › EXIF thumbnail"]
    assert exif.method in ("md5", "sha1") and exif.locator.startswith("file:IMG_0001.HEIC|carved:")
    db = _db(tmp_path / "case")
    flags = {path: flags for path, flags in db.execute("SELECT path, flags FROM items WHERE path LIKE '% › %'")}
    assert set(flags) == set(hits) and all("thumbnail" in f for f in flags.values())
    assert db.execute("SELECT COUNT(*) FROM errors").fetchone() == (0,)  # the real iPhone file read cleanly too
