"""The court report (HTML and PDF) of the generated two-exhibit case: its numbers, its safety, its reproducibility."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import sqlite3
import subprocess
import zipfile
from dataclasses import replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageFilter, ImageStat
from typer.testing import CliRunner

import fieldlab
from fieldlab.case.queries import exhibit_counts
from fieldlab.case.store import CaseStore
from fieldlab.cli import app
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.report.charging import BASES, TOTAL, charging_table
from fieldlab.report.document import ReportContent, build_report, utc_text
from fieldlab.report.pictures import PictureStyle
from fieldlab.report.render import DataOnlyFetcher, default_output, html_to_pdf, render_html, render_pdf
from tests.conftest import REALDATA
from tests.report.report_case import HOSTILE_NAME, ReportCase

DATA_URI = re.compile(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"')


def _content(case: Path, pictures: PictureStyle | None = None, home: Path | None = None, **kwargs) -> ReportContent:
    store = CaseStore.open(case, create=False)
    try:
        return build_report(store, pictures=pictures, library=HashSetLibrary(home or case.parent / "home"), **kwargs)
    finally:
        store.close()


class _ChargingCells(HTMLParser):
    """(scope, basis, medium, category) -> the four numbers of a charging-table cell, as the page shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str, str], list[str]] = {}
        self._table: tuple[str, str] | None = None
        self._open: list[str] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("class") == "charging":
            self._table = (found["data-scope"], found["data-basis"])
        elif tag == "td" and self._table and "cell" in (found.get("class") or "").split():
            self._open = self.cells.setdefault((*self._table, found["data-medium"], found["data-category"]), [])
        if tag == "td":
            self._text = ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._open is not None:
            self._open.append(self._text.strip())
            if len(self._open) == 4:
                self._open = None
        elif tag == "table":
            self._table = None


def _cells(html: str) -> dict[tuple[str, str, str, str], list[str]]:
    parser = _ChargingCells()
    parser.feed(html)
    return parser.cells


def test_the_html_shows_every_charging_table_number_of_the_case(report_case: ReportCase) -> None:
    html = render_html(_content(report_case.case))
    store = CaseStore.open(report_case.case, create=False)
    try:
        table = charging_table(store)
    finally:
        store.close()
    shown = _cells(html)
    scopes = ("EX1-LAPTOP", "EX2-PHONE", TOTAL)
    counted = {(r.scope, r.basis) for r in table.rows if r.images}
    groups = {(r.scope, r.basis, r.medium) for r in table.rows if r.images}
    # a basis that counted anything is a table: each medium that counted anything with every category, zeros
    # included; a medium or a basis that counted nothing is one line
    assert {(scope, basis, medium) for scope, basis, medium, _ in shown} == groups
    assert len(shown) == len(groups) * len(table.categories)
    for scope in scopes:
        for basis in BASES:
            if (scope, basis) not in counted:
                heading = scope if scope == TOTAL else f"Exhibit {scope}"
                assert re.search(rf"<strong>Basis: {basis}\.</strong> No image counted\.", _section(html, heading))
    for (scope, basis, medium, category), numbers in shown.items():
        row = table.cell(scope, basis, medium, category)
        expected = [f"{row.images} ({row.copies})", str(row.live), str(row.deleted_or_carved_only),
                    str(row.thumbnail_only)] if row else ["0 (0)", "0", "0", "0"]
        assert numbers == expected, (scope, basis, medium, category)
    assert {r.scope for r in table.rows} <= set(scopes)
    # checked by hand (report_case.EXPECTED): one picture in three copies on two devices; b, gone.jpg and the phone's
    assert shown[(TOTAL, "hash set", "still", "A")] == ["1 (3)", "1", "0", "0"]
    assert shown[(TOTAL, "hash set", "still", "B")] == ["3 (3)", "2", "1", "0"]
    assert shown[("EX1-LAPTOP", "indicative", "still", "A")] == ["1 (1)", "1", "0", "0"]
    assert shown[(TOTAL, "hash set", "movie", "A")] == ["1 (1)", "1", "0", "0"]
    assert "removed from every table: <strong>1</strong>" in html  # the picture the examiner overruled


