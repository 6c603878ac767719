"""Issue 18.4: the server logs every picture it sends (who, which item, when, which session), and accepts a
browser's claim of how long a picture was looked at only for a picture it sent to that session, capped by the time
since it was sent."""

from __future__ import annotations

import json
import sqlite3

from tests.web.conftest import clock  # noqa: F401 - a fixture, found by name (the others: conftest.py)
from tests.web.web_case import csrf_of

FOUR_HOURS = 4 * 3600


def _db(web_case) -> sqlite3.Connection:  # noqa: ANN001
    return sqlite3.connect(web_case.case / "case.sqlite")


def _looks(web_case) -> list[tuple]:  # noqa: ANN001
    return _db(web_case).execute("SELECT examiner, item_id, how, seconds FROM exposure_log ORDER BY id").fetchall()


def test_every_thumbnail_sent_is_logged_by_the_server_and_audited(make_client, web_case) -> None:
    client = make_client("examiner1")
    alone, other = web_case.ids["Users/alex/Pictures/alone.jpg"], web_case.ids["Windows/Web/Wallpaper/img0.jpg"]
    for item in (alone, alone, other):
        assert client.get(f"/thumb/{item}").status_code == 200
    db = _db(web_case)
    assert db.execute("SELECT examiner, item_id FROM pictures_sent ORDER BY id").fetchall() == [
        ("examiner1", alone), ("examiner1", alone), ("examiner1", other)]
    audited = [(actor, json.loads(detail)["item"]) for actor, detail in
               db.execute("SELECT actor, detail FROM audit_log WHERE action = 'picture_sent' ORDER BY seq")]
    assert audited == [("examiner1", alone), ("examiner1", alone), ("examiner1", other)]
    (session,) = {s for (s,) in db.execute("SELECT session FROM pictures_sent")}
    assert db.execute("SELECT COUNT(*) FROM web_sessions WHERE token_hash = ?", (session,)).fetchone() == (1,)


def test_a_picture_refused_or_not_drawn_is_not_logged_as_sent(make_client, web_case) -> None:
    client = make_client("examiner1")
    assert client.get(f"/thumb/{web_case.ids['Users/alex/Pictures/known_a.jpg']}").status_code == 403
    assert client.get(f"/thumb/{web_case.ids['Users/alex/Pictures/broken.jpg']}").status_code == 404
    assert _db(web_case).execute("SELECT COUNT(*) FROM pictures_sent").fetchone() == (0,)


def test_hours_claimed_over_a_known_item_never_shown_are_refused(make_client, web_case, clock) -> None:
    client = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(client)}
    known_a = web_case.ids["Users/alex/Pictures/known_a.jpg"]
    clock.advance(FOUR_HOURS)
    answer = client.post("/api/exposure", json={"item_id": known_a, "how": "hover", "seconds": FOUR_HOURS},
                         headers=headers)
    assert answer.status_code == 403 and "no picture of this item was sent" in answer.json()["detail"]
    assert _looks(web_case) == []
    assert client.get("/api/break").json()["since_break"] == 0


def test_a_claimed_look_is_capped_by_the_time_since_the_picture_was_sent(make_client, web_case, clock) -> None:
    client = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(client)}
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    client.get(f"/thumb/{alone}")
    clock.advance(10)
    client.post("/api/exposure", json={"item_id": alone, "how": "hover", "seconds": FOUR_HOURS}, headers=headers)
    client.post("/api/exposure", json={"item_id": alone, "how": "key", "seconds": 60}, headers=headers)
    (first, second) = _looks(web_case)
    assert 10 <= first[3] <= 11 and second[3] <= 1  # the second look fits in what is left: nothing
    assert client.get("/api/break").json()["since_break"] <= 12


def test_a_picture_sent_to_one_session_cannot_be_claimed_by_another(make_client, web_case, clock) -> None:
    alone = web_case.ids["Users/alex/Pictures/alone.jpg"]
    first, second = make_client("examiner1"), make_client("examiner1")  # the same examiner, logged in twice
    assert first.get(f"/thumb/{alone}").status_code == 200
    clock.advance(30)
    answer = second.post("/api/exposure", json={"item_id": alone, "how": "hover", "seconds": 5},
                         headers={"X-CSRF-Token": csrf_of(second)})
    assert answer.status_code == 403
    assert _looks(web_case) == []


def test_an_ended_reveal_is_recorded_only_if_its_picture_was_sent_and_is_capped(make_client, web_case, clock) -> None:
    client = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(client)}
    known_b = web_case.ids["Users/alex/Pictures/known_b.jpg"]
    unseen = client.post(f"/api/reveal/{known_b}", headers=headers).json()["exposure_id"]
    clock.advance(60)
    refused = client.post("/api/exposure", json={"exposure_id": unseen, "seconds": 50}, headers=headers)
    assert refused.status_code == 403
    assert _looks(web_case) == [("examiner1", known_b, "reveal", None)]
    assert client.get(f"/thumb/{known_b}").status_code == 200
    clock.advance(20)
    assert client.post("/api/exposure", json={"exposure_id": unseen, "seconds": FOUR_HOURS},
                       headers=headers).status_code == 200
    ((*_, seconds),) = _looks(web_case)
    assert 20 <= seconds <= 21
