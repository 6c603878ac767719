"""A LUKS2 header's JSON read into a ``LuksLayout``: suspect data, every field checked before it is used.

The JSON (cryptsetup's ``docs/on-disk-format-luks2``) holds ``keyslots`` (each: ``type`` luks2, the volume key's
``key_size``, a ``kdf`` of type pbkdf2 {hash, iterations, salt} or argon2i/argon2id {time, memory, cpus, salt}, an
``area`` {type raw, offset, size, encryption, key_size} and an ``af`` {type luks1, stripes, hash}), ``digests`` (a
pbkdf2 {hash, iterations, salt, digest} of the volume key, naming the key slots and segments it covers),
``segments`` (type crypt: offset, size "dynamic" or bytes, iv_tweak, encryption, sector_size) and ``config``.  Its
64-bit numbers are strings, the others JSON integers.  Lists and objects are bounded by what cryptsetup writes
(32 key slots, 32 segments, 8 digests), every offset and size is checked against the volume, and a field of the
wrong type or outside its range is a ``damaged`` header.  What fieldlab does not read is ``unsupported``, said by
name: a segment other than one ``crypt`` one (a re-encryption under way, OPAL hardware encryption, an unencrypted
segment), authenticated encryption (``integrity``), a payload cipher ``luks_sectors`` does not decrypt, mandatory
requirements.  A key slot whose KDF, anti-forensic split or key-material cipher is not run here is left untried,
with its reason kept (``LuksLayout.unread_slots``); none left is ``unsupported``.  Tokens (TPM2, FIDO2, keyring) are
not read: they unlock through hardware, not the examiner's passphrase.
"""

from __future__ import annotations

import base64
import binascii

from fieldlab.evidence.luks_key import ARGON2, HASHES, slot_derived_here
from fieldlab.evidence.luks_layout import (
    MAX_KEY_BYTES,
    MAX_STRIPES,
    Kdf,
    KeySlot,
    LuksHeader,
    LuksLayout,
    damaged,
    no_slot_enabled,
    outside_the_volume,
)
from fieldlab.evidence.luks_sectors import SECTOR, sector_cipher
from fieldlab.locator import display_bytes
from fieldlab.problems import Problem, ProblemKind

MAX_KEYSLOTS, MAX_SEGMENTS, MAX_DIGESTS = 32, 32, 8  # cryptsetup's LUKS2 limits
SECTOR_SIZES = (512, 1024, 2048, 4096)
_MAX_SALT_BYTES = 256  # cryptsetup writes 32
_MAX_UINT64 = 2**64 - 1


def luks2_layout(metadata: dict, hdr_size: int, volume_size: int) -> LuksHeader:
    """The layout ``metadata`` (a checksummed header copy's JSON) gives, or why it is not read."""
    try:
        return _layout(metadata, hdr_size, volume_size)
    except ValueError as exc:
        return LuksHeader(2, damaged(f"LUKS2 metadata: {str(exc)[:300]}"))


