"""RAR 4 and RAR 5 archives, read through libarchive: listed, read back byte for byte, bounded, and honest about
what cannot be opened (encryption, solid RAR 4, damage)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from fieldlab.demo import procedural_jpeg
from fieldlab.detect.filetype import identify
from fieldlab.evidence.archive_formats.registry import kind_from_head, list_members, member_opener
from fieldlab.evidence.archives import ArchiveError
from tests.rar_builder import RarMember, dos_time_as_utc, rar4, rar5

BUILDERS = {"rar4": rar4, "rar5": rar5}
NOISE = np.random.default_rng(7).integers(0, 256, 300_000, dtype=np.uint8).tobytes()


def _members() -> list[RarMember]:
    return [
        RarMember("Pictures/holiday/beach.jpg", procedural_jpeg(301, 320, 240), mtime=1_500_000_001),
        RarMember("noise.bin", NOISE, mtime=1_600_000_000),
        RarMember("Документы/заметка.txt", "привет".encode(), mtime=1_700_000_002),
        RarMember("empty.txt", b"", mtime=1_600_000_100),
    ]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("version", BUILDERS)
def test_a_rar_is_recognised_by_its_signature_as_an_archive_to_open(version: str) -> None:
    head = BUILDERS[version](_members())[:4096]
    assert identify(head).label == "rar"
    assert kind_from_head(head, "renamed.dat") == "rar"  # by content, whatever the name


@pytest.mark.parametrize("version", BUILDERS)
def test_members_are_listed_with_their_names_sizes_and_times(version: str) -> None:
    members = list(list_members(io.BytesIO(BUILDERS[version](_members())), "rar"))
    assert [m.name.decode() for m in members] == [m.name for m in _members()]
    assert [m.size for m in members] == [len(m.data) for m in _members()]
    # RAR 4 keeps DOS time (even seconds, no zone: read as UTC, as zip's); RAR 5 keeps Unix time
    expected = [dos_time_as_utc(m.mtime) if version == "rar4" else float(m.mtime) for m in _members()]
    assert [m.mtime for m in members] == expected
    assert all(m.problem is None and not m.encrypted for m in members)
    assert all(m.stored is not None and m.stored >= m.size for m in members)  # stored: data and header


@pytest.mark.parametrize("version", BUILDERS)
def test_every_member_reads_back_byte_for_byte(version: str) -> None:
    data = BUILDERS[version](_members())
    opener = member_opener(io.BytesIO(data), "rar")
    for member in list_members(io.BytesIO(data), "rar"):
        original = _members()[member.index].data
        assert _md5(opener(member.index, member.name).read()) == _md5(original), member.name


def test_members_can_be_opened_out_of_order_and_twice() -> None:
    data = rar5(_members())
    opener = member_opener(io.BytesIO(data), "rar")
    listed = list(list_members(io.BytesIO(data), "rar"))
    for member in [listed[2], listed[0], listed[0], listed[1], listed[2]]:
        assert opener(member.index, member.name).read() == _members()[member.index].data


def test_a_member_asked_for_by_a_wrong_name_is_refused() -> None:
    opener = member_opener(io.BytesIO(rar5(_members())), "rar")
    with pytest.raises(ArchiveError, match="is not"):
        opener(1, b"other.bin")


class _CountingStream(io.BytesIO):
    read_bytes = 0

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = super().readinto(buffer)
        self.read_bytes += count
        return count


def test_a_solid_archive_read_in_member_order_is_read_through_about_twice_not_once_per_member() -> None:
    """Solid: every member must be expanded in order, even to skip it.  The opener lists once and then keeps one
    pass moving forward, so 30 members cost two passes (directory and content), not 30."""
    members = [RarMember(f"part{n:02d}.bin", NOISE[n * 9000:(n + 1) * 9000]) for n in range(30)]
    data = rar5(members, solid=True)
    stream = _CountingStream(data)
    opener = member_opener(stream, "rar")
    for member in list_members(io.BytesIO(data), "rar"):
        content = opener(member.index, member.name).read()
        assert content == members[member.index].data
        assert opener(member.index, member.name).read() == content  # opened again, as a reader does: kept
    assert stream.read_bytes <= 2.5 * len(data)


@pytest.mark.parametrize("version", BUILDERS)
def test_encrypted_members_are_listed_by_name_and_size_and_never_read_as_if_plain(version: str) -> None:
    """libarchive 3.6 hands back a RAR 5 member's ciphertext as if it were the content: it must be refused."""
    members = [RarMember("plain.txt", b"visible"), RarMember("secret/photo.jpg", procedural_jpeg(302), encrypted=True)]
    data = BUILDERS[version](members)
    listed = list(list_members(io.BytesIO(data), "rar", ("any", "password")))
    secret = listed[1]
    assert (secret.name, secret.size, secret.encrypted) == (b"secret/photo.jpg", len(members[1].data), True)
    assert "encrypted" in secret.problem and "cannot be opened" in secret.problem
    opener = member_opener(io.BytesIO(data), "rar", ("any", "password"))
    with pytest.raises(ArchiveError, match="encrypted"):
        opener(secret.index, secret.name)
    assert opener(0, b"plain.txt").read() == b"visible"


