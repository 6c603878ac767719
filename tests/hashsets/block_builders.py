"""Generated reference material for block-hash sets: pictures and a video that share their encoder's headers.

Real encoders put identical headers at the start of every file they write: an ICC profile, a fixed block of
EXIF or text.  Where such a header fills a whole 4 KiB block, that block is the same in every file from the same
software, on a suspect's disk or not.  These builders reproduce that with procedural content only: every JPEG
carries the same 10 KiB "encoder profile" (blocks 0 and 1 identical in all of them), every PNG the same 9 KiB
text chunk and a 16 KiB run of zeros (zero blocks).
"""

from __future__ import annotations

import hashlib
import io
import random
import string
from dataclasses import dataclass
from pathlib import Path

from PIL import PngImagePlugin

from fieldlab.demo import _picture
from tests.detect.media_builders import procedural_video

BLOCK = 4096
ENCODER_PROFILE = random.Random("encoder-icc").randbytes(10 * 1024)  # high entropy: only the common filter drops it
ENCODER_TEXT = "".join(random.Random("encoder-text").choices(string.ascii_letters + string.digits + string.punctuation,
                                                           k=9 * 1024))
JPEG_SIZE, PNG_SIZE = (1024, 768), (480, 360)


def encoder_jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    _picture(seed, *JPEG_SIZE).save(buffer, format="JPEG", quality=90, icc_profile=ENCODER_PROFILE)
    return buffer.getvalue()


def encoder_png(seed: int) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", ENCODER_TEXT)
    info.add(b"fiLl", bytes(16 * 1024))  # an ancillary chunk of zeros: whole zero blocks inside the file
    buffer = io.BytesIO()
    _picture(seed, *PNG_SIZE).save(buffer, format="PNG", pnginfo=info, compress_level=1)
    return buffer.getvalue()


def encoder_video(path: Path, seed: int) -> bytes:
    # grain: camera-like noise, so the clip is about 0.6 MB (140 blocks) rather than a few blocks of flat scenes
    return procedural_video(path, seed=seed, seconds=3.0, fps=15, size=(480, 360), grain=16).read_bytes()


@dataclass(frozen=True)
class Reference:
    name: str  # relative to the reference folder
    data: bytes
    category: str

    def block(self, index: int) -> bytes:
        return self.data[index * BLOCK:(index + 1) * BLOCK]

    def block_md5(self, index: int) -> bytes:
        return hashlib.md5(self.block(index)).digest()

    @property
    def whole_blocks(self) -> int:
        return len(self.data) // BLOCK


def reference_material(work: Path, seeds: tuple[int, ...] = (1, 2, 3)) -> list[Reference]:
    """Known files of three kinds: JPEGs (category A), PNGs (B) and one video (C), from ``seeds``."""
    work.mkdir(parents=True, exist_ok=True)
    files = [Reference(f"jpeg/known-{s}.jpg", encoder_jpeg(s), "A") for s in seeds]
    files += [Reference(f"png/known-{s}.png", encoder_png(s), "B") for s in seeds]
    files.append(Reference(f"video/known-{seeds[0]}.mp4", encoder_video(work / f"video-{seeds[0]}.mp4", seeds[0]), "C"))
    return files


def write_reference(folder: Path, files: list[Reference]) -> Path:
    """The files under ``folder``, and beside it a categories CSV listing each; the CSV's path."""
    for file in files:
        (folder / file.name).parent.mkdir(parents=True, exist_ok=True)
        (folder / file.name).write_bytes(file.data)
    categories = folder.parent / f"{folder.name}-categories.csv"
    categories.write_text("path,category\n" + "".join(f"{f.name},{f.category}\n" for f in files))
    return categories
