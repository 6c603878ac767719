"""LUKS2 volumes (cryptsetup's default since 2019) opened with the examiner's passphrase: the volume key derived here
is cryptsetup's for Argon2id, Argon2i and PBKDF2 key slots, the payload decrypts as dm-crypt defines it for 512- and
4096-byte sectors and an IV tweak, a scan finds the known picture inside, the second header copy stands in for a
damaged first, and a hostile JSON header is a recorded problem of its volume, refused before any KDF runs."""

from __future__ import annotations

import hashlib
import json
import random
import re
import struct
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import fieldlab
from fieldlab.evidence import luks_key
from fieldlab.evidence.image import ImageSource, UnlockOptions
from fieldlab.evidence.item import Item, WalkError
from fieldlab.evidence.luks_header import read_luks_header
from fieldlab.evidence.luks_key import derive_master_key
from fieldlab.evidence.luks_layout import LuksLayout
from fieldlab.evidence.luks_sectors import LuksPayload
from fieldlab.evidence.volume_layers import BY_KIND, RangeVolume
from fieldlab.problems import ProblemKind
from fieldlab.validation.disks import PlantedFile, build_disk, random_bytes
from fieldlab.validation.luks import Luks2Format, build_luks2_disk, luks2_volume, rewrite_luks2_metadata
from tests.evidence.test_luks import _content, _walk

PASSPHRASE = "correct horse battery staple"
KNOWN = PlantedFile("home/sam/Pictures/IMG_2001.JPG", random_bytes(71, 30_000))
OTHER = PlantedFile("home/sam/notes.bin", random_bytes(72, 9_000))
LOCKED = "LUKS volume: locked, give --luks-password to read it"
WRONG = "LUKS volume: the --luks-password given does not unlock it"


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]