def _section(html: str, heading: str) -> str:
    """The charging-table part of the HTML from ``heading`` to the next scope's heading."""
    start = html.index(f"<h2>{heading}")
    following = html.find("<h2>", start + 4)
    return html[start:following if following > 0 else None]


def test_every_scope_is_headed_by_what_it_counts_all_exhibits_first(report_case: ReportCase) -> None:
    html = render_html(_content(report_case.case))
    charging = html[html.index('id="charging"'):html.index('id="exhibits"')]
    headings = re.findall(r"<h2>([^<]*)</h2>", charging)
    assert headings == ["All exhibits", "Exhibit EX1-LAPTOP", "Exhibit EX2-PHONE"]
    assert "Exhibit All exhibits" not in html


def test_the_summary_gives_the_totals_of_all_exhibits_not_of_one(report_case: ReportCase) -> None:
    content = _content(report_case.case)
    html = render_html(content)
    summary = html[:html.index('id="charging"')]
    store = CaseStore.open(report_case.case, create=False)
    try:
        table = charging_table(store)
    finally:
        store.close()
    for basis in BASES:
        stills = sum(table.images(TOTAL, basis, "still", category) for category in table.categories)
        movies = sum(table.images(TOTAL, basis, "movie", category) for category in table.categories)
        row = re.search(rf'basis "{basis}", all exhibits</th><td>\s*(\d+) stills,\s*(\d+) movies', summary)
        assert row and (int(row[1]), int(row[2])) == (stills, movies), basis


def _overlapping_words(pdf: Path, page: int) -> list[tuple[str, str]]:
    """Pairs of words whose boxes overlap on one page of the PDF, as pdftotext places them."""
    xhtml = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout
    words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', xhtml)]
    clashes = []
    for i, (x0, y0, x1, y1, word) in enumerate(words):
        for a0, b0, a1, b1, other in words[i + 1:]:
            if min(x1, a1) - max(x0, a0) > 0.5 and min(y1, b1) - max(y0, b0) > 0.5:
                clashes.append((word, other))
    return clashes


