"""What a photo's EXIF says about the camera that took it, when, and where; and whether a seized phone could be it.

A picture whose camera matches the exhibit's own phone may be first-generation
material, the most urgent lead there is, so the facts are read from the same
Pillow image that is hashed (JPEG, TIFF, PNG eXIf, WebP, HEIC/AVIF), and
nothing more is parsed: IFD0, the Exif IFD and the GPS IFD, no maker notes.

Every byte is suspect-controlled.  Text is cut at its first NUL, control and
formatting characters become spaces (no bidi overrides reach a report), and
more than ``MAX_TEXT`` characters are cut with an ellipsis.  Numbers must be
finite (a zero-denominator rational is NaN to Pillow), dates must be real
dates, coordinates must be on the globe with a hemisphere given.  Anything
else becomes None on its own: one bad tag never loses the others, and no
value ever raises.
"""

from __future__ import annotations

import calendar
import math
import numbers
import re
import struct
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from PIL import Image

from fieldlab.device import DeviceFacts

MAX_TEXT = 200  # characters kept of any EXIF string; real makes, models and serials are far shorter

_IFD0_MAKE, _IFD0_MODEL, _IFD0_ORIENTATION, _IFD0_SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0131
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATE_TIME_ORIGINAL, _OFFSET_TIME_ORIGINAL, _SUBSEC_TIME_ORIGINAL = 0x9003, 0x9011, 0x9291
_IMAGE_UNIQUE_ID, _LENS_MODEL = 0xA420, 0xA434
# Serial numbers without maker notes, in order of trust: EXIF 2.3 BodySerialNumber, DNG CameraSerialNumber,
# and the SerialNumber Adobe Camera Raw copies out of the maker note.  Writers put them in either IFD.
_SERIAL_TAGS = (0xA431, 0xC62F, 0xFDE9)
_GPS_LATITUDE_REF, _GPS_LATITUDE, _GPS_LONGITUDE_REF, _GPS_LONGITUDE = 1, 2, 3, 4
_GPS_ALTITUDE_REF, _GPS_ALTITUDE, _GPS_TIME_STAMP, _GPS_DATE_STAMP = 5, 6, 7, 29

_DEEPEST, _HIGHEST = -11_000.0, 100_000.0  # metres: the Challenger Deep; the edge of space
_EARLIEST_OFFSET, _LATEST_OFFSET = -12 * 3600, 14 * 3600  # the world's time zones, in seconds east of UTC
_OFFSET_GRID = 15 * 60  # every time zone in use is a whole number of quarter hours
_GPS_CLOCK_SLACK = 120  # seconds between shutter and GPS fix beyond which the fix says nothing about the zone

_DATE_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_DATE = re.compile(r"(\d{4}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
_SUBSECONDS = re.compile(r"\d{1,9}")

# What Pillow raises on a malformed EXIF block or IFD, read lazily and tag by tag; its asserts guard file state.
_PILLOW_FAILURES = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ArithmeticError,
                    AssertionError, struct.error)


@dataclass(frozen=True)
class PhotoFacts:
    make: str | None
    model: str | None
    serial: str | None  # body serial where the camera writes one outside its maker note; phones rarely do
    lens: str | None
    software: str | None
    taken_at: float | None  # UTC seconds; only when the photo says its time zone, itself or through GPS time
    taken_local: str | None  # DateTimeOriginal exactly as written, "2021:03:04 10:11:12": the camera's clock
    gps_lat: float | None  # degrees north; set together with gps_lon or not at all
    gps_lon: float | None  # degrees east
    gps_alt: float | None  # metres above sea level
    orientation: int | None  # 1-8, EXIF's numbering
    unique_id: str | None  # ImageUniqueID, which some phones write for every shot

    def to_json_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


