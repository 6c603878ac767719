"""``/public``: the right aggregates per month, small numbers suppressed, nothing that identifies anyone, and no
other page reachable without logging in."""

from __future__ import annotations

import html
import re

from fieldlab.ops.public import PeriodError, public_figures
from fieldlab.ops.settings import save_settings
from fieldlab.ops.sightings import import_sightings
from fieldlab.ops.targets import add_subscriber, list_targets, target_detail
from tests.ops.ops_data import GUID_1, NOW, OPERATION_REFS, PASSWORDS, SUBSCRIBER, prepare, run_lifecycle

PERIOD = {"from": "2024-07", "to": "2024-09"}


def _operations(db, scenario, triage_case) -> None:  # noqa: ANN001
    prepare(db, scenario)
    import_sightings(db, scenario.sightings, actor="intel1", now=NOW)
    w1, w2, w4, _ = [t.id for t in list_targets(db, now=NOW)]
    first = target_detail(db, w1, NOW).sightings[0]
    add_subscriber(db, w1, ip=first.ip, seen_us=first.seen_us, actor="intel1", **SUBSCRIBER)
    run_lifecycle(db, (w1, w2, w4), triage_case)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_public_page_shows_monthly_aggregates_with_small_numbers_suppressed(ops_db, scenario, triage_case,
                                                                                make_client) -> None:
    _operations(ops_db, scenario, triage_case)
    page = make_client().get("/public", params=PERIOD)  # nobody logged in
    assert page.status_code == 200
    totals = dict(re.findall(r'<tr data-measure="(\w+)"><th>[^<]*</th><td>([^<]*)</td>', page.text))
    assert totals == {"children_safeguarded": "7", "warrants_executed": "between 2 and 8", "arrests": "6",
                      "charges": "between 2 and 8"}
    months = {month: dict(re.findall(r'<td data-measure="(\w+)">([^<]*)</td>', row))
              for month, row in re.findall(r'<tr data-month="([\d-]+)">(.*?)</tr>', page.text, re.S)}
    assert months == {
        "2024-07": {"children_safeguarded": "7", "warrants_executed": "fewer than 5", "arrests": "6",
                    "charges": "fewer than 5"},
        "2024-08": {"children_safeguarded": "0", "warrants_executed": "fewer than 5", "arrests": "0",
                    "charges": "fewer than 5"},
        "2024-09": {"children_safeguarded": "0", "warrants_executed": "0", "arrests": "0", "charges": "0"},
    }
    assert "Stop It Now" in page.text and 'href="https://www.stopitnow.org.uk/"' in page.text

    data = make_client().get("/public.json", params=PERIOD).json()
    assert data["period"] == PERIOD
    assert {m["key"]: m["total"]["shown"] for m in data["measures"]} == totals
    charges = next(m["total"] for m in data["measures"] if m["key"] == "charges")
    assert (charges["value"], charges["at_least"], charges["at_most"], charges["suppressed"]) == (None, 2, 8, True)
    assert data["months"][0]["arrests"] == {"shown": "6", "value": 6, "suppressed": False, "at_least": 6, "at_most": 6}
    assert data["months"][0]["charges"]["value"] is None  # the suppressed count itself is never sent


def test_the_threshold_is_the_force_s_choice(ops_db, scenario, triage_case, make_client) -> None:
    _operations(ops_db, scenario, triage_case)
    save_settings(ops_db, "super1", suppress_below=3, advice_text="Call us.",
                  advice_links=[("Our advice page", "https://police.example/advice")])
    july, august, _ = public_figures(ops_db, first="2024-07", last="2024-09").months
    assert (july.figures["warrants_executed"].shown, july.figures["charges"].shown) == ("fewer than 3", "fewer than 3")
    assert august.figures["charges"].shown == "4"
    page = make_client().get("/public", params=PERIOD).text
    assert "Call us." in page and "https://police.example/advice" in page and "Stop It Now" not in page


def test_the_public_page_names_no_address_person_case_or_day(ops_db, scenario, triage_case, make_client) -> None:
    _operations(ops_db, scenario, triage_case)
    client = make_client()
    page = client.get("/public", params=PERIOD).text + client.get("/public.json", params=PERIOD).text
    page += client.get("/public").text
    text = _text(page)
    raw = scenario.sightings.read_text()
    forbidden = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", raw)) | set(re.findall(r"\[?(2001:db8:[0-9a-f:]+)", raw))
    forbidden |= {f.md5 for f in scenario.files.values()} | {f.sha1 for f in scenario.files.values()}
    forbidden |= {GUID_1, GUID_1.lower(), "holiday_01.jpg", *OPERATION_REFS, "CASE-2024-0042", "JS/1", "laptop",
                  SUBSCRIBER["name"], "Sample Lane", SUBSCRIBER["isp_reference"], SUBSCRIBER["isp"], "Loamshire",
                  "Borsetshire", *PASSWORDS, "referred to children", "strategy meeting"}
    forbidden |= {f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 32)}  # no day, ever
    found = sorted(f for f in forbidden if f in text or f in page)
    assert not found, f"the public page shows {found}"


def test_only_the_public_pages_are_served_without_logging_in(ops_db, scenario, make_client) -> None:
    client = make_client()
    for path in ("/", "/targets", "/targets/1", "/import", "/imports/1", "/operations/1", "/settings", "/users"):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/login"), path
    for path in ("/targets/1/warrant", "/targets/1/warrant.pdf"):  # drafts are written on POST only (an audit entry)
        assert client.get(path, follow_redirects=False).status_code == 405, path
    for path in ("/import", "/targets/1/override", "/operations/1/stage", "/settings", "/users",
                 "/targets/1/warrant", "/targets/1/warrant.pdf"):
        assert client.post(path, follow_redirects=False).status_code in (401, 403), path
    assert client.get("/public").status_code == 200 and client.get("/public.json").status_code == 200
    assert client.get("/public", params={"from": "2024-07", "to": "2999-01"}).status_code == 400


def test_a_logged_in_officer_sees_the_same_anonymous_public_page(ops_db, scenario, make_client) -> None:
    page = make_client("intel1").get("/public").text
    assert "intel1" not in page and "csrf" not in page and "/logout" not in page


def test_periods_are_whole_past_months() -> None:
    from datetime import date

    from fieldlab.ops.public import period

    assert period(None, None, date(2024, 10, 15)) == (2023 * 12 + 9, 2024 * 12 + 8)  # Oct 2023 - Sep 2024
    for first, last, message in (("2024-13", None, "not a month"), ("2024-09", "2024-07", "starts after"),
                                 (None, "2024-10", "complete months"), ("2010-01", "2024-09", "at most 120")):
        try:
            period(first, last, date(2024, 10, 15))
        except PeriodError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{first}..{last} accepted")
