"""The operations app through HTTP: who may do what, CSRF on every change, and the officers' pages."""

from __future__ import annotations

import re
import subprocess

from fieldlab.ops.targets import list_targets
from tests.ops.ops_data import NOW, OUR_FORCE, SUBSCRIBER, prepare
from tests.web.web_case import CSRF_FIELD

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def _csrf(client, path: str = "/") -> str:  # noqa: ANN001
    return CSRF.search(client.get(path).text).group(1)


def _upload(client, scenario, **fields):  # noqa: ANN001, ANN202
    with open(scenario.sightings, "rb") as handle:
        return client.post("/import", data={"csrf": _csrf(client), **fields},
                           files={"file": ("sightings.csv", handle, "text/csv")}, follow_redirects=False)


def test_an_intelligence_officer_imports_through_the_browser_form(ops_db, scenario, make_client) -> None:
    prepare(ops_db, scenario)
    client = make_client("intel1")
    answer = _upload(client, scenario)
    assert answer.status_code == 303 and answer.headers["location"] == "/imports/1"
    report = client.get("/imports/1").text
    counts = dict(re.findall(r'data-count="([\w-]+)">(\d+)<', report))
    assert counts == {"rows": "19", "added": "12", "duplicates": "1", "malformed": "6", "set-aside": "4"}
    assert f'<td class="num">{scenario.lines["bad-zone"]}</td><td>timestamp' in report
    targets = client.get("/targets").text
    assert targets.count('<tr data-target=') == 4
    assert "same IP address within 7 days (203.0.113.20)" in targets
    entry = ops_db.audit.entries()[-1]
    assert (entry.action, entry.actor, entry.detail["added"]) == ("sightings_imported", "intel1", 12)


def test_a_bad_layout_is_refused_on_the_form_with_the_reason(ops_db, scenario, make_client) -> None:
    client = make_client("intel1")
    answer = _upload(client, scenario, columns="when=First Seen")
    assert answer.status_code == 400 and "is not field=column" in answer.text


