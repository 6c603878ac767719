"""What unlocking a LUKS volume needs, in one form whichever version wrote its header.

LUKS1 (a fixed binary header) and LUKS2 (a binary header and a JSON area) describe the same things in different
places: key slots, each holding the volume key split into stripes (the anti-forensic split) and encrypted with a key
a KDF makes of the passphrase; a digest that says which key is the volume key; and the payload's cipher, offset and
sector size.  ``luks_header`` (LUKS1) and ``luks2_header`` (LUKS2) check a header and hand these fields on as a
``LuksLayout``, so that ``luks_key`` derives the key and ``luks_sectors`` decrypts the payload by one code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldlab.problems import Problem, ProblemKind

MAX_KEY_BYTES = 64  # 512-bit keys (aes-xts with two 256-bit keys) are the largest fieldlab decrypts with
MAX_STRIPES = 65_536  # cryptsetup writes 4,000; a slot's key material is stripes x key bytes


@dataclass(frozen=True)
class Kdf:
    """How a passphrase becomes a key slot's key: PBKDF2 (``hash_name``, ``iterations``), or Argon2i/Argon2id
    (``iterations`` its passes over ``memory_kib`` of memory in ``lanes`` lanes)."""

    name: str  # "pbkdf2", "argon2i" or "argon2id"
    salt: bytes = field(repr=False)
    iterations: int
    hash_name: str = ""
    memory_kib: int = 0
    lanes: int = 0


@dataclass(frozen=True)
class KeySlot:
    """An enabled key slot: the volume key, split into ``stripes`` (merged with ``af_hash``) and encrypted with
    ``cipher``-``mode`` under a ``key_bytes`` key that ``kdf`` makes of the passphrase, lies at ``material_offset``
    (bytes from the header), its 512-byte sectors numbered from 0 there."""

    index: int
    kdf: Kdf
    material_offset: int
    stripes: int
    af_hash: str
    cipher: str
    mode: str
    key_bytes: int


@dataclass(frozen=True)
class LuksLayout:
    """A checked header's fields: the payload's cipher (``aes``, ``xts-plain64``), where it lies (``payload_size``
    None: to the volume's end), its sector size and the IV number of its first sector (LUKS2's ``iv_tweak``,
    counted in 512-byte sectors as dm-crypt counts), the volume key's size, and how a key is checked (PBKDF2 of it
    with the digest's hash, salt and iterations gives the digest).  ``unread_slots`` says why a key slot of a LUKS2
    volume is not tried (a KDF or cipher fieldlab does not run), so a passphrase it refuses says so."""

    version: int
    cipher: str
    mode: str
    key_bytes: int
    payload_offset: int  # bytes from the header
    payload_size: int | None
    sector_size: int
    iv_offset: int
    digest_hash: str
    digest: bytes = field(repr=False)
    digest_salt: bytes = field(repr=False)
    digest_iterations: int
    slots: tuple[KeySlot, ...]  # the enabled ones, in slot order
    unread_slots: tuple[str, ...] = ()

    @property
    def digest_identity(self) -> bytes:
        """The digest with its salt and iterations: a volume key checked against one header opens any header with
        the same identity, whatever else of it differs."""
        return self.digest + self.digest_salt + self.digest_iterations.to_bytes(8, "big")


@dataclass(frozen=True)
class LuksHeader:
    """What the survey needs of a header: its version, and why it is not opened (None when a passphrase may be
    tried on it, its fields then in ``layout``)."""

    version: int
    problem: Problem | None = None
    layout: LuksLayout | None = None


def damaged(why: str) -> Problem:
    return Problem(ProblemKind.DAMAGED, f"LUKS volume: its header is damaged ({why}); not read")


def outside_the_volume(payload_offset: int, size: int) -> Problem:
    return Problem(ProblemKind.TRUNCATED, (
        f"LUKS volume: its encrypted data would start at byte {payload_offset:,}, outside the volume of {size:,} "
        "bytes; not read"))


def no_slot_enabled() -> Problem:
    return Problem(ProblemKind.ENCRYPTED, "LUKS volume: no key slot is enabled, so no passphrase opens it; not read")
