"""The warrant application draft: the target's facts in HTML and PDF, escaped, audited."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from fieldlab.ops.sightings import import_sightings
from fieldlab.ops.targets import TargetError, add_subscriber, list_targets, target_detail
from fieldlab.ops.warrant import WarrantError, render_html, warrant_draft, write_warrant
from tests.ops.ops_data import GUID_1, NOW, SUBSCRIBER, prepare


def _first_target(db, scenario):  # noqa: ANN001, ANN202
    prepare(db, scenario)
    import_sightings(db, scenario.sightings, actor="intel1", now=NOW)
    return target_detail(db, list_targets(db, now=NOW)[0].id, NOW)


def test_the_pdf_draft_holds_the_target_s_sightings_files_and_subscriber(ops_db, scenario, tmp_path) -> None:
    target = _first_target(ops_db, scenario)
    first = target.sightings[0]
    add_subscriber(ops_db, target.summary.id, ip=first.ip, seen_us=first.seen_us, actor="intel1", **SUBSCRIBER)
    output = tmp_path / "draft.pdf"
    draft = warrant_draft(ops_db, target.summary.id, prepared_by="DC 1 Intel", now=NOW)
    data, digest = write_warrant(ops_db, draft, fmt="pdf", output=output, actor="DC 1 Intel")
    assert output.read_bytes() == data and data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == digest
    text = subprocess.run(["pdftotext", "-layout", str(output), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    for when in ("2024-06-01 10:00:00 UTC", "2024-06-02 11:00:00 UTC", "2024-06-05 12:00:00 UTC"):
        assert when in flat
    assert "203.0.113.10" in flat and "2001:db8:a::10" in flat
    for name in ("A1", "A2", "B1"):
        known = scenario.files[name]
        assert known.md5 in flat.replace(" ", "") or known.sha1 in flat.replace(" ", "")
    assert "3 of these files are known" in flat and "2 in category A, 1 in category B" in flat
    assert SUBSCRIBER["name"] in flat and "12 Sample Lane" in flat and SUBSCRIBER["isp_reference"] in flat
    assert GUID_1.lower() in flat.replace(" ", "").lower()
    assert "<b>x</b>.jpg" in flat  # a file name is text, never markup
    entry = ops_db.audit.entries()[-1]
    assert (entry.action, entry.actor, entry.detail["sha256"], entry.detail["format"]) == (
        "warrant_draft_written", "DC 1 Intel", digest, "pdf")


def test_the_html_draft_escapes_every_string_and_says_what_is_missing(ops_db, scenario) -> None:
    target = _first_target(ops_db, scenario)
    page = render_html(warrant_draft(ops_db, target.summary.id, prepared_by="DC <i>1</i>", now=NOW))
    assert "&lt;b&gt;x&lt;/b&gt;.jpg" in page and "<b>x</b>" not in page
    assert "DC &lt;i&gt;1&lt;/i&gt;" in page
    assert "No subscriber details yet" in page
    assert "https://" not in page and "src=" not in page  # the document loads nothing


def test_subscriber_details_must_be_for_one_of_the_target_s_sightings(ops_db, scenario) -> None:
    target = _first_target(ops_db, scenario)
    with pytest.raises(TargetError, match="not seen at"):
        add_subscriber(ops_db, target.summary.id, ip="203.0.113.99", seen_us=target.sightings[0].seen_us,
                       actor="intel1", **SUBSCRIBER)
    add_subscriber(ops_db, target.summary.id, ip=target.sightings[0].ip, seen_us=target.sightings[0].seen_us,
                   actor="intel1", **SUBSCRIBER)
    entry = ops_db.audit.entries()[-1]
    assert entry.action == "subscriber_entered" and SUBSCRIBER["name"] not in str(entry.detail)  # a digest only
    with pytest.raises(WarrantError):
        warrant_draft(ops_db, 999, prepared_by="intel1")