def words_past_the_right_margin(pdf: Path, margin: float = 20.0) -> list[tuple[int, str]]:
    """(page, word) of every word that ends less than ``margin`` points from a page's right edge: a table too wide
    for its page runs into the margin and off it, where the reader loses its last columns."""
    xhtml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    past = []
    for number, (width, body) in enumerate(re.findall(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', xhtml, re.DOTALL), 1):
        past += [(number, word) for end, word in re.findall(r'xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', body)
                 if float(end) > float(width) - margin]
    return past


def test_no_words_of_the_charging_pages_overlap_in_the_pdf(report_case: ReportCase, tmp_path: Path) -> None:
    output = tmp_path / "report.pdf"
    result = CliRunner().invoke(app, ["report", str(report_case.case), "--format", "pdf", "-o", str(output),
                                      "--home", str(report_case.case.parent / "home")])
    assert result.exit_code == 0, result.output
    pages = subprocess.run(["pdftotext", "-layout", str(output), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    charging = [n for n, text in enumerate(pages, 1) if "Basis: hash set" in text]
    assert charging
    for page in charging:
        assert _overlapping_words(output, page) == [], page
    assert words_past_the_right_margin(output) == []


def test_evidence_names_and_declarations_are_shown_escaped_never_as_markup(report_case: ReportCase) -> None:
    html = render_html(_content(report_case.case, declaration="I declare <script>alert(1)</script> & sign"))
    assert "Download/&lt;img src=x onerror=alert(1)&gt;.jpg" in html
    assert "<img src=x" not in html and HOSTILE_NAME not in html
    assert "I declare &lt;script&gt;alert(1)&lt;/script&gt; &amp; sign" in html and "<script" not in html
    assert "<img" not in html  # no picture of any item unless asked for


def test_every_counted_item_is_listed_with_how_it_was_matched(report_case: ReportCase) -> None:
    content = _content(report_case.case)
    html = render_html(content)
    assert len(content.items) == 12
    for entry in content.items:
        assert entry.item.sha1 in html and entry.item.md5 in html
    assert "examiner DC Test 1234" in html and "pdq distance " in html
    assert re.search(r"modified \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", html)


def test_the_pdf_has_the_charging_table_on_the_page_after_the_title_page(report_case: ReportCase,
                                                                          tmp_path: Path) -> None:
    output = tmp_path / "report.pdf"
    declaration = tmp_path / "declaration.txt"
    declaration.write_text("I am the examiner.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(report_case.case), "--format", "pdf", "-o", str(output),
                                      "--declaration", str(declaration), "--home", str(report_case.case.parent / "home")])
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(b"%PDF")
    pages = subprocess.run(["pdftotext", "-layout", str(output), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    holding = [number for number, text in enumerate(pages, 1) if "Charging table" in text]
    assert holding and holding[0] == 2
    assert "All exhibits" in pages[1] and "Basis: hash set" in pages[1]
    assert any("Exhibit EX1-LAPTOP" in page and "Basis: hash set" in page for page in pages)
    assert any("I am the examiner." in page for page in pages)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(output), str(tmp_path / "page")], check=True)
    png = sorted(tmp_path.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))[holding[0] - 1]
    with Image.open(png) as page:
        grey = page.convert("L")
        assert grey.width > 300 and grey.height > 400
        dark = sum(grey.histogram()[:128])
    assert dark > 2000  # text and table rules, not a blank page


def test_two_reports_of_the_same_case_differ_only_in_the_time_they_were_made(report_case: ReportCase) -> None:
    first = render_html(_content(report_case.case, generated_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)))
    second = render_html(_content(report_case.case))
    assert first != second

    def without_time(html: str) -> list[str]:
        return [line for line in html.splitlines() if 'class="generated"' not in line]

    assert without_time(first) == without_time(second)
    assert len(first.splitlines()) == len(without_time(first)) + 1
    store = CaseStore.open(report_case.case, create=False)
    try:
        recorded = [e.source for e in store.exhibits()]
    finally:
        store.close()
    for source in recorded:  # the evidence paths the case recorded are the only paths of this machine shown
        first = first.replace(source, "")
    assert str(report_case.case.parent) not in first


def test_the_pdf_renderer_fetches_nothing_but_the_reports_own_pictures(report_case: ReportCase) -> None:
    content = _content(report_case.case, declaration='<img src="http://example.invalid/d.png">')
    hostile = '<img src="file:///etc/passwd"> <link rel="stylesheet" href="http://example.invalid/x.css">'
    first = content.items[0]
    content = replace(content, items=(replace(first, item=replace(first.item, path=hostile)), *content.items[1:]))
    fetcher = DataOnlyFetcher()
    assert render_pdf(content, fetcher).startswith(b"%PDF")
    assert fetcher.refused == []  # escaped: the names never became elements, so nothing was asked for
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in render_html(content)

    raw = f"<html><body><p>{hostile}</p><img src='http://example.invalid/d.png'></body></html>"
    fetcher = DataOnlyFetcher()
    assert html_to_pdf(raw, fetcher).startswith(b"%PDF")  # had markup slipped through, it would still fetch nothing
    assert "file:///etc/passwd" in fetcher.refused and "http://example.invalid/d.png" in fetcher.refused
    assert fetcher.fetched == []


def _decoded(data_uri_payload: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data_uri_payload)))


def _edges(image: Image.Image) -> float:
    """Mean edge strength inside the picture (its border, where the filter sees a frame, left out)."""
    found = image.convert("L").filter(ImageFilter.FIND_EDGES)
    return ImageStat.Stat(found.crop((4, 4, found.width - 4, found.height - 4))).mean[0]


