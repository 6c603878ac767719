"""A Windows laptop's OneDrive placeholders and Compact OS files through a whole scan of its E01: placeholders listed,
flagged, never hashed or matched, counted in the summary and named in the report and exports; WOF files hashed as
their content and matched; WOF files that cannot be read are problems of their kind, and the scan goes on."""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
from pathlib import Path

import lxml.html
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from rich.console import Console

import fieldlab
from fieldlab import api
from fieldlab.case.store import CaseStore
from fieldlab.report.dfxml import DFXML_NS, FIELDLAB_NS
from fieldlab.report.verdict import cloud_only_note, summary_json, verdict_table
from fieldlab.web import WebConfig, create_app
from fieldlab.web.accounts import add_user
from tests.evidence.disk_builders import to_e01
from tests.evidence.ntfs_reparse_builders import CLOUD_SIZE, CONTENT, LOCAL, PLAIN, build_laptop_volume
from tests.report.test_document import words_past_the_right_margin
from tests.web.web_case import PASSWORDS, login

BEACH = "Users/a/OneDrive/Pictures/beach.jpg"


@pytest.fixture(scope="module")
def laptop_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The laptop volume acquired as E01 (so plain files are read by their runs, the rest through TSK), scanned
    against a set holding the WOF content, the downloaded placeholder, and the MD5 of as many zeros as the cloud-only
    placeholder's size (what it read as before)."""
    root = tmp_path_factory.mktemp("laptop")
    (root / "evidence").mkdir()
    e01 = to_e01(build_laptop_volume(root / "ntfs.img"), root / "evidence" / "laptop")[0]
    known = root / "set.csv"
    known.write_text("md5,category\n" + "".join(f"{hashlib.md5(data).hexdigest()},A\n"
                                                for data in (CONTENT, LOCAL, bytes(CLOUD_SIZE))))
    fieldlab.import_hashset(known, name="known", home=root / "home")
    fieldlab.scan(e01, root / "case", exhibit_ref="EX1", home=root / "home", workers=1, perceptual=False,
                  carve=False, verify=False)
    return root / "case"


