"""Writing a block-hash set out as text (``hashset export --format blocks``) and reading it back (``hashset import``).

UTF-8 text, one record a line, fields separated by tabs::

    #fieldlab-blocks  1
    #set              NAME
    #profile          uk
    #source           SOURCE-NAME  SOURCE-SHA256
    #stats            {"block_size": 4096, "hash": "md5", "min_entropy": 6.0, ...}   (BlockSetStats as JSON)
    file   ID  CATEGORY  SIZE  WHOLE-BLOCKS  KEPT-BLOCKS  NAME            (NAME as a JSON string; IDs from 0)
    block  MD5-HEX  FILE-ID  BLOCK-INDEX                                  (byte offset in the file = 4096 x index)

Every ``file`` line comes before the ``block`` lines; categories are the profile's labels.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

import numpy as np

from fieldlab.hashsets.blocks.build import DEFAULT_MIN_ENTROPY, BlockCollector
from fieldlab.hashsets.blocks.store import (
    BLOCK_SIZE,
    BLOCKS_FORMAT,
    FILE_DTYPE,
    BlockSet,
    BlockSetStats,
    digest_hex,
    install_block_set,
    load_block_sets,
)
from fieldlab.hashsets.library import (
    PROBLEMS_FILE,
    PROBLEMS_KEPT,
    HashSetError,
    HashSetInfo,
    HashSetLibrary,
    ImportReport,
    _sha256_of,
    check_name,
)
from fieldlab.hashsets.profiles import UNCATEGORISED, Profile, load_profile
from fieldlab.hashsets.records import ParseProblem

EXPORT_MAGIC = "#fieldlab-blocks"
EXPORT_VERSION = "1"


def export_block_set(library: HashSetLibrary, name: str, target: Path) -> int:
    """Write set ``name`` in the export format above; the number of blocks written."""
    (block_set,) = load_block_sets(library, [name])
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        return write_block_export(block_set, out)


def write_block_export(block_set: BlockSet, out: TextIO) -> int:
    info, labels = block_set.info, block_set.info.labels
    out.write(f"{EXPORT_MAGIC}\t{EXPORT_VERSION}\n#set\t{info.name}\n#profile\t{info.profile}\n"
              f"#source\t{_one_line(info.source_name)}\t{info.source_sha256}\n"
              f"#stats\t{json.dumps(asdict(block_set.stats))}\n")
    for file_id, (row, name) in enumerate(zip(block_set.files, block_set.names)):
        out.write(f"file\t{file_id}\t{labels[row['code']]}\t{row['size']}\t{row['blocks']}\t{row['kept']}\t"
                  f"{json.dumps(name)}\n")
    order = np.lexsort((block_set.block_indices, block_set.block_files))  # file by file, as the files were read
    for start in range(0, len(order), 100_000):
        rows = order[start:start + 100_000]
        digests = block_set.digests[rows]
        out.writelines(f"block\t{digest_hex(d)}\t{f}\t{i}\n"
                       for d, f, i in zip(digests, block_set.block_files[rows], block_set.block_indices[rows]))
    return len(order)


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def is_block_export(path: Path) -> bool:
    try:
        with open(path, "rb") as head:
            return head.read(len(EXPORT_MAGIC)) == EXPORT_MAGIC.encode()
    except OSError:
        return False


def import_block_export(library: HashSetLibrary, source: Path, name: str, *, replace: bool = False) -> ImportReport:
    """Import a block-hash set exported by ``export_block_set``; the file's own profile and statistics are kept.

    Lines that do not parse, blocks of unknown files and repeated digests are problems (reported with their line
    numbers), never silently dropped.
    """
    check_name(name)
    target = library.folder / name
    if target.exists() and not replace:
        raise HashSetError(f"a hash set named {name!r} exists: choose another --name or pass --replace")
    header, files, names, collector, problems = _parse_export(source)
    if header.get("version") != EXPORT_VERSION:
        raise HashSetError(f"{source}: not a fieldlab block-hash export of version {EXPORT_VERSION}")
    try:
        profile: Profile = load_profile(header.get("profile", "uk"))
        stated = json.loads(header["stats"])
    except (KeyError, ValueError) as exc:
        raise HashSetError(f"{source}: its #profile or #stats header is missing or wrong ({exc})") from None
    if stated.get("block_size") != BLOCK_SIZE or stated.get("hash") != "md5":
        raise HashSetError(f"{source}: blocks of {stated.get('block_size')} bytes hashed with {stated.get('hash')}: "
                           f"only {BLOCK_SIZE}-byte MD5 blocks are supported")
    table = np.zeros(len(files), dtype=FILE_DTYPE)
    per_category: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    for file_id, (raw, size, whole, kept) in enumerate(files):
        label = profile.map(raw)
        if label is None:
            unmapped[raw[:40]] += 1
            label = UNCATEGORISED
        per_category[label] += 1
        table[file_id] = (profile.labels.index(label), size, whole, kept)
    digests = np.frombuffer(bytes(collector.digests), dtype="S16")
    order = np.argsort(digests, kind="stable")
    digests = digests[order]
    first = np.ones(len(digests), dtype=bool)
    first[1:] = digests[1:] != digests[:-1]
    problems += [ParseProblem(0, f"block {digest_hex(d)} listed more than once: the first kept")
                 for d in digests[~first][:PROBLEMS_KEPT]]
    keep = order[first]
    stats = BlockSetStats(
        BLOCK_SIZE, "md5", float(stated.get("min_entropy", DEFAULT_MIN_ENTROPY)), len(files),
        int(table["size"].sum()), int(table["blocks"].sum()), int(stated.get("low_entropy", 0)),
        int(stated.get("common", 0)), int(stated.get("common_digests", 0)), int(table["kept"].sum()),
        int(first.sum()), int(np.count_nonzero(table["blocks"] == 0)),
    )
    info = HashSetInfo(
        name=name, profile=profile.name, labels=profile.labels, format=BLOCKS_FORMAT, source_name=source.name,
        source_sha256=_sha256_of(source), imported_at=time.time(), entries=len(files),
        counts={"blocks": stats.unique, "files": stats.files}, per_category=dict(per_category),
        problems=len(problems), conflicts=0, unmapped_categories=dict(unmapped.most_common(50)),
    )
    block_files = np.frombuffer(collector.block_files.tobytes(), dtype=np.uint32)[keep]
    block_indices = np.frombuffer(collector.block_indices.tobytes(), dtype=np.uint32)[keep]
    install_block_set(library, name, info, stats=stats, digests=digests[first], block_files=block_files,
                      block_indices=block_indices, files=table, names=names, problems=problems)
    return ImportReport(info, tuple(problems[:PROBLEMS_KEPT]), target / PROBLEMS_FILE)


def _parse_export(source: Path) -> tuple[dict[str, str], list[tuple[str, int, int, int]], list[str], BlockCollector,
                                         list[ParseProblem]]:
    header: dict[str, str] = {}
    files: list[tuple[str, int, int, int]] = []
    names: list[str] = []
    collector = BlockCollector(DEFAULT_MIN_ENTROPY)
    problems: list[ParseProblem] = []
    with open(source, encoding="utf-8", errors="replace", newline="\n") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.rstrip("\r\n").split("\t")
            try:
                if number == 1:
                    if fields[0] != EXPORT_MAGIC:
                        raise HashSetError(f"{source} is not a fieldlab block-hash export (no {EXPORT_MAGIC} line)")
                    header["version"] = fields[1] if len(fields) > 1 else ""
                elif fields[0].startswith("#"):
                    header[fields[0][1:]] = fields[1] if len(fields) > 1 else ""
                elif fields[0] == "file" and len(fields) == 7:
                    if int(fields[1]) != len(files):
                        raise ValueError(f"file id {fields[1]} out of order (expected {len(files)})")
                    name = json.loads(fields[6])
                    if not isinstance(name, str):
                        raise ValueError("the name is not a JSON string")
                    size, whole, kept = int(fields[3]), int(fields[4]), int(fields[5])
                    if not 0 <= kept <= whole <= size // BLOCK_SIZE:
                        raise ValueError(f"{whole} whole and {kept} kept blocks do not fit {size} bytes")
                    files.append((fields[2], size, whole, kept))
                    names.append(name)
                elif fields[0] == "block" and len(fields) == 4:
                    digest, file_id, index = bytes.fromhex(fields[1]), int(fields[2]), int(fields[3])
                    if len(digest) != 16:
                        raise ValueError("not an MD5 (32 hex digits)")
                    if not 0 <= file_id < len(files) or not 0 <= index < files[file_id][2]:
                        raise ValueError(f"block {index} of file {file_id}: no such file or block")
                    collector.digests += digest
                    collector.block_files.append(file_id)
                    collector.block_indices.append(index)
                elif fields != [""]:
                    raise ValueError("neither a file nor a block line")
            except ValueError as exc:
                problems.append(ParseProblem(number, str(exc)[:200]))
    return header, files, names, collector, problems
