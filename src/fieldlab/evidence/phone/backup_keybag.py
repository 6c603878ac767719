"""The keys of an encrypted iTunes/Finder backup (iOS 10.2 and later), from its ``Manifest.plist`` and a password.

As Apple's iOS Security Guide ("Keybags") and public readers such as iphone_backup_decrypt describe it:

* ``BackupKeyBag``, tag-length-value records.  Its head gives the salts and rounds of the password's key
  derivation; then one block per protection class, each opened by a ``UUID``: ``CLAS`` (the class), ``WRAP``
  (2: wrapped with the password's key) and ``WPKY`` (the class key, AES key-wrapped, RFC 3394).
* The password's key is PBKDF2-HMAC-SHA1(PBKDF2-HMAC-SHA256(password, DPSL, DPIC), SALT, ITER), 32 bytes (before
  iOS 10.2, the SHA-1 rounds alone).  It unwraps the class keys; a wrong password fails the key wrap's integrity
  check, so it is known at once.
* ``ManifestKey``, and each file's ``EncryptionKey`` in its manifest record: a protection class (4 bytes,
  little-endian) and a key wrapped with that class's key.

The keybag is the suspect's: its size, its records and its rounds are bounded (a keybag asking for a billion
rounds is damaged, not secure).  Class keys live in memory only.
"""

from __future__ import annotations

import hashlib
import plistlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from fieldlab.evidence.phone.ios_backup import BackupError

MAX_KEYBAG = 64 << 10
MAX_CLASS_KEYS = 64  # iOS has 11 protection classes
MAX_ITER = 100_000  # Apple: 10,000 rounds of PBKDF2-HMAC-SHA1
MAX_DPIC = 100_000_000  # Apple: 10,000,000 rounds of PBKDF2-HMAC-SHA256 (seconds of work); ten times that at most
WRAP_DEVICE, WRAP_PASSCODE = 1, 2


@dataclass(frozen=True)
class BackupKeybag:
    """What the password needs: the rounds and salts of its key, and the class keys it unwraps."""

    raw: bytes
    salt: bytes
    iterations: int
    dp_salt: bytes | None  # None before iOS 10.2: the SHA-1 rounds alone
    dp_iterations: int | None
    wrapped_class_keys: tuple[tuple[int, bytes], ...]  # (protection class, wrapped key), password-wrapped only


@dataclass(frozen=True)
class BackupEncryption:
    keybag: BackupKeybag
    manifest_key: bytes | None  # 4-byte little-endian class + wrapped key; None: Manifest.db is not encrypted


def read_manifest_plist(data: bytes) -> BackupEncryption | None:
    """The encryption of a backup from its ``Manifest.plist``; None when it says the backup is not encrypted."""
    try:
        manifest = plistlib.loads(data)
    except Exception as exc:  # plistlib raises several types on malformed input
        raise BackupError(f"Manifest.plist cannot be read: {exc}") from exc
    if not isinstance(manifest, dict):
        raise BackupError("Manifest.plist does not hold a dictionary")
    if manifest.get("IsEncrypted") is not True:
        return None
    keybag, manifest_key = manifest.get("BackupKeyBag"), manifest.get("ManifestKey")
    if not isinstance(keybag, bytes):
        raise BackupError("Manifest.plist holds no BackupKeyBag")
    if manifest_key is not None and (not isinstance(manifest_key, bytes) or not wrapped_length(len(manifest_key) - 4)):
        raise BackupError("Manifest.plist's ManifestKey is damaged")
    return BackupEncryption(parse_keybag(keybag), manifest_key)


