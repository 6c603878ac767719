"""The README's Quick start: the demo script runs end to end with an output folder of the examiner's choosing."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_demo_script_builds_scans_and_reports_every_planted_file(tmp_path: Path) -> None:
    result = subprocess.run([str(REPO / "scripts" / "demo"), str(tmp_path / "demo")], capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "8 known items found of 8 planted" in " ".join(result.stdout.split())
    assert (tmp_path / "demo" / "hits.csv").is_file()
    html = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "Charging table" in html
    assert (tmp_path / "demo" / "report.pdf").read_bytes().startswith(b"%PDF-")
