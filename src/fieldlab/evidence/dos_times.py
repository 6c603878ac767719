"""FAT's times as recorded, wherever the scan runs.

FAT keeps wall-clock times with no time zone; The Sleuth Kit turns them into seconds with the C library's
``mktime``, that is in the zone of the machine running the scan: DFTT test #5's winter.txt, written at 14:00,
read 14:00 in London and 19:00 in New York.  A court report must not depend on where it was made, so while a FAT
file system is walked the process's zone is UTC: the times read are the wall clock as the file system recorded
it, shown as UTC, the way archive members' DOS times are (archive_formats/libarchive_cursor.py).  NTFS, ext,
HFS+ and APFS keep UTC themselves and are not affected.
"""

from __future__ import annotations

import os
import time

DOS_CLOCK_FILE_SYSTEMS = frozenset({"fat12", "fat16", "fat32", "exfat"})


def read_dos_times_as_recorded() -> None:
    """Make the C library's local zone UTC for this process (done once; TSK reads FAT times through it)."""
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()
