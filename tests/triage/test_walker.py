"""The walker process gives the scan exactly what the walk finds, media runs included, and a walk that fails or dies
in it stops the scan with a reason instead of hanging it."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from fieldlab.case.store import item_row
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, ItemKind, WalkError
from fieldlab.evidence.sources import FolderSource, describe_source
from fieldlab.triage.walker import Walked, Walker, WalkFailed, WalkInPlace, runs_of
from fieldlab.validation.disks import standard_mbr_ntfs_disk, to_e01


def _everything(walker: Walker) -> list[Walked]:
    found: list[Walked] = []
    deadline = time.monotonic() + 60
    while not walker.finished and time.monotonic() < deadline:
        found += walker.take(100, timeout=0.5)
    assert walker.finished
    return found


def test_the_walker_gives_the_rows_and_runs_of_an_e01_walk_in_its_order(tmp_path: Path) -> None:
    disk = standard_mbr_ntfs_disk(tmp_path / "ntfs")
    e01 = to_e01(disk.path, tmp_path / "e01" / "disk", compression="deflate:fast")[0]
    source = ImageSource(e01)
    try:
        expected = []
        for entry in source.walk():
            if isinstance(entry, WalkError):
                expected.append(entry)
                continue
            row = item_row(entry)
            expected.append((row, source.extents.take(row.locator) if entry.kind is ItemKind.FILE else None))
    finally:
        source.close()
    with Walker(describe_source(e01)) as walker:
        found = _everything(walker)
    got = [entry if isinstance(entry, WalkError) else (entry[0], entry[1] and runs_of(entry[1])) for entry in found]
    assert got == expected
    assert sum(1 for entry in got if not isinstance(entry, WalkError) and entry[1] is not None) >= 5


def _tree(root: Path, files: int) -> Path:
    for n in range(files):
        (root / f"folder{n % 5}").mkdir(parents=True, exist_ok=True)
        (root / f"folder{n % 5}" / f"file{n}.bin").write_bytes(b"x" * n)
    return root


def _raising() -> None:
    raise RuntimeError("a structure no walk expected")


def _dying() -> None:
    os._exit(7)


@pytest.mark.parametrize("stop, reason", [
    (_raising, "RuntimeError: a structure no walk expected"),  # a walk that fails stops with its reason
    (_dying, "stopped unexpectedly.*exit code 7"),  # a walker that dies stops the scan with its exit code
])
def test_a_walk_that_fails_or_dies_in_the_walker_stops_with_the_reason(tmp_path: Path, monkeypatch, stop,
                                                                        reason: str) -> None:
    walk = FolderSource.walk

    def stopping(self: FolderSource) -> Iterator[Item | WalkError]:
        for count, entry in enumerate(walk(self)):
            if count == 3:
                stop()
            yield entry

    monkeypatch.setattr(FolderSource, "walk", stopping)
    with Walker(describe_source(_tree(tmp_path / "tree", 10))) as walker:
        with pytest.raises(WalkFailed, match=reason):
            _everything(walker)


def test_closing_the_walker_mid_walk_ends_its_process(tmp_path: Path, monkeypatch) -> None:
    walk = FolderSource.walk

    def slow(self: FolderSource) -> Iterator[Item | WalkError]:
        for entry in walk(self):
            time.sleep(0.2)
            yield entry

    monkeypatch.setattr(FolderSource, "walk", slow)
    walker = Walker(describe_source(_tree(tmp_path / "tree", 50)))
    first = walker.take(10, timeout=5)
    walker.close()
    assert first and not walker.finished
    assert not [p for p in multiprocessing.active_children() if p.name == "fieldlab-walker"]


def test_a_folder_walked_in_place_gives_the_rows_its_items_would_hostile_names_links_and_fifos_included(
    tmp_path: Path,
) -> None:
    """The scan makes a plain folder's rows straight from what the walk finds (``folder_row``): they must be the rows
    of the items the folder source lists, byte for byte, whatever the names hold."""
    names = [b"caf\xe9.jpg", b"line\nbreak.jpg", b"..%2F..%2Fetc", b"pipe|bar:colon%41", b"\x1b[31mred", b"\xe2\x80\xaeevil"]
    root = tmp_path / "evidence"
    for index, name in enumerate(names):
        folder = os.path.join(os.fsencode(root), b"Users", name)
        os.makedirs(folder)
        with open(os.path.join(folder, name), "wb") as file:
            file.write(b"x" * index)
    link = os.path.join(os.fsencode(root), b"Users", b"link\xff")
    os.symlink(b"../\xff/target", link)
    os.mkfifo(root / "Users" / "fifo")
    (root / "empty").write_bytes(b"")
    source = FolderSource(root)
    try:
        rows = WalkInPlace(source).take(1000, timeout=0)
        expected = [e if isinstance(e, WalkError) else (item_row(e), None) for e in source.walk()]
    finally:
        source.close()
    assert _link_atimes_left_out(rows) == _link_atimes_left_out(expected)
    assert {row.kind for row, _ in rows} == {"file", "symlink", "special"} and len(rows) == len(names) + 3


def _link_atimes_left_out(walked: list[Walked]) -> list[Walked]:
    """Reading a link's target (each walk does) moves the link's atime (relatime): the second walk lists another."""
    return [entry if isinstance(entry, WalkError) or entry[0].kind != "symlink" else (entry[0]._replace(atime=None), None)
            for entry in walked]
