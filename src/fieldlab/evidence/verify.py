"""Is the image still what was acquired? Recompute the media hash and compare it with the one stored at acquisition."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from fieldlab.evidence.containers import MediaReader

CHUNK = 8 << 20


@dataclass(frozen=True)
class VerifyResult:
    state: str  # verified | mismatch | no stored hash | unreadable
    stored: dict[str, str] = field(default_factory=dict)
    computed: dict[str, str] = field(default_factory=dict)
    message: str = ""


def verify_media(media: MediaReader, progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Read the whole media once (MD5 and SHA-1 together) and compare with every hash the container stores."""
    stored = {k: v.lower() for k, v in media.info.stored_hashes.items() if k in ("md5", "sha1")}
    if media.info.missing_parent:
        return VerifyResult("unreadable", stored, {}, media.info.missing_parent)
    hashers = {"md5": hashlib.md5(), "sha1": hashlib.sha1()}
    offset = 0
    try:
        while offset < media.size:
            chunk = media.read(offset, CHUNK)
            if not chunk:
                raise OSError(f"no data at offset {offset:,} of {media.size:,}")
            for hasher in hashers.values():
                hasher.update(chunk)
            offset += len(chunk)
            if progress:
                progress(offset, media.size)
    except OSError as exc:
        return VerifyResult("unreadable", stored, {}, f"the media could not be read completely: {exc}")
    computed = {name: h.hexdigest() for name, h in hashers.items()}
    if not stored:
        return VerifyResult("no stored hash", stored, computed, "the container stores no hash to compare with")
    wrong = [name for name, value in stored.items() if computed[name] != value]
    if wrong:
        return VerifyResult("mismatch", stored, computed, f"{', '.join(wrong).upper()} differ from the acquisition hash")
    names = " and ".join(name.upper() for name in stored)
    verb = "matches" if len(stored) == 1 else "match"
    return VerifyResult("verified", stored, computed, f"{names} {verb} the acquisition hash")
