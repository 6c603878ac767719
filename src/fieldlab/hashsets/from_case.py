"""Hash sets grown from a case: what examiners categorised becomes known material for the next case.

Pictures and other files give MD5, SHA-1 and (pictures) PDQ with the
examiner's category; videos also give a known-video set from the frame
hashes the scan kept.  Both are written in the library's own import formats
(CSV; a folder of vPDQ hash files with ``categories.csv``) and imported
through the ordinary path, so they carry the same provenance and checks as
any other set.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from fieldlab.case.decisions import decided_items
from fieldlab.case.store import CaseStore
from fieldlab.hashsets.library import HashSetError, HashSetLibrary, ImportReport, check_name
from fieldlab.hashsets.videos import MIN_QUALITY


def build_from_case(
    store: CaseStore, library: HashSetLibrary, name: str, *, profile: str = "uk", replace: bool = False
) -> list[ImportReport]:
    """Import ``name`` (files and pictures) and, if any video was categorised, ``name``-videos."""
    check_name(name)  # before it names a file in the work folder
    chosen = [d for d in decided_items(store) if d.profile == profile]
    if not chosen:
        raise HashSetError(f"no item of this case has been categorised under profile {profile!r}")
    reports = []
    with tempfile.TemporaryDirectory(prefix="fieldlab-from-case-") as work:
        work_dir = Path(work)
        files = [d for d in chosen if d.md5 or d.sha1]
        if files:
            table = work_dir / f"{name}.csv"
            with open(table, "w", newline="", encoding="ascii") as out:
                writer = csv.writer(out)
                writer.writerow(["md5", "sha1", "pdq", "category"])
                for d in files:
                    usable_pdq = d.pdq if d.pdq and (d.pdq_quality or 0) >= MIN_QUALITY else ""
                    writer.writerow([d.md5 or "", d.sha1 or "", usable_pdq, d.category])
            reports.append(library.import_file(table, name=name, fmt="csv", profile=profile, replace=replace, known_good=False))
        videos = [d for d in chosen if d.family == "video"]
        frames = store.video_frames([d.item_id for d in videos]) if videos else {}
        videos = [d for d in videos if frames.get(d.item_id)]
        if videos:
            folder = work_dir / f"{name}-videos"
            folder.mkdir()
            with open(folder / "categories.csv", "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["file", "category"])
                for d in videos:
                    writer.writerow([f"item-{d.item_id}.txt", d.category])
            for d in videos:
                (folder / f"item-{d.item_id}.txt").write_text(
                    "".join(f"{f.frame},{f.quality},{f.pdq},{f.timestamp:.3f}\n" for f in frames[d.item_id]),
                    encoding="ascii",
                )
            reports.append(library.import_file(folder, name=f"{name}-videos", fmt="vpdq", profile=profile, replace=replace,
                                               known_good=False))
    return reports
