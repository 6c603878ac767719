"""LVM2 volume groups read by fieldlab: a physical volume's label, its volume group's metadata text, and each logical
volume as the extents of one or more physical volumes.

libvslvm (20260901) opens no volume group of more than one physical volume (its data-area table reuses a handle
already set for the first one and fails on the second), and its Python binding does not say where a logical
volume's extents lie, which carving the space no logical volume uses needs.  The format is small: a label in one of
the first four sectors, a metadata area holding a ring of text, and in the text each logical volume's segments as
runs of physical extents.  All of it is suspect data: sizes, offsets and counts are checked against the volume and
bounded (``MAX_*``) before anything is read or made, checksums are LVM's own (CRC-32 seeded 0xf597a6cf), and the
text's parser has a depth and a token budget.
"""

from __future__ import annotations

import bisect
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Union

from fieldlab.errors import EvidenceError

MAX_PHYSICAL_VOLUMES = 64  # of one volume group: a real one has a few
MAX_LOGICAL_VOLUMES = 256
MAX_LOGICAL_VOLUME_SEGMENTS = 10_000
MAX_METADATA_TEXT = 1 << 20  # bytes of one group's metadata text: lvm2's default area (parsed in about 1 s at worst)
_MAX_DEPTH = 8
_MAX_STRIPES = 128

_SECTOR = 512
_LABEL_SECTORS = 4
_MDA_MAGIC = b" LVM2 x[5A%r0N*>"
_MDA_HEADER = 512


class Readable(Protocol):
    @property
    def size(self) -> int: ...

    def read(self, offset: int, size: int) -> bytes: ...


class LvmError(EvidenceError):
    """A label, metadata area or text that does not read as LVM2, or a logical volume that cannot be read: said as
    the volume's problem."""


@dataclass(frozen=True)
class PhysicalVolumeLabel:
    identifier: str  # 32 characters, as the metadata's ``id`` without its dashes
    metadata_areas: tuple[tuple[int, int], ...]  # (offset, size) in the volume


@dataclass(frozen=True)
class Stripe:
    physical_volume: str  # its name in the metadata (``pv0``)
    first_extent: int


@dataclass(frozen=True)
class Segment:
    start_extent: int  # in the logical volume
    extent_count: int
    kind: str  # ``striped`` is read; another type names why the logical volume is not
    stripe_size: int  # bytes of a stripe's chunk (0 for one stripe)
    stripes: tuple[Stripe, ...]


@dataclass(frozen=True)
class LogicalVolumeMap:
    name: bytes
    segments: tuple[Segment, ...]
    problem: str | None  # why its extents are not read; None when they are


@dataclass(frozen=True)
class PhysicalVolumeMap:
    name: str
    identifier: str  # without dashes
    pe_start: int  # bytes
    pe_count: int


@dataclass(frozen=True)
class VolumeGroupMap:
    name: bytes
    identifier: str
    sequence: int
    extent_size: int  # bytes
    physical_volumes: tuple[PhysicalVolumeMap, ...]
    logical_volumes: tuple[LogicalVolumeMap, ...]
    more_logical_volumes: int  # listed in the metadata past MAX_LOGICAL_VOLUMES

    def extents_used(self, physical_volume: str) -> list[tuple[int, int]]:
        """(first extent, count) of the physical volume that any logical volume's stripes name, whether read or not."""
        used = []
        for logical in self.logical_volumes:
            for segment in logical.segments:
                count = segment.extent_count // max(1, len(segment.stripes))
                used += [(s.first_extent, count) for s in segment.stripes if s.physical_volume == physical_volume]
        return sorted(used)


def lvm_crc(data: bytes) -> int:
    return ~zlib.crc32(data, ~0xF597A6CF & 0xFFFFFFFF) & 0xFFFFFFFF