def photo_facts(image: Image.Image) -> PhotoFacts | None:
    """The EXIF facts of an opened picture; None when it carries no EXIF or none of these facts.

    Call it while the image is open (a TIFF's tags are read from its file);
    no pixels are decoded.  A picture with XMP but no EXIF block gives None,
    although Pillow shows the XMP orientation as if it were EXIF.
    """
    if not _carries_exif(image):
        return None
    try:
        ifd0 = image.getexif()  # IFD0's tags, and the way to the Exif and GPS IFDs
    except _PILLOW_FAILURES:
        return None
    exif_ifd = _ifd(ifd0, _EXIF_IFD)
    gps = _ifd(ifd0, _GPS_IFD)
    taken_local, local_seconds = _date_time(_tag(exif_ifd, _DATE_TIME_ORIGINAL))
    latitude = _coordinate(_tag(gps, _GPS_LATITUDE), _tag(gps, _GPS_LATITUDE_REF), "N", "S", 90.0)
    longitude = _coordinate(_tag(gps, _GPS_LONGITUDE), _tag(gps, _GPS_LONGITUDE_REF), "E", "W", 180.0)
    if latitude is None or longitude is None:  # half a position would be plotted somewhere wrong
        latitude = longitude = None
    facts = PhotoFacts(
        make=_text(_tag(ifd0, _IFD0_MAKE)),
        model=_text(_tag(ifd0, _IFD0_MODEL)),
        serial=_serial(ifd0, exif_ifd),
        lens=_text(_tag(exif_ifd, _LENS_MODEL)),
        software=_text(_tag(ifd0, _IFD0_SOFTWARE)),
        taken_at=_taken_at(local_seconds, exif_ifd, gps),
        taken_local=taken_local,
        gps_lat=latitude,
        gps_lon=longitude,
        gps_alt=_altitude(_tag(gps, _GPS_ALTITUDE), _tag(gps, _GPS_ALTITUDE_REF)),
        orientation=_orientation(_stored_orientation(image, ifd0)),
        unique_id=_text(_tag(exif_ifd, _IMAGE_UNIQUE_ID)),
    )
    if all(value is None for value in vars(facts).values()):
        return None
    return facts


def camera_matches_device(facts: PhotoFacts, device: DeviceFacts) -> bool:
    """Whether the photo's EXIF names the same camera as the seized device: a lead, never proof.

    A match escalates a case, so the rule is strict and a doubt is a no:

    - the EXIF Model must equal one of ``model_names(device)``, ignoring case
      only (no partial or fuzzy matching);
    - iOS: the EXIF Make must be "Apple";
    - Android: when both the EXIF Make and the device's manufacturer are
      known, they must name the same maker ("LGE" and "LG Electronics" are
      the one spelling difference allowed);
    - when both carry a serial number, the serials must be equal: a
      different body of the same model is not this device;
    - no Model, an unknown platform, or a device with no model names: no match.

    What a match means: the photo claims to come from a camera of this
    model.  Every other phone of the model matches too (a friend's, the
    sender's), and EXIF is trivially edited; the examiner weighs it with
    where the file lies (``DCIM/``), its time against the device's
    history, and the serial where a camera writes one.
    """
    if facts.model is None:
        return False
    names = {name.casefold() for name in model_names(device)}
    if facts.model.casefold() not in names:
        return False
    if device.platform == "ios":
        if facts.make is None or facts.make.casefold() != "apple":
            return False
    elif device.platform == "android":
        manufacturer = _text(device.make)
        if facts.make is not None and manufacturer is not None and not _same_maker(facts.make, manufacturer):
            return False
    else:
        return False
    device_serial = _text(device.serial)
    if facts.serial is not None and device_serial is not None:
        return facts.serial.casefold() == device_serial.casefold()
    return True


def model_names(device: DeviceFacts) -> frozenset[str]:
    """The Model strings EXIF would carry for photos this device's camera took; empty when unknown.

    Android phones write ``ro.product.model`` (``DeviceFacts.model``).  Apple
    devices write a marketing name, looked up from the product type
    ("iPhone9,4" -> "iPhone 7 Plus"; "iPhone9,3" is an iPhone 7); a product
    type newer than the table falls back to the model the extraction recorded.
    """
    if device.platform == "android":
        model = _text(device.model)
        return frozenset({model}) if model else frozenset()
    if device.platform == "ios":
        product_type = _text(device.product_type)
        known = _APPLE_NAMES.get(product_type.casefold()) if product_type else None
        if known:
            return known
        model = _text(device.model)
        return frozenset({model}) if model else frozenset()
    return frozenset()


