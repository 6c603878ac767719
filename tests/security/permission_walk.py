"""Walking every route of a web app: which permission of ``web.permissions`` each one checks, and a request to it
that a user without that permission must see refused (403) and a user with it must not."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute

ABSENT_ID = "999999"  # every id in a path: a permitted user gets past the check, then finds nothing to change


@dataclass(frozen=True)
class RouteCheck:
    method: str
    path: str
    permission: str | None  # None: served without a login


def _permission_of(dependant) -> set[str]:  # noqa: ANN001 - a FastAPI Dependant
    found = set()
    for dependency in dependant.dependencies:
        if hasattr(dependency.call, "permission"):
            found.add(dependency.call.permission)
        found |= _permission_of(dependency)
    return found


def _api_routes(routes: list) -> list[APIRoute]:
    """The routes, those of included routers too (FastAPI keeps an included router whole, unprefixed here)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _api_routes(route.original_router.routes)
    return found


def route_checks(app: FastAPI) -> list[RouteCheck]:
    """Every method of every route, with the permissions its dependencies check (at most one each)."""
    checks = []
    for route in _api_routes(app.routes):
        permissions = _permission_of(route.dependant)
        assert len(permissions) <= 1, (route.path, permissions)
        for method in sorted(route.methods):
            checks.append(RouteCheck(method, route.path, next(iter(permissions), None)))
    # logging out ends the session the walk uses: last
    return sorted(checks, key=lambda c: (c.path == "/logout", c.path, c.method))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", ABSENT_ID, path)


def request(client, check: RouteCheck, csrf: str):  # noqa: ANN001, ANN201 - a TestClient and its response
    """The route asked as a browser of a logged-in user would: a POST carries the session's CSRF token and an
    empty form, so a permitted user is stopped by validation (422) or finds no such id (404), and changes nothing."""
    if check.method == "GET":
        return client.get(concrete(check.path), follow_redirects=False)
    return client.request(check.method, concrete(check.path), headers={"X-CSRF-Token": csrf},
                          data={}, follow_redirects=False)
