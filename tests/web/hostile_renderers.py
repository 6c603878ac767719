"""Stand-ins for a decoder that crashes or hangs on a hostile file, run in the thumbnail workers."""

from __future__ import annotations

import os
import time

from fieldlab.web.thumbnails import ThumbnailTask, render


def crash_on_alone(task: ThumbnailTask) -> bytes:
    if task.locator.endswith("alone.jpg"):
        os._exit(139)  # as a segfault in a native decoder would end the process
    return render(task)


def hang_on_alone(task: ThumbnailTask) -> bytes:
    if task.locator.endswith("alone.jpg"):
        time.sleep(3600)
    return render(task)
