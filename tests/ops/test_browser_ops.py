"""An intelligence officer in a real headless Chromium (Debian's, driven by Playwright): import a monitoring export,
open the highest-priority target, read why it ranks there, and open its warrant draft."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from fieldlab.web.app import WebConfig
from fieldlab.web.ops_app import create_ops_app
from tests.ops.ops_data import PASSWORDS, add_users, prepare


@pytest.fixture()
def server(ops_db, ops_location, scenario, private_library) -> Iterator[str]:  # noqa: ANN001
    prepare(ops_db, scenario)
    add_users(ops_db)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_ops_app(ops_location, WebConfig(allowed_hosts=("127.0.0.1",)), home=private_library)
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=20)


def test_an_officer_imports_sightings_ranks_targets_and_drafts_a_warrant(browser: Browser, server: str,
                                                                         scenario) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))  # injected script would
    page.goto(server + "/")
    expect(page).to_have_url(server + "/login")
    page.fill("input[name=name]", "intel1")
    page.fill("input[name=password]", PASSWORDS["intel1"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Operations dashboard")

    page.click("text=Import sightings")
    page.set_input_files("input[name=file]", str(scenario.sightings))
    page.click("#import-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("sightings.csv")
    expect(page.locator('[data-count="added"]')).to_have_text("12")
    expect(page.locator('[data-count="malformed"]')).to_have_text("6")
    expect(page.locator("#problems tbody tr").first.locator("td").first).to_have_text(str(scenario.lines["bad-zone"]))

    page.click("text=See the targets")
    rows = page.locator("#targets tbody tr")
    expect(rows).to_have_count(4)
    top = rows.first
    expect(top.locator("ul.reasons li")).to_have_count(4)
    top.locator("a").first.click()
    expect(page.locator("#reasons tr[data-part=severity] td").last).to_have_text(
        "by category: 2 category A × 5, 1 category B × 3")
    score = int(page.locator("#score").inner_text())
    parts = [int(t) for t in page.locator("#reasons tr[data-part] td.points").all_inner_texts()]
    assert score == sum(parts) and score > 0
    expect(page.locator("#target-facts [data-field=rule]")).to_contain_text("same client GUID")

    page.click("#warrant-link")
    expect(page.locator("section.warrant h1")).to_contain_text("search warrant")
    times = page.locator("#sightings tbody tr td:first-child").all_inner_texts()
    assert times == ["2024-06-01 10:00:00 UTC", "2024-06-02 11:00:00 UTC", "2024-06-05 12:00:00 UTC"]
    expect(page.locator("#known-files tbody tr")).to_have_count(3)
    expect(page.locator("#sightings")).to_contain_text("<b>x</b>.jpg")  # shown as text, never markup
    with page.expect_download() as download:
        page.click("#warrant-pdf")
    assert download.value.suggested_filename.endswith(".pdf")
    page.close()