@pytest.fixture(scope="module")
def plaintext(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ext4 file system, as a Linux installer puts inside LUKS2."""
    folder = tmp_path_factory.mktemp("luks2-plain")
    return build_disk(folder / "plain.img", "none", [("ext4", 8, [KNOWN, OTHER])]).path


@pytest.fixture(scope="module")
def argon2_volume(plaintext: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    volume = tmp_path_factory.mktemp("luks2-argon2") / "volume.raw"
    luks2_volume(plaintext, volume, PASSPHRASE)
    return volume.read_bytes()


@pytest.fixture(scope="module")
def pbkdf2_volume(plaintext: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    volume = tmp_path_factory.mktemp("luks2-pbkdf2") / "volume.raw"
    luks2_volume(plaintext, volume, PASSPHRASE, Luks2Format("pbkdf2", key_bits=256))
    return volume.read_bytes()


def _layout(volume: bytes) -> LuksLayout:
    header = read_luks_header(_Bytes(volume))
    assert header.problem is None and header.layout is not None, header.problem
    return header.layout


def _cryptsetup_volume_key(volume: Path, passphrase: str = PASSPHRASE) -> bytes:
    dump = subprocess.run(["cryptsetup", "luksDump", "--dump-volume-key", "--batch-mode", "--key-file", "-",
                           str(volume)], input=passphrase.encode(), capture_output=True, check=True).stdout.decode()
    hex_text = dump.split("MK dump:", 1)[1]
    return bytes.fromhex("".join(re.findall(r"\b[0-9a-f]{2}\b", hex_text)))


@pytest.mark.parametrize("luks2", [
    Luks2Format("argon2id"),  # cryptsetup's LUKS2 default: argon2id, aes-xts-plain64, 512-bit key
    Luks2Format("argon2i", key_bits=256, sector_size=4096),
    Luks2Format("pbkdf2", sector_size=4096),
    Luks2Format("pbkdf2", key_bits=256, sector_size=1024),
], ids=lambda luks2: f"{luks2.pbkdf}-{luks2.key_bits}-{luks2.sector_size}")
def test_the_volume_key_derived_here_is_cryptsetups_and_the_payload_decrypts_to_the_file_system_written_in(
        plaintext: Path, tmp_path: Path, luks2: Luks2Format) -> None:
    volume = tmp_path / "volume.raw"
    _, volume_key = luks2_volume(plaintext, volume, PASSPHRASE, luks2)
    data = _Bytes(volume.read_bytes())
    layout = _layout(data.data)
    assert (layout.version, layout.sector_size, layout.key_bytes) == (2, luks2.sector_size, luks2.key_bits // 8)
    assert [slot.kdf.name for slot in layout.slots] == [luks2.pbkdf]
    key = derive_master_key(layout, data, PASSPHRASE)
    assert key is not None and key.key == volume_key == _cryptsetup_volume_key(volume)
    payload = LuksPayload(data, layout, key)
    expected = plaintext.read_bytes()
    assert payload.size == len(expected)
    assert payload.read(0, payload.size) == expected
    rng = random.Random(str(luks2))
    for _ in range(60):  # reads begun and ended anywhere, across sectors and the decryption chunks
        offset, size = rng.randrange(payload.size), rng.randrange(1, 600_000)
        assert payload.read(offset, size) == expected[offset:offset + size]


@pytest.mark.parametrize("luks2", [
    Luks2Format("argon2id"), Luks2Format("pbkdf2", sector_size=4096), Luks2Format("argon2i", key_bits=256,
                                                                                  sector_size=2048),
], ids=lambda luks2: f"{luks2.pbkdf}-{luks2.key_bits}-{luks2.sector_size}")
def test_a_payload_cryptsetup_itself_encrypted_decrypts_to_what_it_was_given(tmp_path: Path, luks2: Luks2Format) -> None:
    """``cryptsetup reencrypt --encrypt`` (offline: no device mapper) encrypts a file's bytes in place with its own
    code and moves them past the new header: the payload read here is those bytes."""
    noise = random.Random(str(luks2)).randbytes(2 * 1024 * 1024)
    volume, key_file = tmp_path / "volume.raw", tmp_path / "passphrase"
    volume.write_bytes(noise + bytes(32 * 1024 * 1024))
    key_file.write_text(PASSPHRASE)
    subprocess.run(["cryptsetup", "reencrypt", "--encrypt", "--type", "luks2", "--batch-mode", "--key-file",
                    str(key_file), "--reduce-device-size", "32M", *luks2.options(), str(volume)],
                   check=True, capture_output=True)
    data = _Bytes(volume.read_bytes())
    assert noise not in data.data
    layout = _layout(data.data)
    key = derive_master_key(layout, data, PASSPHRASE)
    assert key is not None and key.key == _cryptsetup_volume_key(volume)
    assert LuksPayload(data, layout, key).read(0, len(noise)) == noise


def test_an_iv_tweak_shifts_every_sectors_iv_as_dm_crypt_counts_it(plaintext: Path, tmp_path: Path) -> None:
    """iv_tweak 24 (512-byte sectors) on 4096-byte sectors: the first sector's IV is 24, the next 32.  The header,
    rewritten with it, is still one cryptsetup reads."""
    volume = tmp_path / "volume.raw"
    luks2_volume(plaintext, volume, PASSPHRASE, Luks2Format(sector_size=4096), iv_tweak=24)
    dumped = subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", str(volume)], capture_output=True,
                            check=True).stdout
    assert json.loads(dumped)["segments"]["0"]["iv_tweak"] == "24"
    data = _Bytes(volume.read_bytes())
    layout = _layout(data.data)
    assert layout.iv_offset == 24
    key = derive_master_key(layout, data, PASSPHRASE)
    assert key is not None and LuksPayload(data, layout, key).read(0, 1 << 30) == plaintext.read_bytes()


def test_an_aes_cbc_essiv_payload_of_4096_byte_sectors_decrypts_as_dm_crypt_defines_it(tmp_path: Path) -> None:
    """The reference: CBC over each 4,096-byte sector, the IV its 512-byte sector number encrypted under SHA-256 of
    the key (ESSIV).  The payload is seeded noise, so both sides decrypt the same (meaningless) bytes."""
    rng = random.Random(4096)
    volume, key_file, volume_key_file = tmp_path / "volume.raw", tmp_path / "passphrase", tmp_path / "volume-key"
    volume.write_bytes(rng.randbytes(17 * 1024 * 1024))
    key_file.write_text(PASSPHRASE)
    volume_key = rng.randbytes(32)
    volume_key_file.write_bytes(volume_key)
    subprocess.run(["cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--key-file", str(key_file),
                    "--volume-key-file", str(volume_key_file), *Luks2Format("pbkdf2", "aes-cbc-essiv:sha256", 256,
                                                                            4096).options(), str(volume)],
                   check=True, capture_output=True)
    data = _Bytes(volume.read_bytes())
    layout = _layout(data.data)
    key = derive_master_key(layout, data, PASSPHRASE)
    assert key is not None and key.key == volume_key
    essiv = Cipher(algorithms.AES(hashlib.sha256(volume_key).digest()), modes.ECB()).encryptor()
    ciphertext = data.read(layout.payload_offset, 256 * 1024)
    expected = b"".join(
        Cipher(algorithms.AES(volume_key), modes.CBC(essiv.update((sector * 8).to_bytes(16, "little")))).decryptor()
        .update(ciphertext[sector * 4096:(sector + 1) * 4096]) for sector in range(len(ciphertext) // 4096))
    assert LuksPayload(data, layout, key).read(0, len(expected)) == expected


def _with_a_second_pbkdf2_slot(argon2_volume: bytes, tmp_path: Path) -> Path:
    """The argon2id volume with a second key slot, PBKDF2, opened by SECOND_PASSPHRASE (cryptsetup luksAddKey)."""
    volume, first, second = tmp_path / "volume.raw", tmp_path / "first", tmp_path / "second"
    volume.write_bytes(argon2_volume)
    first.write_text(PASSPHRASE)
    second.write_text(SECOND_PASSPHRASE)
    subprocess.run(["cryptsetup", "luksAddKey", "--batch-mode", "--key-file", str(first), "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", str(volume), str(second)], check=True, capture_output=True)
    return volume


SECOND_PASSPHRASE = "the other user's passphrase"


def test_a_passphrase_of_a_second_pbkdf2_key_slot_opens_an_argon2_volume(argon2_volume: bytes, tmp_path: Path) -> None:
    volume = _with_a_second_pbkdf2_slot(argon2_volume, tmp_path)
    data = _Bytes(volume.read_bytes())
    layout = _layout(data.data)
    assert [(slot.index, slot.kdf.name) for slot in layout.slots] == [(0, "argon2id"), (1, "pbkdf2")]
    key = derive_master_key(layout, data, SECOND_PASSPHRASE)
    assert key is not None and key.key == _cryptsetup_volume_key(volume)
    assert derive_master_key(layout, data, "neither passphrase") is None


def test_a_key_slot_of_a_kdf_not_run_here_is_left_untried_and_a_refused_passphrase_says_so(
        argon2_volume: bytes, tmp_path: Path) -> None:
    volume = _with_a_second_pbkdf2_slot(argon2_volume, tmp_path)
    spoiled = rewrite_luks2_metadata(volume.read_bytes(), lambda metadata: metadata["keyslots"]["1"]["kdf"].update(
        type="scrypt"))
    assert [slot.index for slot in _layout(spoiled).slots] == [0]
    source, items, _ = _opened(spoiled, tmp_path)
    assert KNOWN.path in items
    source.close()
    source, items, errors = _walk(tmp_path / "volume.raw", SECOND_PASSPHRASE)
    assert not items
    assert [(e.kind, e.message) for e in errors] == [(ProblemKind.ENCRYPTED, (
        f"{WRONG} (key slot 1's KDF (scrypt), split hash (sha256) or cipher (aes-xts-plain64) is not run by "
        "fieldlab: not tried)"))]


def test_a_luks2_laptop_scanned_with_the_passphrase_finds_the_known_picture_and_without_it_records_why_not(
        plaintext: Path, tmp_path: Path) -> None:
    disk = build_luks2_disk(tmp_path / "evidence" / "laptop.raw", "gpt", plaintext, PASSPHRASE,
                            Luks2Format(sector_size=4096))
    known = tmp_path / "known.csv"
    known.write_text(f"md5,category\n{KNOWN.md5},A\n")
    fieldlab.import_hashset(known, name="known")
    before = disk.path.read_bytes()

    for case, password, message in (("locked", None, LOCKED), ("wrong", "not the passphrase", WRONG)):
        fieldlab.scan(disk.path, tmp_path / case, exhibit_ref="LAPTOP", unlock=UnlockOptions(luks_password=password))
        assert list(fieldlab.hits(tmp_path / case)) == []
        assert [p.message for p in fieldlab.list_problems(tmp_path / case, ProblemKind.ENCRYPTED)] == [message]

    fieldlab.scan(disk.path, tmp_path / "unlocked", exhibit_ref="LAPTOP",
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    assert [(hit.path.rsplit("/", 1)[-1], hit.category) for hit in fieldlab.hits(tmp_path / "unlocked")] == [
        ("IMG_2001.JPG", "A")]
    assert fieldlab.list_problems(tmp_path / "unlocked", ProblemKind.ENCRYPTED) == []
    case_bytes = b"".join(p.read_bytes() for p in (tmp_path / "unlocked").rglob("*") if p.is_file())
    for secret in (PASSPHRASE.encode(), disk.master_key, disk.master_key.hex().encode()):
        assert secret not in case_bytes
    assert disk.path.read_bytes() == before
    assert sorted(p.name for p in disk.path.parent.iterdir()) == ["laptop.raw"]


def _opened(volume: bytes, tmp_path: Path) -> tuple[ImageSource, dict[str, Item], list[WalkError]]:
    image = tmp_path / "volume.raw"
    image.write_bytes(volume)
    return _walk(image, PASSPHRASE)


def _spoil_first_json(volume: bytes) -> bytes:
    spoiled = bytearray(volume)
    spoiled[4096 + 2] ^= 0x01  # inside "keyslots": the checksum no longer matches
    return bytes(spoiled)


def _wipe_first_header(volume: bytes) -> bytes:
    return bytes(4096) + volume[4096:]


@pytest.mark.parametrize("damage", [_spoil_first_json, _wipe_first_header])
def test_a_damaged_first_header_is_read_from_its_second_copy(
        argon2_volume: bytes, tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    source, items, errors = _opened(damage(argon2_volume), tmp_path)
    try:
        (volume,) = source.facts.volumes
        assert (volume.encryption, volume.unlocked, volume.file_system) == ("luks", True, "ext4")
        assert _content(source, items[KNOWN.path]) == KNOWN.data
        assert errors == []
    finally:
        source.close()


def test_a_volume_is_taken_for_luks2_by_a_second_copy_only_when_that_copy_is_sound(argon2_volume: bytes) -> None:
    """A stray second-copy magic (a file's bytes) must not hide a volume's file system behind a damaged LUKS."""
    found = BY_KIND["luks"].children
    wiped = _wipe_first_header(argon2_volume)
    assert found(RangeVolume(_Bytes(wiped))) == (b"",)
    stray = bytearray(wiped)
    stray[16384 + 100] ^= 0x01  # the copy's checksum no longer matches
    assert found(RangeVolume(_Bytes(bytes(stray)))) == ()


def test_both_header_copies_damaged_is_a_damaged_volume(argon2_volume: bytes, tmp_path: Path) -> None:
    spoiled = bytearray(_spoil_first_json(argon2_volume))
    hdr_size, = struct.unpack_from(">Q", spoiled, 8)
    spoiled[hdr_size + 4096 + 2] ^= 0x01
    source, items, errors = _opened(bytes(spoiled), tmp_path)
    assert not items
    assert [(e.kind, e.message) for e in errors] == [(ProblemKind.DAMAGED, (
        "LUKS volume: its header is damaged (its first LUKS2 header's checksum does not match its contents); "
        "not read"))]


def test_of_two_sound_copies_the_later_write_is_read(argon2_volume: bytes, tmp_path: Path) -> None:
    """The second copy, written later (a higher seqid), points the data segment elsewhere: it is the one read."""
    later = bytearray(rewrite_luks2_metadata(argon2_volume, lambda metadata: metadata["segments"]["0"].update(
        offset=str(8 * 1024 * 1024)), copies=(1,)))
    hdr_size, = struct.unpack_from(">Q", later, 8)
    struct.pack_into(">Q", later, hdr_size + 16, struct.unpack_from(">Q", later, 16)[0] + 1)
    later[hdr_size + 448:hdr_size + 480] = bytes(32)
    later[hdr_size + 448:hdr_size + 480] = hashlib.sha256(bytes(later[hdr_size:2 * hdr_size])).digest()
    assert _layout(bytes(later)).payload_offset == 8 * 1024 * 1024
    assert _layout(argon2_volume).payload_offset == 16 * 1024 * 1024


def _kdf(**fields: Any) -> Callable[[dict], None]:
    return lambda metadata: metadata["keyslots"]["0"]["kdf"].update(fields)


def _segment(**fields: Any) -> Callable[[dict], None]:
    return lambda metadata: metadata["segments"]["0"].update(fields)


def _area(**fields: Any) -> Callable[[dict], None]:
    return lambda metadata: metadata["keyslots"]["0"]["area"].update(fields)


def _many_keyslots(metadata: dict) -> None:
    metadata["keyslots"].update({str(index): {} for index in range(1, 40)})


def _two_segments(metadata: dict) -> None:
    metadata["segments"]["1"] = dict(metadata["segments"]["0"])


def _uncovered(metadata: dict) -> None:
    metadata["digests"]["0"]["segments"] = []


def _requirement(metadata: dict) -> None:
    metadata["config"]["requirements"] = {"mandatory": ["online-reencrypt-v2"]}


def _af(metadata: dict) -> None:
    metadata["keyslots"]["0"]["af"]["type"] = "luks3"


NESTED = b"{\"keyslots\":" + b"[" * 5_000 + b"]" * 5_000 + b"}"
HOSTILE: dict[str, tuple[Callable[[dict], object] | bytes, ProblemKind, str]] = {
    # how the JSON is spoiled (in both copies, checksums made anew) -> (the problem kind, words of its message)
    "Argon2 memory of 4 TiB": (_kdf(memory=4 * 2**30), ProblemKind.LIMIT, "4,294,967,296 KiB of memory"),
    "10^12 Argon2 passes": (_kdf(time=10**12), ProblemKind.LIMIT, "KiB-passes a passphrase"),
    "1,000 Argon2 lanes": (_kdf(cpus=1000, memory=8000), ProblemKind.LIMIT, "in 1,000 lanes"),
    "an unknown KDF": (_kdf(type="scrypt"), ProblemKind.UNSUPPORTED, "KDF (scrypt)"),
    "an unknown payload cipher": (_segment(encryption="serpent-xts-plain64"), ProblemKind.UNSUPPORTED,
                                  "serpent-xts-plain64"),
    "an unknown anti-forensic split": (_af, ProblemKind.UNSUPPORTED, "anti-forensic split"),
    "authenticated encryption": (_segment(integrity={"type": "hmac(sha256)"}), ProblemKind.UNSUPPORTED,
                                 "authenticated encryption"),
    "a re-encryption under way": (_requirement, ProblemKind.UNSUPPORTED, "online-reencrypt-v2"),
    "two data segments": (_two_segments, ProblemKind.UNSUPPORTED, "2 data segments"),
    "an unencrypted segment": (_segment(type="linear"), ProblemKind.UNSUPPORTED, "'linear'"),
    "key material past the end": (_area(offset=str(2**40)), ProblemKind.DAMAGED, "outside the volume"),
    "key material inside the header": (_area(offset="4096"), ProblemKind.DAMAGED, "misplaced"),
    "data past the end": (_segment(offset=str(2**40)), ProblemKind.TRUNCATED, "outside the volume"),
    "a sector of 3,000 bytes": (_segment(sector_size=3000), ProblemKind.DAMAGED, "3000 bytes"),
    "an offset as a JSON number": (_segment(offset=16777216), ProblemKind.DAMAGED, "'offset' is not a 64-bit"),
    "a negative offset": (_segment(offset="-5"), ProblemKind.DAMAGED, "'offset' is not a 64-bit"),
    "40 key slots": (_many_keyslots, ProblemKind.DAMAGED, "more than 32"),
    "a salt not base64": (_kdf(salt="not base64!"), ProblemKind.DAMAGED, "'salt' is not base64"),
    "no digest of the data": (_uncovered, ProblemKind.DAMAGED, "no digest covers"),
    "JSON nested 5,000 deep": (NESTED, ProblemKind.DAMAGED, "JSON cannot be read"),
    "JSON not an object": (b"[1, 2, 3]", ProblemKind.DAMAGED, "is not one NUL-padded text"),
}


@pytest.mark.parametrize("spoil", list(HOSTILE))
def test_a_hostile_luks2_header_is_a_recorded_problem_of_its_volume_and_no_kdf_runs(
        argon2_volume: bytes, tmp_path: Path, spoil: str, monkeypatch: pytest.MonkeyPatch) -> None:
    change, kind, words = HOSTILE[spoil]
    volume = (rewrite_luks2_metadata(argon2_volume, lambda _: None, text=change) if isinstance(change, bytes)
              else rewrite_luks2_metadata(argon2_volume, change))

    def refused(*_: object) -> bytes:
        raise AssertionError("a KDF ran on a refused header")

    monkeypatch.setattr(luks_key, "hash_secret_raw", refused)
    source, items, errors = _opened(volume, tmp_path)
    (facts,) = source.facts.volumes
    assert (facts.encryption, facts.unlocked) == ("luks", False)
    assert not items
    assert [e.kind for e in errors] == [kind], errors
    assert words in errors[0].message


def test_a_header_size_no_writer_makes_is_damaged_before_anything_more_is_read(argon2_volume: bytes) -> None:
    huge = bytearray(argon2_volume)
    struct.pack_into(">Q", huge, 8, 2**40)
    hdr_size = 16 * 1024
    struct.pack_into(">Q", huge, hdr_size + 8, 2**40)
    header = read_luks_header(_Bytes(bytes(huge)))
    assert header.problem is not None and header.problem.kind == ProblemKind.DAMAGED
    assert "a size of 1,099,511,627,776 bytes" in header.problem.message


def test_a_pbkdf2_key_slot_asking_10_12_iterations_is_refused(pbkdf2_volume: bytes, tmp_path: Path) -> None:
    volume = rewrite_luks2_metadata(pbkdf2_volume, _kdf(iterations=10**12))
    _, items, errors = _opened(volume, tmp_path)
    assert not items
    assert [(e.kind, "1,000,000,001,000 PBKDF2 iterations" in e.message) for e in errors] == [(ProblemKind.LIMIT, True)]


def test_randomly_garbled_json_ends_as_a_volume_read_or_a_problem_of_it_never_an_exception(
        pbkdf2_volume: bytes, tmp_path: Path) -> None:
    """Characters of the JSON changed at random (seeded), the checksum made anew so the JSON is what is read; the
    KDF costs are left alone (their bounds have tests of their own)."""
    hdr_size, = struct.unpack_from(">Q", pbkdf2_volume, 8)
    text = pbkdf2_volume[4096:hdr_size].split(b"\0", 1)[0]
    costs = {match.start() + offset for match in re.finditer(rb'"iterations":\d+', text)
             for offset in range(len(match.group()))}
    rng = random.Random(20261207)
    outcomes = set()
    for _ in range(80):
        garbled = bytearray(text)
        for at in rng.sample(sorted(set(range(len(text))) - costs), rng.randint(1, 4)):
            garbled[at] = rng.choice(b'{}[]",:0123456789abcdefxyz-')
        source, _, errors = _opened(rewrite_luks2_metadata(pbkdf2_volume, lambda _: None, text=bytes(garbled)),
                                    tmp_path)
        (volume,) = source.facts.volumes
        assert volume.file_system is not None or volume.problem
        outcomes.add(volume.problem_kind or "read")
        source.close()
    assert ProblemKind.DAMAGED in outcomes and len(outcomes) >= 2


def test_the_json_text_rewritten_by_the_tests_is_one_cryptsetup_reads(argon2_volume: bytes, tmp_path: Path) -> None:
    """The hostile cases above rewrite the JSON and its checksum; a harmless rewrite passes cryptsetup's own checks,
    so a refusal above is of the change made, not of the rewriting."""
    volume = tmp_path / "volume.raw"
    volume.write_bytes(rewrite_luks2_metadata(argon2_volume, lambda _: None))
    dumped = subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", str(volume)], capture_output=True,
                            check=True).stdout
    assert json.loads(dumped)["segments"]["0"]["offset"] == str(16 * 1024 * 1024)
