"""Fuzzing the archive parsers: mutated real and generated archives of every kind end, within a time bound, with
members, a recorded problem or ``ArchiveError``; never a hang, never another exception class, never a read that
grows without bound."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import py7zr
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldlab.evidence.archive_formats.registry import list_members, member_opener
from fieldlab.evidence.archives import ArchiveError
from tests.conftest import REALDATA
from tests.fuzz_support import FUZZ, mutated, within
from tests.rar_builder import RarMember, rar4, rar5

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"
READ_CAP = 16 << 20  # bytes read from one member: the seeds hold a few KB, a mutation may claim more
SYSLOG = (DFVFS / "syslog").read_bytes()


def _zip(method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("logs/syslog", SYSLOG)
        archive.writestr("empty.txt", b"")
        archive.writestr("again/syslog", SYSLOG[::-1])
    return buffer.getvalue()


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in (("syslog", SYSLOG), ("long/" + "n" * 120, b"x" * 700)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _seven_zip(filters: list[dict]) -> bytes:
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", filters=filters) as archive:
        archive.writestr(SYSLOG, "syslog")
        archive.writestr(SYSLOG[:300], "short")
    return buffer.getvalue()


SEEDS = {
    "zip": [_zip(zipfile.ZIP_DEFLATED), _zip(zipfile.ZIP_STORED), _zip(zipfile.ZIP_BZIP2)],
    "tar": [_tar(), gzip.decompress((DFVFS / "syslog.tgz").read_bytes())],
    "gzip": [(DFVFS / "syslog.gz").read_bytes(), (DFVFS / "fsevents_000000000000b208").read_bytes()[:20_000],
             gzip.compress(SYSLOG) * 2],
    "bzip2": [(DFVFS / "syslog.bz2").read_bytes(), bz2.compress(SYSLOG) * 2],
    "xz": [(DFVFS / "syslog.xz").read_bytes(), lzma.compress(SYSLOG, lzma.FORMAT_XZ) * 2],
    "zstd": [zstandard.ZstdCompressor().compress(SYSLOG) * 2],
    "7z": [_seven_zip([{"id": py7zr.FILTER_LZMA2, "preset": 1}]), _seven_zip([{"id": py7zr.FILTER_DEFLATE}])],
    "rar": [rar4([RarMember("syslog", SYSLOG), RarMember("b", b"bb")]),
            rar5([RarMember("syslog", SYSLOG), RarMember("b", b"bb")]),
            rar5([RarMember("s", SYSLOG[:200]), RarMember("t", b"t")], solid=True)],
}


def exercise(data: bytes, kind: str) -> None:
    """List the archive and read every member listed, as a scan would; only ``ArchiveError`` may escape."""
    listed = []
    try:
        for member in list_members(io.BytesIO(data), kind):
            listed.append(member)
    except ArchiveError:
        pass
    if not listed:
        return
    try:
        opener = member_opener(io.BytesIO(data), kind)
    except ArchiveError:
        return
    for member in listed:
        if member.problem:
            continue
        try:
            content = opener(member.index, member.name)
            read = 0
            while read <= READ_CAP and (chunk := content.read(1 << 20)):
                read += len(chunk)
        except ArchiveError:
            continue


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(SEEDS))
@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_mutated_archives_end_with_members_or_a_problem(kind: str, data: st.DataObject) -> None:
    archive = data.draw(mutated(SEEDS[kind]))
    with within():
        exercise(archive, kind)
