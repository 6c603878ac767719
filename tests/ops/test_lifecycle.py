"""An operation from target to court: stages in order, devices linked to triage cases, and the dashboard."""

from __future__ import annotations

from datetime import date

import pytest

from fieldlab.ops.lifecycle import (
    LifecycleError,
    dashboard,
    device_charging,
    get_operation,
    record_safeguarding,
    record_stage,
    start_operation,
)
from fieldlab.ops.sightings import import_sightings
from fieldlab.ops.targets import list_targets
from tests.ops.ops_data import NOW, prepare, run_lifecycle


def _targets(db, scenario):  # noqa: ANN001, ANN202
    prepare(db, scenario)
    import_sightings(db, scenario.sightings, actor="intel1", now=NOW)
    return [t.id for t in list_targets(db, now=NOW)]


def test_a_lifecycle_from_target_to_court_updates_the_dashboard(ops_db, scenario, triage_case) -> None:
    w1, w2, w4, _w3 = _targets(ops_db, scenario)
    before = dashboard(ops_db)
    assert before.pipeline[0] == ("targets not yet actioned", 4)
    assert (before.persons_arrested, before.median_days_to_charge) == (0, None)

    ops = run_lifecycle(ops_db, (w1, w2, w4), triage_case)
    board = dashboard(ops_db)
    assert dict(board.pipeline) == {"targets not yet actioned": 1, "warrant applied for": 0, "warrant granted": 0,
                                    "warrant executed": 1, "arrested": 0, "charged": 0, "first court date": 2}
    assert dict(board.reached)["warrant executed"] == 3 and dict(board.reached)["charged"] == 2
    assert (board.persons_arrested, board.persons_charged, board.children_safeguarded) == (6, 5, 7)
    assert (board.median_days_to_charge, board.median_days_to_court) == (21, 49)
    assert (board.sightings, board.set_aside) == (12, 4)

    operation = get_operation(ops_db, ops[0])
    assert operation.stage == "first_court" and operation.children_safeguarded == 3
    charging = device_charging(operation.devices[0])
    assert charging.exhibit_ref == "JS/1"
    assert charging.rows == (("hash set", "still", {"A": 1, "B": 1, "C": 2, "uncategorised": 0}),)
    actions = [e.action for e in ops_db.audit.entries()]
    assert actions.count("stage_recorded") == 15 and "device_seized" in actions and "children_safeguarded" in actions


def test_stages_come_in_order_and_never_in_the_future(ops_db, scenario) -> None:
    w1, *_ = _targets(ops_db, scenario)
    operation = start_operation(ops_db, w1, "Op ELM-1", actor="intel1")
    with pytest.raises(LifecycleError, match="before 'warrant granted'"):
        record_stage(ops_db, operation, "warrant_granted", on=date(2024, 7, 2), actor="exam1")
    record_stage(ops_db, operation, "warrant_applied", on=date(2024, 7, 2), actor="exam1")
    with pytest.raises(LifecycleError, match="cannot come before 'warrant applied for'"):
        record_stage(ops_db, operation, "warrant_granted", on=date(2024, 7, 1), actor="exam1")
    record_stage(ops_db, operation, "arrested", on=date(2024, 7, 9), actor="exam1")  # an arrest needs no warrant
    with pytest.raises(LifecycleError, match="cannot come before 'arrested'"):
        record_stage(ops_db, operation, "charged", on=date(2024, 7, 8), actor="exam1")
    with pytest.raises(LifecycleError, match="in the future"):
        record_stage(ops_db, operation, "charged", on=date(2999, 1, 1), actor="exam1")
    with pytest.raises(LifecycleError, match="already has an operation"):
        start_operation(ops_db, w1, "Op ELM-2", actor="intel1")
    with pytest.raises(LifecycleError, match="no names"):
        record_safeguarding(ops_db, operation, children=1, on=date(2024, 7, 9), note="", actor="exam1")
    assert get_operation(ops_db, operation).dates["arrested"] == date(2024, 7, 9)


def test_a_device_whose_case_is_missing_says_so(ops_db, scenario, tmp_path) -> None:
    from fieldlab.ops.lifecycle import add_device

    w1, *_ = _targets(ops_db, scenario)
    operation = start_operation(ops_db, w1, "Op ELM-3", actor="intel1")
    add_device(ops_db, operation, exhibit_ref="JS/9", description="phone", case_dir=tmp_path / "nowhere", actor="exam1")
    found = device_charging(get_operation(ops_db, operation).devices[0])
    assert isinstance(found, str) and "not a fieldlab case" in found
