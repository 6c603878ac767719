"""LUKS volumes: named encrypted when locked (no, or a wrong, passphrase), read like any volume when the
examiner's passphrase opens them, and a hostile header is a recorded problem, never a crash or a hang."""

from __future__ import annotations

import hashlib
import os
import random
import struct
import subprocess
from pathlib import Path
from typing import Any, Callable

import pyluksde
import pytest

import fieldlab
from fieldlab.evidence import volume_layers
from fieldlab.evidence.image import ImageSource, UnlockOptions
from fieldlab.evidence.item import Item, WalkError
from fieldlab.evidence.luks_header import read_luks_header
from fieldlab.evidence.luks_key import unlock_refusal
from fieldlab.evidence.volume_layers import BY_KIND, RangeVolume
from fieldlab.problems import ProblemKind
from fieldlab.validation.disks import PlantedFile, build_disk, random_bytes
from fieldlab.validation.luks import Luks2Format, build_luks1_disk, build_luks2_disk, luks1_volume
from tests.conftest import REALDATA

PASSPHRASE = "correct horse battery staple"
KNOWN = PlantedFile("home/alex/Pictures/IMG_0001.JPG", random_bytes(61, 30_000))
OTHER = PlantedFile("home/alex/notes.bin", random_bytes(62, 9_000))
LOCKED = "LUKS volume: locked, give --luks-password to read it"


