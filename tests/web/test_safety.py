"""Nothing from the evidence reaches the browser as markup or as its own bytes; nothing reaches the file system
through a request."""

from __future__ import annotations

import io
import re
import sqlite3

import pytest
from PIL import Image

from fieldlab.web.app import CSP
from tests.web.web_case import HOSTILE_NAME, csrf_of

TRAVERSALS = [
    "/thumb/../../etc/passwd", "/thumb/%2e%2e/%2e%2e/etc/passwd", "/thumb/..%2f..%2fetc%2fpasswd", "/thumb/%2e%2e",
    "/thumb/-1", "/thumb/0", "/thumb/1.5", "/thumb/1e3", "/thumb/99999999999999999999999999999", "/thumb/0x10",
    "/item/../../etc/passwd", "/item/%2e%2e%2fcase.sqlite", "/item/99999999999999999999",
    "/static/../case.sqlite", "/static/%2e%2e/case.sqlite", "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/errors/..%2f1", "/thumb/1/../../case.sqlite", "/case.sqlite", "/thumbnails/1.jpg", "/etc/passwd",
]


def test_traversal_attempts_get_an_error_never_a_file(make_client) -> None:
    client = make_client("examiner1")
    for path in TRAVERSALS:
        answer = client.get(path)
        assert answer.status_code in (404, 422), (path, answer.status_code)
        assert b"root:" not in answer.content and b"SQLite format" not in answer.content, path
        assert answer.headers["content-type"].startswith(("application/json", "text/plain")), path


def test_an_absurdly_large_id_is_refused_by_type_not_by_the_database(make_client) -> None:
    client = make_client("examiner1")
    assert client.get(f"/item/{2**63}").status_code == 422
    assert client.get("/item/123456789").status_code == 404


def test_no_route_takes_a_path_or_a_name() -> None:
    from fieldlab.web.routes import router

    assert len(router.routes) > 20
    for route in router.routes:
        for parameter in route.dependant.path_params:
            assert parameter.field_info.annotation is int, (route.path, parameter.name)


def test_a_file_named_as_markup_is_shown_as_inert_text_everywhere(make_client, web_case) -> None:
    client = make_client("examiner1")
    hostile = web_case.ids[f"Users/alex/Downloads/{HOSTILE_NAME}"]
    escaped = "&lt;img src=x onerror=alert(1)&gt;.jpg"
    for page in ("/gallery", f"/item/{hostile}"):
        text = client.get(page).text
        assert escaped in text, page
        assert "<img src=x" not in text and "onerror=alert(1)>" not in text, page
    known_page = client.get(f"/item/{web_case.ids['Users/alex/Pictures/known_a.jpg']}").text
    assert "<img src=x" not in known_page


def test_every_response_carries_the_strict_policy(make_client, web_case) -> None:
    client = make_client("examiner1")
    item = web_case.ids["Users/alex/Pictures/alone.jpg"]
    for path in ("/", "/gallery", f"/item/{item}", "/api/progress", f"/thumb/{item}", "/static/review.js",
                 "/thumb/0", "/login"):
        answer = client.get(path)
        assert answer.headers["content-security-policy"] == CSP, path
        assert "default-src 'self'; img-src 'self'; object-src 'none'; frame-ancestors 'none'" in CSP
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["cache-control"] == "no-store", path


def test_pages_have_no_inline_script_or_style_and_load_nothing_from_elsewhere(make_client) -> None:
    client = make_client("examiner1")
    for path in ("/", "/gallery", "/gallery?tab=known", "/settings", "/login"):
        text = client.get(path).text
        assert "<script>" not in text and "<style" not in text and " style=" not in text and " on" + "click=" not in text
        assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text


