"""The review-app tests' generated case (scanned once per session), for the tests that need real items."""

from tests.web.conftest import built_case, make_client, web_case  # noqa: F401 - fixtures, found by name
