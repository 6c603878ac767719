"""What the case and the operations database share in how they are written: the id of an inserted row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult


def inserted_id(result: CursorResult[Any]) -> int:
    """The id of the row an INSERT made.  SQLAlchemy types ``inserted_primary_key`` as optional (it is None only
    for a statement that is no single-row INSERT), so every insert that wants its id asks here."""
    key = result.inserted_primary_key
    if key is None:
        raise TypeError("not a single-row INSERT: no primary key was made")
    return key[0]
