"""Recognising a hash-set file by its content, and reading it in the format named or detected."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fieldlab.hashsets.formats import FORMATS, detect_format, parse_hash_file
from fieldlab.hashsets.records import HashRecord

MD5 = hashlib.md5(b"a").hexdigest()
SHA1 = hashlib.sha1(b"a").hexdigest()
CONTEXT_2 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"
METADATA_1 = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases"

SAMPLES = {
    "vics-1": (json.dumps({"odata.metadata": METADATA_1, "value": [{"Media": [{"MD5": MD5}]}]}).encode(), "vics"),
    "vics-2": (
        json.dumps({"@odata.context": CONTEXT_2, "value": [{"MD5": MD5, "Category": 1}]}, indent=1).encode(),
        "vics",
    ),
    "vics-bom": (b"\xef\xbb\xbf  \n" + json.dumps({"value": [{"MD5": MD5}]}).encode(), "vics"),
    "csv": (f"FileName,MD5,SHA1\na.jpg,{MD5},{SHA1}\n".encode(), "csv"),
    "csv-semicolon-bom": (f"\ufeffSHA-1;Category\n{SHA1};A\n".encode(), "csv"),
    "csv-single-column": (f"md5\n{MD5}\n".encode(), "csv"),
    "md5sum": (f"{MD5}  a.jpg\n{MD5} *b.jpg\n".encode(), "md5sum"),
    "md5sum-commented": (f"# list\n\n{MD5.upper()}\n".encode(), "md5sum"),
    "md5-bsd": (f"MD5 (a.jpg) = {MD5}\n".encode(), "md5sum"),
    "sha1sum": (f"{SHA1}  a.jpg\n".encode(), "sha1sum"),
    "sha1-bare-crlf": (f"{SHA1}\r\n{SHA1}\r\n".encode(), "sha1sum"),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_detect_format_recognises_each_kind_by_content_not_name(tmp_path: Path, name: str) -> None:
    content, fmt = SAMPLES[name]
    path = tmp_path / "hashes.txt"  # the same misleading name for every kind
    path.write_bytes(content)
    assert detect_format(path) == fmt


UNREADABLE = {
    "empty": b"",
    "comments": b"\n\n# only a comment\n",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "text": b"hello world\n",
    "csv-without-digests": b"name,size\na.jpg,10\n",
    "sha256sum": hashlib.sha256(b"a").hexdigest().encode() + b"  a.jpg\n",
    "other-json": b'{"data": []}',
    "one-long-line": b"x" * 20000,
    "lone-cr": b"md5\rsha1\n",
}


@pytest.mark.parametrize("name", UNREADABLE)
def test_detect_format_refuses_what_it_cannot_read_with_a_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / "mystery.bin"
    path.write_bytes(UNREADABLE[name])
    with pytest.raises(ValueError, match=r"mystery\.bin"):
        detect_format(path)


def test_detect_format_error_quotes_a_bounded_part_of_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.txt"
    path.write_bytes(b"Q" * 5000 + b"\n")
    with pytest.raises(ValueError) as caught:
        detect_format(path)
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize("name", SAMPLES)
def test_parse_hash_file_auto_reads_every_kind(tmp_path: Path, name: str) -> None:
    path = tmp_path / "hashes.txt"
    path.write_bytes(SAMPLES[name][0])
    found = list(parse_hash_file(path, "auto"))
    assert found and all(isinstance(item, HashRecord) for item in found)


def test_parse_hash_file_uses_the_format_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(f"{SHA1}\n".encode())
    assert list(parse_hash_file(path, "sha1sum")) == [HashRecord(1, sha1=bytes.fromhex(SHA1))]
    assert [type(item).__name__ for item in parse_hash_file(path, "md5sum")] == ["ParseProblem"]


def test_parse_hash_file_refuses_an_unknown_format_name_at_once(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="unknown hash-set format 'nonsense'"):
        parse_hash_file(path, "nonsense")


def test_formats_lists_every_format_parse_hash_file_accepts(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(f"{MD5}\n".encode())
    for fmt in FORMATS:
        parse_hash_file(path, fmt)  # a name it did not know would raise here
