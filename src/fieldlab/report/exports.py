"""Evidence out: a case written as VICS, CASE/UCO, DFXML or a CSV of every item, and the export audit-logged.

The file is written beside its final name and renamed into place, so a failed export never leaves half a file
under the name an examiner would hand on.  Its name is the one the examiner chose, never one made from evidence.
Each export appends ``export_written`` to the case's audit trail with the format, profile, file name, the SHA-256
of the bytes on disk and how many items it holds, so a copy handed to the CPS can be checked against the case.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fieldlab.case.outputs import refuse_case_evidence, whole_file
from fieldlab.case.store import CaseStore
from fieldlab.errors import OptionError
from fieldlab.hashsets.profiles import load_profile
from fieldlab.report.case_uco import write_case_uco
from fieldlab.report.dfxml import write_dfxml
from fieldlab.report.items_csv import write_items_csv
from fieldlab.report.vics import write_vics

EXPORT_FORMATS = ("vics", "case-uco", "dfxml", "items-csv")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class ExportResult:
    format: str
    profile: str
    output: Path
    sha256: str
    items: int  # VICS: copies listed (MediaFiles); CASE/UCO: counted copies; DFXML and CSV: every item


def export_case(store: CaseStore, fmt: str, output: Path, *, profile: str = "uk", mapping_file: Path | None = None,
                all_media: bool = False) -> ExportResult:
    """Write the case as ``fmt`` (one of EXPORT_FORMATS) to ``output``; ``mapping_file`` is the category mapping
    given to ``hashset import --mapping`` (VICS numbers for UK categories); ``all_media`` adds every other picture
    and video to a VICS export."""
    if fmt not in EXPORT_FORMATS:
        raise OptionError(f"unknown export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    chosen = load_profile(profile, mapping_file)
    output = Path(output)
    refuse_case_evidence(store.exhibits(), output, "the export")
    with whole_file(output) as partial:
        if fmt == "dfxml":
            with open(partial, "wb") as out:
                count = write_dfxml(store, out, chosen)
        else:
            with open(partial, "w", encoding="utf-8", newline="") as out:
                if fmt == "vics":
                    count = write_vics(store, out, chosen, all_media=all_media)
                elif fmt == "case-uco":
                    count = write_case_uco(store, out, chosen)
                else:
                    count = write_items_csv(store, out, chosen)
    digest = _sha256(output)
    detail = {"format": fmt, "profile": chosen.name, "output": output.name, "sha256": digest, "items": count}
    if mapping_file is not None:
        detail["mapping"] = Path(mapping_file).name
    if all_media:
        detail["all_media"] = True
    store.audit.append("export_written", detail)
    return ExportResult(fmt, chosen.name, output, digest, count)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
