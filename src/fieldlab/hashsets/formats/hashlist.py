"""md5sum/sha1sum output and bare hash-per-line lists.

Understood lines: ``<hex>  <name>``, ``<hex> *<name>`` (binary mode), GNU's
``\\<hex>  <escaped name>``, the BSD (and ``--tag``) form ``MD5 (<name>) = <hex>``
and a bare ``<hex>``.  Blank lines and ``#`` comments are skipped.  Names are
not kept (a hash set needs the digest only) and may be any bytes, so lines
stay bytes and only the hash is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from fieldlab.hashsets.formats.csvlist import quoted, read_lines
from fieldlab.hashsets.records import DIGEST_SIZES, HashRecord, ParseProblem, parse_hex_digest

_BSD_NAMES = frozenset(name.encode().upper() for name in DIGEST_SIZES)


def hash_token(line: bytes) -> bytes:
    """The hash text of one line, empty for a blank or comment line."""
    words = line.split(None, 1)
    if not words or words[0].startswith(b"#"):
        return b""
    if len(words) == 2 and words[1].startswith(b"(") and words[0] in _BSD_NAMES:
        return words[1].rpartition(b"=")[2].strip()
    return words[0].removeprefix(b"\\")


def parse_hash_list(path: Path, algorithm: Literal["md5", "sha1"]) -> Iterator[HashRecord | ParseProblem]:
    """Records from a list of ``algorithm`` hashes, numbered by line.

    A hash of the other algorithm is a problem, not a guess: a list declared
    MD5 that holds SHA-1 lines is most likely the wrong file.
    """
    size = DIGEST_SIZES[algorithm]
    is_md5 = algorithm == "md5"  # two plain calls: building records is most of the time here
    with path.open("rb") as stream:
        for number, line in enumerate(read_lines(stream), 1):
            token = hash_token(line)
            if not token:
                continue
            digest = parse_hex_digest(token.decode("ascii", "replace"), size)
            # len(): bytes.fromhex skips inner spaces, which a BSD line's hash can hold
            if digest is None or len(digest) != size:
                yield ParseProblem(number, f"{quoted(token)} is not a {size * 2}-hex-digit {algorithm.upper()}")
            elif is_md5:
                yield HashRecord(number, md5=digest)
            else:
                yield HashRecord(number, sha1=digest)
