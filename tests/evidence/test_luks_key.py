"""LUKS1 unlocked by fieldlab itself: the master key derived from the passphrase (``luks_key``) is the one cryptsetup
was given, and the payload decrypted here (``luks_sectors``) is byte for byte what libluksde decrypts, for every
cipher cryptsetup has written by default; other ciphers still open through libluksde."""

from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

import pyluksde
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fieldlab.evidence.image import ImageSource, UnlockOptions
from fieldlab.evidence.luks_header import LuksLayout, read_luks_header
from fieldlab.evidence.luks_key import LuksMasterKey, derive_master_key, derived_here
from fieldlab.evidence.luks_sectors import LuksPayload
from fieldlab.evidence.sources import SourceSpec
from fieldlab.problems import ProblemKind

PASSPHRASE = "correct horse battery staple"


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]


def _formatted(folder: Path, cipher: str, key_bits: int, hash_name: str = "sha256") -> tuple[Path, bytes]:
    """A 3 MiB file of seeded noise made a LUKS1 volume by cryptsetup with a master key of our choosing: the payload
    is the noise, which both decrypters turn into the same (meaningless) plaintext.  Returns (volume, master key)."""
    rng = random.Random(f"{cipher} {key_bits} {hash_name}")
    volume, key_file, master_file = folder / "volume.raw", folder / "passphrase", folder / "master-key"
    volume.write_bytes(rng.randbytes(3 * 1024 * 1024))
    key_file.write_text(PASSPHRASE)
    master_key = rng.randbytes(key_bits // 8)
    master_file.write_bytes(master_key)
    subprocess.run(["cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--key-file", str(key_file),
                    "--master-key-file", str(master_file), "--cipher", cipher, "--key-size", str(key_bits),
                    "--hash", hash_name, "--pbkdf-force-iterations", "1000", str(volume)],
                   check=True, capture_output=True)
    return volume, master_key


def _layout(volume: Path) -> LuksLayout:
    header = read_luks_header(_Bytes(volume.read_bytes()))
    assert header.problem is None and header.layout is not None
    return header.layout


def _libluksde_plaintext(volume: Path, passphrase: str = PASSPHRASE) -> bytes:
    opened = pyluksde.volume()
    opened.set_password(passphrase)
    opened.open(str(volume))
    try:
        return opened.read_buffer_at_offset(opened.get_size(), 0)  # whole: libluksde misreads a read begun mid-sector
    finally:
        opened.close()


@pytest.mark.parametrize(("cipher", "key_bits"), [
    ("aes-xts-plain64", 256),  # cryptsetup's LUKS1 default since 1.6 (2013)
    ("aes-xts-plain64", 512),
    ("aes-cbc-essiv:sha256", 256),  # the default before it
    ("aes-cbc-plain64", 256),
    ("aes-cbc-plain", 256),
    ("aes-xts-plain", 256),
])
def test_the_key_derived_here_is_cryptsetups_and_the_payload_decrypts_as_libluksde_decrypts_it(
        tmp_path: Path, cipher: str, key_bits: int) -> None:
    volume, master_key = _formatted(tmp_path, cipher, key_bits)
    layout, data = _layout(volume), _Bytes(volume.read_bytes())
    assert derived_here(layout)
    key = derive_master_key(layout, data, PASSPHRASE)
    assert key is not None and key.key == master_key
    payload = LuksPayload(data, layout, key)
    expected = _libluksde_plaintext(volume)
    assert payload.size == len(expected) == 1024 * 1024
    assert payload.read(0, payload.size) == expected
    rng = random.Random(cipher)
    for _ in range(100):  # reads begun and ended anywhere, across sectors and the 256 KiB decryption chunks
        offset, size = rng.randrange(payload.size), rng.randrange(1, 600_000)
        assert payload.read(offset, size) == expected[offset:offset + size]
    assert payload.read(payload.size, 10) == b""


@pytest.mark.parametrize(("cipher", "key_bits", "refusal"), [
    ("aes-cbc-essiv:sha256", 128, "volume is locked"),
    ("aes-cbc-plain64", 192, "unsupported master key size"),
])
def test_a_cbc_volume_libluksde_cannot_read_is_decrypted_here_as_dm_crypt_defines_it(
        tmp_path: Path, cipher: str, key_bits: int, refusal: str) -> None:
    """The reference: one sector at a time, CBC, the IV the sector's 64-bit little-endian number, encrypted under
    SHA-256 of the key for ESSIV."""
    volume, master_key = _formatted(tmp_path, cipher, key_bits)
    with pytest.raises(OSError, match=refusal):
        _libluksde_plaintext(volume)
    layout, data = _layout(volume), _Bytes(volume.read_bytes())
    key = derive_master_key(layout, data, PASSPHRASE)
    assert key is not None and key.key == master_key
    essiv = Cipher(algorithms.AES(hashlib.sha256(master_key).digest()), modes.ECB()).encryptor()

    def iv(sector: int) -> bytes:
        number = sector.to_bytes(16, "little")
        return essiv.update(number) if "essiv" in cipher else number

    ciphertext = data.read(layout.payload_offset, 1024 * 1024)
    expected = b"".join(Cipher(algorithms.AES(master_key), modes.CBC(iv(sector))).decryptor()
                        .update(ciphertext[sector * 512:(sector + 1) * 512]) for sector in range(len(ciphertext) // 512))
    assert LuksPayload(data, layout, key).read(0, len(expected)) == expected


def test_a_wrong_passphrase_derives_no_key(tmp_path: Path) -> None:
    volume, _ = _formatted(tmp_path, "aes-xts-plain64", 256)
    assert derive_master_key(_layout(volume), _Bytes(volume.read_bytes()), "wrong passphrase") is None


def test_a_passphrase_of_the_second_key_slot_opens_the_volume(tmp_path: Path) -> None:
    volume, master_key = _formatted(tmp_path, "aes-cbc-essiv:sha256", 256)
    second = tmp_path / "second"
    second.write_text("the other user's passphrase")
    subprocess.run(["cryptsetup", "luksAddKey", "--batch-mode", "--key-file", str(tmp_path / "passphrase"),
                    "--pbkdf-force-iterations", "1000", str(volume), str(second)], check=True, capture_output=True)
    layout = _layout(volume)
    assert [slot.index for slot in layout.slots] == [0, 1]
    key = derive_master_key(layout, _Bytes(volume.read_bytes()), "the other user's passphrase")
    assert key is not None and key.key == master_key


def test_a_ripemd160_volume_libluksde_cannot_open_is_opened_here(tmp_path: Path) -> None:
    volume, master_key = _formatted(tmp_path, "aes-xts-plain64", 256, "ripemd160")
    with pytest.raises(OSError, match="unsupported password hashing method"):
        _libluksde_plaintext(volume)
    key = derive_master_key(_layout(volume), _Bytes(volume.read_bytes()), PASSPHRASE)
    assert key is not None and key.key == master_key


def _walked_volume(volume: Path, unlock: UnlockOptions) -> tuple[ImageSource, object]:
    source = ImageSource(volume, unlock)
    (facts,) = source.facts.volumes
    return source, facts


def test_a_cipher_decrypted_only_by_libluksde_still_opens_through_it(tmp_path: Path) -> None:
    volume, _ = _formatted(tmp_path, "aes-ecb", 256)
    assert not derived_here(_layout(volume))
    source, _ = _walked_volume(volume, UnlockOptions(luks_password=PASSPHRASE))
    try:
        opened = source._range(source._volume_base(source.facts.volumes[0]))
        plaintext = _libluksde_plaintext(volume)
        assert opened.data.read(0, opened.data.size) == plaintext
        for offset, size in ((100, 1000), (700, 3000), (511, 2), (1024, 512), (opened.data.size - 5, 100)):
            assert opened.data.read(offset, size) == plaintext[offset:offset + size], (offset, size)
        assert source.unlock_for_other_processes().luks_keys == ()  # libluksde keeps its key to itself
    finally:
        source.close()


def test_the_derived_key_opens_the_volume_in_another_source_without_the_passphrase_or_any_pbkdf2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    volume, master_key = _formatted(tmp_path, "aes-xts-plain64", 256)
    first, facts = _walked_volume(volume, UnlockOptions(luks_password=PASSPHRASE))
    handed = first.unlock_for_other_processes()
    first.close()
    assert [key.key for key in handed.luks_keys] == [master_key]

    def refused(*_: object) -> bytes:
        raise AssertionError("PBKDF2 ran again")

    monkeypatch.setattr("hashlib.pbkdf2_hmac", refused)
    second, facts = _walked_volume(volume, UnlockOptions(luks_keys=handed.luks_keys))
    try:
        opened = second._range(second._volume_base(second.facts.volumes[0]))
        assert opened.data.read(0, opened.data.size) == _libluksde_plaintext(volume)
    finally:
        second.close()


def test_a_key_of_another_volume_opens_nothing_and_the_volume_stays_locked(tmp_path: Path) -> None:
    volume, _ = _formatted(tmp_path, "aes-xts-plain64", 256)
    other = LuksMasterKey(b"\0" * 56, bytes(32))
    source, facts = _walked_volume(volume, UnlockOptions(luks_keys=(other,)))
    assert (facts.unlocked, facts.problem_kind) == (False, ProblemKind.ENCRYPTED)
    source.close()


def test_no_repr_shows_the_passphrase_or_the_master_key(tmp_path: Path) -> None:
    volume, master_key = _formatted(tmp_path, "aes-xts-plain64", 256)
    source, _ = _walked_volume(volume, UnlockOptions(luks_password=PASSPHRASE))
    unlock = source.unlock_for_other_processes()
    source.close()
    shown = " ".join(repr(value) for value in (unlock, unlock.luks_keys, SourceSpec(str(volume), "image", unlock)))
    assert PASSPHRASE not in shown
    assert not any(form in shown for form in (repr(master_key), master_key.hex(), str(list(master_key))))
