"""The corpus's VHDX images: qemu-img's random identifiers replaced, the file still a valid VHDX of the same disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import pyvhdi

from fieldlab.validation.vhdx import crc32c, make_reproducible


def vhdx_of(raw: Path, target: Path) -> Path:
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vhdx", str(raw), str(target)], check=True)
    return target


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """48 MiB with data in every MiB: qemu-img then updates its block table several times, one log entry each."""
    disk = bytearray(48 << 20)
    for mib in range(48):
        disk[mib << 20: (mib << 20) + 4096] = bytes([mib + 1]) * 4096
    path = tmp_path / "disk.raw"
    path.write_bytes(disk)
    return path


def test_crc32c_matches_the_published_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283


def test_two_conversions_differ_until_made_reproducible_then_match_byte_for_byte(raw: Path, tmp_path: Path) -> None:
    first, second = vhdx_of(raw, tmp_path / "1.vhdx"), vhdx_of(raw, tmp_path / "2.vhdx")
    assert first.read_bytes() != second.read_bytes()  # qemu-img draws its GUIDs at random
    assert first.read_bytes().count(b"loge") > 1
    for image in (first, second):
        make_reproducible(image, b"identity")
    assert first.read_bytes() == second.read_bytes()
    other = vhdx_of(raw, tmp_path / "3.vhdx")
    make_reproducible(other, b"another identity")
    assert other.read_bytes() != first.read_bytes()


def test_the_rewritten_image_passes_qemu_checks_and_reads_as_the_same_disk(raw: Path, tmp_path: Path) -> None:
    image = vhdx_of(raw, tmp_path / "disk.vhdx")
    make_reproducible(image, b"identity")
    subprocess.run(["qemu-img", "check", "-q", str(image)], check=True)  # qemu verifies the header checksums
    vhdx = pyvhdi.file()
    vhdx.open(str(image))
    try:
        assert vhdx.read_buffer_at_offset(vhdx.get_media_size(), 0) == raw.read_bytes()
    finally:
        vhdx.close()


def test_a_file_that_is_not_a_vhdx_is_refused(raw: Path) -> None:
    with pytest.raises(ValueError, match="not a VHDX"):
        make_reproducible(raw, b"identity")
