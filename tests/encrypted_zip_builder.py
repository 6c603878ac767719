"""The encrypted-zip writer lives in ``fieldlab.validation.encrypted_zip``: ``fieldlab validate`` plants such zips."""

from fieldlab.validation.encrypted_zip import encrypted_zip  # noqa: F401 - the tests' long-standing import path
