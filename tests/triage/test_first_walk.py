"""A folder's first walk: entries go from the walk to the readers in memory and into the case once, complete, in the
walk's order; a scan stopped at any point of it resumes to exactly what one uninterrupted scan records."""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import sqlite3
import zipfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

import fieldlab
from fieldlab.case.store import ItemRow
from fieldlab.demo import procedural_jpeg
from fieldlab.evidence.folder import walk_folder
from fieldlab.evidence.item import Item
from fieldlab.results import ItemResult
from fieldlab.triage import reader as reader_module
from fieldlab.triage import scan as scan_module
from fieldlab.triage.first_walk import FirstWalk
from fieldlab.triage.reader import ReadTask
from tests.builders import KnownFile, write_csv_hashset, write_tree
from tests.triage.test_scan_resume import _differences, _recorded, _rows
from tests.triage.test_scan_resume import _scan as _scan_forked

SEED = 1717
FILES = 600
BATCH = 40  # files a reading batch: many batches, so two readers bring some back out of order
FAILING = "Users/sam/Documents/fails.txt"  # its reading raises: a problem that must find its item


def _row(name: str, kind: str = "file", size: int = 10) -> ItemRow:
    return ItemRow(f"file:{name}", name, kind, size, 1.0, None, None, None, None, "",
                   "pending" if kind == "file" else "done")


def test_batches_follow_the_walk_with_links_riding_along_and_tasks_naming_positions() -> None:
    walk = FirstWalk(ahead=100, most_held=10)
    walk.add([_row("a"), _row("link", "symlink"), _row("b"), _row("c")])
    first = walk.next_batch(most_files=2, most_bytes=1000)
    assert first is not None and [r.path for r in first.rows] == ["a", "link", "b"]
    assert [(t.item_id, t.path) for t in first.tasks] == [(0, "a"), (2, "b")]
    second = walk.next_batch(most_files=2, most_bytes=1000)
    assert second is not None and [r.path for r in second.rows] == ["c"]
    assert walk.next_batch(most_files=2, most_bytes=1000) is None


def test_a_batch_is_cut_by_bytes_yet_holds_a_file_larger_than_the_cut() -> None:
    walk = FirstWalk(ahead=100, most_held=10)
    walk.add([_row("big", size=5000), _row("small", size=1)])
    batches = [walk.next_batch(most_files=10, most_bytes=1000) for _ in range(2)]
    assert [[r.path for r in b.rows] for b in batches if b] == [["big"], ["small"]]


def test_the_walk_waits_while_enough_entries_wait_for_a_reader_links_counted_too() -> None:
    walk = FirstWalk(ahead=3, most_held=10)
    walk.add([_row("a"), _row("link", "symlink")])
    assert walk.room
    walk.add([_row("fifo", "special")])
    assert not walk.room  # a folder of nothing but links and FIFOs is held to the same few batches
    walk.next_batch(most_files=1, most_bytes=1000)
    assert walk.room


def test_batches_are_recorded_in_the_order_handed_out_whatever_order_they_come_back_in() -> None:
    walk = FirstWalk(ahead=100, most_held=10)
    walk.add([_row("a"), _row("b"), _row("c")])
    one, two, three = (walk.next_batch(most_files=1, most_bytes=1000) for _ in range(3))
    assert one and two and three
    assert walk.back(two, []) == []
    assert not walk.recorded
    assert walk.back(one, []) == [one, two]
    assert not walk.recorded
    assert walk.back(three, []) == [three]
    assert walk.recorded


def test_batches_held_for_a_slow_one_are_recorded_out_of_order_past_the_bound() -> None:
    """A batch holding a file of many GB must not keep every later batch in memory while it is read."""
    walk = FirstWalk(ahead=100, most_held=1)
    walk.add([_row("slow"), _row("b"), _row("c"), _row("d")])
    slow, two, three, four = (walk.next_batch(most_files=1, most_bytes=1000) for _ in range(4))
    assert slow and two and three and four
    assert walk.back(two, []) == []
    assert walk.back(three, []) == [two, three]
    assert walk.back(slow, []) == [slow]
    assert not walk.recorded
    assert walk.back(four, []) == [four]
    assert walk.recorded


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def _failing_on(path: str, read: Callable) -> Callable:
    def read_or_fail(exhibit: object, task: ReadTask, *args: object) -> ItemResult:
        if task.path == path:
            raise RuntimeError("planted failure")
        return read(exhibit, task, *args)
    return read_or_fail


@pytest.fixture(scope="module", autouse=True)
def small_batches_and_a_failing_file() -> Iterator[None]:
    """Forked scans (and their forked readers) inherit these: many batches, a walk only two batches ahead so walking
    and reading interleave, and one file whose reading fails."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan_module, "BATCH_FILES", BATCH)
        patch.setattr(scan_module, "FIRST_WALK_BATCH_FILES", BATCH)
        patch.setattr(scan_module, "FIRST_WALK_AHEAD", 2 * BATCH)
        patch.setattr(reader_module, "_read_one", _failing_on(FAILING, reader_module._read_one))
        yield


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder of small files in many folders, a known picture, a zip holding another, a known-good file, an empty
    file, a link, a FIFO and the failing file; the fieldlab home holding the sets."""
    root = tmp_path_factory.mktemp("first-walk")
    known = KnownFile("Users/sam/Pictures/known.jpg", procedural_jpeg(7), "A")
    zipped = KnownFile("inside.jpg", procedural_jpeg(8), "B")
    good = KnownFile("Windows/good.dll", b"MZ a known-good library\n", "non-indecent")
    files = {f"Users/sam/AppData/Cache/{n // 50:02d}/f{n:04d}": f"entry {n}\n".encode() for n in range(FILES)}
    files.update({known.relative: known.data, good.relative: good.data, FAILING: b"never hashed\n",
                  "Users/sam/Downloads/pics.zip": _zip({zipped.relative: zipped.data}), "Users/sam/empty": b""})
    source = root / "evidence"
    write_tree(source, files)
    (source / "Users/sam/link").symlink_to("../../elsewhere")
    os.mkfifo(source / "Users/sam/pipe")
    home = root / "home"
    fieldlab.import_hashset(write_csv_hashset(root / "exact.csv", [known, zipped]), name="exact", home=home)
    fieldlab.import_hashset(write_csv_hashset(root / "good.csv", [good]), name="good", home=home, known_good=True)
    return source, home


