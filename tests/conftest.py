"""Shared fixtures: a private hash-set library per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REALDATA = Path(os.environ.get("FIELDLAB_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))


@pytest.fixture(autouse=True)
def private_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test ever touches the examiner's real hash-set library."""
    home = tmp_path / "fieldlab-home"
    monkeypatch.setenv("FIELDLAB_HOME", str(home))
    return home


def pytest_sessionstart(session: pytest.Session) -> None:
    """Real forensic samples are part of the suite: their absence is a failure, never a silent skip."""
    if not REALDATA.is_dir():
        raise pytest.UsageError(f"real test data not found at {REALDATA}: set FIELDLAB_REALDATA")


# Test modules that run whole scans through worker processes, fuzz a parser, build a whole case end to end or
# observe a loopback swarm: the quick loop (`./scripts/test -m "not slow"`) leaves them out, and the browser and
# PostgreSQL tests.
SLOW_MODULES = (
    "triage/test_scan*.py", "*fuzz*.py", "test_seams_end_to_end.py", "test_demo.py", "ops/test_observer.py",
    "validation/test_validate.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers from where a test lives and what it uses, so no test file carries them by hand."""
    tests = Path(__file__).resolve().parent
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        marks = set()
        if "browser" in fixtures:
            marks.add("browser")
        if "postgres_server" in fixtures or params.get("backend") == "postgresql":
            marks.add("postgres")
        relative = item.path.resolve().relative_to(tests)
        if marks or any(relative.match(pattern) for pattern in SLOW_MODULES):
            marks.add("slow")
        for mark in sorted(marks):
            item.add_marker(mark)


CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/test installs it); never a downloaded browser


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a playwright Browser, imported late so only browser tests load playwright
    """Headless Debian Chromium driven by Playwright, for the web apps' browser tests."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()
