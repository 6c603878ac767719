"""Logging in and out: passwords, session cookies, expiry, throttling."""

from __future__ import annotations

import sqlite3
import time

from tests.web.web_case import CSRF_FIELD, PASSWORDS, login


def _session_cookie(client) -> str:  # noqa: ANN001 - a TestClient
    """The app's session cookie name: its own per app and per case (fieldlab.web.app.CookieNames)."""
    return client.app.state.fieldlab.cookies.session


def test_a_page_without_a_session_sends_the_browser_to_the_login_form_and_the_api_answers_401(make_client) -> None:
    client = make_client()
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert client.get("/api/progress").status_code == 401
    assert client.get("/thumb/2").status_code == 401


def test_a_wrong_password_is_refused_without_a_session_and_audited(make_client, web_case) -> None:
    client = make_client()
    answer = login(client, "examiner1", "not the password")
    assert answer.status_code == 401 and "wrong name or password" in answer.text
    assert _session_cookie(client) not in client.cookies
    assert client.get("/api/progress").status_code == 401
    assert login(client, "nobody-here", "whatever-password").status_code == 401  # same answer for unknown names
    actions = [a for (a,) in sqlite3.connect(web_case.case / "case.sqlite").execute("SELECT action FROM audit_log")]
    assert actions.count("login_failed") == 2


def test_a_right_password_gives_an_httponly_strict_cookie_whose_token_is_stored_only_hashed(make_client, web_case) -> None:
    client = make_client()
    answer = login(client, "examiner1")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(_session_cookie(client) + "="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    token = client.cookies[_session_cookie(client)]
    db = sqlite3.connect(web_case.case / "case.sqlite")
    stored = [row[0] for row in db.execute("SELECT token_hash FROM web_sessions")]
    assert stored and token not in stored
    hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2id$") for h in hashes) and PASSWORDS["examiner1"] not in "".join(hashes)
    assert client.get("/").status_code == 200


def test_cookies_are_secure_when_served_beyond_loopback_http(make_client) -> None:
    client = make_client(base_url="https://testserver", secure_cookies=True)
    form = client.get("/login")
    answer = client.post("/login", data={"name": "examiner1", "password": PASSWORDS["examiner1"],
                                         "csrf": CSRF_FIELD.search(form.text).group(1)}, follow_redirects=False)
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(_session_cookie(client) + "="))
    assert "Secure" in cookie


def test_the_login_form_needs_its_own_csrf_token(make_client) -> None:
    client = make_client()
    client.get("/login")
    answer = client.post("/login", data={"name": "examiner1", "password": PASSWORDS["examiner1"], "csrf": "forged"})
    assert answer.status_code == 403
    assert _session_cookie(client) not in client.cookies


def test_logging_out_ends_the_session_on_the_server(make_client) -> None:
    client = make_client("examiner1")
    token = client.cookies[_session_cookie(client)]
    csrf = CSRF_FIELD.search(client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set(_session_cookie(client), token)  # a copy of the old cookie is worth nothing now
    assert client.get("/api/progress").status_code == 401


def test_an_idle_session_expires(make_client, web_case) -> None:
    client = make_client("examiner1", idle_seconds=600)
    assert client.get("/api/progress").status_code == 200
    db = sqlite3.connect(web_case.case / "case.sqlite")
    db.execute("UPDATE web_sessions SET last_seen = ?", (time.time() - 601,))
    db.commit()
    assert client.get("/api/progress").status_code == 401
    assert db.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0] == 0  # removed, not just refused


def test_a_session_ends_after_a_shift_however_busy(make_client, web_case) -> None:
    client = make_client("examiner1", max_seconds=3600)
    db = sqlite3.connect(web_case.case / "case.sqlite")
    db.execute("UPDATE web_sessions SET created_at = ?", (time.time() - 3601,))
    db.commit()
    assert client.get("/api/progress").status_code == 401


def test_repeated_failures_for_one_name_are_throttled(make_client) -> None:
    client = make_client()
    for _ in range(5):
        assert login(client, "examiner2", "wrong password!").status_code == 401
    assert login(client, "examiner2").status_code == 429  # even the right password, for a while
    assert login(client, "examiner1").status_code == 303  # other names are not affected


def test_a_disabled_account_cannot_log_in_and_loses_its_sessions(make_client, web_case) -> None:
    examiner = make_client("examiner2")
    supervisor = make_client("super1")
    db = sqlite3.connect(web_case.case / "case.sqlite")
    user_id = db.execute("SELECT id FROM users WHERE name = 'examiner2'").fetchone()[0]
    csrf = CSRF_FIELD.search(supervisor.get("/users").text).group(1)
    assert supervisor.post(f"/users/{user_id}/disable", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert examiner.get("/api/progress").status_code == 401
    assert login(make_client(), "examiner2").status_code == 401