def test_thumbnails_are_small_blurred_greyscale_pictures_drawn_anew(report_case: ReportCase) -> None:
    content = _content(report_case.case, pictures=PictureStyle())
    html = render_html(content)
    payloads = DATA_URI.findall(html)
    assert len(payloads) == len(content.items) == html.count("<img")  # every still and the movie, nothing else
    evidence = {item.item.md5 for item in content.items}
    for payload in payloads:
        picture = _decoded(payload)
        assert picture.format == "JPEG" and picture.mode == "L" and max(picture.size) <= 128
        assert hashlib.md5(base64.b64decode(payload)).hexdigest() not in evidence
    sharp = _content(report_case.case, pictures=PictureStyle(blur_radius=0))
    for blurred_entry, sharp_entry in zip(content.items, sharp.items):
        blurred = _decoded(blurred_entry.picture.data_uri.split(",", 1)[1])
        clear = _decoded(sharp_entry.picture.data_uri.split(",", 1)[1])
        assert _edges(blurred) < _edges(clear) / 2


def test_evidence_that_cannot_be_reached_is_said_in_place_of_its_picture(report_case: ReportCase,
                                                                         tmp_path: Path) -> None:
    case = tmp_path / "moved"
    shutil.copytree(report_case.case, case)
    with sqlite3.connect(case / "case.sqlite") as db:
        db.execute("UPDATE exhibits SET source = ? WHERE ref = 'EX2-PHONE'", (str(tmp_path / "gone"),))
    content = _content(case, pictures=PictureStyle(), home=report_case.case.parent / "home")
    phone = [e for e in content.items if e.item.exhibit == "EX2-PHONE"]
    laptop = [e for e in content.items if e.item.exhibit == "EX1-LAPTOP"]
    assert phone and all(e.picture.data_uri is None and e.picture.note.startswith(
        "cannot be previewed: the evidence is not reachable") for e in phone)
    assert all(e.picture.data_uri for e in laptop)
    assert "cannot be previewed: the evidence is not reachable" in render_html(content)


def test_hash_sets_are_described_by_the_library_or_as_the_case_recorded_them(report_case: ReportCase,
                                                                             tmp_path: Path) -> None:
    known = {s.name: s for s in _content(report_case.case).hash_sets}
    assert sorted(known) == ["caid-test", "pdq-test"]
    caid = known["caid-test"]
    assert caid.exhibits == ("EX1-LAPTOP", "EX2-PHONE") and caid.library is not None
    assert caid.library.entries == 8 and caid.recorded.endswith("@" + caid.library.source_sha256[:12])

    empty = tmp_path / "another-machine"
    content = _content(report_case.case, home=empty)
    assert all(s.library is None and "no longer holds" in s.library_note for s in content.hash_sets)
    html = render_html(content)
    assert caid.recorded in html and "no longer holds this set" in html


def test_the_method_records_exhibits_settings_and_what_was_scanned(report_case: ReportCase) -> None:
    content = _content(report_case.case)
    laptop, phone = content.exhibits
    assert (laptop.ref, laptop.kind, phone.ref, phone.kind) == ("EX1-LAPTOP", "image", "EX2-PHONE", "folder")
    assert laptop.facts.partition_scheme == "dos" and [v.file_system for v in laptop.facts.volumes] == ["fat32"]
    assert laptop.evidence_hash.state == "no stored hash" and {f.label for f in laptop.evidence_hash.computed} == {
        "md5", "sha1"}
    assert phone.facts is None and phone.evidence_hash.state == "not checked"
    assert [(s.exhibit, s.action) for s in content.scans] == [("EX1-LAPTOP", "scan_started"),
                                                              ("EX2-PHONE", "scan_started")]
    settings = {f.label.split(" (")[0]: f.value for f in content.scans[0].settings}
    assert settings["PDQ radius"] == "31" and settings["Carving of free space"] == "yes"
    assert settings["SHA-256 computed"] == "no" and settings["Archive passwords supplied"] == "0"
    store = CaseStore.open(report_case.case, create=False)
    try:
        counts = exhibit_counts(store)
    finally:
        store.close()
    assert [(c.exhibit, c.files, c.files_read, c.media_decoded, c.errors) for c in content.coverage] == [
        (c.ref, c.files, c.files_read, c.media_decoded, c.errors) for c in counts]
    assert any("never added together" in rule for rule in content.counting_rules)


