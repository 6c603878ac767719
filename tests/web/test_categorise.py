"""Categorising from the app: copies together, whole groups, undo, and every decision in the audit trail."""

from __future__ import annotations

import json
import sqlite3

from fieldlab.case.store import CaseStore
from fieldlab.report.charging import TOTAL, charging_table
from tests.web.web_case import csrf_of


def _audit(web_case, action: str) -> list[dict]:  # noqa: ANN001
    db = sqlite3.connect(web_case.case / "case.sqlite")
    return [{"actor": actor, **json.loads(detail)} for actor, detail in
            db.execute("SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY seq", (action,))]


def _standing(web_case, item: int) -> str | None:  # noqa: ANN001
    row = sqlite3.connect(web_case.case / "case.sqlite").execute(
        "SELECT category FROM decisions WHERE item_id = ? ORDER BY id DESC LIMIT 1", (item,)).fetchone()
    return row[0] if row else None


def test_categorising_a_content_categorises_every_copy_and_audits_who_and_the_previous_value(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(examiner)}
    known_a, copy = web_case.ids["Users/alex/Pictures/known_a.jpg"], web_case.ids["Users/alex/Downloads/copy of known_a.jpg"]
    answer = examiner.post("/api/categorise", json={"items": [known_a], "category": "B"}, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["items"] == {str(copy): "B", str(known_a): "B"}
    examiner.post("/api/categorise", json={"items": [copy], "category": "C"}, headers=headers)
    first, second = _audit(web_case, "items_categorised")
    assert first["actor"] == "examiner1" and first["category"] == "B"
    assert first["previous"] == {str(copy): None, str(known_a): None}
    assert second["previous"] == {str(copy): "B", str(known_a): "B"}


def test_undo_restores_the_previous_decision_with_a_new_row_and_steps_back(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(examiner)}
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    for category in ("C", "A"):
        examiner.post("/api/categorise", json={"items": [alone], "category": category}, headers=headers)
    undone = examiner.post("/api/undo", json={}, headers=headers).json()
    assert undone["items"] == {str(alone): "C"} and _standing(web_case, alone) == "C"
    undone = examiner.post("/api/undo", json={}, headers=headers).json()
    assert undone["items"] == {str(alone): None} and _standing(web_case, alone) == "uncategorised"
    assert examiner.post("/api/undo", json={}, headers=headers).json()["count"] == 0
    rows = sqlite3.connect(web_case.case / "case.sqlite").execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    assert rows == 4  # two decisions, two undos: nothing removed
    undos = _audit(web_case, "categorisation_undone")
    assert [u["restored"] for u in undos] == [{str(alone): "C"}, {str(alone): "uncategorised"}]
    assert [u["previous"] for u in undos] == [{str(alone): "A"}, {str(alone): "C"}]


def test_undo_takes_back_only_the_examiners_own_decisions(make_client, web_case) -> None:
    first, second = make_client("examiner1"), make_client("examiner2")
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    first.post("/api/categorise", json={"items": [alone], "category": "C"}, headers={"X-CSRF-Token": csrf_of(first)})
    assert second.post("/api/undo", json={}, headers={"X-CSRF-Token": csrf_of(second)}).json()["count"] == 0
    assert _standing(web_case, alone) == "C"


def test_a_withdrawn_category_leaves_the_hash_set_count_standing(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(examiner)}
    known_b = web_case.ids["Users/alex/Pictures/known_b.jpg"]
    examiner.post("/api/categorise", json={"items": [known_b], "category": "C"}, headers=headers)  # a slip
    examiner.post("/api/undo", json={}, headers=headers)
    store = CaseStore.open(web_case.case, create=False)
    try:
        table = charging_table(store)
    finally:
        store.close()
    assert table.images(TOTAL, "hash set", "still", "B") == 1 and table.not_indecent == 0


def test_g_then_a_key_categorises_the_whole_near_duplicate_group(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    family = [web_case.ids[f"Users/alex/Pictures/holiday/{n}"] for n in ("g1.jpg", "g2.jpg", "g3.png")]
    answer = examiner.post("/api/categorise", json={"items": [family[0]], "category": "A", "whole_group": True},
                           headers={"X-CSRF-Token": csrf_of(examiner)})
    assert answer.status_code == 200 and answer.json()["count"] == 3
    assert all(_standing(web_case, i) == "A" for i in family)
    assert _audit(web_case, "items_categorised")[0]["note"] == "whole group"


def test_categorising_shows_on_the_dashboard(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    before = examiner.get("/").text
    assert 'data-basis="examiner"' not in before
    examiner.post("/api/categorise", json={"items": [web_case.ids["Users/alex/Pictures/alone.jpg"]], "category": "B"},
                  headers={"X-CSRF-Token": csrf_of(examiner)})
    after = examiner.get("/").text
    assert '<tr data-basis="examiner" data-medium="still"><td>examiner</td><td>still</td>' in after


def test_bad_categories_and_items_are_refused(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(examiner)}
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    assert examiner.post("/api/categorise", json={"items": [alone], "category": "Z"}, headers=headers).status_code == 422
    assert examiner.post("/api/categorise", json={"items": [999_999], "category": "A"}, headers=headers).status_code == 404
    assert examiner.post("/api/categorise", json={"items": [], "category": "A"}, headers=headers).status_code == 422
    assert examiner.post("/api/categorise", json={"items": ["1; DROP"], "category": "A"}, headers=headers).status_code == 422
    assert examiner.post("/api/categorise", json={"items": [2**70], "category": "A"}, headers=headers).status_code == 422
    assert _standing(web_case, alone) is None
