"""What a file really is, from its first bytes, and whether its name says otherwise.

A suspect who renames ``holiday.jpg`` to ``tax2019.dll`` hides it from anyone who
trusts the extension, so the scanner decides by signature and keeps the name only
to report the lie.  ``identify`` is called once per file with bytes the scanner
has already read, so it does no I/O and reads fixed offsets: one dict lookup on
the ISO box type at offset 4, one on the first byte, then three checks for what
has no fixed first byte (tar, M2TS, PDF after junk; only PDF searches, 1 KiB).

Signatures of two bytes or fewer ("BM", "MZ", MP3 frame sync) are confirmed by a
plausible header before they count, because every false label also produces a
false "extension lies" line in a report someone has to explain in court.  The
one exception is the bare JPEG XL codestream (FF 0A), which has nothing after
its two bytes to check: about one random head in 65,536 is called jxl.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

HEAD_SIZE = 4096
"""Bytes ``identify`` wants: PDF may start up to 1 KiB in, tar's magic sits at 257,
an MP3 frame can be 1441 bytes long and we want to see the next one.  One page
costs the same to read as 1 KiB; ``identify`` never scans all of it."""


# stored per item (items.family) and shown in reports; image and video are what the decoding stage reads
FileFamily = Literal["image", "video", "audio", "archive", "document", "database", "executable", "other"]


@dataclass(frozen=True)
class FileType:
    label: str  # short stable id stored in the case database and printed in reports
    mime: str
    family: FileFamily
    extensions: tuple[str, ...]  # lower case, no dot: the names this type normally carries


def _t(label: str, mime: str, family: FileFamily, extensions: str = "") -> FileType:
    return FileType(label, mime, family, tuple(extensions.split()))


# Camera RAW formats built on TIFF: labelled tiff, named for the camera maker.
_RAW_TIFF_EXTENSIONS = "dng cr2 nef nrw arw srf sr2 orf pef rw2 srw 3fr erf kdc dcr mos iiq rwl mef fff"

_TYPES = (
    _t("jpeg", "image/jpeg", "image", "jpg jpeg jpe jfif jfi jif thm mpo"),
    _t("png", "image/png", "image", "png apng"),
    _t("gif", "image/gif", "image", "gif"),
    _t("bmp", "image/bmp", "image", "bmp dib"),
    _t("tiff", "image/tiff", "image", "tif tiff " + _RAW_TIFF_EXTENSIONS),
    _t("webp", "image/webp", "image", "webp"),
    _t("heic", "image/heic", "image", "heic heif heics heifs hif"),
    _t("avif", "image/avif", "image", "avif avifs"),
    _t("cr3", "image/x-canon-cr3", "image", "cr3"),
    _t("ico", "image/vnd.microsoft.icon", "image", "ico cur"),
    _t("psd", "image/vnd.adobe.photoshop", "image", "psd psb"),
    _t("jp2", "image/jp2", "image", "jp2 j2k j2c jpc jpf jpx jpm jph"),
    _t("jxl", "image/jxl", "image", "jxl"),
    _t("qoi", "image/qoi", "image", "qoi"),
    _t("mp4", "video/mp4", "video", "mp4 m4v f4v m4s lrv"),
    _t("mov", "video/quicktime", "video", "mov qt"),
    _t("3gp", "video/3gpp", "video", "3gp 3gpp 3g2 3gp2"),
    _t("avi", "video/x-msvideo", "video", "avi divx"),
    _t("mkv", "video/x-matroska", "video", "mkv mk3d mka mks"),
    _t("webm", "video/webm", "video", "webm"),
    _t("asf", "video/x-ms-asf", "video", "asf wmv wma dvr-ms"),
    _t("flv", "video/x-flv", "video", "flv"),
    _t("mpeg-ps", "video/mpeg", "video", "mpg mpeg mpe m2p vob"),
    _t("mpeg-ts", "video/mp2t", "video", "ts mts m2ts m2t tod"),
    _t("rm", "application/vnd.rn-realmedia", "video", "rm rmvb"),
    _t("ogv", "video/ogg", "video", "ogv ogg ogx"),
    _t("m4a", "audio/mp4", "audio", "m4a m4b m4p m4r"),
    _t("mp3", "audio/mpeg", "audio", "mp3"),
    _t("wav", "audio/wav", "audio", "wav"),
    _t("ogg", "audio/ogg", "audio", "ogg oga opus spx ogx"),
    _t("flac", "audio/flac", "audio", "flac"),
    _t("zip", "application/zip", "archive", "zip jar apk ipa xpi cbz kmz whl"),
    _t("rar", "application/vnd.rar", "archive", "rar cbr"),
    _t("7z", "application/x-7z-compressed", "archive", "7z cb7"),
    _t("gzip", "application/gzip", "archive", "gz tgz gzip svgz"),
    _t("bzip2", "application/x-bzip2", "archive", "bz2 tbz tbz2 tb2 bz"),
    _t("xz", "application/x-xz", "archive", "xz txz"),
    _t("zstd", "application/zstd", "archive", "zst tzst zstd"),
    _t("tar", "application/x-tar", "archive", "tar"),
    _t("android-backup", "application/x-android-backup", "archive", "ab"),
    _t(
        "ooxml",
        "application/vnd.openxmlformats-officedocument",
        "document",
        "docx docm dotx dotm xlsx xlsm xltx xltm pptx pptm potx potm ppsx ppsm vsdx xps oxps 3mf nupkg",
    ),
    _t("odf", "application/vnd.oasis.opendocument", "document", "odt ods odp odg odf ott ots otp"),
    _t("epub", "application/epub+zip", "document", "epub"),
    _t("pdf", "application/pdf", "document", "pdf ai"),
    _t(
        "ole",
        "application/x-ole-storage",
        "document",
        "doc dot xls xlt xla xlw ppt pps pot msg msi msp db vsd pub mpp wps",
    ),
    _t("rtf", "application/rtf", "document", "rtf"),
    _t(
        "sqlite",
        "application/vnd.sqlite3",
        "database",
        "sqlite sqlite3 db db3 sdb s3db sl3 sqlitedb storedata",
    ),
    _t("thumbcache", "application/x-windows-thumbcache", "database", "db"),
    _t("plist", "application/x-bplist", "other", "plist"),
    _t(
        "exe",
        "application/vnd.microsoft.portable-executable",
        "executable",
        "exe dll sys ocx scr cpl drv efi mui ax com",
    ),
    _t("elf", "application/x-elf", "executable", "elf so o ko bin axf out prx"),
)

UNKNOWN = _t("unknown", "application/octet-stream", "other")
EMPTY = _t("empty", "application/x-empty", "other")

FILE_TYPES: Mapping[str, FileType] = MappingProxyType({t.label: t for t in (*_TYPES, UNKNOWN, EMPTY)})
"""Every type ``identify`` can return, by label: turns a stored label back into its FileType."""

_INTERCHANGEABLE = (
    # One ISO base media family: phones, cameras and editors write any of these
    # names for any of these brands, and every player opens them by content.
    {"mp4", "mov", "3gp", "m4a"},
    {"heic", "avif"},  # both HEIF; ".heif" is the generic name whatever the codec
    {"mkv", "webm"},  # WebM is a subset of Matroska
    {"mpeg-ps", "mpeg-ts"},  # camcorders and TV recorders put either mux in .mpg/.ts
    {"ogg", "ogv"},
    # Zip containers: only the first member tells them apart, and many writers
    # (LibreOffice, Java jar tools) do not put the telling member first.
    {"zip", "ooxml", "odf", "epub"},
)


def _accepted_extensions() -> dict[str, frozenset[str]]:
    accepted = {t.label: frozenset(t.extensions) for t in _TYPES}
    for group in _INTERCHANGEABLE:
        shared = frozenset().union(*(accepted[label] for label in group))
        accepted.update(dict.fromkeys(group, shared))
    return accepted


_ACCEPTED_EXTENSIONS = _accepted_extensions()


def identify(head: bytes) -> FileType:
    """The type of a file whose first bytes (ideally ``HEAD_SIZE`` of them) are ``head``.

    Never raises: a head too short for a signature is simply not that type.
    ISO boxes are tried first because their first bytes are a size, not a magic.
    """
    if not head:
        return EMPTY
    box = _BY_BOX_TYPE.get(head[4:8])
    if box is not None and (found := box(head)) is not None:
        return found
    for check in _BY_FIRST_BYTE.get(head[0], ()):
        if (found := check(head)) is not None:
            return found
    for check in _ANYWHERE:
        if (found := check(head)) is not None:
            return found
    return UNKNOWN


def is_media(file_type: FileType) -> bool:
    """True for pictures and videos, the things a hash set or classifier can match."""
    return file_type.family in ("image", "video")


def extension_mismatch(file_name: str, file_type: FileType) -> bool:
    """True when the name claims an extension that this type does not normally carry.

    No claim, no lie: a name without an extension is not flagged, because phone
    backups, browser caches and app stores name their pictures by hash or number
    by design, and flagging them would bury the renamed files an examiner is
    looking for (the content is scanned either way).  Unknown and empty files are
    never flagged either: we cannot say what they should be called.  The name may
    be a path; Windows' trailing dots and spaces are ignored, case is ignored, and
    a numeric last suffix (``libc.so.6``, ``backup.7z.001``) is a version or part
    number, so the suffix before it is the claim.  Types that are routinely named
    for one another (mp4/mov/3gp, heic/avif, mkv/webm, zip/docx) share names.
    """
    if file_type.label in (UNKNOWN.label, EMPTY.label):
        return False
    claimed = _claimed_extension(file_name)
    if not claimed:
        return False
    return claimed not in _ACCEPTED_EXTENSIONS.get(file_type.label, frozenset(file_type.extensions))


def _claimed_extension(file_name: str) -> str:
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1].rstrip(". ").lstrip(".")
    while True:
        name, dot, suffix = name.rpartition(".")
        if not dot or not name:
            return ""
        if not (suffix.isascii() and suffix.isdigit()):
            return suffix.lower()


# --- unsigned integers at fixed offsets; -1 (which no check accepts) when the head is too short


def _le(head: bytes, offset: int, size: int = 4) -> int:
    return int.from_bytes(head[offset : offset + size], "little") if len(head) >= offset + size else -1


def _be(head: bytes, offset: int, size: int = 4) -> int:
    return int.from_bytes(head[offset : offset + size], "big") if len(head) >= offset + size else -1


def _is_box_type(code: bytes) -> bool:
    return len(code) == 4 and code[0] != 0x20 and all(0x20 <= c < 0x7F for c in code)


# --- ISO base media (MP4, MOV, 3GP, HEIC, AVIF, CR3) --------------------------

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_GENERIC_BRANDS = {b"mif1", b"msf1"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def _ftyp(head: bytes) -> FileType | None:
    """Decide by major brand, then by compatible brands; anything else ISO is mp4."""
    size = _be(head, 0)
    if not 16 <= size <= HEAD_SIZE or len(head) < 12:
        return None
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in _HEIC_BRANDS:
        return FILE_TYPES["heic"]
    if major in _AVIF_BRANDS:
        return FILE_TYPES["avif"]
    if major in _HEIF_GENERIC_BRANDS:
        return FILE_TYPES["avif" if compatible & _AVIF_BRANDS else "heic"]
    if major == b"crx ":
        return FILE_TYPES["cr3"]
    if major == b"qt  ":
        return FILE_TYPES["mov"]
    if major.startswith(b"3g") or major == b"kddi":
        return FILE_TYPES["3gp"]
    if major in _AUDIO_BRANDS:
        return FILE_TYPES["m4a"]
    if compatible & _AVIF_BRANDS:
        return FILE_TYPES["avif"]
    if compatible & (_HEIC_BRANDS | _HEIF_GENERIC_BRANDS):
        return FILE_TYPES["heic"]
    return FILE_TYPES["mp4"]


def _quicktime_box(head: bytes) -> FileType | None:
    """Old QuickTime files start with a movie box, not ftyp.

    Four letters at offset 4 also occur in text ("Get free ..."), so the size
    field must make sense, and where the next box header is in view it must
    look like one.
    """
    size = _be(head, 0)
    kind = head[4:8]
    if size in (0, 1):  # 0: to end of file; 1: 64-bit size follows. Both only for media data.
        return FILE_TYPES["mov"] if kind == b"mdat" else None
    if size < 8 or (kind == b"wide" and size != 8):
        return None
    if size + 8 > len(head):
        # Padding boxes are small; a large one without a visible successor is not a box.
        return FILE_TYPES["mov"] if kind in (b"moov", b"mdat") else None
    return FILE_TYPES["mov"] if _is_box_type(head[size + 4 : size + 8]) else None


_BY_BOX_TYPE: dict[bytes, Callable[[bytes], FileType | None]] = {
    b"ftyp": _ftyp,
    **{kind: _quicktime_box for kind in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")},
}


# --- signatures by first byte --------------------------------------------------


def _prefix(signature: bytes, label: str) -> Callable[[bytes], FileType | None]:
    return lambda head: FILE_TYPES[label] if head.startswith(signature) else None


def _riff(head: bytes) -> FileType | None:
    label = _RIFF_FORMS.get(head[8:12]) if head.startswith(b"RIFF") else None
    return FILE_TYPES[label] if label else None


_RIFF_FORMS = {b"WEBP": "webp", b"AVI ": "avi", b"WAVE": "wav"}


def _ebml(head: bytes) -> FileType | None:
    """Matroska and WebM share EBML; the DocType element (42 82) in the header tells them apart."""
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    at = head.find(b"\x42\x82", 4, 64)
    if at >= 0 and len(head) > at + 2 and head[at + 2] & 0x80:
        doc_type = head[at + 3 : at + 3 + (head[at + 2] & 0x7F)]
        if doc_type.rstrip(b"\0") == b"webm":
            return FILE_TYPES["webm"]
    return FILE_TYPES["mkv"]


def _tiff(head: bytes) -> FileType | None:
    """Classic and Big TIFF, and the TIFF-based camera RAW headers that change the magic."""
    return FILE_TYPES["tiff"] if head[:4] in _TIFF_MAGICS else None


_TIFF_MAGICS = {b"II*\0", b"MM\0*", b"II+\0", b"MM\0+", b"IIRO", b"IIRS", b"MMOR", b"IIU\0"}


def _bmp(head: bytes) -> FileType | None:
    """'BM' is two bytes of text; require a file size, pixel offset and DIB header that agree."""
    file_size, pixel_offset, dib_size = _le(head, 2), _le(head, 10), _le(head, 14)
    if not head.startswith(b"BM") or dib_size not in (12, 40, 52, 56, 64, 108, 124):
        return None
    if not 14 + dib_size <= pixel_offset <= file_size:
        return None
    return FILE_TYPES["bmp"]


def _ico(head: bytes) -> FileType | None:
    """00 00 01 00 is common in binary data; the first directory entry must make sense."""
    kind, count = _le(head, 2, 2), _le(head, 4, 2)
    planes, bits, data_size, data_offset = _le(head, 10, 2), _le(head, 12, 2), _le(head, 14), _le(head, 18)
    if not head.startswith(b"\0\0") or kind not in (1, 2) or not 1 <= count <= 255:
        return None
    if data_offset < 6 + 16 * count or head[9] != 0 or data_size <= 0:
        return None
    if kind == 1 and (planes not in (0, 1) or bits not in (0, 1, 2, 4, 8, 16, 24, 32)):
        return None  # for cursors these two fields are the hotspot
    return FILE_TYPES["ico"]


def _psd(head: bytes) -> FileType | None:
    return FILE_TYPES["psd"] if head.startswith(b"8BPS") and _be(head, 4, 2) in (1, 2) else None


_MP3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5
}
_MP3_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3(head: bytes) -> FileType | None:
    """ID3 tag, or an MPEG layer III frame header followed by a second frame where the first says.

    A valid-looking layer III header turns up in about one random head in
    16,000; two in a row, about one in 270 million.
    """
    if head.startswith(b"ID3") and len(head) >= 10 and 2 <= head[3] <= 4 and head[4] != 0xFF:
        return FILE_TYPES["mp3"]
    length = _mp3_frame_length(head, 0)
    if length and _mp3_frame_length(head, length):
        return FILE_TYPES["mp3"]
    return None


def _mp3_frame_length(head: bytes, at: int) -> int | None:
    if len(head) < at + 4 or head[at] != 0xFF or head[at + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[at + 1] >> 3) & 3, (head[at + 1] >> 1) & 3
    bitrate_index, rate_index, padding = head[at + 2] >> 4, (head[at + 2] >> 2) & 3, (head[at + 2] >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
    return (144 if version == 3 else 72) * bitrate // _MP3_SAMPLE_RATES[version][rate_index] + padding


def _ogg(head: bytes) -> FileType | None:
    """Ogg carries sound or pictures; the first packet names the codec."""
    if not head.startswith(b"OggS\0") or len(head) < 27:
        return None
    packet = head[27 + head[26] : 27 + head[26] + 8]
    return FILE_TYPES["ogv" if packet.startswith((b"\x80theora", b"\x01video")) else "ogg"]


def _mpeg_ts(head: bytes, start: int = 0, stride: int = 188) -> FileType | None:
    """Transport streams have no header, only a 0x47 sync byte every packet; want three in a row."""
    syncs = head[start : start + 5 * stride : stride]  # asked of every unknown file: one slice, not a loop
    if len(syncs) >= 3 and syncs.count(0x47) == len(syncs):
        return FILE_TYPES["mpeg-ts"]
    return None


def _bzip2(head: bytes) -> FileType | None:
    """'BZh1'-'BZh9' is followed by the block magic (pi) or, for an empty stream, the end magic."""
    if head[:3] == b"BZh" and head[3:4] in _BZIP2_LEVELS and head[4:10] in _BZIP2_BLOCK_MAGICS:
        return FILE_TYPES["bzip2"]
    return None


_BZIP2_LEVELS = {bytes([c]) for c in b"123456789"}
_BZIP2_BLOCK_MAGICS = {b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90"}


def _elf(head: bytes) -> FileType | None:
    """Class (32/64-bit) and byte order must be valid, not just the four magic bytes."""
    if head.startswith(b"\x7fELF") and head[4:5] in (b"\1", b"\2") and head[5:6] in (b"\1", b"\2"):
        return FILE_TYPES["elf"]
    return None


def _exe(head: bytes) -> FileType | None:
    """'MZ' is two letters; the header pointer at 0x3C must lead to a PE, NE or LE/LX header."""
    new_header = _le(head, 0x3C)
    if not head.startswith(b"MZ") or new_header < 0x40:
        return None
    signature = head[new_header : new_header + 4]
    if signature == b"PE\0\0" or signature[:2] in (b"NE", b"LE", b"LX"):
        return FILE_TYPES["exe"]
    return None


def _zip(head: bytes) -> FileType | None:
    """Zip; Office, OpenDocument and EPUB only when the first member says so.

    OOXML writers put ``[Content_Types].xml`` first, ODF and EPUB a stored
    ``mimetype`` member; when another member comes first it stays plain zip.
    """
    if head.startswith((b"PK\x05\x06", b"PK\x07\x08")):
        return FILE_TYPES["zip"]
    if not head.startswith(b"PK\x03\x04"):
        return None
    name_length, extra_length = _le(head, 26, 2), _le(head, 28, 2)
    if extra_length < 0:
        return FILE_TYPES["zip"]
    name = head[30 : 30 + name_length]
    if name == b"[Content_Types].xml":
        return FILE_TYPES["ooxml"]
    if name == b"mimetype" and _le(head, 8, 2) == 0:
        content = head[30 + name_length + extra_length :][:64]
        if content.startswith(b"application/epub+zip"):
            return FILE_TYPES["epub"]
        if content.startswith(b"application/vnd.oasis.opendocument."):
            return FILE_TYPES["odf"]
    return FILE_TYPES["zip"]


def _pdf(head: bytes) -> FileType | None:
    """Readers accept junk before the header, so look in the first KiB for '%PDF-1.' or '%PDF-2.'."""
    at = head.find(b"%PDF-", 0, 1024 + 5)
    if at >= 0 and head[at + 5 : at + 6] in (b"1", b"2") and head[at + 6 : at + 7] == b".":
        return FILE_TYPES["pdf"]
    return None


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\0\0\0\x0cjP  \r\n\x87\n", "jp2"),
    (b"\xff\x4f\xff\x51", "jp2"),  # bare JPEG 2000 codestream
    (b"\0\0\0\x0cJXL \r\n\x87\n", "jxl"),
    (b"\xff\x0a", "jxl"),  # bare JPEG XL codestream: only 2 bytes, nothing after them to check
    (b"qoif", "qoi"),
    (b"\x00\x00\x01\xba", "mpeg-ps"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c", "asf"),
    (b"FLV\x01", "flv"),
    (b".RMF", "rm"),
    (b"fLaC", "flac"),
    (b"Rar!\x1a\x07\x00", "rar"),
    (b"Rar!\x1a\x07\x01\x00", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\0", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"ANDROID BACKUP\n", "android-backup"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"{\\rtf", "rtf"),
    (b"SQLite format 3\0", "sqlite"),
    (b"CMMM", "thumbcache"),
    (b"bplist0", "plist"),
)


def _build_first_byte_table() -> dict[int, tuple[Callable[[bytes], FileType | None], ...]]:
    checks: list[tuple[int, Callable[[bytes], FileType | None]]] = [
        (sig[0], _prefix(sig, label)) for sig, label in _SIGNATURES
    ]
    checks += [
        (ord("R"), _riff),
        (0x1A, _ebml),
        (ord("I"), _tiff),
        (ord("M"), _tiff),
        (ord("B"), _bmp),
        (ord("B"), _bzip2),
        (0x00, _ico),
        (ord("8"), _psd),
        (0xFF, _mp3),
        (ord("I"), _mp3),
        (ord("O"), _ogg),
        (0x47, _mpeg_ts),
        (0x7F, _elf),
        (ord("M"), _exe),
        (ord("P"), _zip),
        (ord("%"), _pdf),
    ]
    table: dict[int, tuple[Callable[[bytes], FileType | None], ...]] = {}
    for first, check in checks:
        table[first] = (*table.get(first, ()), check)
    return table


_BY_FIRST_BYTE = _build_first_byte_table()


def _m2ts(head: bytes) -> FileType | None:
    """Blu-ray/AVCHD transport streams put a 4-byte timestamp before every 188-byte packet."""
    return _mpeg_ts(head, start=4, stride=192)


def _tar(head: bytes) -> FileType | None:
    """POSIX ('ustar\\0') and GNU ('ustar  ') tar; the first bytes are a member's name."""
    return FILE_TYPES["tar"] if head[257:262] == b"ustar" else None


_ANYWHERE: tuple[Callable[[bytes], FileType | None], ...] = (_tar, _m2ts, _pdf)
