"""The seams a real examiner hits, end to end: evidence laid out the way seizures arrive, made by the real tools.

Exhibit PC-1 is an E01 (ewfacquire) of an MBR disk with an NTFS partition holding hundreds of ordinary files and,
among them, a known picture, a resized copy of a picture known only by its PDQ hash (a ``pdq,category`` list, the
way perceptual lists are exchanged), a ``.tar.gz`` cut short after its first member, and a deleted document whose
freed clusters still hold a known JPEG at an odd byte offset; the disk's unpartitioned tail holds a known PNG at an
odd offset.  Exhibit PC-2 is a QCOW2 differencing image (qemu-img) scanned first without its parent, then with it.
Every planted item must be found exactly once, with its category, and the counts per kind must be right.
(A differencing VHDX cannot be made here: qemu-img writes no VHDX child; the real dfvfs differencing VHD is
covered in tests/triage/test_scan_differencing.py.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytsk3
from PIL import Image

import fieldlab
from fieldlab.case.store import CaseStore
from fieldlab.demo import procedural_jpeg, procedural_png
from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.evidence.unallocated import unallocated_runs
from fieldlab.report.charging import TOTAL, charging_table
from tests.builders import KnownFile, tar_bytes, write_csv_hashset
from tests.detect import carve_builders
from tests.evidence.chain_builders import chain
from tests.evidence.disk_builders import PlantedFile, build_disk, random_bytes, to_e01


def _benign_files(count: int) -> list[PlantedFile]:
    """The ordinary contents of a laptop: notes, logs, program files and the user's own (unknown) pictures."""
    rng = np.random.default_rng(11)
    files = []
    for n in range(count):
        kind = n % 5
        if kind == 0:
            files.append(PlantedFile(f"Users/sam/Documents/note{n}.txt", f"note {n}\n".encode() * int(rng.integers(1, 200))))
        elif kind == 1:
            files.append(PlantedFile(f"Windows/System32/mod{n}.dll", b"MZ" + random_bytes(n, int(rng.integers(500, 20_000)))))
        elif kind == 2:
            files.append(PlantedFile(f"Users/sam/AppData/Local/Cache/c{n}.bin", random_bytes(10_000 + n, 3000)))
        elif kind == 3:
            files.append(PlantedFile(f"ProgramData/logs/app{n}.log", b"ok\n" * int(rng.integers(10, 400))))
        else:
            files.append(PlantedFile(f"Users/sam/Pictures/holiday{n}.jpg", procedural_jpeg(20_000 + n, 160, 120)))
    return files


