"""File type by signature: real encoder output, real forensic samples, and hand-built heads."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import sqlite3
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fieldlab.detect.filetype import (
    EMPTY,
    FILE_TYPES,
    HEAD_SIZE,
    UNKNOWN,
    FileType,
    extension_mismatch,
    identify,
    is_media,
)
from tests.conftest import REALDATA


def head_of(path: Path) -> bytes:
    """What the scanner hands identify(): the first HEAD_SIZE bytes, read only."""
    with path.open("rb") as file:
        return file.read(HEAD_SIZE)


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\0\0\0\x08free"


def zip_with(*members: tuple[str, bytes], stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(members):
            method = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def bmp_header(file_size: int = 58, pixel_offset: int = 54, dib_size: int = 40) -> bytes:
    return (
        b"BM"
        + file_size.to_bytes(4, "little")
        + bytes(4)
        + pixel_offset.to_bytes(4, "little")
        + dib_size.to_bytes(4, "little")
        + bytes(dib_size - 4)
    )


def mp3_frames(count: int) -> bytes:
    """MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames."""
    return (b"\xff\xfb\x90\x00" + bytes(413)) * count


def ogg_page(packet: bytes) -> bytes:
    return b"OggS\0\x02" + bytes(20) + b"\x01" + bytes([len(packet)]) + packet


def ebml(doc_type: bytes | None) -> bytes:
    body = b"\x42\x86\x81\x01" + (b"\x42\x82" + bytes([0x80 | len(doc_type)]) + doc_type if doc_type else b"")
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + b"\x18\x53\x80\x67"


def transport_stream(packet_size: int = 188, prefix: int = 0, packets: int = 5) -> bytes:
    return (bytes(prefix) + b"\x47" + bytes(packet_size - prefix - 1)) * packets


def ico_header(kind: int = 1) -> bytes:
    entry = bytes([16, 16, 0, 0]) + (1).to_bytes(2, "little") + (32).to_bytes(2, "little")
    data = (1128).to_bytes(4, "little") + (22).to_bytes(4, "little")  # size, offset just past the directory
    return b"\0\0" + kind.to_bytes(2, "little") + b"\x01\x00" + entry + data


def pe_header() -> bytes:
    return b"MZ" + bytes(0x3A) + (0x80).to_bytes(4, "little") + bytes(0x40) + b"PE\0\0" + bytes(20)


# One hand-built head per signature; every label identify() can return appears here.
EXAMPLES: list[tuple[str, bytes, str]] = [
    ("jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg"),
    ("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "png"),
    ("gif87a", b"GIF87a\x01\x00\x01\x00", "gif"),
    ("gif89a", b"GIF89a\x01\x00\x01\x00", "gif"),
    ("bmp-v3", bmp_header(), "bmp"),
    ("bmp-os2", bmp_header(file_size=32, pixel_offset=26, dib_size=12), "bmp"),
    ("bmp-v5", bmp_header(file_size=200, pixel_offset=138, dib_size=124), "bmp"),
    ("tiff-le", b"II*\0\x08\0\0\0", "tiff"),
    ("tiff-be", b"MM\0*\0\0\0\x08", "tiff"),
    ("bigtiff", b"II+\0\x08\0\0\0\x10\0\0\0", "tiff"),
    ("orf-raw", b"IIRO\x08\0\0\0", "tiff"),
    ("rw2-raw", b"IIU\0\x18\0\0\0", "tiff"),
    ("webp", b"RIFF\x24\0\0\0WEBPVP8 ", "webp"),
    ("heic", ftyp(b"heic", b"mif1", b"heic"), "heic"),
    ("avif", ftyp(b"avif", b"avif", b"mif1", b"miaf"), "avif"),
    ("cr3", ftyp(b"crx ", b"crx ", b"isom"), "cr3"),
    ("ico", ico_header(1), "ico"),
    ("cur", ico_header(2), "ico"),
    ("psd", b"8BPS\0\x01" + bytes(6), "psd"),
    ("jp2", b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14ftypjp2 ", "jp2"),
    ("j2k-codestream", b"\xff\x4f\xff\x51\0\x2f", "jp2"),
    ("jxl-container", b"\0\0\0\x0cJXL \r\n\x87\n", "jxl"),
    ("jxl-codestream", b"\xff\x0a\xfa\x1f", "jxl"),
    ("qoi", b"qoif\0\0\0\x10\0\0\0\x10\x03\x00", "qoi"),
    ("mp4", ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "mp4"),
    ("mov", ftyp(b"qt  ", b"qt  "), "mov"),
    ("3gp", ftyp(b"3gp4", b"isom", b"3gp4"), "3gp"),
    ("m4a", ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "m4a"),
    ("avi", b"RIFF\0\x10\0\0AVI LIST", "avi"),
    ("mkv", ebml(b"matroska"), "mkv"),
    ("webm", ebml(b"webm"), "webm"),
    ("asf", bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + bytes(8), "asf"),
    ("flv", b"FLV\x01\x05\0\0\0\x09", "flv"),
    ("mpeg-ps", b"\x00\x00\x01\xba\x44\x00\x04\x00", "mpeg-ps"),
    ("mpeg-ts", transport_stream(), "mpeg-ts"),
    ("m2ts", transport_stream(packet_size=192, prefix=4), "mpeg-ts"),
    ("rm", b".RMF\0\0\0\x12\0\x01", "rm"),
    ("ogv", ogg_page(b"\x80theora\x03\x02\x01"), "ogv"),
    ("ogg-vorbis", ogg_page(b"\x01vorbis\0\0\0\0"), "ogg"),
    ("ogg-opus", ogg_page(b"OpusHead\x01\x02"), "ogg"),
    ("mp3-id3", b"ID3\x03\0\0\0\0\x0f\x76" + mp3_frames(1), "mp3"),
    ("mp3-frames", mp3_frames(2), "mp3"),
    ("wav", b"RIFF\x24\0\0\0WAVEfmt ", "wav"),
    ("flac", b"fLaC\0\0\0\x22", "flac"),
    ("zip", b"PK\x03\x04\x14\0\0\0\x08\0" + bytes(16) + b"\x05\0\0\0a.txt", "zip"),
    ("zip-empty", b"PK\x05\x06" + bytes(18), "zip"),
    ("zip-spanned", b"PK\x07\x08PK\x03\x04", "zip"),
    ("ooxml", zip_with(("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w/>")), "ooxml"),
    ("odf", zip_with(("mimetype", b"application/vnd.oasis.opendocument.text"), stored_first=True), "odf"),
    ("epub", zip_with(("mimetype", b"application/epub+zip"), stored_first=True), "epub"),
    ("rar4", b"Rar!\x1a\x07\x00\xcf\x90\x73", "rar"),
    ("rar5", b"Rar!\x1a\x07\x01\x00\x33\x92", "rar"),
    ("7z", b"7z\xbc\xaf\x27\x1c\0\x04", "7z"),
    ("gzip", b"\x1f\x8b\x08\0\0\0\0\0\0\x03", "gzip"),
    ("bzip2", b"BZh91AY&SY\0\0", "bzip2"),
    ("xz", b"\xfd7zXZ\0\0\x04", "xz"),
    ("zstd", b"\x28\xb5\x2f\xfd\x24\x00", "zstd"),
    ("tar-ustar", b"a.txt".ljust(257, b"\0") + b"ustar\x0000", "tar"),
    ("tar-gnu", b"a.txt".ljust(257, b"\0") + b"ustar  \0", "tar"),
    ("android-backup", b"ANDROID BACKUP\n5\n1\nnone\n", "android-backup"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf"),
    ("pdf-after-junk", b"\r\n" + bytes(900) + b"%PDF-1.4\n", "pdf"),
    ("ole", bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16) + b"\x3e\0\x03\0", "ole"),
    ("rtf", b"{\\rtf1\\ansi\\deff0 ", "rtf"),
    ("sqlite", b"SQLite format 3\0\x10\0\x01\x01", "sqlite"),
    ("thumbcache", b"CMMM\x20\0\0\0\x04\0\0\0", "thumbcache"),
    ("plist", b"bplist00\xd1\x01\x02", "plist"),
    ("exe", pe_header(), "exe"),
    ("elf", b"\x7fELF\x02\x01\x01\0" + bytes(8), "elf"),
]


@pytest.mark.parametrize(("head", "label"), [pytest.param(h, lbl, id=name) for name, h, lbl in EXAMPLES])
def test_each_signature_is_identified(head: bytes, label: str) -> None:
    assert identify(head).label == label


def test_every_label_has_a_signature_example() -> None:
    covered = {label for _, _, label in EXAMPLES}
    assert set(FILE_TYPES) - {UNKNOWN.label, EMPTY.label} == covered


@pytest.mark.parametrize(("head", "label"), [pytest.param(h, lbl, id=name) for name, h, lbl in EXAMPLES])
def test_truncated_heads_never_raise(head: bytes, label: str) -> None:
    for length in range(len(head) + 1):
        assert isinstance(identify(head[:length]), FileType)


@given(st.binary(max_size=HEAD_SIZE))
def test_arbitrary_bytes_never_raise(head: bytes) -> None:
    assert identify(head).label in FILE_TYPES


def test_empty_file_is_empty_not_unknown() -> None:
    assert identify(b"") is EMPTY


def test_one_to_three_bytes_are_unknown_rather_than_a_guess() -> None:
    for head in (b"\xff", b"\xff\xd8", b"BM", b"PK", b"MZ", b"\x1f\x8b", b"\0\0\0", b"GIF"):
        assert identify(head) == UNKNOWN, head


def test_random_bytes_are_unknown() -> None:
    for seed in range(200):
        assert identify(random.Random(seed).randbytes(HEAD_SIZE)) == UNKNOWN, seed


def test_plain_text_is_unknown() -> None:
    assert identify(b"Hello, this is a note to self.\n" * 50) == UNKNOWN


# --- weak signatures need a plausible header ------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"BM", id="bare-BM"),
        pytest.param(b"BMW owners club newsletter, spring edition\n" * 4, id="text-starting-BM"),
        pytest.param(bmp_header(dib_size=41), id="unknown-dib-size"),
        pytest.param(bmp_header(file_size=40, pixel_offset=54), id="pixels-beyond-file-size"),
        pytest.param(bmp_header(file_size=500, pixel_offset=20), id="pixels-inside-dib-header"),
    ],
)
def test_bm_without_a_sane_bitmap_header_is_unknown(head: bytes) -> None:
    assert identify(head) == UNKNOWN


def test_zeros_with_an_icon_like_start_are_not_an_icon() -> None:
    assert identify(b"\0\0\1\0" + bytes(60)) == UNKNOWN


def test_mz_without_a_pe_header_is_not_an_executable() -> None:
    assert identify(b"MZ is a postcode prefix, not a program" + bytes(100)) == UNKNOWN


def test_a_single_mp3_frame_header_is_not_enough() -> None:
    assert identify(mp3_frames(1)) == UNKNOWN


def test_a_transport_stream_needs_a_sync_byte_at_every_packet_start_in_its_head() -> None:
    assert identify(transport_stream(packets=3)).label == "mpeg-ts"
    assert identify(transport_stream(packets=2)).label != "mpeg-ts"  # two packets: too few to tell
    broken = bytearray(transport_stream())
    broken[4 * 188] = 0  # the fifth packet's sync byte
    assert identify(bytes(broken)).label != "mpeg-ts"


def test_pdf_marker_after_the_first_kib_is_not_a_pdf() -> None:
    assert identify(bytes(1100) + b"%PDF-1.4\n") == UNKNOWN


def test_pdf_marker_without_a_version_is_not_a_pdf() -> None:
    assert identify(b"%PDF-ish notes about documents") == UNKNOWN


def test_bz_text_is_not_bzip2() -> None:
    assert identify(b"BZh9 is the bzip2 magic, as any fule kno") == UNKNOWN


def test_short_transport_stream_is_unknown() -> None:
    assert identify(transport_stream(packets=2)) == UNKNOWN


# --- ISO base media: brands decide ----------------------------------------------


@pytest.mark.parametrize(
    ("major", "compatible", "label"),
    [
        (b"heic", [b"mif1", b"heic"], "heic"),
        (b"heix", [b"mif1"], "heic"),
        (b"hevc", [b"msf1"], "heic"),
        (b"mif1", [b"heic", b"mif1"], "heic"),
        (b"mif1", [b"mif1", b"miaf"], "heic"),
        (b"mif1", [b"avif", b"mif1", b"miaf"], "avif"),
        (b"msf1", [b"avis"], "avif"),
        (b"avis", [b"avis", b"msf1"], "avif"),
        (b"qt  ", [b"qt  "], "mov"),
        (b"3gp5", [b"3gp5", b"isom"], "3gp"),
        (b"3g2a", [b"3g2a"], "3gp"),
        (b"isom", [b"isom", b"iso2", b"avc1", b"mp41"], "mp4"),
        (b"mp42", [b"mp42", b"isom"], "mp4"),
        (b"M4V ", [b"M4V ", b"M4A ", b"mp42", b"isom"], "mp4"),
        (b"dash", [b"iso6", b"mp41"], "mp4"),
        (b"XAVC", [b"XAVC", b"mp42", b"iso2"], "mp4"),
        (b"M4A ", [b"M4A ", b"isom"], "m4a"),
        (b"isom", [b"isom", b"avif"], "avif"),
    ],
)
def test_iso_media_is_decided_by_major_then_compatible_brands(
    major: bytes, compatible: list[bytes], label: str
) -> None:
    assert identify(ftyp(major, *compatible)).label == label


def test_ftyp_with_an_implausible_size_is_not_iso_media() -> None:
    assert identify(b"\0\0\0\x04ftypisom" + bytes(20)) == UNKNOWN


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"\0\0\0\x08wide" + b"\x00\x10\0\0mdat", id="wide-then-mdat"),
        pytest.param(b"\0\0\x10\0moov\0\0\0\x6cmvhd", id="large-moov"),
        pytest.param(b"\0\0\0\x10free" + bytes(8) + b"\0\0\x10\0mdat", id="free-then-mdat"),
        pytest.param(b"\0\0\0\x01mdat\0\0\0\0\x01\0\0\0", id="mdat-64-bit-size"),
    ],
)
def test_quicktime_without_ftyp_is_mov_when_box_sizes_make_sense(head: bytes) -> None:
    assert identify(head).label == "mov"


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"Get free money now, no questions asked!\n", id="text-with-free-at-offset-4"),
        pytest.param(b"\0\0\0\x10wide" + bytes(16), id="wide-box-not-8-bytes"),
        pytest.param(b"\0\0\0\x10skip" + bytes(8) + b"\0\0\0\0\0\0\0\0", id="next-box-type-not-text"),
        pytest.param(b"\0\0\0\0free" + bytes(8), id="free-to-end-of-file"),
    ],
)
def test_box_names_at_offset_4_without_plausible_sizes_are_unknown(head: bytes) -> None:
    assert identify(head) == UNKNOWN


def test_ebml_without_doctype_is_matroska() -> None:
    assert identify(ebml(None)).label == "mkv"


def test_zip_whose_first_member_is_not_content_types_stays_zip() -> None:
    head = zip_with(("_rels/.rels", b"<Relationships/>"), ("[Content_Types].xml", b"<Types/>"))
    assert identify(head).label == "zip"


def test_compressed_mimetype_member_is_not_trusted_as_odf() -> None:
    head = zip_with(("mimetype", b"application/vnd.oasis.opendocument.text"))
    assert identify(head).label == "zip"


# --- real encoder output ------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_format", "options", "mode", "label"),
    [
        ("JPEG", {}, "RGB", "jpeg"),
        ("JPEG", {"progressive": True, "quality": 60}, "L", "jpeg"),
        ("PNG", {}, "RGBA", "png"),
        ("PNG", {}, "P", "png"),
        ("GIF", {}, "P", "gif"),
        ("BMP", {}, "RGB", "bmp"),
        ("BMP", {}, "1", "bmp"),
        ("BMP", {}, "P", "bmp"),
        ("TIFF", {}, "RGB", "tiff"),
        ("TIFF", {"compression": "tiff_lzw"}, "RGB", "tiff"),
        ("TIFF", {"big_tiff": True}, "RGB", "tiff"),
        ("WEBP", {}, "RGB", "webp"),
        ("WEBP", {"lossless": True}, "RGBA", "webp"),
        ("ICO", {}, "RGBA", "ico"),
        ("JPEG2000", {}, "RGB", "jp2"),
        ("AVIF", {}, "RGB", "avif"),
        ("PDF", {}, "RGB", "pdf"),
    ],
)
def test_pillow_output_is_identified(
    image_format: str, options: dict, mode: str, label: str, tmp_path: Path
) -> None:
    path = tmp_path / "picture.bin"
    Image.new("RGB", (33, 17), (200, 30, 40)).convert(mode).save(path, image_format, **options)
    assert identify(head_of(path)).label == label


def test_stdlib_zip_is_zip(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("photos/1.jpg", b"\xff\xd8\xff" + bytes(100))
    assert identify(head_of(path)).label == "zip"


def test_stdlib_empty_zip_is_zip(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    assert identify(head_of(path)).label == "zip"


@pytest.mark.parametrize(
    ("compress", "label"),
    [
        (gzip.compress, "gzip"),
        (bz2.compress, "bzip2"),
        (lzma.compress, "xz"),
    ],
)
@pytest.mark.parametrize("payload", [b"", b"evidence " * 1000], ids=["empty", "text"])
def test_stdlib_compressors_are_identified(compress, label: str, payload: bytes) -> None:
    assert identify(compress(payload)[:HEAD_SIZE]).label == label


@pytest.mark.parametrize("tar_format", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_stdlib_tar_is_tar(tar_format: int, tmp_path: Path) -> None:
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w", format=tar_format) as archive:
        data = b"x" * 10
        # Over 100 characters: USTAR splits it, GNU and PAX put a long-name header first.
        member = tarfile.TarInfo("d" * 60 + "/" + "f" * 60 + ".jpg")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    assert identify(head_of(path)).label == "tar"


def test_stdlib_sqlite_is_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "msgstore.db"
    with sqlite3.connect(path) as db:
        db.execute("create table messages (id integer primary key, body text)")
    assert identify(head_of(path)).label == "sqlite"


# --- real forensic samples ------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative_path", "label"),
    [
        ("ianare__exif-samples/heic/IMG_5195.HEIC", "heic"),
        ("ianare__exif-samples/heic/samplefilehub.heif", "heic"),
        ("log2timeline__plaso/test_data/testimage.jpg", "jpeg"),
        ("exiftool__exiftool/t/images/GPS.jpg", "jpeg"),
        ("facebook__ThreatExchange/pdq/data/misc-images/c.png", "png"),
        ("abrignoni__iLEAPP/admin/test/samples_data/sample_gif.gif", "gif"),
        ("abrignoni__iLEAPP/admin/test/samples_data/sample_webp.webp", "webp"),
        ("abrignoni__iLEAPP/admin/test/samples_data/sample_avif.avif", "avif"),
        ("abrignoni__iLEAPP/admin/test/samples_data/sample_jp2.jp2", "jp2"),
        ("abrignoni__iLEAPP/admin/test/samples_data/sample_jxl.jxl", "jxl"),
        ("abrignoni__iLEAPP/admin/test/samples_data/sample_qoi.qoi", "qoi"),
        ("abrignoni__iLEAPP/admin/test/samples_data/sample_svg.svg", "unknown"),
        ("berkus__thumbsdb/assets/Thumbs.db", "ole"),
        ("boneknuckleskin__libforensics/unittests/data/thumbsdb/thumbs.db", "ole"),
        ("infosecstreams__huntress2023/forensics/Opposable-Thumbs/thumbcache_256.db", "thumbcache"),
        ("mvt-project__mvt/tests/artifacts/ios_backup/Manifest.db", "sqlite"),
        ("mvt-project__mvt/tests/artifacts/ios_backup/Info.plist", "plist"),
        ("mvt-project__mvt/tests/artifacts/android_backup/backup.ab", "android-backup"),
        ("sleuthkit__sleuthkit_test_data/from_brian/8-jpeg-search.zip", "zip"),
        ("log2timeline__dfvfs/test_data/ext2.E01", "unknown"),
    ],
)
def test_real_samples_are_identified(relative_path: str, label: str) -> None:
    assert identify(head_of(REALDATA / relative_path)).label == label


def test_real_sample_videos_are_mp4() -> None:
    videos = sorted((REALDATA / "facebook__ThreatExchange/tmk/sample-videos").glob("*.mp4"))
    assert videos
    assert {identify(head_of(video)).label for video in videos} == {"mp4"}


def test_every_real_jpg_sample_is_jpeg_even_the_broken_ones() -> None:
    photos = sorted((REALDATA / "ianare__exif-samples/jpg").rglob("*.jpg"))
    assert len(photos) > 30
    assert {identify(head_of(photo)).label for photo in photos} == {"jpeg"}


def test_recycle_bin_record_named_jpg_is_not_a_jpeg() -> None:
    record = REALDATA / "log2timeline__plaso/test_data/recycler/$I103S5F.jpg"
    assert identify(head_of(record)) == UNKNOWN
    assert not extension_mismatch(record.name, UNKNOWN)


def test_iphone_photo_renamed_to_dll_is_reported() -> None:
    photo = identify(head_of(REALDATA / "ianare__exif-samples/heic/IMG_5195.HEIC"))
    assert extension_mismatch("IMG_5195.HEIC", photo) is False
    assert extension_mismatch("msvcrt32.dll", photo) is True


# --- extension mismatch -----------------------------------------------------------------

JPEG, MP4, MOV, HEIC, AVIF, ZIP, ELF = (FILE_TYPES[t] for t in ("jpeg", "mp4", "mov", "heic", "avif", "zip", "elf"))


@pytest.mark.parametrize(
    ("name", "file_type", "lies"),
    [
        ("holiday.txt", JPEG, True),
        ("holiday.JPG", JPEG, False),
        ("holiday.Jpeg", JPEG, False),
        ("holiday.jfif", JPEG, False),
        ("holiday", JPEG, False),  # no claim: phone backups and caches name pictures by hash
        ("holiday.jpg.", JPEG, False),  # Windows drops trailing dots and spaces
        ("holiday.jpg . .", JPEG, False),
        ("holiday.txt.", JPEG, True),
        ("archive.2019.backup.jpg", JPEG, False),
        ("holiday.jpg.txt", JPEG, True),
        (".jpg", JPEG, False),  # a dot file has no extension
        (".hidden.jpg", JPEG, False),
        ("C:\\Users\\x\\Desktop\\taxes.xls", JPEG, True),
        ("/home/x/Pictures/a.b/holiday", JPEG, False),
        ("photo.jpg\n", JPEG, True),  # not what Explorer or a viewer would call .jpg
        ("фото.JPG", JPEG, False),
        ("фото.ЖПГ", JPEG, True),
        ("file13.dll:here", JPEG, True),  # a picture in an NTFS alternate data stream
        ("IMG_0001.MOV", MP4, False),  # mp4, mov, 3gp, m4a are named for one another
        ("clip.mp4", MOV, False),
        ("clip.3gp", MP4, False),
        ("clip.avi", MP4, True),
        ("IMG_0001.HEIF", AVIF, False),
        ("IMG_0001.heic", HEIC, False),
        ("IMG_0001.jpg", HEIC, True),  # phones export HEIC as .jpg only after converting it
        ("report.docx", ZIP, False),  # a docx whose first member is not [Content_Types].xml
        ("libc.so.6", ELF, False),  # numeric suffix is a version number
        ("backup.7z.001", FILE_TYPES["7z"], False),
        ("holiday.001", JPEG, False),
        ("thumbcache_256.db", FILE_TYPES["thumbcache"], False),
        ("Thumbs.db", FILE_TYPES["ole"], False),
        ("anything.txt", UNKNOWN, False),
        ("anything.jpg", EMPTY, False),
        ("", JPEG, False),
        ("...", JPEG, False),
    ],
)
def test_extension_mismatch(name: str, file_type: FileType, lies: bool) -> None:
    assert extension_mismatch(name, file_type) is lies


@given(st.text())
def test_extension_mismatch_never_raises_on_hostile_names(name: str) -> None:
    for file_type in (JPEG, MP4, UNKNOWN, EMPTY):
        assert extension_mismatch(name, file_type) in (True, False)


def test_every_type_accepts_its_own_extensions() -> None:
    for file_type in FILE_TYPES.values():
        for extension in file_type.extensions:
            assert not extension_mismatch(f"x.{extension}", file_type), (file_type.label, extension)
            assert not extension_mismatch(f"X.{extension.upper()}", file_type), (file_type.label, extension)


FAMILIES = {"image", "video", "audio", "archive", "document", "database", "executable", "other"}


def test_labels_and_extensions_are_stable_database_keys() -> None:
    for label, file_type in FILE_TYPES.items():
        assert label == file_type.label
        assert file_type.family in FAMILIES
        for extension in file_type.extensions:
            assert extension == extension.lower() and "." not in extension and extension.strip() == extension


# --- media ----------------------------------------------------------------------------


def test_pictures_and_videos_are_media() -> None:
    media = {label for label, file_type in FILE_TYPES.items() if is_media(file_type)}
    assert set("jpeg png gif bmp tiff webp heic avif mp4 mov 3gp avi mkv webm asf flv".split()) <= media
    assert not media & {"mp3", "wav", "zip", "pdf", "ole", "sqlite", "thumbcache", "exe", "unknown", "empty"}
