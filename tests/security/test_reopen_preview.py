"""Issue 16.10: an item is re-opened outside the scan by one function (``evidence.reopen``) from what the case
stored.  An item of an encrypted iOS backup, with no password in memory, "cannot be previewed: needs the exhibit's
password" at once, in the review app and in the report; no request for a thumbnail ever waits on a failed one."""

from __future__ import annotations

import concurrent.futures as cf
import re
import shutil
import threading
import time
from functools import partial
from pathlib import Path
from typing import Callable

import pytest
from fastapi.testclient import TestClient

import fieldlab
from fieldlab.case.store import CaseStore
from fieldlab.demo import procedural_jpeg
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.image import UnlockOptions
from fieldlab.evidence.reopen import NEEDS_PASSWORD, ReopenError, reopen, stored_spec
from fieldlab.problems import ProblemKind
from fieldlab.report.document import build_report
from fieldlab.report.pictures import PictureStyle
from fieldlab.web import WebConfig, create_app
from fieldlab.web.accounts import add_user
from fieldlab.web.thumbnails import ThumbnailService, ThumbnailTask, ThumbnailUnavailable
from tests.builders import KnownFile, write_csv_hashset
from tests.evidence.encrypted_ios_backup_builder import ExtraFile, build_backups
from tests.web.web_case import PASSWORDS, csrf_of, login

PASSWORD = "s3cret backup pass"
KNOWN = ExtraFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0201.JPG", procedural_jpeg(73, 320, 240))
PLAIN = ExtraFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0202.JPG", procedural_jpeg(74, 320, 240))
AT_ONCE = 10.0  # seconds: far beyond a refusal, far below "forever"


@pytest.fixture(scope="module")
def backup_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[int, str]]]:
    """A case of an encrypted backup scanned with its password; item ids and locators by device path."""
    root = tmp_path_factory.mktemp("encrypted-backup-case")
    built = build_backups(root / "evidence", PASSWORD, [KNOWN, PLAIN])
    known = write_csv_hashset(root / "known.csv", [KnownFile("known", KNOWN.data, "A")])
    fieldlab.import_hashset(known, name="known", home=root / "home")
    fieldlab.scan(built.encrypted, root / "case", exhibit_ref="IPHONE", home=root / "home", perceptual=False,
                  unlock=UnlockOptions(archive_passwords=(PASSWORD,)))
    store = CaseStore.open(root / "case", create=False)
    try:
        add_user(store, "examiner1", "examiner", password=PASSWORDS["examiner1"], actor="test setup")
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT path, id, locator FROM items").fetchall()
    finally:
        store.close()
    items = {path: (item_id, locator) for path, item_id, locator in rows}
    assert {KNOWN.device_path, PLAIN.device_path} <= set(items)
    return root / "case", items


def _together(calls: list[Callable[[], object]], seconds: float) -> list[object]:
    """The calls made at the same moment, each in a daemon thread (one that never returns cannot keep the test
    process alive); what each returned or raised, or AssertionError if any is still waiting after ``seconds``."""
    outcomes: list[cf.Future] = [cf.Future() for _ in calls]

    def run(call: Callable[[], object], outcome: cf.Future) -> None:
        try:
            outcome.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test as it is
            outcome.set_exception(exc)

    for call, outcome in zip(calls, outcomes):
        threading.Thread(target=run, args=(call, outcome), daemon=True).start()
    done, waiting = cf.wait(outcomes, timeout=seconds)
    assert not waiting, f"{len(waiting)} of {len(calls)} calls still waiting after {seconds} s"
    return [o.exception() or o.result() for o in outcomes]


def _exhibit(case: Path) -> tuple[str, str]:
    store = CaseStore.open(case, create=False)
    try:
        (exhibit,) = store.exhibits()
        return exhibit.source, exhibit.source_kind
    finally:
        store.close()


def test_the_stored_exhibit_reopens_with_its_layout_and_says_at_once_when_a_password_is_needed(backup_case) -> None:
    case, items = backup_case
    source, kind = _exhibit(case)
    _, locator = items[PLAIN.device_path]
    started = time.monotonic()
    with EvidenceContext() as context:
        with pytest.raises(ReopenError) as refused:
            reopen(stored_spec(source, kind), locator, context)
        assert time.monotonic() - started < 1.0
        assert (refused.value.problem.kind, str(refused.value)) == (ProblemKind.ENCRYPTED, NEEDS_PASSWORD)
        with pytest.raises(ReopenError) as wrong:
            reopen(stored_spec(source, kind, passwords=("not this one",)), locator, context)
        assert wrong.value.problem.kind is ProblemKind.ENCRYPTED and "password does not open it" in str(wrong.value)
        handle = reopen(stored_spec(source, kind, passwords=(PASSWORD,)), locator, context)
        try:
            read = bytearray(handle.size)
            assert handle.readinto(read) == len(PLAIN.data) and bytes(read) == PLAIN.data
        finally:
            handle.close()


