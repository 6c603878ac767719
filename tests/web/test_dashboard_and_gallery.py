"""The dashboard while a scan runs and after, and the gallery's order and filters."""

from __future__ import annotations

import re
import sqlite3

from tests.web.web_case import HOSTILE_NAME, csrf_of


def test_the_dashboard_polls_while_a_scan_runs_and_shows_counts_charts_and_errors(make_client, web_case) -> None:
    client = make_client("viewer1")
    finished = client.get("/").text
    assert 'data-live="1"' not in finished and finished.count('<svg viewBox') == 2
    assert "16 of 16 files read" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", finished))
    db = sqlite3.connect(web_case.case / "case.sqlite")
    db.execute("UPDATE exhibits SET scan_finished_at = NULL")
    db.execute("UPDATE items SET state = 'pending' WHERE id IN (1, 2)")
    db.commit()
    running = client.get("/").text
    assert 'data-live="1"' in running
    progress = client.get("/api/progress").json()
    assert progress["finished"] is False
    assert progress["exhibits"][0] | {"percent": 0} == {
        "id": 1, "ref": "EX1", "files": 16, "files_read": 14, "media": 16, "media_decoded": 16, "errors": 1,
        "hit_items": 4, "near_items": 1, "percent": 0, "status": "reading files", "finished": False}
    errors = client.get("/errors/1").text
    assert "broken.jpg" in errors and "decode" in errors and '<td class="kind">damaged</td>' in errors
    assert client.get("/errors/7").status_code == 404


def test_the_review_order_puts_near_matches_first_and_system_folders_last(make_client, web_case) -> None:
    page = make_client("examiner1").get("/gallery").text
    order = [int(i) for i in re.findall(r'<li class="tile[^"]*"[^>]*data-item="(\d+)"', page)]
    ids = web_case.ids
    assert order[:3] == [ids["Users/alex/Downloads/resized.jpg"], ids["Data/misc/small_a.jpg"],
                         ids["Data/misc/IMG_0042.jpg"]]
    assert order[-2:] == [ids["Users/alex/AppData/Local/Google/Chrome/User Data/Default/Cache/f_0001a3"],
                          ids["Windows/Web/Wallpaper/img0.jpg"]]
    assert ids[f"Users/alex/Downloads/{HOSTILE_NAME}"] in order
    known = {ids[f"Users/alex/Pictures/known_{c}.jpg"] for c in "abc"} | {ids["Users/alex/Downloads/copy of known_a.jpg"]}
    assert not known & set(order)  # known material is never among the pictures to review
    assert "pdq distance" in page and "copy of a known picture" in page and "camera of a seized device" in page


def test_undecided_only_leaves_out_what_was_categorised_but_not_what_was_withdrawn(make_client, web_case) -> None:
    client = make_client("examiner1")
    headers = {"X-CSRF-Token": csrf_of(client)}
    alone, wallpaper = web_case.ids["Users/alex/Pictures/alone.jpg"], web_case.ids["Windows/Web/Wallpaper/img0.jpg"]
    client.post("/api/categorise", json={"items": [alone], "category": "C"}, headers=headers)
    client.post("/api/categorise", json={"items": [wallpaper], "category": "uncategorised"}, headers=headers)
    page = client.get("/gallery?undecided=true").text
    assert f'data-item="{alone}"' not in page and f'data-item="{wallpaper}"' in page
    assert f'data-item="{alone}"' in client.get("/gallery").text


def test_known_hits_are_one_tile_per_content_with_category_set_and_copies(make_client, web_case) -> None:
    page = make_client("examiner1").get("/gallery?tab=known").text
    assert page.count('<li class="tile known"') == 3
    first = page[page.index('<li class="tile known"'):]
    first = first[:first.index("</li>")]
    assert "2 copies" in first and "known: caid-test" in first and ">A</span>" in first