# --------------------------------------------------------------------------- reading Pillow's EXIF


def _carries_exif(image: Image.Image) -> bool:
    """An EXIF block (JPEG APP1, PNG eXIf or its text form, WebP/HEIF/AVIF Exif) or TIFF tags, where EXIF lives."""
    return bool(image.info.get("exif")) or "Raw profile type exif" in image.info or hasattr(image, "tag_v2")


def _ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(tag)
    except _PILLOW_FAILURES:
        return {}


def _tag(ifd: Mapping[int, Any], tag: int) -> Any:
    """One tag's value, or None when it is missing or Pillow cannot decode it (IFD0 tags decode on first access)."""
    try:
        return ifd.get(tag)
    except _PILLOW_FAILURES:
        return None


# --------------------------------------------------------------------------- validating values


def _text(value: object) -> str | None:
    """A suspect's string made safe to show and compare; None when nothing printable is left."""
    if isinstance(value, bytes):
        raw = value[:4 * MAX_TEXT].split(b"\0", 1)[0]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    elif isinstance(value, str):
        text = value[:4 * MAX_TEXT].split("\0", 1)[0]
        try:  # Pillow decodes EXIF ASCII as Latin-1; phones write UTF-8 into it
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
    else:
        return None
    text = "".join(" " if _unprintable(character) else character for character in text).strip()
    if not text:
        return None
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1].rstrip() + "…"


def _unprintable(character: str) -> bool:
    category = unicodedata.category(character)
    return category[0] == "C" or category in ("Zl", "Zp")