def test_the_review_app_says_cannot_be_previewed_at_once_and_a_second_request_does_not_hang(backup_case) -> None:
    case, items = backup_case
    plain, _ = items[PLAIN.device_path]
    known, _ = items[KNOWN.device_path]
    with TestClient(create_app(case, WebConfig())) as client:
        assert login(client, "examiner1").status_code == 303
        assert client.post(f"/api/reveal/{known}", headers={"X-CSRF-Token": csrf_of(client)}).status_code == 200
        answers = _together([partial(client.get, f"/thumb/{item}") for item in (plain, plain, known, known)], AT_ONCE)
        for answer in answers:
            assert answer.status_code == 404
            assert answer.json()["detail"] == f"cannot be previewed: {NEEDS_PASSWORD}"
        assert not (case / "thumbnails" / f"{plain}.failed").exists()  # with a password it may work later


def test_a_worker_failing_unexpectedly_answers_every_waiting_request(tmp_path: Path) -> None:
    from tests.security import failing_renderers

    service = ThumbnailService(tmp_path, workers=2, render=failing_renderers.slow_locator_error)
    task = ThumbnailTask(7, stored_spec(str(tmp_path), "folder"), "file:a.jpg|ioskey:x", "image", 10)
    try:
        outcomes = _together([partial(service.thumbnail, task)] * 2, AT_ONCE * 3)  # the pool's first start included
        for outcome in outcomes:
            assert isinstance(outcome, ThumbnailUnavailable), outcome
            assert str(outcome).startswith("cannot be previewed: internal error: LocatorError")
    finally:
        service.close()


def test_the_report_says_cannot_be_previewed_in_place_of_the_picture(backup_case) -> None:
    case, items = backup_case
    known, _ = items[KNOWN.device_path]
    store = CaseStore.open(case, create=False)
    try:
        content = build_report(store, pictures=PictureStyle())
    finally:
        store.close()
    (entry,) = [e for e in content.items if e.item.item_id == known]
    assert entry.picture.data_uri is None and entry.picture.note == f"cannot be previewed: {NEEDS_PASSWORD}"


def test_a_password_given_in_the_review_app_previews_for_that_session_only_and_is_never_written(backup_case,
                                                                                                tmp_path: Path) -> None:
    built_case, items = backup_case
    case = tmp_path / "case"
    shutil.copytree(built_case, case)
    plain, _ = items[PLAIN.device_path]
    with TestClient(create_app(case, WebConfig())) as mine, TestClient(create_app(case, WebConfig())) as other:
        for client in (mine, other):
            assert login(client, "examiner1").status_code == 303
        page = mine.get(f"/item/{plain}").text
        assert 'id="exhibit-password"' in page and f'src="/thumb/{plain}"' in page
        (exhibit,) = re.findall(r'action="/exhibits/(\d+)/password"', page)
        given = mine.post(f"/exhibits/{exhibit}/password",
                          data={"csrf": csrf_of(mine), "password": PASSWORD, "back": str(plain)}, follow_redirects=False)
        assert given.status_code == 303 and given.headers["location"] == f"/item/{plain}"
        assert 'id="exhibit-password"' not in mine.get(f"/item/{plain}").text
        answer = mine.get(f"/thumb/{plain}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        (case / "thumbnails" / f"{plain}.jpg").unlink()  # the other session must decode it itself
        refused = other.get(f"/thumb/{plain}")
        assert refused.status_code == 404 and refused.json()["detail"] == f"cannot be previewed: {NEEDS_PASSWORD}"
    written = b"".join(p.read_bytes() for p in case.rglob("*") if p.is_file())
    assert PASSWORD.encode() not in written
    store = CaseStore.open(case, create=False)
    try:
        assert [e.detail for e in store.audit.entries() if e.action == "exhibit_password_given"] == [
            {"exhibit": int(exhibit)}]
    finally:
        store.close()
