"""The reference-set formats (NSRL, EnCase, HashKeeper, TSK, PDQ): recognised by content, refused when misdeclared."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from fieldlab.hashsets.formats import FORMATS, detect_format, parse_hash_file
from fieldlab.hashsets.records import HashRecord
from tests.hashsets.hashset_builders import (
    HASHKEEPER_HEADER,
    NSRL_TXT_HEADER,
    NSRL_TXT_HEADER_OLD,
    Digests,
    encase_bytes,
    hashkeeper_line,
    nsrl_txt_line,
    rds_row,
    write_lines,
    write_nsrl_rds,
    write_nsrl_rds_file_view,
    write_tsk_kdb,
)

NEW_FORMATS = ("nsrl-rds", "nsrl-txt", "encase", "hashkeeper", "tsk-kdb", "pdq")
A = Digests("a")


def write_bytes(data: bytes) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return build


def old_nsrl_txt(path: Path) -> Path:
    row = f'"{A.sha1.hex().upper()}","a.dll",1,2,"3","{"0" * 32}","{A.md5.hex().upper()}","FFFFFFFF",""'
    return write_lines(path, NSRL_TXT_HEADER_OLD, row)


# every sample is written under the same misleading name: detection must read content
SAMPLES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "rds-minimal": (lambda path: write_nsrl_rds(path, [rds_row(A)], packages=2), "nsrl-rds"),
    "rds-without-view": (lambda path: write_nsrl_rds(path, [rds_row(A)], distinct_view=False), "nsrl-rds"),
    "rds-file-view": (lambda path: write_nsrl_rds_file_view(path, [rds_row(A)]), "nsrl-rds"),
    "tsk-kdb": (lambda path: write_tsk_kdb(path, [A.md5]), "tsk-kdb"),
    "encase": (write_bytes(encase_bytes([A.md5])), "encase"),
    "nsrl-txt": (lambda path: write_lines(path, NSRL_TXT_HEADER, nsrl_txt_line(A)), "nsrl-txt"),
    "nsrl-txt-old-order": (old_nsrl_txt, "nsrl-txt"),
    "nsrl-txt-bom": (write_bytes(b"\xef\xbb\xbf" + f"{NSRL_TXT_HEADER}\n{nsrl_txt_line(A)}\n".encode()), "nsrl-txt"),
    "hashkeeper": (lambda path: write_lines(path, HASHKEEPER_HEADER, hashkeeper_line(1, A)), "hashkeeper"),
    "pdq": (lambda path: write_lines(path, "# made by threatexchange", f"pdq {A.pdq.hex()}"), "pdq"),
}
OTHER_KINDS: dict[str, Callable[[Path], Path]] = {
    "md5sum": lambda path: write_lines(path, f"{A.md5.hex()}  a.jpg"),
    "csv": lambda path: write_lines(path, "MD5,SHA1", f"{A.md5.hex()},{A.sha1.hex()}"),
    "vics": write_bytes(json.dumps({"value": [{"MD5": A.md5.hex()}]}).encode()),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_detect_format_recognises_each_reference_set_by_content(tmp_path: Path, name: str) -> None:
    build, fmt = SAMPLES[name]
    assert detect_format(build(tmp_path / "hashes.txt")) == fmt


@pytest.mark.parametrize("name", SAMPLES)
def test_parse_hash_file_auto_reads_each_reference_set(tmp_path: Path, name: str) -> None:
    build, _ = SAMPLES[name]
    found = list(parse_hash_file(build(tmp_path / "hashes.txt"), "auto"))
    assert found and all(isinstance(item, HashRecord) for item in found)
    assert all(item.md5 == A.md5 or item.pdq == A.pdq for item in found)


def test_formats_names_every_reference_set_format() -> None:
    assert set(NEW_FORMATS) <= set(FORMATS)


def test_detect_format_does_not_take_a_bare_64_hex_list_for_pdq(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "hashes.txt", A.pdq.hex(), A.sha256.hex())
    with pytest.raises(ValueError, match=r"hashes\.txt: unknown hash-set format"):
        detect_format(path)


def test_detect_format_reads_a_pdq_hash_column_header_as_csv_not_a_pdq_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "hashes.txt", "PDQ Hash,MD5", f"{A.pdq.hex()},{A.md5.hex()}")
    assert detect_format(path) == "csv"


def test_detect_format_reads_a_csv_that_merely_has_sha1_and_md5_columns_as_csv_not_nsrl(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "hashes.txt", '"SHA-1","MD5","FileName"', f'"{A.sha1.hex()}","{A.md5.hex()}","a"')
    assert detect_format(path) == "csv"


def test_detect_format_refuses_another_sqlite_database_naming_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "places.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.executescript("CREATE TABLE moz_places (url TEXT); CREATE TABLE moz_bookmarks (title TEXT);")
    with pytest.raises(ValueError, match=r"places\.sqlite: an SQLite database, but neither") as caught:
        detect_format(path)
    assert "it holds 'moz_bookmarks', 'moz_places'" in str(caught.value)


def test_detect_format_refuses_a_damaged_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "rds.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(ValueError, match=r"rds\.db: SQLite header, but the database cannot be read"):
        detect_format(path)


def test_detect_format_leaves_a_sqlite_source_untouched(tmp_path: Path) -> None:
    path = write_nsrl_rds(tmp_path / "rds.db", [rds_row(A)])
    before = (path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir()))
    detect_format(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir())) == before


MISDECLARED = [
    (fmt, name)
    for fmt in NEW_FORMATS
    for name in [*SAMPLES, *OTHER_KINDS]
    if name not in SAMPLES or SAMPLES[name][1] != fmt
]


@pytest.mark.parametrize(("fmt", "name"), MISDECLARED)
def test_declared_format_that_does_not_fit_fails_before_any_record(tmp_path: Path, fmt: str, name: str) -> None:
    build = SAMPLES[name][0] if name in SAMPLES else OTHER_KINDS[name]
    path = build(tmp_path / "evidence.bin")
    with pytest.raises(ValueError, match=r"evidence\.bin: ") as caught:
        next(iter(parse_hash_file(path, fmt)))
    assert len(str(caught.value)) < 500
