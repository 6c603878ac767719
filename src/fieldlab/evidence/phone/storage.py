"""One key for "the same file on the phone" however an extraction or a database writes its path.

A gallery database says ``/storage/emulated/0/DCIM/Camera/x.jpg``; the same
file is ``sdcard/DCIM/Camera/x.jpg`` in a logical extraction,
``data/media/0/DCIM/Camera/x.jpg`` in a full file system, and
``CameraRollDomain/Media/DCIM/...`` in an iOS backup where Photos.sqlite says
``/private/var/mobile/Media/DCIM/...``.  Cutting every path at the anchor of
the phone's shared storage gives a key both sides agree on.
"""

from __future__ import annotations

import re

# the last anchor wins: "x.tar › data/media/0/..." and "/storage/emulated/0/..." both cut after the anchor
_ANDROID = re.compile(r"(?:^|/)(?:storage/emulated/\d+|storage/self/primary|sdcard\d?|mnt/sdcard|data/media/\d+)/")
_IOS = re.compile(r"(?:^|/)(?:private/var/mobile/media|var/mobile/media|mobile/media|camerarolldomain/media|media)/"
                  r"(?=dcim/|photodata/|recently deleted/|purchases/|downloads/)")


def storage_key(path: str) -> str | None:
    """``android:dcim/camera/x.jpg`` / ``ios:dcim/100apple/img_0001.heic``; None for paths outside shared storage."""
    lowered = path.replace("\\", "/").replace(" › ", "/").lower()
    android = list(_ANDROID.finditer(lowered))
    if android:
        return "android:" + lowered[android[-1].end():]
    ios = list(_IOS.finditer(lowered))
    if ios:
        return "ios:" + lowered[ios[-1].end():]
    return None
