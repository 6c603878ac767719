"""Examiner-supplied passwords: an encrypted zip or 7z member one of them opens is listed and read like any other;
one none of them opens stays listed by name, reported as encrypted."""

from __future__ import annotations

import hashlib
import io
import zipfile

import py7zr
import pytest

from fieldlab.demo import procedural_jpeg
from fieldlab.evidence.archive_formats.registry import list_members, member_opener
from fieldlab.evidence.archives import ArchiveError, Member
from tests.encrypted_zip_builder import encrypted_zip

PICTURE = procedural_jpeg(401, 320, 240)
ENTRIES = {"DCIM/IMG_0001.jpg": PICTURE, "notes.txt": b"meet at six"}


def seven_zip(entries: dict[str, bytes], password: str, encrypt_names: bool = False) -> bytes:
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", password=password, header_encryption=encrypt_names) as archive:
        for name, data in entries.items():
            archive.writestr(data, name)
    return buffer.getvalue()


def _read_all(data: bytes, kind: str, passwords: tuple[str, ...]) -> dict[bytes, tuple[Member, str | None]]:
    """Each member, and the MD5 of its content (None when it cannot be opened)."""
    opener = member_opener(io.BytesIO(data), kind, passwords)
    found = {}
    for member in list_members(io.BytesIO(data), kind, passwords):
        try:
            found[member.name] = (member, hashlib.md5(opener(member.index, member.name).read()).hexdigest())
        except ArchiveError:
            found[member.name] = (member, None)
    return found


LOCKED = {
    "zipcrypto": lambda: encrypted_zip(ENTRIES, "tulip-7"),
    "winzip-aes": lambda: encrypted_zip(ENTRIES, "tulip-7", aes=True),
    "7z": lambda: seven_zip(ENTRIES, "tulip-7"),
}
KINDS = {"zipcrypto": "zip", "winzip-aes": "zip", "7z": "7z"}


@pytest.mark.parametrize("encryption", LOCKED)
def test_without_the_password_members_are_listed_by_name_and_reported_encrypted(encryption: str) -> None:
    found = _read_all(LOCKED[encryption](), KINDS[encryption], ())
    member, content = found[b"DCIM/IMG_0001.jpg"]
    assert member.encrypted and member.problem == "encrypted: its content needs the password"
    assert member.size == len(PICTURE) and content is None


@pytest.mark.parametrize("encryption", LOCKED)
def test_with_wrong_passwords_only_the_problem_says_how_many_were_tried(encryption: str) -> None:
    found = _read_all(LOCKED[encryption](), KINDS[encryption], ("tulip-6", "Tulip-7"))
    member, content = found[b"DCIM/IMG_0001.jpg"]
    assert member.problem == "encrypted: none of the 2 supplied passwords opens it" and content is None


@pytest.mark.parametrize("encryption", LOCKED)
def test_a_supplied_password_opens_the_members_which_read_back_byte_for_byte(encryption: str) -> None:
    found = _read_all(LOCKED[encryption](), KINDS[encryption], ("wrong", "tulip-7", "also wrong"))
    member, content = found[b"DCIM/IMG_0001.jpg"]
    assert member.encrypted and member.problem is None
    assert content == hashlib.md5(PICTURE).hexdigest()
    assert found[b"notes.txt"][1] == hashlib.md5(b"meet at six").hexdigest()


def test_a_7z_whose_names_are_encrypted_lists_nothing_without_the_password_and_everything_with_it() -> None:
    data = seven_zip(ENTRIES, "tulip-7", encrypt_names=True)
    with pytest.raises(ArchiveError, match="names are encrypted too, and none of the 1 supplied passwords"):
        list(list_members(io.BytesIO(data), "7z", ("nope",)))
    found = _read_all(data, "7z", ("nope", "tulip-7"))
    assert found[b"DCIM/IMG_0001.jpg"][1] == hashlib.md5(PICTURE).hexdigest()


def test_a_wrong_password_that_passes_zipcrypto_check_byte_does_not_hide_the_right_one() -> None:
    """ZipCrypto checks a password against one byte: one wrong password in 256 passes.  The right one must still
    be found, by the content's CRC."""
    data = encrypted_zip({"a.jpg": PICTURE}, "right")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[0]
        decoy = next(f"decoy{n}" for n in range(100_000) if _passes_check_byte(archive, info, f"decoy{n}"))
    found = _read_all(data, "zip", (decoy, "right"))
    assert found[b"a.jpg"][1] == hashlib.md5(PICTURE).hexdigest()


def _passes_check_byte(archive: zipfile.ZipFile, info: zipfile.ZipInfo, password: str) -> bool:
    try:
        archive.open(info, pwd=password.encode()).close()
    except RuntimeError:
        return False
    return True


def test_a_password_typed_with_non_ascii_letters_opens_an_archive_made_with_it() -> None:
    found = _read_all(encrypted_zip({"a.jpg": PICTURE}, "Mädchen-ß"), "zip", ("Mädchen-ß",))
    assert found[b"a.jpg"][1] == hashlib.md5(PICTURE).hexdigest()
