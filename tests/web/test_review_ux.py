"""What makes the review app obvious (issue 19, points 10-11), checked on the served HTML: buttons beside the keys
(never for a viewer), tiles that say in words why they are in the queue, paths that break at separators, and an icon
where browsers look for one."""

from __future__ import annotations

import lxml.html

from fieldlab.web.app import CSP
from tests.web.web_case import HOSTILE_NAME

CATEGORY_WORDS = {"A", "B", "C", "non-indecent", "uncategorised", "other"}


def _page(client, url: str) -> lxml.html.HtmlElement:  # noqa: ANN001 - a TestClient
    response = client.get(url)
    assert response.status_code == 200, url
    return lxml.html.fromstring(response.text)


def _tile_of(page: lxml.html.HtmlElement, item: int) -> lxml.html.HtmlElement:
    (found,) = page.xpath(f'//li[contains(@class, "tile")][@data-item="{item}"]')
    return found


def test_the_favicon_is_a_small_icon_served_by_its_own_route_under_the_same_policy(make_client) -> None:
    client = make_client()  # no login: a browser asks for it on the login page too
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-security-policy"] == CSP
    assert len(response.content) < 2048 and response.content.startswith(b"<svg")
    login = lxml.html.fromstring(client.get("/login").text)
    assert login.xpath('//link[@rel="icon"]/@href') == ["/favicon.ico"]


def test_tiles_say_in_words_why_they_are_in_the_queue(make_client, web_case) -> None:
    page = _page(make_client("examiner1"), "/gallery?tab=review")
    reasons = [r.text_content().strip() for r in page.xpath('//li[contains(@class, "tile")]//*[@class="reason"]')]
    assert reasons and not CATEGORY_WORDS.intersection(reasons), reasons
    assert all(len(r.split()) >= 2 for r in reasons), reasons  # a phrase, not a tier's code name

    def reason_of(path: str) -> str | None:
        found = _tile_of(page, web_case.ids[path]).xpath('.//*[@class="reason"]')
        return found[0].text_content() if found else None

    assert reason_of("Users/alex/Pictures/alone.jpg") == "in a user folder"
    assert reason_of("Users/alex/AppData/Local/Google/Chrome/User Data/Default/Cache/f_0001a3") == "in a cache"
    assert reason_of("Data/misc/IMG_0042.jpg") == "camera of a seized phone"
    assert reason_of("Windows/Web/Wallpaper/img0.jpg") is None  # the rest: nothing worth saying
    near = reason_of("Users/alex/Downloads/resized.jpg")
    assert near is not None and near.startswith("near a known picture: pdq distance ")


def test_paths_offer_breaks_after_separators_only(make_client, web_case) -> None:
    client = make_client("examiner1")
    cache = "Users/alex/AppData/Local/Google/Chrome/User Data/Default/Cache/f_0001a3"
    html = client.get("/gallery?tab=review").text
    assert "Users/<wbr>alex/<wbr>AppData/<wbr>Local/<wbr>Google/<wbr>Chrome/<wbr>User Data/<wbr>Default/<wbr>Cache/<wbr>f_<wbr>0001a3" in html
    assert "Downloads/<wbr>&lt;img src=x onerror=alert(1)&gt;.jpg" in html  # still escaped, piece by piece
    link = _tile_of(lxml.html.fromstring(html), web_case.ids[cache]).xpath('.//a[@class="path"]')[0]
    assert link.text_content() == cache  # the breaks add no characters
    item = client.get(f"/item/{web_case.ids[cache]}").text
    assert "Cache/<wbr>f_<wbr>0001a3" in item
    assert f"Downloads/{HOSTILE_NAME}" not in html


def test_an_examiner_has_buttons_for_every_category_and_undo_on_tiles_and_the_item_page(make_client, web_case) -> None:
    client = make_client("examiner1")
    item = web_case.ids["Users/alex/Pictures/alone.jpg"]
    for url in ("/gallery?tab=review", "/gallery?tab=known", f"/item/{item}"):
        page = _page(client, url)
        tiles = page.xpath('//li[contains(@class, "tile")]')
        assert tiles, url
        for tile in tiles:
            labels = [(b.get("data-category"), b.text_content()) for b in tile.xpath('.//button[@data-category]')]
            assert labels == [("A", "A"), ("B", "B"), ("C", "C"), ("non-indecent", "not indecent")], url
        assert len(page.xpath('//button[@data-undo]')) == 1, url


def test_a_viewer_sees_no_decision_buttons(make_client, web_case) -> None:
    client = make_client("viewer1")
    item = web_case.ids["Users/alex/Pictures/alone.jpg"]
    for url in ("/gallery?tab=review", "/gallery?tab=known", f"/item/{item}"):
        page = _page(client, url)
        assert page.xpath('//li[contains(@class, "tile")]'), url
        assert page.xpath('//button[@data-category] | //button[@data-undo] | //div[@class="decide"]') == [], url