def read_label(volume: Readable) -> PhysicalVolumeLabel | None:
    """The physical volume label in one of the first four sectors; None when there is none (no LVM physical volume),
    LvmError when one is there but does not add up."""
    head = volume.read(0, min(_LABEL_SECTORS * _SECTOR, volume.size))
    for at in range(0, len(head) - _SECTOR + 1, _SECTOR):
        sector = head[at:at + _SECTOR]
        if sector[:8] != b"LABELONE" or sector[24:32] != b"LVM2 001":
            continue
        number, crc, offset = struct.unpack_from("<QII", sector, 8)
        if number != at // _SECTOR or crc != lvm_crc(sector[20:]) or not 32 <= offset <= _SECTOR - 72:
            raise LvmError("its LVM label does not add up (sector, checksum or header offset)")
        identifier = sector[offset:offset + 32].decode("ascii", "replace")
        lists, position = [], offset + 40
        for _ in range(2):  # data areas, then metadata areas, each ended by a zero entry
            found = []
            while True:
                if position + 16 > _SECTOR:
                    raise LvmError("its LVM label's area lists run past its sector")
                area = struct.unpack_from("<QQ", sector, position)
                position += 16
                if area == (0, 0):
                    break
                found.append(area)
            lists.append(found)
        areas = tuple((o, s) for o, s in lists[1] if _SECTOR <= o and s >= _MDA_HEADER and o + s <= volume.size)
        return PhysicalVolumeLabel(identifier, areas)
    return None


def read_metadata_text(volume: Readable, label: PhysicalVolumeLabel) -> bytes:
    """The current metadata text of the first sound metadata area (a ring: the text may wrap to after the area's
    header); LvmError when none is."""
    problem = "its LVM label lists no metadata area"
    for start, size in label.metadata_areas:
        header = volume.read(start, _MDA_HEADER)
        if len(header) < _MDA_HEADER or header[4:20] != _MDA_MAGIC or lvm_crc(header[4:]) != struct.unpack_from(
                "<I", header)[0]:
            problem = "its LVM metadata area header is damaged"
            continue
        version, own, own_size = struct.unpack_from("<IQQ", header, 20)
        offset, length, crc, _ = struct.unpack_from("<QQII", header, 40)
        if version != 1 or own != start or own_size != size or not _MDA_HEADER <= offset < size or length == 0:
            problem = "its LVM metadata area header does not add up"
            continue
        if length > min(MAX_METADATA_TEXT, size - _MDA_HEADER):
            problem = f"its LVM metadata text is said to be {length:,} bytes: more than its area holds or is read"
            continue
        first = min(length, size - offset)
        text = volume.read(start + offset, first) + volume.read(start + _MDA_HEADER, length - first)
        if len(text) != length or lvm_crc(text) != crc:
            problem = "its LVM metadata text is damaged (checksum)"
            continue
        return text
    raise LvmError(problem)


# A token of LVM's configuration text: a string, a bracket or sign, or a bare word (number or name; a forged name
# may hold brackets inside, as libvslvm reads it).
_TOKEN = re.compile(rb'\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|([{}\[\]=,])|([^\s{}\[\]=,"#](?:[^\s{}=,"#]*[^\s{}\[\]=,"#])?)')
_ESCAPED = re.compile(rb"\\(.)")

Value = Union[int, bytes, list["Value"], dict[bytes, "Value"]]


