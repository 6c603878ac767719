"""Issue 18.3: what is derived from known material is treated as known.  The EXIF preview inside a known photo, a
thumbnail-cache entry of a known picture, a copy of a known picture carved out of another file, and a picture whose
PDQ is near a known hash each have a hash of their own; each is a tile, and its picture is sent only after an
explicit, logged reveal by the examiner who asks for it."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from fieldlab.web import WebConfig, create_app
from tests.security.derived_known_case import NEAR, PLAIN, DerivedCase, build_derived_case, derived_items
from tests.web.web_case import csrf_of, login


@pytest.fixture(scope="module")
def built_derived_case(tmp_path_factory: pytest.TempPathFactory) -> DerivedCase:
    return build_derived_case(tmp_path_factory.mktemp("derived"))


@pytest.fixture()
def derived_case(built_derived_case: DerivedCase, tmp_path: Path) -> DerivedCase:
    """A private copy of the case (the evidence is shared: it is only read)."""
    shutil.copytree(built_derived_case.case, tmp_path / "case")
    return replace(built_derived_case, case=tmp_path / "case")


@pytest.fixture()
def client_of(derived_case: DerivedCase) -> Iterator[Callable[[str], TestClient]]:
    opened: list[TestClient] = []

    def make(user: str) -> TestClient:
        client = TestClient(create_app(derived_case.case, WebConfig()))
        client.__enter__()
        opened.append(client)
        assert login(client, user).status_code == 303
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def _sent(case: Path) -> list[tuple]:
    return sqlite3.connect(case / "case.sqlite").execute("SELECT examiner, item_id FROM pictures_sent").fetchall()


def test_each_derived_item_is_refused_without_a_reveal_while_an_ordinary_picture_is_sent(
        derived_case: DerivedCase, client_of) -> None:
    client = client_of("examiner1")
    for what, item in derived_items(derived_case).items():
        answer = client.get(f"/thumb/{item}")
        assert answer.status_code == 403, what
        assert "explicit reveal" in answer.json()["detail"], what
        assert f"/thumb/{item}" not in client.get(f"/item/{item}").text, what
    assert client.get(f"/thumb/{derived_case.ids[PLAIN]}").status_code == 200


def test_the_gallery_shows_derived_items_as_tiles_with_a_reveal_button(derived_case: DerivedCase, client_of) -> None:
    page = client_of("examiner1").get("/gallery").text
    for what, item in derived_items(derived_case).items():
        if f'data-item="{item}"' not in page:  # a copy of a known content is shown under the known tab
            continue
        assert f'src="/thumb/{item}"' not in page, what
        assert f'data-reveal="{item}"' in page, what
    assert f'src="/thumb/{derived_case.ids[PLAIN]}"' in page
    near_tile = page[page.index(f'data-item="{derived_case.ids[NEAR]}"'):]
    assert 'data-known="1"' in near_tile[:400]


def test_a_reveal_sends_the_derived_picture_to_that_examiner_only_and_is_logged(
        derived_case: DerivedCase, client_of) -> None:
    preview = derived_items(derived_case)["EXIF preview of a known photo"]
    examiner, other = client_of("examiner1"), client_of("examiner2")
    revealed = examiner.post(f"/api/reveal/{preview}", headers={"X-CSRF-Token": csrf_of(examiner)})
    assert revealed.status_code == 200
    answer = examiner.get(f"/thumb/{preview}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert other.get(f"/thumb/{preview}").status_code == 403
    db = sqlite3.connect(derived_case.case / "case.sqlite")
    assert ("examiner1", preview, "reveal") in db.execute("SELECT examiner, item_id, how FROM exposure_log").fetchall()
    assert ("examiner1", preview) in _sent(derived_case.case)
    assert ("examiner2", preview) not in _sent(derived_case.case)
