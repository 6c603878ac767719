"""The verdict's Deleted column counts files a user deleted: not the records a file system keeps that TSK lists
like files (NTFS's reserved MFT records, exFAT's volume label), with names whose content is gone shown apart."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import fieldlab
from fieldlab import api
from fieldlab.report.verdict import deleted_summary, summary_json
from tests.conftest import REALDATA
from tests.evidence.disk_builders import PlantedFile, build_disk

EXT2_IMAGE = REALDATA / "py4n6__pytsk" / "test_data" / "image.raw"
EXFAT_WINDOWS = REALDATA / "msuhanov__dfir_ntfs" / "test_data" / "exfat_win.raw.gz"


def _scan(image: Path, case_dir: Path):  # noqa: ANN202
    fieldlab.scan(image, case_dir, workers=1, perceptual=False, carve=False, verify=False)
    (counts,) = fieldlab.summary(case_dir)
    return counts


def _flagged(case_dir: Path, flag: str) -> set[str]:
    with sqlite3.connect(case_dir / "case.sqlite") as db:
        return {p for (p,) in db.execute("SELECT path FROM items WHERE flags LIKE ?", (f"%{flag}%",))}


def test_a_fresh_ntfs_volume_has_no_deleted_files_and_its_reserved_records_are_pseudo_entries(tmp_path: Path) -> None:
    disk = build_disk(tmp_path / "evidence" / "ntfs.raw", "none", [("ntfs", 8, [PlantedFile("Users/alex/notes.txt", b"milk")])])
    counts = _scan(disk.path, tmp_path / "case")
    assert (counts.deleted, counts.deleted_names_only, counts.pseudo_entries) == (0, 0, 8)
    assert _flagged(tmp_path / "case", "pseudo") == {f"$OrphanFiles/OrphanFile-{n}" for n in range(16, 24)}
    assert deleted_summary(counts) == "0"
    written = api.report(tmp_path / "case", "html", tmp_path / "report.html")
    assert '<td class="n notes">0; 8 file-system records not counted</td>' in Path(written.path).read_text(encoding="utf-8")


def test_a_file_deleted_on_ntfs_is_counted(tmp_path: Path) -> None:
    planted = [PlantedFile("Users/alex/notes.txt", b"milk"), PlantedFile("Users/alex/old.txt", b"x" * 3000, deleted=True)]
    disk = build_disk(tmp_path / "evidence" / "ntfs.raw", "none", [("ntfs", 8, planted)])
    counts = _scan(disk.path, tmp_path / "case")
    assert (counts.deleted, counts.pseudo_entries) == (1, 8)
    assert "Users/alex/old.txt" in _flagged(tmp_path / "case", "deleted")


def test_the_pytsk_ext2_image_counts_its_three_deleted_names_apart(tmp_path: Path) -> None:
    """Three deleted names survive without metadata; ``OrphanFile-13`` is an inode of 0 bytes whose name is gone:
    nothing of a user's to count."""
    counts = _scan(EXT2_IMAGE, tmp_path / "case")
    assert (counts.files, counts.deleted, counts.deleted_names_only, counts.pseudo_entries) == (4, 3, 3, 0)
    assert deleted_summary(counts) == "3 (3 names only)"
    assert summary_json(counts)["deleted_names_only"] == 3


def test_exfat_volume_label_records_are_not_deleted_files(tmp_path: Path) -> None:
    image = tmp_path / "evidence" / "exfat_win.raw"
    image.parent.mkdir()
    with gzip.open(EXFAT_WINDOWS) as packed, open(image, "wb") as out:
        shutil.copyfileobj(packed, out)
    counts = _scan(image, tmp_path / "case")
    pseudo = _flagged(tmp_path / "case", "pseudo")
    assert pseudo == {"$EMPTY_VOLUME_LABEL (Volume Label Entry)", "test123 (Volume Label Entry)",
                      "$OrphanFiles/$EMPTY_VOLUME_LABEL"}
    deleted = _flagged(tmp_path / "case", "deleted") - pseudo
    assert "$OrphanFiles/$EMPTY_VOLUME_LABEL" in _flagged(tmp_path / "case", "deleted")  # TSK's flags are kept
    assert counts.pseudo_entries == 3 and counts.deleted == len(deleted) == 4
