"""Helpers of the browser tests: logging in through the form, finding a tile.  The ``server`` fixture (conftest)
runs the app on a free loopback port."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.web_case import PASSWORDS


def log_in(browser: Browser, base: str, name: str, width: int = 1280, height: int = 900) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))  # injected script would
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    return page


def tile(page: Page, item: int) -> Locator:
    return page.locator(f'li.tile[data-item="{item}"]')
