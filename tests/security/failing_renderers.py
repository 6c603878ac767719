"""A thumbnail worker that fails with an error that is not ThumbnailUnavailable, after a moment (so a second
request for the same picture arrives while the first is still being made): the fault behind issue 16.10's hang."""

from __future__ import annotations

import time

from fieldlab.locator import LocatorError
from fieldlab.web.thumbnails import ThumbnailTask


def slow_locator_error(task: ThumbnailTask) -> bytes:
    time.sleep(1.0)
    raise LocatorError(f"not a file of a folder source: {task.locator}")