def test_a_thumbnail_is_a_small_reencoded_jpeg_never_the_evidence_bytes(make_client, web_case) -> None:
    client = make_client("examiner1")
    relative = "Users/alex/Pictures/alone.jpg"
    answer = client.get(f"/thumb/{web_case.ids[relative]}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    original = (web_case.evidence / relative).read_bytes()
    assert answer.content != original and original[100:400] not in answer.content
    picture = Image.open(io.BytesIO(answer.content))
    assert picture.format == "JPEG" and max(picture.size) <= 256 and "exif" not in picture.info
    cached = web_case.case / "thumbnails" / f"{web_case.ids[relative]}.jpg"
    assert cached.read_bytes() == answer.content  # cached by item id, never by an evidence name


def test_a_video_is_a_sheet_of_frames(make_client, web_case) -> None:
    client = make_client("examiner1")
    answer = client.get(f"/thumb/{web_case.ids['Users/alex/Videos/clip.mp4']}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(answer.content)).size == (510, 256)
    assert "<video" not in client.get("/gallery").text


def test_a_known_hit_is_a_tile_until_revealed_and_the_reveal_is_logged(make_client, web_case, clock) -> None:
    client = make_client("examiner1")
    known_a = web_case.ids["Users/alex/Pictures/known_a.jpg"]
    known_page = client.get("/gallery?tab=known").text
    assert f'src="/thumb/{known_a}"' not in known_page and "Reveal (logged)" in known_page
    assert client.get(f"/thumb/{known_a}").status_code == 403
    copy = web_case.ids["Users/alex/Downloads/copy of known_a.jpg"]
    assert client.get(f"/thumb/{copy}").status_code == 403  # a copy of known material is known too
    headers = {"X-CSRF-Token": csrf_of(client)}
    exposure = client.post(f"/api/reveal/{known_a}", headers=headers).json()["exposure_id"]
    assert client.get(f"/thumb/{known_a}").status_code == 200
    clock.advance(5)
    assert client.post("/api/exposure", json={"exposure_id": exposure, "seconds": 4.25}, headers=headers).status_code == 200
    db = sqlite3.connect(web_case.case / "case.sqlite")
    assert db.execute("SELECT examiner, item_id, how, seconds FROM exposure_log").fetchall() == [
        ("examiner1", known_a, "reveal", 4.2)]
    actions = [a for (a,) in db.execute("SELECT action FROM audit_log WHERE actor = 'examiner1'")]
    assert "item_revealed" in actions and "item_viewed" in actions
    other = make_client("examiner2")
    assert other.get(f"/thumb/{known_a}").status_code == 403  # one examiner's reveal is not another's


def test_an_undecodable_picture_says_why_and_is_not_tried_again(make_client, web_case) -> None:
    client = make_client("examiner1")
    broken = web_case.ids["Users/alex/Pictures/broken.jpg"]
    answer = client.get(f"/thumb/{broken}")
    assert answer.status_code == 404 and "cannot be decoded" in answer.json()["detail"]
    assert (web_case.case / "thumbnails" / f"{broken}.failed").exists()


@pytest.mark.parametrize("renderer", ["crash_on_alone", "hang_on_alone"])
def test_a_decoder_that_crashes_or_hangs_costs_only_that_file(web_case, renderer: str) -> None:
    from fieldlab.evidence.sources import SourceSpec
    from fieldlab.web.thumbnails import ThumbnailService, ThumbnailTask, ThumbnailUnavailable
    from tests.web import hostile_renderers

    service = ThumbnailService(web_case.case, workers=2, seconds_per_item=1.5, render=getattr(hostile_renderers, renderer))
    spec = SourceSpec(str(web_case.evidence), "folder")

    def task(relative: str) -> ThumbnailTask:
        return ThumbnailTask(web_case.ids[relative], spec, f"file:{relative}", "image", 0)

    try:
        with pytest.raises(ThumbnailUnavailable, match="crashed or hung"):
            service.thumbnail(task("Users/alex/Pictures/alone.jpg"))
        assert service.thumbnail(task("Windows/Web/Wallpaper/img0.jpg"))[:2] == b"\xff\xd8"  # the server went on
        with pytest.raises(ThumbnailUnavailable):  # remembered: not tried again
            service.thumbnail(task("Users/alex/Pictures/alone.jpg"))
    finally:
        service.close()


def test_the_item_page_shows_every_copy_times_flags_exif_gps_and_where_a_match_came_from(make_client, web_case) -> None:
    client = make_client("examiner1")
    known_a = client.get(f"/item/{web_case.ids['Users/alex/Pictures/known_a.jpg']}").text.replace("<wbr>", "")  # paths break after separators
    assert "Users/alex/Pictures/known_a.jpg" in known_a and "Users/alex/Downloads/copy of known_a.jpg" in known_a
    assert "Every place this content occurs (2)" in known_a and "Modified" in known_a and " UTC" in known_a
    assert "caid-test" in known_a and "<td>md5</td>" in known_a and "<td>A (uk)</td>" in known_a
    set_version = sqlite3.connect(web_case.case / "case.sqlite").execute(
        "SELECT hash_set_sha256 FROM hits WHERE hash_set = 'caid-test' LIMIT 1").fetchone()[0]
    assert set_version in known_a  # which version of the set matched
    near = client.get(f"/item/{web_case.ids['Users/alex/Downloads/resized.jpg']}").text
    assert re.search(r"<td>pdq</td>\s*<td>\d+ bits</td>", near)  # how close, for the report
    camera = client.get(f"/item/{web_case.ids['Data/misc/IMG_0042.jpg']}").text
    assert "SM-G960F" in camera and "51.500000, -0.125000" in camera and "First-generation lead" in camera
