"""EXIF facts of photos, and a photo's camera against a seized phone: real samples, generated pictures, hostile tags."""

from __future__ import annotations

import calendar
import json
import random
import re
import struct
import time
import unicodedata
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from fieldlab.detect.exif import MAX_TEXT, PhotoFacts, camera_matches_device, model_names, photo_facts
from fieldlab.detect.perceptual import IMAGE_FORMATS
from fieldlab.device import DeviceFacts
from tests.conftest import REALDATA
from tests.detect.media_builders import encoded, picture

SAMPLES = REALDATA / "ianare__exif-samples"
DUMP = json.loads((REALDATA / "_derived" / "exif" / "exif-samples_dump_parsed.json").read_text())
GPS_SAMPLES = sorted((SAMPLES / "jpg" / "gps").glob("*.jpg"))
INVALID_JPEGS = sorted((SAMPLES / "jpg" / "invalid").glob("*.jpg"))
ORIENTATION_SAMPLES = sorted((SAMPLES / "jpg" / "orientation").glob("*.jpg"))

MAKE, MODEL, ORIENTATION, SOFTWARE, CAMERA_SERIAL = 0x010F, 0x0110, 0x0112, 0x0131, 0xC62F
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATE_TIME_ORIGINAL, OFFSET_TIME_ORIGINAL, SUBSEC_TIME_ORIGINAL = 0x9003, 0x9011, 0x9291
IMAGE_UNIQUE_ID, BODY_SERIAL, LENS_MODEL = 0xA420, 0xA431, 0xA434
LAT_REF, LAT, LON_REF, LON, ALT_REF, ALT, GPS_TIME, GPS_DATE = 1, 2, 3, 4, 5, 6, 7, 29
ASCII, SHORT = 2, 3  # TIFF field types


def facts_of(path: Path) -> PhotoFacts | None:
    """Opened as the pipeline opens pictures for PDQ, EXIF read from the same image."""
    with Image.open(path, formats=IMAGE_FORMATS) as image:
        return photo_facts(image)


def dump_degrees(text: str) -> float:
    """exif-py's "[43, 28, 1407/500]" as degrees."""
    degrees, minutes, seconds = (Fraction(part.strip()) for part in text.strip("[]").split(","))
    return float(degrees + minutes / 60 + seconds / 3600)


