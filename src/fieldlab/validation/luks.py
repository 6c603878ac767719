"""LUKS1 volumes for tests: a real header written by ``cryptsetup luksFormat``, the payload encrypted here.

``cryptsetup open`` needs the device mapper, which a test machine (or a container) does not give, so the plaintext
image (a file system made by ``disks.build_disk``, or any raw volume, such as an LVM physical volume) is encrypted
into the payload with the master key handed to ``luksFormat``: aes-xts-plain64, 512-byte sectors, the tweak the
sector's number from 0 at the payload's start, little-endian.  The header's own key slot and digest are
cryptsetup's, so what fieldlab unlocks is exactly what a Linux installer writes (apart from the PBKDF2 iterations,
kept low so a test unlocks in milliseconds).
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fieldlab.validation.disks import MIB, SECTOR, _place, _run, _write_gpt, _write_mbr

_ITERATIONS = 1000  # the least cryptsetup accepts
_MBR_LINUX = 0x83


@dataclass(frozen=True)
class LuksDisk:
    """A built disk holding one LUKS1 volume, and where its parts lie."""

    path: Path
    scheme: str  # "mbr", "gpt" or "none" (the LUKS volume is the whole image)
    volume_offset: int  # where the LUKS header starts
    payload_offset: int  # bytes from the LUKS header to the encrypted data
    master_key: bytes


def luks1_volume(plaintext: Path, volume: Path, passphrase: str) -> tuple[int, bytes]:
    """Write ``volume``: a LUKS1 header for ``passphrase``, then ``plaintext`` encrypted.  Returns (the payload's
    offset in bytes, the master key), the key and UUID derived from what is encrypted (cryptsetup's salts stay its
    own)."""
    master_key = hashlib.sha256(b"fieldlab luks1 " + plaintext.read_bytes()).digest()  # aes-xts-plain64, 256 bits
    size = plaintext.stat().st_size
    with tempfile.TemporaryDirectory(prefix="fieldlab-luks-", dir=volume.parent) as work:
        key_file, master_file = Path(work) / "passphrase", Path(work) / "master-key"
        key_file.write_bytes(passphrase.encode())
        master_file.write_bytes(master_key)
        with open(volume, "wb") as out:
            out.truncate(4 * MIB + size)  # room for the header; cut to its real size below
        _run(["cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--key-file", str(key_file),
              "--master-key-file", str(master_file), "--cipher", "aes-xts-plain64", "--key-size", "256",
              "--hash", "sha256", "--pbkdf-force-iterations", str(_ITERATIONS),
              "--uuid", str(uuid.UUID(bytes=hashlib.sha256(master_key).digest()[:16], version=4)), str(volume)])
    with open(volume, "r+b") as out, open(plaintext, "rb") as source:
        header = out.read(112)
        payload = struct.unpack(">I", header[104:108])[0] * SECTOR
        out.truncate(payload + size)
        out.seek(payload)
        sector = 0
        while block := source.read(MIB):
            out.write(_encrypt_sectors(master_key, sector, block))
            sector += len(block) // SECTOR
    return payload, master_key


def build_luks1_disk(path: Path, scheme: str, plaintext: Path, passphrase: str) -> LuksDisk:
    """A disk whose one partition (from 1 MiB, with 1 MiB after it) is a LUKS1 volume holding ``plaintext``;
    with scheme "none" the image is the LUKS volume itself."""
    if scheme not in ("mbr", "gpt", "none"):
        raise ValueError(f"scheme must be mbr, gpt or none, not {scheme!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if scheme == "none":
        payload, key = luks1_volume(plaintext, path, passphrase)
        return LuksDisk(path, scheme, 0, payload, key)
    with tempfile.TemporaryDirectory(prefix="fieldlab-luks-", dir=path.parent) as work:
        volume = Path(work) / "volume.img"
        payload, key = luks1_volume(plaintext, volume, passphrase)
        size = volume.stat().st_size
        disk_size = MIB + size + MIB
        identity = hashlib.sha256(key).digest()
        with open(path, "wb") as disk:
            disk.truncate(disk_size)
            if scheme == "mbr":
                _write_mbr(disk, [(MIB, size, _MBR_LINUX)], identity)
            else:
                _write_gpt(disk, disk_size, [(MIB, size, "ext4")], identity)  # a Linux partition's type
        _place(volume, path, MIB)
    return LuksDisk(path, scheme, MIB, payload, key)


def _encrypt_sectors(key: bytes, first_sector: int, data: bytes) -> bytes:
    if len(data) % SECTOR:
        raise ValueError("a LUKS payload is whole sectors")
    out = bytearray()
    for index in range(len(data) // SECTOR):
        tweak = (first_sector + index).to_bytes(16, "little")
        encryptor = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
        out += encryptor.update(data[index * SECTOR:(index + 1) * SECTOR]) + encryptor.finalize()
    return bytes(out)
