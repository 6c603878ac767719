"""md5sum/sha1sum output and bare hash lists."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fieldlab.hashsets.formats.hashlist import parse_hash_list
from fieldlab.hashsets.records import HashRecord, ParseProblem


def md5(label: str) -> str:
    return hashlib.md5(label.encode()).hexdigest()


def sha1(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def write(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def md5_record(line: int, label: str) -> HashRecord:
    return HashRecord(line, md5=bytes.fromhex(md5(label)))


def test_md5sum_text_and_binary_mode_lines_are_read(tmp_path: Path) -> None:
    path = write(tmp_path / "list.md5", f"{md5('a')}  a.jpg".encode(), f"{md5('b')} *dir/b c.jpg".encode())
    assert list(parse_hash_list(path, "md5")) == [md5_record(1, "a"), md5_record(2, "b")]


def test_sha1sum_lines_are_read_as_sha1(tmp_path: Path) -> None:
    path = write(tmp_path / "list.sha1", f"{sha1('a')}  a.jpg".encode())
    assert list(parse_hash_list(path, "sha1")) == [HashRecord(1, sha1=bytes.fromhex(sha1("a")))]


def test_bare_hash_list_in_either_case_with_crlf_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bare.txt"
    path.write_bytes(f"{md5('a').upper()}\r\n{md5('b')}\r\n".encode())
    assert list(parse_hash_list(path, "md5")) == [md5_record(1, "a"), md5_record(2, "b")]


def test_bsd_tag_form_is_read_even_with_brackets_and_equals_in_the_name(tmp_path: Path) -> None:
    lines = [f"MD5 (a.jpg) = {md5('a')}".encode(), f"MD5 (x (1) = y.jpg) = {md5('b')}".encode()]
    path = write(tmp_path / "bsd.txt", *lines)
    assert list(parse_hash_list(path, "md5")) == [md5_record(1, "a"), md5_record(2, "b")]


def test_md5sum_name_starting_with_a_bracket_is_not_taken_for_bsd_form(tmp_path: Path) -> None:
    path = write(tmp_path / "list.md5", f"{md5('a')}  (1).jpg".encode())
    assert list(parse_hash_list(path, "md5")) == [md5_record(1, "a")]


def test_gnu_escaped_line_for_an_awkward_name_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "list.md5", b"\\" + md5("a").encode() + b"  new\\nline.jpg")
    assert list(parse_hash_list(path, "md5")) == [md5_record(1, "a")]


def test_names_in_any_bytes_do_not_matter(tmp_path: Path) -> None:
    path = write(tmp_path / "list.md5", md5("a").encode() + b"  \xff\xfe\x00name.jpg")
    assert list(parse_hash_list(path, "md5")) == [md5_record(1, "a")]


def test_blank_and_comment_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "list.md5", b"# made by md5sum", b"", b"   ", md5("a").encode())
    assert list(parse_hash_list(path, "md5")) == [md5_record(4, "a")]


def test_wrong_length_and_non_hex_lines_are_reported_with_their_line_numbers(tmp_path: Path) -> None:
    lines = [md5("a").encode(), sha1("b").encode() + b"  b.jpg", b"zz" * 16, md5("c").encode()]
    path = write(tmp_path / "list.md5", *lines)
    found = list(parse_hash_list(path, "md5"))
    assert found == [
        md5_record(1, "a"),
        ParseProblem(2, f"'{sha1('b')}' is not a 32-hex-digit MD5"),
        ParseProblem(3, f"'{'zz' * 16}' is not a 32-hex-digit MD5"),
        md5_record(4, "c"),
    ]


def test_md5_lines_in_a_sha1_list_are_problems(tmp_path: Path) -> None:
    path = write(tmp_path / "list.sha1", md5("a").encode())
    assert list(parse_hash_list(path, "sha1")) == [ParseProblem(1, f"'{md5('a')}' is not a 40-hex-digit SHA1")]


def test_bsd_hash_with_inner_spaces_is_refused(tmp_path: Path) -> None:
    spaced = " ".join(md5("a")[i : i + 2] for i in range(0, 30, 2))[:32]
    path = write(tmp_path / "bsd.txt", f"MD5 (a) = {spaced}".encode())
    assert [type(item) for item in parse_hash_list(path, "md5")] == [ParseProblem]


def test_endless_line_is_cut_reported_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path / "hostile.md5", b"f" * (3 << 20), md5("a").encode())
    found = list(parse_hash_list(path, "md5"))
    assert [item.line for item in found] == [1, 2]
    assert isinstance(found[0], ParseProblem) and len(found[0].reason) < 150
    assert found[1] == md5_record(2, "a")


def test_file_without_final_newline_keeps_its_last_line(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(f"{md5('z')}\n{md5('a')}  a.jpg".encode())
    assert list(parse_hash_list(path, "md5"))[-1] == md5_record(2, "a")
