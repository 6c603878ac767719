"""Issue 18, point 1: guessing passwords is throttled however the name is spelt and however many are sent at once.

The Unicode and per-client rules are checked through the app in this process; the races and the memory of
password hashing against a real server in its own process, with requests sent from threads."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from fieldlab.case.store import CaseStore
from fieldlab.web import accounts
from fieldlab.web.app import WebConfig, create_app
from tests.security.servers import PASSWORD, RunningServer, login, new_case, start_server

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')
MiB = 2**20
VARIANTS = ("  examiner2  ", " examiner2", "examiner2 ", "\texaminer2", "\u00a0examiner2", "\u3000examiner2",
            "Examiner2", "\uff45\uff58\uff41\uff4d\uff49\uff4e\uff45\uff52\uff12")  # the last: full-width letters


@pytest.fixture()
def case(tmp_path: Path) -> Path:
    return new_case(tmp_path / "case")


@pytest.fixture()
def client(case: Path) -> Iterator[TestClient]:
    with TestClient(create_app(case, WebConfig())) as opened:
        yield opened


def _login(client: TestClient, name: str, password: str) -> int:
    token = CSRF_FIELD.search(client.get("/login").text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf": token},
                       follow_redirects=False).status_code


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_spelling_of_a_throttled_name_gets_fresh_tries(client: TestClient, variant: str) -> None:
    for _ in range(5):
        assert _login(client, "examiner2", "wrong password!") == 401
    assert _login(client, variant, PASSWORD) == 429  # the old app let "  examiner2  " in with the right password
    assert _login(client, variant, "wrong password!") == 429


def test_failures_under_different_spellings_count_against_one_name(client: TestClient) -> None:
    for variant in VARIANTS[:5]:
        assert _login(client, variant, "wrong password!") == 401
    assert _login(client, "examiner2", PASSWORD) == 429


def test_a_name_typed_with_spaces_or_compatibility_forms_logs_in_to_its_account(client: TestClient, case: Path) -> None:
    assert _login(client, "\u3000examiner2 ", PASSWORD) == 303
    assert client.get("/api/progress").status_code == 200
    store = CaseStore.open(case, create=False)
    try:
        assert store.audit.entries()[-1].detail["user"] == "examiner2"
    finally:
        store.close()


def test_an_account_cannot_be_added_under_another_spelling_of_an_existing_name(case: Path) -> None:
    store = CaseStore.open(case, create=False)
    try:
        for spelling in ("Examiner2", " examiner2", "\uff45xaminer2"):
            with pytest.raises(accounts.AccountError, match="already a user named 'examiner2'"):
                accounts.add_user(store, spelling, "viewer", password="a long enough password")
    finally:
        store.close()


def test_one_client_guessing_many_names_is_throttled_too(client: TestClient) -> None:
    for number in range(20):
        assert _login(client, f"guess{number}", "wrong password!") == 401
    assert _login(client, "someone-else", "wrong password!") == 429
    assert _login(client, "examiner2", PASSWORD) == 429  # from this client, for a while


def test_a_login_that_waits_too_long_for_the_password_check_is_told_to_retry_and_not_counted(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "HASHING_WAIT_SECONDS", 0.05)
    held = [accounts._hashing.acquire() for _ in range(accounts.HASHING_AT_ONCE)]  # every slot busy
    try:
        for _ in range(6):
            assert _login(client, "examiner2", PASSWORD) == 503
    finally:
        for _ in held:
            accounts._hashing.release()
    assert _login(client, "examiner2", PASSWORD) == 303  # six refusals for load are not six failures


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server([str(new_case(tmp_path / "case"))], tmp_path)
    yield running
    running.stop()


def test_parallel_guesses_for_one_name_get_five_tries_in_all(server: RunningServer) -> None:
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: login(server, "examiner2", "wrong password!").status, range(20)))
    assert statuses.count(401) == 5 and statuses.count(429) == 15, statuses  # the old server: twenty 401s
    assert login(server, "examiner2", PASSWORD).status == 429


def test_parallel_logins_check_few_passwords_at_once(server: RunningServer) -> None:
    login(server, "examiner2", PASSWORD)  # one argon2 check: the baseline includes its 64 MiB
    before = server.peak_rss()
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda n: login(server, f"nobody{n}", "wrong password!").status, range(12)))
    assert statuses == [401] * 12
    grown = server.peak_rss() - before
    assert grown < 256 * MiB, f"{grown / MiB:.0f} MiB"  # argon2 takes 64 MiB a check: two at once, not twelve
