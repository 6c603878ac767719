"""The evidence context: what one worker, server or report run keeps open is opened once, bounded, closed by
``close``, and never shared with another context."""

from __future__ import annotations

import concurrent.futures as cf
import io
import multiprocessing
import os
import zipfile
from pathlib import Path

import pytest

from fieldlab.evidence import context as context_module
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.nested import OpenedContainers
from fieldlab.evidence.reopen import reopen, reopen_item
from fieldlab.evidence.sources import describe_source
from fieldlab.locator import Locator
from fieldlab.triage import reader
from fieldlab.triage.reader import ReadOptions, ReadTask, read_batch


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _member(archive: str, index: int, name: str) -> Locator:
    return Locator.for_file(archive.encode()).child("member", f"{index}:{name}")


def _read(handle) -> bytes:  # noqa: ANN001 - an ItemHandle
    try:
        buffer = bytearray(1 << 16)
        return bytes(buffer[:handle.readinto(buffer)])
    finally:
        handle.close()


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


@pytest.fixture
def opened_sources(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every source a context opens, in order."""
    opened = []

    def counting(spec):  # noqa: ANN001, ANN202
        source = real(spec)
        opened.append(source)
        return source

    real = context_module.open_source
    monkeypatch.setattr(context_module, "open_source", counting)
    return opened


def test_a_context_opens_an_exhibit_once_for_every_batch_and_item_that_follows(tmp_path: Path, opened_sources: list
                                                                                ) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_bytes(name.encode())
    spec = describe_source(tmp_path)
    tasks = [ReadTask(i, Locator.for_file(n.encode()).to_text(), n, 5, None) for i, n in enumerate(("a.txt", "b.txt"))]
    with EvidenceContext() as context:
        first = read_batch(spec, tasks, ReadOptions(), context=context)
        second = read_batch(spec, tasks, ReadOptions(), context=context)
        assert _read(reopen(spec, "file:a.txt", context)) == b"a.txt"
        assert [r.md5 for r in first] == [r.md5 for r in second] and all(r.md5 for r in first)
        assert len(opened_sources) == 1 and context.exhibit(spec).source is opened_sources[0]


def test_an_archive_directory_is_read_once_for_its_members_and_kept_per_exhibit(tmp_path: Path) -> None:
    (tmp_path / "photos.zip").write_bytes(_zip({"1.jpg": b"one", "2.jpg": b"two"}))
    spec = describe_source(tmp_path)
    with EvidenceContext() as context:
        exhibit = context.exhibit(spec)
        assert _read(reopen_item(exhibit, _member("photos.zip", 0, "1.jpg"))) == b"one"
        opener = exhibit.containers.opener("file:photos.zip", ())
        assert _read(reopen_item(exhibit, _member("photos.zip", 1, "2.jpg"))) == b"two"
        assert opener is not None and exhibit.containers.opener("file:photos.zip", ()) is opener
        assert exhibit.containers.kind("file:photos.zip") == "zip"


def test_close_closes_every_source_and_every_container_the_context_opened(tmp_path: Path, opened_sources: list
                                                                          ) -> None:
    (tmp_path / "photos.zip").write_bytes(_zip({"1.jpg": b"one"}))
    context = EvidenceContext()
    exhibit = context.exhibit(describe_source(tmp_path))
    _read(reopen_item(exhibit, _member("photos.zip", 0, "1.jpg")))
    (source,) = opened_sources
    root, folders = source._root_fd, list(source._folders.values())
    assert len(exhibit.containers) == 1 and _is_open(root)
    context.close()
    assert len(exhibit.containers) == 0 and not _is_open(root) and not any(map(_is_open, folders))


def test_a_context_holds_at_most_its_bound_of_exhibits_closing_the_least_recently_used(tmp_path: Path,
                                                                                      opened_sources: list) -> None:
    specs = []
    for name in ("one", "two", "three"):
        (tmp_path / name).mkdir()
        specs.append(describe_source(tmp_path / name))
    with EvidenceContext(max_exhibits=2) as context:
        context.exhibit(specs[0])
        context.exhibit(specs[1])
        context.exhibit(specs[0])  # now the most recently used: the second goes when the third comes
        context.exhibit(specs[2])
        evicted = opened_sources[1]
        assert not _is_open(evicted._root_fd)
        assert _is_open(opened_sources[0]._root_fd) and _is_open(opened_sources[2]._root_fd)
        context.exhibit(specs[1])  # opened anew
        assert len(opened_sources) == 4


def test_loaded_things_are_made_once_per_key_and_bounded() -> None:
    made = []

    def load(key: str):  # noqa: ANN202
        return lambda: made.append(key) or f"model {key}"

    with EvidenceContext(max_loaded=2) as context:
        assert context.loaded("a", load("a")) == "model a"
        assert context.loaded("a", load("a")) == "model a"
        context.loaded("b", load("b"))
        context.loaded("c", load("c"))  # "a" is the least recently used: dropped
        context.loaded("a", load("a"))
    assert made == ["a", "b", "c", "a"]


def test_two_contexts_share_nothing(tmp_path: Path, opened_sources: list) -> None:
    (tmp_path / "photos.zip").write_bytes(_zip({"1.jpg": b"one"}))
    spec = describe_source(tmp_path)
    with EvidenceContext() as first, EvidenceContext() as second:
        one, two = first.exhibit(spec), second.exhibit(spec)
        assert one.source is not two.source and one.containers is not two.containers
        _read(reopen_item(one, _member("photos.zip", 0, "1.jpg")))
        assert len(one.containers) == 1 and len(two.containers) == 0
        first.close()
        assert _read(reopen_item(two, _member("photos.zip", 0, "1.jpg"))) == b"one"  # still open in the other
        assert first.loaded("k", lambda: 1) == 1 and second.loaded("k", lambda: 2) == 2


def test_the_containers_kept_open_are_bounded_and_the_evicted_ones_closed(tmp_path: Path) -> None:
    count = OpenedContainers.KEEP_OPEN + 3
    for n in range(count):
        (tmp_path / f"{n}.zip").write_bytes(_zip({"x.jpg": b"%d" % n}))
    with EvidenceContext() as context:
        exhibit = context.exhibit(describe_source(tmp_path))
        for n in range(count):
            assert _read(reopen_item(exhibit, _member(f"{n}.zip", 0, "x.jpg"))) == b"%d" % n
        assert len(exhibit.containers) == OpenedContainers.KEEP_OPEN
        assert exhibit.containers.opener("file:0.zip", ()) is None  # the first ones went first
        assert exhibit.containers.opener(f"file:{count - 1}.zip", ()) is not None


def _worker_context_held() -> tuple[int, int, int]:
    context = reader.worker_context()
    return os.getpid(), id(context), len(context._exhibits)


def test_a_worker_process_keeps_one_context_and_a_forked_worker_does_not_inherit_its_parents(tmp_path: Path) -> None:
    parent = reader.worker_context()
    parent.exhibit(describe_source(tmp_path))  # the parent holds an exhibit open when the pool forks
    try:
        fork = multiprocessing.get_context("fork")
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=fork, initializer=reader.prepare_worker) as pool:
            first = pool.submit(_worker_context_held).result(timeout=60)
            second = pool.submit(_worker_context_held).result(timeout=60)
    finally:
        parent.close()
    assert first[0] != os.getpid() and first[2] == 0  # the worker's own context: nothing of its parent's
    assert first[:2] == second[:2]  # the same process kept the same context for its next unit
