"""What every way of opening a case checks before reading it: that the folder holds a case database, and that its
tables have every column this fieldlab reads.

``CaseStore.open`` (SQLAlchemy) and ``ReadOnlyCase.open`` (sqlite3) both ask here, so a folder that is no case or a
case made by an earlier fieldlab is refused in the same words whichever opened it.  No SQLAlchemy: the quick path
passes the columns the generated ``read_sql.TABLE_COLUMNS`` lists, the store those of ``schema.metadata``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Collection, Mapping, Sequence

from fieldlab.errors import CaseError

DATABASE_FILE = "case.sqlite"


def existing_database(case_dir: Path) -> Path:
    """The case's database file; a CaseError when the folder holds none."""
    path = case_dir / DATABASE_FILE
    if not path.exists():
        raise CaseError(f"{case_dir} is not a fieldlab case (no {DATABASE_FILE})")
    return path


def missing_columns(expected: Mapping[str, Sequence[str]], found: Mapping[str, Collection[str]]) -> list[str]:
    """``table.column`` of every expected column a table in ``found`` lacks, in ``expected``'s order.  A table
    not in ``found`` at all is not counted: opening a case adds whole tables (``create_all``), never columns."""
    return [f"{table}.{column}" for table, columns in expected.items() if table in found
            for column in columns if column not in found[table]]


def refuse_older_layout(case_dir: Path, missing: Sequence[str]) -> None:
    """A case made by an earlier fieldlab lacks columns this one reads or writes: say so, rather than fail later."""
    if missing:
        raise CaseError(f"{case_dir} was made by an earlier fieldlab (it lacks {', '.join(missing[:5])}): "
                        "scan into a new case folder; the old one stays readable with the version that made it")
