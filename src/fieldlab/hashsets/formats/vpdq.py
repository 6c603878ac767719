"""Meta's vPDQ hash files: one file per known video, a line per frame ``frame_number,quality,pdq_hex,timestamp``.

A known-video set is a folder of them (``*.txt``); each video's category comes
from ``categories.csv`` in that folder (columns ``file,category``) or from the
examiner's ``--category``.  Files are read line by line with the same bounded
reader as the other text formats; a bad line is reported with its file and
line and skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from fieldlab.hashsets.formats.csvlist import find_columns, quoted, read_lines
from fieldlab.hashsets.records import PDQ_SIZE, ParseProblem, parse_hex_digest

CATEGORIES_FILE = "categories.csv"
MAX_VIDEOS = 1_000_000
MAX_FRAMES_PER_VIDEO = 1_000_000  # a 9-hour video hashed at 30 frames per second


@dataclass
class KnownVideo:
    name: str  # the hash file's name without ``.txt``: printed with every match
    category: str | None
    frames: list[tuple[int, bytes, float | None]] = field(default_factory=list)  # (quality, 32-byte PDQ, seconds)


@dataclass(frozen=True)
class VideoProblem:
    file: str
    line: int
    reason: str

    def as_parse_problem(self) -> ParseProblem:
        return ParseProblem(self.line, f"{quoted(self.file)}: {self.reason}")


def parse_vpdq_folder(folder: Path, category: str | None = None) -> Iterator[KnownVideo | VideoProblem]:
    """Each known video with its frames, in file-name order; problems as they are met."""
    categories, problems = _read_categories(folder)
    yield from problems
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file() and not p.is_symlink())
    for path in files[:MAX_VIDEOS]:
        video = KnownVideo(path.stem, categories.get(path.name, categories.get(path.stem, category)))
        with path.open("rb") as stream:
            for number, raw in enumerate(read_lines(stream), 1):
                line = raw.decode("utf-8", "replace").strip()
                if not line or line.startswith("#"):
                    continue
                parsed = _frame(line)
                if isinstance(parsed, str):
                    yield VideoProblem(path.name, number, parsed)
                elif len(video.frames) >= MAX_FRAMES_PER_VIDEO:
                    yield VideoProblem(path.name, number, f"more than {MAX_FRAMES_PER_VIDEO:,} frames: the rest ignored")
                    break
                else:
                    video.frames.append(parsed)
        if video.frames:
            yield video
        else:
            yield VideoProblem(path.name, 0, "no frame hashes: not a vPDQ hash file")
    if len(files) > MAX_VIDEOS:
        yield VideoProblem(folder.name, 0, f"more than {MAX_VIDEOS:,} hash files: the rest ignored")


def _frame(line: str) -> tuple[int, bytes, float | None] | str:
    parts = line.split(",")
    if len(parts) < 3:
        return f"{quoted(line)} is not frame_number,quality,pdq_hex,timestamp"
    digest = parse_hex_digest(parts[2], PDQ_SIZE)
    if digest is None:
        return f"{quoted(parts[2])} is not a 64-hex-digit PDQ hash"
    try:
        quality = int(parts[1])
    except ValueError:
        return f"quality {quoted(parts[1])} is not a number"
    if not 0 <= quality <= 100:
        return f"quality {quality} is not between 0 and 100"
    try:
        timestamp = float(parts[3]) if len(parts) > 3 and parts[3].strip() else None
    except ValueError:
        return f"timestamp {quoted(parts[3])} is not a number of seconds"
    if timestamp is not None and not 0 <= timestamp < 1e7:  # also refuses nan and inf
        return f"timestamp {timestamp} is out of range"
    return quality, digest, timestamp


def _read_categories(folder: Path) -> tuple[dict[str, str], list[VideoProblem]]:
    path = folder / CATEGORIES_FILE
    if not path.is_file():
        return {}, []
    with path.open("rb") as stream:
        lines = [raw.decode("utf-8", "replace") for raw in read_lines(stream)]
    rows = list(csv.reader(lines))
    header = [name.strip().lower() for name in (rows[0] if rows else [])]
    if "file" not in header or "category" not in find_columns(header):
        return {}, [VideoProblem(CATEGORIES_FILE, 1, "needs the columns file,category")]
    file_column, category_column = header.index("file"), find_columns(header)["category"]
    found, problems = {}, []
    for number, row in enumerate(rows[1:], 2):
        if len(row) <= max(file_column, category_column):
            if any(cell.strip() for cell in row):
                problems.append(VideoProblem(CATEGORIES_FILE, number, "too few columns"))
            continue
        found[row[file_column].strip()] = row[category_column].strip()
    return found, problems
