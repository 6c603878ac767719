"""Generated PDFs for the PDF-image tests, written object by object so each test picks how its pictures are stored.

Pictures are Pillow images (generated shapes and noise); every encoding a PDF
producer uses for images is available: Flate (with or without a PNG
predictor), RunLength, LZW, ASCIIHex or ASCII85 in front of Flate, a JPEG
(DCTDecode) stored as it is, and a JPEG wrapped in Flate.
"""

from __future__ import annotations

import base64
import io
import zlib
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class PdfImage:
    data: bytes  # the stream as stored in the file
    width: int
    height: int
    filters: tuple[str, ...]
    colorspace: str = "/DeviceRGB"
    bits: int = 8
    parms: str = ""  # the /DecodeParms value, as PDF text
    extra: str = ""  # further dictionary entries, as PDF text


def _samples(image: Image.Image) -> tuple[bytes, str]:
    if image.mode == "L":
        return image.tobytes(), "/DeviceGray"
    if image.mode == "CMYK":
        return image.tobytes(), "/DeviceCMYK"
    return image.convert("RGB").tobytes(), "/DeviceRGB"


def flate(image: Image.Image) -> PdfImage:
    samples, space = _samples(image)
    return PdfImage(zlib.compress(samples), image.width, image.height, ("/FlateDecode",), space)


def flate_predicted(image: Image.Image) -> PdfImage:
    """Flate with the PNG "up" predictor on every row, as pdfTeX and many PDF libraries write pictures."""
    samples, space = _samples(image)
    stride = len(samples) // image.height
    rows, previous = [], bytes(stride)
    for y in range(image.height):
        row = samples[y * stride:(y + 1) * stride]
        rows.append(b"\x02" + bytes((a - b) & 0xFF for a, b in zip(row, previous)))
        previous = row
    colors = {"/DeviceGray": 1, "/DeviceRGB": 3, "/DeviceCMYK": 4}[space]
    return PdfImage(zlib.compress(b"".join(rows)), image.width, image.height, ("/FlateDecode",), space,
                    parms=f"<< /Predictor 15 /Colors {colors} /BitsPerComponent 8 /Columns {image.width} >>")


def run_length(image: Image.Image) -> PdfImage:
    samples, space = _samples(image)
    out = bytearray()
    for start in range(0, len(samples), 128):  # literal runs only: valid, if not small
        chunk = samples[start:start + 128]
        out += bytes([len(chunk) - 1]) + chunk
    out.append(128)
    return PdfImage(bytes(out), image.width, image.height, ("/RunLengthDecode",), space)


def lzw(image: Image.Image) -> PdfImage:
    samples, space = _samples(image)
    return PdfImage(_lzw_encode(samples), image.width, image.height, ("/LZWDecode",), space)


def hex_flate(image: Image.Image) -> PdfImage:
    inner = flate(image)
    return PdfImage(inner.data.hex().encode() + b">", image.width, image.height, ("/ASCIIHexDecode", "/FlateDecode"),
                    inner.colorspace)


def a85_flate(image: Image.Image) -> PdfImage:
    inner = flate(image)
    return PdfImage(base64.a85encode(inner.data, adobe=True)[2:], image.width, image.height,
                    ("/ASCII85Decode", "/FlateDecode"), inner.colorspace)


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    stream = io.BytesIO()
    image.convert("RGB").save(stream, "JPEG", quality=quality)
    return stream.getvalue()


def dct(image: Image.Image) -> PdfImage:
    return PdfImage(jpeg_bytes(image), image.width, image.height, ("/DCTDecode",))


def flate_dct(image: Image.Image) -> PdfImage:
    """A JPEG compressed once more with Flate: its bytes are nowhere in the file as they are."""
    return PdfImage(zlib.compress(jpeg_bytes(image)), image.width, image.height, ("/FlateDecode", "/DCTDecode"))


def claiming(image: PdfImage, width: int, height: int) -> PdfImage:
    """``image`` with a dictionary that lies about its size."""
    return PdfImage(image.data, width, height, image.filters, image.colorspace, image.bits, image.parms, image.extra)


def pdf(pages: list[list[PdfImage]], unreferenced: list[PdfImage] = (), trailer_extra: str = "") -> bytes:
    """A PDF of one page per list, each drawing its images side by side; ``unreferenced`` images are objects no page
    uses (left behind by an edit, or hidden)."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree, filled in last
    page_numbers = []
    for images in pages:
        names, draws = [], []
        for n, image in enumerate(images):
            objects.append(_image_object(image))
            names.append(f"/Im{n} {len(objects)} 0 R")
            draws.append(f"q {image.width} 0 0 {image.height} {n * 10} 0 cm /Im{n} Do Q")
        content = "\n".join(draws).encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        content_number = len(objects)
        objects.append((f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_number} 0 R "
                        f"/Resources << /XObject << {' '.join(names)} >> >> >>").encode())
        page_numbers.append(len(objects))
    for image in unreferenced:
        objects.append(_image_object(image))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{n} 0 R" for n in page_numbers)
    objects[1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_numbers)} >>".encode()
    return _file(objects, trailer_extra)


def _image_object(image: PdfImage) -> bytes:
    filters = image.filters[0] if len(image.filters) == 1 else f"[{' '.join(image.filters)}]"
    parms = f" /DecodeParms {image.parms}" if image.parms else ""
    head = (f"<< /Type /XObject /Subtype /Image /Width {image.width} /Height {image.height} "
            f"/ColorSpace {image.colorspace} /BitsPerComponent {image.bits} /Filter {filters}{parms} {image.extra}"
            f"/Length {len(image.data)} >>")
    return head.encode() + b"\nstream\n" + image.data + b"\nendstream"


def _file(objects: list[bytes], trailer_extra: str) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R {trailer_extra}>>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _lzw_encode(data: bytes) -> bytes:
    """LZW as PDF wants it (MSB first, early change, a clear code first and the table reset when full)."""
    out, buffer, bits = bytearray(), 0, 0
    width = 9

    def emit(code: int) -> None:
        nonlocal buffer, bits
        buffer, bits = (buffer << width) | code, bits + width
        while bits >= 8:
            bits -= 8
            out.append((buffer >> bits) & 0xFF)

    table = {bytes([i]): i for i in range(256)}
    emit(256)
    word = b""
    for value in data:
        grown = word + bytes([value])
        if grown in table:
            word = grown
            continue
        emit(table[word])
        table[grown] = len(table) + 2  # 256 clear and 257 end are taken
        word = bytes([value])
        next_code = len(table) + 2
        if next_code + 1 > (1 << width) - 1 + 1 and width < 12:  # early change: widen one code early
            width += 1
        if next_code >= 4094:
            emit(256)
            table = {bytes([i]): i for i in range(256)}
            width = 9
    if word:
        emit(table[word])
    emit(257)
    if bits:
        out.append((buffer << (8 - bits)) & 0xFF)
    return bytes(out)
