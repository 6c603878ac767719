"""From a monitoring export to ranked targets: validation with line numbers, duplicates, areas, grouping, scores."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from fieldlab.ops.schema import audit_log, sightings, targets
from fieldlab.ops.sightings import SightingsError, import_sightings, parse_layout
from fieldlab.ops.targets import (
    TargetError,
    add_risk_fact,
    list_targets,
    set_override,
    target_detail,
    withdraw_risk_fact,
)
from tests.ops.ops_data import GUID_1, NOW, OTHER_FORCE, OUR_FORCE, prepare


def _import(db, scenario, path=None, **options):  # noqa: ANN001, ANN202
    return import_sightings(db, path or scenario.sightings, actor="DC 1 Intel", now=NOW, **options)


def _by_first_address(found):  # noqa: ANN001, ANN202
    return {t.addresses[0] if len(t.addresses) == 1 else t.addresses: t for t in found}


def test_an_export_becomes_ranked_targets_with_reasons(ops_db, scenario) -> None:
    prepare(ops_db, scenario)
    report = _import(ops_db, scenario)
    assert (report.rows, report.added, report.duplicates, report.malformed, report.set_aside, report.known) == (
        19, 12, 1, 6, 4, 11)
    problems = {p.line: p.message for p in report.problems}
    lines = scenario.lines
    assert set(problems) == {lines[n] for n in ("bad-zone", "bad-ip", "private-ip", "bad-hash", "short", "future")}
    assert "has no zone" in problems[lines["bad-zone"]] and "--zone" in problems[lines["bad-zone"]]
    assert "not an IPv4 or IPv6 address" in problems[lines["bad-ip"]]
    assert "private" in problems[lines["private-ip"]]
    assert "not an MD5" in problems[lines["bad-hash"]]
    assert "fields, expected" in problems[lines["short"]]
    assert "in the future" in problems[lines["future"]]

    found = list_targets(ops_db, now=NOW)
    assert [t.priority.score for t in found] == [42, 30, 22, 11]
    w1, w2, w4, w3 = found
    assert set(w1.addresses) == {"203.0.113.10", "2001:db8:a::10"} and w1.areas == (OUR_FORCE,)
    assert w1.rule == f"same client GUID ({GUID_1.lower()}); same IP address within 7 days (203.0.113.10)"
    assert w2.addresses == ("203.0.113.20",) and w2.rule == "same IP address within 7 days (203.0.113.20)"
    assert w3.addresses == ("203.0.113.20",) and w3.rule == "a single sighting"  # 40 days before: someone else
    assert w4.addresses == ("2001:db8:a::99",) and w4.known_files == 0  # the zero GUID joined it to nothing
    reasons = {r.part: r for r in w1.priority.reasons}
    assert {part: r.points for part, r in reasons.items()} == {
        "volume": 3, "severity": 13, "recency": 20, "persistence": 6}
    assert reasons["severity"].text == "by category: 2 category A × 5, 1 category B × 3"
    assert reasons["persistence"].text.startswith("seen on 3 different day(s)")
    assert sum(r.points for r in w2.priority.reasons) == w2.priority.score == 30
    assert {r.part: r.points for r in w3.priority.reasons}["recency"] == 7  # 60 days ago, of 20 fading to 0 at 90


def test_sightings_outside_the_force_area_are_kept_and_set_aside(ops_db, scenario) -> None:
    prepare(ops_db, scenario)
    _import(ops_db, scenario)
    with ops_db.engine.connect() as conn:
        aside = {r.ip: (r.area, r.in_area, r.target_id) for r in conn.execute(
            select(sightings).where(sightings.c.in_area.is_(False)))}
    assert aside == {"198.51.100.5": (OTHER_FORCE, False, None), "2001:db8:b::5": (OTHER_FORCE, False, None),
                     "203.0.113.200": (OTHER_FORCE, False, None),  # the nested /26 wins over our /24
                     "192.0.2.1": (None, False, None)}


def test_importing_again_counts_nothing_twice(ops_db, scenario) -> None:
    prepare(ops_db, scenario)
    _import(ops_db, scenario)
    again = _import(ops_db, scenario)
    assert (again.added, again.duplicates, again.malformed) == (0, 13, 6)
    with ops_db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sightings)).scalar_one() == 12
        assert conn.execute(select(func.count()).select_from(targets)).scalar_one() == 4


def test_times_without_a_zone_are_read_in_the_zone_given(ops_db, scenario, tmp_path) -> None:
    prepare(ops_db, scenario)
    export = tmp_path / "local.csv"
    md5 = scenario.files["A1"].md5
    export.write_text("timestamp_utc,ip,file_hash\n"
                      f"2024-06-01 10:00:00,203.0.113.40,{md5}\n"  # British Summer Time: 09:00 UTC
                      f"2024-01-15 10:00:00,203.0.113.41,{md5}\n"  # winter: 10:00 UTC
                      f"2023-10-29 01:30:00,203.0.113.42,{md5}\n")  # the clocks went back: ambiguous
    report = _import(ops_db, scenario, path=export, zone="Europe/London")
    assert report.added == 2 and [p.line for p in report.problems] == [4]
    assert "ambiguous" in report.problems[0].message
    with ops_db.engine.connect() as conn:
        seen = dict(conn.execute(select(sightings.c.ip, sightings.c.seen_us)).all())
    detail = target_detail(ops_db, list_targets(ops_db, now=NOW)[0].id, NOW)
    assert {s.seen for s in detail.sightings} <= {"2024-06-01 09:00:00 UTC", "2024-01-15 10:00:00 UTC"}
    assert seen["203.0.113.40"] == 1717232400 * 10**6
    with pytest.raises(SightingsError, match="not a time zone"):
        _import(ops_db, scenario, path=export, zone="Mars/Olympus")


def test_another_layout_is_read_through_a_column_mapping(ops_db, scenario, tmp_path) -> None:
    prepare(ops_db, scenario)
    export = tmp_path / "other.csv"
    export.write_text("First Seen (UTC);IP Address;SHA1;Client\n".replace(";", ",")
                      + f"2024-06-09T01:02:03.250Z,2001:db8:a::7,{scenario.files['B2'].sha1},ABCDEF0123456789\n")
    layout = parse_layout("timestamp=First Seen (UTC), ip=IP Address, hash=SHA1, guid=Client")
    report = _import(ops_db, scenario, path=export, layout=layout)
    assert (report.added, report.known) == (1, 1)
    row = target_detail(ops_db, list_targets(ops_db, now=NOW)[0].id, NOW).sightings[0]
    assert (row.seen, row.ip, row.hash_kind, row.category, row.guid) == (
        "2024-06-09 01:02:03.25 UTC", "2001:db8:a::7", "sha1", "B", "ABCDEF0123456789")
    with pytest.raises(SightingsError, match="no column for ip"):
        _import(ops_db, scenario, path=export, layout=parse_layout("timestamp=First Seen (UTC), hash=SHA1"))
    positional = tmp_path / "bare.csv"
    positional.write_text(f"{scenario.files['C1'].md5},203.0.113.77,2024-06-09T00:00:00Z\n")
    report = _import(ops_db, scenario, path=positional, layout=parse_layout("hash=1,ip=2,timestamp=3", header=False))
    assert report.added == 1


def test_officers_reorder_targets_with_risk_facts_and_overrides_all_audited(ops_db, scenario) -> None:
    prepare(ops_db, scenario)
    _import(ops_db, scenario)
    w1, w2, w4, w3 = list_targets(ops_db, now=NOW)
    add_risk_fact(ops_db, w3.id, kind="access_to_children", note="works at a primary school (employer check 12/5)",
                  actor="DC 1 Intel")
    assert [t.id for t in list_targets(ops_db, now=NOW)] == [w3.id, w1.id, w2.id, w4.id]  # 11 + 40 = 51
    set_override(ops_db, w4.id, new_score=100, note="the ISP reports the account is used at a children's home",
                 actor="DS 2 Super")
    ranked = list_targets(ops_db, now=NOW)
    assert ranked[0].id == w4.id and ranked[0].priority.score == 100 and ranked[0].priority.computed == 22
    assert ranked[0].priority.override_note.startswith("the ISP reports")
    with pytest.raises(TargetError, match="reason"):
        set_override(ops_db, w4.id, new_score=5, note="  ", actor="DS 2 Super")
    with pytest.raises(TargetError, match="points from 0 to 40"):
        add_risk_fact(ops_db, w1.id, kind="other", note="a note", points=90, actor="DC 1 Intel")
    fact = target_detail(ops_db, w3.id, NOW).risk_facts[0]
    withdraw_risk_fact(ops_db, w3.id, fact.id, actor="DC 1 Intel")
    assert list_targets(ops_db, now=NOW)[-1].id == w3.id
    with ops_db.engine.connect() as conn:
        entries = [(r.action, r.actor, json.loads(r.detail)) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]
    actions = [a for a, _, _ in entries]
    assert actions[-3:] == ["risk_fact_added", "priority_overridden", "risk_fact_withdrawn"]
    assert entries[-2][1] == "DS 2 Super" and entries[-2][2]["score"] == 100 and entries[-2][2]["previous"] is None
    assert ops_db.audit.verify().ok


def test_a_sighting_that_links_two_targets_merges_them_and_their_facts_follow(ops_db, scenario, tmp_path) -> None:
    prepare(ops_db, scenario)
    _import(ops_db, scenario)
    w1, w2, _w4, _w3 = list_targets(ops_db, now=NOW)
    add_risk_fact(ops_db, w2.id, kind="previous_conviction", note="PNC record", actor="DC 1 Intel")
    bridge = tmp_path / "bridge.csv"
    bridge.write_text("timestamp_utc,ip,client_guid,file_hash\n"
                      f"2024-05-26T09:00:00Z,203.0.113.20,{GUID_1},{scenario.files['C2'].md5}\n")
    _import(ops_db, scenario, path=bridge)
    after = list_targets(ops_db, now=NOW)
    assert len(after) == 3
    merged = target_detail(ops_db, min(w1.id, w2.id), NOW)
    assert len(merged.sightings) == 7 and merged.merged_from == (max(w1.id, w2.id),)
    assert [f.kind for f in merged.risk_facts] == ["previous_conviction"]
    assert "same client GUID" in merged.summary.rule and "203.0.113.20" in merged.summary.rule
    gone = target_detail(ops_db, max(w1.id, w2.id), NOW)
    assert gone.summary.status == "merged"


def test_changing_the_force_area_places_every_sighting_again(ops_db, scenario) -> None:
    from fieldlab.ops.settings import save_settings

    prepare(ops_db, scenario)
    _import(ops_db, scenario)
    save_settings(ops_db, "DS 2 Super", force_areas=[OUR_FORCE, OTHER_FORCE])
    with ops_db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sightings).where(sightings.c.in_area.is_(False))
                            ).scalar_one() == 1  # only the address in no area
    assert len(list_targets(ops_db, now=NOW)) == 7
    save_settings(ops_db, "DS 2 Super", force_areas=[OTHER_FORCE])
    remaining = list_targets(ops_db, now=NOW)
    assert {a for t in remaining for a in t.addresses} == {"198.51.100.5", "2001:db8:b::5", "203.0.113.200"}


def test_the_score_s_weights_are_a_setting(ops_db, scenario) -> None:
    from fieldlab.ops.settings import SettingsError, save_settings

    prepare(ops_db, scenario)
    _import(ops_db, scenario)
    save_settings(ops_db, "DS 2 Super", weights={"severity": {"A": 50, "B": 0, "C": 0}, "severity_cap": 500,
                                                 "per_known_file": 0, "per_day": 0, "recency_points": 0})
    top = list_targets(ops_db, now=NOW)[0]
    assert top.priority.score == 100 and {r.part: r.points for r in top.priority.reasons}["severity"] == 100
    with pytest.raises(SettingsError, match="whole numbers"):
        save_settings(ops_db, "DS 2 Super", weights={"per_day": "lots"})


def test_a_closed_target_opens_again_when_new_sightings_join_it(ops_db, scenario, tmp_path) -> None:
    from fieldlab.ops.targets import close_target

    prepare(ops_db, scenario)
    _import(ops_db, scenario)
    w4 = next(t for t in list_targets(ops_db, now=NOW) if t.addresses == ("2001:db8:a::99",))
    close_target(ops_db, w4.id, note="shared library terminal: no further action", actor="DS 2 Super")
    assert w4.id not in [t.id for t in list_targets(ops_db, now=NOW)]
    later = tmp_path / "later.csv"
    later.write_text(f"timestamp_utc,ip,file_hash\n2024-06-09T00:00:00Z,2001:db8:a::99,{scenario.files['A1'].md5}\n")
    _import(ops_db, scenario, path=later)
    reopened = target_detail(ops_db, w4.id, NOW)
    assert reopened.summary.status == "open" and len(reopened.sightings) == 2