def _scan(source: Path, home: Path, case_dir: Path, kill_at: str | None = None) -> int | None:
    return _scan_forked(source, home, case_dir, kill_at, exhibit_ref="EX1", perceptual=False)


def _recorded_here(case_dir: Path) -> dict[str, list[tuple]]:
    """What ``test_scan_resume`` compares, items without their access time: the scans read each link's target, which
    moves the link's atime on the evidence's file system (relatime), so each scan of the folder lists another."""
    recorded = _recorded(case_dir)
    db = sqlite3.connect(case_dir / "case.sqlite")
    try:
        recorded["items"] = _rows(db, "items", {"id", "exhibit_id", "atime"})
    finally:
        db.close()
    return recorded


def _read_leaving_atime(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
    with os.fdopen(fd, "rb") as file:
        return file.read()


@pytest.fixture(scope="module")
def uninterrupted(evidence: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    source, home = evidence
    case_dir = tmp_path_factory.mktemp("case") / "uninterrupted"
    assert _scan(source, home, case_dir) == 0
    return case_dir, _recorded_here(case_dir)


def test_a_first_walk_records_every_entry_once_in_walk_order_with_its_digests_hits_and_problems(
    evidence: tuple[Path, Path], uninterrupted: tuple[Path, dict]
) -> None:
    source, _ = evidence
    db = sqlite3.connect(uninterrupted[0] / "case.sqlite")
    walked = [e.locator.to_text() for e in walk_folder(source) if isinstance(e, Item)]
    recorded = [locator for (locator,) in db.execute("SELECT locator FROM items WHERE locator NOT LIKE '%|%' ORDER BY id")]
    assert recorded == walked
    kinds = dict(db.execute("SELECT path, kind FROM items WHERE path IN ('Users/sam/link', 'Users/sam/pipe')"))
    assert kinds == {"Users/sam/link": "symlink", "Users/sam/pipe": "special"}
    states = dict(db.execute("SELECT state, COUNT(*) FROM items WHERE kind = 'file' GROUP BY state"))
    assert states == {"done": FILES + 5, "error": 1}  # and the zip's member, read in its turn
    hits = sorted(db.execute("SELECT i.path, h.method, h.category FROM hits h JOIN items i ON i.id = h.item_id"))
    assert hits == [("Users/sam/Downloads/pics.zip › inside.jpg", "md5", "B"),
                    ("Users/sam/Downloads/pics.zip › inside.jpg", "sha1", "B"),
                    ("Users/sam/Pictures/known.jpg", "md5", "A"), ("Users/sam/Pictures/known.jpg", "sha1", "A")]
    assert [p for (p,) in db.execute("SELECT path FROM items WHERE known_good")] == ["Windows/good.dll"]
    problems = db.execute("SELECT i.path, i.state, e.stage, e.kind, e.message FROM errors e "
                          "JOIN items i ON i.id = e.item_id").fetchall()
    assert problems == [(FAILING, "error", "read", "internal", "internal error while reading: RuntimeError: planted failure")]
    for path, md5, sha1 in db.execute("SELECT path, md5, sha1 FROM items WHERE kind = 'file' AND state = 'done' "
                                      "AND locator NOT LIKE '%|%'").fetchall()[::37]:
        data = _read_leaving_atime(source / path)
        assert (md5, sha1) == (hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest())
    assert db.execute("SELECT walk_complete FROM exhibits").fetchall() == [(1,)]


@pytest.mark.parametrize("stage", ["walk", "read"])
def test_a_first_walk_killed_at_a_random_point_resumes_to_the_uninterrupted_result(
    evidence: tuple[Path, Path], uninterrupted: tuple[Path, dict], tmp_path: Path, stage: str
) -> None:
    source, home = evidence
    unit = random.Random(f"{SEED}:{stage}").randint(1, {"walk": FILES, "read": FILES // BATCH}[stage])
    assert _scan(source, home, tmp_path / "case", kill_at=f"{stage}:{unit}") == -signal.SIGKILL, f"{stage}:{unit}"
    assert _scan(source, home, tmp_path / "case") == 0
    assert _differences(uninterrupted[1], _recorded_here(tmp_path / "case")) == {}


def test_a_walk_that_listed_everything_is_not_complete_until_every_entry_is_recorded(
    evidence: tuple[Path, Path], uninterrupted: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole folder fits in the walk's first step: the walk has ended when the first batch comes back and dies
    unrecorded.  The case must not say the walk is complete, or the resumed scan would never list those files."""
    source, home = evidence
    monkeypatch.setattr(scan_module, "FIRST_WALK_AHEAD", 10 * FILES)
    assert _scan(source, home, tmp_path / "case", kill_at="read:1") == -signal.SIGKILL
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    assert db.execute("SELECT walk_complete FROM exhibits").fetchall() == [(0,)]
    assert _scan(source, home, tmp_path / "case") == 0
    assert _differences(uninterrupted[1], _recorded_here(tmp_path / "case")) == {}
