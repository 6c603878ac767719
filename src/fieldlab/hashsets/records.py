"""What every hash-set format parser yields, whatever the format."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args

from fieldlab.errors import HashSetError


class HashSetFileError(HashSetError, ValueError):
    """A hash-set file is not what it should be: a file to import that fits no format (or not the one named), or a
    file of a set in the library that is damaged.

    A ValueError too, as these have always been, so callers that checked for one still work."""


DigestKind = Literal["md5", "sha1", "sha256"]  # the exact digests: raw bytes in hash sets, hex in the case
DIGEST_KINDS: tuple[DigestKind, ...] = get_args(DigestKind)
# bytes per digest, by DigestKind; keyed by str, as column names read from a hash-set file look it up
DIGEST_SIZES: dict[str, int] = {"md5": 16, "sha1": 20, "sha256": 32}


class MatchMethod(StrEnum):
    """How a hit was made.  The values are what the case stores (``hits.method``) and the exports write."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    PDQ = "pdq"  # a picture within the PDQ radius of a known one
    VPDQ = "vpdq"  # a video whose frames cover a known video's


EXACT_METHODS = (MatchMethod.MD5, MatchMethod.SHA1, MatchMethod.SHA256)
PDQ_SIZE = 32
MIN_PDQ_QUALITY = 50  # Meta's rule: a PDQ of lower quality (a near-blank picture) is close to too much to mean anything


@dataclass(slots=True)  # not frozen: built tens of millions of times per import, and frozen costs 4x
class HashRecord:
    """One known item: its digests (raw bytes) and its category exactly as the source wrote it."""

    line: int  # line number (text formats) or record number (JSON) in the source, for error reports
    md5: bytes | None = None
    sha1: bytes | None = None
    sha256: bytes | None = None
    pdq: bytes | None = None
    category: str | None = None  # raw value, mapped to a label later through a profile
    photodna: str | None = None  # kept verbatim and passed through to exports: PhotoDNA is proprietary, never computed


@dataclass(frozen=True)
class ParseProblem:
    """An input record that was not usable; imports count and report these, never drop them silently."""

    line: int
    reason: str


MAX_PHOTODNA = 1024  # characters: a PhotoDNA hash is 144 bytes, 192 in base64


def parse_photodna(text: str) -> str | None:
    """The value as the source wrote it, if it is short printable ASCII; PhotoDNA's encoding varies by exporter."""
    text = text.strip()
    if not text or len(text) > MAX_PHOTODNA or not (text.isascii() and text.isprintable()):
        return None
    return text


def parse_hex_digest(text: str, size: int) -> bytes | None:
    """Raw bytes of a hex digest of ``size`` bytes, or None when ``text`` is not one."""
    text = text.strip()
    if len(text) != size * 2:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if len(raw) == size else None  # fromhex skips inner spaces: "00 11 …" comes out short
