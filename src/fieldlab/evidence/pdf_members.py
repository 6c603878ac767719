"""PDFs as containers: each picture the carver cannot see, decoded and rendered as PNG, a member hashed like a file.

A JPEG (DCTDecode) or JPEG 2000 (JPXDecode) image sits in a PDF byte for byte,
so the embedded-media search finds it with its exact MD5 and offset; it is no
member here, or it would be counted twice.  Every other image is a compressed
array of samples no carver recognises (Flate, LZW, RunLength, ASCIIHex or
ASCII85 in front of one of them, CCITT fax, or none): its member is the image
decoded and rendered as PNG (``fieldlab.evidence.rendered``), labelled
"rendered as PNG" so no one takes the PNG's MD5 for an original file's.  A
JPEG wrapped in a general filter (``[/FlateDecode /DCTDecode]``) is not in the
file as it is either: its member is that JPEG unwrapped, the bytes the
producer embedded, whose MD5 a hash set may hold.

Pictures are found in the object table, not by walking pages: an image no page
draws any more (left by an edit, or hidden) is still an object of the file.
Soft masks and masks of other images are left out (they are shapes, not
pictures).  Member key: ``<object number>:object <number> <generation>``, the
PDF's own permanent address for the object, so the locator re-opens the same
picture.  Not covered: inline images in content streams (small, rarely
photos), objects an incremental update replaced (qpdf reads the last
revision's table), JBIG2 (needs jbig2dec, not installed).

Bounds (suspect-made files): objects visited (``MAX_OBJECTS``), pictures per
PDF (``MAX_IMAGES``), pixels per picture (checked from /Width and /Height
before decoding, ``rendered.MAX_PIXELS``), and bytes decoded per stream
(``MAX_DECODED_BYTES``, enforced inside qpdf for Flate, RunLength and
predictors; LZW, which qpdf does not bound, is refused when its stored size
could expand past it).  A PDF that cannot be opened is an ``ArchiveError``; a
damaged one qpdf could rebuild is listed with a problem; an encrypted one is
opened with the empty password (restrictions on printing or editing only) or
one of the examiner's, and otherwise says it needs the password.

Library, by measurement (``bench/pdf_libraries.py``, 2 cores, pikepdf 10.18 /
qpdf 12.4 against pypdf 7.1, same process, median of 3 interleaved rounds): on
a 43 MB 50-page PDF with 50 Flate pictures of 1000x750, open and list every
image object took 2.1 ms with pikepdf and 42-54 ms with pypdf, and decoding all 50
to Pillow images 0.8 s (16 ms a picture) against 10.0-10.5 s (200-210 ms); latest run in docs/benchmarks.md.  On damage
(a 6-picture PDF truncated at 12 points from 5% to 99%, 150 copies with 20
random bytes overwritten, garbage after a header, a 1 GB Flate bomb in a
100x100 image; each case in its own process): pikepdf rebuilt the object
table of every file truncated at 20% or later and decoded the pictures wholly
present (1 to 5 of 6), where pypdf refused every truncated file ("EOF marker
not found"); on the random overwrites pikepdf decoded on average 3.9 pictures
of 6 and pypdf 3.4; neither crashed nor hung in any case, garbage was a clean
exception in both, and both stopped the bomb at their memory limit.  pikepdf
it is: 13x faster, and it recovers pictures from the partial files that
carving and damaged media leave.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Iterator

from PIL import Image

from fieldlab.evidence.archives import ArchiveError, Member, MemberOpener
from fieldlab.evidence.rendered import png_bytes, too_large
from fieldlab.problems import Problem, ProblemKind

if TYPE_CHECKING:
    import pikepdf

KIND = "pdf"
MAX_OBJECTS = 1_000_000
MAX_IMAGES = 2_000
MAX_DECODED_BYTES = 512 << 20  # a 100 MP CMYK picture's samples are 400 MB
_LZW_MAX_RATIO = 2600  # 12-bit codes, each expanding to at most ~3,800 bytes once the table is full
_STORED_AS_FILES = {"/DCTDecode": "JPEG", "/JPXDecode": "JPEG 2000"}  # the carver finds these as they are
_ABBREVIATIONS = {"/Fl": "/FlateDecode", "/LZW": "/LZWDecode", "/RL": "/RunLengthDecode", "/AHx": "/ASCIIHexDecode",
                  "/A85": "/ASCII85Decode", "/CCF": "/CCITTFaxDecode", "/DCT": "/DCTDecode"}
_SIGNATURES = {"/DCTDecode": (b"\xff\xd8\xff",), "/JPXDecode": (b"\0\0\0\x0cjP  ", b"\xff\x4f\xff\x51")}


@dataclass(frozen=True)
class _Picture:
    number: int
    generation: int
    filters: tuple[str, ...]
    width: object  # as declared: checked, never trusted
    height: object
    stored: int | None

    @property
    def name(self) -> bytes:
        return b"object %d %d" % (self.number, self.generation)

    @property
    def unwrapped(self) -> bool:
        """A JPEG or JPEG 2000 behind general filters: the member is the file the producer embedded."""
        return len(self.filters) > 1 and self.filters[-1] in _STORED_AS_FILES

    @property
    def problem(self) -> str | None:
        if problem := too_large(self.width, self.height):
            return problem
        lzw = "/LZWDecode" in self.filters
        if lzw and (self.stored is None or self.stored * _LZW_MAX_RATIO > MAX_DECODED_BYTES):
            stored = "of unknown length" if self.stored is None else f"{self.stored:,} bytes stored"
            return f"LZW ({stored}) could expand past the {MAX_DECODED_BYTES >> 20} MiB limit: not decoded"
        return None

    @property
    def label(self) -> bytes:
        address = f"object {self.number}" + (f" generation {self.generation}" if self.generation else "")
        how = "+".join(f[1:] for f in self.filters) or "uncompressed"
        size = f"{self.width}x{self.height}"
        if self.unwrapped:
            text = f"PDF image {address} ({how} {size}), its {_STORED_AS_FILES[self.filters[-1]]} as embedded"
        else:
            text = f"PDF image {address} ({how} {size}), rendered as PNG"
        return text.encode("utf-8", "surrogateescape")


def list_pdf_members(stream: BinaryIO, passwords: tuple[str, ...] = ()) -> Iterator[Member | Problem | str]:
    """Its pictures not stored as JPEG, and problems (as text): rebuilt after damage, pictures over the bounds.
    ``passwords``: the examiner's, tried on an encrypted PDF that an empty password does not open."""
    pdf, problem = _open(stream, passwords)
    if problem:
        yield problem
    pictures, problems = _pictures(pdf)
    yield from problems
    for picture in pictures:
        yield Member(picture.number, picture.name, None, picture.stored, None, problem=picture.problem,
                     label=picture.label)