def _number(value: object) -> float | None:
    """A finite real number (int, float, Pillow's IFDRational); None for NaN, infinities and anything else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        result = float(value)
    except (ArithmeticError, ValueError, TypeError):
        return None
    return result if math.isfinite(result) else None


def _serial(ifd0: Mapping[int, Any], exif_ifd: Mapping[int, Any]) -> str | None:
    for tag in _SERIAL_TAGS:
        for ifd in (exif_ifd, ifd0):
            serial = _text(_tag(ifd, tag))
            if serial is not None and serial.strip("0 ") != "":  # "0000000000" is a placeholder, not a body
                return serial
    return None


def _stored_orientation(image: Image.Image, ifd0: Mapping[int, Any]) -> Any:
    """The Orientation tag as the file holds it.

    pillow-heif decodes a HEIF/AVIF as displayed (its irot/imir transforms applied) and so rewrites the EXIF tag
    to 1, keeping the file's value in ``info["original_orientation"]``: a 1 there with an original beside it is the
    rewrite, and the original is what the file says.  (When the EXIF says 1 and the XMP another value, pillow-heif
    reports the XMP's: the two cannot be told apart after its rewrite.)
    """
    tag = _tag(ifd0, _IFD0_ORIENTATION)
    original = image.info.get("original_orientation")
    return original if tag == 1 and original is not None else tag


def _orientation(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8:
        return value
    return None


def _date_time(value: object) -> tuple[str | None, int | None]:
    """DateTimeOriginal as written and as seconds since 1970 read as if UTC; (None, None) unless a real time."""
    text = _text(value)
    match = _DATE_TIME.fullmatch(text) if text else None
    if match is None:
        return None, None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None, None
    return text, calendar.timegm(moment.timetuple())


def _taken_at(local_seconds: int | None, exif_ifd: Mapping[int, Any], gps: Mapping[int, Any]) -> float | None:
    """UTC seconds of the shutter: the local time less its offset, written or inferred from the GPS clock."""
    if local_seconds is None:
        return None
    offset = _offset(_tag(exif_ifd, _OFFSET_TIME_ORIGINAL))
    if offset is None:
        offset = _offset_from_gps(local_seconds, gps)
    if offset is None:
        return None
    return local_seconds - offset + _subseconds(_tag(exif_ifd, _SUBSEC_TIME_ORIGINAL))


def _offset(value: object) -> int | None:
    """OffsetTimeOriginal ("+01:00") in seconds east of UTC; None unless a real time zone offset."""
    text = _text(value)
    match = _OFFSET.fullmatch(text) if text else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(minutes) >= 60:
        return None
    seconds = (int(hours) * 3600 + int(minutes) * 60) * (-1 if sign == "-" else 1)
    return seconds if _EARLIEST_OFFSET <= seconds <= _LATEST_OFFSET else None


def _offset_from_gps(local_seconds: int, gps: Mapping[int, Any]) -> int | None:
    """The camera clock's zone, when its gap to the GPS fix's UTC time is a whole time zone, give or take 2 min.

    The fix can be older than the shutter and the camera clock can drift, so
    the gap is rounded to the quarter-hour grid of real zones; a gap far from
    that grid, or outside -12 h to +14 h (a fix from another day), proves nothing.
    """
    utc = _gps_seconds(_tag(gps, _GPS_DATE_STAMP), _tag(gps, _GPS_TIME_STAMP))
    if utc is None:
        return None
    gap = local_seconds - utc
    offset = round(gap / _OFFSET_GRID) * _OFFSET_GRID
    if abs(gap - offset) > _GPS_CLOCK_SLACK or not _EARLIEST_OFFSET <= offset <= _LATEST_OFFSET:
        return None
    return offset


def _gps_seconds(date_stamp: object, time_stamp: object) -> float | None:
    """GPSDateStamp + GPSTimeStamp as UTC seconds; None unless both make a real moment."""
    text = _text(date_stamp)
    match = _DATE.fullmatch(text) if text else None
    if match is None or not isinstance(time_stamp, tuple) or len(time_stamp) != 3:
        return None
    try:
        day = date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
    hours, minutes, seconds = (_number(part) for part in time_stamp)
    if hours is None or minutes is None or seconds is None:
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 61):  # 60: a leap second
        return None
    return calendar.timegm(day.timetuple()) + hours * 3600 + minutes * 60 + seconds


def _subseconds(value: object) -> float:
    """SubSecTimeOriginal ("054" = 0.054 s); 0 when absent or not digits."""
    text = _text(value)
    if text is None or not _SUBSECONDS.fullmatch(text):
        return 0.0
    return int(text) / 10 ** len(text)


def _coordinate(value: object, reference: object, positive: str, negative: str, limit: float) -> float | None:
    """Degrees, minutes, seconds and a hemisphere letter as signed degrees; None when any part is off the globe."""
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    degrees, minutes, seconds = (_number(part) for part in value)
    if degrees is None or minutes is None or seconds is None:
        return None
    if degrees < 0 or not 0 <= minutes <= 60 or not 0 <= seconds <= 60:  # 60: writers that round 59.9996
        return None
    magnitude = degrees + minutes / 60 + seconds / 3600
    if magnitude > limit:
        return None
    hemisphere = _text(reference)
    hemisphere = hemisphere.upper() if hemisphere else None
    if hemisphere == positive:
        return magnitude
    if hemisphere == negative:
        return -magnitude
    return None  # no hemisphere: the sign, and so the continent, is unknown


def _altitude(value: object, reference: object) -> float | None:
    """GPSAltitude signed by GPSAltitudeRef (0 or absent: above sea level, 1: below)."""
    metres = _number(value)
    if metres is None or metres < 0:
        return None
    below = _altitude_reference(reference)
    if below is None:
        return None
    altitude = -metres if below else metres
    return altitude if _DEEPEST <= altitude <= _HIGHEST else None


def _altitude_reference(value: object) -> bool | None:
    """True below sea level, False above; None for any other reference (EXIF 3.0's ellipsoidal heights included)."""
    if value is None:
        return False
    if isinstance(value, bytes) and len(value) == 1:
        value = value[0]
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value == 1
    return None


# --------------------------------------------------------------------------- matching a camera to a device


# ro.product.manufacturer and the EXIF Make differ in spelling for a few makers; compared without case or
# punctuation, these are the pairs known to name the same company.
_MAKER_ALIASES = frozenset({frozenset({"lge", "lgelectronics"})})


def _same_maker(exif_make: str, manufacturer: str) -> bool:
    a, b = (re.sub(r"[\W_]+", "", name.casefold()) for name in (exif_make, manufacturer))
    return a == b or frozenset({a, b}) in _MAKER_ALIASES


# Apple product types and the marketing names their cameras write as the EXIF Model.  Names as Apple's
# "Identify your iPhone model" (support.apple.com/en-us/108044) and "Identify your iPad model"
# (support.apple.com/en-us/108043) give them and Xcode's device database spells them; identifiers as the
# community lists give them (The Apple Wiki, theapplewiki.com/wiki/Models; Adam Wolf's list,
# gist.github.com/adamawolf/3048717).  Devices whose camera wrote a different name at launch, before Apple
# renamed them, carry it too: the iPhone SE (1st generation) wrote "iPhone SE", and the iPad (3rd
# generation) wrote "iPad" (Apple's own published samples, ExifTool "Camera Model Name: iPad").  Other early
# iPads may also have written bare family names ("iPad", "iPad mini"); unconfirmed, so left out: a miss,
# never a false match.
_APPLE_MODELS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("iPhone 4",): ("iPhone3,1", "iPhone3,2", "iPhone3,3"),
    ("iPhone 4S",): ("iPhone4,1",),
    ("iPhone 5",): ("iPhone5,1", "iPhone5,2"),
    ("iPhone 5c",): ("iPhone5,3", "iPhone5,4"),
    ("iPhone 5s",): ("iPhone6,1", "iPhone6,2"),
    ("iPhone 6",): ("iPhone7,2",),
    ("iPhone 6 Plus",): ("iPhone7,1",),
    ("iPhone 6s",): ("iPhone8,1",),
    ("iPhone 6s Plus",): ("iPhone8,2",),
    ("iPhone SE (1st generation)", "iPhone SE"): ("iPhone8,4",),
    ("iPhone 7",): ("iPhone9,1", "iPhone9,3"),
    ("iPhone 7 Plus",): ("iPhone9,2", "iPhone9,4"),
    ("iPhone 8",): ("iPhone10,1", "iPhone10,4"),
    ("iPhone 8 Plus",): ("iPhone10,2", "iPhone10,5"),
    ("iPhone X",): ("iPhone10,3", "iPhone10,6"),
    ("iPhone XS",): ("iPhone11,2",),
    ("iPhone XS Max",): ("iPhone11,4", "iPhone11,6"),
    ("iPhone XR",): ("iPhone11,8",),
    ("iPhone 11",): ("iPhone12,1",),
    ("iPhone 11 Pro",): ("iPhone12,3",),
    ("iPhone 11 Pro Max",): ("iPhone12,5",),
    ("iPhone SE (2nd generation)",): ("iPhone12,8",),
    ("iPhone 12 mini",): ("iPhone13,1",),
    ("iPhone 12",): ("iPhone13,2",),
    ("iPhone 12 Pro",): ("iPhone13,3",),
    ("iPhone 12 Pro Max",): ("iPhone13,4",),
    ("iPhone 13 Pro",): ("iPhone14,2",),
    ("iPhone 13 Pro Max",): ("iPhone14,3",),
    ("iPhone 13 mini",): ("iPhone14,4",),
    ("iPhone 13",): ("iPhone14,5",),
    ("iPhone SE (3rd generation)",): ("iPhone14,6",),
    ("iPhone 14",): ("iPhone14,7",),
    ("iPhone 14 Plus",): ("iPhone14,8",),
    ("iPhone 14 Pro",): ("iPhone15,2",),
    ("iPhone 14 Pro Max",): ("iPhone15,3",),
    ("iPhone 15",): ("iPhone15,4",),
    ("iPhone 15 Plus",): ("iPhone15,5",),
    ("iPhone 15 Pro",): ("iPhone16,1",),
    ("iPhone 15 Pro Max",): ("iPhone16,2",),
    ("iPhone 16 Pro",): ("iPhone17,1",),
    ("iPhone 16 Pro Max",): ("iPhone17,2",),
    ("iPhone 16",): ("iPhone17,3",),
    ("iPhone 16 Plus",): ("iPhone17,4",),
    ("iPhone 16e",): ("iPhone17,5",),
    ("iPad 2",): ("iPad2,1", "iPad2,2", "iPad2,3", "iPad2,4"),
    ("iPad (3rd generation)", "iPad"): ("iPad3,1", "iPad3,2", "iPad3,3"),
    ("iPad (4th generation)",): ("iPad3,4", "iPad3,5", "iPad3,6"),
    ("iPad (5th generation)",): ("iPad6,11", "iPad6,12"),
    ("iPad (6th generation)",): ("iPad7,5", "iPad7,6"),
    ("iPad (7th generation)",): ("iPad7,11", "iPad7,12"),
    ("iPad (8th generation)",): ("iPad11,6", "iPad11,7"),
    ("iPad (9th generation)",): ("iPad12,1", "iPad12,2"),
    ("iPad (10th generation)",): ("iPad13,18", "iPad13,19"),
    ("iPad (A16)",): ("iPad15,7", "iPad15,8"),
    ("iPad mini",): ("iPad2,5", "iPad2,6", "iPad2,7"),
    ("iPad mini 2",): ("iPad4,4", "iPad4,5", "iPad4,6"),
    ("iPad mini 3",): ("iPad4,7", "iPad4,8", "iPad4,9"),
    ("iPad mini 4",): ("iPad5,1", "iPad5,2"),
    ("iPad mini (5th generation)",): ("iPad11,1", "iPad11,2"),
    ("iPad mini (6th generation)",): ("iPad14,1", "iPad14,2"),
    ("iPad mini (A17 Pro)",): ("iPad16,1", "iPad16,2"),
    ("iPad Air",): ("iPad4,1", "iPad4,2", "iPad4,3"),
    ("iPad Air 2",): ("iPad5,3", "iPad5,4"),
    ("iPad Air (3rd generation)",): ("iPad11,3", "iPad11,4"),
    ("iPad Air (4th generation)",): ("iPad13,1", "iPad13,2"),
    ("iPad Air (5th generation)",): ("iPad13,16", "iPad13,17"),
    ("iPad Air 11-inch (M2)",): ("iPad14,8", "iPad14,9"),
    ("iPad Air 13-inch (M2)",): ("iPad14,10", "iPad14,11"),
    ("iPad Air 11-inch (M3)",): ("iPad15,3", "iPad15,4"),
    ("iPad Air 13-inch (M3)",): ("iPad15,5", "iPad15,6"),
    ("iPad Pro (9.7-inch)",): ("iPad6,3", "iPad6,4"),
    ("iPad Pro (10.5-inch)",): ("iPad7,3", "iPad7,4"),
    ("iPad Pro (12.9-inch)",): ("iPad6,7", "iPad6,8"),
    ("iPad Pro (12.9-inch) (2nd generation)",): ("iPad7,1", "iPad7,2"),
    ("iPad Pro (12.9-inch) (3rd generation)",): ("iPad8,5", "iPad8,6", "iPad8,7", "iPad8,8"),
    ("iPad Pro (12.9-inch) (4th generation)",): ("iPad8,11", "iPad8,12"),
    ("iPad Pro (12.9-inch) (5th generation)",): ("iPad13,8", "iPad13,9", "iPad13,10", "iPad13,11"),
    ("iPad Pro (12.9-inch) (6th generation)",): ("iPad14,5", "iPad14,6"),
    ("iPad Pro (11-inch)",): ("iPad8,1", "iPad8,2", "iPad8,3", "iPad8,4"),
    ("iPad Pro (11-inch) (2nd generation)",): ("iPad8,9", "iPad8,10"),
    ("iPad Pro (11-inch) (3rd generation)",): ("iPad13,4", "iPad13,5", "iPad13,6", "iPad13,7"),
    ("iPad Pro (11-inch) (4th generation)",): ("iPad14,3", "iPad14,4"),
    ("iPad Pro 11-inch (M4)",): ("iPad16,3", "iPad16,4"),
    ("iPad Pro 13-inch (M4)",): ("iPad16,5", "iPad16,6"),
}

_APPLE_NAMES: dict[str, frozenset[str]] = {
    identifier.casefold(): frozenset(names)
    for names, identifiers in _APPLE_MODELS.items()
    for identifier in identifiers
}