def _rows(case: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(case / "case.sqlite") as db:
        return db.execute(sql).fetchall()


def test_a_cloud_only_placeholder_is_listed_done_unhashed_and_matches_nothing(laptop_case: Path) -> None:
    (row,) = _rows(laptop_case, f"SELECT kind, size, flags, state, md5, file_type, mtime FROM items WHERE path = '{BEACH}'")
    assert row[:6] == ("file", CLOUD_SIZE, "cloud_only", "done", None, None) and row[6] is not None
    hit_paths = {h.path for h in fieldlab.hits(laptop_case)}
    assert BEACH not in hit_paths
    assert not _rows(laptop_case, "SELECT * FROM errors WHERE path LIKE '%beach.jpg%'")


def test_wof_files_and_a_downloaded_placeholder_are_hashed_as_their_content_and_matched(laptop_case: Path) -> None:
    hashed = dict(_rows(laptop_case, "SELECT path, md5 FROM items WHERE flags IN ('wof_compressed', 'cloud_local') "
                                     "AND md5 IS NOT NULL"))
    assert hashed == {**{f"Windows/System32/{n}.dll": hashlib.md5(CONTENT).hexdigest()
                         for n in ("xpress4k", "lzx", "xpress8k", "xpress16k")},
                      "Users/a/OneDrive/Pictures/local.jpg": hashlib.md5(LOCAL).hexdigest()}
    assert {h.path for h in fieldlab.hits(laptop_case)} == set(hashed)
    assert dict(_rows(laptop_case, "SELECT path, md5 FROM items WHERE path = 'Users/a/plain.txt'")) == {
        "Users/a/plain.txt": hashlib.md5(PLAIN).hexdigest()}


def test_wof_files_that_cannot_be_read_are_problems_of_their_kind(laptop_case: Path) -> None:
    problems = {path.rsplit("/", 1)[-1]: kind for path, kind in _rows(laptop_case, "SELECT path, kind FROM errors")}
    assert problems == {"unknown.dll": "unsupported", "wimboot.dll": "unsupported", "huge.dll": "damaged",
                        "inflated.dll": "damaged", "garbage.dll": "damaged"}
    assert not _rows(laptop_case, "SELECT path FROM items WHERE path LIKE 'Windows/System32/%' AND md5 IS NOT NULL "
                                  "AND md5 != '" + hashlib.md5(CONTENT).hexdigest() + "'")


def test_the_summary_counts_placeholders_and_says_what_they_are(laptop_case: Path) -> None:
    (counts,) = fieldlab.summary(laptop_case)
    assert counts.cloud_only == 2
    assert counts.files_read == counts.files  # nothing left to read: the placeholders have nothing on the disk
    assert summary_json(counts)["cloud_only"] == 2
    note = "2 files are cloud-only placeholders: names listed, content not on this disk (held by the cloud provider)"
    assert cloud_only_note(counts) == note
    console = Console(record=True, width=80)
    console.print(verdict_table([counts]))
    assert f"EX1: {note}." in " ".join(console.export_text().split())


def test_the_report_names_the_placeholders(laptop_case: Path, tmp_path: Path) -> None:
    html = Path(api.report(laptop_case, "html", tmp_path / "report.html").path).read_text(encoding="utf-8")
    heading = html[html.index('<h3 class="cloud-only">'):]
    assert " ".join(heading[:heading.index("</h3>")].split()) == (
        '<h3 class="cloud-only">Exhibit EX1: 2 files are cloud-only placeholders: names listed, content not on this '
        "disk")
    assert f'<th class="path">{BEACH}</th><td>{CLOUD_SIZE:,} bytes, modified ' in html
    assert "Users/a/OneDrive/Pictures/party.jpg" in html


def test_the_pdf_reports_tables_of_problems_and_placeholders_stay_within_the_page(laptop_case: Path,
                                                                                   tmp_path: Path) -> None:
    """Several problem kinds and uncounted file-system records make the coverage table's cells long: they wrap."""
    pdf = Path(api.report(laptop_case, "pdf", tmp_path / "report.pdf").path)
    assert words_past_the_right_margin(pdf) == []


def test_csv_and_dfxml_carry_the_flags(laptop_case: Path, tmp_path: Path) -> None:
    api.export_case(laptop_case, "items-csv", tmp_path / "items.csv")
    with (tmp_path / "items.csv").open(newline="", encoding="utf-8") as f:
        flags = {row["path"]: row["flags"] for row in csv.DictReader(f)}
    assert flags[BEACH] == "cloud_only"
    assert flags["Users/a/OneDrive/Pictures/local.jpg"] == "cloud_local"
    assert flags["Windows/System32/lzx.dll"] == "wof_compressed"
    api.export_case(laptop_case, "dfxml", tmp_path / "case.dfxml")
    tree = etree.parse(str(tmp_path / "case.dfxml"))
    names = {"df": DFXML_NS, "fl": FIELDLAB_NS}
    (beach,) = tree.xpath(f"//df:fileobject[df:filename='{BEACH}']", namespaces=names)
    assert beach.findtext(f"{{{FIELDLAB_NS}}}flags") == "cloud_only"
    assert beach.findtext(f"{{{DFXML_NS}}}filesize") == str(CLOUD_SIZE)
    assert beach.find(f"{{{DFXML_NS}}}hashdigest") is None


def test_the_review_apps_item_page_shows_the_flag(laptop_case: Path, tmp_path: Path) -> None:
    case = Path(shutil.copytree(laptop_case, tmp_path / "case"))
    store = CaseStore.open(case, create=False)
    try:
        add_user(store, "examiner1", "examiner", password=PASSWORDS["examiner1"], actor="test setup")
    finally:
        store.close()
    (item_id,) = _rows(case, f"SELECT id FROM items WHERE path = '{BEACH}'")[0]
    with TestClient(create_app(case, WebConfig())) as client:
        assert login(client, "examiner1").status_code == 303
        page = lxml.html.fromstring(client.get(f"/item/{item_id}").text)
    (flags,) = page.xpath('//tr[th="Flags"]/td')
    assert [flag.text for flag in flags.xpath('.//span[@class="flag"]')] == ["cloud_only"]