def pdf_opener(stream: BinaryIO, passwords: tuple[str, ...] = ()) -> MemberOpener:
    """Opens the PDF once; the opener then decodes any of its pictures by object number and generation."""
    pdf, _ = _open(stream, passwords)

    def open_member(index: int, name: bytes) -> BinaryIO:
        number, generation = _address(index, name)
        obj = _object(pdf, number, generation)
        picture = _picture(obj, number, generation)
        if picture is None or not isinstance(obj, _pikepdf().Stream) or picture.name != name or _plain_file(picture.filters):
            raise ArchiveError(f"{name.decode('ascii', 'replace')[:40]} is not a picture to render in this PDF")
        if picture.problem:
            raise ArchiveError(picture.problem)
        return io.BytesIO(_decoded(obj, picture))

    return open_member


@functools.cache
def _pikepdf():  # noqa: ANN202 - the module: imported when a PDF is first opened, not by every worker at start
    import pikepdf

    limit = MAX_DECODED_BYTES
    pikepdf.settings.set_qpdf_limits(flate_max_memory=limit, run_length_max_memory=limit, png_max_memory=limit,
                                     tiff_max_memory=limit)
    return pikepdf


def _open(stream: BinaryIO, passwords: tuple[str, ...]) -> tuple[pikepdf.Pdf, str | None]:
    """The PDF, opened with no password, an empty one, or the first of the examiner's that works."""
    pikepdf = _pikepdf()
    for password in ("", *passwords):
        stream.seek(0)
        try:
            pdf = pikepdf.open(stream, password=password)
            break
        except pikepdf.PasswordError:
            continue
        except (pikepdf.PikepdfError, OSError, ValueError, RuntimeError) as exc:
            raise ArchiveError(f"damaged PDF, not readable: {_message(exc)}") from exc
    else:
        tried = f": none of the {len(passwords)} supplied passwords opens it" if passwords else ""
        raise ArchiveError(f"encrypted PDF: its pictures cannot be read without the password{tried}",
                           ProblemKind.ENCRYPTED)
    rebuilt = [w for w in pdf.get_warnings() if "reconstruct" in w]
    return pdf, "damaged PDF: its object table was rebuilt, some pictures may be missing" if rebuilt else None


