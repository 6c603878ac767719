"""Every item of every exhibit as one CSV row, counted or not, for the examiner's spreadsheet.

The rows stream from the database (a million items never sit in memory) through ``csv_safe``, so a file the
suspect named ``=HYPERLINK(...)`` is text in the spreadsheet, not a formula.  A counted item carries its category,
basis, how it was matched and the set that matched it under the profile; the rest leave those cells empty.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TextIO

from fieldlab.case.item_rows import ItemRow
from fieldlab.case.store import CaseStore
from fieldlab.hashsets.profiles import Profile
from fieldlab.report.case_items import iter_items
from fieldlab.report.charging import charging_table
from fieldlab.report.csv_safe import write_rows_csv

COLUMNS = [f.name for f in fields(ItemRow)]


def write_items_csv(store: CaseStore, out: TextIO, profile: Profile) -> int:
    counted = {c.item_id: c for c in charging_table(store, profile.name).items}
    return write_rows_csv(iter_items(store, counted), COLUMNS, out)
