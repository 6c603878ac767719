"""An item's flags as the case store keeps them: one comma-separated text, read and written in one place."""

from __future__ import annotations

import pytest

from fieldlab.evidence.item import ItemFlag, parsed_flags, stored_flags


def test_flags_are_stored_sorted_by_value_and_read_back_the_same() -> None:
    flags = {ItemFlag.UNALLOCATED, ItemFlag.CARVED, ItemFlag.DELETED}
    assert stored_flags(flags) == "carved,deleted,unallocated"
    assert parsed_flags(stored_flags(flags)) == frozenset(flags)


def test_no_flags_is_the_empty_text() -> None:
    assert stored_flags(()) == ""
    assert parsed_flags("") == frozenset()


def test_a_flag_appended_by_sql_to_an_empty_text_is_read() -> None:
    assert parsed_flags(",duplicate") == {ItemFlag.DUPLICATE}


def test_a_text_that_is_no_flag_is_refused() -> None:
    with pytest.raises(ValueError, match="'bogus' is not a valid ItemFlag"):
        parsed_flags("deleted,bogus")
