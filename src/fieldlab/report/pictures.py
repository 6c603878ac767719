"""Small pictures of counted items for a report, made only when the examiner asks for them (``--thumbnails``).

A picture is drawn anew: the item is opened again in the evidence by its locator, its bytes are checked against the
digest the case recorded, it is decoded, shrunk, made greyscale and blurred (unless the style says otherwise) and
re-encoded as a small JPEG.  The suspect's bytes never enter the report, and an item that cannot be reached,
has changed, or cannot be decoded gets a sentence saying why in place of its picture.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import BinaryIO, Sequence

import av
from PIL import Image, ImageFilter, ImageOps

from fieldlab.case.store import CaseStore
from fieldlab.detect.perceptual import DEFAULT_MAX_PIXELS, IMAGE_FORMATS
from fieldlab.detect.video import first_video_stream
from fieldlab.evidence.context import EvidenceContext, OpenedExhibit
from fieldlab.evidence.reopen import ReopenError, reopen_item, stored_spec
from fieldlab.evidence.sources import ItemHandle, ItemStream, SourceSpec
from fieldlab.report.charging import CountedItem

CHUNK = 1 << 20


@dataclass(frozen=True)
class PictureStyle:
    side: int = 128  # pixels, the longer side
    blur_radius: float = 4.0  # Pillow GaussianBlur radius on the small picture; 0 leaves it sharp
    greyscale: bool = True
    quality: int = 70  # JPEG


@dataclass(frozen=True)
class Picture:
    data_uri: str | None = None  # data:image/jpeg;base64,...
    note: str | None = None  # why there is no picture


def item_pictures(store: CaseStore, items: Sequence[CountedItem], style: PictureStyle, *,
                  passwords: Sequence[str] = ()) -> dict[int, Picture]:
    """A picture (or the reason there is none) for each item, keyed by item id; each exhibit is opened once, in
    this run's own context (with the examiner's ``passwords`` for whatever it holds encrypted), and closed when the
    pictures are drawn."""
    sources = {e.ref: stored_spec(e.source, e.source_kind, e.parents, tuple(passwords)) for e in store.exhibits()}
    by_exhibit: dict[str, list[CountedItem]] = defaultdict(list)
    for item in items:
        by_exhibit[item.exhibit].append(item)
    pictures: dict[int, Picture] = {}
    with EvidenceContext(max_exhibits=1) as context:  # exhibit by exhibit: the one before is closed
        for ref in sorted(by_exhibit):
            wanted = by_exhibit[ref]
            try:
                exhibit = context.exhibit(sources[ref])
            except Exception as exc:  # noqa: BLE001 - a missing disk or folder is a sentence in the report, not a crash
                pictures.update({i.item_id: Picture(note=f"cannot be previewed: the evidence is not reachable: "
                                                              f"{_reason(exc)}") for i in wanted})
                continue
            for item in wanted:
                pictures[item.item_id] = _picture(sources[ref], exhibit, item, style)
    return pictures


def _picture(spec: SourceSpec, exhibit: OpenedExhibit, item: CountedItem, style: PictureStyle) -> Picture:
    if item.medium not in ("still", "movie"):
        return Picture(note="no picture is drawn of this kind of file")
    try:
        handle = reopen_item(exhibit, item.locator, spec.unlock.archive_passwords)
    except ReopenError as exc:  # hostile or missing evidence is reported, item by item
        return Picture(note=f"cannot be previewed: {exc}")
    try:
        changed = _changed_since_scan(handle, item)
        if changed:
            return Picture(note=changed)
        handle.seek(0)
        stream = io.BufferedReader(ItemStream(handle, handle.size or item.size), CHUNK)
        frame = _still(stream) if item.medium == "still" else _first_frame(stream)
        return Picture(data_uri=_encoded(frame, style))
    except Exception as exc:  # noqa: BLE001 - a decoder failing on hostile bytes costs this one picture only
        return Picture(note=f"could not be drawn: {_reason(exc)}")
    finally:
        handle.close()


def _changed_since_scan(handle: ItemHandle, item: CountedItem) -> str | None:
    """Why the bytes now in the evidence are not to be shown as this item, or None when they are the ones scanned."""
    kind, recorded = ("sha1", item.sha1) if item.sha1 else ("md5", item.md5) if item.md5 else (None, None)
    if kind is None:
        return "not drawn: the case recorded no digest to check the evidence against"
    digest = hashlib.new(kind)
    buffer = bytearray(CHUNK)
    while count := handle.readinto(buffer):
        digest.update(memoryview(buffer)[:count])
    if digest.hexdigest() != recorded:
        return f"not drawn: the evidence no longer holds the bytes scanned ({kind.upper()} differs)"
    return None


def _still(stream: BinaryIO) -> Image.Image:
    image = Image.open(stream, formats=IMAGE_FORMATS)
    width, height = image.size
    if width * height > DEFAULT_MAX_PIXELS:
        raise ValueError(f"{width}x{height} is over the {DEFAULT_MAX_PIXELS:,} pixel limit")
    image.draft("RGB", (512, 512))  # JPEGs decode at a reduced scale: a thumbnail needs no more
    return ImageOps.exif_transpose(image).convert("RGB")


def _first_frame(stream: BinaryIO) -> Image.Image:
    with av.open(stream, mode="r", metadata_errors="ignore") as container:
        video = first_video_stream(container)
        for frame in container.decode(video):
            return frame.to_image()
    raise ValueError("no frame could be decoded")


def _encoded(image: Image.Image, style: PictureStyle) -> str:
    small = image.convert("L") if style.greyscale else image.convert("RGB")
    small.thumbnail((style.side, style.side))
    if style.blur_radius > 0:
        small = small.filter(ImageFilter.GaussianBlur(style.blur_radius))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=style.quality)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]
