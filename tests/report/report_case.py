"""One generated case for every report test: two exhibits, known pictures of A, B and C, copies within and across
exhibits, a movie, a deleted file, a carved file, a near match, an examiner's categorisations and an examiner
overruling a set.  The expected charging table is derived by hand in ``EXPECTED`` below, not by the code under
test."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

import fieldlab
from fieldlab.case.decisions import categorise
from fieldlab.case.store import CaseStore
from fieldlab.demo import procedural_jpeg
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from tests.detect.media_builders import encoded, procedural_video
from tests.evidence.disk_builders import PlantedFile, build_disk

PICTURES = {name: procedural_jpeg(seed, 320, 240) for name, seed in
            [("a", 401), ("b", 402), ("c", 403), ("deleted_b", 404), ("carved_c", 405), ("phone_b", 406),
             ("new", 407), ("overruled", 408), ("near_source", 409)]}
CATEGORIES = {"a": "A", "b": "B", "c": "C", "deleted_b": "B", "carved_c": "C", "phone_b": "B", "overruled": "C"}
HOSTILE_NAME = "<img src=x onerror=alert(1)>.jpg"


@dataclass(frozen=True)
class ReportCase:
    case: Path
    evidence: Path
    movie: bytes
    near: bytes
    examiner: str


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def build_report_case(root: Path, home: Path) -> ReportCase:
    evidence, case = root / "evidence", root / "case"
    evidence.mkdir(parents=True)
    movie_path = procedural_video(root / "movie.mp4", seed=410, seconds=3.0, size=(320, 240))
    movie = movie_path.read_bytes()
    near_source = Image.open(encoded(Image.open(io.BytesIO(PICTURES["near_source"])), quality=95))
    near = encoded(near_source.resize((240, 180)), quality=60).getvalue()  # a resized, recompressed copy

    known = root / "known.csv"
    rows = ["md5,sha1,category"] + [f"{md5(PICTURES[n])},{hashlib.sha1(PICTURES[n]).hexdigest()},{c}"
                                    for n, c in CATEGORIES.items()]
    rows.append(f"{md5(movie)},{hashlib.sha1(movie).hexdigest()},A")
    known.write_text("\n".join(rows) + "\n")
    fieldlab.import_hashset(known, name="caid-test", home=home)
    pdq = root / "known.pdq"
    pdq.write_text(f"pdq {pdq_hex(image_pdq(io.BytesIO(PICTURES['near_source'])).pdq)}\n")
    fieldlab.import_hashset(pdq, name="pdq-test", category="A", home=home)

    laptop = build_disk(evidence / "laptop.raw", "mbr", [("fat32", 48, [
        PlantedFile("Users/alex/Pictures/a.jpg", PICTURES["a"]),
        PlantedFile("Users/alex/Pictures/copy of a.jpg", PICTURES["a"]),
        PlantedFile("Users/alex/Pictures/b.jpg", PICTURES["b"]),
        PlantedFile("Users/alex/Pictures/c.jpg", PICTURES["c"]),
        PlantedFile("Users/alex/Pictures/gone.jpg", PICTURES["deleted_b"], deleted=True),
        PlantedFile("Users/alex/Videos/clip.mp4", movie),
        PlantedFile("Users/alex/Downloads/new.jpg", PICTURES["new"]),
        PlantedFile("Users/alex/Downloads/overruled.jpg", PICTURES["overruled"]),
        PlantedFile("Users/alex/Downloads/resized.jpg", near),
    ])])
    gap_offset, _ = laptop.gaps[0]
    with open(laptop.path, "r+b") as disk:  # a picture in unpartitioned space: found only by carving
        disk.seek(gap_offset + 64 * 1024)
        disk.write(PICTURES["carved_c"])
    phone = evidence / "phone"
    (phone / "DCIM/Camera").mkdir(parents=True)
    (phone / "DCIM/Camera/IMG_0001.jpg").write_bytes(PICTURES["phone_b"])
    (phone / "DCIM/Camera/IMG_0002.jpg").write_bytes(PICTURES["a"])  # the laptop's picture again, on the phone
    (phone / "Download").mkdir()
    (phone / "Download" / HOSTILE_NAME).write_bytes(PICTURES["c"])  # a name that is markup

    fieldlab.scan(laptop.path, case, exhibit_ref="EX1-LAPTOP", home=home)
    fieldlab.scan(phone, case, exhibit_ref="EX2-PHONE", home=home)
    examiner = "DC Test 1234"
    store = CaseStore.open(case, create=False)
    try:
        ids = dict(store.engine.connect().exec_driver_sql("SELECT path, id FROM items").fetchall())
        new_id = next(i for p, i in ids.items() if p.endswith("Downloads/new.jpg"))
        overruled_id = next(i for p, i in ids.items() if p.endswith("Downloads/overruled.jpg"))
        categorise(store, [new_id], "B", examiner=examiner)
        categorise(store, [overruled_id], "non-indecent", examiner=examiner)
    finally:
        store.close()
    return ReportCase(case, evidence, movie, near, examiner)


# (scope, basis, medium, category) -> (images, copies, live, deleted or carved only, thumbnail only)
EXPECTED = {
    ("EX1-LAPTOP", "hash set", "still", "A"): (1, 2, 1, 0, 0),  # a.jpg and its copy
    ("EX1-LAPTOP", "hash set", "still", "B"): (2, 2, 1, 1, 0),  # b.jpg; gone.jpg deleted
    ("EX1-LAPTOP", "hash set", "still", "C"): (2, 2, 1, 1, 0),  # c.jpg; carved_c from unpartitioned space
    ("EX1-LAPTOP", "hash set", "movie", "A"): (1, 1, 1, 0, 0),
    ("EX1-LAPTOP", "examiner", "still", "B"): (1, 1, 1, 0, 0),  # new.jpg
    ("EX1-LAPTOP", "indicative", "still", "A"): (1, 1, 1, 0, 0),  # resized.jpg, near match only
    ("EX2-PHONE", "hash set", "still", "A"): (1, 1, 1, 0, 0),
    ("EX2-PHONE", "hash set", "still", "B"): (1, 1, 1, 0, 0),
    ("EX2-PHONE", "hash set", "still", "C"): (1, 1, 1, 0, 0),  # the markup-named copy of c.jpg
    ("All exhibits", "hash set", "still", "A"): (1, 3, 1, 0, 0),  # one picture, three copies on two devices
    ("All exhibits", "hash set", "still", "B"): (3, 3, 2, 1, 0),
    ("All exhibits", "hash set", "still", "C"): (2, 3, 1, 1, 0),  # c.jpg on both devices; carved_c
    ("All exhibits", "hash set", "movie", "A"): (1, 1, 1, 0, 0),
    ("All exhibits", "examiner", "still", "B"): (1, 1, 1, 0, 0),
    ("All exhibits", "indicative", "still", "A"): (1, 1, 1, 0, 0),
}
