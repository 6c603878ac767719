"""Meta's vPDQ hash files: one file per known video, a line per frame ``frame_number,quality,pdq_hex,timestamp``.

A known-video set is a folder of them (``*.txt``); each video's category comes
from ``categories.csv`` in that folder or from the examiner's ``--category``.
``categories.csv`` is read like any CSV hash set's header: comma, semicolon or
tab, a BOM, any case; its file column may be ``file``, ``file_name``,
``filename``, ``name``, ``video`` or ``path`` and name the hash file
(``clip.txt``) or the video it was made from (``clip.mp4``, any folder).
Files are read line by line with the same bounded reader as the other text
formats; a bad line is reported with its file and line and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterator

from fieldlab.hashsets.formats.csvlist import csv_rows, find_columns, quoted, read_lines, sniff_delimiter, split_header
from fieldlab.hashsets.records import PDQ_SIZE, ParseProblem, parse_hex_digest

CATEGORIES_FILE = "categories.csv"
_FILE_COLUMNS = ("file", "filename", "name", "video", "videoname", "path", "filepath", "hashfile")
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
        video = KnownVideo(path.stem, categories.get(path.stem, categories.get(_video_stem(path.stem), category)))
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
    """Category by video (the hash file's or the video's name without its extension), and the rows not understood."""
    path = folder / CATEGORIES_FILE
    if not path.is_file():
        return {}, []
    with path.open("rb") as stream:
        lines = (raw.decode("utf-8", "replace") for raw in read_lines(stream))
        header_line, header = next(((n, text) for n, text in enumerate(lines, 1) if text.strip()), (0, ""))
        names = split_header(header)
        keys = [re.sub(r"[^a-z0-9]", "", name.lower()) for name in names]
        file_column = next((keys.index(n) for n in _FILE_COLUMNS if n in keys), None)
        category_column = find_columns(names).get("category")
        if file_column is None or category_column is None:
            return {}, [VideoProblem(CATEGORIES_FILE, header_line, "needs a file (or file_name) and a category column")]
        found: dict[str, str] = {}
        problems: list[VideoProblem] = []
        for entry in csv_rows(lines, header_line, sniff_delimiter(header)):
            if isinstance(entry, tuple) and len(found) >= MAX_VIDEOS:
                problems.append(VideoProblem(CATEGORIES_FILE, entry[0], f"more than {MAX_VIDEOS:,} rows: the rest ignored"))
                break
            if not isinstance(entry, tuple):
                problems.append(VideoProblem(CATEGORIES_FILE, entry.line, entry.reason))
            elif len(row := entry[1]) <= max(file_column, category_column):
                problems.append(VideoProblem(CATEGORIES_FILE, entry[0], "too few columns"))
            elif row[category_column].strip():  # an empty category leaves the video to --category
                found[_video_stem(row[file_column])] = row[category_column].strip()
    return found, problems


def _video_stem(listed: str) -> str:
    """``clip`` for ``clip.txt``, ``clip.mp4`` or ``C:\\cases\\clip.mp4``: hash files are named after their video."""
    name = PureWindowsPath(PurePosixPath(listed.strip()).name).name
    return name.rsplit(".", 1)[0] if "." in name.strip(".") else name