def test_the_audit_trail_is_summarised_and_a_written_report_is_recorded_in_it(report_case: ReportCase,
                                                                             tmp_path: Path) -> None:
    content = _content(report_case.case)
    store = CaseStore.open(report_case.case, create=False)
    try:
        assert (content.audit.head_seq, content.audit.head_hash) == store.audit.head()
    finally:
        store.close()
    assert content.audit.intact and content.audit.head_hash in render_html(content)

    output = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(report_case.case), "--format", "html", "-o", str(output),
                                      "--profile", "uk", "--thumbnails"])
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    assert digest in result.output
    store = CaseStore.open(report_case.case, create=False)
    try:
        last = store.audit.entries()[-1]
        assert store.audit.verify().ok
    finally:
        store.close()
    assert last.action == "report_written"
    assert last.detail == {"format": "html", "profile": "uk", "file": "report.html", "sha256": digest,
                           "thumbnails": True, "declaration": False}


def test_a_report_is_never_written_inside_or_beside_the_evidence(report_case: ReportCase) -> None:
    # the phone folder exhibit, and the folder holding the laptop image (which also holds the phone folder)
    for target in (report_case.evidence / "phone" / "report.html", report_case.evidence / "report.html"):
        result = CliRunner().invoke(app, ["report", str(report_case.case), "--format", "html", "-o", str(target)])
        assert result.exit_code != 0 and "nothing may be written there" in " ".join(result.output.split())
        assert not target.exists()


def test_the_default_report_name_comes_from_the_profile_and_the_time_only(tmp_path: Path) -> None:
    name = default_output(tmp_path, "us", "pdf", now=datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc))
    assert name == tmp_path / "report-us-20310506T070809Z.pdf"


def test_a_us_profile_report_of_a_uk_case_counts_nothing(report_case: ReportCase) -> None:
    html = render_html(_content(report_case.case, profile="us"))
    assert _cells(html) == {}  # no table of zeros: each scope says in one line that nothing was counted
    assert html.count("no image counted on any basis.") == 3


@pytest.mark.parametrize("arguments, message", [(["--format", "doc"], "--format must be pdf or html"),
                                                (["--profile", "fr"], "--profile must be one of")])
def test_the_command_refuses_unknown_formats_and_profiles(report_case: ReportCase, arguments: list[str],
                                                          message: str) -> None:
    result = CliRunner().invoke(app, ["report", str(report_case.case), *arguments])
    assert result.exit_code == 2 and message in result.output


def test_the_logical_volumes_of_an_lvm_physical_volume_are_named_in_the_volume_table(report_case: ReportCase,
                                                                                       tmp_path: Path) -> None:
    case = tmp_path / "edited"
    shutil.copytree(report_case.case, case)
    volume = {"offset": 1048576, "length": 8388608, "description": "Linux Logical Volume Manager", "index": 2,
              "file_system": "lvm", "logical_volumes": [
                  {"index": 0, "name": "root", "size": 4194304, "file_system": "ext4", "problem": None},
                  {"index": 1, "name": "<swap_1>", "size": 4194304, "file_system": None, "problem": "a swap area"}]}
    facts = {"container": {"kind": "raw"}, "media_size": 9437184, "partition_scheme": "dos", "sector_size": 512,
             "volumes": [volume], "gaps": [], "problems": []}
    with sqlite3.connect(case / "case.sqlite") as db:
        db.execute("UPDATE exhibits SET facts = ? WHERE ref = 'EX1-LAPTOP'", (json.dumps(facts),))
    content = _content(case, home=report_case.case.parent / "home")
    [shown] = content.exhibits[0].facts.volumes
    assert (shown.file_system, shown.logical_volumes) == ("lvm", "root (ext4), <swap_1> (not read)")
    assert "(LVM logical volumes: root (ext4), &lt;swap_1&gt; (not read))" in render_html(content)


