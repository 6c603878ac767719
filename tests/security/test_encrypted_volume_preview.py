"""An item found inside a LUKS or BitLocker volume is previewed in the review app once the examiner gives the
exhibit's password in that session, as an encrypted backup's items are: the case never holds the password, another
session still cannot preview, and without it the refusal comes at once, before the evidence is opened.  A picture
carved from the volume's free space is such an item too: its bytes are read through the decrypted volume."""

from __future__ import annotations

import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import fieldlab
from fieldlab.case.store import CaseStore
from fieldlab.demo import procedural_jpeg
from fieldlab.evidence.context import EvidenceContext
from fieldlab.evidence.image import UnlockOptions
from fieldlab.evidence.reopen import NEEDS_PASSWORD, ReopenError, behind_encryption, exhibit_unlock, reopen, stored_spec
from fieldlab.evidence.sources import SourceSpec
from fieldlab.problems import ProblemKind
from fieldlab.report.document import build_report
from fieldlab.report.pictures import PictureStyle
from fieldlab.validation.disks import PlantedFile, build_disk
from fieldlab.validation.luks import build_luks1_disk
from fieldlab.web import WebConfig, create_app
from fieldlab.web.accounts import add_user
from tests.builders import KnownFile, write_csv_hashset
from tests.web.web_case import PASSWORDS, csrf_of, login

PASSPHRASE = "open sesame, laptop"
PICTURE = PlantedFile("home/alex/Pictures/IMG_0007.JPG", procedural_jpeg(81, 320, 240))  # not in any set
KNOWN = PlantedFile("home/alex/Pictures/IMG_0008.JPG", procedural_jpeg(82, 320, 240))  # counted: in the set
GONE = PlantedFile("home/alex/Pictures/IMG_0009.JPG", procedural_jpeg(83, 320, 240), deleted=True)  # carved, in the set


