"""The hash-set library: imported sets, compiled, with their provenance, in one folder per examiner or team.

The folder is ``$FIELDLAB_HOME/hashsets`` (default: the per-user data folder).
Each set is compiled once at import into its own sub-folder and replaced
atomically, so a scan never sees a half-written set.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import re
import shutil
import time
from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fieldlab.errors import HashSetError
from fieldlab.hashsets.compiled import (
    KINDS,
    PHOTODNA_FILE,
    DigestColumn,
    DigestColumnBuilder,
    load_column,
    save_column,
    save_records,
)
from fieldlab.hashsets.formats import detect_format, parse_hash_file
from fieldlab.hashsets.formats.vpdq import VideoProblem, parse_vpdq_folder
from fieldlab.hashsets.near import PdqIndex, build_index, index_file
from fieldlab.hashsets.profiles import UNCATEGORISED, Profile, load_profile
from fieldlab.hashsets.records import HashRecord, ParseProblem
from fieldlab.hashsets.videos import MIN_QUALITY, KnownVideos, VideoColumnBuilder

KNOWN_GOOD_FORMATS = frozenset({"nsrl-rds", "nsrl-txt"})
META_FILE = "meta.json"
TRUST_FILE = "trust.json"
PROBLEMS_FILE = "problems.txt"
PROBLEMS_KEPT = 1000  # in memory and in the import report; all are written to problems.txt up to the cap below
PROBLEMS_WRITTEN = 1_000_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class HashSetInfo:
    name: str
    profile: str
    labels: tuple[str, ...]
    format: str
    source_name: str
    source_sha256: str
    imported_at: float
    entries: int  # records imported (one known file each)
    counts: dict[str, int]  # unique digests per kind
    per_category: dict[str, int]
    problems: int
    conflicts: int  # digests the source itself lists under different categories
    unmapped_categories: dict[str, int] = field(default_factory=dict)
    known_good: bool = False  # NSRL and the like: a match means "ordinary file", never a hit
    updates: list[dict] = field(default_factory=list)  # {"source_name", "source_sha256", "imported_at", "entries"}

    @property
    def version(self) -> str:
        """Which set, from which source file, with how many updates applied: printed with every hit."""
        suffix = f"+{len(self.updates)}:{self.updates[-1]['source_sha256'][:12]}" if self.updates else ""
        return f"{self.name}@{self.source_sha256[:12]}{suffix}"


@dataclass(frozen=True)
class ImportReport:
    info: HashSetInfo
    problems: tuple[ParseProblem, ...]  # the first PROBLEMS_KEPT, with line numbers
    problems_file: Path


@dataclass(frozen=True)
class LoadedSet:
    info: HashSetInfo
    columns: dict[str, DigestColumn]
    trust_rank: int = 0  # 0 is the most trusted set: its category decides when sets disagree
    pdq_index: PdqIndex | None = None  # near-match tables over ``columns["pdq"]``
    videos: KnownVideos | None = None  # known videos, matched by vPDQ


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise HashSetError(f"hash set name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")


def default_home() -> Path:
    configured = os.environ.get("FIELDLAB_HOME")
    if configured:
        return Path(configured)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "fieldlab"


class HashSetLibrary:
    def __init__(self, home: Path | None = None) -> None:
        self.home = Path(home) if home else default_home()
        self.folder = self.home / "hashsets"

    def import_file(
        self,
        source: Path,
        *,
        name: str | None = None,
        fmt: str = "auto",
        profile: str = "uk",
        mapping_file: Path | None = None,
        replace: bool = False,
        known_good: bool | None = None,
        category: str | None = None,
    ) -> ImportReport:
        """Compile ``source`` into the library; NSRL formats are known-good unless ``known_good`` says otherwise.

        ``source`` is a file, or for ``vpdq`` a folder of vPDQ hash files; ``category`` is the raw category of
        every record (or video) the source leaves uncategorised: plain hash lists carry none.
        """
        source = Path(source)
        folder_format = fmt == "vpdq" or (fmt == "auto" and source.is_dir())
        if not (source.is_dir() if folder_format else source.is_file()):
            raise HashSetError(f"{source} is not a {'folder of vPDQ hash files' if folder_format else 'file'}")
        name = _name_from_file(source) if name is None else name
        check_name(name)
        target = self.folder / name
        if target.exists() and not replace:
            raise HashSetError(f"a hash set named {name!r} exists: choose another --name or pass --replace")
        if fmt == "blocks" or (fmt == "auto" and not folder_format and _is_block_export(source)):
            from fieldlab.hashsets.blocks.exchange import import_block_export

            return import_block_export(self, source, name, replace=replace)
        chosen = load_profile(profile, mapping_file)
        resolved_format = "vpdq" if folder_format else detect_format(source) if fmt == "auto" else fmt

        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".importing-{name}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            if known_good is None:
                known_good = resolved_format in KNOWN_GOOD_FORMATS
            if resolved_format == "vpdq":
                info, problems = _compile_videos(source, name, chosen, staging, known_good, category)
            else:
                info, problems = _compile(source, name, resolved_format, chosen, staging, known_good, category)
            self._install(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return ImportReport(info, problems, target / PROBLEMS_FILE)

    def _install(self, staging: Path, target: Path) -> None:
        """Swap a compiled set into place so that, whatever happens, the old or the new set is complete."""
        retired = self.folder / f".retired-{target.name}-{os.getpid()}"
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)

    def list(self) -> list[HashSetInfo]:
        if not self.folder.is_dir():
            return []
        found = []
        for child in sorted(self.folder.iterdir()):
            meta = child / META_FILE
            if child.name.startswith(".") or not meta.is_file():
                continue
            found.append(_read_info(meta))
        return found

    def trust_order(self) -> builtins.list[str]:
        """Set names, most trusted first: the examiner's order (``hashset trust``), then the rest by import date."""
        try:
            chosen = json.loads((self.folder / TRUST_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            chosen = []
        known = sorted(self.list(), key=lambda info: info.imported_at)
        names = [info.name for info in known]
        return [n for n in chosen if n in names] + [n for n in names if n not in chosen]

    def set_trust_order(self, names: builtins.list[str]) -> None:
        known = {info.name for info in self.list()}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise HashSetError(f"no hash set named {', '.join(unknown)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / TRUST_FILE).write_text(json.dumps(names), encoding="utf-8")

    def remove(self, name: str) -> None:
        target = self.folder / name
        if not _NAME.match(name) or not (target / META_FILE).is_file():
            raise HashSetError(f"no hash set named {name!r}")
        shutil.rmtree(target)

    def load(self, names: builtins.list[str] | None = None) -> builtins.list[LoadedSet]:
        """The named sets (all when ``names`` is empty), opened memory-mapped."""
        available = {info.name: info for info in self.list()}
        wanted = names or sorted(n for n, info in available.items() if info.format != "blocks")
        missing = [n for n in wanted if n not in available]
        if missing:
            raise HashSetError(
                f"no hash set named {', '.join(missing)} in {self.folder}; "
                f"known sets: {', '.join(sorted(available)) or 'none (import one with: fieldlab hashset import FILE)'}"
            )
        if blocks := [n for n in wanted if available[n].format == "blocks"]:
            raise HashSetError(f"{', '.join(blocks)}: a block-hash set is for fieldlab prescan (and export with "
                               f"--format blocks), not for matching files")
        loaded = []
        for rank, n in enumerate(n for n in self.trust_order() if n in wanted):
            columns = {kind: col for kind in KINDS if (col := load_column(self.folder / n, kind)) is not None}
            try:
                videos = KnownVideos.load(self.folder / n)
            except ValueError as exc:
                raise HashSetError(str(exc)) from None
            loaded.append(LoadedSet(available[n], columns, rank, _load_pdq_index(self.folder / n, columns), videos))
        return loaded


def _load_pdq_index(folder: Path, columns: dict[str, DigestColumn]) -> PdqIndex | None:
    if "pdq" not in columns:
        return None
    if not index_file(folder, "pdq").is_file():
        raise HashSetError(f"hash set {folder.name} has PDQ hashes but no near-match index: import it again")
    try:
        return PdqIndex.load(folder, columns["pdq"].digests)
    except ValueError as exc:
        raise HashSetError(str(exc)) from None


def _is_block_export(source: Path) -> bool:
    from fieldlab.hashsets.blocks.exchange import is_block_export

    return is_block_export(source)


def _name_from_file(source: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", source.stem).strip("._-")
    return (stem or "hashset")[:100]


def _compile(
    source: Path, name: str, fmt: str, profile: Profile, folder: Path, known_good: bool, category: str | None = None
) -> tuple[HashSetInfo, tuple[ParseProblem, ...]]:
    builders = {kind: DigestColumnBuilder(kind) for kind in KINDS}
    record_codes = array("B")
    seen: dict[str | None, str | None] = {}
    per_category: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    kept: list[ParseProblem] = []
    problem_count = 0
    entries = 0
    with (
        open(folder / PROBLEMS_FILE, "w", encoding="utf-8") as problems_out,
        open(folder / PHOTODNA_FILE, "w", encoding="ascii") as photodna_out,
    ):
        for record in parse_hash_file(source, fmt):
            if isinstance(record, ParseProblem):
                problem_count += 1
                if len(kept) < PROBLEMS_KEPT:
                    kept.append(record)
                if problem_count <= PROBLEMS_WRITTEN:
                    problems_out.write(f"line {record.line}: {record.reason}\n")
                continue
            if record.category is None and category is not None:
                record.category = category
            label = _label_for(record, profile, unmapped, seen)
            code = profile.labels.index(label)
            added = False
            for kind in KINDS:
                digest = getattr(record, kind)
                if digest is not None:
                    builders[kind].add(digest, code, entries)
                    added = True
            if added:
                if record.photodna:
                    photodna_out.write(f"{entries}\t{record.photodna}\n")
                entries += 1
                record_codes.append(code)
                per_category[label] += 1
        if problem_count > PROBLEMS_WRITTEN:
            problems_out.write(f"... and {problem_count - PROBLEMS_WRITTEN} more problems\n")

    if (folder / PHOTODNA_FILE).stat().st_size == 0:
        (folder / PHOTODNA_FILE).unlink()
    built = {kind: builder.build() for kind, builder in builders.items() if len(builder)}
    for kind, column in built.items():
        save_column(folder, kind, column.digests, codes=column.codes)
    if "pdq" in built:
        build_index(folder, built["pdq"].digests)
    save_records(folder, entries, np.frombuffer(record_codes.tobytes(), dtype=np.uint8), columns=built)
    counts = {kind: len(column.digests) for kind, column in built.items()}
    conflicts = sum(column.conflicts for column in built.values())
    info = HashSetInfo(
        name=name,
        profile=profile.name,
        labels=profile.labels,
        format=fmt,
        source_name=source.name,
        source_sha256=_sha256_of(source),
        imported_at=time.time(),
        entries=entries,
        counts=counts,
        per_category=dict(per_category),
        problems=problem_count,
        conflicts=conflicts,
        unmapped_categories=dict(unmapped.most_common(50)),
        known_good=known_good,
    )
    (folder / META_FILE).write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
    return info, tuple(kept)


def _compile_videos(
    source: Path, name: str, profile: Profile, folder: Path, known_good: bool, category: str | None
) -> tuple[HashSetInfo, tuple[ParseProblem, ...]]:
    builder = VideoColumnBuilder()
    per_category: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    seen: dict[str | None, str | None] = {}
    problems: list[ParseProblem] = []
    problem_count = 0
    with open(folder / PROBLEMS_FILE, "w", encoding="utf-8") as problems_out:
        for entry in parse_vpdq_folder(source, category):
            if isinstance(entry, VideoProblem):
                problem = entry.as_parse_problem()
            else:
                label = _label_for(HashRecord(0, category=entry.category), profile, unmapped, seen)
                if builder.add(entry, profile.labels.index(label)):
                    per_category[label] += 1
                    continue
                problem = ParseProblem(0, f"{entry.name!r}: no frame of quality {MIN_QUALITY} or more: cannot be matched")
            problem_count += 1
            if len(problems) < PROBLEMS_KEPT:
                problems.append(problem)
            if problem_count <= PROBLEMS_WRITTEN:
                problems_out.write(f"line {problem.line}: {problem.reason}\n")
    if not len(builder):
        raise HashSetError(f"{source} holds no usable vPDQ hash file (*.txt with frame_number,quality,pdq_hex,timestamp)")
    frames = builder.save(folder)
    info = HashSetInfo(
        name=name, profile=profile.name, labels=profile.labels, format="vpdq", source_name=source.name,
        source_sha256=_sha256_of_folder(source), imported_at=time.time(), entries=len(builder),
        counts={"videos": len(builder), "video_frames": frames}, per_category=dict(per_category),
        problems=problem_count, conflicts=0, unmapped_categories=dict(unmapped.most_common(50)), known_good=known_good,
    )
    (folder / META_FILE).write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
    return info, tuple(problems)


def _sha256_of_folder(folder: Path) -> str:
    """One digest for a folder set: each hash file's name and content digest, in name order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink()):
        digest.update(path.name.encode("utf-8", "surrogateescape") + b"\0" + _sha256_of(path).encode() + b"\n")
    return digest.hexdigest()


def _label_for(record: HashRecord, profile: Profile, unmapped: Counter[str], seen: dict[str | None, str | None]) -> str:
    """The record's label; ``seen`` remembers each raw value, as sets hold millions of records but few values."""
    raw = record.category
    try:
        label = seen[raw]
    except KeyError:
        label = profile.map(raw)
        if len(seen) < 10_000:  # bounded: a hostile set could hold millions of distinct values
            seen[raw] = label
    if label is None:
        raw = (record.category or "")[:40]
        if raw in unmapped or len(unmapped) < 1000:  # a hostile set could hold millions of distinct values
            unmapped[raw] += 1
        return UNCATEGORISED
    return label


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_info(meta: Path) -> HashSetInfo:
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["labels"] = tuple(data["labels"])
    return HashSetInfo(**data)
