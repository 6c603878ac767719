"""The encrypted-zip writer lives in ``fieldlab.validation.encrypted_zip``: ``fieldlab validate`` plants such zips.

Tests get the same header and salt bytes on every run: with random ones, a wrong password passes ZipCrypto's
one-byte check once in 256 runs, and a test about wrong passwords would fail now and then."""

import random

from fieldlab.validation import encrypted_zip as writer


def encrypted_zip(entries: dict[str, bytes], password: str, aes: bool = False, seed: int = 0) -> bytes:
    return writer.encrypted_zip(entries, password, aes, salt=random.Random(seed).randbytes)