@pytest.fixture(scope="module")
def luks_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, int]:
    """A case of a GPT laptop whose LUKS1 volume holds two pictures and a deleted one in its free space, scanned with
    the passphrase: the case, the unknown picture's item id and locator, and the known picture's item id."""
    root = tmp_path_factory.mktemp("luks-preview")
    plain = build_disk(root / "plain.img", "none", [("ext4", 8, [PICTURE, KNOWN, GONE])]).path
    disk = build_luks1_disk(root / "evidence" / "laptop.raw", "gpt", plain, PASSPHRASE)
    known = write_csv_hashset(root / "known.csv", [KnownFile("laptop picture", KNOWN.data, "A"),
                                                   KnownFile("deleted laptop picture", GONE.data, "B")])
    fieldlab.import_hashset(known, name="known", home=root / "home")
    fieldlab.scan(disk.path, root / "case", exhibit_ref="LAPTOP", home=root / "home", perceptual=False,
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    store = CaseStore.open(root / "case", create=False)
    try:
        add_user(store, "examiner1", "examiner", password=PASSWORDS["examiner1"], actor="test setup")
        with store.engine.connect() as conn:
            (item_id, locator), = conn.exec_driver_sql(
                "SELECT id, locator FROM items WHERE path LIKE '%IMG_0007.JPG'").fetchall()
            (known_id,), = conn.exec_driver_sql("SELECT id FROM items WHERE path LIKE '%IMG_0008.JPG'").fetchall()
    finally:
        store.close()
    return root / "case", item_id, locator, known_id


def test_an_item_in_a_luks_volume_previews_once_its_password_is_given_for_that_session_only(
        luks_case: tuple[Path, int, str, int], tmp_path: Path) -> None:
    built, item, locator, _ = luks_case
    case = tmp_path / "case"
    shutil.copytree(built, case)
    assert behind_encryption(locator)
    with TestClient(create_app(case, WebConfig())) as mine, TestClient(create_app(case, WebConfig())) as other:
        for client in (mine, other):
            assert login(client, "examiner1").status_code == 303
        refused = mine.get(f"/thumb/{item}")
        assert refused.status_code == 404 and refused.json()["detail"] == f"cannot be previewed: {NEEDS_PASSWORD}"
        page = mine.get(f"/item/{item}").text
        assert 'id="exhibit-password"' in page and "recovery key" in page
        (exhibit,) = re.findall(r'action="/exhibits/(\d+)/password"', page)

        mine.post(f"/exhibits/{exhibit}/password", data={"csrf": csrf_of(mine), "password": "not the passphrase",
                                                         "back": str(item)}, follow_redirects=False)
        wrong = mine.get(f"/thumb/{item}")
        assert wrong.status_code == 404 and "does not unlock it" in wrong.json()["detail"]

        given = mine.post(f"/exhibits/{exhibit}/password",
                          data={"csrf": csrf_of(mine), "password": PASSPHRASE, "back": str(item)},
                          follow_redirects=False)
        assert given.status_code == 303
        assert 'id="exhibit-password"' not in mine.get(f"/item/{item}").text
        answer = mine.get(f"/thumb/{item}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        (case / "thumbnails" / f"{item}.jpg").unlink()  # the other session must open the volume itself
        assert other.get(f"/thumb/{item}").status_code == 404
    written = b"".join(p.read_bytes() for p in case.rglob("*") if p.is_file())
    assert PASSPHRASE.encode() not in written and b"not the passphrase" not in written


def test_without_a_password_an_item_behind_encryption_is_refused_before_the_evidence_is_opened(
        luks_case: tuple[Path, int, str, int], tmp_path: Path) -> None:
    built, _, locator, _ = luks_case
    gone = tmp_path / "nowhere" / "laptop.raw"  # opening it would say "not reachable", not "needs the password"
    with EvidenceContext() as context, pytest.raises(ReopenError) as refused:
        reopen(stored_spec(str(gone), "image"), locator, context)
    assert (refused.value.problem.kind, refused.value.problem.message) == (ProblemKind.ENCRYPTED, NEEDS_PASSWORD)


def test_the_report_draws_the_picture_of_a_counted_item_in_a_luks_volume_with_the_password_given_to_it(
        luks_case: tuple[Path, int, str, int]) -> None:
    case, _, _, item = luks_case
    _assert_drawn_in_the_report_with_the_password_only(case, item)


def _assert_drawn_in_the_report_with_the_password_only(case: Path, item: int) -> None:
    store = CaseStore.open(case, create=False)
    try:
        locked = build_report(store, pictures=PictureStyle())
        opened = build_report(store, pictures=PictureStyle(), passwords=(PASSPHRASE,))
    finally:
        store.close()
    ((without,), (with_password,)) = ([e for e in c.items if e.item.item_id == item] for c in (locked, opened))
    assert without.picture.data_uri is None and without.picture.note == f"cannot be previewed: {NEEDS_PASSWORD}"
    assert with_password.picture.note is None and with_password.picture.data_uri.startswith("data:image/jpeg;base64,")


def _carved(case: Path) -> tuple[int, str, str]:
    """The carved picture's item id and locator, and the exhibit's source."""
    with closing(sqlite3.connect(case / "case.sqlite")) as db:
        (item, locator), = db.execute("SELECT id, locator FROM items WHERE flags LIKE '%carved%'").fetchall()
        (source,), = db.execute("SELECT source FROM exhibits").fetchall()
    return item, locator, source


def _content(spec: SourceSpec, locator: str) -> bytes:
    with EvidenceContext() as context:
        handle = reopen(spec, locator, context)
        try:
            buffer = bytearray(handle.size + 1)
            return bytes(buffer[:handle.readinto(buffer)])
        finally:
            handle.close()


def test_a_picture_carved_inside_a_luks_volume_reopens_with_the_password_only(
        luks_case: tuple[Path, int, str, int]) -> None:
    item, locator, source = _carved(luks_case[0])
    assert locator.startswith("partition:1048576|luks:|carved:") and behind_encryption(locator)
    assert _content(stored_spec(source, "image", passwords=(PASSPHRASE,)), locator) == GONE.data
    for passwords, refusal in (((), NEEDS_PASSWORD), (("not the passphrase",), "does not unlock it")):
        with pytest.raises(ReopenError) as refused:
            _content(stored_spec(source, "image", passwords=passwords), locator)
        assert refused.value.problem.kind == ProblemKind.ENCRYPTED and refusal in refused.value.problem.message


def test_a_picture_carved_inside_a_luks_volume_previews_once_the_password_is_given_and_is_drawn_in_the_report(
        luks_case: tuple[Path, int, str, int], tmp_path: Path) -> None:
    case = tmp_path / "case"
    shutil.copytree(luks_case[0], case)
    item, _, _ = _carved(case)
    with TestClient(create_app(case, WebConfig())) as client:
        assert login(client, "examiner1").status_code == 303
        assert client.get(f"/thumb/{item}").status_code == 403  # a known hit: shown only after a reveal
        assert client.post(f"/api/reveal/{item}", headers={"X-CSRF-Token": csrf_of(client)}).status_code == 200
        refused = client.get(f"/thumb/{item}")
        assert refused.status_code == 404 and refused.json()["detail"] == f"cannot be previewed: {NEEDS_PASSWORD}"
        (exhibit,) = re.findall(r'action="/exhibits/(\d+)/password"', client.get(f"/item/{item}").text)
        client.post(f"/exhibits/{exhibit}/password", data={"csrf": csrf_of(client), "password": PASSPHRASE,
                                                           "back": str(item)}, follow_redirects=False)
        answer = client.get(f"/thumb/{item}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    _assert_drawn_in_the_report_with_the_password_only(case, item)


def test_the_exhibit_password_is_tried_on_a_bitlocker_volume_as_its_password_or_its_recovery_key() -> None:
    """(No BitLocker image at hand opens with libbde here, dfvfs's bdetogo.raw is cut short, so the volume's own
    opening is not exercised: only what the exhibit's password becomes.)"""
    recovery = "123456-234567-345678-456789-567890-678901-789012-890123"
    assert (exhibit_unlock([recovery]).bitlocker_recovery_key, exhibit_unlock([recovery]).bitlocker_password) == (
        recovery, None)
    newest = exhibit_unlock(["bde-TEST", "older guess"])
    assert (newest.bitlocker_password, newest.bitlocker_recovery_key, newest.luks_password, newest.archive_passwords) == (
        "bde-TEST", None, "bde-TEST", ("bde-TEST", "older guess"))
    assert exhibit_unlock([]) == UnlockOptions()
