"""Case and operations folders are for their examiners alone: folders 0700, files 0600, whatever the umask.

A case holds the names of a suspect's files and the categories of what they show; the operations database holds
subscribers' names and addresses; a cached thumbnail is a picture.  Under the usual umask (022) all of these would
be readable by every account on the machine.  The mode is given when the file is created (never chmod after: the
file would be readable for a moment), and SQLite creates its ``-wal`` and ``-shm`` files with the mode of the
database file, so creating that file first covers them too.
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private_folder(folder: Path) -> None:
    """``folder`` (and any missing parents) created, and ``folder`` itself made 0700 even if it already existed
    (an empty folder the examiner made for a new case)."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(folder, FOLDER_MODE)


def create_private_file(path: Path) -> None:
    """An empty file at ``path`` with mode 0600, unless one is there already (its mode is then left alone)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except FileExistsError:
        pass


def write_private_bytes(path: Path, data: bytes) -> None:
    """``data`` into a new file at ``path`` created 0600 (a stale file of that name is replaced)."""
    path.unlink(missing_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(handle, "wb") as out:
        out.write(data)