def _layout(metadata: dict, hdr_size: int, volume_size: int) -> LuksHeader:
    config = _object(metadata.get("config", {}), "config")
    requirements = _object(config.get("requirements", {}), "config requirements")
    mandatory = _list(requirements.get("mandatory", []), "mandatory requirements", 16)
    if mandatory:
        names = ", ".join(_shown(str(name)[:40]) for name in mandatory)
        return _unsupported(f"it has mandatory requirements ({names}: a re-encryption under way or hardware "
                            "encryption), which fieldlab does not read")
    segments = _bounded(metadata, "segments", MAX_SEGMENTS)
    if len(segments) != 1:
        return _unsupported(f"it has {len(segments)} data segments (a re-encryption under way, or none); fieldlab "
                            "reads a volume of one encrypted segment")
    ((segment_id, segment),) = segments.items()
    segment = _object(segment, f"segment {segment_id[:20]}")
    kind = _text(segment, "type")
    if kind != "crypt":
        return _unsupported(f"its data segment is of type {kind[:40]!r}, not an encrypted (crypt) one fieldlab reads")
    if "integrity" in segment:
        return _unsupported("its data has authenticated encryption (dm-integrity), which fieldlab does not read")
    encryption = _text(segment, "encryption")
    cipher, _, mode = encryption.partition("-")
    sector_size = _integer(segment, "sector_size", 1, 4096)
    if sector_size not in SECTOR_SIZES:
        raise ValueError(f"a sector size of {sector_size} bytes")
    payload_offset = _uint64(segment, "offset")
    payload_size = None if segment.get("size") == "dynamic" else _uint64(segment, "size")
    iv_offset = _uint64(segment, "iv_tweak")
    if payload_offset % SECTOR or iv_offset % (sector_size // SECTOR) or (payload_size or 0) % sector_size:
        raise ValueError("its data segment's offset, size or IV tweak is not whole sectors")
    if payload_offset < 2 * hdr_size:
        raise ValueError(f"its data segment starts at byte {payload_offset:,}, inside its own header")
    if payload_offset >= volume_size:
        return LuksHeader(2, outside_the_volume(payload_offset, volume_size))
    digest = _digest_of(metadata, segment_id)
    slot_ids = _list(digest.get("keyslots"), "the digest's key slots", MAX_KEYSLOTS)
    keyslots = _bounded(metadata, "keyslots", MAX_KEYSLOTS)
    slots, unread, key_bytes = [], [], 0
    for slot_id in slot_ids:
        if not isinstance(slot_id, str) or slot_id not in keyslots:
            raise ValueError(f"the digest names a key slot {str(slot_id)[:20]!r} there is none of")
        slot, reason, key_bytes = _key_slot(slot_id, _object(keyslots[slot_id], f"key slot {_shown(slot_id[:20])}"), hdr_size,
                                            volume_size, key_bytes)
        if slot is not None:
            slots.append(slot)
        else:
            unread.append(reason)
    if not slots and unread:
        return _unsupported("; ".join(unread[:3]))
    if not slots:
        return LuksHeader(2, no_slot_enabled())
    if sector_cipher(cipher, mode, bytes(key_bytes), sector_size) is None:
        return _unsupported(f"its data is encrypted with {encryption[:60]} ({key_bytes * 8}-bit key), which fieldlab "
                            "does not decrypt")
    digest_hash = _text(digest, "hash")
    if digest_hash not in HASHES:
        return _unsupported(f"its volume key digest uses {digest_hash[:40]}, which fieldlab does not run")
    return LuksHeader(2, layout=LuksLayout(
        2, cipher, mode, key_bytes, payload_offset, payload_size, sector_size, iv_offset, digest_hash,
        _base64(digest, "digest", 64), _base64(digest, "salt", _MAX_SALT_BYTES),
        _integer(digest, "iterations", 1, 2**32 - 1), tuple(slots), tuple(unread)))


def _digest_of(metadata: dict, segment_id: str) -> dict:
    """The digest that covers the data segment: the volume key is the one it confirms."""
    for digest_id, digest in _bounded(metadata, "digests", MAX_DIGESTS).items():
        digest = _object(digest, f"digest {digest_id[:20]}")
        if segment_id in _list(digest.get("segments"), "the digest's segments", MAX_SEGMENTS):
            if _text(digest, "type") != "pbkdf2":
                raise ValueError(f"its volume key digest is of type {_text(digest, 'type')[:40]!r}, not pbkdf2")
            return digest
    raise ValueError("no digest covers its data segment")


def _shown(text: str) -> str:
    """Suspect text in a message: control and bidi characters escaped, as every shown name is."""
    return display_bytes(text.encode("utf-8", "surrogatepass"))


def _key_slot(slot_id: str, slot: dict, hdr_size: int, volume_size: int,
              key_bytes: int) -> tuple[KeySlot | None, str, int]:
    """(the slot, or None and why it is not tried, the volume key's size): every slot of a digest holds the same
    volume key, so all give the same size."""
    name = f"key slot {_shown(slot_id[:20])}"
    if _text(slot, "type") != "luks2":
        return None, f"{name} is of type {_text(slot, 'type')[:40]!r}, not a passphrase slot fieldlab reads", key_bytes
    volume_key_bytes = _integer(slot, "key_size", 1, 1024)
    if key_bytes and volume_key_bytes != key_bytes:
        raise ValueError(f"{name} holds a volume key of {volume_key_bytes} bytes, another slot of {key_bytes}")
    if volume_key_bytes > MAX_KEY_BYTES:
        return None, f"{name} holds a {volume_key_bytes * 8}-bit volume key, larger than fieldlab decrypts with", \
            volume_key_bytes
    af, area, kdf_fields = (_object(slot.get(part), f"{name}'s {part}") for part in ("af", "area", "kdf"))
    if _text(af, "type") != "luks1" or _text(area, "type") != "raw":
        return None, f"{name} has an anti-forensic split or area fieldlab does not read", volume_key_bytes
    stripes = _integer(af, "stripes", 1, MAX_STRIPES)
    material_offset, area_size = _uint64(area, "offset"), _uint64(area, "size")
    if material_offset % SECTOR or material_offset < 2 * hdr_size or area_size < stripes * volume_key_bytes:
        raise ValueError(f"{name}'s key material area is misplaced or too small for its key")
    if material_offset + stripes * volume_key_bytes > volume_size:
        raise ValueError(f"{name}'s key material lies outside the volume")
    cipher, _, mode = _text(area, "encryption").partition("-")
    built = KeySlot(int(slot_id), _kdf(kdf_fields), material_offset, stripes, _text(af, "hash"), cipher, mode,
                    _integer(area, "key_size", 1, MAX_KEY_BYTES))
    if not slot_derived_here(built):
        return None, (f"{name}'s KDF ({built.kdf.name[:20]}), split hash ({built.af_hash[:20]}) or cipher "
                      f"({cipher[:20]}-{mode[:40]}) is not run by fieldlab"), volume_key_bytes
    return built, "", volume_key_bytes


def _kdf(kdf: dict) -> Kdf:
    kind = _text(kdf, "type")
    if kind != "pbkdf2" and kind not in ARGON2:
        return Kdf(kind[:20], b"", 0)  # named, not run: ``slot_derived_here`` leaves the slot untried
    salt = _base64(kdf, "salt", _MAX_SALT_BYTES)
    if kind == "pbkdf2":
        return Kdf(kind, salt, _integer(kdf, "iterations", 1, _MAX_UINT64), _text(kdf, "hash"))
    lanes = _integer(kdf, "cpus", 1, _MAX_UINT64)
    memory = _integer(kdf, "memory", 8 * lanes, _MAX_UINT64)  # Argon2 needs 8 KiB a lane at least
    return Kdf(kind, salt, _integer(kdf, "time", 1, _MAX_UINT64), memory_kib=memory, lanes=lanes)


def _unsupported(why: str) -> LuksHeader:
    return LuksHeader(2, Problem(ProblemKind.UNSUPPORTED, f"LUKS2 volume: {why}; not read"))


def _object(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def _list(value: object, what: str, most: int) -> list:
    if not isinstance(value, list) or len(value) > most:
        raise ValueError(f"{what} are not a list of at most {most}")
    return value


def _bounded(metadata: dict, key: str, most: int) -> dict:
    found = _object(metadata.get(key), key)
    if len(found) > most or not all(isinstance(name, str) and name.isdigit() and len(name) < 3 for name in found):
        raise ValueError(f"its {key} are more than {most} or not numbered")
    return found


def _text(fields: dict, key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ValueError(f"its {key!r} is not a name")
    return value


def _integer(fields: dict, key: str, least: int, most: int) -> int:
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ValueError(f"its {key!r} is not a whole number from {least:,} to {most:,}")
    return value


def _uint64(fields: dict, key: str) -> int:
    """A 64-bit number, which LUKS2 writes as a decimal string."""
    value = fields.get(key)
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 20:
        raise ValueError(f"its {key!r} is not a 64-bit number")
    number = int(value)
    if number > _MAX_UINT64:
        raise ValueError(f"its {key!r} is not a 64-bit number")
    return number


def _base64(fields: dict, key: str, most: int) -> bytes:
    try:
        decoded = base64.b64decode(_text(fields, key), validate=True)
    except binascii.Error:
        raise ValueError(f"its {key!r} is not base64") from None
    if not 0 < len(decoded) <= most:
        raise ValueError(f"its {key!r} is {len(decoded)} bytes")
    return decoded