def parse_metadata_text(text: bytes) -> dict[bytes, Value]:
    """LVM's text: ``name { ... }`` sections, ``key = value`` with a number, a string or a ``[...]`` list.  Bounded by
    the text's length (read bounded) and a nesting depth; LvmError on anything else."""
    text = text.rstrip(b"\0")  # lvm2 ends the text with a NUL
    tokens = _tokens(text)  # made as the parser asks, so a forged text of commas is never held as a list
    ahead: list[tuple[bytes, bytes]] = []

    def take() -> tuple[bytes, bytes]:
        if ahead:
            return ahead.pop()
        found = next(tokens, None)
        if found is None:
            raise LvmError("its LVM metadata text ends inside a section")
        return found

    def more() -> bool:
        if not ahead:
            found = next(tokens, None)
            if found is None:
                return False
            ahead.append(found)
        return True

    def value(kind: bytes, word: bytes, depth: int) -> Value:
        if kind == b'"':
            return word
        if kind == b"w":
            if not re.fullmatch(rb"-?\d{1,20}", word):
                return word  # a float or bare word: kept as text, never used as a number
            return int(word)
        if kind == b"[" and depth < _MAX_DEPTH:
            items: list[Value] = []
            kind, word = take()
            while kind != b"]":
                items.append(value(kind, word, depth + 1))
                kind, word = take()
                if kind == b",":
                    kind, word = take()
            return items
        raise LvmError("its LVM metadata text does not parse")

    def section(depth: int, closed: bool) -> dict[bytes, Value]:
        found: dict[bytes, Value] = {}
        while closed or more():
            kind, name = take()
            if kind == b"}" and closed:
                return found
            if kind != b"w" or depth >= _MAX_DEPTH:
                raise LvmError("its LVM metadata text does not parse")
            kind, word = take()
            if kind == b"{":
                found.setdefault(name, section(depth + 1, True))
            elif kind == b"=":
                found.setdefault(name, value(*take(), depth))
            else:
                raise LvmError("its LVM metadata text does not parse")
        return found

    return section(0, False)


