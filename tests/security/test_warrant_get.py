"""Issue 18.7: a GET never writes the audit trail.  A page on another port of the same host is the same site, so
SameSite=Strict cookies go with its requests; its ``<img>`` tags and forms aimed at the warrant draft must write
nothing.  A draft is written (and audited) only by a POST carrying the session's CSRF token."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from fieldlab.ops.database import OpsDatabase, OpsLocation, locate, upgrade
from fieldlab.ops.sightings import import_sightings
from fieldlab.ops.targets import list_targets
from fieldlab.web.app import WebConfig
from fieldlab.web.ops_app import create_ops_app
from tests.ops.ops_data import NOW, PASSWORDS, add_users, build_scenario, prepare
from tests.web.web_case import CSRF_META, login


@pytest.fixture()
def ops_with_target(tmp_path: Path, private_library: Path) -> Iterator[tuple[OpsLocation, OpsDatabase, int]]:
    location = locate(ops_dir=tmp_path / "ops")
    upgrade(location)
    db = OpsDatabase.open(location)
    scenario = build_scenario(tmp_path / "scenario", private_library)
    prepare(db, scenario)
    add_users(db)
    import_sightings(db, scenario.sightings, home=private_library, actor="intel1", now=NOW)
    yield location, db, list_targets(db, now=NOW)[0].id
    db.close()


def _drafts(db: OpsDatabase) -> int:
    return sum(entry.action == "warrant_draft_written" for entry in db.audit.entries())


def test_a_get_of_a_warrant_draft_writes_nothing_and_a_post_needs_the_token(ops_with_target) -> None:
    location, db, target = ops_with_target
    with TestClient(create_ops_app(location, WebConfig())) as intel:
        assert login(intel, "intel1", PASSWORDS["intel1"]).status_code == 303
        for path in (f"/targets/{target}/warrant", f"/targets/{target}/warrant.pdf"):
            assert intel.get(path).status_code == 405
            assert intel.post(path, data={}).status_code == 403  # no CSRF token
        assert _drafts(db) == 0
        token = CSRF_META.search(intel.get(f"/targets/{target}").text).group(1)
        assert intel.post(f"/targets/{target}/warrant", data={"csrf": token}).status_code == 200
        pdf = intel.post(f"/targets/{target}/warrant.pdf", data={"csrf": token})
        assert pdf.headers["content-type"] == "application/pdf"
        assert _drafts(db) == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def ops_server(ops_with_target) -> Iterator[tuple[str, OpsDatabase, int]]:
    location, db, target = ops_with_target
    port = _free_port()
    app = create_ops_app(location, WebConfig(allowed_hosts=("127.0.0.1",)))
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", db, target
    running.should_exit = True
    thread.join(timeout=20)


@pytest.fixture()
def other_port_page(ops_server) -> Iterator[str]:
    """A page served from another port of the same host, aiming images and a self-submitting form at the draft."""
    base, _db, target = ops_server
    page = f"""<!doctype html><html><body>
<img id="a" src="{base}/targets/{target}/warrant"><img id="b" src="{base}/targets/{target}/warrant.pdf">
<iframe name="sink"></iframe>
<form id="f" method="post" action="{base}/targets/{target}/warrant" target="sink"><input name="csrf" value="guess"></form>
<script>
document.getElementById("f").submit();
window.done = () => [...document.images].every((img) => img.complete);  // loaded or failed: asked either way
</script></body></html>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_images_and_a_form_on_another_port_of_the_same_host_write_no_audit_entry(browser: Browser, ops_server,
                                                                               other_port_page: str) -> None:
    base, db, target = ops_server
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("input[name=name]", "intel1")
    page.fill("input[name=password]", PASSWORDS["intel1"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Operations dashboard")
    before = len(db.audit.entries())

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(f"/targets/{target}/warrant")):
        page.goto(other_port_page)
    page.wait_for_function("() => window.done && window.done()")
    page.wait_for_timeout(500)  # the form's answer, had it been accepted, would have written by now
    assert _drafts(db) == 0
    assert [e.action for e in db.audit.entries()[before:]] == []

    page.goto(f"{base}/targets/{target}")  # the officer's own button still drafts, once
    page.click("#warrant-link")
    expect(page.locator("section.warrant h1")).to_contain_text("search warrant")
    assert _drafts(db) == 1
    context.close()
