"""The thumbnail-cache writers live in ``fieldlab.validation.thumbnails``: ``fieldlab validate`` plants such caches."""

from fieldlab.validation.thumbnails import *  # noqa: F401,F403 - the tests' long-standing import path
