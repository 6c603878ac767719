"""The disk builders live in ``fieldlab.validation.disks``: ``fieldlab validate`` builds its corpus with them."""

from fieldlab.validation.disks import *  # noqa: F401,F403 - the tests' long-standing import path
from fieldlab.validation.disks import _AT_DATA, _fits_short_name, _ntfs_volume, _NtfsVolume  # noqa: F401
