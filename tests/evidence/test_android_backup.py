"""Android backups: mvt's real backups open to the tar mvt expects; generated backups cover every flavour, every
damage, and every bound."""

from __future__ import annotations

import hashlib
import io
import random
import re
import tarfile
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldlab.evidence.phone.android_backup import (
    CHUNK,
    MAX_ROUNDS,
    AndroidBackupError,
    open_backup_tar,
    read_header,
)
from fieldlab.validation.content import tar_of as _tar
from fieldlab.validation.phones import android_backup as build_backup
from tests.conftest import REALDATA

MVT = REALDATA / "mvt-project__mvt" / "tests" / "artifacts" / "android_backup"
TELEPHONY = "apps/com.android.providers.telephony"
SMS_BACKUP = f"{TELEPHONY}/d_f/000000_sms_backup"



GENERATED = {
    "DCIM/Camera/IMG_0001.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40,
    "apps/com.whatsapp/f/Media/note.txt": b"meet at the park\n",
    "apps/com.whatsapp/db/msgstore.db": b"SQLite format 3\x00" + b"\x00" * 4000,
}


def _members(stream: io.RawIOBase) -> dict[str, bytes]:
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        return {info.name: archive.extractfile(info).read() for info in archive if info.isreg()}


def _read_until_error(stream: io.RawIOBase, size: int = 1000) -> tuple[bytes, AndroidBackupError]:
    got = bytearray()
    while True:
        try:
            piece = stream.read(size)
        except AndroidBackupError as error:
            return bytes(got), error
        if not piece:
            raise AssertionError(f"stream ended cleanly after {len(got)} bytes")
        got += piece


# mvt's real backups --------------------------------------------------------------------------


REAL = [  # name, passwords, header (version, compressed, encryption), tar sha256 from mvt's own tests, members
    ("backup.ab", (), (1, True, "none"), "ce1ac5009fea5187a9f546b51e1446ba450243ae91d31dc779233ec0937b5d18",
     ["apps", TELEPHONY, f"{TELEPHONY}/d_f", f"{TELEPHONY}/d_f/000001_mms_backup", SMS_BACKUP]),
    ("backup2.ab", ("123456",), (5, False, "AES-256"),
     "f365ace1effbc4902c6aeba241ca61544f8a96ad456c1861808ea87b7dd03896", [f"{TELEPHONY}/_manifest", SMS_BACKUP]),
    ("backup3.ab", (), (5, True, "none"), "33e73df2ede9798dcb3a85c06200ee41c8f52dd2f2e50ffafcceb0407bc13e3a",
     [f"{TELEPHONY}/_manifest", SMS_BACKUP]),
]


@pytest.mark.parametrize(("name", "passwords", "header", "sha256", "members"), REAL, ids=[r[0] for r in REAL])
def test_mvts_real_backups_give_the_tar_mvt_expects(name, passwords, header, sha256, members) -> None:
    with open(MVT / name, "rb") as stream:
        parsed = read_header(stream)
        assert (parsed.version, parsed.compressed, parsed.encryption) == header
        tar = open_backup_tar(stream, passwords).read()
        assert hashlib.sha256(tar).hexdigest() == sha256
        with tarfile.open(fileobj=open_backup_tar(stream, passwords), mode="r|") as archive:
            assert [info.name for info in archive] == members


@pytest.mark.parametrize(("name", "passwords"), [("backup.ab", ()), ("backup2.ab", ("123456",)), ("backup3.ab", ())])
def test_the_sms_backup_inside_is_the_file_mvt_ships_extracted(name: str, passwords: tuple[str, ...]) -> None:
    with open(MVT / name, "rb") as stream:
        members = _members(open_backup_tar(stream, passwords))
    assert members[SMS_BACKUP] == (MVT / SMS_BACKUP).read_bytes()


def test_the_encrypted_real_backup_records_its_key_material() -> None:
    with open(MVT / "backup2.ab", "rb") as stream:
        header = read_header(stream)
    assert header.rounds == 10_000
    assert header.user_salt.hex().upper().startswith("F1460FD5F4188D06") and len(header.user_salt) == 64
    assert len(header.checksum_salt) == 64 and header.user_iv.hex().upper() == "DABBA5CA94A12462A1A0E60593DA6C01"
    assert len(header.master_key_blob) == 96


def test_an_encrypted_backup_without_a_password_says_it_needs_one() -> None:
    with open(MVT / "backup2.ab", "rb") as stream, pytest.raises(AndroidBackupError, match="no password given"):
        open_backup_tar(stream)


def test_a_wrong_password_is_reported_as_wrong() -> None:
    with open(MVT / "backup2.ab", "rb") as stream:
        with pytest.raises(AndroidBackupError, match="^wrong password: the password given does not open"):
            open_backup_tar(stream, ["654321"])
        with pytest.raises(AndroidBackupError, match="^wrong password: none of the 3 passwords given"):
            open_backup_tar(stream, ["", "1234", "123456 "])


