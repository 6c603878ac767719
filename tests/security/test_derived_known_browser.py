"""Issue 18.3 in a real headless Chromium: derived-known items are tiles, the browser cannot fetch their picture
without a reveal, and a reveal shows it and is logged."""

from __future__ import annotations

import shutil
import sqlite3
from typing import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.security.derived_known_case import NEAR, PLAIN, DerivedCase, build_derived_case, derived_items
from tests.web.conftest import serving
from tests.web.web_case import PASSWORDS


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DerivedCase]]:
    root = tmp_path_factory.mktemp("derived-browser")
    case = build_derived_case(root)
    with serving(case.case) as base:
        yield base, case
    shutil.rmtree(root, ignore_errors=True)


def test_derived_known_items_are_tiles_in_the_browser_until_revealed(browser: Browser, served) -> None:
    base, case = served
    page = browser.new_page()
    page.goto(base + "/login")
    page.fill("input[name=name]", "examiner1")
    page.fill("input[name=password]", PASSWORDS["examiner1"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.goto(base + "/gallery")
    plain = page.locator(f'li.tile[data-item="{case.ids[PLAIN]}"] .pic img')
    expect(plain).to_have_count(1)
    page.wait_for_function("i => { const img = document.querySelector(`li.tile[data-item=\"${i}\"] .pic img`);"
                           " return img && img.complete && img.naturalWidth > 0; }", arg=case.ids[PLAIN])
    for what, item in derived_items(case).items():
        tile = page.locator(f'li.tile[data-item="{item}"]')
        if tile.count():
            expect(tile.locator("img")).to_have_count(0)
            expect(tile.locator("button.reveal")).to_have_count(1)
        assert page.request.get(f"{base}/thumb/{item}").status == 403, what  # the session's own cookie

    near = page.locator(f'li.tile[data-item="{case.ids[NEAR]}"]')
    near.locator("button.reveal").click()
    expect(near.locator("img")).to_have_count(1)
    page.wait_for_function("i => { const img = document.querySelector(`li.tile[data-item=\"${i}\"] .pic img`);"
                           " return img && img.complete && img.naturalWidth > 0; }", arg=case.ids[NEAR])
    db = sqlite3.connect(case.case / "case.sqlite")
    assert db.execute("SELECT how FROM exposure_log WHERE item_id = ?", (case.ids[NEAR],)).fetchall() == [("reveal",)]
    sent = {item for (item,) in db.execute("SELECT item_id FROM pictures_sent WHERE examiner = 'examiner1'")}
    assert {case.ids[PLAIN], case.ids[NEAR]} <= sent
    assert not sent & (set(derived_items(case).values()) - {case.ids[NEAR]})
    page.close()
