"""Project VIC VICS JSON (OData 1.x and 2.0), read as a stream.

A case file holds its media in ``value[].Media[]``, a media file directly in
``value[]``; both versions name the fields we need alike (``MD5``, ``SHA1``,
``Category``, ``AlternativeHashes[].HashName/HashValue``).  Files reach many
GB, so ijson builds one media object at a time.  The layout is named by the
``#Cases``/``#Media`` end of ``odata.metadata``/``@odata.context``; files
without it are told apart by their first keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import BinaryIO

import ijson

from fieldlab.hashsets.formats.csvlist import BOM, ECHO, quoted, record_from_fields
from fieldlab.hashsets.records import HashRecord, ParseProblem

MAX_DEPTH = 64  # real VICS files nest about seven levels
CASE_MEDIA = "value.item.Media.item"
MEDIA = "value.item"
_LAYOUTS = {"Cases": CASE_MEDIA, "Media": MEDIA}
_CONTEXT_KEYS = ("@odata.context", "odata.metadata")
_MEDIA_KEYS = frozenset({"MD5", "SHA1", "MediaID", "Category", "MediaFiles", "AlternativeHashes"})  # not in a Case
_NOT_MARKS = bytes(range(256)).translate(None, b'"[]{}')  # translate() deletes these: all but quotes and brackets
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_FIELDS = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "photodna": "PhotoDNA", "category": "Category"}
_ALTERNATIVES = {"PDQ": "pdq", "PHOTODNA": "photodna", "SHA1": "sha1", "SHA256": "sha256"}  # HashName, upper-cased, without "-"


def parse_vics(path: Path) -> Iterator[HashRecord | ParseProblem]:
    """Records from a VICS file, numbered by media in file order.

    Broken JSON ends the stream with a problem saying where; the records
    before it stand.
    """
    ordinal = 0
    with path.open("rb") as stream:
        try:
            prefix = _media_prefix(_from_start(stream))
            if prefix is None:
                yield ParseProblem(1, "no media found: expected value[].Media[] (cases) or value[] of media")
                return
            # use_float: without it ijson's C backend segfaults on an integer of over 4300 digits;
            # with it, one beyond 64 bits is a parse error (none of VICS's numbers is)
            for media in ijson.items(_from_start(stream), prefix, use_float=True):
                ordinal += 1
                yield from record_from_fields(ordinal, _fields(media if isinstance(media, dict) else {}))
        except ijson.JSONError as error:
            yield ParseProblem(ordinal + 1, f"JSON broken after media {ordinal}, reading stopped: {_describe(error)}")


def _from_start(stream: BinaryIO) -> _NestingLimit:
    """``stream`` at its first JSON byte: some exporters write a UTF-8 BOM, which ijson rejects."""
    stream.seek(0)
    if stream.read(len(BOM)) != BOM:
        stream.seek(0)
    return _NestingLimit(stream)


class _NestingLimit:
    """A binary reader that stops JSON nested deeper than MAX_DEPTH before ijson sees it.

    ijson builds a path string per level, so its time and memory grow with the
    square of the depth: 100 KB of "[" took it 6 GB.  Counting the brackets
    outside strings here costs a few C-speed passes over each block.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._depth = 0
        self._in_string = False
        self._escaped = False  # the block ended inside a string with a lone backslash

    def read(self, size: int = -1) -> bytes:
        block = self._stream.read(size)
        if block:
            self._count(block)
        return block

    def _count(self, block: bytes) -> None:
        if self._escaped:
            block = block[1:]
        # without escaped backslashes and escaped quotes, the quotes left open and close strings
        block = block.replace(b"\\\\", b"").replace(b'\\"', b"")
        self._escaped = block.endswith(b"\\")
        # a bracket is inside a string when an odd number of quotes precede it, so
        # two adjacent quotes (most strings, once reduced to marks) change nothing
        marks = block.translate(None, _NOT_MARKS).replace(b'""', b"")
        pieces = (b'"' * self._in_string + marks).split(b'"')
        self._in_string = len(pieces) % 2 == 0
        levels = list(accumulate(map(_STEP.__getitem__, b"".join(pieces[::2])), initial=self._depth))
        if max(levels) > MAX_DEPTH:
            raise ijson.JSONError(f"nested deeper than {MAX_DEPTH} levels")
        self._depth = levels[-1]


def _media_prefix(stream: _NestingLimit) -> str | None:
    """Where the media objects are: from the context, or else the first key that tells a case from a media."""
    for prefix, event, value in ijson.parse(stream, use_float=True):
        if event == "string" and prefix in _CONTEXT_KEYS:
            layout = _LAYOUTS.get(value.rpartition("#")[2])
            if layout:
                return layout
        elif event == "map_key" and prefix == MEDIA:
            if value == "Media":
                return CASE_MEDIA
            if value in _MEDIA_KEYS:
                return MEDIA
    return None


def _fields(media: dict[str, object]) -> dict[str, str | None]:
    """The media's values by column name; its own MD5/SHA1/SHA256 win over AlternativeHashes."""
    fields = _alternative_hashes(media.get("AlternativeHashes"))
    for name, key in _FIELDS.items():
        text = _json_text(media.get(key))
        if text is not None and text.strip():
            fields[name] = text
    return fields


def _alternative_hashes(entries: object) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("HashName"), str):
                name = _ALTERNATIVES.get(entry["HashName"].strip().upper().replace("-", ""))
                if name:
                    found.setdefault(name, _json_text(entry.get("HashValue")))
    return found


def _json_text(value: object) -> str | None:
    """A JSON value as the text it stands for: exporters write 1 or "1", true or "true"."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[...]"
    return str(value)


def _describe(error: ijson.JSONError) -> str:
    """ijson's message, keeping the text it quotes from the file short."""
    message = error.args[0] if error.args else ""
    if isinstance(message, bytes):  # the C backend's message for invalid UTF-8 quotes the raw bytes
        message = message.decode("utf-8", "replace")
    lines = str(message).splitlines() or [type(error).__name__]
    description = lines[0][:ECHO]
    if len(lines) > 1 and lines[1].strip():
        description += f" near {quoted(lines[1].strip())}"
    return description
