"""The live verdict keeps exact hits and indicative near matches apart."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from fieldlab.triage.live import render_progress
from fieldlab.triage.scan import ScanProgress


def _rendered(progress: ScanProgress) -> str:
    console = Console(width=200, record=True)
    console.print(render_progress(progress))
    return console.export_text()


def test_exact_hits_and_near_matches_are_shown_apart() -> None:
    text = _rendered(ScanProgress("EX1", files_listed=10, walk_complete=True, files_read=10, media=5, media_decoded=3,
                                  hits_by_category=Counter({"A": 1}), near_by_category=Counter({"B": 2})))
    assert "KNOWN MATERIAL: 1 item(s)" in text and "A: 1" in text
    assert "near matches (indicative, to confirm): 2" in text and "B: 2" in text
    assert "media 5 (decoded 3)" in text


def test_no_near_matches_means_no_near_line() -> None:
    text = _rendered(ScanProgress("EX1"))
    assert "no known material so far" in text and "near matches" not in text


def test_at_80_columns_each_statement_is_one_whole_line() -> None:
    progress = ScanProgress("DFTT/8", files_listed=31764, bytes_listed=2_900_000_000, walk_complete=True,
                            files_read=20000, bytes_read=1_700_000_000, media=1538, media_decoded=800, known_good=12,
                            problems=Counter({"damaged": 2, "normal": 3}), hits_by_category=Counter({"A": 1, "B": 2}),
                            near_by_category=Counter({"A": 1}), hash_state="checking", verify_done=5, verify_total=10)
    console = Console(width=80, record=True)
    console.print(render_progress(progress))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert max(map(len, lines)) <= 80
    assert "KNOWN MATERIAL: 3 item(s)  A: 1  B: 2" in lines
    assert "near matches (indicative, to confirm): 1  A: 1" in lines
    assert "problems: 2 damaged · 3 normal   verifying image hash 50%" in lines
