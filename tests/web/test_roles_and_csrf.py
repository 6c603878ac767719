"""Who may do what, checked on the server; and no state change without the session's CSRF token."""

from __future__ import annotations

import sqlite3

from tests.web.web_case import csrf_of


def _decisions(web_case) -> int:  # noqa: ANN001
    return sqlite3.connect(web_case.case / "case.sqlite").execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


def test_a_viewer_sees_the_dashboard_and_tiles_but_no_picture(make_client, web_case) -> None:
    viewer = make_client("viewer1")
    assert viewer.get("/").status_code == 200
    gallery = viewer.get("/gallery")
    assert gallery.status_code == 200 and 'class="tile' in gallery.text
    assert "<img" not in gallery.text and "Pictures are not shown to viewers" in gallery.text
    assert viewer.get(f"/thumb/{web_case.ids['Users/alex/Pictures/alone.jpg']}").status_code == 403
    assert viewer.get(f"/item/{web_case.ids['Users/alex/Pictures/alone.jpg']}").status_code == 200


def test_a_viewer_cannot_categorise_undo_reveal_or_log_exposure(make_client, web_case) -> None:
    viewer = make_client("viewer1")
    headers = {"X-CSRF-Token": csrf_of(viewer)}
    item = web_case.ids["Users/alex/Pictures/alone.jpg"]
    assert viewer.post("/api/categorise", json={"items": [item], "category": "A"}, headers=headers).status_code == 403
    assert viewer.post("/api/undo", json={}, headers=headers).status_code == 403
    assert viewer.post(f"/api/reveal/{item}", headers=headers).status_code == 403
    assert viewer.post("/api/exposure", json={"item_id": item, "seconds": 1}, headers=headers).status_code == 403
    assert _decisions(web_case) == 0


def test_only_a_supervisor_manages_accounts(make_client) -> None:
    examiner = make_client("examiner1")
    assert examiner.get("/users").status_code == 403
    headers = {"X-CSRF-Token": csrf_of(examiner)}
    answer = examiner.post("/users", data={"name": "mallory", "role": "supervisor", "password": "x" * 12}, headers=headers)
    assert answer.status_code == 403
    supervisor = make_client("super1")
    page = supervisor.get("/users")
    assert page.status_code == 200 and "examiner1" in page.text
    answer = supervisor.post("/users", data={"name": "DC 99 New", "role": "viewer", "password": "a-long-password",
                                             "csrf": csrf_of(supervisor)}, follow_redirects=False)
    assert answer.status_code == 303 and "DC 99 New" in supervisor.get("/users").text


def test_a_state_change_without_the_csrf_token_is_refused(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    item = web_case.ids["Users/alex/Pictures/alone.jpg"]
    body = {"items": [item], "category": "B"}
    assert examiner.post("/api/categorise", json=body).status_code == 403
    assert examiner.post("/api/categorise", json=body, headers={"X-CSRF-Token": "guessed"}).status_code == 403
    other = make_client("examiner2")  # another session's token is no good either
    assert examiner.post("/api/categorise", json=body, headers={"X-CSRF-Token": csrf_of(other)}).status_code == 403
    assert examiner.post("/settings", data={"blur_px": 4, "break_minutes": 5}).status_code == 403
    assert examiner.post("/logout", follow_redirects=False).status_code == 403
    assert _decisions(web_case) == 0


def test_a_request_from_another_site_is_refused_even_with_the_token(make_client, web_case) -> None:
    examiner = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(examiner), "Origin": "http://evil.example"}
    item = web_case.ids["Users/alex/Pictures/alone.jpg"]
    assert examiner.post("/api/categorise", json={"items": [item], "category": "B"}, headers=headers).status_code == 403
    headers["Origin"] = "http://testserver"
    assert examiner.post("/api/categorise", json={"items": [item], "category": "B"}, headers=headers).status_code == 200


def test_a_host_header_other_than_loopback_is_refused_when_told(make_client) -> None:
    client = make_client(allowed_hosts=("127.0.0.1", "localhost"))
    assert client.get("/login").status_code == 400  # "testserver" is not this machine's name
    assert client.get("/login", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_a_person_refused_a_page_gets_a_page_that_says_why(make_client) -> None:
    answer = make_client("examiner1").get("/users", headers={"Accept": "text/html"})
    assert answer.status_code == 403 and "Not allowed" in answer.text and "may not do this" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_host_names_are_read_with_their_ports_and_brackets() -> None:
    from fieldlab.web.app import host_name

    assert [host_name(h) for h in ("127.0.0.1:8765", "LOCALHOST", "[::1]:8765", "[::1]", "evil.example:80")] == [
        "127.0.0.1", "localhost", "::1", "::1", "evil.example"]