def test_acquisition_metadata_devices_and_errors_recorded_by_the_case_are_shown(report_case: ReportCase,
                                                                               tmp_path: Path) -> None:
    case = tmp_path / "edited"
    shutil.copytree(report_case.case, case)
    facts = {"container": {"kind": "ewf", "segments": ["/evidence/JD-1.E01"], "media_size": 1024,
                           "bytes_per_sector": 512, "stored_hashes": {"md5": "ab" * 16},
                           "headers": {"case_number": "<b>OP-ASH</b>", "examiner_name": "DC Test"}},
             "media_size": 1024, "partition_scheme": "gpt", "sector_size": 512, "volumes": [], "gaps": [],
             "problems": ["segment 3 is missing"]}
    device = {"platform": "android", "source": "system/build.prop", "make": "samsung", "model": "SM-G960F",
              "serial": "R58M<script>", "extracted_at": 1700000000.0}
    with sqlite3.connect(case / "case.sqlite") as db:
        db.execute("UPDATE exhibits SET facts = ?, hash_state = 'mismatch', hash_detail = ? WHERE ref = 'EX1-LAPTOP'",
                   (json.dumps(facts), json.dumps({"stored": {"md5": "ab" * 16}, "computed": {"md5": "cd" * 16},
                                                    "message": "the media hash differs from the one stored"})))
        db.execute("INSERT INTO devices (exhibit_id, source_item_id, platform, facts) "
                   "SELECT id, NULL, 'android', ? FROM exhibits WHERE ref = 'EX2-PHONE'", (json.dumps(device),))
        db.executemany("INSERT INTO errors (exhibit_id, stage, kind, path, message, at) "
                       "SELECT id, 'read', 'damaged', ?, ?, 0 FROM exhibits WHERE ref = 'EX2-PHONE'",
                       [(f"DCIM/broken{n}.jpg", f"cannot be read <{n}>") for n in range(7)])
    content = _content(case, home=report_case.case.parent / "home")
    laptop, phone = content.exhibits
    assert [(f.label, f.value) for f in laptop.facts.headers] == [("case_number", "<b>OP-ASH</b>"),
                                                                  ("examiner_name", "DC Test")]
    assert laptop.facts.problems == ("segment 3 is missing",) and laptop.evidence_hash.state == "mismatch"
    assert {f.label: f.value for f in phone.devices[0].facts}["extracted_at"] == "2023-11-14 22:13:20 UTC"
    (group,) = content.coverage[1].error_groups
    assert (group.kind, group.label, group.count, len(group.first)) == ("damaged", "damaged", 7, 5)
    assert group.first[0].label == "DCIM/broken0.jpg (read)"
    html = render_html(content)
    assert "&lt;b&gt;OP-ASH&lt;/b&gt;" in html and "R58M&lt;script&gt;" in html and "SM-G960F" in html
    assert "cannot be read &lt;4&gt;" in html and "cannot be read &lt;5&gt;" not in html
    assert '<span class="problem">mismatch</span>' in html and "segment 3 is missing" in html


def test_loading_the_pdf_renderer_leaves_pillow_strict_about_truncated_pictures() -> None:
    """WeasyPrint turns LOAD_TRUNCATED_IMAGES on at import; a scan in the same process must still refuse them."""
    import importlib

    from PIL import ImageFile

    import fieldlab.report.render as render

    importlib.reload(render)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_real_disk_images_facts_show_no_empty_json_values(tmp_path: Path) -> None:
    # DFTT #9 (a FAT volume, no partition table): its container records no device ids and no missing parent
    with zipfile.ZipFile(REALDATA / "sleuthkit__sleuthkit_test_data/from_brian/9-fat-label.zip") as archive:
        image = Path(archive.extract("9-fat-label/9-fat-label.dd", tmp_path))
    fieldlab.scan(image, tmp_path / "case", workers=1, perceptual=False)
    (exhibit,) = _content(tmp_path / "case").exhibits
    assert exhibit.facts is not None
    shown = {fact.label: fact.value for fact in (*exhibit.facts.container, *exhibit.facts.other)}
    assert shown["unpartitioned gaps (offset, length)"] == "none"
    assert not [label for label, value in shown.items() if value in ("[]", "{}", "null", '""')], shown


def test_audit_trail_times_read_like_every_other_time_in_the_report() -> None:
    assert utc_text("2026-12-06T19:06:00.282475+00:00") == "2026-12-06 19:06:00 UTC"
    assert utc_text("2026-12-06T20:06:00+01:00") == "2026-12-06 19:06:00 UTC"
    assert utc_text("not a time") == "not a time"
