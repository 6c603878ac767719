"""Generated media and raw "disk" blobs for the carving tests and bench/carve.py: reproducible, depicting nothing.

Every picture is drawn by ``fieldlab.demo`` (gradients, shapes, grain) and
saved by Pillow or pillow-heif; videos are a few frames of such pictures
encoded by PyAV.  ``disk`` lays planted files at chosen offsets over filler,
as they would sit in unallocated clusters.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path

import av
import numpy as np
import pillow_heif
from PIL import Image

from fieldlab.demo import procedural_jpeg, procedural_png

pillow_heif.register_heif_opener()

SECTOR = 512


class BytesReader:
    """A Reader over bytes in memory, counting its reads (so a test can see how much was touched)."""

    def __init__(self, data: bytes | bytearray) -> None:
        self.data = bytes(data)
        self.reads = 0

    def read(self, offset: int, size: int) -> bytes:
        self.reads += 1
        return self.data[offset : offset + size]


class FileReader:
    """A Reader over a raw image file, with positioned reads (no shared file position)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self._file.fileno(), size, offset)

    def close(self) -> None:
        self._file.close()


def picture(seed: int, width: int = 320, height: int = 240) -> Image.Image:
    return Image.open(io.BytesIO(procedural_png(seed, width, height))).convert("RGB")


def saved(image: Image.Image, format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return buffer.getvalue()


def jpeg(seed: int, width: int = 320, height: int = 240) -> bytes:
    return procedural_jpeg(seed, width, height)


def jpeg_with_exif_thumbnail(seed: int, width: int = 640, height: int = 480) -> bytes:
    """A camera-style JPEG: an EXIF APP1 right after SOI, holding a 160x120 thumbnail JPEG (SOI ... EOI of its own).

    Built by hand because Pillow does not write EXIF thumbnails: TIFF header,
    IFD0 with one Orientation entry, IFD1 pointing at the thumbnail bytes.
    """
    thumbnail = procedural_jpeg(seed + 1_000_000, 160, 120)
    ifd0_at = 8
    ifd1_at = ifd0_at + 2 + 12 + 4
    thumbnail_at = ifd1_at + 2 + 2 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", ifd0_at)
    tiff += struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 1, 0) + struct.pack("<I", ifd1_at)
    tiff += struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, thumbnail_at)
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail)) + struct.pack("<I", 0)
    body = b"Exif\x00\x00" + tiff + thumbnail
    app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    main = procedural_jpeg(seed, width, height)
    return main[:2] + app1 + main[2:]


def png(seed: int, width: int = 320, height: int = 240) -> bytes:
    return procedural_png(seed, width, height)


def gif(seed: int, frames: int = 3) -> bytes:
    images = [picture(seed + i, 160, 120).convert("P", palette=Image.Palette.ADAPTIVE) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def bmp(seed: int, width: int = 200, height: int = 150) -> bytes:
    return saved(picture(seed, width, height), "BMP")


def webp(seed: int, width: int = 320, height: int = 240) -> bytes:
    return saved(picture(seed, width, height), "WEBP", quality=80)


def tiff(seed: int, width: int = 300, height: int = 200, compression: str = "tiff_deflate") -> bytes:
    """Pillow writes a compressed TIFF's IFD after the strips, an uncompressed ("raw") one's before them."""
    return saved(picture(seed, width, height), "TIFF", compression=compression)


def heic(seed: int, width: int = 256, height: int = 192) -> bytes:
    return saved(picture(seed, width, height), "HEIF", quality=60)


def avif(seed: int, width: int = 256, height: int = 192) -> bytes:
    return saved(picture(seed, width, height), "AVIF", quality=60)


def video(seed: int, container: str, codec: str, frames: int = 6, size: tuple[int, int] = (160, 120),
          grain: int = 8) -> bytes:
    """``frames`` frames in ``container`` ("mp4", "mov" or "avi"): one procedural picture panning, with fresh grain each
    frame (more grain, bigger file) so the encoder has real work."""
    rng = np.random.default_rng(seed)
    base = np.asarray(picture(seed, *size))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"v.{container}"
        with av.open(str(path), "w") as output:
            stream = output.add_stream(codec, rate=25)
            stream.width, stream.height = size
            stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
            for index in range(frames):
                pixels = np.roll(base, 3 * index, axis=1) ^ rng.integers(0, grain, base.shape, dtype=np.uint8)
                output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            output.mux(stream.encode())
        return path.read_bytes()


def mp4(seed: int) -> bytes:
    return video(seed, "mp4", "libx264")


def avi(seed: int) -> bytes:
    return video(seed, "avi", "mjpeg")


def filler(rng: np.random.Generator, size: int, kind: str = "random") -> bytes:
    if kind == "zeros":
        return bytes(size)
    if kind == "text":
        words = b"the report invoice meeting please regards budget holiday family garden letter agenda ".split()
        text = b" ".join(words[i] for i in rng.integers(0, len(words), size // 5 + 1))
        return text[:size]
    return rng.bytes(size)


def two_fragments(data: bytes, cluster: int, between: bytes) -> tuple[bytes, int]:
    """``data`` split at the cluster boundary nearest its middle with ``between`` (whole clusters) laid in the gap,
    as a file system writing into fragmented free space leaves it; and the length of the first piece."""
    split = len(data) // 2 // cluster * cluster
    return data[:split] + between + data[split:], split


def disk(size: int, planted: Mapping[int, bytes], seed: int = 0, kind: str = "random") -> bytes:
    """``size`` bytes of filler with each planted file written at its offset."""
    data = bytearray(filler(np.random.default_rng(seed), size, kind))
    for offset, content in planted.items():
        data[offset : offset + len(content)] = content
    return bytes(data)
