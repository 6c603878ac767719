"""Android backups (``.ab``) written the way Android's backup manager writes them, for tests."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
import zlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def backup_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _java_chars_utf8(key: bytes) -> bytes:
    """What Java's ``(char) byte`` then UTF-8 makes of a key: the signed byte is widened to 16 bits."""
    return "".join(chr(((b ^ 0x80) - 0x80) & 0xFFFF) for b in key).encode("utf-8")


def _aes_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def build_backup(tar: bytes, *, version: int = 5, compressed: bool = True, password: str | None = None,
                 rounds: int = 10_000, seed: int = 1) -> bytes:
    """An ``.ab`` file; version 1 checksums the raw master key, later versions the Java-chars form."""
    payload = zlib.compress(tar) if compressed else tar
    header = b"ANDROID BACKUP\n%d\n%d\n" % (version, compressed)
    if password is None:
        return header + b"none\n" + payload
    rng = random.Random(seed)
    user_salt, checksum_salt, user_iv = rng.randbytes(64), rng.randbytes(64), rng.randbytes(16)
    master_key, master_iv = rng.randbytes(32), rng.randbytes(16)
    secret = password.encode("utf-8") if version >= 2 else bytes(ord(c) & 0xFF for c in password)
    user_key = hashlib.pbkdf2_hmac("sha1", secret, user_salt, rounds, 32)
    key_as_given = _java_chars_utf8(master_key) if version >= 2 else master_key
    checksum = hashlib.pbkdf2_hmac("sha1", key_as_given, checksum_salt, rounds, 32)
    blob = _aes_cbc(user_key, user_iv, bytes([16]) + master_iv + bytes([32]) + master_key + bytes([32]) + checksum)
    lines = [b"AES-256", user_salt.hex().upper().encode(), checksum_salt.hex().upper().encode(), b"%d" % rounds,
             user_iv.hex().upper().encode(), blob.hex().upper().encode()]
    return header + b"\n".join(lines) + b"\n" + _aes_cbc(master_key, master_iv, payload)