@pytest.mark.parametrize("version", BUILDERS)
def test_an_archive_whose_headers_are_encrypted_says_so(version: str) -> None:
    data = BUILDERS[version](_members(), encrypted_headers=True)
    with pytest.raises(ArchiveError, match="encrypted RAR archive: its member names are encrypted too"):
        list(list_members(io.BytesIO(data), "rar"))


@pytest.mark.parametrize("version", BUILDERS)
def test_a_truncated_archive_lists_what_comes_before_the_cut_and_says_it_is_damaged(version: str) -> None:
    data = BUILDERS[version](_members())
    cut = data[: data.index(NOISE[:64]) + 1000]  # inside the second member's data
    found = []
    with pytest.raises(ArchiveError, match="damaged or unreadable RAR archive"):
        for member in list_members(io.BytesIO(cut), "rar"):
            found.append(member.name)
    assert found[0] == b"Pictures/holiday/beach.jpg"
    opener = member_opener(io.BytesIO(cut), "rar")
    assert opener(0, found[0]).read() == _members()[0].data


def test_a_solid_rar4_reads_its_first_member_and_lists_the_others_by_name_saying_why_not_more() -> None:
    """libarchive refuses solid RAR 4 after the first member; the names, sizes and times are still shown."""
    data = rar4(_members(), solid=True)
    found = []
    with pytest.raises(ArchiveError, match="solid RAR 4 archive"):
        for member in list_members(io.BytesIO(data), "rar"):
            found.append(member)
    assert [m.name.decode() for m in found] == [m.name for m in _members()]
    assert [m.size for m in found] == [len(m.data) for m in _members()]
    assert [m.mtime for m in found] == [dos_time_as_utc(m.mtime) for m in _members()]
    assert found[0].problem is None and all("solid RAR 4" in m.problem for m in found[1:])
    opener = member_opener(io.BytesIO(data), "rar")
    assert opener(0, found[0].name).read() == _members()[0].data
    with pytest.raises(ArchiveError, match="solid RAR 4"):
        opener(1, found[1].name)


@pytest.mark.parametrize("version", BUILDERS)
def test_rar_members_obey_the_size_and_bomb_bounds(version: str) -> None:
    members = [
        RarMember("bomb.bin", b"\0" * 10_000, declared=200 << 20),  # 200 MiB claimed from 10 KB stored
        RarMember("huge.bin", b"\0" * 100, declared=9 << 30),  # past the per-member limit
        RarMember("liar.bin", b"x" * 5000, declared=10),  # expands past what it declares
    ]
    data = BUILDERS[version](members)
    listed = {m.name: m for m in list_members(io.BytesIO(data), "rar")}
    assert "decompression bomb" in listed[b"bomb.bin"].problem
    assert "over the" in listed[b"huge.bin"].problem
    opener = member_opener(io.BytesIO(data), "rar")
    with pytest.raises(ArchiveError, match="decompression bomb"):
        opener(0, b"bomb.bin")
    try:  # stopped at its declared 10 bytes and reported (or refused by libarchive's own checks)
        liar = opener(2, b"liar.bin")
        assert len(liar.read()) <= 10 and liar.problem is not None
    except ArchiveError:
        pass
