"""Scanning a folder end to end: every file an item, every known file a hit, nothing written to the source."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fieldlab
from fieldlab.case.store import DATABASE_FILE, CaseError
from fieldlab.demo import procedural_jpeg, procedural_png
from tests.builders import KnownFile, write_csv_hashset, write_tree


def _evidence(tmp_path: Path) -> tuple[Path, list[KnownFile]]:
    known = [
        KnownFile("Users/alex/Pictures/a.jpg", procedural_jpeg(1), "A"),
        KnownFile("Users/alex/Downloads/renamed.txt", procedural_jpeg(2), "B"),
        KnownFile("Temp/cryptic", procedural_png(3), "C"),
    ]
    files = {k.relative: k.data for k in known}
    files.update(
        {
            "Users/alex/Pictures/holiday.jpg": procedural_jpeg(10),
            "Users/alex/Documents/notes.txt": b"shopping list\n",
            "empty.bin": b"",
            "Program Files/app.exe": b"MZ" + os.urandom(5000),
            "copies/a-copy.jpg": known[0].data,
        }
    )
    source = tmp_path / "evidence"
    write_tree(source, files)
    return source, known


def _snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Size, modification and access times, and content of everything: reading must change none of them."""
    state = {}
    for dirpath, dirs, names in os.walk(root):
        for name in dirs:
            st = (Path(dirpath) / name).lstat()
            state[str((Path(dirpath) / name).relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_atime_ns, "")
        for name in names:
            path = Path(dirpath) / name
            st = path.lstat()
            fd = os.open(path, os.O_RDONLY | os.O_NOATIME)  # our own look must not disturb atime either
            with os.fdopen(fd, "rb") as f:
                content = hashlib.sha256(f.read()).hexdigest()
            state[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_atime_ns, content)
    return state


def _db(case_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(case_dir / DATABASE_FILE)


def test_every_known_file_is_a_hit_with_its_set_category_and_method(tmp_path: Path) -> None:
    source, known = _evidence(tmp_path)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "set.csv", known, extra=50), name="known")
    result = fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    assert not result.interrupted
    found = {(h.path, h.category, h.method) for h in fieldlab.hits(tmp_path / "case")}
    expected = {(k.relative, k.category, m) for k in known for m in ("md5", "sha1")}
    expected |= {("copies/a-copy.jpg", "A", "md5"), ("copies/a-copy.jpg", "A", "sha1")}
    assert found == expected
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.files == counts.files_read == 8
    assert counts.hits_by_category == {"A": 2, "B": 1, "C": 1}
    assert counts.media == 5
    assert counts.extension_mismatches == 1  # the JPEG named .txt


def test_a_set_of_sha256_digests_only_is_matched_without_asking_for_sha256(tmp_path: Path) -> None:
    """Some exchanges send SHA-256 alone; a scan that computed only MD5 and SHA-1 would match none of it, silently."""
    source, known = _evidence(tmp_path)
    rows = ["sha256,category"] + [f"{hashlib.sha256(k.data).hexdigest()},{k.category}" for k in known]
    (tmp_path / "set.csv").write_text("\n".join(rows) + "\n")
    fieldlab.import_hashset(tmp_path / "set.csv", name="sha256-only")
    fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    found = {(h.path, h.category, h.method) for h in fieldlab.hits(tmp_path / "case")}
    assert found == {(k.relative, k.category, "sha256") for k in known} | {("copies/a-copy.jpg", "A", "sha256")}


def test_digests_and_types_are_recorded_for_every_file_including_empty_ones(tmp_path: Path) -> None:
    source, _ = _evidence(tmp_path)
    fieldlab.scan(source, tmp_path / "case", sha256=True)
    rows = _db(tmp_path / "case").execute("SELECT path, md5, sha1, sha256, file_type, extension_mismatch FROM items").fetchall()
    assert len(rows) == 8
    for path, md5, sha1, sha256, file_type, _mismatch in rows:
        data = (source / path).read_bytes()
        assert (md5, sha1, sha256) == (
            hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()
        )
    types = {path: (file_type, mismatch) for path, _, _, _, file_type, mismatch in rows}
    assert types["Users/alex/Downloads/renamed.txt"] == ("jpeg", 1)
    assert types["Temp/cryptic"][0] == "png"
    assert types["empty.bin"][0] == "empty"


