"""The generated two-exhibit case every report test reads (see ``report_case.py``), built once per session."""

from __future__ import annotations

import pytest

from tests.report.report_case import ReportCase, build_report_case


@pytest.fixture(scope="session")
def report_case(tmp_path_factory: pytest.TempPathFactory) -> ReportCase:
    root = tmp_path_factory.mktemp("report")
    return build_report_case(root, root / "home")
