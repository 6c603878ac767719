"""Why a volume opened to no file system, in words an examiner can act on.

"No file system recognised" is true of blank space, but it hides layouts real seized media hold: a partition
reformatted from one file system to another (both sets of signatures survive and TSK refuses to choose, so
neither is listed: DFTT test #10), a volume TSK could not read (a container chunk
that fails to inflate) and an Apple disk image (UDIF .dmg) that was not read as one: its trailer
damaged or cut off (then only its compressed chunks are left, from the first byte), or encrypted.  Naming them tells
the examiner which tool to reach for next instead of suggesting the space is empty.  (An LVM physical volume is
known by its label before this is asked: ``ImageSource._found_physical_volume``.)
"""

from __future__ import annotations

import re
import zlib

from fieldlab.evidence.differencing import UDIF_TRAILER
from fieldlab.evidence.volume_layers import READ_FAILED, RangeReader

# TSK's words when more than one file system's signature is found ("... (EXT2/3/4 or NTFS)").
_SEVERAL_FILE_SYSTEMS = re.compile(r"Multiple file system types detected \(([^)]{1,80})\)")

# A UDIF disk image ends with a 512-byte trailer starting "koly"; its data fork, from the file's first byte, is its
# chunks: zlib, bzip2 or LZFSE streams (ADC has no mark).  An encrypted .dmg starts "encrcdsa" (version 2).
_BZIP2_HEAD = re.compile(rb"BZh[1-9]1AY&SY")
_LZFSE_HEADS = (b"bvx2", b"bvx1", b"bvxn", b"bvx-")
_ENCRYPTED_DMG_HEAD = b"encrcdsa"

_HEAD = 65536  # bytes at the start of a volume looked at for what is left of a .dmg

# A Linux swap area ends its first page with "SWAPSPACE2" (pages of 4 KiB, or 64 KiB on some ARM and POWER systems).
_SWAP_SIGNATURE_ENDS = (4096, 65536)


def why_no_file_system(error: Exception, volume: RangeReader) -> str:
    """The problem recorded for a volume TSK (``error``) opened no file system on."""
    several = _SEVERAL_FILE_SYSTEMS.search(str(error))
    if several:
        return (f"more than one file system in this volume ({several.group(1)}), as a reformat leaves: "
                "TSK will not choose between them, so neither is listed; its space is kept for carving")
    if str(error).startswith(READ_FAILED):  # a container chunk that fails to inflate, not a missing file system
        return f"{error}: the image is damaged there; its space is kept for carving"
    head = _read(volume, 0, min(_HEAD, volume.size))
    if volume.size >= UDIF_TRAILER and _read(volume, volume.size - UDIF_TRAILER, 4) == b"koly":
        return ("an Apple disk image (UDIF .dmg) not read as one: a .dmg given as the exhibit is read unless its "
                "trailer or chunk tables are damaged (the exhibit's problems then say so); its space is kept for "
                "carving")
    if head.startswith(_ENCRYPTED_DMG_HEAD):
        return "an encrypted Apple disk image (.dmg): not read (unsupported); its space is kept for carving"
    compression = _compressed_head(head)
    if compression:
        return (f"{compression}-compressed data from its first byte, as an Apple disk image (UDIF .dmg) starts: if it "
                "is one, its trailer is cut off or damaged, so its chunks cannot be found; not read (its space is kept "
                "for carving)")
    return "no file system recognised (its space is kept for carving)"


def why_no_file_system_in_logical_volume(error: Exception, volume: RangeReader) -> str:
    """The problem recorded for an LVM logical volume TSK opened no file system on; like a partition without one, it
    is carved whole (through the logical volume: its extents may lie anywhere on its physical volumes)."""
    if any(volume.size >= end and _read(volume, end - 10, 10) == b"SWAPSPACE2" for end in _SWAP_SIGNATURE_ENDS):
        return "a Linux swap area: not read (unsupported); its space is kept for carving"
    several = _SEVERAL_FILE_SYSTEMS.search(str(error))
    found = f"more than one file system ({several.group(1)})" if several else "no file system recognised"
    return f"{found}: not read; its space is kept for carving"


def _compressed_head(head: bytes) -> str | None:
    """The compression of a stream starting at the first byte: a zlib stream must also inflate (two header bytes
    alone are too weak a mark), the bzip2 and LZFSE marks are long enough to stand alone."""
    if _BZIP2_HEAD.match(head):
        return "bzip2"
    if head.startswith(_LZFSE_HEADS):
        return "LZFSE"
    if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
        try:
            if zlib.decompressobj().decompress(head, 1 << 16):
                return "zlib"
        except zlib.error:
            return None
    return None


def _read(volume: RangeReader, offset: int, size: int) -> bytes:
    """Nothing when the bytes cannot be read: a damaged or cut-short image is recorded as such elsewhere."""
    try:
        return volume.read(offset, size)
    except OSError:
        return b""
