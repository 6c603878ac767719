"""Where fieldlab may write, and how: never into or beside the evidence, and every output whole or not at all.

One rule for every writer (the case folder a scan creates, reports, exports, warrant drafts): a folder source
protects everything inside it; an image, device or single file protects the folder that holds it (a block device
under /dev protects nothing else).  Outputs go to ``<name>.partial`` first and are renamed into place, so a crash
never leaves half a report that looks whole.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from sqlalchemy import select

from fieldlab.case.schema import exhibits
from fieldlab.case.store import CaseError, CaseStore


def refuse_near_evidence(target: Path, source: str, kind: str, what: str) -> None:
    """CaseError when ``target`` lies inside a folder source, or beside an image or file source."""
    evidence = Path(source).resolve()
    protected = evidence if kind == "folder" else evidence.parent
    if str(protected).startswith("/dev"):
        return
    if Path(target).resolve().is_relative_to(protected):
        where = "inside" if kind == "folder" else "beside"
        raise CaseError(f"{what} {target} is {where} the evidence {source}: nothing may be written there")


def refuse_case_evidence(store: CaseStore, target: Path, what: str) -> None:
    """The same rule for every exhibit of a case: an output of the case never lands near any of its evidence."""
    with store.engine.connect() as conn:
        sources = conn.execute(select(exhibits.c.source, exhibits.c.source_kind).order_by(exhibits.c.id)).all()
    for source, kind in sources:
        refuse_near_evidence(target, source, kind, what)


@contextlib.contextmanager
def whole_file(output: Path) -> Iterator[Path]:
    """The path to write to; renamed to ``output`` when the block ends without error, removed otherwise."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        yield partial
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def write_whole(output: Path, data: bytes) -> None:
    with whole_file(output) as partial:
        partial.write_bytes(data)
