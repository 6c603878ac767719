"""Which folders to walk first, so the first hits land within seconds of starting a scan.

Folder names only, so the same ranking serves mounted folders, disk images and phone extractions.
"""

from __future__ import annotations

LIKELY, NEUTRAL, UNLIKELY = 0, 1, 2

_LIKELY_NAMES = {
    b"users", b"home", b"pictures", b"photos", b"dcim", b"camera", b"downloads", b"desktop", b"documents",
    b"videos", b"movies", b"screenshots", b"whatsapp", b"telegram", b"media", b"sdcard", b"thumbnails",
    b"$recycle.bin", b"recycler", b".trash", b"trash", b"onedrive", b"dropbox", b"google drive", b"icloud drive",
    b"documents and settings", b"my documents", b"my pictures", b"$orphanfiles",
}
_UNLIKELY_NAMES = {
    b"windows", b"program files", b"program files (x86)", b"programdata", b"system32", b"usr", b"lib", b"lib64",
    b"bin", b"sbin", b"proc", b"sys", b"dev", b"etc", b"boot", b"node_modules", b"site-packages", b"$windows.~bt",
    b"winsxs", b"system volume information", b"$extend",
}


def folder_rank(name: bytes, inherited: int) -> int:
    """A folder's rank: its own name decides if it is telling, else it inherits its parent's."""
    lowered = name.lower()
    if lowered in _LIKELY_NAMES:
        return LIKELY
    if lowered in _UNLIKELY_NAMES:
        return UNLIKELY
    return inherited