def _pictures(pdf: pikepdf.Pdf) -> tuple[list[_Picture], list[Problem | str]]:  # str: damage
    pikepdf = _pikepdf()
    found: list[_Picture] = []
    masks: set[tuple[int, int]] = set()
    problems: list[Problem | str] = []
    try:
        objects = pdf.objects
    except pikepdf.PikepdfError as exc:
        return [], [f"damaged PDF, its objects not listed: {_message(exc)}"]
    for count, obj in enumerate(objects):
        if count == MAX_OBJECTS:
            problems.append(Problem(ProblemKind.LIMIT, f"more than {MAX_OBJECTS:,} objects: the rest not searched for pictures"))
            break
        try:
            picture = _picture(obj, *obj.objgen) if isinstance(obj, pikepdf.Stream) else None
            if picture is None:
                continue
            masks.update(m.objgen for m in (obj.get("/SMask"), obj.get("/Mask")) if isinstance(m, pikepdf.Stream))
        except (pikepdf.PikepdfError, ValueError, TypeError) as exc:
            problems.append(f"object {obj.objgen[0]}: {_message(exc)}")
            continue
        if not _plain_file(picture.filters):
            found.append(picture)
    pictures = sorted((p for p in found if (p.number, p.generation) not in masks), key=lambda p: p.number)
    if len(pictures) > MAX_IMAGES:
        problems.append(Problem(ProblemKind.LIMIT, f"more than {MAX_IMAGES:,} pictures: the rest not listed"))
    return pictures[:MAX_IMAGES], problems[:20]


def _address(index: int, name: bytes) -> tuple[int, int]:
    match = re.fullmatch(rb"object (\d+) (\d+)", name)
    if match is None or int(match[1]) != index:
        raise ArchiveError(f"not a PDF object address: {name[:80]!r}")
    return index, int(match[2])


def _object(pdf: pikepdf.Pdf, number: int, generation: int) -> pikepdf.Object:
    pikepdf = _pikepdf()
    try:
        return pdf.get_object(number, generation)
    except (pikepdf.PikepdfError, ValueError) as exc:
        raise ArchiveError(f"PDF object {number} cannot be read: {_message(exc)}") from exc


def _picture(obj: pikepdf.Object, number: int, generation: int) -> _Picture | None:
    """The image XObject ``obj`` describes, or None when it is something else."""
    pikepdf = _pikepdf()
    if not isinstance(obj, pikepdf.Stream) or obj.get("/Subtype") != "/Image":
        return None
    declared = obj.get("/Filter")
    names = declared if isinstance(declared, pikepdf.Array) else [declared] if declared is not None else []
    filters = tuple(_ABBREVIATIONS.get(str(f), str(f)) for f in names if isinstance(f, pikepdf.Name))
    length = obj.get("/Length")
    return _Picture(number, generation, filters, _integer(obj.get("/Width")), _integer(obj.get("/Height")),
                    int(length) if isinstance(length, int) else None)


def _integer(value: object) -> object:
    return int(value) if isinstance(value, int) else value


def _plain_file(filters: tuple[str, ...]) -> bool:
    return len(filters) == 1 and filters[0] in _STORED_AS_FILES


def _decoded(obj: pikepdf.Stream, picture: _Picture) -> bytes:
    pikepdf = _pikepdf()
    try:
        if picture.unwrapped:
            return _unwrapped(obj, picture.filters)
        with pikepdf.PdfImage(obj).as_pil_image(apply_mask=False) as image:
            return png_bytes(image)
    except ArchiveError:
        raise
    except (pikepdf.PikepdfError, Image.DecompressionBombError, NotImplementedError, ValueError, TypeError, OSError,
            KeyError, MemoryError) as exc:  # pikepdf's image errors (unsupported, jbig2dec missing) are not PdfErrors
        raise ArchiveError(f"PDF image object {picture.number} cannot be decoded: {_message(exc)}") from exc


def _unwrapped(obj: pikepdf.Stream, filters: tuple[str, ...]) -> bytes:
    """The JPEG or JPEG 2000 behind the general filters, decoded by qpdf on a copy that keeps only those."""
    pikepdf = _pikepdf()
    with pikepdf.Pdf.new() as scratch:
        copy = scratch.copy_foreign(obj)
        copy.Filter = pikepdf.Array([pikepdf.Name(f) for f in filters[:-1]])
        parms = copy.get("/DecodeParms")
        if isinstance(parms, pikepdf.Array):
            copy.DecodeParms = pikepdf.Array(list(parms)[:-1])
        elif parms is not None:
            del copy.DecodeParms  # one dictionary: it belongs to the single (last) filter
        data = copy.read_bytes()
    if not data.startswith(_SIGNATURES[filters[-1]]):
        raise ArchiveError(f"the {_STORED_AS_FILES[filters[-1]]} behind {'+'.join(f[1:] for f in filters[:-1])} "
                           "is not one")
    return data


def _message(exc: BaseException) -> str:
    """qpdf's message without the Python object it names as the file (``stream <_io.BufferedReader ...>``)."""
    text = re.sub(r"^stream |<_io\.[^>]*>:? ?", "", str(exc)).strip()
    return (text or type(exc).__name__)[:300]