def parse_keybag(data: bytes) -> BackupKeybag:
    """The records of a ``BackupKeyBag``; BackupError, saying what is wrong, when it is damaged or absurd."""
    if len(data) > MAX_KEYBAG:
        raise BackupError(f"the keybag is {len(data):,} bytes: damaged (real ones are a few hundred)")
    head: dict[bytes, bytes] = {}
    blocks: list[dict[bytes, bytes]] = []
    position = 0
    while position < len(data):
        if position + 8 > len(data):
            raise BackupError("the keybag is damaged: its last record is cut short")
        tag, length = data[position:position + 4], int.from_bytes(data[position + 4:position + 8], "big")
        value = data[position + 8:position + 8 + length]
        if len(value) != length:
            raise BackupError(f"the keybag is damaged: its {_tag(tag)} record runs past the end")
        position += 8 + length
        if tag == b"UUID" and b"UUID" in head:  # the keybag's own UUID comes first; every later one opens a class key
            if len(blocks) >= MAX_CLASS_KEYS:
                raise BackupError(f"the keybag holds more than {MAX_CLASS_KEYS} class keys: damaged")
            blocks.append({})
        (blocks[-1] if blocks else head)[tag] = value
    salt, iterations = head.get(b"SALT"), _number(head, b"ITER")
    dp_salt, dp_iterations = head.get(b"DPSL"), _number(head, b"DPIC")
    if not salt or iterations is None or (dp_salt is None) != (dp_iterations is None):
        raise BackupError("the keybag is damaged: it lacks the salt or rounds of the password's key")
    if not 1 <= iterations <= MAX_ITER:
        raise BackupError(f"the keybag asks for {iterations:,} rounds (ITER; Apple uses 10,000): refused as damaged")
    if dp_iterations is not None and not 1 <= dp_iterations <= MAX_DPIC:
        raise BackupError(f"the keybag asks for {dp_iterations:,} rounds (DPIC; Apple uses 10,000,000): "
                          "refused as damaged")
    wrapped = []
    for block in blocks:
        protection_class, wrap, key = _number(block, b"CLAS"), _number(block, b"WRAP"), block.get(b"WPKY")
        if protection_class is None or wrap is None or key is None:
            raise BackupError("the keybag is damaged: a class key lacks its class, wrapping or key")
        if wrap & WRAP_PASSCODE and not wrap & WRAP_DEVICE and wrapped_length(len(key)):
            wrapped.append((protection_class, key))
    if not wrapped:
        raise BackupError("the keybag holds no class key the password can open: damaged")
    return BackupKeybag(data, salt, iterations, dp_salt, dp_iterations, tuple(wrapped))


def _number(records: dict[bytes, bytes], tag: bytes) -> int | None:
    value = records.get(tag)
    if value is None:
        return None
    if len(value) != 4:
        raise BackupError(f"the keybag is damaged: its {_tag(tag)} record is {len(value)} bytes, not 4")
    return int.from_bytes(value, "big")


def _tag(tag: bytes) -> str:
    return tag.decode("ascii", "backslashreplace")


def wrapped_length(length: int) -> bool:
    """An AES key wrap of a 128- to 256-bit key: 8 bytes longer, in 8-byte steps."""
    return 24 <= length <= 40 and length % 8 == 0


# the password's keys, once per process -------------------------------------------------------------------------

# (SHA-256 of the keybag, password) -> class keys, or None when that password does not open that keybag.  Seconds of
# PBKDF2 per password: each process pays them once (workers forked after the walk started inherit them).
_unlocked: dict[tuple[bytes, str], dict[int, bytes] | None] = {}


def unlock_keybag(keybag: BackupKeybag, password: str) -> dict[int, bytes] | None:
    """The class keys the password opens, by protection class; None when it is not this backup's password."""
    cache_key = (hashlib.sha256(keybag.raw).digest(), password)
    if cache_key not in _unlocked:
        _unlocked[cache_key] = _derive_class_keys(keybag, password)
    return _unlocked[cache_key]


def _derive_class_keys(keybag: BackupKeybag, password: str) -> dict[int, bytes] | None:
    secret = password.encode("utf-8")
    if keybag.dp_salt is not None and keybag.dp_iterations is not None:
        secret = hashlib.pbkdf2_hmac("sha256", secret, keybag.dp_salt, keybag.dp_iterations, 32)
    password_key = hashlib.pbkdf2_hmac("sha1", secret, keybag.salt, keybag.iterations, 32)
    keys = {}
    for protection_class, wrapped in keybag.wrapped_class_keys:
        try:
            keys[protection_class] = aes_key_unwrap(password_key, wrapped)
        except (InvalidUnwrap, ValueError):
            continue  # a wrong password fails them all; one damaged key loses only its class
    return keys or None


def unwrap(class_keys: dict[int, bytes], wrapped_with_class: bytes, what: str) -> bytes:
    """A key stored as a 4-byte little-endian protection class and the key wrapped with that class's key."""
    protection_class = int.from_bytes(wrapped_with_class[:4], "little")
    class_key = class_keys.get(protection_class)
    if class_key is None:
        raise BackupError(f"{what} is of protection class {protection_class}, which the keybag does not open")
    try:
        return aes_key_unwrap(class_key, wrapped_with_class[4:])
    except (InvalidUnwrap, ValueError):
        raise BackupError(f"{what} does not unwrap with its class key: damaged") from None
