"""Evidence out: VICS, CASE/UCO, DFXML and the items CSV of the generated two-exhibit case, each read back by what
judges it (our own VICS importer and the Project VIC 2.0 model, case_validate, the DFXML schema, a CSV reader)."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image
from typer.testing import CliRunner

import fieldlab
from fieldlab.api import export_case
from fieldlab.case.decisions import categorise
from fieldlab.case.store import DATABASE_FILE, CaseError, CaseStore
from fieldlab.cli import app
from fieldlab.hashsets.export import iter_records
from fieldlab.hashsets.library import HashSetLibrary
from fieldlab.hashsets.profiles import PROFILES
from fieldlab.report.case_items import xml_text
from fieldlab.report.charging import CountedItem, charging_table
from fieldlab.report.dfxml import DFXML_NS, FIELDLAB_NS
from fieldlab.report.items_csv import COLUMNS, write_items_csv
from tests.conftest import REALDATA
from tests.report.report_case import HOSTILE_NAME, PICTURES, ReportCase

SPECS = REALDATA / "specs"
EDMX_NS = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
DF = {"df": DFXML_NS, "fl": FIELDLAB_NS}
US_CATEGORIES = {"a": "1", "b": "2", "c": "1", "deleted_b": "2", "carved_c": "1", "phone_b": "2", "overruled": "1"}
UK_CODES = {"1": "A", "2": "B", "3": "C", "9": "non-indecent"}  # a force's CAID numbers, as its mapping file says
FORMULA_NAMES = ['=HYPERLINK("evil.example","open me").jpg', "+SUM(1+1).jpg", "-2+3.jpg", "@cmd.jpg"]


@pytest.fixture(scope="module")
def uk_case(report_case: ReportCase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared case: exports append to its audit trail, which other report tests read."""
    return Path(shutil.copytree(report_case.case, tmp_path_factory.mktemp("exports") / "case"))