def test_the_source_is_not_modified_and_nothing_is_written_into_it(tmp_path: Path) -> None:
    source, known = _evidence(tmp_path)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "set.csv", known))
    _snapshot(source)  # listing folders here sets their atimes once (relatime); file atimes stay untouched
    before = _snapshot(source)
    fieldlab.scan(source, tmp_path / "case")
    assert _snapshot(source) == before


def test_rescanning_the_same_exhibit_adds_no_items_or_hits(tmp_path: Path) -> None:
    source, known = _evidence(tmp_path)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "set.csv", known))
    fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    second = fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    assert second.resumed
    db = _db(tmp_path / "case")
    assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 8
    assert db.execute("SELECT COUNT(*) FROM hits").fetchone()[0] == 8


def test_a_set_imported_after_the_scan_is_matched_on_the_next_run_without_rereading(tmp_path: Path) -> None:
    source, known = _evidence(tmp_path)
    fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    assert list(fieldlab.hits(tmp_path / "case")) == []
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "set.csv", known))
    fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    assert len({h.path for h in fieldlab.hits(tmp_path / "case")}) == 4


def test_one_exhibit_reference_cannot_name_two_sources(tmp_path: Path) -> None:
    source, _ = _evidence(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    with pytest.raises(CaseError, match="give this source its own --exhibit"):
        fieldlab.scan(other, tmp_path / "case", exhibit_ref="EX1")


def test_the_audit_trail_records_the_scan_and_verifies(tmp_path: Path) -> None:
    source, _ = _evidence(tmp_path)
    fieldlab.scan(source, tmp_path / "case", exhibit_ref="EX1")
    assert fieldlab.verify_audit(tmp_path / "case").ok
    actions = [r[0] for r in _db(tmp_path / "case").execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["case_created", "scan_started", "scan_finished"]


def _many_files(root: Path, count: int, known: KnownFile) -> None:
    for n in range(count):
        folder = root / f"dir{n % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{n:05d}.bin").write_bytes(n.to_bytes(4, "big") * 64)
    write_tree(root, {known.relative: known.data})


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_scan_resumes_without_losing_or_duplicating_items(tmp_path: Path, stop_signal: int) -> None:
    known = KnownFile("dir49/zz-known.jpg", procedural_jpeg(5), "A")
    source = tmp_path / "evidence"
    _many_files(source, 6000, known)
    fieldlab.import_hashset(write_csv_hashset(tmp_path / "set.csv", [known]))
    case_dir = tmp_path / "case"
    command = [sys.executable, "-m", "fieldlab", "scan", str(source), "--case", str(case_dir), "--exhibit", "EX1",
               "--workers", "1", "--no-live"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    done_at_stop = _wait_for_items_read(case_dir, minimum=200)
    if stop_signal == signal.SIGINT:
        os.killpg(process.pid, stop_signal)  # Ctrl-C reaches the whole foreground group
    else:
        process.kill()  # only the main process, as the out-of-memory killer would: its workers must not linger
    _, stderr = process.communicate(timeout=60)
    _wait_for_group_to_end(process.pid)
    if stop_signal == signal.SIGINT:
        assert process.returncode == 130, stderr.decode()[-3000:]
        assert b"run the same command again to resume" in stderr
    db = _db(case_dir)
    read_before = db.execute("SELECT COUNT(*) FROM items WHERE state != 'pending'").fetchone()[0]
    assert done_at_stop <= read_before < 6001, "the scan finished before it could be interrupted"
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT locator) FROM items").fetchone() == (6001, 6001)
    assert db.execute("SELECT COUNT(*) FROM items WHERE state != 'done'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM hits").fetchone()[0] == 2  # md5 and sha1 of the one known file
    bad = db.execute("SELECT path, md5 FROM items").fetchall()
    for path, md5 in bad[:: 97]:
        assert md5 == hashlib.md5((source / path).read_bytes()).hexdigest()
    assert fieldlab.verify_audit(case_dir).ok


def _wait_for_group_to_end(group: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(group, signal.SIGKILL)
    raise AssertionError("reader processes outlived the scan")


def _wait_for_items_read(case_dir: Path, minimum: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            count = _db(case_dir).execute("SELECT COUNT(*) FROM items WHERE state != 'pending'").fetchone()[0]
        except sqlite3.Error:
            count = 0
        if count >= minimum:
            return count
        time.sleep(0.02)
    raise AssertionError("the scan did not start reading in time")
