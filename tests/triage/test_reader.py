"""The worker side: files that vanish or change between listing and reading are recorded, not fatal."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item
from fieldlab.evidence.sources import FolderSource, describe_source
from fieldlab.locator import Locator, display_bytes
from fieldlab.problems import ProblemKind
from fieldlab.results import ItemResult
from fieldlab.triage import reader
from fieldlab.triage.reader import ReadOptions, ReadTask, read_batch
from fieldlab.validation.disks import PlantedFile, build_disk, to_e01


def _task(root: Path, relative: str | bytes, item_id: int = 1) -> ReadTask:
    raw = relative if isinstance(relative, bytes) else relative.encode()
    st = os.stat(os.fsencode(root) + b"/" + raw)
    return ReadTask(item_id, Locator.for_file(raw).to_text(), display_bytes(raw.rsplit(b"/", 1)[-1]), st.st_size,
                    st.st_mtime)


def test_a_file_read_normally_has_digests_type_and_no_warning(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (result,) = read_batch(describe_source(tmp_path), [_task(tmp_path, "a.png")], ReadOptions(sha256=True))
    data = (tmp_path / "a.png").read_bytes()
    assert result.md5 == hashlib.md5(data).hexdigest() and result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.file_type == "png" and result.extension_mismatch is False
    assert result.error is None and result.problems == ()


def test_a_batch_of_results_crosses_processes_as_the_same_typed_results(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (tmp_path / "gone.txt").write_bytes(b"x")
    tasks = [_task(tmp_path, "a.png", 1), _task(tmp_path, "gone.txt", 2)]
    (tmp_path / "gone.txt").unlink()
    results = read_batch(describe_source(tmp_path), tasks, ReadOptions())
    received = pickle.loads(pickle.dumps(results))
    assert received == results and all(type(r) is ItemResult for r in received)
    assert received[0].file_type == "png" and received[1].error.kind is ProblemKind.CHANGED


def test_a_file_that_vanished_since_listing_is_an_error_and_the_batch_goes_on(tmp_path: Path) -> None:
    (tmp_path / "gone.jpg").write_bytes(b"x")
    (tmp_path / "kept.txt").write_bytes(b"y")
    tasks = [_task(tmp_path, "gone.jpg", 1), _task(tmp_path, "kept.txt", 2)]
    (tmp_path / "gone.jpg").unlink()
    gone, kept = read_batch(describe_source(tmp_path), tasks, ReadOptions())
    assert gone.error.kind is ProblemKind.CHANGED and gone.error.message == "vanished since it was listed"
    assert gone.md5 is None
    assert kept.error is None and kept.md5 == hashlib.md5(b"y").hexdigest()


def test_a_file_changed_since_listing_is_hashed_as_it_is_now_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "grows.log").write_bytes(b"short")
    task = _task(tmp_path, "grows.log")
    (tmp_path / "grows.log").write_bytes(b"much longer now")
    (result,) = read_batch(describe_source(tmp_path), [task], ReadOptions())
    assert result.md5 == hashlib.md5(b"much longer now").hexdigest()
    (changed,) = result.problems
    assert changed.kind is ProblemKind.CHANGED and "changed since it was listed" in changed.message


def test_a_file_that_grows_once_read_to_its_size_is_hashed_to_that_size_and_said_to_have_changed(
        tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_bytes(b"first")
    handle = FolderSource(tmp_path).open_file(b"log.txt")
    buffer = bytearray(64)
    assert handle.readinto(buffer) == 5
    (tmp_path / "log.txt").write_bytes(b"first and more")  # after the read that reached the size fstat gave
    assert handle.readinto(buffer) == 0  # that read ended the file: no read made to find the end
    changed = handle.changed(5, None, 5)
    assert changed is not None and changed.message == "changed while being read (listed 5 bytes, read 5)"
    handle.seek(0)  # a seek reads again, as far as the file now goes
    assert handle.readinto(buffer) == 14 and bytes(buffer[:14]) == b"first and more"
    handle.close()


def test_a_file_replaced_by_a_symlink_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"x")
    task = _task(tmp_path, "x.jpg")
    (tmp_path / "x.jpg").unlink()
    os.symlink("/etc/passwd", tmp_path / "x.jpg")
    (result,) = read_batch(describe_source(tmp_path), [task], ReadOptions())
    assert result.error is not None and result.md5 is None


def test_a_file_replaced_by_a_fifo_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"x")
    task = _task(tmp_path, "p")
    (tmp_path / "p").unlink()
    os.mkfifo(tmp_path / "p")
    (result,) = read_batch(describe_source(tmp_path), [task], ReadOptions())
    assert result.error.kind is ProblemKind.UNREADABLE and "is no longer a regular file" in result.error.message


def test_a_disk_image_file_read_by_its_runs_is_opened_again_for_its_members_by_them_not_through_tsk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A container file the walk gave runs for is hashed and listed from those runs: TSK, which would re-read its
    metadata (in an E01, inflate its MFT chunk again), is never asked to open it."""
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as archive:
        archive.writestr("inside/a.jpg", os.urandom(9000))
        archive.writestr("b.txt", b"text " * 3000)
    data = members.getvalue()
    disk = build_disk(tmp_path / "disk.raw", "mbr", [("ntfs", 16, [PlantedFile("Users/x/photos.zip", data)])])
    (e01, *_) = to_e01(disk.path, tmp_path / "e01" / "disk", compression="deflate:fast")
    image = ImageSource(e01)
    try:
        (item,) = [e for e in image.walk() if isinstance(e, Item) and e.path.endswith("photos.zip")]
        extents = image.extents.take(item.locator.to_text())
    finally:
        image.close()
    assert extents is not None and extents.runs
    monkeypatch.setattr(reader, "reopen_item", lambda *a: pytest.fail("opened through TSK"))
    task = ReadTask(1, item.locator.to_text(), item.path, item.size, item.mtime, extents=extents.plain())
    (result,) = read_batch(describe_source(e01), [task], ReadOptions(), EvidenceContext())
    assert result.error is None and result.md5 == hashlib.md5(data).hexdigest()
    assert sorted(child.path.rsplit(" › ", 1)[-1] for child in result.children) == ["b.txt", "inside/a.jpg"]


def test_files_with_hostile_names_deep_in_folders_are_read_by_their_path(tmp_path: Path) -> None:
    """A folder's own files are opened by the path their locator's text holds, without parsing it into a Locator."""
    folder = os.fsencode(tmp_path) + b"/a%7C|b/\xff\nc"
    os.makedirs(folder)
    names = [b"x%41.jpg", b"y|z", b"\xfe%"]
    for index, name in enumerate(names):
        with open(folder + b"/" + name, "wb") as out:
            out.write(b"\xff\xd8\xff" + bytes([index]) * 50)
    tasks = [_task(tmp_path, b"a%7C|b/\xff\nc/" + name, index) for index, name in enumerate(names)]
    results = read_batch(describe_source(tmp_path), tasks, ReadOptions())
    for index, result in enumerate(results):
        assert result.error is None and result.problems == ()
        assert result.md5 == hashlib.md5(b"\xff\xd8\xff" + bytes([index]) * 50).hexdigest()
        assert result.file_type == "jpeg"
    assert [r.extension_mismatch for r in results] == [False, False, False]
