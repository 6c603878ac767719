"""The charging table of a generated two-exhibit case, checked cell by cell against a table derived by hand."""

from __future__ import annotations

from pathlib import Path

from fieldlab.case.store import CaseStore
from fieldlab.report.charging import TOTAL, charging_table
from tests.report.report_case import EXPECTED, ReportCase, md5


def _table(case: Path):  # noqa: ANN202
    store = CaseStore.open(case, create=False)
    try:
        return charging_table(store)
    finally:
        store.close()


def test_the_charging_table_is_exactly_the_one_derived_by_hand(report_case: ReportCase) -> None:
    table = _table(report_case.case)
    found = {(r.scope, r.basis, r.medium, r.category): (r.images, r.copies, r.live, r.deleted_or_carved_only,
                                                          r.thumbnail_only) for r in table.rows}
    assert found == EXPECTED
    assert table.not_indecent == 1  # the picture the examiner overruled
    assert table.categories == ("A", "B", "C", "uncategorised")
    assert table.exhibits == ("EX1-LAPTOP", "EX2-PHONE")


def test_every_counted_copy_is_listed_with_how_it_was_matched(report_case: ReportCase) -> None:
    table = _table(report_case.case)
    assert len(table.items) == sum(copies for (scope, *_), (_, copies, *_) in EXPECTED.items() if scope == TOTAL)
    by_path = {i.path.rsplit("/", 1)[-1]: i for i in table.items}
    assert by_path["new.jpg"].how == f"examiner {report_case.examiner}" and by_path["new.jpg"].basis == "examiner"
    assert by_path["resized.jpg"].basis == "indicative" and by_path["resized.jpg"].distance is not None
    assert by_path["resized.jpg"].how.startswith("pdq distance ")
    assert by_path["clip.mp4"].medium == "movie" and by_path["clip.mp4"].md5 == md5(report_case.movie)
    carved = [i for i in table.items if "carved" in i.flags]
    assert len(carved) == 1 and carved[0].category == "C"
    assert [i.flags for i in table.items if i.path.endswith("_one.jpg")] == [("deleted",)]  # FAT lost its first letter


def test_two_runs_give_the_same_table(report_case: ReportCase) -> None:
    assert _table(report_case.case) == _table(report_case.case)


def test_the_terminal_charging_table_shows_the_total_first_and_never_adds_the_bases(report_case: ReportCase) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    shown = CliRunner().invoke(app, ["charges", str(report_case.case)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    hash_set = lines.index(next(line for line in lines if line.startswith("Hash set:")))
    first_row = next(line for line in lines[hash_set:] if "│" in line)
    assert "All exhibits" in first_row and "1 (3)" in first_row and "3 (3)" in first_row and "2 (3)" in first_row
    assert any(line.startswith("Examiner:") for line in lines) and any(line.startswith("Indicative:") for line in lines)
    assert "1 image(s) an examiner or every matching set called not indecent" in " ".join(shown.output.split())
