"""A deleted photo left in two pieces in a FAT volume's free clusters: the scan carves it whole and matches it."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

import fieldlab
from fieldlab.api import export_case
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.reopen import reopen
from fieldlab.evidence.sources import describe_source
from fieldlab.report.dfxml import DFXML_NS
from tests.builders import KnownFile, write_csv_hashset
from tests.detect import carve_builders as build
from tests.evidence.disk_builders import PlantedFile, build_disk


@pytest.mark.parametrize("fs_type", ["fat32", "fat16"])
def test_a_photo_in_two_pieces_in_free_clusters_is_a_hit_read_whole_from_both(tmp_path: Path, fs_type: str) -> None:
    import pytsk3

    from fieldlab.evidence.unallocated import unallocated_runs

    photo = build.jpeg_with_exif_thumbnail(41, 1024, 768)
    (tmp_path / "evidence").mkdir()
    disk = build_disk(tmp_path / "evidence" / "disk.raw", "mbr",
                      [(fs_type, 64, [PlantedFile("DCIM/keep.txt", b"hello" * 100)])], gap_mib=1)
    part = disk.partitions[0]
    image = pytsk3.Img_Info(str(disk.path))
    fs = pytsk3.FS_Info(image, offset=part.start_offset)
    cluster = fs.info.block_size
    start, length = list(unallocated_runs(fs, fs_type, part.start_offset, part.size,
                                          lambda o, n: image.read(o, n)))[-1]
    gap = build.filler(np.random.default_rng(42), 3 * cluster)
    pieces, split = build.two_fragments(photo, cluster, gap)
    at = start + (length - len(pieces)) // 2 // cluster * cluster  # on a cluster of the free space
    assert length > 2 * len(pieces) and (at - start) % cluster == 0
    with open(disk.path, "r+b") as raw:
        raw.seek(at)
        raw.write(pieces)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "known.csv", [KnownFile("p.jpg", photo, "A")]), name="k")
    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="SD")

    second = at + split + len(gap)
    locator = f"carved:{at}+{split},{second}+{len(photo) - split}"
    assert {(h.locator, h.category) for h in fieldlab.hits(tmp_path / "case")} == {(locator, "A")}  # a row a digest
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    assert db.execute("SELECT size, md5 FROM items WHERE locator = ?", (locator,)).fetchone() == (
        len(photo), hashlib.md5(photo).hexdigest())
    with EvidenceContext() as context:  # as the review app and the report's thumbnails open it again
        handle = reopen(describe_source(disk.path), locator, context)
        try:
            buffer = bytearray(len(photo) + 1)
            assert bytes(buffer[: handle.readinto(buffer)]) == photo
        finally:
            handle.close()

    export_case(tmp_path / "case", "dfxml", tmp_path / "case.dfxml")
    runs = etree.parse(str(tmp_path / "case.dfxml")).findall(f".//{{{DFXML_NS}}}byte_run")
    assert [(r.get("file_offset"), r.get("img_offset"), r.get("len")) for r in runs] == [
        ("0", str(at), str(split)), (str(split), str(second), str(len(photo) - split))]
