"""The container registry: every file type identified as an archive has a format that opens it, identification and
opening agree on real bytes, and the documented format table matches the registry."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

import py7zr
import pytest
import zstandard

from fieldlab.detect.filetype import FILE_TYPES, identify
from fieldlab.evidence.archive_formats.registry import BY_KIND, FORMATS, kind_from_head, list_members, member_opener
from fieldlab.evidence.archives import Member
from fieldlab.validation.content import tar_of
from fieldlab.validation.phones import android_backup
from tests.rar_builder import RarMember, rar4, rar5

CONTENT = b"registry sample \x00\x01\x02" * 50
ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"


def test_every_file_type_of_the_archive_family_is_a_registered_container() -> None:
    archive_labels = {label for label, file_type in FILE_TYPES.items() if file_type.family == "archive"}
    assert archive_labels  # the family exists: the check below is not vacuous
    unopened = {label for label in archive_labels if kind_from_head(b"", None, label) not in BY_KIND}
    assert not unopened, f"identified as archives but no container format opens them: {sorted(unopened)}"


def test_every_registered_label_is_a_file_type_identify_can_return() -> None:
    unknown = {label for container in FORMATS for label in container.labels if label not in FILE_TYPES}
    assert not unknown, f"registry labels no file type carries (a typo never matches): {sorted(unknown)}"


def test_each_kind_and_each_label_is_registered_once() -> None:
    kinds = [container.kind for container in FORMATS]
    labels = [label for container in FORMATS for label in container.labels]
    assert len(kinds) == len(set(kinds))
    assert len(labels) == len(set(labels))


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dir/sample.bin", CONTENT)
    return buffer.getvalue()


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("dir/sample.bin")
        info.size = len(CONTENT)
        archive.addfile(info, io.BytesIO(CONTENT))
    return buffer.getvalue()


def _7z() -> bytes:
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        archive.writestr(CONTENT, "dir/sample.bin")
    return buffer.getvalue()


SAMPLES: dict[str, Callable[[], bytes]] = {
    "zip": _zip,
    "tar": _tar,
    "gzip": lambda: gzip.compress(CONTENT),
    "bzip2": lambda: bz2.compress(CONTENT),
    "xz": lambda: lzma.compress(CONTENT),
    "zstd": lambda: zstandard.ZstdCompressor().compress(CONTENT),
    "7z": _7z,
    "rar4": lambda: rar4([RarMember("dir/sample.bin", CONTENT)]),
    "rar5": lambda: rar5([RarMember("dir/sample.bin", CONTENT)]),
    "android-backup": lambda: android_backup(tar_of({"apps/com.example/f/sample.bin": CONTENT})),
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_an_identified_container_lists_and_opens_its_member_through_the_registry(sample: str) -> None:
    data = SAMPLES[sample]()
    kind = kind_from_head(data[:4096], "renamed.dat", identify(data[:4096]).label)
    assert kind in BY_KIND
    stream = io.BytesIO(data)
    members = [member for member in list_members(stream, kind) if isinstance(member, Member)]
    assert len(members) == 1
    opened = member_opener(stream, kind)(members[0].index, members[0].name)
    assert opened.read() == CONTENT


def test_the_samples_cover_every_archive_kind() -> None:
    covered = {kind_from_head(SAMPLES[sample]()[:4096], None) for sample in SAMPLES}
    archive_kinds = {kind_from_head(b"", None, label) for label, t in FILE_TYPES.items() if t.family == "archive"}
    assert archive_kinds <= covered


def _documented_kinds() -> list[str]:
    """The first column of the container format table in docs/architecture.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text.split("<!-- container formats -->", 2)
    assert len(table) == 3, "docs/architecture.md lost its container format table markers"
    return re.findall(r"^\| `([^`]+)` \|", table[1], re.MULTILINE)


def test_the_documented_format_table_names_every_registered_kind_and_no_other() -> None:
    documented = _documented_kinds()
    assert sorted(documented) == sorted(BY_KIND), "docs/architecture.md's container format table and the registry differ"
