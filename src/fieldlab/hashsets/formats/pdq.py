"""PDQ hash lists: one 256-bit PDQ hash (64 hex digits) per line.

Understood lines:

- ``pdq <hash>``, as ThreatExchange's ``threatexchange hash photo`` prints
  them; the prefix in any case;
- ``<hash>`` alone or followed by a comma or white space, as Meta's
  ``pdq-photo-hasher`` prints ``<hash>,<quality>,<file name>``, and
  ``hash=<hash>`` as its ``hashtool256`` reads them.

Whatever follows the hash (file names, labels) is ignored: free text is no
category, and a wrong category does more harm than none, so records carry
none (a categorised list is a CSV with a header: ``pdq,category``).  The one
thing read is the quality the hasher wrote (``<hash>,<quality>,...`` or
``quality=``): a hash under 50 is kept and reported, as in CSV lists.  Blank
lines and ``#`` comments are skipped.

A bare 64-hex-digit line looks exactly like a SHA-256, so only the ``pdq
<hash>`` form is recognised by content; a bare list must be declared.  So must
a CSV whose header names only a ``hash`` column (ThreatExchange's
``FilePath,Hash`` test data): declared a PDQ list, that column is read as PDQ.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from fieldlab.hashsets.formats.csvlist import names_a_bare_hash, parse_csv, pdq_quality_problem, quoted, read_lines
from fieldlab.hashsets.records import PDQ_SIZE, HashRecord, HashSetFileError, ParseProblem, parse_hex_digest

PREFIX = b"pdq"
_END_OF_HASH = re.compile(rb"[\s,]")
_HASHER_QUALITY = re.compile(rb"^[^,]*,\s*(\d{1,3})\s*(?:,|$)")  # pdq-photo-hasher: <hash>,<quality>,<file name>
_DETAILED_QUALITY = re.compile(rb"(?:^|,)quality=([^,]*)")  # pdq-photo-hasher --details: hash=...,quality=...


def pdq_token(line: bytes) -> bytes:
    """The hash text of one line, empty for a blank or comment line."""
    text = line.strip()
    if not text or text.startswith(b"#"):
        return b""
    words = text.split(None, 1)
    if len(words) == 2 and words[0].lower() == PREFIX:
        text = words[1]
    return _END_OF_HASH.split(text.removeprefix(b"hash="), 1)[0]


def is_pdq_line(line: bytes) -> bool:
    """Whether ``line`` is ``pdq <hash>``: the only form that cannot be a SHA-256 list."""
    words = line.split(None, 1)
    return bool(words) and words[0].lower() == PREFIX and _digest(pdq_token(line)) is not None


def parse_pdq(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from a PDQ list, numbered by line.

    Raises HashSetFileError when the first hash line holds no PDQ hash: the file is
    most likely not a PDQ list.  Later bad lines are problems.
    """
    first = True
    with path.open("rb") as stream:
        for number, line in enumerate(read_lines(stream), 1):
            token = pdq_token(line)
            if not token:
                continue
            digest = _digest(token)
            if digest is not None:
                yield HashRecord(number, pdq=digest)
                if weak := pdq_quality_problem(number, _quality(line.strip())):
                    yield weak
            elif first and names_a_bare_hash(line.decode("utf-8", "replace")):
                yield from _csv_of_pdqs(path)
                return
            elif first:
                raise HashSetFileError(
                    f"{path}: not a PDQ list: line {number} is {quoted(line.strip())}, not a 64-hex-digit PDQ hash "
                    "(alone or after 'pdq ')"
                )
            else:
                yield ParseProblem(number, f"{quoted(token)} is not a {PDQ_SIZE * 2}-hex-digit PDQ hash")
            first = False


def _csv_of_pdqs(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """A CSV whose bare ``hash`` column was declared PDQ; its first record must hold one, or the file is another
    list with a hash column (HashKeeper's holds MD5s) and was declared by mistake."""
    entries = parse_csv(path, bare_hash="pdq")
    for entry in entries:
        if isinstance(entry, HashRecord) and entry.pdq is None:
            raise HashSetFileError(f"{path}: not a PDQ list: line {entry.line}'s hash column holds no 64-hex-digit PDQ")
        yield entry
        if isinstance(entry, HashRecord):
            break
    yield from entries


def _quality(text: bytes) -> str | None:
    found = _DETAILED_QUALITY.search(text) if text.startswith(b"hash=") else _HASHER_QUALITY.match(text)
    return found.group(1).decode("ascii", "replace") if found else None


def _digest(token: bytes) -> bytes | None:
    return parse_hex_digest(token.decode("ascii", "replace"), PDQ_SIZE)
