"""LUKS1 and LUKS2 volumes for tests: a real header written by ``cryptsetup luksFormat``, the payload encrypted here.

``cryptsetup open`` needs the device mapper, which a test machine (or a container) does not give, so the plaintext
image (a file system made by ``disks.build_disk``, or any raw volume, such as an LVM physical volume) is encrypted
into the payload with the master key handed to ``luksFormat``: aes-xts-plain64, 512-byte sectors, the tweak the
sector's number from 0 at the payload's start, little-endian.  The header's own key slot and digest are
cryptsetup's, so what fieldlab unlocks is exactly what a Linux installer writes (apart from the PBKDF2 iterations,
kept low so a test unlocks in milliseconds).  What cryptsetup draws at random (the salts, the anti-forensic stripes
of the key slot, the noise filling the unused slots) is then drawn again from the master key, and the digest and
the slot's key material recomputed by the LUKS1 specification, so the same plaintext and passphrase give the same
bytes (the validation corpus is reproducible); ``cryptsetup open --test-passphrase`` still accepts the header.
A LUKS2 volume (``luks2_volume``) keeps cryptsetup's header as written (random salts: tests only); its payload is
encrypted as dm-crypt does for LUKS2, each sector of its sector size on its own, the IV number counted in 512-byte
sectors from the data segment's start (LUKS2 is never given ``iv_large_sectors``), plus the segment's iv_tweak.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fieldlab.evidence.luks_key import diffuse
from fieldlab.validation.disks import MIB, SECTOR, _place, _run, _write_gpt, _write_mbr

_ITERATIONS = 1000  # the least cryptsetup accepts
_MBR_LINUX = 0x83
_HEADER_SIZE = 592
_SLOT_ENABLED = 0x00AC71F3


@dataclass(frozen=True)
class LuksDisk:
    """A built disk holding one LUKS volume, and where its parts lie."""

    path: Path
    scheme: str  # "mbr", "gpt" or "none" (the LUKS volume is the whole image)
    volume_offset: int  # where the LUKS header starts
    payload_offset: int  # bytes from the LUKS header to the encrypted data
    master_key: bytes


def luks1_volume(plaintext: Path, volume: Path, passphrase: str, *, iterations: int | None = _ITERATIONS) -> tuple[int, bytes]:
    """Write ``volume``: a LUKS1 header for ``passphrase``, then ``plaintext`` encrypted.  Returns (the payload's
    offset in bytes, the master key); every byte is derived from the plaintext and the passphrase.  ``iterations``
    None leaves the key slot's PBKDF2 to cryptsetup's default (its benchmark of this machine: ``bench/luks_unlock.py``)."""
    forced = ["--pbkdf-force-iterations", str(iterations)] if iterations is not None else []
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
              "--hash", "sha256", *forced,
              "--uuid", str(uuid.UUID(bytes=hashlib.sha256(master_key).digest()[:16], version=4)), str(volume)])
    _redraw_random_parts(volume, master_key, passphrase)
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


@dataclass(frozen=True)
class Luks2Format:
    """What ``cryptsetup luksFormat --type luks2`` is given: a KDF at costs low enough for a test to unlock in
    milliseconds (Argon2 at 1 MiB, 4 passes, 1 lane; PBKDF2 at cryptsetup's least iterations)."""

    pbkdf: str = "argon2id"  # or argon2i, pbkdf2
    cipher: str = "aes-xts-plain64"
    key_bits: int = 512
    sector_size: int = 512

    def options(self) -> list[str]:
        costs = (["--pbkdf-force-iterations", str(_ITERATIONS), "--hash", "sha256"] if self.pbkdf == "pbkdf2" else
                 ["--pbkdf-memory", "1024", "--pbkdf-parallel", "1", "--pbkdf-force-iterations", "4"])
        return ["--pbkdf", self.pbkdf, *costs, "--cipher", self.cipher, "--key-size", str(self.key_bits),
                "--sector-size", str(self.sector_size)]


def luks2_volume(plaintext: Path, volume: Path, passphrase: str, luks2: Luks2Format = Luks2Format(), *,
                 iv_tweak: int = 0) -> tuple[int, bytes]:
    """Write ``volume``: a LUKS2 header cryptsetup writes for ``passphrase``, then ``plaintext`` encrypted with
    aes-xts-plain64.  ``iv_tweak`` (512-byte sectors) is written into the header's data segment, as a re-encryption
    that moved the data leaves it.  Returns (the payload's offset in bytes, the volume key)."""
    if not luks2.cipher.startswith("aes-xts-plain64"):
        raise ValueError("the payload is encrypted here with aes-xts-plain64 only")
    volume_key = hashlib.sha512(b"fieldlab luks2 " + plaintext.read_bytes()).digest()[:luks2.key_bits // 8]
    size = plaintext.stat().st_size
    with tempfile.TemporaryDirectory(prefix="fieldlab-luks-", dir=volume.parent) as work:
        key_file, volume_key_file = Path(work) / "passphrase", Path(work) / "volume-key"
        key_file.write_bytes(passphrase.encode())
        volume_key_file.write_bytes(volume_key)
        with open(volume, "wb") as out:
            out.truncate(16 * MIB + size)  # cryptsetup's LUKS2 data offset is 16 MiB
        _run(["cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--key-file", str(key_file),
              "--volume-key-file", str(volume_key_file), *luks2.options(), str(volume)])
    if iv_tweak:
        volume.write_bytes(rewrite_luks2_metadata(volume.read_bytes(), lambda metadata: metadata["segments"]["0"].update(
            iv_tweak=str(iv_tweak))))
    with open(volume, "r+b") as out, open(plaintext, "rb") as source:
        head = out.read(16 * 1024)
        hdr_size, = struct.unpack_from(">Q", head, 8)
        out.seek(4096)
        (segment,) = json.loads(out.read(hdr_size - 4096).split(b"\0", 1)[0])["segments"].values()
        payload, iv = int(segment["offset"]), int(segment["iv_tweak"])
        out.truncate(payload + size)
        out.seek(payload)
        while block := source.read(MIB):
            out.write(_encrypt_sectors(volume_key, iv, block, luks2.sector_size))
            iv += len(block) // SECTOR
    return payload, volume_key


def rewrite_luks2_metadata(volume: bytes, change: Callable[[dict], object], *, copies: tuple[int, ...] = (0, 1),
                           text: bytes | None = None) -> bytes:
    """``volume`` with the JSON of its LUKS2 header copies (0 the first, 1 the second) changed in place by
    ``change`` (or replaced by ``text``), each copy's checksum (SHA-256, as cryptsetup writes it) made anew."""
    data = bytearray(volume)
    hdr_size, = struct.unpack_from(">Q", data, 8)
    for copy in copies:
        start = copy * hdr_size
        if text is None:
            metadata = json.loads(bytes(data[start + 4096:start + hdr_size]).split(b"\0", 1)[0])
            change(metadata)
            written = json.dumps(metadata, separators=(",", ":")).encode()
        else:
            written = text
        if len(written) >= hdr_size - 4096:
            raise ValueError("the JSON does not fit the header's JSON area")
        data[start + 4096:start + hdr_size] = written.ljust(hdr_size - 4096, b"\0")
        data[start + 448:start + 512] = bytes(64)
        data[start + 448:start + 480] = hashlib.sha256(bytes(data[start:start + hdr_size])).digest()
    return bytes(data)


def build_luks1_disk(path: Path, scheme: str, plaintext: Path, passphrase: str, *,
                     iterations: int | None = _ITERATIONS) -> LuksDisk:
    """A disk whose one partition (from 1 MiB, with 1 MiB after it) is a LUKS1 volume holding ``plaintext``;
    with scheme "none" the image is the LUKS volume itself.  ``iterations`` as ``luks1_volume`` takes them."""
    return _build_disk(path, scheme, lambda volume: luks1_volume(plaintext, volume, passphrase, iterations=iterations))


def build_luks2_disk(path: Path, scheme: str, plaintext: Path, passphrase: str,
                     luks2: Luks2Format = Luks2Format()) -> LuksDisk:
    """``build_luks1_disk`` with a LUKS2 volume (``luks2_volume``)."""
    return _build_disk(path, scheme, lambda volume: luks2_volume(plaintext, volume, passphrase, luks2))


def _build_disk(path: Path, scheme: str, write_volume: Callable[[Path], tuple[int, bytes]]) -> LuksDisk:
    if scheme not in ("mbr", "gpt", "none"):
        raise ValueError(f"scheme must be mbr, gpt or none, not {scheme!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if scheme == "none":
        payload, key = write_volume(path)
        return LuksDisk(path, scheme, 0, payload, key)
    with tempfile.TemporaryDirectory(prefix="fieldlab-luks-", dir=path.parent) as work:
        volume = Path(work) / "volume.img"
        payload, key = write_volume(volume)
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


def _redraw_random_parts(volume: Path, master_key: bytes, passphrase: str) -> None:
    """Replace what cryptsetup drew at random in a LUKS1 header with bytes drawn from the master key: the digest's
    salt (and so the digest), each enabled slot's salt and split key material, the unused slots' noise."""
    with open(volume, "r+b") as out:
        header = bytearray(out.read(_HEADER_SIZE))
        hash_name = header[72:104].rstrip(b"\0").decode("ascii")
        key_bytes, = struct.unpack_from(">I", header, 108)
        digest_iterations, = struct.unpack_from(">I", header, 164)
        digest_salt = _drawn(master_key, b"digest salt", 32)
        header[112:132] = hashlib.pbkdf2_hmac(hash_name, master_key, digest_salt, digest_iterations, 20)
        header[132:164] = digest_salt
        for slot in range(8):
            at = 208 + 48 * slot
            active, iterations, _, material_sector, stripes = struct.unpack_from(">II32sII", header, at)
            size = -(-key_bytes * stripes // SECTOR) * SECTOR
            if active == _SLOT_ENABLED:
                salt = _drawn(master_key, b"slot salt %d" % slot, 32)
                header[at + 8:at + 40] = salt
                slot_key = hashlib.pbkdf2_hmac(hash_name, passphrase.encode(), salt, iterations, key_bytes)
                split = _af_split(master_key, stripes, hash_name, _drawn(master_key, b"stripes %d" % slot,
                                                                         key_bytes * (stripes - 1)))
                material = _encrypt_sectors(slot_key, 0, split.ljust(size, b"\0"))
            else:
                material = _drawn(master_key, b"unused slot %d" % slot, size)
            out.seek(material_sector * SECTOR)
            out.write(material)
        out.seek(0)
        out.write(header)


def _drawn(master_key: bytes, purpose: bytes, size: int) -> bytes:
    return hashlib.shake_256(b"fieldlab luks1 " + purpose + b"\0" + master_key).digest(size)


def _af_split(key: bytes, stripes: int, hash_name: str, random_stripes: bytes) -> bytes:
    """LUKS1's anti-forensic split: ``stripes - 1`` random stripes, each folded into a running diffusion, and a
    last stripe that XORs the diffusion back to the key."""
    size = len(key)
    mixed = bytes(size)
    for index in range(stripes - 1):
        stripe = random_stripes[index * size:(index + 1) * size]
        mixed = diffuse(bytes(a ^ b for a, b in zip(mixed, stripe, strict=True)), hash_name)
    return random_stripes + bytes(a ^ b for a, b in zip(mixed, key, strict=True))


def _encrypt_sectors(key: bytes, first_iv: int, data: bytes, sector_size: int = SECTOR) -> bytes:
    """aes-xts-plain64 over sectors of ``sector_size``, the first's IV number ``first_iv``, each next one's
    sector_size / 512 more (dm-crypt's count for LUKS)."""
    if len(data) % sector_size:
        raise ValueError("a LUKS payload is whole sectors")
    out = bytearray()
    for index in range(len(data) // sector_size):
        tweak = (first_iv + index * (sector_size // SECTOR)).to_bytes(16, "little")
        encryptor = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
        out += encryptor.update(data[index * sector_size:(index + 1) * sector_size]) + encryptor.finalize()
    return bytes(out)
