"""The review app in Chromium at a field laptop's 1366x768 and a 1920x1080 screen (issue 19, points 10-12): buttons
do what the keys do, with the same audit entries; nothing overlaps, nothing scrolls sideways, paths break at their
separators.  Screenshots are written to the test's tmp_path, to look at."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.browsing import log_in, tile

SIZES = ((1366, 768), (1920, 1080))

# Every pair of visible sibling elements whose boxes (one per line for inline ones) overlap by more than half a
# pixel both ways; SVG drawings are left out (gridlines under bars are meant to overlap).
OVERLAPS = """() => {
  const boxes = (el) => {
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none" || style.position === "fixed") return [];
    return [...el.getClientRects()].filter((r) => r.width > 0.5 && r.height > 0.5);
  };
  const crossing = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5
                          && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const name = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\\s+/).join(".") : "") + (el.textContent ? " '" + el.textContent.trim().slice(0, 30) + "'" : "");
  const found = [];
  for (const parent of document.querySelectorAll("body, body *")) {
    if (parent.closest("svg")) continue;
    const children = [...parent.children].map((el) => [el, boxes(el)]).filter(([, b]) => b.length);
    for (let i = 0; i < children.length; i++) {
      for (let j = i + 1; j < children.length; j++) {
        const [a, aBoxes] = children[i], [b, bBoxes] = children[j];
        if (aBoxes.some((x) => bBoxes.some((y) => crossing(x, y)))) found.push(name(a) + " / " + name(b));
      }
    }
  }
  return found;
}"""

# Elements of a tile reaching outside it (the blurred picture is clipped by its frame, so it is left out).
OUT_OF_TILE = """() => {
  const found = [];
  for (const t of document.querySelectorAll("li.tile")) {
    const frame = t.getBoundingClientRect();
    for (const el of t.querySelectorAll("*")) {
      if (el.tagName === "IMG" || el.tagName === "WBR") continue;
      const r = el.getBoundingClientRect();
      if (r.width && (r.left < frame.left - 0.5 || r.right > frame.right + 0.5 || r.bottom > frame.bottom + 0.5))
        found.push(t.dataset.item + ": " + el.tagName + "." + el.className);
    }
  }
  return found;
}"""

# Where each a.path's text moves to a new line: the characters either side of every break.
LINE_BREAKS = """(link) => {
  const chars = [];
  const walker = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect) chars.push([node.data[i], rect.top]);
    }
  }
  const breaks = [];
  for (let i = 1; i < chars.length; i++) {
    if (chars[i][1] > chars[i - 1][1] + 2) breaks.push(chars[i - 1][0] + chars[i][0]);
  }
  return breaks;
}"""


def _settled(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => [...document.querySelectorAll('img')].every(i => i.complete)")


def _fits(page: Page, shot: Path) -> None:
    _settled(page)
    page.screenshot(path=shot, full_page=True)
    assert page.evaluate(OVERLAPS) == [], shot.name
    assert page.evaluate(OUT_OF_TILE) == [], shot.name
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{shot.name} scrolls sideways: {width}"


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_gallery_dashboard_and_item_page_fit_without_overlap_or_sideways_scrolling(
        browser: Browser, server, tmp_path: Path, width: int, height: int) -> None:
    base, case = server
    page = log_in(browser, base, "examiner1", width, height)
    item = case.ids["Users/alex/AppData/Local/Google/Chrome/User Data/Default/Cache/f_0001a3"]
    for name, url in (("dashboard", "/"), ("review", "/gallery?tab=review"), ("known", "/gallery?tab=known"),
                      ("item", f"/item/{item}")):
        page.goto(base + url)
        _fits(page, tmp_path / f"{name}-{width}x{height}.png")
    viewer = log_in(browser, base, "viewer1", width, height)
    viewer.goto(base + "/gallery?tab=review")
    _fits(viewer, tmp_path / f"review-viewer-{width}x{height}.png")
    viewer.close()
    page.close()


def test_long_paths_wrap_at_separators_not_mid_name(browser: Browser, server) -> None:
    base, case = server
    page = log_in(browser, base, "examiner1", *SIZES[0])
    page.goto(base + "/gallery?tab=review")
    cache = tile(page, case.ids["Users/alex/AppData/Local/Google/Chrome/User Data/Default/Cache/f_0001a3"])
    breaks = cache.locator("a.path").evaluate(LINE_BREAKS)
    assert breaks, "the cache path fits one line: the test shows nothing"
    assert all(pair[0] in "/\\|:_- " for pair in breaks), breaks
    page.close()


def _audit(case_dir: Path, after: int) -> list[tuple[str, str, dict]]:
    with sqlite3.connect(case_dir / "case.sqlite") as db:
        rows = db.execute("SELECT actor, action, detail FROM audit_log WHERE seq > ? AND action IN "
                          "('items_categorised', 'categorisation_undone') ORDER BY seq", (after,)).fetchall()
    return [(actor, action, json.loads(detail)) for actor, action, detail in rows]


def _last_seq(case_dir: Path) -> int:
    with sqlite3.connect(case_dir / "case.sqlite") as db:
        return db.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]


def _without_items(entries: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    return [(actor, action, {k: v for k, v in detail.items() if k not in ("items", "previous", "restored", "undid_decision")})
            for actor, action, detail in entries]


def test_buttons_categorise_and_undo_as_the_keys_do_with_the_same_audit_entries(browser: Browser, server) -> None:
    base, case = server
    page = log_in(browser, base, "examiner1", *SIZES[0])
    page.goto(base + "/gallery?tab=review")
    by_key, by_button = (case.ids[p] for p in ("Users/alex/Pictures/alone.jpg", "Data/misc/IMG_0042.jpg"))

    start = _last_seq(case.case)
    tile(page, by_key).locator(".copies").click()
    page.keyboard.press("1")
    expect(tile(page, by_key).locator('[data-field="decision"]')).to_have_text("A")
    page.keyboard.press("z")
    expect(tile(page, by_key).locator('[data-field="decision"]')).to_have_text("")
    keyboard = _audit(case.case, start)

    middle = _last_seq(case.case)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    with page.expect_request(lambda r: r.url.endswith("/api/categorise")) as sent:
        tile(page, by_button).locator('button[data-category="A"]').click()
    assert sent.value.method == "POST" and sent.value.headers["x-csrf-token"] == csrf
    assert json.loads(sent.value.post_data) == {"items": [by_button], "category": "A", "whole_group": False}
    expect(tile(page, by_button).locator('[data-field="decision"]')).to_have_text("A")
    expect(page.locator("#status")).to_contain_text("1 item(s) categorised A")
    with page.expect_request(lambda r: r.url.endswith("/api/undo")) as sent:
        page.locator("button[data-undo]").click()
    assert sent.value.headers["x-csrf-token"] == csrf
    expect(tile(page, by_button).locator('[data-field="decision"]')).to_have_text("")
    buttons = _audit(case.case, middle)

    assert [a for _, a, _ in keyboard] == [a for _, a, _ in buttons] == ["items_categorised", "categorisation_undone"]
    assert _without_items(keyboard) == _without_items(buttons)
    assert buttons[0][2]["items"] == [by_button] and keyboard[0][2]["items"] == [by_key]
    assert buttons[1][2]["restored"] == {str(by_button): "uncategorised"}

    # the item page: the same buttons, the same calls
    page.goto(base + f"/item/{by_button}")
    page.locator('button[data-category="non-indecent"]').click()
    expect(page.locator('.meta [data-field="decision"]')).to_have_text("non-indecent")
    (entry,) = _audit(case.case, _last_seq(case.case) - 1)
    assert entry[:2] == ("examiner1", "items_categorised") and entry[2]["category"] == "non-indecent"
    page.close()
