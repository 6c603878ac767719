"""Welfare settings persist per examiner; every look is logged; a break is suggested after the set exposure."""

from __future__ import annotations

import sqlite3

from tests.web.web_case import csrf_of


def test_pictures_are_blurred_and_grey_by_default_with_the_examiners_own_strength(make_client) -> None:
    client = make_client("examiner1")
    assert client.get("/me/welfare.css").text.strip() == ":root { --blur: 18px; --grey: 1; }"
    css = client.get("/static/review.css").text
    assert ".pic img {" in css and "filter: blur(var(--blur)) grayscale(var(--grey))" in css
    answer = client.post("/settings", data={"blur_px": 9, "break_minutes": 45, "csrf": csrf_of(client)},
                         follow_redirects=False)  # greyscale unticked
    assert answer.status_code == 303
    assert client.get("/me/welfare.css").text.strip() == ":root { --blur: 9px; --grey: 0; }"
    assert 'value="45"' in client.get("/settings").text
    other = make_client("examiner2")
    assert other.get("/me/welfare.css").text.strip() == ":root { --blur: 18px; --grey: 1; }"  # per examiner


def test_settings_are_held_within_bounds(make_client) -> None:
    client = make_client("examiner1")
    client.post("/settings", data={"blur_px": 0, "break_minutes": 100000, "greyscale": "true", "csrf": csrf_of(client)})
    assert client.get("/me/welfare.css").text.strip() == ":root { --blur: 4px; --grey: 1; }"  # never unblurred
    assert 'value="240"' in client.get("/settings").text


def test_each_look_is_logged_with_its_length_and_audited(make_client, web_case, clock) -> None:
    client = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(client)}
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    assert client.get(f"/thumb/{alone}").status_code == 200
    clock.advance(3)
    state = client.post("/api/exposure", json={"item_id": alone, "how": "hover", "seconds": 2.5}, headers=headers).json()
    assert state == {"since_break": 2.5, "break_minutes": 30, "break_due": False}
    db = sqlite3.connect(web_case.case / "case.sqlite")
    assert db.execute("SELECT examiner, item_id, how, seconds FROM exposure_log").fetchall() == [
        ("examiner1", alone, "hover", 2.5)]
    assert db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'item_viewed'").fetchone()[0] == 1
    assert client.post("/api/exposure", json={"item_id": 999_999, "seconds": 1}, headers=headers).status_code == 403
    assert client.post("/api/exposure", json={"item_id": alone, "seconds": -3}, headers=headers).status_code == 422


def test_a_break_is_due_after_the_set_exposure_and_counting_restarts_after_it(make_client, web_case, clock) -> None:
    client = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(client)}
    client.post("/settings", data={"blur_px": 18, "break_minutes": 5, "greyscale": "true", "csrf": headers["X-CSRF-Token"]})
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    client.get(f"/thumb/{alone}")
    clock.advance(400)
    assert not client.post("/api/exposure", json={"item_id": alone, "how": "key", "seconds": 200}, headers=headers).json()["break_due"]
    assert client.post("/api/exposure", json={"item_id": alone, "how": "key", "seconds": 101}, headers=headers).json()["break_due"]
    assert client.get("/api/break").json()["break_due"]
    after = client.post("/api/break", headers=headers).json()
    assert after["break_due"] is False and after["since_break"] == 0


def test_a_supervisor_sees_each_examiners_exposure(make_client, web_case, clock) -> None:
    examiner = make_client("examiner1")
    examiner.get(f"/thumb/{web_case.ids['Users/alex/Pictures/alone.jpg']}")
    clock.advance(100)
    examiner.post("/api/exposure", json={"item_id": web_case.ids["Users/alex/Pictures/alone.jpg"], "seconds": 90},
                  headers={"X-CSRF-Token": csrf_of(examiner)})
    page = make_client("super1").get("/users").text
    assert "<td>examiner1</td><td>1</td><td>1.5</td>" in page
