"""Issue 18, point 2: an anonymous request cannot make either server hold or write a large body.

Each test runs the real server in its own process and sends 128 MiB (enough to show a limit holds; the issue's
gigabytes only scale the damage).  What is measured is the server's: its peak resident memory (VmHWM) and the
bytes it held in its own TMPDIR while the body was being sent."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from tests.security.servers import (
    OPS_PASSWORD,
    PASSWORD,
    RunningServer,
    TempWatcher,
    cookie_header,
    login,
    new_case,
    new_ops_dir,
    start_server,
    zeros,
)

BODY = 128 * 2**20
MiB = 2**20


@pytest.fixture(scope="module")
def review_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("review")
    server = start_server([str(new_case(root / "case"))], root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("ops")
    server = start_server(["--ops-dir", str(new_ops_dir(root / "ops"))], root)
    yield server
    server.stop()


def _json_string(total: int) -> Iterator[bytes]:
    """A JSON document of ``total`` bytes: one long string, which a server that parses first holds twice."""
    yield b'{"items": [1], "category": "'
    yield from zeros(total)
    yield b'"}'


def _multipart(total: int, boundary: str = "b0undary") -> Iterator[bytes]:
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n"
           "Content-Type: text/csv\r\n\r\n").encode()
    yield from zeros(total)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_an_anonymous_json_body_is_refused_without_being_held_in_memory(review_server) -> None:
    before = review_server.peak_rss()
    answer = review_server.request("POST", "/api/categorise", {"Content-Type": "application/json"},
                                   _json_string(BODY), chunked=True)
    assert answer.status == 401  # asked to log in before a byte of the body is read
    assert review_server.peak_rss() - before < 16 * MiB  # a server that parsed first peaked at twice the body


def test_a_body_declared_too_large_is_refused_before_it_is_sent(review_server) -> None:
    anonymous = review_server.request("POST", "/api/categorise", {"Content-Type": "application/json",
                                                                  "Content-Length": str(2**30)}, b"", timeout=10)
    assert anonymous.status == 401  # answered at once: the server did not wait for a gigabyte
    cookie = cookie_header(login(review_server, "examiner2", PASSWORD).cookies)
    signed_in = review_server.request("POST", "/api/categorise", {"Content-Type": "application/json", "Cookie": cookie,
                                                                  "Content-Length": str(2**30)}, b"", timeout=10)
    assert signed_in.status == 413


def test_an_anonymous_multipart_login_writes_nothing_to_the_temporary_folder(review_server) -> None:
    before = review_server.peak_rss()
    with TempWatcher(review_server) as spooled:
        answer = review_server.request("POST", "/login", {"Content-Type": "multipart/form-data; boundary=b0undary"},
                                       _multipart(BODY), chunked=True)
    assert answer.status == 413
    assert spooled.most < MiB  # the old server spooled the whole body to TMPDIR
    assert review_server.peak_rss() - before < 16 * MiB


def test_the_security_headers_are_on_a_refusal_too(review_server) -> None:
    answer = review_server.request("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded",
                                                      "Content-Length": str(MiB)}, b"", timeout=10)
    assert answer.status == 413
    assert answer.headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in \
        answer.headers["content-security-policy"]


def test_an_anonymous_upload_to_the_operations_server_is_refused_before_it_is_read(ops_server) -> None:
    with TempWatcher(ops_server) as spooled:
        answer = ops_server.request("POST", "/import", {"Content-Type": "multipart/form-data; boundary=b0undary"},
                                    _multipart(BODY), chunked=True)
    assert answer.status == 401
    assert spooled.most < MiB  # the old server wrote the upload to TMPDIR, then answered 401


def test_an_upload_declared_over_the_import_limit_is_refused_at_once_even_signed_in(ops_server) -> None:
    signed_in = login(ops_server, "intel1", OPS_PASSWORD)
    assert signed_in.status == 303
    answer = ops_server.request("POST", "/import", {
        "Content-Type": "multipart/form-data; boundary=b0undary", "Content-Length": str(600 * MiB),
        "Cookie": cookie_header(signed_in.cookies)}, b"", timeout=10)
    assert answer.status == 413  # the old server read 600 MiB first, then compared


def test_a_signed_in_officer_still_imports_through_the_form(ops_server) -> None:
    signed_in = login(ops_server, "intel1", OPS_PASSWORD)
    cookie = cookie_header(signed_in.cookies)
    page = ops_server.request("GET", "/import", {"Cookie": cookie})
    token = page.body.split(b'name="csrf-token" content="')[1].split(b'"')[0].decode()
    rows = "timestamp_utc,ip,port,network,client_guid,file_hash,file_name,file_size\n" \
           "2024-05-01T13:45:00Z,203.0.113.20,6346,gnutella,GUID1,d41d8cd98f00b204e9800998ecf8427e,a.jpg,1\n"
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + token.encode() +
            b"\r\n" + b"".join(_multipart(0)).replace(b"\r\n--b0undary--\r\n", b"") + rows.encode() +
            b"\r\n--b0undary--\r\n")
    answer = ops_server.request("POST", "/import", {"Content-Type": "multipart/form-data; boundary=b0undary",
                                                    "Cookie": cookie}, body)
    assert answer.status == 303 and answer.headers["location"].startswith("/imports/"), answer.body[:300]


def test_a_signed_in_examiner_categorises_within_the_limit(review_server) -> None:
    signed_in = login(review_server, "examiner2", PASSWORD)
    cookie = cookie_header(signed_in.cookies)
    token = review_server.request("GET", "/settings", {"Cookie": cookie}).body.split(
        b'name="csrf-token" content="')[1].split(b'"')[0].decode()
    body = json.dumps({"items": list(range(1, 10_001)), "category": "A"}).encode()  # the most one request may name
    answer = review_server.request("POST", "/api/categorise", {"Content-Type": "application/json", "Cookie": cookie,
                                                               "X-CSRF-Token": token}, body)
    # the case is empty: an answer naming the items shows the whole body was accepted, parsed and checked
    assert answer.status == 404 and b"no item with id 1, 2, 3" in answer.body, answer.body[:300]