def test_every_password_given_is_tried_until_one_opens_the_backup() -> None:
    with open(MVT / "backup2.ab", "rb") as stream:
        members = _members(open_backup_tar(stream, ["0000", "password", "123456"]))
    assert list(members) == [f"{TELEPHONY}/_manifest", SMS_BACKUP]


# generated backups: every flavour ------------------------------------------------------------


@pytest.mark.parametrize("compressed", [True, False], ids=["compressed", "compressed=0"])
@pytest.mark.parametrize("password", [None, "hunter2", "pässwörd-€"], ids=["plain", "ascii password", "non-ascii"])
@pytest.mark.parametrize("version", [1, 2, 5])
def test_generated_backups_give_back_the_files_they_were_made_of(compressed: bool, password: str | None,
                                                                 version: int) -> None:
    backup = build_backup(_tar(GENERATED), version=version, compressed=compressed, password=password)
    header = read_header(io.BytesIO(backup))
    assert (header.version, header.compressed) == (version, compressed)
    assert header.encryption == ("none" if password is None else "AES-256")
    assert _members(open_backup_tar(io.BytesIO(backup), [password] if password else ())) == GENERATED


def test_the_tar_stream_is_read_only_forward_only_and_reads_the_file_in_bounded_chunks() -> None:
    big = {"DCIM/video.mp4": random.Random(7).randbytes(3 * CHUNK + 12345)}  # does not compress: the file is big too
    backup = build_backup(_tar(big), password="1234")

    class Watched(io.BytesIO):
        largest_read = 0

        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and 0 <= size <= CHUNK, f"read({size}) of the whole backup"
            Watched.largest_read = max(Watched.largest_read, size)
            return super().read(size)

    stream = open_backup_tar(Watched(backup), ["1234"])
    assert isinstance(stream, io.RawIOBase) and stream.readable()
    assert not stream.seekable() and not stream.writable()
    with pytest.raises(OSError):
        stream.seek(0)
    assert _members(stream) == big
    assert 0 < Watched.largest_read <= CHUNK


def test_the_header_is_read_from_the_start_wherever_the_stream_is() -> None:
    stream = io.BytesIO(build_backup(_tar(GENERATED), password="pw"))
    stream.seek(300)
    assert read_header(stream).encryption == "AES-256"
    stream.seek(0, io.SEEK_END)
    assert _members(open_backup_tar(stream, ["pw"])) == GENERATED