def utc(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def rational(numerator: int, denominator: int) -> IFDRational:
    return IFDRational(numerator, denominator)


def dms(degrees: int, minutes: int, seconds: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    return rational(degrees, 1), rational(minutes, 1), rational(round(seconds * 100), 100)


def camera_exif(**ifd0: object) -> Image.Exif:
    """A phone's usual tags; each test overwrites the ones it is about."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[SOFTWARE], exif[ORIENTATION] = "Google", "Pixel 6", "SQ3A.220705.004", 6
    exif_ifd = exif.get_ifd(EXIF_IFD)
    exif_ifd[DATE_TIME_ORIGINAL], exif_ifd[OFFSET_TIME_ORIGINAL] = "2021:03:04 10:11:12", "+01:00"
    exif_ifd[LENS_MODEL] = "Pixel 6 back camera 6.81mm f/1.85"
    gps = exif.get_ifd(GPS_IFD)
    gps[LAT_REF], gps[LAT], gps[LON_REF], gps[LON] = "S", dms(33, 52, 1.5), "E", dms(151, 12, 30)
    gps[ALT_REF], gps[ALT] = 0, rational(5853, 100)
    for tag, value in ifd0.items():
        exif[int(tag.removeprefix("tag_"), 16)] = value
    return exif


def photo_with(exif: Image.Exif | bytes, format: str = "JPEG", seed: int = 1) -> PhotoFacts | None:
    """A generated picture (no real photo) saved in ``format`` with ``exif``, reopened, and read."""
    stream = encoded(picture(seed, 96, 64), format, exif=exif)
    with Image.open(stream, formats=IMAGE_FORMATS) as image:
        return photo_facts(image)


def raw_ifd0(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """An EXIF block whose IFD0 holds (tag, type, count, data) exactly as given, whatever the tag should hold."""
    table = struct.pack(">H", len(entries))
    blob = b""
    data_start = 8 + 2 + 12 * len(entries) + 4
    for tag, kind, count, data in entries:
        if len(data) <= 4:
            table += struct.pack(">HHI", tag, kind, count) + data.ljust(4, b"\0")
        else:
            table += struct.pack(">HHII", tag, kind, count, data_start + len(blob))
            blob += data
    return b"Exif\0\0MM\0*" + struct.pack(">I", 8) + table + struct.pack(">I", 0) + blob


def facts(**values: object) -> PhotoFacts:
    fields = dict.fromkeys(PhotoFacts.__dataclass_fields__)
    fields.update(values)
    return PhotoFacts(**fields)


def iphone(product_type: str | None, model: str | None = None, serial: str | None = None) -> DeviceFacts:
    return DeviceFacts("ios", "Info.plist", make="Apple", model=model, product_type=product_type, serial=serial)


def android(model: str | None, make: str | None = "samsung", serial: str | None = None) -> DeviceFacts:
    return DeviceFacts("android", "system/build.prop", make=make, model=model, serial=serial)


# --------------------------------------------------------------------------- real samples


@pytest.mark.parametrize("path", GPS_SAMPLES, ids=lambda p: p.name)
def test_gps_position_of_the_nikon_samples_agrees_with_exif_py(path: Path) -> None:
    expected = DUMP[f"jpg/gps/{path.name}"]
    result = facts_of(path)
    sign_lat = 1 if expected["GPS GPSLatitudeRef"] == "N" else -1
    sign_lon = 1 if expected["GPS GPSLongitudeRef"] == "E" else -1
    assert result.gps_lat == pytest.approx(sign_lat * dump_degrees(expected["GPS GPSLatitude"]), abs=1e-9)
    assert result.gps_lon == pytest.approx(sign_lon * dump_degrees(expected["GPS GPSLongitude"]), abs=1e-9)
    assert (result.make, result.model) == (expected["Image Make"], expected["Image Model"])
    assert result.taken_local == expected["EXIF DateTimeOriginal"]


def test_dscn0010_is_at_the_published_position() -> None:
    result = facts_of(SAMPLES / "jpg" / "gps" / "DSCN0010.jpg")
    assert result.gps_lat == pytest.approx(43.4674483, abs=1e-7)
    assert result.gps_lon == pytest.approx(11.8851267, abs=1e-7)
    assert result.gps_alt is None  # the altitude reference is there, the altitude is not


def test_a_gps_clock_a_day_away_from_the_camera_clock_gives_no_utc_time() -> None:
    # Camera 2008:10:22 16:28:39 local, GPS fix 2008:10:23 14:27:07 UTC: 22 hours apart, no time zone is that.
    result = facts_of(SAMPLES / "jpg" / "gps" / "DSCN0010.jpg")
    assert result.taken_local == "2008:10:22 16:28:39"
    assert result.taken_at is None


def test_iphone_heic_gives_camera_position_and_utc_time() -> None:
    result = facts_of(SAMPLES / "heic" / "IMG_5195.HEIC")
    assert (result.make, result.model, result.software) == ("Apple", "iPhone 11 Pro Max", "14.4.2")
    assert result.lens == "iPhone 11 Pro Max back triple camera 4.25mm f/1.8"
    assert result.gps_lat == pytest.approx(39 + 3 / 60 + 4.84 / 3600, abs=1e-9)  # 39°3'4.84"N
    assert result.gps_lon == pytest.approx(-(94 + 17 / 60 + 19.58 / 3600), abs=1e-9)  # 94°17'19.58"W
    assert result.gps_alt == pytest.approx(260.56, abs=0.01)
    assert result.taken_local == "2021:04:11 15:47:53"
    # OffsetTimeOriginal -05:00, SubSecTimeOriginal 054
    assert result.taken_at == pytest.approx(utc("2021-04-11 20:47:53") + 0.054, abs=1e-6)
    assert result.serial is None and result.unique_id is None


@pytest.mark.parametrize("name", ["jpg/Canon_40D.jpg", "jpg/Nikon_D70.jpg", "jpg/corrupted.jpg",
                                  "jpg/tests/45-gps_ifd.jpg"])
def test_camera_software_and_time_as_written_agree_with_exif_py(name: str) -> None:
    expected = DUMP[name]
    result = facts_of(SAMPLES / name)
    assert result.make == expected["Image Make"]
    assert result.model == expected["Image Model"]
    assert result.software == expected["Image Software"]
    assert result.taken_local == expected["EXIF DateTimeOriginal"]
    assert result.taken_at is None  # no offset, no GPS clock: local time only
    assert (result.gps_lat, result.gps_lon) == (None, None)


def test_padding_spaces_of_olympus_strings_are_trimmed() -> None:
    result = facts_of(SAMPLES / "jpg" / "corrupted.jpg")  # written as 'OLYMPUS IMAGING CORP.  ', 'u1020,S1020     '
    assert (result.make, result.model, result.software) == ("OLYMPUS IMAGING CORP.", "u1020,S1020", "Version 1.0")


@pytest.mark.parametrize("path", ORIENTATION_SAMPLES, ids=lambda p: p.name)
def test_orientation_samples_give_the_orientation_in_their_name(path: Path) -> None:
    assert facts_of(path).orientation == int(re.search(r"_(\d)\.jpg$", path.name)[1])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", INVALID_JPEGS, ids=lambda p: p.name)
def test_broken_jpegs_return_promptly_without_raising(path: Path) -> None:
    started = time.monotonic()
    assert facts_of(path) is None  # exif-py: "No EXIF information found"; Pillow's XMP orientation is not EXIF
    assert time.monotonic() - started < 5


def test_the_broken_jpeg_samples_are_there() -> None:
    assert len(INVALID_JPEGS) >= 5


def test_exif_without_any_of_the_facts_gives_none() -> None:
    assert DUMP["jpg/Reconyx_HC500_Hyperfire.jpg"]  # it has EXIF, just no camera, time, place or orientation
    assert facts_of(SAMPLES / "jpg" / "Reconyx_HC500_Hyperfire.jpg") is None


def test_exif_after_an_xmp_segment_is_still_read() -> None:
    # exif-py's dump says "No EXIF information found": it stops at the XMP APP1 that comes first.
    result = facts_of(SAMPLES / "jpg" / "xmp" / "no_exif.jpg")
    assert result.software == "Adobe Photoshop CC (Macintosh)"
    assert result.make is None and result.model is None


def test_heif_with_orientation_only() -> None:
    assert facts_of(SAMPLES / "heic" / "samplefilehub.heif") == facts(orientation=1)


# --------------------------------------------------------------------------- generated pictures


# pillow-heif writes the EXIF orientation as a HEIF rotation too, and reads it back as 1 (the file still says 6).
@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "HEIF", "AVIF"])
def test_every_photo_container_gives_the_same_facts(format: str) -> None:
    result = photo_with(camera_exif(), format)
    assert result == PhotoFacts(
        make="Google", model="Pixel 6", serial=None, lens="Pixel 6 back camera 6.81mm f/1.85",
        software="SQ3A.220705.004", taken_at=utc("2021-03-04 09:11:12"), taken_local="2021:03:04 10:11:12",
        gps_lat=pytest.approx(-(33 + 52 / 60 + 1.5 / 3600)), gps_lon=pytest.approx(151 + 12 / 60 + 30 / 3600),
        gps_alt=pytest.approx(58.53), orientation=6, unique_id=None)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_orientation_is_what_its_exif_says_not_the_one_after_decoding(orientation: int) -> None:
    assert photo_with(camera_exif(tag_0112=orientation), "HEIF").orientation == orientation


def test_real_iphone_heic_states_no_orientation() -> None:
    # IMG_5195's EXIF has no Orientation tag (its 12 IFD0 tags listed by Pillow from the raw block); its irot is 0
    assert facts_of(SAMPLES / "heic" / "IMG_5195.HEIC").orientation is None


def test_tiff_tags_are_read_as_exif() -> None:
    result = photo_with(camera_exif(), "TIFF")  # Pillow's TIFF writer keeps IFD0 only
    assert (result.make, result.model, result.software, result.orientation) == ("Google", "Pixel 6",
                                                                                 "SQ3A.220705.004", 6)


def test_a_tiff_closed_before_its_tags_were_read_gives_none(tmp_path: Path) -> None:
    path = tmp_path / "closed.tif"
    picture(3, 32, 24).save(path, exif=camera_exif())
    image = Image.open(path)
    image.close()
    assert photo_facts(image) is None


def test_a_picture_without_exif_gives_none() -> None:
    assert photo_with(b"", "PNG") is None
    stream = encoded(picture(2, 64, 48), "JPEG", xmp=b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>')
    with Image.open(stream) as image:
        assert image.getexif().get(ORIENTATION) == 6  # Pillow folds XMP into its EXIF view
        assert photo_facts(image) is None


def test_zero_denominator_rationals_lose_only_their_own_value() -> None:
    exif = camera_exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[LAT] = (rational(33, 1), rational(52, 0), rational(0, 0))
    gps[ALT] = rational(5853, 0)
    result = photo_with(exif)
    assert (result.gps_lat, result.gps_lon, result.gps_alt) == (None, None, None)
    assert (result.make, result.model, result.taken_local, result.orientation) == ("Google", "Pixel 6",
                                                                                   "2021:03:04 10:11:12", 6)


@pytest.mark.parametrize("latitude, longitude", [
    ((500, 0, 0), (10, 0, 0)),  # lat 500
    ((90, 0, 1), (10, 0, 0)),  # just over the pole
    ((10, 0, 0), (180, 30, 0)),  # beyond the date line
    ((10, 75, 0), (10, 0, 0)),  # 75 minutes
    ((10, 0, 0), (10, 0, 61)),  # 61 seconds
])
def test_positions_off_the_globe_are_dropped(latitude: tuple[int, int, int], longitude: tuple[int, int, int]) -> None:
    exif = camera_exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[LAT], gps[LON] = dms(*latitude), dms(*longitude)
    result = photo_with(exif)
    assert (result.gps_lat, result.gps_lon) == (None, None)
    assert result.gps_alt == pytest.approx(58.53)


@pytest.mark.parametrize("latitude_ref, longitude_ref", [(None, "E"), ("S", None), ("X", "E"), ("S", "North"),
                                                         ("", "E")])
def test_a_missing_or_absurd_hemisphere_drops_the_position(latitude_ref: str | None, longitude_ref: str | None) -> None:
    exif = camera_exif()
    gps = exif.get_ifd(GPS_IFD)
    for tag, value in ((LAT_REF, latitude_ref), (LON_REF, longitude_ref)):
        if value is None:
            del gps[tag]
        else:
            gps[tag] = value
    result = photo_with(exif)
    assert (result.gps_lat, result.gps_lon) == (None, None)


def test_lower_case_hemispheres_are_read() -> None:
    exif = camera_exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[LAT_REF], gps[LON_REF] = "n", "w"
    result = photo_with(exif)
    assert result.gps_lat > 0 > result.gps_lon


@pytest.mark.parametrize("reference, metres, expected", [(1, rational(40, 1), -40.0), (None, rational(12, 1), 12.0),
                                                         (7, rational(12, 1), None),
                                                         (0, rational(9_000_000, 1), None),
                                                         (1, rational(20_000, 1), None)])
def test_altitude_is_signed_by_its_reference_and_kept_on_earth(reference: int | None, metres: IFDRational,
                                                                expected: float | None) -> None:
    exif = camera_exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[ALT] = metres
    if reference is None:
        del gps[ALT_REF]
    else:
        gps[ALT_REF] = reference
    assert photo_with(exif).gps_alt == expected


def test_a_ten_thousand_character_model_is_cut_and_marked() -> None:
    result = photo_with(camera_exif(tag_0110="x" * 10_000))
    assert len(result.model) == MAX_TEXT
    assert result.model.endswith("…")
    assert result.make == "Google"


def test_text_stops_at_its_first_nul() -> None:
    result = photo_with(camera_exif(tag_010F=b"Apple\0Google\0\0", tag_0110=b"\0iPhone 7 Plus"))
    assert result.make == "Apple"
    assert result.model is None  # nothing before the NUL


def test_control_and_direction_characters_never_reach_a_report() -> None:
    # U+202E RIGHT-TO-LEFT OVERRIDE would show "SM-G960F" reversed; ESC starts a terminal escape sequence.
    result = photo_with(camera_exif(tag_010F="sam\x1b[31msung", tag_0110="SM-\u202eG960F".encode(),
                                    tag_0131="\t\r\nV1.0\x7f"))
    assert result.make == "sam [31msung"
    assert result.model == "SM- G960F"
    assert result.software == "V1.0"


def test_utf8_text_in_ascii_tags_is_decoded() -> None:
    assert photo_with(camera_exif(tag_0131="Öffentlich 1.0".encode())).software == "Öffentlich 1.0"


def test_text_of_only_spaces_or_controls_is_none() -> None:
    result = photo_with(camera_exif(tag_010F="     ", tag_0110="\x01\x02\x03"))
    assert (result.make, result.model) == (None, None)


def test_values_of_the_wrong_type_are_none() -> None:
    image = Image.new("RGB", (8, 8))
    image.info["exif"] = raw_ifd0([(MAKE, SHORT, 1, struct.pack(">H", 12345)),  # a number where text belongs
                                   (MODEL, ASCII, 8, b"Pixel 6\0"),
                                   (ORIENTATION, ASCII, 2, b"6\0")])  # text where a number belongs
    result = photo_facts(image)
    assert (result.make, result.model, result.orientation) == (None, "Pixel 6", None)


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_orientations_outside_1_to_8_are_none(orientation: int) -> None:
    assert photo_with(camera_exif(tag_0112=orientation)).orientation is None


@pytest.mark.parametrize("written", ["2021:02:30 10:11:12", "0000:00:00 00:00:00", "    :  :     :  :  ",
                                     "2021-03-04 10:11:12", "2021:03:04 24:00:00", "2021:03:04 10:11:12 and more"])
def test_impossible_or_misformatted_capture_times_are_none(written: str) -> None:
    exif = camera_exif()
    exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = written
    result = photo_with(exif)
    assert (result.taken_local, result.taken_at) == (None, None)
    assert result.model == "Pixel 6"


@pytest.mark.parametrize("offset", ["+25:00", "-13:00", "+01:75", "01:00", "+1:00", "Z"])
def test_an_impossible_offset_keeps_the_local_time_only(offset: str) -> None:
    exif = camera_exif()
    exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL] = offset  # and no GPS clock to fall back on
    result = photo_with(exif)
    assert result.taken_local == "2021:03:04 10:11:12"
    assert result.taken_at is None


@pytest.mark.parametrize("offset, expected", [("+05:45", "2021-03-04 04:26:12"), ("-09:30", "2021-03-04 19:41:12"),
                                              ("+14:00", "2021-03-03 20:11:12")])
def test_offset_time_original_gives_utc(offset: str, expected: str) -> None:
    exif = camera_exif()
    exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL] = offset
    assert photo_with(exif).taken_at == utc(expected)


def test_sub_second_time_is_added_to_utc() -> None:
    exif = camera_exif()
    exif.get_ifd(EXIF_IFD)[SUBSEC_TIME_ORIGINAL] = "25"
    assert photo_with(exif).taken_at == pytest.approx(utc("2021-03-04 09:11:12") + 0.25)


@pytest.mark.parametrize("gps_date, gps_time, expected", [
    ("2021:03:04", (9, 11, 40), utc("2021-03-04 09:11:12")),  # fix 28 s after the shutter: UTC+1
    ("2021:03:04", (14, 40, 0), utc("2021-03-04 14:41:12")),  # local 10:11, UTC 14:40: UTC-4:30 (Venezuela, 2015)
    ("2021:03:03", (20, 12, 0), utc("2021-03-03 20:11:12")),  # the day before in UTC: UTC+14
    ("2021:03:04", (9, 20, 0), None),  # 8 minutes off any quarter hour: the fix is not of this shot
    ("2021:03:05", (10, 11, 12), None),  # a day apart
    ("2021:13:04", (9, 11, 40), None),  # month 13
    ("2021:03:04", (25, 0, 0), None),  # hour 25
])
def test_the_gps_clock_gives_utc_when_no_offset_is_written(gps_date: str, gps_time: tuple[int, int, int],
                                                            expected: int | None) -> None:
    exif = camera_exif()
    del exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL]
    gps = exif.get_ifd(GPS_IFD)
    gps[GPS_DATE], gps[GPS_TIME] = gps_date, tuple(rational(part, 1) for part in gps_time)
    assert photo_with(exif).taken_at == expected


def test_a_gps_clock_with_zero_denominators_gives_no_utc_time() -> None:
    exif = camera_exif()
    del exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL]
    gps = exif.get_ifd(GPS_IFD)
    gps[GPS_DATE], gps[GPS_TIME] = "2021:03:04", (rational(9, 0), rational(11, 1), rational(40, 1))
    result = photo_with(exif)
    assert result.taken_at is None and result.gps_lat is not None


def test_body_serial_and_unique_id_are_read() -> None:
    exif = camera_exif()
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = "R5CN80ABCDE"
    exif.get_ifd(EXIF_IFD)[IMAGE_UNIQUE_ID] = "F12QSJA00SM F12QSKL01GM"
    result = photo_with(exif)
    assert (result.serial, result.unique_id) == ("R5CN80ABCDE", "F12QSJA00SM F12QSKL01GM")


def test_dng_camera_serial_is_the_fallback_and_zeros_are_no_serial() -> None:
    assert photo_with(camera_exif(tag_C62F="4031234")).serial == "4031234"
    exif = camera_exif(tag_C62F="4031234")
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = "0000000000"
    assert photo_with(exif).serial == "4031234"


def test_to_json_dict_leaves_out_what_is_unknown() -> None:
    assert facts(make="Apple", orientation=1).to_json_dict() == {"make": "Apple", "orientation": 1}


@pytest.mark.filterwarnings("ignore")
def test_damaged_exif_blocks_never_raise() -> None:
    """Flipped bytes and cut-off blocks of real phone and camera EXIF: every result is facts or None."""
    blocks = []
    for name in ("heic/IMG_5195.HEIC", "jpg/Canon_40D.jpg", "jpg/gps/DSCN0010.jpg"):
        with Image.open(SAMPLES / name, formats=IMAGE_FORMATS) as image:
            blocks.append(image.info["exif"])
    rng = random.Random(20240611)
    for _ in range(600):
        data = bytearray(rng.choice(blocks))
        if rng.random() < 0.2:
            data = data[:rng.randrange(6, len(data))]
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(6, min(len(data), 4096))] = rng.randrange(256)
        image = Image.new("RGB", (8, 8))
        image.info["exif"] = bytes(data)
        result = photo_facts(image)
        assert result is None or isinstance(result, PhotoFacts)


@settings(max_examples=150, deadline=None)
@given(make=st.binary(max_size=600), model=st.text(max_size=600))
def test_any_make_and_model_come_back_printable_and_bounded(make: bytes, model: str) -> None:
    image = Image.new("RGB", (8, 8))
    exif = camera_exif(tag_010F=make, tag_0110=model.encode("utf-8", "surrogatepass"))
    image.info["exif"] = exif.tobytes()
    result = photo_facts(image)
    for text in (result.make, result.model):
        if text is not None:
            assert 0 < len(text) <= MAX_TEXT and text == text.strip() and "\0" not in text
            assert not any(unicodedata.category(character)[0] == "C" for character in text)


# --------------------------------------------------------------------------- camera and device


IPHONE_7_PLUS_PHOTO = facts(make="Apple", model="iPhone 7 Plus")


@pytest.mark.parametrize("product_type", ["iPhone9,2", "iPhone9,4"])
def test_an_iphone_7_plus_photo_matches_both_iphone_7_plus_variants(product_type: str) -> None:
    assert camera_matches_device(IPHONE_7_PLUS_PHOTO, iphone(product_type))


@pytest.mark.parametrize("product_type", ["iPhone9,1", "iPhone9,3",  # iPhone 7 (CDMA and GSM), not the Plus
                                          "iPhone10,2", "iPhone10,5",  # iPhone 8 Plus
                                          "iPad7,5"])
def test_an_iphone_7_plus_photo_does_not_match_other_models(product_type: str) -> None:
    assert not camera_matches_device(IPHONE_7_PLUS_PHOTO, iphone(product_type))


def test_model_names_of_apple_product_types() -> None:
    assert model_names(iphone("iPhone9,3")) == {"iPhone 7"}
    assert model_names(iphone("iPhone9,4")) == {"iPhone 7 Plus"}
    assert model_names(iphone("iPhone3,1")) == {"iPhone 4"}
    assert model_names(iphone("iPhone17,5")) == {"iPhone 16e"}
    assert model_names(iphone("iPhone8,4")) == {"iPhone SE (1st generation)", "iPhone SE"}
    assert model_names(iphone("iPad13,18")) == {"iPad (10th generation)"}
    assert model_names(iphone("iPad16,3")) == {"iPad Pro 11-inch (M4)"}


def test_every_iphone_from_the_4_to_the_16_family_is_known() -> None:
    for product_type in ("iPhone3,1", "iPhone3,3", "iPhone4,1", "iPhone5,4", "iPhone6,2", "iPhone7,1", "iPhone8,2",
                         "iPhone10,6", "iPhone11,8", "iPhone12,8", "iPhone13,4", "iPhone14,6", "iPhone15,5",
                         "iPhone16,2", "iPhone17,1", "iPhone17,2", "iPhone17,3", "iPhone17,4"):
        names = model_names(iphone(product_type, model="fallback"))
        assert names and "fallback" not in names, product_type


def test_the_real_iphone_photo_matches_an_iphone_11_pro_max_only() -> None:
    photo = facts_of(SAMPLES / "heic" / "IMG_5195.HEIC")
    assert camera_matches_device(photo, iphone("iPhone12,5"))
    assert not camera_matches_device(photo, iphone("iPhone12,3"))  # iPhone 11 Pro


def test_iphone_model_is_compared_ignoring_case_only() -> None:
    assert camera_matches_device(facts(make="APPLE", model="IPHONE 7 PLUS"), iphone("iPhone9,4"))
    assert not camera_matches_device(facts(make="Apple", model="iPhone 7 Plus (GSM)"), iphone("iPhone9,4"))
    assert not camera_matches_device(facts(make="Apple", model="iPhone 7"), iphone("iPhone9,4"))
    assert not camera_matches_device(facts(make="Apple", model="iPhone  7 Plus"), iphone("iPhone9,4"))


def test_an_iphone_photo_must_say_apple() -> None:
    assert not camera_matches_device(facts(make=None, model="iPhone 7 Plus"), iphone("iPhone9,4"))
    assert not camera_matches_device(facts(make="Apple Inc. (fake)", model="iPhone 7 Plus"), iphone("iPhone9,4"))


def test_the_first_iphone_se_writes_its_launch_name() -> None:
    assert camera_matches_device(facts(make="Apple", model="iPhone SE"), iphone("iPhone8,4"))
    assert not camera_matches_device(facts(make="Apple", model="iPhone SE"), iphone("iPhone12,8"))
    assert camera_matches_device(facts(make="Apple", model="iPhone SE (2nd generation)"), iphone("iPhone12,8"))


def test_an_unknown_product_type_falls_back_to_the_recorded_model() -> None:
    photo = facts(make="Apple", model="iPhone 17 Pro")
    assert camera_matches_device(photo, iphone("iPhone18,1", model="iPhone 17 Pro"))
    assert not camera_matches_device(photo, iphone("iPhone18,1"))
    assert not camera_matches_device(photo, iphone(None))


def test_a_known_product_type_outranks_the_recorded_model() -> None:
    assert not camera_matches_device(IPHONE_7_PLUS_PHOTO, iphone("iPhone10,2", model="iPhone 7 Plus"))


GALAXY_S9_PHOTO = facts(make="samsung", model="SM-G960F")


def test_an_android_photo_matches_its_ro_product_model() -> None:
    assert camera_matches_device(GALAXY_S9_PHOTO, android("SM-G960F"))
    assert camera_matches_device(facts(make="SAMSUNG", model="sm-g960f"), android("SM-G960F"))
    assert model_names(android("SM-G960F")) == {"SM-G960F"}


def test_an_android_photo_of_a_sister_model_does_not_match() -> None:
    assert not camera_matches_device(GALAXY_S9_PHOTO, android("SM-G965F"))  # the S9+
    assert not camera_matches_device(GALAXY_S9_PHOTO, android("SM-G960"))
    assert not camera_matches_device(GALAXY_S9_PHOTO, android(None))


def test_an_android_make_must_agree_with_the_manufacturer_when_both_are_known() -> None:
    assert not camera_matches_device(facts(make="Google", model="SM-G960F"), android("SM-G960F"))
    assert camera_matches_device(facts(make=None, model="SM-G960F"), android("SM-G960F"))
    assert camera_matches_device(GALAXY_S9_PHOTO, android("SM-G960F", make=None))
    assert camera_matches_device(facts(make="LG Electronics", model="LM-G710"), android("LM-G710", make="LGE"))


def test_serials_must_agree_when_both_are_known() -> None:
    assert camera_matches_device(facts(make="samsung", model="SM-G960F", serial="R58K123"),
                                 android("SM-G960F", serial="r58k123"))
    assert not camera_matches_device(facts(make="samsung", model="SM-G960F", serial="R58K999"),
                                     android("SM-G960F", serial="R58K123"))
    assert camera_matches_device(GALAXY_S9_PHOTO, android("SM-G960F", serial="R58K123"))


def test_no_model_or_an_unknown_platform_never_matches() -> None:
    assert not camera_matches_device(facts(make="samsung"), android("SM-G960F"))
    assert not camera_matches_device(GALAXY_S9_PHOTO, DeviceFacts("blackberry", "x", make="samsung", model="SM-G960F"))
    assert model_names(DeviceFacts("blackberry", "x", model="SM-G960F")) == frozenset()


def test_hostile_device_strings_are_cleaned_before_comparing() -> None:
    assert camera_matches_device(GALAXY_S9_PHOTO, android("SM-G960F\0junk", make=" samsung\n"))
    assert not camera_matches_device(facts(make="samsung", model="SM-G960F"), android("\0SM-G960F"))
