"""How much of a disk image's claimed media is worth reading whole: its stored parts, and never more than its files
could hold.

A container's media size is the suspect's word: a 16 MiB QCOW2 made by ``qemu-img create`` claims a pebibyte, and
carving, sniffing or hashing it byte by byte took days.  Two bounds, both from the container rather than the claim:

- what the container stores (``allocation.py``): the rest reads as zeros or as a parent's bytes, so carving reads
  only the stored parts and loses nothing;
- what its files could hold at all: ``MAX_INFLATION`` (zlib's largest ratio) times their size.  Carving never reads
  more of the media than that, and a media hash is not computed past it when there is no acquisition hash to
  compare with: this covers every table we cannot read (a damaged one, VMDK's VMFS sparse extents) and forged
  tables that map many blocks of media to one stored block.  A raw image, an E01 or a split set never reaches it; a
  block device is its own media and has no bound.

The examiner is told when a media claims far more than its files hold, with both figures.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Sequence

from fieldlab.evidence.allocation import MAX_INFLATION, Allocation, AllocationResult, container_files, file_bytes
from fieldlab.evidence.containers import ContainerInfo
from fieldlab.problems import Problem, ProblemKind

SPARSE_RATIO = 16  # a media this many times its files' size is told about, with what is stored of it
SPARSE_NOTED = 1 << 30  # and only when that leaves at least this many bytes unstored

Region = tuple[str, int, int]  # (kind, offset, length) of the media, as the scan records regions to carve


@dataclass(frozen=True)
class MediaClaim:
    """A container's media size against the bytes of the files it is read from."""

    media_size: int
    file_bytes: int | None  # None: a block device, which holds its media itself (or no file size could be read)

    @property
    def read_limit(self) -> int | None:
        """The most of the media that is read whole (carved, hashed); None: no bound."""
        return None if self.file_bytes is None else MAX_INFLATION * self.file_bytes

    @property
    def far_beyond_files(self) -> bool:
        return (self.file_bytes is not None and self.media_size > SPARSE_RATIO * self.file_bytes
                and self.media_size - self.file_bytes >= SPARSE_NOTED)


def media_claim(info: ContainerInfo) -> MediaClaim:
    paths = tuple(link.path for link in info.chain) or info.segments
    if info.kind == "device" or any(_is_device(p) for p in paths):
        return MediaClaim(info.media_size, None)
    return MediaClaim(info.media_size, file_bytes(container_files(info.kind, paths)) or None)  # none read: no bound


def _is_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def claim_notes(claim: MediaClaim, found: AllocationResult) -> tuple[Problem, ...]:
    """What the examiner is told about a media claiming far more than its files hold."""
    if not claim.far_beyond_files or claim.file_bytes is None:
        return ()
    said = f"claims a media of {claim.media_size:,} bytes ({_size(claim.media_size)}) from {claim.file_bytes:,} bytes of files"
    notes = []
    if found.allocation is not None:
        stored = found.allocation.stored
        notes.append(Problem(ProblemKind.NORMAL, (
            f"{said}; its allocation table stores {stored:,} bytes ({_size(stored)}) of it, the rest reads as "
            "zeros: only the stored parts are carved")))
    limit = claim.read_limit
    if limit is not None and claim.media_size > limit and (found.allocation is None or found.allocation.stored > limit):
        why = found.problem or "its allocation table maps more than its files could hold"
        notes.append(Problem(ProblemKind.LIMIT, (
            f"{said}, more than {MAX_INFLATION:,} times as much, and {why}: at most {limit:,} bytes of the media "
            "are carved")))
    return tuple(notes)


def carving_parts(regions: Sequence[Region], allocation: Allocation | None, limit: int | None) -> list[Region]:
    """The stored parts of ``regions``, in media order, cut once ``limit`` bytes are reached."""
    parts = sorted(((kind, offset, length) for kind, start, size in regions
                    for offset, length in (allocation.clip(start, size) if allocation else [(start, size)])),
                   key=lambda region: region[1])
    if limit is None:
        return parts
    kept, total = [], 0
    for kind, offset, length in parts:
        if total >= limit:
            break
        kept.append((kind, offset, min(length, limit - total)))
        total += kept[-1][2]
    return kept


def _size(size: int) -> str:
    """1,125,899,906,842,624 -> "1.0 PiB": the claim at a glance, beside the exact figure."""
    shown, unit = float(size), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if shown < 1024:
            break
        shown, unit = shown / 1024, larger
    return f"{shown:,.0f} bytes" if unit == "bytes" else f"{shown:,.1f} {unit}"