@pytest.fixture(scope="module")
def plaintext(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ext4 file system, as a Linux installer puts inside LUKS."""
    folder = tmp_path_factory.mktemp("luks-plain")
    return build_disk(folder / "plain.img", "none", [("ext4", 8, [KNOWN, OTHER])]).path


def _walk(image: Path, password: str | None = None) -> tuple[ImageSource, dict[str, Item], list[WalkError]]:
    source = ImageSource(image, UnlockOptions(luks_password=password))
    walked = list(source.walk())
    items = {entry.path: entry for entry in walked if isinstance(entry, Item)}
    return source, items, [entry for entry in walked if isinstance(entry, WalkError)]


def _content(source: ImageSource, item: Item) -> bytes:
    reader = source.open_item(item.locator)
    buffer = bytearray(item.size + 1)
    return bytes(buffer[:reader.readinto(buffer)])


@pytest.mark.parametrize("scheme", ["none", "mbr", "gpt"])
def test_a_luks1_volume_opened_with_its_passphrase_is_walked_and_read_like_any_volume(
        plaintext: Path, tmp_path: Path, scheme: str) -> None:
    disk = build_luks1_disk(tmp_path / "disk.raw", scheme, plaintext, PASSPHRASE)
    source, items, _ = _walk(disk.path, PASSPHRASE)
    try:
        (volume,) = source.facts.volumes
        assert (volume.offset, volume.encryption, volume.unlocked, volume.file_system) == (
            disk.volume_offset, "luks", True, "ext4")
        prefix = "" if scheme == "none" else f"vol{volume.index}@{disk.volume_offset}/"
        item = items[prefix + KNOWN.path]
        assert item.locator.to_text().startswith(f"partition:{disk.volume_offset}|luks:|fsfile:")
        assert _content(source, item) == KNOWN.data
        assert KNOWN.data not in disk.path.read_bytes()  # what was read was decrypted, not lying in the clear
    finally:
        source.close()


@pytest.mark.parametrize("password", [None, "wrong passphrase"])
def test_a_locked_luks1_volume_is_recorded_as_encrypted_and_says_what_to_give(
        plaintext: Path, tmp_path: Path, password: str | None) -> None:
    disk = build_luks1_disk(tmp_path / "disk.raw", "mbr", plaintext, PASSPHRASE)
    source, items, errors = _walk(disk.path, password)
    (volume,) = source.facts.volumes
    assert (volume.encryption, volume.unlocked, volume.file_system) == ("luks", False, None)
    assert not items
    (error,) = errors
    assert error.kind == ProblemKind.ENCRYPTED
    assert error.message == (LOCKED if password is None else "LUKS volume: the --luks-password given does not unlock it")


def test_a_locked_luks_partition_beside_a_plain_one_is_recorded_and_the_plain_one_still_walked(
        plaintext: Path, tmp_path: Path) -> None:
    """The second partition's table entry says FAT: a LUKS volume is known by its header, never by a type or name."""
    volume = tmp_path / "luks.raw"
    luks1_volume(plaintext, volume, PASSPHRASE)
    size_mib = -(-volume.stat().st_size // (1024 * 1024))
    disk = build_disk(tmp_path / "disk.raw", "mbr", [("fat16", 4, [OTHER]), ("fat16", size_mib, [])])
    with open(disk.path, "r+b") as out:
        out.seek(disk.partitions[1].start_offset)
        out.write(volume.read_bytes().ljust(size_mib * 1024 * 1024, b"\0"))
    source, items, errors = _walk(disk.path)
    assert [(v.encryption, v.unlocked, v.file_system) for v in source.facts.volumes] == [
        (None, None, "fat16"), ("luks", False, None)]
    assert any(path.endswith(OTHER.path) for path in items)
    assert [(e.kind, e.message) for e in errors] == [(ProblemKind.ENCRYPTED, LOCKED)]


def test_the_scan_with_the_passphrase_matches_a_known_file_inside_and_without_it_records_the_locked_volume(
        plaintext: Path, tmp_path: Path) -> None:
    disk = build_luks1_disk(tmp_path / "evidence" / "laptop.raw", "gpt", plaintext, PASSPHRASE)
    known = tmp_path / "known.csv"
    known.write_text(f"md5,category\n{KNOWN.md5},A\n")
    fieldlab.import_hashset(known, name="known")
    before = disk.path.read_bytes()

    fieldlab.scan(disk.path, tmp_path / "locked", exhibit_ref="LAPTOP")
    assert list(fieldlab.hits(tmp_path / "locked")) == []
    problems = fieldlab.list_problems(tmp_path / "locked", ProblemKind.ENCRYPTED)
    assert [p.message for p in problems] == [LOCKED]

    fieldlab.scan(disk.path, tmp_path / "unlocked", exhibit_ref="LAPTOP",
                  unlock=UnlockOptions(luks_password=PASSPHRASE))
    assert [(hit.path.rsplit("/", 1)[-1], hit.category) for hit in fieldlab.hits(tmp_path / "unlocked")] == [
        ("IMG_0001.JPG", "A")]
    assert fieldlab.list_problems(tmp_path / "unlocked", ProblemKind.ENCRYPTED) == []
    assert PASSPHRASE.encode() not in b"".join(p.read_bytes() for p in (tmp_path / "unlocked").rglob("*")
                                               if p.is_file())
    assert disk.path.read_bytes() == before
    assert sorted(p.name for p in disk.path.parent.iterdir()) == ["laptop.raw"]  # nothing written beside it


def _luks_disk(version: int, path: Path, scheme: str, plaintext: Path):  # noqa: ANN202 - the builders' disk
    """A disk holding a LUKS1 or a LUKS2 volume (PBKDF2, so the tests stay fast) around ``plaintext``."""
    return (build_luks1_disk(path, scheme, plaintext, PASSPHRASE) if version == 1 else
            build_luks2_disk(path, scheme, plaintext, PASSPHRASE, Luks2Format("pbkdf2")))


@pytest.mark.parametrize("version", [1, 2])
def test_a_scan_runs_pbkdf2_on_the_passphrase_once_and_its_other_processes_open_the_volume_with_the_derived_key(
        plaintext: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    """The survey derives the master key; the walker and reader processes get it in memory and open the volume with
    no PBKDF2 and no libluksde.  Calls are noted in a file, since the scan's processes are forks of this one."""
    disk = _luks_disk(version, tmp_path / "evidence" / "laptop.raw", "gpt", plaintext)
    known = tmp_path / "known.csv"
    known.write_text(f"md5,category\n{KNOWN.md5},A\n")
    fieldlab.import_hashset(known, name="known")
    log = tmp_path / "calls.log"

    def noted(real: Callable[..., Any], what: Callable[..., str]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            with open(log, "a") as out:
                out.write(f"{os.getpid()} {what(*args)}\n")
            return real(*args)
        return call

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", noted(
        hashlib.pbkdf2_hmac, lambda _, secret, *rest: "pbkdf2 of the passphrase" if secret == PASSPHRASE.encode()
        else "pbkdf2 of a key"))
    monkeypatch.setattr(pyluksde, "volume", noted(pyluksde.volume, lambda: "libluksde"))
    monkeypatch.setattr(volume_layers, "read_luks_header", noted(volume_layers.read_luks_header, lambda _: "opened"))

    fieldlab.scan(disk.path, tmp_path / "case", exhibit_ref="LAPTOP", unlock=UnlockOptions(luks_password=PASSPHRASE))
    assert [hit.md5 for hit in fieldlab.hits(tmp_path / "case")] == [KNOWN.md5]  # read by a reader process
    calls = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert sorted(what for _, what in calls if what != "opened") == ["pbkdf2 of a key", "pbkdf2 of the passphrase"]
    assert len({pid for pid, what in calls if what == "opened"}) >= 3  # the survey, the walker, a reader at least
    case_bytes = b"".join(p.read_bytes() for p in (tmp_path / "case").rglob("*") if p.is_file())
    for secret in (PASSPHRASE.encode(), disk.master_key, disk.master_key.hex().encode()):
        assert secret not in case_bytes  # the audit trail is in the case database


def test_lvm_inside_a_luks1_volume_is_surveyed_and_its_logical_volume_walked(tmp_path: Path) -> None:
    plain = tmp_path / "lvm.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(REALDATA / "log2timeline__dfvfs" / "test_data" / "lvm.qcow2"),
                    str(plain)], check=True, capture_output=True)
    disk = build_luks1_disk(tmp_path / "disk.raw", "mbr", plain, PASSPHRASE)
    source, items, _ = _walk(disk.path, PASSPHRASE)
    try:
        (volume,) = source.facts.volumes
        assert (volume.encryption, volume.file_system) == ("luks", "lvm")
        (path,) = [p for p in items if p.endswith("passwords.txt")]
        assert items[path].size == 116
        assert items[path].locator.to_text().startswith(f"partition:{disk.volume_offset}|luks:|lvm:0|fsfile:")
        assert _content(source, items[path]).startswith(b"place,user,password")
    finally:
        source.close()


