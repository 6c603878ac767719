"""Issue 18.5: one table of permissions (``web.permissions``) decides every route of both apps for every role, and
the documentation's role tables and the accounts pages are drawn from it."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from fieldlab.ops.database import OpsDatabase, locate, upgrade
from fieldlab.web.app import WebConfig
from fieldlab.web.ops_app import create_ops_app
from fieldlab.web.permissions import OPS_ROLES, PERMISSIONS, ROLES, role_duties, role_may, role_table_markdown
from tests.ops.ops_data import PASSWORDS as OPS_PASSWORDS
from tests.ops.ops_data import ROLES as OPS_USERS
from tests.ops.ops_data import add_users
from tests.security.permission_walk import request, route_checks
from tests.web.web_case import CSRF_META, login
from tests.web.web_case import ROLES as REVIEW_USERS

DOCS = Path(__file__).resolve().parents[2] / "docs"
PUBLIC_REVIEW = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/review.js"), ("GET", "/static/review.css"),
                 ("GET", "/favicon.ico")}
PUBLIC_OPS = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/review.css"), ("GET", "/static/ops.css"),
              ("GET", "/favicon.ico"),
              ("GET", "/public"), ("GET", "/public.json")}


@pytest.fixture()
def ops_client_of(tmp_path: Path) -> Iterator:
    location = locate(ops_dir=tmp_path / "ops")
    upgrade(location)
    db = OpsDatabase.open(location)
    add_users(db)
    opened: list[TestClient] = []

    def make(user: str | None = None) -> TestClient:
        client = TestClient(create_ops_app(location, WebConfig()))
        client.__enter__()
        opened.append(client)
        if user is not None:
            assert login(client, user, OPS_PASSWORDS[user]).status_code == 303
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
    db.close()


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, from the dashboard every role may read."""
    return CSRF_META.search(client.get("/").text).group(1)


def _walk(client: TestClient, role: str, public: set[tuple[str, str]]) -> list[str]:
    """Every route asked by ``client`` (logged in with ``role``): what disagrees with the table."""
    wrong = []
    csrf = csrf_of(client)
    checks = route_checks(client.app)
    assert {(c.method, c.path) for c in checks if c.permission is None} == public
    for check in checks:
        if check.permission is None:
            continue
        status = request(client, check, csrf).status_code
        permitted = role_may(role, check.permission)
        if (status == 403) == permitted or status == 401:
            wrong.append(f"{role} {check.method} {check.path} ({check.permission}): {status}")
    return wrong


def test_every_review_route_for_every_role_agrees_with_the_table(make_client) -> None:
    assert set(REVIEW_USERS.values()) == set(ROLES)
    wrong = [w for user, role in REVIEW_USERS.items() for w in _walk(make_client(user), role, PUBLIC_REVIEW)]
    assert wrong == []


def test_every_operations_route_for_every_role_agrees_with_the_table(ops_client_of) -> None:
    assert set(OPS_USERS.values()) == set(OPS_ROLES)
    wrong = [w for user, role in OPS_USERS.items() for w in _walk(ops_client_of(user), role, PUBLIC_OPS)]
    assert wrong == []


def test_the_intelligence_role_cannot_record_what_happened_at_an_operation(ops_client_of) -> None:
    intel = ops_client_of("intel1")
    token = csrf_of(intel)
    for change in ("stage", "devices", "safeguarding"):
        answer = intel.post(f"/operations/1/{change}", data={"csrf": token})
        assert answer.status_code == 403, change


def test_the_role_tables_of_the_documentation_are_the_permission_table() -> None:
    assert role_table_markdown("operations") in (DOCS / "operations.md").read_text()
    assert role_table_markdown("review") in (DOCS / "security.md").read_text()


def test_the_accounts_pages_show_each_roles_permissions_from_the_table(make_client, ops_client_of) -> None:
    for page, app in ((make_client("super1").get("/users").text, "review"),
                      (ops_client_of("super1").get("/users").text, "operations")):
        for role, may in role_duties(app):
            assert f'<tr data-role="{role}"><td>{role}</td><td>{html.escape(may)}</td></tr>' in page, (app, role)


def test_every_permission_is_given_to_the_supervisor_and_used_by_some_route(make_client, ops_client_of) -> None:
    used = {c.permission for c in route_checks(make_client().app) + route_checks(ops_client_of().app)}
    assert used - {None} == set(PERMISSIONS)
    assert all(role_may("supervisor", name) for name in PERMISSIONS)
