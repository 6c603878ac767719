"""Generated pictures and videos for the perceptual-hash tests: reproducible from a seed, depicting nothing.

Pictures come from ``fieldlab.demo.procedural_jpeg`` (gradient, shapes, grain);
videos are scenes of a few seconds each (a gradient over a coarse random
texture, with shapes gliding across it), so every second looks different and
two seeds share nothing.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from fieldlab.demo import procedural_jpeg

SCENE_SECONDS = 2.5


def picture(seed: int, width: int = 1200, height: int = 900) -> Image.Image:
    """A decoded procedural photo: the original every modification in the tests starts from."""
    return Image.open(io.BytesIO(procedural_jpeg(seed, width, height, quality=92))).convert("RGB")


def encoded(image: Image.Image, format: str = "JPEG", **params: object) -> io.BytesIO:
    """``image`` saved in ``format``, as a stream positioned at its first byte."""
    stream = io.BytesIO()
    image.save(stream, format=format, **params)
    stream.seek(0)
    return stream


def crop_each_side(image: Image.Image, fraction: float) -> Image.Image:
    dx, dy = round(image.width * fraction), round(image.height * fraction)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small valid JPEG whose header is rewritten to claim ``width`` x ``height``, as a decompression bomb does."""
    data = bytearray(procedural_jpeg(1, 64, 48))
    sof = data.index(b"\xff\xc0")  # baseline start-of-frame: length(2) precision(1) height(2) width(2)
    data[sof + 5: sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def png_claiming_size(width: int, height: int) -> bytes:
    """A valid 8x8 PNG whose header is rewritten, checksum included, to claim ``width`` x ``height``."""
    data = bytearray(encoded(Image.new("RGB", (8, 8)), "PNG").getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")  # IHDR data starts at byte 16
    data[29:33] = zlib.crc32(data[12:29]).to_bytes(4, "big")  # CRC over the chunk type and its 13 data bytes
    return bytes(data)


def procedural_video(path: Path, seed: int, seconds: float = 10.0, fps: int = 15, size: tuple[int, int] = (480, 360),
                     crf: int = 23, gop: int | None = None, faststart: bool = True, grain: int = 0) -> Path:
    """An H.264 MP4 of generated scenes; ``faststart`` puts the index first, as phones and web uploads do.

    ``grain`` (0-255) adds fresh sensor-like noise to every frame, which brings the bit rate, and so the
    decoding cost, nearer a camera's.
    """
    frames = round(seconds * fps)
    return _encode(path, _scene_frames(seed, frames, fps, size, grain), fps, size, crf, gop, faststart)


def still_video(path: Path, seed: int, seconds: float = 6.0, fps: int = 15, size: tuple[int, int] = (480, 360)) -> Path:
    """One generated picture held for ``seconds``: a slideshow frame, a paused screen recording."""
    still = np.asarray(picture(seed, *size))
    return _encode(path, (still for _ in range(round(seconds * fps))), fps, size, 23, None, True)


def reencode_video(source: Path, target: Path, size: tuple[int, int], crf: int = 35) -> Path:
    """``source`` scaled to ``size`` and recompressed harder: what a messaging app does to a forwarded clip."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        fps = int(round(stream.average_rate))
        frames = (frame.to_ndarray(format="rgb24", width=size[0], height=size[1]) for frame in container.decode(stream))
        return _encode(target, frames, fps, size, crf, None, True)


def mp3_with_cover_art(path: Path, seconds: float = 1.0) -> Path:
    """Silence with an album cover, which FFmpeg lists as a video stream marked as an attached picture."""
    with av.open(str(path), "w") as container:
        audio = container.add_stream("libmp3lame", rate=44100)
        cover = container.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 320, 240, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        container.mux(cover.encode(av.VideoFrame.from_image(picture(9, 320, 240))))
        container.mux(cover.encode())
        for index in range(math.ceil(seconds * 44100 / 1152)):
            silence = av.AudioFrame.from_ndarray(np.zeros((2, 1152), np.float32), format="fltp", layout="stereo")
            silence.sample_rate, silence.pts = 44100, index * 1152
            container.mux(audio.encode(silence))
        container.mux(audio.encode())
    return path


def _encode(path: Path, frames: Iterator[np.ndarray], fps: int, size: tuple[int, int], crf: int, gop: int | None,
            faststart: bool) -> Path:
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        if gop:
            stream.codec_context.gop_size = gop
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path


def _scene_frames(seed: int, count: int, fps: int, size: tuple[int, int], grain: int = 0) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    per_scene = max(1, round(SCENE_SECONDS * fps))
    for scene in range(math.ceil(count / per_scene)):
        background = _background(rng, size)
        shapes = [(tuple(int(c) for c in rng.integers(0, 256, 3)), rng.uniform(0, 1, 2) * size,
                   rng.uniform(-0.15, 0.15, 2) * size / fps, int(rng.integers(size[1] // 10, size[1] // 4)))
                  for _ in range(int(rng.integers(2, 5)))]
        for index in range(min(per_scene, count - scene * per_scene)):
            image = background.copy()
            draw = ImageDraw.Draw(image)
            for colour, start, velocity, radius in shapes:
                x, y = start + velocity * index
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
            pixels = np.asarray(image)
            if grain:  # one noise value for all three channels, as a sensor's luma noise
                noise = rng.integers(-(grain // 2), grain - grain // 2 + 1, (size[1], size[0], 1), dtype=np.int16)
                pixels = np.clip(pixels + noise, 0, 255).astype(np.uint8)
            yield pixels


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A two-colour gradient under a coarse random texture, so each scene has a PDQ hash of its own."""
    width, height = size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.add.outer(np.linspace(0, np.sin(angle), height), np.linspace(0, np.cos(angle), width))
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    low, high = rng.integers(0, 256, (2, 3))
    gradient = low + ramp[..., None] * (high - low)
    texture = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB")
    coarse = texture.resize(size, Image.Resampling.BICUBIC)
    mixed = 0.5 * gradient + 0.5 * np.asarray(coarse, dtype=np.float64)
    return Image.fromarray(mixed.astype(np.uint8), "RGB")
