"""The hashing-time look for embedded media: fires on real signatures past a file's start, not on noise."""

from __future__ import annotations

import random

import pytest

from fieldlab.demo import procedural_jpeg, procedural_png
from fieldlab.detect.embedded import EmbeddedMediaHint


def watched(data: bytes, chunk: int = 1 << 20, limit: int = 1 << 30) -> bool:
    hint = EmbeddedMediaHint(limit)
    view = memoryview(data)
    for offset in range(0, len(data), chunk):
        hint(view[offset:offset + chunk], offset)
    return hint.found


@pytest.mark.parametrize("media", [procedural_jpeg(1, 64, 48), procedural_png(2, 32, 24),
                                   b"GIF89a" + b"\0" * 20, b"RIFF\0\0\0\0WEBPVP8 ", b"\0\0\0\x18ftypmp42"])
def test_media_after_junk_in_an_unknown_file_is_noticed(media: bytes) -> None:
    assert watched(b"junk" * 400 + media + b"tail")


def test_noise_text_and_media_files_themselves_are_not_flagged() -> None:
    assert not watched(b"plain text " + random.Random(7).randbytes(8 << 20))  # seeded: noise can hold a signature
    assert not watched(b"a log line\n" * 100_000)
    assert not watched(procedural_jpeg(3))  # a picture is not "a file with a picture inside"


def test_nothing_is_looked_for_past_the_size_limit() -> None:
    assert not watched(b"junk" * 300_000 + procedural_jpeg(1, 64, 48), chunk=1 << 16, limit=1 << 16)
