"""The corpus's LUKS1 volumes: cryptsetup's random salts and stripes drawn again from the plaintext, so the same
plaintext gives the same bytes, and the header is still one cryptsetup unlocks with the passphrase alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fieldlab.validation.disks import random_bytes
from fieldlab.validation.luks import luks1_volume

PASSPHRASE = "validation passphrase"


@pytest.fixture
def plaintext(tmp_path: Path) -> Path:
    path = tmp_path / "plain.img"
    path.write_bytes(random_bytes(7, 2 * 1024 * 1024))
    return path


def _unlocks(volume: Path, passphrase: str, tmp_path: Path) -> bool:
    key = tmp_path / "key"
    key.write_text(passphrase)
    tested = subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-file", str(key), str(volume)],
                            capture_output=True)
    return tested.returncode == 0


def test_the_same_plaintext_and_passphrase_give_the_same_volume_bytes(plaintext: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.img", tmp_path / "second.img"
    assert luks1_volume(plaintext, first, PASSPHRASE) == luks1_volume(plaintext, second, PASSPHRASE)
    assert first.read_bytes() == second.read_bytes()
    third = tmp_path / "third.img"
    luks1_volume(plaintext, third, "another passphrase")
    assert third.read_bytes() != first.read_bytes()  # the slot's key material follows the passphrase


def test_cryptsetup_unlocks_the_redrawn_header_with_the_passphrase_and_no_other(plaintext: Path,
                                                                                tmp_path: Path) -> None:
    volume = tmp_path / "volume.img"
    luks1_volume(plaintext, volume, PASSPHRASE)
    assert _unlocks(volume, PASSPHRASE, tmp_path)
    assert not _unlocks(volume, PASSPHRASE + "!", tmp_path)