def test_the_backup_stream_keeps_its_own_place_when_others_move_the_file() -> None:
    stream = io.BytesIO(build_backup(_tar({"a.bin": random.Random(3).randbytes(3 * CHUNK)})))
    tar = open_backup_tar(stream)
    first = tar.read(CHUNK // 2)
    stream.seek(0)  # someone else reads the same evidence meanwhile
    assert first + tar.readall() == _tar({"a.bin": random.Random(3).randbytes(3 * CHUNK)})


# generated backups: damage -------------------------------------------------------------------


def test_a_truncated_compressed_backup_delivers_what_it_has_then_says_truncated() -> None:
    tar = _tar({"photo.jpg": random.Random(5).randbytes(100_000)})  # compresses by nothing: a cut at 2/3 is 2/3
    backup = build_backup(tar)
    cut = backup[: len(backup) * 2 // 3]
    got, error = _read_until_error(open_backup_tar(io.BytesIO(cut)))
    assert "truncated Android backup" in str(error)
    assert 60_000 < len(got) < 70_000 and tar.startswith(got)
    assert f"{len(got):,} bytes of tar" in str(error)


@pytest.mark.parametrize("compressed", [True, False], ids=["compressed", "compressed=0"])
@pytest.mark.parametrize("short_by", [16 * 40 + 7, 16], ids=["cut mid-block", "last block lost"])
def test_a_truncated_encrypted_backup_delivers_what_it_has_then_says_truncated(compressed: bool, short_by: int) -> None:
    tar = _tar({"photo.jpg": random.Random(5).randbytes(100_000)})
    backup = build_backup(tar, compressed=compressed, password="pw")
    got, error = _read_until_error(open_backup_tar(io.BytesIO(backup[:-short_by]), ["pw"]))
    assert "truncated" in str(error)
    assert len(tar) - 3000 < len(got) <= len(tar) and tar.startswith(got)  # at most the cut and the zeros after it


def test_a_failing_evidence_file_is_never_taken_for_the_end_of_the_backup() -> None:
    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 1000:
                raise OSError("I/O error reading the exhibit")
            return super().read(size)

    stream = open_backup_tar(Failing(build_backup(_tar({"a": random.Random(1).randbytes(3 * CHUNK)}))))
    stream.read(10)
    for _ in range(2):
        with pytest.raises(OSError, match="I/O error"):
            stream.readall()


def test_a_truncated_backup_keeps_failing_on_every_later_read() -> None:
    backup = build_backup(_tar(GENERATED))
    stream = open_backup_tar(io.BytesIO(backup[:200]))
    with pytest.raises(AndroidBackupError, match="truncated"):
        stream.readall()
    with pytest.raises(AndroidBackupError, match="truncated"):
        stream.read(10)


def test_a_backup_cut_inside_its_header_says_so() -> None:
    backup = build_backup(_tar(GENERATED), password="pw")
    with pytest.raises(AndroidBackupError, match="truncated Android backup: the file ends inside its header"):
        read_header(io.BytesIO(backup[:100]))


def test_corrupt_compressed_data_is_reported_as_damaged() -> None:
    backup = bytearray(build_backup(_tar(GENERATED)))
    backup[60:80] = b"\xff" * 20
    _, error = _read_until_error(open_backup_tar(io.BytesIO(bytes(backup))))
    assert "damaged Android backup: the compressed data is corrupt" in str(error)


def test_a_backup_expanding_past_the_limit_is_stopped() -> None:
    backup = build_backup(_tar({"zeros.bin": bytes(4 * CHUNK)}))  # 4 MiB of zeros from a few KiB
    got, error = _read_until_error(open_backup_tar(io.BytesIO(backup), max_bytes=CHUNK + 5), size=CHUNK)
    assert "expands past 1,048,581 bytes" in str(error)
    assert len(got) == CHUNK + 5


# generated backups: hostile headers ----------------------------------------------------------


def test_absurd_pbkdf2_rounds_are_refused_before_any_work() -> None:
    backup = build_backup(_tar(GENERATED), password="pw", rounds=7)
    forged = backup.replace(b"\n7\n", b"\n2000000000\n", 1)
    assert read_header(io.BytesIO(forged)).rounds == 2_000_000_000  # the header still says what it says
    started = time.monotonic()
    with pytest.raises(AndroidBackupError, match=f"2,000,000,000 PBKDF2 rounds, over the {MAX_ROUNDS:,}"):
        open_backup_tar(io.BytesIO(forged), ["pw"])
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(("backup", "message"), [
    (b"", "not an Android backup"),
    (b"PK\x03\x04" + bytes(100), "not an Android backup"),
    (b"ANDROID BACKUPS\n5\n1\nnone\n", "not an Android backup"),
    (b"ANDROID BACKUP\n9\n1\nnone\n", "version 9: this reader knows versions 1 to 5"),
    (b"ANDROID BACKUP\nfive\n1\nnone\n", "version b'five' is not a number"),
    (b"ANDROID BACKUP\n" + b"5" * 5000, "the version line runs past 512 bytes"),
    (b"ANDROID BACKUP\n5\n2\nnone\n", "compression flag b'2', not 0 or 1"),
    (b"ANDROID BACKUP\n5\n1\nDES\n", "encrypted with b'DES': only AES-256 is known"),
    (b"ANDROID BACKUP\n5\n1\nAES-256\nzz\n", "the user salt b'zz' is not hex"),
    (b"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n-1\n", "PBKDF2 rounds b'-1' is not a positive number"),
    (b"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n0\n", "PBKDF2 rounds b'0' is not a positive number"),
    (b"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n10\n0011\n" + b"00" * 32 + b"\n", "user IV is 2 bytes, not 16"),
    (b"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n10\n" + b"00" * 16 + b"\n" + b"00" * 17 + b"\n",
     "master key blob is 17 bytes"),
    (b"ANDROID BACKUP\n5\n1\nAES-256\n00\n00\n10\n" + b"00" * 16 + b"\n" + b"0" * 3000, "runs past 512 bytes"),
], ids=["empty", "a zip", "wrong magic", "future version", "version not a number", "endless line",
        "compression flag", "unknown cipher", "salt not hex", "negative rounds", "zero rounds", "short IV",
        "blob not blocks", "endless blob"])
def test_garbage_headers_are_refused_with_a_reason(backup: bytes, message: str) -> None:
    with pytest.raises(AndroidBackupError, match=re.escape(message)):
        open_backup_tar(io.BytesIO(backup), ["pw"])


def test_a_blob_that_is_not_a_master_key_counts_as_a_wrong_password() -> None:
    backup = build_backup(_tar(GENERATED), password="pw")
    lines = backup.split(b"\n", 9)
    lines[8] = b"00" * 96  # a blob of the right size that decrypts to nothing sensible
    with pytest.raises(AndroidBackupError, match="^wrong password"):
        open_backup_tar(io.BytesIO(b"\n".join(lines)), ["pw"])



_VALID = build_backup(_tar(GENERATED), password="pw")


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([b"", b"ANDROID BACKUP\n", b"ANDROID BACKUP\n5\n1\nnone\n", _VALID[:400], _VALID[:600]]),
       st.binary(max_size=3000), st.integers(0, len(_VALID) - 1), st.binary(min_size=1, max_size=8))
def test_any_bytes_end_in_a_tar_stream_or_an_android_backup_error(prefix: bytes, tail: bytes, at: int,
                                                                  splice: bytes) -> None:
    for backup in (prefix + tail, _VALID[:at] + splice + _VALID[at + len(splice):]):
        try:
            open_backup_tar(io.BytesIO(backup), ["pw"]).readall()
        except AndroidBackupError:
            pass
