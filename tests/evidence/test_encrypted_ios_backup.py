"""Encrypted iTunes/Finder backups as a source: with the password every stored file is its plaintext under its real
path; without it, a plain folder and a clear reason; damaged keybags, files and records say what is wrong."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from fieldlab.demo import procedural_jpeg
from fieldlab.evidence.image import UnlockOptions
from fieldlab.evidence.item import Item, WalkError
from fieldlab.evidence.phone import backup_keybag
from fieldlab.evidence.phone.backup_keybag import parse_keybag, unlock_keybag
from fieldlab.evidence.phone.encrypted_backup import LAYOUT, EncryptedIosBackupSource, parse_key_layer
from fieldlab.evidence.phone.ios_backup import BackupError
from fieldlab.evidence.sources import describe_source, open_source
from fieldlab.locator import Locator, LocatorError
from tests.evidence.encrypted_ios_backup_builder import (
    APPLE_DPIC,
    APPLE_ITER,
    ExtraFile,
    build_backups,
    keybag,
    replace_manifest_plist,
    tlv,
)

PASSWORD = "Hunter2 ünïcode"
PHOTO = ExtraFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0101.JPG", procedural_jpeg(41, 320, 240))
UNNAMED = "e7/e794f6ffcc3c222535f47684a63d5178da3c4500"  # stored in the real backup, named by no record


def _open(backup: Path, *passwords: str) -> EncryptedIosBackupSource:
    spec = describe_source(backup, UnlockOptions(archive_passwords=passwords))
    assert spec.layout == LAYOUT
    source = open_source(spec)
    assert isinstance(source, EncryptedIosBackupSource)
    return source


def _walk(source: EncryptedIosBackupSource) -> tuple[dict[str, Item], list[WalkError]]:
    items, errors = {}, []
    for entry in source.walk():
        if isinstance(entry, WalkError):
            errors.append(entry)
        else:
            items[entry.path] = entry
    return items, errors


def _read(source: EncryptedIosBackupSource, locator: Locator) -> bytes:
    handle = source.open_item(locator)
    try:
        buffer = bytearray(handle.size + 100)
        return bytes(buffer[:handle.readinto(buffer)])
    finally:
        handle.close()


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return build_backups(tmp_path_factory.mktemp("ios"), PASSWORD, [PHOTO])


def test_only_a_folder_whose_manifest_plist_says_encrypted_is_read_as_an_encrypted_backup(backups) -> None:
    assert describe_source(backups.encrypted).layout == LAYOUT
    assert describe_source(backups.plain).layout == ""
    assert describe_source(backups.plain.parent).layout == ""
    assert LAYOUT in repr(describe_source(backups.encrypted)) and PASSWORD not in repr(
        describe_source(backups.encrypted, UnlockOptions(archive_passwords=(PASSWORD,))))


def test_with_the_password_every_present_file_is_its_plaintext_under_its_real_path(backups) -> None:
    source = _open(backups.encrypted, "not it", PASSWORD)
    try:
        items, errors = _walk(source)
        assert errors == []
        decrypted = {path: item for path, item in items.items() if item.locator.layers[-1].kind == "ioskey"}
        assert len(decrypted) == 11  # the ten present files the manifest names, and the added photo
        for path, item in decrypted.items():
            stored = item.locator.layers[0].value.decode()
            plain = (backups.plain / stored).read_bytes()
            assert hashlib.md5(_read(source, item.locator)).digest() == hashlib.md5(plain).digest(), path
            assert item.size == len(plain)
        photo = decrypted[PHOTO.device_path]
        assert _read(source, photo.locator) == PHOTO.data
        assert photo.mtime == PHOTO.mtime and photo.btime == PHOTO.mtime
        assert "HomeDomain/Library/SMS/sms.db" in decrypted
        # the rest as in a plain folder: the backup's own files, and a stored file no record names (ciphertext)
        assert set(items) - set(decrypted) == {"Info.plist", "Manifest.plist", "Manifest.db", UNNAMED}
        assert list(items).index(PHOTO.device_path) == 0  # the camera roll first, as a folder walk puts DCIM first
    finally:
        source.close()


def test_a_decrypted_file_reads_the_same_from_any_offset_and_from_its_locator_text(backups) -> None:
    source = _open(backups.encrypted, PASSWORD)
    try:
        items, _ = _walk(source)
        locator = Locator.parse(items[PHOTO.device_path].locator.to_text())
        assert _read(source, locator) == _read(source, locator) == PHOTO.data
        handle = source.open_item(locator)
        for offset in (0, 1, 15, 16, 17, 4095, len(PHOTO.data) - 3, len(PHOTO.data)):
            handle.seek(offset)
            buffer = bytearray(37)
            count = handle.readinto(buffer)
            assert bytes(buffer[:count]) == PHOTO.data[offset:offset + 37]
        handle.close()
    finally:
        source.close()


def test_the_decrypted_manifest_is_the_plain_backups_and_leaves_nothing_behind(backups) -> None:
    source = _open(backups.encrypted, PASSWORD)
    manifest = source.decrypted_manifest()
    assert manifest.read_bytes() == (backups.plain / "Manifest.db").read_bytes()
    source.close()
    assert not manifest.exists() and not manifest.parent.exists()


@pytest.mark.parametrize(("passwords", "reason"), [
    ((), "no password given (--password)"),
    (("wrong",), "the password does not open it"),
    (("wrong", "also wrong"), "none of the 2 passwords given open it"),
])
def test_without_the_right_password_the_backup_is_a_plain_folder_with_a_clear_error(backups, passwords, reason) -> None:
    source = _open(backups.encrypted, *passwords)
    try:
        items, errors = _walk(source)
        assert [e.message for e in errors] == [
            f"encrypted iOS backup: {reason}; files are listed by their stored names only, as ciphertext"]
        stored = {p.relative_to(backups.encrypted).as_posix() for p in backups.encrypted.rglob("*") if p.is_file()}
        assert set(items) == stored
        assert all(len(item.locator.layers) == 1 for item in items.values())
        with pytest.raises(BackupError, match=re.escape(reason)):
            source.decrypted_manifest()
        with pytest.raises(OSError, match=re.escape(reason)):  # a locator of a decrypted file, as a resumed scan could hold
            source.open_item(Locator.parse(f"file:{PHOTO.file_id[:2]}/{PHOTO.file_id}|ioskey:3:{'00' * 40}:10"))
    finally:
        source.close()


@pytest.mark.parametrize(("damage", "message"), [
    (lambda kb: kb[:-7], "the keybag is damaged: its WPKY record runs past the end"),
    (lambda kb: kb + b"\0\0\0", "the keybag is damaged: its last record is cut short"),
    (lambda kb: kb.replace(b"SALT", b"SALX"), "lacks the salt or rounds"),
    (lambda kb: kb.replace(b"ITER\0\0\0\x04\0\0\0\x0a", b"ITER\0\0\0\x04\x7f\0\0\0"), "refused as damaged"),
    (lambda kb: tlv([(b"SALT", b"x" * 20), (b"ITER", b"\0\0\0\x0a")]), "no class key the password can open"),
])
def test_a_damaged_keybag_is_named_as_such_and_the_backup_walked_as_a_folder(tmp_path: Path, damage, message) -> None:
    built = build_backups(tmp_path, PASSWORD)
    good = keybag(PASSWORD, built.class_keys, 10, 10)
    replace_manifest_plist(built.encrypted, BackupKeyBag=damage(good))
    source = _open(built.encrypted, PASSWORD)
    try:
        items, errors = _walk(source)
        assert len(errors) == 1 and message in errors[0].message
        assert "files are listed by their stored names only" in errors[0].message
        assert "Info.plist" in items and len(items) == 14  # 11 stored files, Info.plist, Manifest.plist and .db
    finally:
        source.close()


def test_a_damaged_manifest_db_is_named_and_every_file_listed_by_its_stored_name(tmp_path: Path) -> None:
    built = build_backups(tmp_path, PASSWORD, [PHOTO])
    manifest = built.encrypted / "Manifest.db"
    os.truncate(manifest, manifest.stat().st_size - 3)
    source = _open(built.encrypted, PASSWORD)
    try:
        items, errors = _walk(source)
        assert [(e.path, e.message) for e in errors] == [(
            "Manifest.db", f"encrypted iOS backup: Manifest.db is {manifest.stat().st_size:,} bytes, not whole AES "
                           "blocks: truncated or damaged; files not listed by their real path are listed by their "
                           "stored names")]
        assert f"{PHOTO.file_id[:2]}/{PHOTO.file_id}" in items and len(items) == 15
        with pytest.raises(BackupError, match="not whole AES blocks"):  # asked again by the phone stage: same answer
            source.decrypted_manifest()
    finally:
        source.close()


def test_absurd_rounds_are_refused_before_any_work() -> None:
    with pytest.raises(BackupError, match="DPIC; Apple uses 10,000,000"):
        parse_keybag(tlv([(b"SALT", b"s" * 20), (b"ITER", (10_000).to_bytes(4, "big")),
                          (b"DPSL", b"d" * 20), (b"DPIC", (2_000_000_000).to_bytes(4, "big"))]))
    with pytest.raises(BackupError, match="larger|bytes: damaged"):
        parse_keybag(b"\0" * (1 << 20))


def test_a_truncated_stored_file_and_a_record_larger_than_its_file_are_clear_errors(tmp_path: Path) -> None:
    long_photo = ExtraFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0102.JPG", procedural_jpeg(42))
    built = build_backups(tmp_path, PASSWORD, [PHOTO, long_photo],
                          recorded_sizes={long_photo.file_id: len(long_photo.data) + 5000})
    cut = built.encrypted / PHOTO.file_id[:2] / PHOTO.file_id
    os.truncate(cut, cut.stat().st_size - 5)
    source = _open(built.encrypted, PASSWORD)
    try:
        items, _ = _walk(source)
        with pytest.raises(OSError, match="not whole AES blocks: truncated or damaged"):
            source.open_item(items[PHOTO.device_path].locator)
        os.truncate(cut, cut.stat().st_size - 27)  # now whole blocks, but fewer than the record needs
        with pytest.raises(OSError, match=f"the manifest records {len(PHOTO.data):,} bytes but the stored file holds only"):
            source.open_item(items[PHOTO.device_path].locator)
        assert items[long_photo.device_path].size == len(long_photo.data) + 5000
        with pytest.raises(OSError, match="truncated, or its record is wrong"):
            source.open_item(items[long_photo.device_path].locator)
    finally:
        source.close()


def test_a_record_smaller_than_its_file_reads_what_it_records_and_warns(tmp_path: Path) -> None:
    built = build_backups(tmp_path, PASSWORD, [PHOTO], recorded_sizes={PHOTO.file_id: 1000})
    source = _open(built.encrypted, PASSWORD)
    try:
        items, _ = _walk(source)
        handle = source.open_item(items[PHOTO.device_path].locator)
        buffer = bytearray(2000)
        assert handle.readinto(buffer) == 1000 and bytes(buffer[:1000]) == PHOTO.data[:1000]
        assert "more than its recorded size" in handle.changed(1000, None, 1000).message
        handle.close()
    finally:
        source.close()


def test_key_layers_are_validated() -> None:
    wrapped, size = parse_key_layer(b"4:" + b"ab" * 40 + b":633")
    assert wrapped[:4] == (4).to_bytes(4, "little") and len(wrapped) == 44 and size == 633
    for bad in (b"4:abab:633", b"x:" + b"ab" * 40 + b":1", b"4:" + b"zz" * 40 + b":1", b"4:" + b"ab" * 40):
        with pytest.raises(LocatorError):
            parse_key_layer(bad)


def test_apples_real_rounds_unlock_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apple's ten million rounds are paid once: workers and the phone stage reuse the derived keys."""
    monkeypatch.setattr(backup_keybag, "_unlocked", {})
    derivations: list[int] = []
    real_pbkdf2 = hashlib.pbkdf2_hmac

    def counted(name: str, secret: bytes, salt: bytes, rounds: int, length: int) -> bytes:
        derivations.append(rounds)
        return real_pbkdf2(name, secret, salt, rounds, length)

    class_keys = {c: bytes([c]) * 32 for c in range(1, 12)}
    bag = parse_keybag(keybag(PASSWORD, class_keys, APPLE_ITER, APPLE_DPIC))
    assert (bag.iterations, bag.dp_iterations) == (APPLE_ITER, APPLE_DPIC)
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)
    assert unlock_keybag(bag, PASSWORD) == class_keys
    assert sorted(derivations) == sorted([APPLE_DPIC, APPLE_ITER])
    assert unlock_keybag(bag, PASSWORD) == class_keys
    assert len(derivations) == 2  # cached: no second derivation


def test_a_keybag_from_before_ios_10_2_unlocks_with_its_sha1_rounds_alone() -> None:
    class_keys = {3: b"k" * 32, 4: b"m" * 32}
    bag = parse_keybag(keybag(PASSWORD, class_keys, 50, None))
    assert bag.dp_salt is None and unlock_keybag(bag, PASSWORD) == class_keys
    assert unlock_keybag(bag, "wrong") is None
