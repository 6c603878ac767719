"""JPEG: marker segments by their lengths, entropy-coded data up to the next real marker, until EOI.

Inside entropy-coded data a 0xFF byte is either stuffed (FF 00), a restart
marker (FF D0-D7) or fill (FF FF); any other marker ends the scan.  Progressive
files carry several scans with tables between them, so after a scan the walk
goes back to reading segments.  An EXIF APP1 holds its own thumbnail JPEG
(SOI ... EOI); stepping over APP1 by its length keeps that EOI from ending the
photo, and the run it belongs to claims it so it is not carved a second time.
"""

from __future__ import annotations

import re

from fieldlab.detect.carving.walk import Walk, broken, complete, cut
from fieldlab.detect.carving.window import Window

SIGNATURE = b"\xff\xd8\xff"
MAX_SEGMENTS = 10_000  # real files: a few dozen; an ICC profile split over APP2s adds at most 255

_SOS, _APP1 = 0xDA, 0xE1
_FRAMES = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0), 0xF7})
# Markers that carry a length: tables (DHT C4, DAC CC, DQT DB, DRI DD, DNL DC, DHP DE, EXP DF), APPn, JPGn, COM.
_SEGMENTS = _FRAMES | {0xC4, 0xCC, _SOS, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, *range(0xE0, 0xF0), *range(0xF0, 0xFE), 0xFE}
MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_NOT_FILL = re.compile(rb"[^\xff]")


def walk(window: Window, offset: int, limit: int) -> Walk | None:
    position = offset + 2
    seen_frame = seen_scan = False
    note = None
    for _ in range(MAX_SEGMENTS):
        header = window.read(position, 4)
        if header[:2] == b"\xff\xd9" and position + 2 <= limit:  # EOI has no length: it may be a region's last bytes
            if seen_scan:
                return complete("jpeg", position + 2 - offset, note)
            return _failed(seen_frame, offset, position, "end of image before any scan")
        if position + 4 > limit or len(header) < 4:
            return _cut(seen_frame, offset, limit, position, note)
        if header[0] != 0xFF:
            return _failed(seen_frame, offset, position, f"no marker at +{position - offset}")
        marker = header[1]
        if marker == 0xFF:  # fill bytes before a marker
            after_fill = window.search(_NOT_FILL, position + 1, limit, 1)
            if after_fill is None:
                return _cut(seen_frame, offset, limit, position, note)
            position = after_fill - 1
            continue
        if marker not in _SEGMENTS:
            return _failed(seen_frame, offset, position, f"unexpected marker FF{marker:02X} at +{position - offset}")
        segment_end = position + 2 + int.from_bytes(header[2:4], "big")
        if segment_end < position + 4:
            return _failed(seen_frame, offset, position, f"segment length under 2 at +{position - offset}")
        if segment_end > limit:
            return _cut(seen_frame, offset, limit, position, note)
        if marker in _FRAMES:
            if not _plausible_frame(window.read(position + 4, 6)):
                return _failed(seen_frame, offset, position, f"implausible frame header at +{position - offset}")
            seen_frame = True
        elif marker == _APP1 and _holds_thumbnail(window.read(position + 4, segment_end - position - 4)):
            note = "embedded EXIF thumbnail skipped"
        if marker != _SOS:
            position = segment_end
            continue
        if not seen_frame:
            return None  # a scan with no frame header: not a picture anyone could view
        seen_scan = True
        next_marker = window.search(MARKER_AFTER_SCAN, segment_end, limit, 2)
        if next_marker is None:
            return cut("jpeg", offset, limit, segment_end, note)
        position = next_marker
    return broken("jpeg", offset, position, f"more than {MAX_SEGMENTS:,} segments")


def first_scan_data(window: Window, offset: int, limit: int) -> int | None:
    """Where the entropy-coded data of the first scan of the JPEG at ``offset`` starts (segments stepped over by
    their lengths, so an EXIF thumbnail's scan is not taken for it), or None."""
    position = offset + 2
    for _ in range(MAX_SEGMENTS):
        header = window.read(position, 4)
        if len(header) < 4 or header[0] != 0xFF or position + 4 > limit:
            return None
        if header[1] == 0xFF:
            position += 1
            continue
        segment_end = position + 2 + int.from_bytes(header[2:4], "big")
        if header[1] == _SOS:
            return segment_end if segment_end <= limit else None
        if header[1] not in _SEGMENTS or segment_end < position + 4:
            return None
        position = segment_end
    return None


def _cut(seen_frame: bool, offset: int, limit: int, sound_to: int, note: str | None) -> Walk | None:
    return cut("jpeg", offset, limit, sound_to, note) if seen_frame else None


def _failed(seen_frame: bool, offset: int, at: int, why: str) -> Walk | None:
    """Damage after the frame header leaves a partial picture worth reporting; before it, a chance signature."""
    return broken("jpeg", offset, at, f"structure breaks: {why}") if seen_frame else None


def _plausible_frame(fields: bytes) -> bool:
    """Precision, height (0 allowed: a DNL segment gives it later), width, component count."""
    if len(fields) < 6:
        return False
    precision, width, components = fields[0], int.from_bytes(fields[3:5], "big"), fields[5]
    return 2 <= precision <= 16 and width > 0 and 1 <= components <= 4


def _holds_thumbnail(body: bytes) -> bool:
    return body.startswith(b"Exif\x00\x00") and SIGNATURE in body