@pytest.fixture(scope="module")
def sound_volume(plaintext: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    volume = tmp_path_factory.mktemp("luks-sound") / "volume.raw"
    luks1_volume(plaintext, volume, PASSPHRASE)
    return volume.read_bytes()


def _slot(data: bytearray, index: int, *, active: int | None = None, iterations: int | None = None,
          material: int | None = None, stripes: int | None = None) -> None:
    at = 208 + 48 * index
    fields = list(struct.unpack_from(">II32sII", data, at))
    for position, value in ((0, active), (1, iterations), (3, material), (4, stripes)):
        if value is not None:
            fields[position] = value
    struct.pack_into(">II32sII", data, at, *fields)


def _cut(data: bytearray, size: int) -> None:
    del data[size:]


def _version(data: bytearray, version: int) -> None:
    struct.pack_into(">H", data, 6, version)


HOSTILE = {  # how a header is spoiled -> (the problem kind, words of its message)
    "cut inside the header": (lambda d: _cut(d, 300), ProblemKind.TRUNCATED, "cut short (300 of 592 bytes)"),
    "no digest iterations": (lambda d: struct.pack_into(">I", d, 164, 0), ProblemKind.DAMAGED, "digest iterations"),
    "cut before the payload": (lambda d: _cut(d, 2 * 1024 * 1024), ProblemKind.TRUNCATED, "outside the volume"),
    "an unknown version": (lambda d: _version(d, 7), ProblemKind.DAMAGED, "version 7"),
    "a cipher name not text": (lambda d: d.__setitem__(slice(8, 12), b"\xff\x00\x01\x02"), ProblemKind.DAMAGED,
                               "not text"),
    "a key of 0 bytes": (lambda d: struct.pack_into(">I", d, 108, 0), ProblemKind.DAMAGED, "key size (0 bytes)"),
    "a payload past the end": (lambda d: struct.pack_into(">I", d, 104, 0xFFFFFFFF), ProblemKind.TRUNCATED,
                               "outside the volume"),
    "a slot neither enabled nor disabled": (lambda d: _slot(d, 0, active=0x12345678), ProblemKind.DAMAGED,
                                            "key slot 0"),
    "a slot of 2^32-1 stripes": (lambda d: _slot(d, 0, stripes=0xFFFFFFFF), ProblemKind.DAMAGED, "key slot 0"),
    "a slot's material past the end": (lambda d: _slot(d, 0, material=0xFFFFFF00), ProblemKind.DAMAGED,
                                       "outside the volume"),
    "no slot enabled": (lambda d: _slot(d, 0, active=0x0000DEAD), ProblemKind.ENCRYPTED, "no key slot is enabled"),
    "every slot asking 2^32-1 PBKDF2 iterations": (
        lambda d: [_slot(d, i, active=0x00AC71F3, iterations=0xFFFFFFFF, material=8, stripes=4000) for i in range(8)],
        ProblemKind.LIMIT, "PBKDF2 iterations"),
}


@pytest.mark.parametrize("spoil", list(HOSTILE))
def test_a_hostile_luks_header_is_a_recorded_problem_of_its_volume_and_libluksde_never_sees_it(
        sound_volume: bytes, tmp_path: Path, spoil: str) -> None:
    change, kind, words = HOSTILE[spoil]
    data = bytearray(sound_volume)
    change(data)
    image = tmp_path / "hostile.raw"
    image.write_bytes(bytes(data))
    source, items, errors = _walk(image, PASSPHRASE)
    (volume,) = source.facts.volumes
    assert (volume.encryption, volume.unlocked) == ("luks", False)
    assert not items
    assert [e.kind for e in errors] == [kind]
    assert words in errors[0].message


def test_a_header_cryptsetup_wrote_passes_the_checks_with_what_a_passphrase_costs(sound_volume: bytes) -> None:
    header = read_luks_header(_Bytes(sound_volume))
    assert (header.version, header.problem) == (1, None) and header.layout is not None
    (slot,) = header.layout.slots  # one enabled slot: its iterations, and the master-key digest's
    assert (slot.kdf.name, slot.kdf.hash_name, slot.kdf.iterations, header.layout.digest_iterations) == (
        "pbkdf2", "sha256", 1000, 1000)
    assert unlock_refusal(header.layout) is None


def test_randomly_garbled_headers_end_as_a_volume_read_or_a_problem_of_it_never_an_exception(
        sound_volume: bytes, tmp_path: Path) -> None:
    """Bytes of the 592-byte header changed at random (seeded), the passphrase given so libluksde is reached.  The
    iteration counts are left alone: a garbled count is bounded (``MAX_UNLOCK_ITERATIONS``) but may still cost
    seconds, and the bound has its own test above."""
    rng = random.Random(20261207)
    iteration_bytes = {offset for slot in range(8) for offset in range(212 + 48 * slot, 216 + 48 * slot)}
    iteration_bytes |= set(range(164, 168))
    outcomes = set()
    for _ in range(120):
        data = bytearray(sound_volume)
        for offset in rng.sample(sorted(set(range(592)) - iteration_bytes), rng.randint(1, 6)):
            data[offset] = rng.randrange(256)
        image = tmp_path / "garbled.raw"
        image.write_bytes(bytes(data))
        source, _, errors = _walk(image, PASSPHRASE)
        (volume,) = source.facts.volumes
        assert volume.file_system is not None or volume.problem
        outcomes.add(volume.problem_kind or ("read" if volume.file_system else "not luks"))
        source.close()
    assert {ProblemKind.DAMAGED, ProblemKind.UNSUPPORTED, "read"} <= outcomes  # the garbling reached every stage


@pytest.mark.parametrize("head", [b"LUKS\xba\xbe", b"LUKS\xba\xbe\x00", b"LUKS\xba\xbe\x00\x01"])
def test_a_header_cut_right_after_its_magic_is_a_problem_not_an_error(head: bytes) -> None:
    header = read_luks_header(_Bytes(head))
    assert header.problem is not None and header.problem.kind == ProblemKind.TRUNCATED
    assert f"cut short ({len(head)} of 592 bytes)" in header.problem.message


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]


