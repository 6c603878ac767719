"""An E01 scan reads files by their media runs, in media order, in many small batches: every item still gets exactly
the digests the same media gives as a raw image (read through The Sleuth Kit, in walk order)."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest

import fieldlab
from fieldlab.case.store import DATABASE_FILE
from fieldlab.triage import scan as scan_module
from fieldlab.validation.disks import to_e01
from tests.conftest import REALDATA

DFTT8 = REALDATA / "sleuthkit__sleuthkit_test_data" / "from_brian" / "8-jpeg-search.zip"


def _digests(case: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with sqlite3.connect(case / DATABASE_FILE) as db:
        rows = db.execute("SELECT locator, state, md5, sha1 FROM items WHERE kind = 'file'").fetchall()
    return {locator: (status, md5, sha1) for locator, status, md5, sha1 in rows}


def test_an_e01_scanned_by_runs_in_media_order_records_what_the_raw_media_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tmp_path / "raw" / "8-jpeg-search" / "8-jpeg-search.dd"
    with zipfile.ZipFile(DFTT8) as archive:
        archive.extract("8-jpeg-search/8-jpeg-search.dd", tmp_path / "raw")
    e01 = to_e01(raw, tmp_path / "e01" / "disk", compression="deflate:fast")[0]
    monkeypatch.setattr(scan_module, "BATCH_FILES", 3)  # many batches, each reordered against the walk's order
    options = dict(perceptual=False, carve=False, embedded=False, verify=False, workers=2)
    fieldlab.scan(raw, tmp_path / "case-raw", **options)
    fieldlab.scan(e01, tmp_path / "case-e01", **options)
    by_runs, through_tsk = _digests(tmp_path / "case-e01"), _digests(tmp_path / "case-raw")
    assert by_runs == through_tsk
    assert sum(1 for status, md5, _ in by_runs.values() if status == "done" and md5) >= 25
