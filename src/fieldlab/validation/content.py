"""The validation corpus's content: known pictures and their near variants, known videos re-encoded, and the
containers a suspect hides them in (archives, documents, EXIF previews).  Everything is generated from seeds
(``fieldlab.demo``'s procedural pictures): no real material, and the same seed gives the same bytes."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

import av
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from fieldlab.demo import _picture
from fieldlab.validation.encrypted_zip import encrypted_zip

FIXED_ZIP_TIME = (2024, 5, 17, 12, 30, 0)
FIXED_MTIME = 1_715_949_000  # 2024-05-17 12:30 UTC: every file time the corpus writes itself


def picture(seed: int, width: int = 480, height: int = 360) -> Image.Image:
    return _picture(seed, width, height)


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _crop_one_percent(image: Image.Image) -> Image.Image:
    dx, dy = max(1, image.width // 100), max(1, image.height // 100)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def fitted(image: Image.Image, side: int) -> Image.Image:
    """``image`` shrunk to fit ``side`` x ``side``, as thumbnailers do."""
    small = image.copy()
    small.thumbnail((side, side))
    return small


# A near variant: how the picture was changed, and the change.  The known set holds only the original.
NEAR_VARIANTS: dict[str, Callable[[Image.Image], tuple[Image.Image, int]]] = {
    "resize": lambda im: (im.resize((im.width * 2 // 3, im.height * 2 // 3), Image.Resampling.LANCZOS), 85),
    "crop-1pct": lambda im: (_crop_one_percent(im), 85),
    "brightness": lambda im: (ImageEnhance.Brightness(im).enhance(1.15), 85),
    "recompress": lambda im: (im, 35),
    "rotate": lambda im: (im.rotate(90, expand=True), 85),
    "mirror": lambda im: (ImageOps.mirror(im), 85),
    "thumb-256": lambda im: (fitted(im, 256), 80),
}


def near_variant(image: Image.Image, kind: str) -> bytes:
    changed, quality = NEAR_VARIANTS[kind](image)
    return jpeg(changed, quality)


def with_exif_preview(main: bytes, preview: bytes) -> bytes:
    """A camera-style JPEG whose EXIF IFD1 holds ``preview`` (a JPEG of its own), as cameras and phones write.

    Pillow writes no EXIF thumbnails, so the APP1 is built by hand: TIFF header, IFD0 with Orientation, IFD1
    pointing at the preview's bytes."""
    ifd0_at = 8
    ifd1_at = ifd0_at + 2 + 12 + 4
    preview_at = ifd1_at + 2 + 2 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", ifd0_at)
    tiff += struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 1, 0) + struct.pack("<I", ifd1_at)
    tiff += struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, preview_at)
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(preview)) + struct.pack("<I", 0)
    body = b"Exif\x00\x00" + tiff + preview
    if len(body) + 2 > 0xFFFF:
        raise ValueError("an EXIF preview must fit one APP1 segment (64 KiB)")
    return main[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + main[2:]


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME), data, compress_type=compression)
    return buffer.getvalue()


def password_zip(members: dict[str, bytes], password: str, seed: int) -> bytes:
    """ZipCrypto members whose random header comes from ``seed``, so the archive is reproducible."""
    stream = np.random.default_rng(seed)
    return encrypted_zip(members, password, salt=lambda n: stream.bytes(n))


