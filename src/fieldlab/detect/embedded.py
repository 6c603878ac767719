"""A cheap look, during hashing, for the signatures of pictures and videos inside documents and unknown files.

Only a file that shows one (past its first byte) is read again and carved
byte by byte; every other file costs one regular-expression pass over bytes
already in memory for hashing, and only when its type makes embedded media
plausible (documents, unknown data).
"""

from __future__ import annotations

import re

from fieldlab.detect.filetype import identify

EMBED_FAMILIES = ("document", "other")
_SIGNATURES = re.compile(
    rb"\xff\xd8\xff[\xc0-\xfe]|\x89PNG\r\n\x1a\n|GIF8[79]a|RIFF.{4}(?:WEBP|AVI )|.{4}ftyp(?:mp4|iso|qt  |3g|M4V|heic|heix|mif1|avif)",
    re.DOTALL,
)


class EmbeddedMediaHint:
    """Watches the chunks of one file; ``found`` tells whether a media signature appeared after its start."""

    def __init__(self, size_limit: int) -> None:
        self.size_limit = size_limit
        self.found = False
        self._active: bool | None = None  # decided on the first chunk, from the file's type

    def __call__(self, chunk: memoryview, offset: int) -> None:
        if self._active is None:
            self._active = identify(bytes(chunk[:4096])).family in EMBED_FAMILIES
        if not self._active or self.found or offset >= self.size_limit:
            return
        for match in _SIGNATURES.finditer(chunk):
            if offset + match.start() > 0:
                self.found = True
                return