def test_the_luks_layer_finds_a_volume_by_its_magic_alone(sound_volume: bytes) -> None:
    found = BY_KIND["luks"].children
    assert found(RangeVolume(_Bytes(sound_volume))) == (b"",)
    assert found(RangeVolume(_Bytes(sound_volume[:6]))) == (b"",)  # the magic alone: named, the header then refused
    assert found(RangeVolume(_Bytes(b"LUKS\xba"))) == ()
    assert found(RangeVolume(_Bytes(b"SKUL\xba\xbe" + sound_volume[6:]))) == ()  # LUKS2's second header is not the first
    assert found(RangeVolume(_Bytes(bytes(4096)))) == ()


@pytest.mark.parametrize("given", ["option", "environment"])
def test_the_scan_command_takes_the_passphrase_as_an_option_or_from_the_environment(
        plaintext: Path, tmp_path: Path, given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    disk = build_luks1_disk(tmp_path / "evidence" / "laptop.raw", "mbr", plaintext, PASSPHRASE)
    known = tmp_path / "known.csv"
    known.write_text(f"md5,category\n{KNOWN.md5},A\n")
    fieldlab.import_hashset(known, name="known")
    if given == "environment":
        monkeypatch.setenv("FIELDLAB_LUKS_PASSWORD", PASSPHRASE)
    passphrase = ["--luks-password", PASSPHRASE] if given == "option" else []
    scanned = CliRunner().invoke(app, ["scan", str(disk.path), "--case", str(tmp_path / "case"), "--no-live",
                                       "--no-perceptual", "--no-classify", *passphrase])
    assert scanned.exit_code == 0, scanned.output
    assert [hit.md5 for hit in fieldlab.hits(tmp_path / "case")] == [KNOWN.md5]
    assert PASSPHRASE not in scanned.output


@pytest.mark.parametrize("version", [1, 2])
def test_an_item_of_a_luks_volume_reopens_with_the_passphrase_and_without_it_is_an_encrypted_problem(
        plaintext: Path, tmp_path: Path, version: int) -> None:
    from fieldlab.evidence.context import EvidenceContext
    from fieldlab.evidence.reopen import NEEDS_PASSWORD, ReopenError, exhibit_unlock, reopen
    from fieldlab.evidence.sources import SourceSpec

    disk = _luks_disk(version, tmp_path / "disk.raw", "mbr", plaintext)
    source, items, _ = _walk(disk.path, PASSPHRASE)
    source.close()
    (locator,) = [item.locator for path, item in items.items() if path.endswith(KNOWN.path)]
    assert locator.to_text().startswith(f"partition:{disk.volume_offset}|luks:|fsfile:")
    with EvidenceContext() as context:
        handle = reopen(SourceSpec(str(disk.path), "image", UnlockOptions(luks_password=PASSPHRASE)), locator, context)
        assert handle.size == len(KNOWN.data)
        handle = reopen(SourceSpec(str(disk.path), "image", exhibit_unlock([PASSPHRASE])), locator, context)
        assert handle.size == len(KNOWN.data)
        with pytest.raises(ReopenError) as refused:
            reopen(SourceSpec(str(disk.path), "image"), locator, context)
    # refused before the image is opened: the review app and the report ask for "the exhibit's password"
    assert (refused.value.problem.kind, refused.value.problem.message) == (ProblemKind.ENCRYPTED, NEEDS_PASSWORD)