def truncated_zip(first: bytes, rest: bytes) -> bytes:
    """A zip cut short inside its second member: the first member whole, no central directory (a download or a
    copy that stopped)."""
    whole = zip_of({"DCIM/0001.jpg": first, "DCIM/0002.jpg": rest}, zipfile.ZIP_STORED)
    second_header = whole.index(b"PK\x03\x04", 4)
    return whole[: second_header + 30 + len("DCIM/0002.jpg") + len(rest) // 2]


def docx_with_picture(picture_bytes: bytes) -> bytes:
    """A Word document whose body shows one picture, stored as Word stores it (word/media/image1.jpeg)."""
    return zip_of({
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                               b'2006/content-types"><Default Extension="jpeg" ContentType="image/jpeg"/></Types>',
        "word/document.xml": b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                             b'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Minutes</w:t></w:r></w:p>'
                             b"</w:body></w:document>",
        "word/media/image1.jpeg": picture_bytes,
    })


def pdf_with_jpeg(picture_bytes: bytes) -> bytes:
    """A one-page PDF drawing a JPEG kept as a DCTDecode image (its bytes unchanged inside the stream)."""
    with Image.open(io.BytesIO(picture_bytes)) as image:
        width, height = image.size
    draw = f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Resources << /XObject << /Im0 4 0 R >> >>"
        f" /Contents 5 0 R >>".encode(),
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceRGB "
        f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(picture_bytes)} >>\nstream\n".encode()
        + picture_bytes + b"\nendstream",
        f"<< /Length {len(draw)} >>\nstream\n".encode() + draw + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def tar_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def video(path: Path, seed: int, seconds: int = 8, fps: int = 10, size: tuple[int, int] = (384, 288)) -> Path:
    """An H.264 MP4 of generated scenes (a new picture every two seconds, panning); sized as explained below."""
    rng = np.random.default_rng(seed)
    scenes = [np.asarray(_picture(int(rng.integers(1 << 40)), size[0] + 40, size[1] + 40))
              for _ in range((seconds + 1) // 2)]

    frames = []
    for index in range(seconds * fps):
        scene = scenes[index // (2 * fps)]
        shift = (index % (2 * fps)) * 40 // (2 * fps)
        frames.append(_yuv420(scene[shift: shift + size[1], shift: shift + size[0]]))
    return _encode(path, frames, fps, size, 23)


def reencoded_video(source: Path, target: Path, size: tuple[int, int] = (256, 192), crf: int = 35) -> Path:
    """``source`` scaled down and recompressed harder: what a messaging app does to a forwarded clip."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate is not None, "our generated videos have a constant frame rate"
        fps = int(round(stream.average_rate))
        frames = [_yuv420(np.asarray(Image.fromarray(_rgb(frame.to_ndarray())).resize(size, Image.Resampling.BILINEAR)))
                  for frame in container.decode(stream)]
    return _encode(target, frames, fps, size, crf)


# The corpus must be the same on every run, and H.264 amplifies any one-pixel difference into a different stream.
# Measured: frames whose chroma rows need padding in FFmpeg's buffers (a width not a multiple of 128) gave other
# bytes from run to run, as if the encoder read that uninitialised padding; so both videos' sizes avoid it.
# Colour conversion is done here, elementwise, so no library's threading or scaler state can change a pixel.
_TO_YUV = ((65.481, 128.553, 24.966, 16.0), (-37.797, -74.203, 112.0, 128.0), (112.0, -93.786, -18.214, 128.0))
_TO_RGB = ((1.164383, 0.0, 1.596027), (1.164383, -0.391762, -0.812968), (1.164383, 2.017232, 0.0))


def _yuv420(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range YUV 4:2:0, laid out as PyAV's ``yuv420p`` arrays are: Y, then U, then V rows."""
    height, width, _ = rgb.shape
    r, g, b = (rgb[:, :, k].astype(np.float64) for k in range(3))
    y, u, v = (r * cr / 255 + g * cg / 255 + b * cb / 255 + offset for cr, cg, cb, offset in _TO_YUV)
    u, v = ((c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) / 4 for c in (u, v))
    planes = [y, u.reshape(height // 4, width), v.reshape(height // 4, width)]
    return np.clip(np.rint(np.concatenate(planes)), 0, 255).astype(np.uint8)


def _rgb(yuv: np.ndarray) -> np.ndarray:
    """The inverse of ``_yuv420`` (chroma repeated over each 2x2 block)."""
    height, width = yuv.shape[0] * 2 // 3, yuv.shape[1]
    y = yuv[:height].astype(np.float64) - 16
    u, v = (yuv[height + k * height // 4: height + (k + 1) * height // 4].reshape(height // 2, width // 2)
            .astype(np.float64).repeat(2, axis=0).repeat(2, axis=1) - 128 for k in (0, 1))
    channels = [y * cy + u * cu + v * cv for cy, cu, cv in _TO_RGB]
    return np.clip(np.rint(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)


def _encode(path: Path, frames: list[np.ndarray], fps: int, size: tuple[int, int], crf: int) -> Path:
    """``frames`` (yuv420p arrays) stay alive until the encoder is flushed, in case a frame shares their memory."""
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "veryfast",
                                                                   "threads": "1"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for planes in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(planes, format="yuv420p")))
        container.mux(stream.encode())
    return path


def seeded_bytes(seed: int, size: int) -> bytes:
    return np.random.default_rng(seed).bytes(size)


def executable(seed: int, size: int) -> bytes:
    """A PE-looking file (``MZ`` header, ``PE`` signature, random body): the benign population's programs."""
    body = seeded_bytes(seed, size)
    return b"MZ" + body[2:60] + struct.pack("<I", 64) + b"PE\0\0" + body[68:]
