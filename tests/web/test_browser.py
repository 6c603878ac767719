"""The review app in a real headless Chromium (Debian's, driven by Playwright): what an examiner actually sees and
does.  The server runs in this process, on a free loopback port."""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Browser, Page, expect

from tests.web.browsing import log_in as _log_in
from tests.web.browsing import tile as _tile
from tests.web.web_case import HOSTILE_NAME


def _totals_cell(page: Page, basis: str, category: str):  # noqa: ANN202
    return page.locator(f'#totals tr[data-basis="{basis}"][data-medium="still"] td[data-category="{category}"]')


def test_an_examiner_reviews_blurred_pictures_and_categorises_with_the_keyboard(browser: Browser, server) -> None:
    base, case = server
    page = _log_in(browser, base, "examiner1")
    expect(page.locator(".panel h2")).to_have_text("Exhibit EX1")
    expect(page.locator('.panel [data-field="status"]')).to_have_text("scan finished")
    assert page.locator("svg.svgchart").count() == 2
    expect(_totals_cell(page, "examiner", "C")).to_have_count(0)

    page.click("text=Review")
    expect(page.locator("h1")).to_contain_text("Unknown pictures and videos to review")
    first = page.locator("li.tile .pic img").first
    expect(first).to_be_visible(timeout=30_000)  # sized once decoded: the thumbnail workers' cold start, on a busy machine
    page.wait_for_function("() => [...document.querySelectorAll('li.tile .pic img')].every(i => i.complete)")
    filters = page.eval_on_selector_all("li.tile .pic img", "imgs => imgs.map(i => getComputedStyle(i).filter)")
    assert filters and all("blur(18px)" in f and "grayscale(1)" in f for f in filters), filters
    loaded = page.eval_on_selector_all("li.tile .pic img", "imgs => imgs.filter(i => i.naturalWidth > 0).length")
    assert loaded >= len(filters) - 1  # all but the undecodable one

    # the markup-named file is text, and nothing ran (a dialog would fail the test)
    hostile = _tile(page, case.ids[f"Users/alex/Downloads/{HOSTILE_NAME}"])
    expect(hostile.locator("a.path")).to_have_text(f"Users/alex/Downloads/{HOSTILE_NAME}")

    # three items, three keys: focus moves on after each
    page.keyboard.press("ArrowRight")
    for key, label in (("1", "A"), ("2", "B"), ("3", "C")):
        page.keyboard.press(key)
        expect(page.locator("#status")).to_contain_text(f"categorised {label}")
    firsts = page.locator("li.tile").all()[:3]
    for tile, label in zip(firsts, ("A", "B", "C")):
        expect(tile.locator('[data-field="decision"]')).to_have_text(label)

    # space shows the focused picture unblurred, and the look is logged when it ends
    alone = _tile(page, case.ids["Users/alex/Pictures/alone.jpg"])
    alone.locator(".reason").click()
    page.keyboard.press(" ")
    expect(alone).to_have_class("tile focused revealed")
    assert alone.locator("img").evaluate("i => getComputedStyle(i).filter") == "none"
    page.wait_for_timeout(300)
    page.keyboard.press(" ")
    expect(alone).not_to_have_class("tile focused revealed")
    assert "blur" in alone.locator("img").evaluate("i => getComputedStyle(i).filter")

    # g then a key: the whole near-duplicate group
    family = [case.ids[f"Users/alex/Pictures/holiday/{n}"] for n in ("g1.jpg", "g2.jpg", "g3.png")]
    _tile(page, family[1]).locator(".reason").click()
    page.keyboard.press("g")
    expect(page.locator("#status")).to_contain_text("Group of 3 selected")
    page.keyboard.press("3")
    expect(page.locator("#status")).to_contain_text("3 item(s) categorised C (whole group)")
    for item in family:
        expect(_tile(page, item).locator('[data-field="decision"]')).to_have_text("C")

    page.click("text=Dashboard")
    expect(_totals_cell(page, "examiner", "A")).to_have_text("1")
    expect(_totals_cell(page, "examiner", "B")).to_have_text("1")
    expect(_totals_cell(page, "examiner", "C")).to_have_text("4")  # IMG_0042 and the group of three

    db = sqlite3.connect(case.case / "case.sqlite")
    looks = db.execute("SELECT examiner, item_id, how FROM exposure_log").fetchall()
    assert ("examiner1", case.ids["Users/alex/Pictures/alone.jpg"], "key") in looks
    page.close()


def test_a_known_hit_shows_only_after_an_explicit_reveal(browser: Browser, server) -> None:
    base, case = server
    page = _log_in(browser, base, "examiner1")
    page.goto(base + "/gallery?tab=known")
    copies = (case.ids["Users/alex/Pictures/known_a.jpg"], case.ids["Users/alex/Downloads/copy of known_a.jpg"])
    known_a = _tile(page, min(copies))  # one tile for both copies, named by the first
    assert known_a.locator("img").count() == 0
    known_a.locator("button.reveal").click()
    expect(known_a.locator("img")).to_have_count(1)
    expect(page.locator("#status")).to_contain_text("(logged)")
    page.wait_for_function("() => document.querySelector('li.tile.revealed img') !== null")
    db = sqlite3.connect(case.case / "case.sqlite")
    assert db.execute("SELECT how FROM exposure_log").fetchall() == [("reveal",)]
    page.close()


def test_a_viewer_cannot_categorise(browser: Browser, server) -> None:
    base, case = server
    page = _log_in(browser, base, "viewer1")
    page.goto(base + "/gallery")
    assert page.locator("li.tile").count() > 0 and page.locator("li.tile img").count() == 0
    page.keyboard.press("ArrowRight")
    page.keyboard.press("1")
    expect(page.locator("#status")).to_have_text("Your role may not categorise.")
    status = page.evaluate("""() => fetch('/api/categorise', {method: 'POST', headers: {'Content-Type': 'application/json',
        'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
        body: JSON.stringify({items: [1], category: 'A'})}).then(r => r.status)""")
    assert status == 403
    assert sqlite3.connect(case.case / "case.sqlite").execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    page.close()
