"""Issue 18, point 8: the review app and the operations app on one host keep their sessions apart.

Browsers keep cookies by host, not by port: every cookie of 127.0.0.1 goes to every server on it.  The tests share
one cookie jar between the apps, as a browser does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from fieldlab.ops.database import locate
from fieldlab.web.app import WebConfig, create_app
from fieldlab.web.ops_app import create_ops_app
from tests.security.servers import OPS_PASSWORD, PASSWORD, new_case, new_ops_dir

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')


def _login(client: TestClient, name: str, password: str) -> None:
    token = CSRF_FIELD.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"name": name, "password": password, "csrf": token},
                       follow_redirects=False).status_code == 303


@pytest.fixture()
def apps(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, TestClient]]:
    """A review app for each of two cases and an operations app, all on one host, sharing one cookie jar."""
    review_a = TestClient(create_app(new_case(tmp_path / "case-a"), WebConfig()))
    review_b = TestClient(create_app(new_case(tmp_path / "case-b"), WebConfig()))
    ops = TestClient(create_ops_app(locate(ops_dir=new_ops_dir(tmp_path / "ops")), WebConfig()))
    with review_a, review_b, ops:
        yield review_a, review_b, ops


def _browser_keeps(cookies_of: TestClient, clients: tuple[TestClient, ...]) -> None:
    """What a browser does with the cookies one server set: every server on the host gets them from now on."""
    for other in clients:
        for cookie in cookies_of.cookies.jar:
            other.cookies.jar.set_cookie(cookie)


def test_logging_in_to_the_operations_app_does_not_log_the_examiner_out_of_the_review_app(apps) -> None:
    review, other_case, ops = apps
    for client, name, password in ((review, "examiner2", PASSWORD), (ops, "intel1", OPS_PASSWORD),
                                   (other_case, "examiner2", PASSWORD)):
        _login(client, name, password)
        _browser_keeps(client, apps)
    assert review.get("/api/progress").status_code == 200  # the old apps: the last login replaced the others'
    assert other_case.get("/api/progress").status_code == 200
    assert ops.get("/", follow_redirects=False).status_code == 200


def test_each_app_and_case_has_its_own_cookie_names(apps) -> None:
    names = [client.app.state.fieldlab.cookies for client in apps]
    flat = [n for cookies in names for n in (cookies.session, cookies.login)]
    assert len(set(flat)) == len(flat)


def test_under_tls_the_session_cookie_is_a_host_only_secure_cookie(tmp_path: Path) -> None:
    app = create_app(new_case(tmp_path / "case"), WebConfig(secure_cookies=True))
    with TestClient(app, base_url="https://127.0.0.1") as client:
        form = client.get("/login")
        login_cookie = form.headers["set-cookie"]
        token = CSRF_FIELD.search(form.text).group(1)
        answer = client.post("/login", data={"name": "examiner2", "password": PASSWORD, "csrf": token},
                             follow_redirects=False)
    session = next(h for h in answer.headers.get_list("set-cookie") if "_session=" in h)
    for cookie in (login_cookie, session):
        assert cookie.startswith("__Host-") and "Secure" in cookie and "Path=/" in cookie
        assert "domain" not in cookie.lower()  # __Host- cookies are refused by browsers if they name a Domain
