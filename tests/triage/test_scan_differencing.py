"""Scanning differencing images: incomplete without the parent, whole with it, on the workers too."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fieldlab
from fieldlab.case.outputs import refuse_case_evidence
from fieldlab.case.store import DATABASE_FILE, CaseError, CaseStore
from fieldlab.cli import app
from fieldlab.evidence.sources import SourceSpec, open_source
from tests.conftest import REALDATA
from tests.evidence.chain_builders import chain

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"
BASE_ONLY = b"".join(hashlib.sha256(b"base %d" % i).digest() for i in range(4000))
CHILD_ONLY = b"only in the child\n"


def rows(case: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(case / DATABASE_FILE) as db:
        return db.execute(sql).fetchall()


def test_a_differencing_vhd_without_its_parent_is_reported_incomplete_naming_it(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    child = Path(shutil.copyfile(DFVFS / "image-differential.vhd", tmp_path / "ev" / "image-differential.vhd"))
    result = fieldlab.scan(child, tmp_path / "case", exhibit_ref="VM1", workers=1)
    assert "'image.vhd'" in result.incomplete and "d49c5c80-350a-4a89-898a-5ad6d10f6578" in result.incomplete
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert (counts.finished, counts.walk_complete, counts.files) == (False, False, 0)
    (message,) = rows(tmp_path / "case", "SELECT message FROM errors WHERE stage = 'walk'")[0]
    assert "incomplete" in message and "'image.vhd'" in message
    (facts,) = rows(tmp_path / "case", "SELECT facts FROM exhibits")[0]
    assert "'image.vhd'" in json.loads(facts)["container"]["missing_parent"]

    # the same command with the parent given finishes the exhibit
    result = fieldlab.scan(child, tmp_path / "case", exhibit_ref="VM1", workers=1, parents=[DFVFS / "image.vhd"])
    assert result.incomplete is None and result.resumed
    (counts,) = fieldlab.summary(tmp_path / "case")
    assert counts.finished and counts.files_read == counts.files >= 3
    md5s = dict(rows(tmp_path / "case", "SELECT path, md5 FROM items WHERE md5 IS NOT NULL"))
    assert md5s["passwords.txt"] == hashlib.md5(  # read by a worker, through the chain
        b"place,user,password\nbank,joesmith,superrich\nalarm system,-,1234\ntreasure chest,-,1111\n"
        b"uber secret laire,admin,admin\n").hexdigest()
    (facts,) = rows(tmp_path / "case", "SELECT facts FROM exhibits")[0]
    assert [link["path"] for link in json.loads(facts)["container"]["chain"]] == [str(child), str(DFVFS / "image.vhd")]


def test_workers_read_both_layers_of_a_qcow2_chain_whose_parent_the_examiner_gave(tmp_path: Path) -> None:
    base, child = chain(tmp_path / "built", "qcow2", [{"BASE.BIN": BASE_ONLY}, {"CHILD.TXT": CHILD_ONLY}])
    (tmp_path / "exhibit").mkdir()
    child = Path(shutil.move(child, tmp_path / "exhibit" / "snapshot.qcow2"))
    result = CliRunner().invoke(app, ["scan", str(child), "--case", str(tmp_path / "case"), "--exhibit", "VM2",
                                      "--workers", "1", "--parent", str(base), "--no-live"])
    assert result.exit_code == 0, result.output
    md5s = dict(rows(tmp_path / "case", "SELECT path, md5 FROM items WHERE md5 IS NOT NULL"))
    assert (md5s["BASE.BIN"], md5s["CHILD.TXT"]) == (hashlib.md5(BASE_ONLY).hexdigest(),
                                                     hashlib.md5(CHILD_ONLY).hexdigest())
    (detail,) = rows(tmp_path / "case", "SELECT detail FROM audit_log WHERE action = 'scan_started'")[0]
    assert json.loads(detail)["parents"] == [str(base)]


def test_a_differencing_vdi_is_incomplete_without_its_parent_and_read_through_it_by_the_workers(tmp_path: Path) -> None:
    base, child = chain(tmp_path / "vm", "vdi", [{"BASE.BIN": BASE_ONLY}, {"CHILD.TXT": CHILD_ONLY}])
    (tmp_path / "exhibit").mkdir()
    child = Path(shutil.move(child, tmp_path / "exhibit" / "snapshot.vdi"))
    identifier = str(uuid.UUID(bytes_le=base.read_bytes()[0x188:0x198]))  # a VDI names its parent by this only
    result = fieldlab.scan(child, tmp_path / "case", exhibit_ref="VM3", workers=1)
    assert result.incomplete is not None and f"(identifier {identifier})" in result.incomplete
    assert "--parent" in result.incomplete
    result = fieldlab.scan(child, tmp_path / "case", exhibit_ref="VM3", workers=1, parents=[base.parent])
    assert result.incomplete is None
    md5s = dict(rows(tmp_path / "case", "SELECT path, md5 FROM items WHERE md5 IS NOT NULL"))
    assert (md5s["BASE.BIN"], md5s["CHILD.TXT"]) == (hashlib.md5(BASE_ONLY).hexdigest(),
                                                     hashlib.md5(CHILD_ONLY).hexdigest())
    (facts,) = rows(tmp_path / "case", "SELECT facts FROM exhibits")[0]
    container = json.loads(facts)["container"]
    assert container["kind"] == "vdi" and [link["path"] for link in container["chain"]] == [str(child), str(base)]


def test_the_scan_command_says_an_exhibit_is_incomplete_and_why(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    child = shutil.copyfile(DFVFS / "image-differential.vhd", tmp_path / "ev" / "disk.vhd")
    result = CliRunner().invoke(app, ["scan", str(child), "--case", str(tmp_path / "case"), "--no-live",
                                      "--workers", "1"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "is incomplete" in said and "'image.vhd'" in said and "--parent" in said


def test_the_recorded_chain_reopens_the_exhibit_and_protects_the_parents_folder(tmp_path: Path) -> None:
    base, child = chain(tmp_path / "built", "qcow2", [{"BASE.BIN": BASE_ONLY}, {"CHILD.TXT": CHILD_ONLY}])
    (tmp_path / "exhibit").mkdir()
    child = Path(shutil.move(child, tmp_path / "exhibit" / "snapshot.qcow2"))
    fieldlab.scan(child, tmp_path / "case", exhibit_ref="VM3", workers=1, parents=[tmp_path / "built"])
    store = CaseStore.open(tmp_path / "case", create=False)
    try:
        (exhibit,) = store.exhibits()
        assert exhibit.parents == (str(base),)
        source = open_source(SourceSpec(exhibit.source, exhibit.source_kind, parents=exhibit.parents))
        try:  # as the report's pictures and the review app's thumbnails open it
            assert sorted(e.path for e in source.walk() if "Volume Label" not in e.path) == ["BASE.BIN", "CHILD.TXT"]
        finally:
            source.close()
        with pytest.raises(CaseError, match="beside the evidence"):
            refuse_case_evidence(store.exhibits(), tmp_path / "built" / "report.pdf", "the report")
    finally:
        store.close()