@pytest.fixture(scope="module")
def us_case(report_case: ReportCase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same evidence scanned (SHA-256 too) against a Project VIC (US profile) set, with one examiner's
    categorisation."""
    root = tmp_path_factory.mktemp("us")
    known = root / "vic.csv"
    known.write_text("md5,sha1,category\n" + "".join(
        f"{hashlib.md5(PICTURES[n]).hexdigest()},{hashlib.sha1(PICTURES[n]).hexdigest()},{c}\n"
        for n, c in US_CATEGORIES.items()) + f"{hashlib.md5(report_case.movie).hexdigest()},,1\n")
    fieldlab.import_hashset(known, name="vic-test", profile="us", home=root / "home")
    case = root / "case"
    evidence = report_case.evidence
    for source, ref in ((evidence / "laptop.raw", "EX1-LAPTOP"), (evidence / "phone", "EX2-PHONE")):
        fieldlab.scan(source, case, exhibit_ref=ref, home=root / "home", sha256=True)
    store = CaseStore.open(case, create=False)
    try:
        new_id = store.engine.connect().exec_driver_sql(
            "SELECT id FROM items WHERE path LIKE '%Downloads/new.jpg'").scalar_one()
        categorise(store, [new_id], "2", profile="us", examiner="Det Test 42")
    finally:
        store.close()
    return case


@pytest.fixture(scope="module")
def formula_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose file names a spreadsheet would run as formulas, and a photo with its camera in EXIF."""
    root = tmp_path_factory.mktemp("formulas")
    folder = root / "usb"
    folder.mkdir()
    for name in FORMULA_NAMES:
        (folder / name).write_bytes(name.encode())
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Cam<era> & Co", "Model \"X\""
    Image.new("RGB", (96, 64), (200, 40, 90)).save(folder / "photo.jpg", exif=exif)
    fieldlab.scan(folder, root / "case", exhibit_ref="EX3-USB", home=root / "home")
    return root / "case"


def _counted(case: Path, profile: str) -> list[CountedItem]:
    store = CaseStore.open(case, create=False)
    try:
        return charging_table(store, profile).items
    finally:
        store.close()


def _item_count(case: Path) -> int:
    with sqlite3.connect(case / DATABASE_FILE) as db:
        return db.execute("SELECT count(*) FROM items").fetchone()[0]


# VICS

@pytest.mark.parametrize("profile, mapping", [("uk", None), ("uk", UK_CODES), ("us", None)],
                         ids=["uk-labels", "uk-force-numbers", "us"])
def test_vics_imports_back_with_the_counted_items_digests_and_categories(
        uk_case: Path, us_case: Path, tmp_path: Path, profile: str, mapping: dict | None) -> None:
    case = uk_case if profile == "uk" else us_case
    mapping_file = None
    if mapping:
        mapping_file = tmp_path / "caid-codes.json"
        mapping_file.write_text(json.dumps(mapping))
    written = export_case(case, "vics", tmp_path / "case.vics.json", profile=profile, mapping_file=mapping_file)
    counted = _counted(case, profile)
    assert written.items == len(counted) and counted

    report = fieldlab.import_hashset(written.output, name="back", fmt="auto", profile=profile,
                                     mapping_file=mapping_file, home=tmp_path / "home")
    assert report.info.format == "vics" and report.info.problems == 0 and not report.info.unmapped_categories
    library = HashSetLibrary(tmp_path / "home")
    imported = {(r["md5"], r["sha1"], r.get("sha256", ""), r["category"])
                for r in iter_records(library, library.load(["back"])[0])}
    assert imported == {(c.md5, c.sha1 or "", c.sha256 or "", c.category) for c in counted}
    assert all(c.sha256 for c in counted) == (profile == "us")  # the US case was scanned with SHA-256
    assert {c.category for c in counted} >= ({"A", "B", "C"} if profile == "uk" else {"1", "2"})

    document = json.loads(written.output.read_text(encoding="utf-8"))
    categories = {m["Category"] for m in document["value"][0]["Media"]}
    assert categories == ({"A", "B", "C"} if profile == "uk" and not mapping else {1, 2} if profile == "us"
                          else {1, 2, 3})


@pytest.mark.parametrize("profile, mapping", [("uk", UK_CODES), ("us", None)], ids=["uk-force-numbers", "us"])
def test_vics_writes_only_properties_of_the_project_vic_2_0_model_with_their_types(
        uk_case: Path, us_case: Path, tmp_path: Path, profile: str, mapping: dict | None) -> None:
    mapping_file = None
    if mapping:
        mapping_file = tmp_path / "caid-codes.json"
        mapping_file.write_text(json.dumps(mapping))
    written = export_case(uk_case if profile == "uk" else us_case, "vics", tmp_path / "case.json",
                          profile=profile, mapping_file=mapping_file, all_media=True)
    document = json.loads(written.output.read_text(encoding="utf-8"))
    assert document["@odata.context"].endswith(f"/2.0.xml/{profile.upper()}/$metadata#Cases")
    assert _edmx_problems(document) == []
    files = [f for m in document["value"][0]["Media"] for f in m["MediaFiles"]]
    assert {"Deleted", "Unallocated", "Created", "Written", "Accessed", "SourceID", "PhysicalLocation",
            "FileName", "FilePath"} <= {k for f in files for k in f}


def test_vics_uk_labels_differ_from_the_model_only_in_category_text(uk_case: Path, tmp_path: Path) -> None:
    """Without a force's numbers the UK labels are written as text, as our importer reads them: the model's
    Category is a byte, so that (and nothing else) is flagged."""
    written = export_case(uk_case, "vics", tmp_path / "case.json", profile="uk", all_media=True)
    problems = _edmx_problems(json.loads(written.output.read_text(encoding="utf-8")))
    assert problems and {p.split(": ", 1)[1] for p in problems} <= {"'A' is not Edm.Byte", "'B' is not Edm.Byte",
                                                                     "'C' is not Edm.Byte"}
    assert all(p.startswith("Case.Media[") and ".Category:" in p for p in problems)


def test_vics_lists_every_copy_with_where_it_was_and_how_it_was_counted(uk_case: Path, tmp_path: Path) -> None:
    written = export_case(uk_case, "vics", tmp_path / "case.json", profile="uk")
    case = json.loads(written.output.read_text(encoding="utf-8"))["value"][0]
    assert uuid.UUID(case["CaseID"]) and case["SourceApplicationName"] == "fieldlab"
    assert case["TotalMediaFiles"] == len(case["Media"]) and case["TotalPrecategorized"] == len(case["Media"]) - 1
    files = {f["FileName"]: (m, f) for m in case["Media"] for f in m["MediaFiles"]}
    assert files["_one.jpg"][1]["Deleted"] is True and files["_one.jpg"][1]["Unallocated"] is False
    carved = next(f for name, (_, f) in files.items() if name.startswith("carved jpeg"))
    assert carved["Unallocated"] is True and carved["PhysicalLocation"] > 0
    assert files[HOSTILE_NAME][1]["SourceID"] == "EX2-PHONE" and files[HOSTILE_NAME][1]["FilePath"] == "Download"
    new, _ = files["new.jpg"]
    assert new["IsPrecategorized"] is False and new["Comments"].startswith("examiner: examiner DC Test")
    resized, _ = files["resized.jpg"]
    assert resized["IsSuspected"] is True and resized["IsPrecategorized"] is True
    assert len(files["a.jpg"][0]["MediaFiles"]) == 3  # one Media, three copies on two exhibits


def test_vics_with_all_media_adds_the_uncounted_pictures_uncategorised(uk_case: Path, tmp_path: Path) -> None:
    counted = export_case(uk_case, "vics", tmp_path / "counted.json", profile="uk")
    everything = export_case(uk_case, "vics", tmp_path / "all.json", profile="uk", all_media=True)
    media = json.loads(everything.output.read_text(encoding="utf-8"))["value"][0]["Media"]
    extra = [m for m in media if "Category" not in m]
    assert everything.items > counted.items and extra
    assert {f["FileName"] for m in extra for f in m["MediaFiles"]} == {"overruled.jpg"}  # the examiner's "not indecent"
    assert all(m["IsPrecategorized"] is False for m in extra)


def test_vics_carries_a_photos_exif_as_the_model_has_it(formula_case: Path, tmp_path: Path) -> None:
    written = export_case(formula_case, "vics", tmp_path / "all.json", profile="us", all_media=True)
    document = json.loads(written.output.read_text(encoding="utf-8"))
    assert _edmx_problems(document) == []
    (photo,) = document["value"][0]["Media"]
    assert {e["PropertyName"]: e["PropertyValue"] for e in photo["Exifs"]} == {"Make": "Cam<era> & Co",
                                                                               "Model": 'Model "X"'}
    assert all(e["MD5"] == photo["MD5"] and e["PropertyGroup"] == "EXIF" for e in photo["Exifs"])


def _edmx_problems(document: dict) -> list[str]:
    """Every property the document writes that its entity type lacks, holds with another type, or leaves out."""
    tree = etree.parse(str(SPECS / "ProjectVicDataModel.2.0.xml"))
    types = {}
    for entity in tree.iterfind(".//edm:EntityType", EDMX_NS):
        properties = {p.get("Name"): (p.get("Type"), p.get("Nullable") != "false")
                      for p in entity.iterfind("edm:Property", EDMX_NS)}
        navigation = {n.get("Name"): n.get("Type") for n in entity.iterfind("edm:NavigationProperty", EDMX_NS)}
        types[entity.get("Name")] = (properties, navigation)
    problems: list[str] = []

    def check(entity: str, value: object, where: str) -> None:
        properties, navigation = types[entity]
        if not isinstance(value, dict):
            problems.append(f"{where}: not an object")
            return
        for name, (edm_type, nullable) in properties.items():
            if not nullable and value.get(name) is None:
                problems.append(f"{where}.{name}: missing")
        for name, item in value.items():
            if name in properties:
                if item is not None and not _edm_compatible(properties[name][0], item):
                    problems.append(f"{where}.{name}: {item!r} is not {properties[name][0]}")
            elif name in navigation:
                target = navigation[name]
                if target.startswith("Collection("):
                    if not isinstance(item, list):
                        problems.append(f"{where}.{name}: not a collection")
                        continue
                    for n, member in enumerate(item):
                        check(target[len("Collection(CEModel."):-1], member, f"{where}.{name}[{n}]")
                else:
                    check(target.removeprefix("CEModel."), item, f"{where}.{name}")
            else:
                problems.append(f"{where}.{name}: no such property of {entity}")

    for n, case in enumerate(document["value"]):
        check("Case", case, "Case" if n == 0 else f"Case[{n}]")
    return problems


def _edm_compatible(edm_type: str, value: object) -> bool:
    integer = isinstance(value, int) and not isinstance(value, bool)
    if edm_type == "Edm.String":
        return isinstance(value, str)
    if edm_type == "Edm.Boolean":
        return isinstance(value, bool)
    if edm_type in ("Edm.Byte", "Edm.Int32", "Edm.Int64"):
        bits = {"Edm.Byte": 8, "Edm.Int32": 31, "Edm.Int64": 63}[edm_type]
        low = 0 if edm_type == "Edm.Byte" else -(1 << bits)
        return integer and low <= value < (1 << bits)
    if edm_type == "Edm.Guid":
        try:
            return isinstance(value, str) and bool(uuid.UUID(value))
        except ValueError:
            return False
    if edm_type == "Edm.DateTimeOffset":
        try:
            return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
        except ValueError:
            return False
    raise AssertionError(f"the model uses {edm_type}, which this check does not know")


# CASE/UCO

def test_case_uco_conforms_to_the_case_ontology(uk_case: Path, tmp_path: Path) -> None:
    written = export_case(uk_case, "case-uco", tmp_path / "case.jsonld", profile="uk")
    validate = Path(sys.executable).with_name("case_validate")
    result = subprocess.run([str(validate), str(written.output)], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conforms: True" in result.stdout


def test_case_uco_holds_the_examination_exhibits_and_every_counted_copy(uk_case: Path, tmp_path: Path) -> None:
    written = export_case(uk_case, "case-uco", tmp_path / "case.jsonld", profile="uk")
    graph = json.loads(written.output.read_text(encoding="utf-8"))["@graph"]
    by_type: dict[str, list[dict]] = {}
    for node in graph:
        by_type.setdefault(node["@type"], []).append(node)
    nodes = {n["@id"]: n for n in graph}
    (action,) = by_type["case-investigation:InvestigativeAction"]
    tool = nodes[action["uco-action:instrument"]["@id"]]
    assert tool["uco-core:name"] == "fieldlab" and tool["uco-tool:version"] == fieldlab.__version__
    assert action["uco-action:startTime"]["@value"].endswith("Z")
    assert action["uco-action:endTime"]["@type"] == "xsd:dateTime"
    exhibits = [nodes[o["@id"]] for o in action["uco-action:object"]]
    assert [e["case-investigation:exhibitNumber"] for e in exhibits] == ["EX1-LAPTOP", "EX2-PHONE"]
    results = [nodes[o["@id"]] for o in action["uco-action:result"]]
    found = [f["@id"] for r in results for f in r["uco-core:object"]]
    counted = _counted(uk_case, "uk")
    assert written.items == len(counted) == len(found) == len(by_type["uco-observable:File"]) - 1  # + the image

    paths = {}
    for file_id in found:
        file_facet, content = nodes[file_id]["uco-core:hasFacet"]
        paths[file_facet["uco-observable:filePath"]] = (file_facet, content)
        hashes = {h["uco-types:hashMethod"]: h["uco-types:hashValue"]["@value"] for h in content["uco-observable:hash"]}
        assert set(hashes) == {"MD5", "SHA1"}
    assert paths[f"Download/{HOSTILE_NAME}"][0]["uco-observable:fileName"] == HOSTILE_NAME
    deleted = next(f for p, (f, _) in paths.items() if p.endswith("_one.jpg"))
    assert deleted["uco-observable:allocationStatus"] == "deleted"
    (carved_within,) = by_type["uco-observable:ObservableRelationship"]
    (data_range,) = carved_within["uco-core:hasFacet"]
    assert data_range["uco-observable:rangeOffset"] > 0 and data_range["uco-observable:rangeSize"] > 0


# DFXML

def test_dfxml_validates_against_the_schema_and_lists_every_item(uk_case: Path, tmp_path: Path) -> None:
    written = export_case(uk_case, "dfxml", tmp_path / "case.dfxml", profile="uk")
    schema = etree.XMLSchema(etree.parse(str(SPECS / "dfxml.xsd")))
    document = etree.parse(str(written.output))
    assert schema.validate(document), schema.error_log
    root = document.getroot()
    assert root.get("version") == "1.2.0"
    assert root.findtext("df:creator/df:program", namespaces=DF) == "fieldlab"
    assert root.findtext("df:creator/df:version", namespaces=DF) == fieldlab.__version__
    assert root.find("df:creator/df:execution_environment/df:start_time", DF) is not None
    assert len(root.findall("df:source/df:image_filename", DF)) == 2
    objects = root.findall("df:fileobject", DF)
    assert written.items == len(objects) == _item_count(uk_case)

    by_name = {o.findtext("df:filename", namespaces=DF).rsplit("/", 1)[-1]: o for o in objects}
    assert by_name["_one.jpg"].findtext("df:alloc", namespaces=DF) == "0"
    assert by_name["a.jpg"].findtext("df:alloc", namespaces=DF) == "1"
    assert by_name["a.jpg"].find("fl:category", DF).text == "A"
    assert by_name["a.jpg"].find("df:hashdigest[@type='md5']", DF).text == hashlib.md5(PICTURES["a"]).hexdigest()
    carved = [o for o in objects if o.findtext("fl:locator", namespaces=DF).startswith("carved:")]
    assert carved
    for item in carved:
        offset, length = map(int, item.findtext("fl:locator", namespaces=DF).removeprefix("carved:").split("+"))
        (run,) = item.findall("df:byte_runs/df:byte_run", DF)
        assert (int(run.get("img_offset")), int(run.get("len"))) == (offset, length)
        assert item.findtext("df:alloc", namespaces=DF) == "0"
    assert [o.findtext("fl:category", namespaces=DF) for o in carved if "duplicate" not in
            o.findtext("fl:flags", namespaces=DF)] == ["C"]


def test_a_name_that_is_markup_is_only_ever_escaped_in_xml(uk_case: Path, tmp_path: Path) -> None:
    written = export_case(uk_case, "dfxml", tmp_path / "case.dfxml", profile="uk")
    raw = written.output.read_bytes()
    assert b"<img" not in raw and b"&lt;img src=x onerror=alert(1)&gt;.jpg" in raw
    names = [e.text for e in etree.parse(str(written.output)).getroot().iterfind("df:fileobject/df:filename", DF)]
    assert f"Download/{HOSTILE_NAME}" in names


# Items CSV

def test_items_csv_has_every_item_and_the_counted_ones_category(uk_case: Path, tmp_path: Path) -> None:
    written = export_case(uk_case, "items-csv", tmp_path / "items.csv", profile="uk")
    with open(written.output, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == COLUMNS and written.items == len(rows) == _item_count(uk_case)
    records = {r[COLUMNS.index("path")]: dict(zip(COLUMNS, r)) for r in rows}
    counted = {c.item_id: c for c in _counted(uk_case, "uk")}
    for record in records.values():
        found = counted.get(int(record["item_id"]))
        assert (record["category"], record["basis"]) == ((found.category, found.basis) if found else ("", ""))
    deleted = next(r for p, r in records.items() if p.endswith("_one.jpg"))
    assert deleted["flags"] == "deleted" and deleted["mtime"].endswith("+00:00")
    assert records[f"Download/{HOSTILE_NAME}"]["category"] == "C"
    assert records["vol2@1048576/Users/alex/Downloads/overruled.jpg"]["category"] == ""


def test_items_csv_neutralises_names_a_spreadsheet_would_run(formula_case: Path, tmp_path: Path) -> None:
    written = export_case(formula_case, "items-csv", tmp_path / "items.csv", profile="uk")
    with open(written.output, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["path"] for r in rows) == sorted(["photo.jpg", *("'" + name for name in FORMULA_NAMES)])
    assert all(not value.startswith(("=", "+", "-", "@")) for r in rows for value in r.values())


def test_items_csv_streams_items_instead_of_holding_them(uk_case: Path, tmp_path: Path) -> None:
    """Fifty thousand more items cost the writer no more memory than the case's fifteen."""
    case = Path(shutil.copytree(uk_case, tmp_path / "big"))
    with sqlite3.connect(case / DATABASE_FILE) as db:
        db.executemany(
            "INSERT INTO items (exhibit_id, locator, path, kind, size, flags, state, known_good, md5, sha1) "
            "VALUES (2, ?, ?, 'file', 1000, '', 'done', 0, ?, ?)",
            ((f"file:bulk/{n}.jpg", f"bulk/{n}.jpg", f"{n:032x}", f"{n:040x}") for n in range(50_000)))
    store = CaseStore.open(case, create=False)
    try:
        tracemalloc.start()
        count = write_items_csv(store, _NullText(), PROFILES["uk"])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        store.close()
    assert count == 50_015
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_text_xml_cannot_hold_is_escaped_and_markup_left_to_the_writer() -> None:
    assert xml_text("a\x01b\ud800c<d>&\ufffe") == "a\\x01b\\ud800c<d>&\\ufffe"


class _NullText:
    def write(self, text: str) -> int:
        return len(text)


# Audit, safety, CLI

def test_every_export_is_audit_logged_with_its_file_hash(uk_case: Path, tmp_path: Path) -> None:
    for fmt in ("vics", "case-uco", "dfxml", "items-csv"):
        written = export_case(uk_case, fmt, tmp_path / f"export.{fmt}", profile="uk")
        store = CaseStore.open(uk_case, create=False)
        try:
            entry = store.audit.entries()[-1]
            assert store.audit.verify().ok
        finally:
            store.close()
        assert entry.action == "export_written"
        assert entry.detail == {"format": fmt, "profile": "uk", "output": f"export.{fmt}", "items": written.items,
                                "sha256": hashlib.sha256(written.output.read_bytes()).hexdigest()}
        assert not (tmp_path / f".export.{fmt}.partial").exists()


def test_an_export_is_never_written_into_the_evidence(uk_case: Path, report_case: ReportCase) -> None:
    target = report_case.evidence / "phone" / "export.csv"
    with pytest.raises(CaseError, match="(inside|beside) the evidence"):  # the phone folder lies beside laptop.raw too
        export_case(uk_case, "items-csv", target, profile="uk")
    assert not target.exists()


def test_an_export_is_never_written_beside_a_disk_image(uk_case: Path, report_case: ReportCase) -> None:
    target = report_case.evidence / "export.csv"  # the folder holding laptop.raw
    with pytest.raises(CaseError, match="beside the evidence"):
        export_case(uk_case, "items-csv", target, profile="uk")
    assert not target.exists()


def test_the_export_command_writes_the_file_and_prints_its_hash(uk_case: Path, tmp_path: Path) -> None:
    output = tmp_path / "op.dfxml"
    result = CliRunner().invoke(app, ["export", str(uk_case), "--format", "dfxml", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(output.read_bytes()).hexdigest() in result.output
    refused = CliRunner().invoke(app, ["export", str(uk_case), "--format", "pdf", "-o", str(output)])
    assert refused.exit_code == 2 and "vics, case-uco, dfxml, items-csv" in refused.output
