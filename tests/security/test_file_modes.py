"""Issue 18, point 9: what a case or the operations database holds is readable by its examiner alone.

Each test sets the usual umask (022), under which the old code made everything world-readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest

from fieldlab.case.store import CaseStore
from fieldlab.evidence.sources import SourceSpec
from fieldlab.ops.database import OpsDatabase, locate
from fieldlab.web.thumbnails import ThumbnailService, ThumbnailTask
from tests.security.stand_ins import PICTURE, fixed_picture
from tests.web.web_case import csrf_of


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _nothing_for_others(folder: Path) -> None:
    """The folder is 0700 and every file in it 0600 (folders 0700)."""
    assert _mode(folder) == 0o700
    for path in folder.rglob("*"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_a_new_case_folder_and_its_database_are_private(tmp_path: Path) -> None:
    store = CaseStore.open(tmp_path / "cases" / "op-ash")
    try:
        store.audit.append("test", {})  # the audit head is rewritten
        assert {p.name for p in (tmp_path / "cases" / "op-ash").iterdir()} >= {"case.sqlite", "audit.head",
                                                                               "case.sqlite-wal", "case.sqlite-shm"}
        _nothing_for_others(tmp_path / "cases" / "op-ash")
    finally:
        store.close()


def test_an_empty_folder_made_for_a_new_case_becomes_private(tmp_path: Path) -> None:
    (tmp_path / "op-ash").mkdir(mode=0o755)
    CaseStore.open(tmp_path / "op-ash").close()
    _nothing_for_others(tmp_path / "op-ash")


def test_the_operations_folder_and_database_are_private(tmp_path: Path) -> None:
    db = OpsDatabase.open(locate(ops_dir=tmp_path / "ops"))
    try:
        db.record("test")
        _nothing_for_others(tmp_path / "ops")
    finally:
        db.close()


def test_cached_thumbnails_are_private(tmp_path: Path) -> None:
    (tmp_path / "case").mkdir(mode=0o700)
    service = ThumbnailService(tmp_path / "case", workers=1, render=fixed_picture)
    try:
        service.thumbnail(ThumbnailTask(7, SourceSpec(str(tmp_path), "folder"), "file:x.jpg", "image", 10))
    finally:
        service.close()
    assert (tmp_path / "case" / "thumbnails" / "7.jpg").read_bytes() == PICTURE
    _nothing_for_others(tmp_path / "case" / "thumbnails")


def test_a_revealed_known_picture_is_never_left_in_the_thumbnail_cache(make_client, web_case) -> None:
    client = make_client("examiner1")
    known_a = web_case.ids["Users/alex/Pictures/known_a.jpg"]
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    stale = web_case.case / "thumbnails" / f"{known_a}.jpg"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"cached before its hash set was imported")
    client.post(f"/api/reveal/{known_a}", headers={"X-CSRF-Token": csrf_of(client)})
    assert client.get(f"/thumb/{known_a}").status_code == 200
    assert client.get(f"/thumb/{known_a}").status_code == 200  # made again, not read from a file
    assert client.get(f"/thumb/{alone}").status_code == 200
    assert sorted(p.name for p in (web_case.case / "thumbnails").iterdir()) == [f"{alone}.jpg"]