def test_roles_are_checked_on_the_server_and_every_change_needs_the_csrf_token(ops_db, scenario, make_client) -> None:
    prepare(ops_db, scenario)
    intel = make_client("intel1")
    _upload(intel, scenario)
    target = list_targets(ops_db, now=NOW)[0].id
    viewer, examiner = make_client("viewer1"), make_client("exam1")
    assert viewer.get(f"/targets/{target}").status_code == 200
    assert 'action="/targets/' not in viewer.get(f"/targets/{target}").text  # no forms for a viewer
    assert _upload(viewer, scenario).status_code == 403
    assert viewer.post(f"/targets/{target}/warrant", data={"csrf": _csrf(viewer)}).status_code == 403
    assert examiner.post(f"/targets/{target}/override", data={"csrf": _csrf(examiner), "score": "9", "note": "x"}
                         ).status_code == 403
    assert examiner.get("/settings").status_code == 403
    no_token = intel.post(f"/targets/{target}/override", data={"score": "9", "note": "x"})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    elsewhere = intel.post(f"/targets/{target}/override", data={"csrf": _csrf(intel), "score": "9", "note": "x"},
                           headers={"origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    assert list_targets(ops_db, now=NOW)[0].priority.override is None
    own_form = intel.post(f"/targets/{target}/override", data={"csrf": _csrf(intel), "score": "9", "note": "x"},
                          headers={"origin": "null"}, follow_redirects=False)  # a form under no-referrer says null
    assert own_form.status_code == 303
    assert next(t for t in list_targets(ops_db, now=NOW) if t.id == target).priority.override == 9


def test_an_officer_works_a_target_to_a_warrant_draft_and_an_operation(ops_db, scenario, make_client, triage_case) -> None:
    prepare(ops_db, scenario)
    intel = make_client("intel1")
    _upload(intel, scenario)
    w1, w2 = [t.id for t in list_targets(ops_db, now=NOW)][:2]
    page = intel.get(f"/targets/{w2}").text
    assert re.search(r'<tr data-part="severity"><td class="num points">\+3</td>', page)
    token = _csrf(intel)
    assert intel.post(f"/targets/{w2}/override", data={"csrf": token, "score": "90", "note": "child at the address"},
                      follow_redirects=False).status_code == 303
    assert [t.id for t in list_targets(ops_db, now=NOW)][:2] == [w2, w1]
    refused = intel.post(f"/targets/{w2}/risk", data={"csrf": token, "kind": "other", "note": "x", "points": "99"})
    assert refused.status_code == 400 and "points from 0 to 40" in refused.text
    sighting = re.search(r'<select name="sighting"><option value="(\d+)">', intel.get(f"/targets/{w1}").text).group(1)
    intel.post(f"/targets/{w1}/subscriber", data={"csrf": token, "sighting": sighting, **SUBSCRIBER})

    draft = intel.post(f"/targets/{w1}/warrant", data={"csrf": token}).text
    assert SUBSCRIBER["name"] in draft and "2024-06-05 12:00:00 UTC" in draft and "&lt;b&gt;x&lt;/b&gt;.jpg" in draft
    pdf = intel.post(f"/targets/{w1}/warrant.pdf", data={"csrf": token})
    assert pdf.headers["content-type"] == "application/pdf" and "attachment" in pdf.headers["content-disposition"]
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout.decode()
    assert "203.0.113.10" in text and "2001:db8:a::10" in text

    started = intel.post(f"/targets/{w1}/operation", data={"csrf": token, "reference": "Op ASH-9"}, follow_redirects=False)
    operation = started.headers["location"]
    examiner = make_client("exam1")
    token = _csrf(examiner)
    for stage, on in (("warrant_applied", "2024-07-01"), ("warrant_granted", "2024-07-02"),
                      ("warrant_executed", "2024-07-03"), ("arrested", "2024-07-03")):
        assert examiner.post(f"{operation}/stage", data={"csrf": token, "stage": stage, "on": on},
                             follow_redirects=False).status_code == 303
    wrong = examiner.post(f"{operation}/stage", data={"csrf": token, "stage": "charged", "on": "2024-07-01"})
    assert wrong.status_code == 400 and "cannot come before" in wrong.text
    assert "not yet triaged" in examiner.get(operation).text and "CASE-2024-0042" in examiner.get(operation).text
    examiner.post(f"{operation}/devices", data={"csrf": token, "exhibit_ref": "JS/1", "description": "laptop",
                                                "case": "CASE-2024-0042"})
    assert examiner.post(f"{operation}/devices", data={"csrf": token, "exhibit_ref": "JS/2", "description": "phone",
                                                       "case": "../../etc"}).status_code == 400
    examiner.post(f"{operation}/safeguarding", data={"csrf": token, "children": "2", "on": "2024-07-03",
                                                     "note": "strategy discussion"})
    page = examiner.get(operation).text
    cells = dict(re.findall(r'<td class="num" data-category="(\w+)">(\d+)</td>', page))
    assert cells == {"A": "1", "B": "1", "C": "2", "uncategorised": "0"}
    board = examiner.get("/").text
    assert re.search(r'data-figure="arrested">1<', board) and re.search(r'data-figure="safeguarded">2<', board)
    assert re.search(r'<tr data-stage="arrested"><td>arrested</td><td class="num">1</td>', board)


def test_a_supervisor_sets_the_force_area_and_adds_accounts(ops_db, scenario, make_client) -> None:
    prepare(ops_db, scenario)
    make_client("intel1")
    supervisor = make_client("super1")
    token = _csrf(supervisor)
    saved = supervisor.post("/settings", data={
        "csrf": token, "force_areas": "GB/East Borsetshire\n", "window_days": "7", "suppress_below": "5",
        "public_title": "Our figures", "advice_text": "Get help.", "advice_links": "Help | https://help.example/"},
        follow_redirects=False)
    assert saved.status_code == 303
    bad = supervisor.post("/settings", data={
        "csrf": token, "force_areas": OUR_FORCE, "window_days": "7", "suppress_below": "5", "public_title": "x",
        "advice_text": "", "advice_links": "Help | http://plain.example/"})
    assert bad.status_code == 400 and "https://" in bad.text
    added = supervisor.post("/users", data={"csrf": token, "name": "intel2", "role": "intelligence",
                                             "password": "a long password"}, follow_redirects=False)
    assert added.status_code == 303 and "intel2" in supervisor.get("/users").text
    assert supervisor.post("/users", data={"csrf": token, "name": "x", "role": "god", "password": "a long password"}
                           ).status_code == 400
    login_form = make_client().get("/login").text
    assert CSRF_FIELD.search(login_form) and "operations" in login_form


def test_every_page_renders_for_every_role_or_is_refused(ops_db, scenario, make_client, triage_case) -> None:
    from fieldlab.ops.targets import close_target
    from tests.ops.ops_data import ROLES, run_lifecycle

    prepare(ops_db, scenario)
    _upload(make_client("intel1"), scenario)
    ids = [t.id for t in list_targets(ops_db, now=NOW)]
    operations = run_lifecycle(ops_db, ids[:3], triage_case)
    close_target(ops_db, ids[3], note="no further action: address reassigned", actor="intel1")
    pages = ["/", "/targets", "/targets?closed=true", *(f"/targets/{i}" for i in ids),
             "/import", "/imports/1", *(f"/operations/{o}" for o in operations), "/settings", "/users"]
    for user, role in ROLES.items():
        client = make_client(user)
        for path in pages:
            answer = client.get(path)
            assert answer.status_code in (200, 403), (user, path, answer.status_code)
            assert answer.status_code == 200 or role in ("viewer", "examiner", "intelligence"), (user, path)
        assert f'data-target="{ids[3]}"' in client.get("/targets?closed=true").text
        assert client.get("/targets/999999").status_code == 404