def _tokens(text: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(kind, text) of each token: ``"`` a string, ``w`` a bare word, else the bracket or sign itself."""
    end = 0
    for match in _TOKEN.finditer(text):
        if match.start() != end:
            raise LvmError("its LVM metadata text holds an unterminated string")
        end = match.end()
        if match.group(1) is not None:
            yield b'"', _ESCAPED.sub(rb"\1", match.group(1))
        elif match.group(2) is not None:
            yield match.group(2), b""
        elif match.group(3) is not None:
            yield b"w", match.group(3)
    if end != len(text):
        raise LvmError("its LVM metadata text holds an unterminated string")


def volume_group_map(text: bytes) -> VolumeGroupMap:
    """The volume group the text describes, each number checked; LvmError when it is not one."""
    tree = parse_metadata_text(text)
    groups = [(name, body) for name, body in tree.items() if isinstance(body, dict)]
    if len(groups) != 1:
        raise LvmError("its LVM metadata text does not describe one volume group")
    name, group = groups[0]
    extent_size = _number(group, b"extent_size", 1, 1 << 32) * _SECTOR
    physical = _sections(group, b"physical_volumes")
    if len(physical) > MAX_PHYSICAL_VOLUMES or not physical:
        raise LvmError(f"its LVM volume group lists {len(physical):,} physical volumes (read: 1 to "
                       f"{MAX_PHYSICAL_VOLUMES})")
    volumes = tuple(PhysicalVolumeMap(pv_name.decode("ascii", "replace")[:64], _identifier(body),
                                      _number(body, b"pe_start", 0, 1 << 50) * _SECTOR,
                                      _number(body, b"pe_count", 0, 1 << 40))
                    for pv_name, body in physical)
    logical = _sections(group, b"logical_volumes")
    names = {volume.name: volume.pe_count for volume in volumes}
    return VolumeGroupMap(name, _identifier(group), _number(group, b"seqno", 0, 1 << 62), extent_size, volumes,
                          tuple(_logical_volume(lv_name, body, names) for lv_name, body in logical[:MAX_LOGICAL_VOLUMES]),
                          max(0, len(logical) - MAX_LOGICAL_VOLUMES))


def _logical_volume(name: bytes, body: dict[bytes, Value], physical_volumes: dict[str, int]) -> LogicalVolumeMap:
    segments = _sections(body, None)
    if len(segments) > MAX_LOGICAL_VOLUME_SEGMENTS:
        return LogicalVolumeMap(name, (), f"more than {MAX_LOGICAL_VOLUME_SEGMENTS:,} segments: not read")
    found: list[Segment] = []
    problem = None
    try:
        for _, listed in segments:
            found.append(_segment(listed, physical_volumes))
    except LvmError as exc:
        return LogicalVolumeMap(name, (), f"{str(exc)[:200]}: not read")
    found.sort(key=lambda segment: segment.start_extent)
    extent = 0
    for segment in found:
        if segment.start_extent != extent:
            return LogicalVolumeMap(name, tuple(found), "its segments leave a gap or overlap: not read")
        extent += segment.extent_count
        if segment.kind != "striped" and problem is None:
            problem = f"a segment of type {segment.kind[:40]!r} (not read)"
    return LogicalVolumeMap(name, tuple(found), problem)


def _segment(body: dict[bytes, Value], physical_volumes: dict[str, int]) -> Segment:
    typed = body.get(b"type")
    kind = typed.decode("ascii", "replace") if isinstance(typed, bytes) else "?"
    start, count = _number(body, b"start_extent", 0, 1 << 40), _number(body, b"extent_count", 1, 1 << 40)
    stripes: tuple[Stripe, ...] = ()
    listed = body.get(b"stripes")
    if isinstance(listed, list):
        if len(listed) > 2 * _MAX_STRIPES or len(listed) % 2 or not listed:
            raise LvmError("a segment's stripe list does not add up")
        found = []
        for pv, first in zip(listed[::2], listed[1::2]):
            if (not isinstance(pv, bytes) or pv.decode("ascii", "replace") not in physical_volumes
                    or not isinstance(first, int) or first < 0):
                raise LvmError("a segment names a physical volume the group does not list")
            found.append(Stripe(pv.decode("ascii", "replace"), first))
        stripes = tuple(found)
        if count % len(stripes):
            raise LvmError("a segment's extents do not divide among its stripes")
        if any(s.first_extent + count // len(stripes) > physical_volumes[s.physical_volume] for s in stripes):
            raise LvmError("a segment's extents lie past the end of its physical volume")
    elif kind == "striped":
        raise LvmError("a striped segment lists no stripes")
    stripe_size = _number(body, b"stripe_size", 1, 1 << 32) * _SECTOR if len(stripes) > 1 else 0
    return Segment(start, count, kind, stripe_size, stripes)


def _sections(body: dict[bytes, Value], key: bytes | None) -> list[tuple[bytes, dict[bytes, Value]]]:
    """The sub-sections of ``body[key]`` (of ``body`` itself when None), in their order."""
    holder = body if key is None else body.get(key, {})
    if not isinstance(holder, dict):
        raise LvmError(f"its LVM metadata's {key!r} is no section")
    return [(name, value) for name, value in holder.items() if isinstance(value, dict)]


def _number(body: dict[bytes, Value], key: bytes, low: int, high: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or not low <= value <= high:
        raise LvmError(f"its LVM metadata's {key.decode()} is missing or out of range")
    return value


def _identifier(body: dict[bytes, Value]) -> str:
    value = body.get(b"id")
    if not isinstance(value, bytes) or not re.fullmatch(rb"[0-9A-Za-z-]{32,38}", value):
        raise LvmError("its LVM metadata holds an identifier that is not one")
    return value.replace(b"-", b"").decode("ascii")


@dataclass(frozen=True)
class VolumeGroup:
    """A volume group as found on this evidence: its newest map and the physical volumes present, by name."""

    map: VolumeGroupMap
    present: dict[str, Readable] = field(hash=False)

    @property
    def missing(self) -> tuple[PhysicalVolumeMap, ...]:
        return tuple(pv for pv in self.map.physical_volumes if pv.name not in self.present)

    def why_unread(self, index: int) -> str | None:
        """Why logical volume ``index`` is not read (its own problem, or a stripe on a physical volume not
        present); None when it is."""
        logical = self.map.logical_volumes[index]
        if logical.problem is not None:
            return logical.problem
        absent = sorted({s.physical_volume for seg in logical.segments for s in seg.stripes} - self.present.keys())
        return f"lies partly on {', '.join(absent)}, not in this image: not read" if absent else None

    def logical_volume(self, index: int) -> LogicalVolumeRange:
        problem = self.why_unread(index)
        if problem is not None:
            raise LvmError(problem)
        return LogicalVolumeRange(self, self.map.logical_volumes[index])

    def unused_space(self, identifier: str, size: int) -> list[tuple[int, int]]:
        """(offset, length) of the physical volume with label ``identifier`` (``size`` bytes) that no logical volume
        read here holds: extents no logical volume uses (a removed one's data stays there), those of logical volumes
        not read, and what lies past the last extent.  The label and metadata area before the first are not."""
        pv = next((pv for pv in self.map.physical_volumes if pv.identifier == identifier), None)
        if pv is None:
            return []
        held = sorted((s.first_extent, seg.extent_count // len(seg.stripes))
                      for index, logical in enumerate(self.map.logical_volumes) if self.why_unread(index) is None
                      for seg in logical.segments for s in seg.stripes if s.physical_volume == pv.name)
        extent, free, position = self.map.extent_size, [], 0
        for first, count in held:
            if first > position:
                free.append((position, first - position))
            position = max(position, first + count)
        if position < pv.pe_count:
            free.append((position, pv.pe_count - position))
        end = pv.pe_start + pv.pe_count * extent
        found: list[tuple[int, int]] = []
        for offset, length in [*((pv.pe_start + first * extent, count * extent) for first, count in free),
                               *([(end, size - end)] if end < size else [])]:
            length = min(length, size - offset)
            if length <= 0:
                continue
            if found and found[-1][0] + found[-1][1] == offset:  # one region, not one per run of extents
                offset, length = found[-1][0], found.pop()[1] + length
            found.append((offset, length))
        return found


def read_volume_group(members: list[tuple[PhysicalVolumeLabel, Readable]]) -> VolumeGroup:
    """The group of these physical volumes (one group's, in any order), by the newest metadata any of them holds;
    LvmError when none holds a sound one."""
    maps, problem = [], "no LVM metadata"
    for label, volume in members:
        try:
            maps.append(volume_group_map(read_metadata_text(volume, label)))
        except LvmError as exc:
            problem = str(exc)
    if not maps:
        raise LvmError(problem)
    newest = max(maps, key=lambda found: found.sequence)
    by_identifier = {label.identifier: volume for label, volume in members}
    return VolumeGroup(newest, {pv.name: by_identifier[pv.identifier] for pv in newest.physical_volumes
                                if pv.identifier in by_identifier})


class LogicalVolumeRange:
    """A logical volume's bytes: each striped segment's extents read from the physical volumes holding them."""

    def __init__(self, group: VolumeGroup, logical: LogicalVolumeMap) -> None:
        self._group, self._extent = group, group.map.extent_size
        self._segments = logical.segments
        self._starts = [segment.start_extent * self._extent for segment in logical.segments]
        self._pe_start = {pv.name: pv.pe_start for pv in group.map.physical_volumes}
        self.size = sum(segment.extent_count for segment in logical.segments) * self._extent

    def read(self, offset: int, size: int) -> bytes:
        parts, end = [], min(offset + size, self.size)
        while offset < end:
            index = bisect.bisect_right(self._starts, offset) - 1
            segment, inside = self._segments[index], offset - self._starts[index]
            segment_end = self._starts[index] + segment.extent_count * self._extent
            if len(segment.stripes) == 1:
                stripe, at, count = segment.stripes[0], inside, min(end, segment_end) - offset
            else:
                chunk, within = divmod(inside, segment.stripe_size)
                row, column = divmod(chunk, len(segment.stripes))
                stripe, at = segment.stripes[column], row * segment.stripe_size + within
                count = min(end, segment_end, offset + segment.stripe_size - within) - offset
            start = self._pe_start[stripe.physical_volume] + stripe.first_extent * self._extent + at
            data = self._group.present[stripe.physical_volume].read(start, count)
            if len(data) != count:
                raise OSError(f"physical volume {stripe.physical_volume} ends inside the logical volume's extents")
            parts.append(data)
            offset += count
        return b"".join(parts)
