"""Problems by kind: what happened to an item is recorded as such (damaged, changed, normal...), the stage says
where, and the verdict, `summary`, `fieldlab errors` and the progress tell the truth about it."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import fieldlab
from fieldlab import api
from fieldlab.demo import procedural_jpeg
from fieldlab.evidence.archives import MAX_DEPTH
from fieldlab.problems import ProblemKind
from fieldlab.report.verdict import problems_summary, verdict_table
from fieldlab.triage.scan import ScanProgress, ScanResult
from tests.builders import tar_bytes
from tests.conftest import REALDATA

WINDOWS_10_THUMBCACHES = REALDATA / "fox-it__dissect.thumbcache" / "tests" / "data" / "windows_10"
# the demo's "bank statement.pdf": a catalog and pages, but no cross-reference table
DEMO_PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% Statement for A. Example\n%%EOF\n")


def _problems(case_dir: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(case_dir / "case.sqlite") as db:
        return db.execute("SELECT kind, stage, path FROM errors ORDER BY path").fetchall()


def _scan(source: Path, case_dir: Path, **options: object) -> ScanResult:
    return fieldlab.scan(source, case_dir, workers=1, perceptual=False, **options)


def test_header_only_windows_thumbcaches_are_normal_not_errors(tmp_path: Path) -> None:
    _scan(WINDOWS_10_THUMBCACHES, tmp_path / "case")
    empty = sorted(p.name for p in WINDOWS_10_THUMBCACHES.glob("thumbcache_*.db") if p.stat().st_size == 24)
    assert len(empty) == 10
    assert _problems(tmp_path / "case") == [("normal", "read", name) for name in empty]
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.errors == 0 and counts.problems == {"normal": 10}
    assert problems_summary(counts.problems) == "10 normal"


def test_a_damaged_pdf_is_damaged_not_changed(tmp_path: Path) -> None:
    source = tmp_path / "evidence" / "Users" / "alex" / "Downloads"
    source.mkdir(parents=True)
    (source / "bank statement.pdf").write_bytes(DEMO_PDF)
    (source / "notes.txt").write_bytes(b"shopping: milk, bread\r\n")
    _scan(tmp_path / "evidence", tmp_path / "case")
    assert _problems(tmp_path / "case") == [("damaged", "read", "Users/alex/Downloads/bank statement.pdf")]
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.problems == {"damaged": 1} and counts.errors == 1


class _GrowOnFirstUpdate:
    """Appends to a file the first time the scan reports: after the walk listed it, before any worker read it."""

    def __init__(self, path: Path) -> None:
        self.path, self.done = path, False

    def update(self, progress: ScanProgress) -> None:
        if not self.done:
            self.done = True
            with open(self.path, "ab") as out:
                out.write(b" and more written while the scan ran")


def test_a_file_changed_during_a_folder_scan_is_changed(tmp_path: Path) -> None:
    source = tmp_path / "evidence"
    source.mkdir()
    (source / "log.txt").write_bytes(b"first line")
    (source / "still.txt").write_bytes(b"unchanged")
    _scan(source, tmp_path / "case", observer=_GrowOnFirstUpdate(source / "log.txt"))
    assert _problems(tmp_path / "case") == [("changed", "read", "log.txt")]
    with sqlite3.connect(tmp_path / "case" / "case.sqlite") as db:
        (message,) = db.execute("SELECT message FROM errors").fetchone()
    assert message.startswith("changed since it was listed")


def _nested_zips(levels: int, inner: bytes) -> bytes:
    data = inner
    for level in range(levels, 0, -1):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"level{level}.zip" if level < levels else "picture.jpg", data)
        data = buffer.getvalue()
    return data


def test_an_archive_past_the_nesting_limit_is_counted_apart_as_nesting(tmp_path: Path) -> None:
    source = tmp_path / "evidence"
    source.mkdir()
    (source / "deep.zip").write_bytes(_nested_zips(MAX_DEPTH + 2, procedural_jpeg(3)))
    _scan(source, tmp_path / "case")
    kinds = [kind for kind, _, _ in _problems(tmp_path / "case")]
    assert kinds == ["nesting"]
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert problems_summary(counts.problems) == f"{ProblemKind.NESTING.label} 1"


def test_problems_show_by_kind_in_the_verdict_with_where_to_find_them(tmp_path: Path) -> None:
    source = tmp_path / "evidence"
    shutil.copytree(WINDOWS_10_THUMBCACHES, source)
    (source / "statement.pdf").write_bytes(DEMO_PDF)
    (source / "deep.zip").write_bytes(_nested_zips(MAX_DEPTH + 2, b"text"))
    _scan(source, tmp_path / "case")
    counts = fieldlab.summary(tmp_path / "case")
    assert problems_summary(counts[0].problems) == "1 damaged · not opened: nesting limit 1 · 10 normal"
    from rich.console import Console

    console = Console(width=250, record=True)
    console.print(verdict_table(counts, details="fieldlab errors CASE"))
    text = console.export_text()
    assert "1 damaged · not opened: nesting limit 1 · 10 normal" in text
    assert "Each problem, by kind: fieldlab errors CASE" in text and "changed" not in text


def _tar_gz(entries: dict[str, bytes]) -> bytes:
    return gzip.compress(tar_bytes(entries), mtime=0)


class _Snapshots:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int, int, int]] = []

    def update(self, progress: ScanProgress) -> None:
        self.seen.append((progress.bytes_read, progress.bytes_listed, progress.files_read, progress.files_listed))


def test_progress_never_reads_more_than_it_lists_in_nested_archives(tmp_path: Path) -> None:
    """A gzip stream does not say how large it expands; the tar inside it, and the zip holding both, are found
    only as they are read: listed bytes follow, so the bar never shows more read than listed."""
    source = tmp_path / "evidence"
    source.mkdir()
    tar_gz = _tar_gz({f"photo{n}.jpg": procedural_jpeg(n) for n in range(4)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("backup.tar.gz", tar_gz)
        archive.writestr("readme.txt", b"x" * 5000)
    (source / "outer.zip").write_bytes(buffer.getvalue())
    (source / "loose.bin").write_bytes(b"\0" * 3000)
    snapshots = _Snapshots()
    result = _scan(source, tmp_path / "case", observer=snapshots)
    assert snapshots.seen and all(read <= listed for read, listed, _, _ in snapshots.seen)
    assert all(files_read <= files_listed for _, _, files_read, files_listed in snapshots.seen)
    p = result.progress
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert (p.bytes_read, p.bytes_listed) == (counts.bytes_read, counts.bytes) and counts.bytes == counts.bytes_read
    assert (p.files_read, p.files_listed) == (counts.files_read, counts.files) == (9, 9)


def test_errors_command_lists_problems_by_kind_and_as_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    source = tmp_path / "evidence"
    shutil.copytree(WINDOWS_10_THUMBCACHES, source)
    (source / "statement.pdf").write_bytes(DEMO_PDF)
    _scan(source, tmp_path / "case")
    runner = CliRunner()
    listed = runner.invoke(app, ["errors", str(tmp_path / "case"), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["kind"] for r in rows] == ["damaged"] + ["normal"] * 10  # grouped by kind, errors first
    assert rows[0]["path"] == "statement.pdf" and rows[0]["stage"] == "read" and rows[0]["label"] == "damaged"
    only = runner.invoke(app, ["errors", str(tmp_path / "case"), "--kind", "damaged"])
    assert only.exit_code == 0 and "statement.pdf" in only.output and "thumbcache" not in only.output
    wrong = runner.invoke(app, ["errors", str(tmp_path / "case"), "--kind", "broken"])
    assert wrong.exit_code == 2 and "choose one of" in wrong.output
    summary = runner.invoke(app, ["summary", str(tmp_path / "case"), "--json"])
    assert summary.exit_code == 0
    (exhibit,) = json.loads(summary.output)
    assert exhibit["problems"] == {"damaged": 1, "normal": 10} and exhibit["errors"] == 1


def test_the_report_lists_problems_grouped_by_kind_with_their_labels(tmp_path: Path) -> None:
    source = tmp_path / "evidence"
    shutil.copytree(WINDOWS_10_THUMBCACHES, source)
    (source / "statement.pdf").write_bytes(DEMO_PDF)
    (source / "log.txt").write_bytes(b"first line")
    _scan(source, tmp_path / "case", observer=_GrowOnFirstUpdate(source / "log.txt"))
    written = api.report(tmp_path / "case", "html", tmp_path / "report.html")
    html = Path(written.path).read_text(encoding="utf-8")
    headings = re.findall(r'<h3 class="problem-kind" data-kind="(\w+)">([^<]*)</h3>', html)
    assert [(kind, " ".join(text.split()[2:])) for kind, text in headings] == [
        ("damaged", "1 damaged"), ("changed", "1 changed during the scan"),
        ("normal", "10 normal (not an error) (first 5 shown)")]
    damaged_at, changed_at = html.index('data-kind="damaged"'), html.index('data-kind="changed"')
    assert damaged_at < html.index("statement.pdf (read)") < changed_at < html.index("log.txt (read)")
    assert "1 damaged, 1 changed during the scan · 10 normal" in html


def test_a_fragment_carved_from_free_space_is_a_normal_fact_worded_as_one(tmp_path: Path) -> None:
    # DFTT #8's free space holds a JPEG cut short: a fact of free space, not "empty" and not an error.
    with zipfile.ZipFile(REALDATA / "sleuthkit__sleuthkit_test_data/from_brian/8-jpeg-search.zip") as archive:
        image = Path(archive.extract("8-jpeg-search/8-jpeg-search.dd", tmp_path))
    _scan(image, tmp_path / "case")
    with sqlite3.connect(tmp_path / "case" / "case.sqlite") as db:
        carve_notes = db.execute("SELECT kind, message FROM errors WHERE stage = 'carve'").fetchall()
    assert carve_notes == [("normal", "1 carved run was incomplete or undecodable (fragments of overwritten files, "
                                      "as free space holds): not counted")]
    assert ProblemKind.NORMAL.label == "normal"


def test_a_picture_format_fieldlab_cannot_decode_is_unsupported_not_damaged(tmp_path: Path) -> None:
    samples = REALDATA / "abrignoni__iLEAPP/admin/test/samples_data"
    source = tmp_path / "phone-pictures"
    source.mkdir()
    for name in ("sample_jxl.jxl", "sample_qoi.qoi", "sample_gif.gif"):
        shutil.copy(samples / name, source / name)
    fieldlab.scan(source, tmp_path / "case", workers=1, classify=False)  # decoding is the perceptual stage
    assert _problems(tmp_path / "case") == [("unsupported", "decode", "sample_jxl.jxl")]