def _cut_tar_gz(first: bytes) -> bytes:
    """A .tar.gz of a picture and a large second file, cut short inside the second: the first stays whole."""
    whole = gzip.compress(tar_bytes({"photos/first.jpg": first, "photos/second.bin": random_bytes(77, 400_000)}),
                          mtime=0)
    return whole[: len(whole) * 3 // 4]


def _resized(jpeg: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).resize((480, 360)).save(out, "JPEG", quality=70)
    return out.getvalue()


def _plant_in_free_clusters(disk, data: bytes) -> int:  # noqa: ANN001 - a BuiltDisk
    """Write ``data`` at an odd offset inside text that fills free NTFS clusters (a deleted document's remains)."""
    part = disk.partitions[0]
    image = pytsk3.Img_Info(str(disk.path))
    fs = pytsk3.FS_Info(image, offset=part.start_offset)
    free_start, free_length = list(unallocated_runs(fs, "ntfs", part.start_offset, part.size,
                                                    lambda o, n: image.read(o, n)))[-1]
    remains = bytearray(carve_builders.filler(np.random.default_rng(5), 1 << 20, "text"))
    inside = 4097
    remains[inside:inside + len(data)] = data
    at = free_start + (free_length - len(remains)) // 4096 * 4096
    with open(disk.path, "r+b") as raw:
        raw.seek(at)
        raw.write(remains)
    return at + inside


def test_a_seized_laptop_e01_and_a_differencing_image_give_every_planted_item_once(tmp_path: Path) -> None:
    known_a, in_archive = procedural_jpeg(601, 640, 480), procedural_jpeg(602, 320, 240)
    in_free_space, in_tail = procedural_jpeg(603, 500, 375), procedural_png(604, 300, 200)
    near_source = procedural_jpeg(605, 640, 480)
    base_picture, child_picture = procedural_jpeg(606, 320, 240), procedural_jpeg(607, 320, 240)

    build = tmp_path / "build"
    build.mkdir()
    files = _benign_files(300) + [
        PlantedFile("Users/sam/Downloads/known.jpg", known_a),
        PlantedFile("Users/sam/Downloads/resized.jpg", _resized(near_source)),
        PlantedFile("Users/sam/Documents/backup.tar.gz", _cut_tar_gz(in_archive)),
        PlantedFile("Users/sam/Documents/old report.doc", random_bytes(88, 60_000), deleted=True),
    ]
    disk = build_disk(build / "laptop.raw", "mbr", [("ntfs", 96, files)], gap_mib=2)
    free_offset = _plant_in_free_clusters(disk, in_free_space)
    tail_offset = disk.gaps[0][0] + 4099
    with open(disk.path, "r+b") as raw:
        raw.seek(tail_offset)
        raw.write(in_tail)
    assert free_offset % 2 and tail_offset % 2
    evidence = tmp_path / "evidence"
    (laptop,) = to_e01(disk.path, evidence / "PC-1" / "laptop", compression="deflate:fast")

    layers = chain(evidence / "PC-2", "qcow2", [{"BASE.JPG": base_picture, "README.TXT": b"base layer\n"},
                                                {"CHILD.JPG": child_picture}])
    lonely = tmp_path / "copied-alone"
    lonely.mkdir()
    shutil.copy(layers[1], lonely / layers[1].name)

    known = [KnownFile("known.jpg", known_a, "A"), KnownFile("first.jpg", in_archive, "A"),
             KnownFile("remains.jpg", in_free_space, "C"), KnownFile("tail.png", in_tail, "B"),
             KnownFile("base.jpg", base_picture, "A"), KnownFile("child.jpg", child_picture, "B")]
    fieldlab.import_hashset(write_csv_hashset(build / "known.csv", known), name="caid-export", home=tmp_path / "lib")
    perceptual_list = build / "pdq-list.csv"
    perceptual_list.write_text(f"pdq,category\n{pdq_hex(image_pdq(io.BytesIO(near_source)).pdq)},B\n")
    fieldlab.import_hashset(perceptual_list, name="partner-pdq", home=tmp_path / "lib")

    case = tmp_path / "case"
    fieldlab.scan(laptop, case, exhibit_ref="PC-1", home=tmp_path / "lib")
    fieldlab.scan(lonely / layers[1].name, case, exhibit_ref="PC-2", home=tmp_path / "lib")
    missing = [p for p in fieldlab.list_problems(case) if p.exhibit == "PC-2"]
    assert missing and any("layer0.qcow2" in p.message for p in missing)  # the parent it needs, named
    assert not next(c for c in fieldlab.summary(case) if c.ref == "PC-2").finished
    fieldlab.scan(lonely / layers[1].name, case, exhibit_ref="PC-2", home=tmp_path / "lib", parents=[layers[0]])

    hits = list(fieldlab.hits(case))
    exact = {(h.exhibit, h.md5, h.category) for h in hits if h.method in ("md5", "sha1")}
    md5 = lambda data: hashlib.md5(data).hexdigest()  # noqa: E731
    assert exact == {("PC-1", md5(known_a), "A"), ("PC-1", md5(in_archive), "A"), ("PC-1", md5(in_free_space), "C"),
                     ("PC-1", md5(in_tail), "B"), ("PC-2", md5(base_picture), "A"),
                     ("PC-2", md5(child_picture), "B")}
    hit_items = Counter(h.md5 for h in hits if h.method == "md5")
    assert set(hit_items.values()) == {1}  # every planted item found once, never twice
    by_locator = {h.md5: h.locator for h in hits if h.method == "md5"}
    assert by_locator[md5(in_free_space)] == f"carved:{free_offset}+{len(in_free_space)}"
    assert by_locator[md5(in_tail)] == f"carved:{tail_offset}+{len(in_tail)}"
    assert "|member:" in by_locator[md5(in_archive)]

    (near,) = [h for h in hits if h.method == "pdq"]
    assert (near.exhibit, near.category, near.hash_set) == ("PC-1", "B", "partner-pdq")
    assert near.path.endswith("resized.jpg")

    store = CaseStore.open(case, create=False)
    try:
        table = charging_table(store)
    finally:
        store.close()
    assert {c: table.images(TOTAL, "hash set", "still", c) for c in "ABC"} == {"A": 3, "B": 2, "C": 1}
    assert table.images(TOTAL, "indicative", "still", "B") == 1

    counts = {c.ref: c for c in fieldlab.summary(case)}
    pc1, pc2 = counts["PC-1"], counts["PC-2"]
    assert pc1.finished and pc2.finished
    assert pc1.deleted == 1  # the old report, and no file-system record counted as a deleted file
    # the cut archive: its stream is cut short and so is the member the cut falls in; nothing else is wrong
    assert pc1.problems == Counter({"truncated": 2})
    truncated = sorted(p.path for p in fieldlab.list_problems(case) if p.exhibit == "PC-1")
    assert truncated[0].endswith("backup.tar.gz › content") and truncated[1].endswith("› photos/second.bin")
    (parent_missing,) = [p for p in missing if "layer0.qcow2" in p.message]
    assert parent_missing.kind == "unreadable"
