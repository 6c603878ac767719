"""Phone photo databases: every field from the real schemas, hidden, trashed and orphaned rows, WAL, damage.

Schemas, column for column:
- Android 10: the golden ``createQSchema`` of AOSP MediaProvider's
  ``DatabaseHelperTest`` (a snapshot of ``createLatestSchema`` at VERSION_Q, 1023).
- Android 13: ``createLatestSchema`` of AOSP MediaProvider ``DatabaseHelper``
  at VERSION_U (1407); its ``files`` table is unchanged since 1302
  (``_special_format``, Android 13) and ``deleted_media`` came in 1301.
- iOS: no verbatim iOS 13 or 16 DDL is public.  ``ZGENERICASSET`` is the iOS 11
  table dumped in richinfante's "Reverse Engineering the iOS Backup" plus the
  iOS 12/13 columns Scott Koenig's Photos.sqlite queries read; ``ZASSET`` and
  ``ZADDITIONALASSETATTRIBUTES`` carry the columns his iOS 13 and iOS 16
  queries (iLEAPP Ph001, Ph003, Ph096) read, joined as they join them.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from fieldlab.detect import photo_databases
from fieldlab.detect.photo_databases import (
    PhotoDatabaseError,
    PhotoRecord,
    photo_database_kind,
    read_photo_database,
)
from tests.detect.photo_db_builders import (
    ANDROID_13_FILES,
    IOS_13_ATTRIBUTES,
    IOS_13_GENERICASSET,
    IOS_16_ASSET,
    IOS_16_ATTRIBUTES,
    MEDIA,
    android_10,
    android_13,
    build,
    core_data,
    ios,
)


def read(path: Path, kind: str) -> dict[int, PhotoRecord]:
    records = list(read_photo_database(path, kind))
    by_id = {record.row_id: record for record in records}
    assert len(by_id) == len(records)
    return by_id


def record(database: str, row_id: int, path: str, **fields: object) -> PhotoRecord:
    """A record with every field that is not named empty."""
    empty = dict(original_name=None, kind=None, size=None, width=None, height=None, created=None, modified=None,
                 added=None, trashed=False, trashed_at=None, hidden=False, owner_app=None, extra=())
    return PhotoRecord(database=database, row_id=row_id, path=path, **{**empty, **fields})


# --------------------------------------------------------------------------- recognising the databases


@pytest.mark.parametrize(("path", "kind"), [
    ("/data/data/com.android.providers.media/databases/external.db", "mediastore"),
    ("/data/user/0/com.google.android.providers.media.module/databases/external.db", "mediastore"),
    ("/data/data/com.android.providers.media.module/databases/external.db", "mediastore"),
    ("/data/data/com.android.providers.media/databases/external-4a1b2c3d.db", "mediastore"),
    ("phone.E01\\userdata\\data\\com.android.providers.media\\databases\\external.db", "mediastore"),
    ("/private/var/mobile/Media/PhotoData/Photos.sqlite", "photos"),
    ("backup/CameraRollDomain/Media/PhotoData/Photos.sqlite", "photos"),
    ("/data/data/com.android.providers.media/databases/internal.db", None),
    ("/data/data/com.android.providers.media/databases/external.db-wal", None),
    ("/data/data/com.example.app/databases/external.db", None),
    ("/private/var/mobile/Media/PhotoData/Photos.sqlite-wal", None),
    ("/private/var/mobile/Media/PhotoData/Photos.sqlite.bak", None),
    ("/Users/joe/Photos.sqlite", None),
])
def test_the_kind_comes_from_the_path_on_the_device(path: str, kind: str | None) -> None:
    assert photo_database_kind(path) == kind


def test_an_unknown_kind_is_a_programming_error(tmp_path: Path) -> None:
    db = android_13(tmp_path / "external.db", [])
    with pytest.raises(ValueError, match="unknown photo database kind"):
        list(read_photo_database(db, "gallery"))


# --------------------------------------------------------------------------- Android 13


ANDROID_13_ROWS = [
    {  # a camera picture, kept as a favourite
        "_id": 31, "_data": "/storage/emulated/0/DCIM/Camera/IMG_20231114_221320.jpg", "_size": 2_345_678,
        "format": 14337, "parent": 12, "date_added": 1_700_000_002, "date_modified": 1_700_000_001,
        "mime_type": "image/jpeg", "title": "IMG_20231114_221320", "_display_name": "IMG_20231114_221320.jpg",
        "datetaken": 1_700_000_000_500, "bucket_display_name": "Camera", "media_type": 1, "width": 4032,
        "height": 3024, "owner_package_name": "com.google.android.GoogleCamera", "is_favorite": 1,
        "relative_path": "DCIM/Camera/", "volume_name": "external_primary", "_user_id": 0,
    },
    {  # in the trash since 1,700,100,000: renamed, expiring 30 days later
        "_id": 32, "_data": "/storage/emulated/0/DCIM/Camera/.trashed-1702692000-IMG_20231115_101500.jpg",
        "_size": 1_000_000, "date_added": 1_700_043_300, "date_modified": 1_700_100_000,
        "mime_type": "image/jpeg", "_display_name": "IMG_20231115_101500.jpg", "datetaken": 1_700_043_300_000,
        "media_type": 1, "width": 3000, "height": 4000, "owner_package_name": "com.google.android.GoogleCamera",
        "is_trashed": 1, "date_expires": 1_702_692_000, "relative_path": "DCIM/Camera/",
        "volume_name": "external_primary",
    },
    {  # in a .nomedia folder: a video the gallery does not list
        "_id": 33, "_data": "/storage/emulated/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Video/Private/"
                            "VID-20231116-WA0001.mp4",
        "_size": 5_500_000, "date_added": 1_700_150_000, "date_modified": 1_700_149_999,
        "mime_type": "video/mp4", "_display_name": "VID-20231116-WA0001.mp4", "media_type": 0,
        "owner_package_name": "com.whatsapp", "relative_path":
            "Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Video/Private/",
        "volume_name": "external_primary",
    },
    {  # downloaded, then the file was deleted behind MediaStore's back: the row outlives it
        "_id": 34, "_data": "/storage/emulated/0/Download/holiday.png", "_size": 812_345,
        "date_added": 1_700_200_000, "date_modified": 1_700_199_990, "mime_type": "image/png",
        "_display_name": "holiday.png", "media_type": 1, "width": 1920, "height": 1080,
        "owner_package_name": "com.android.chrome", "is_download": 1,
        "download_uri": "https://example.org/holiday.png", "referer_uri": "https://example.org/gallery",
        "relative_path": "Download/", "volume_name": "external_primary",
    },
    {  # still being written by an app
        "_id": 35, "_data": "/storage/emulated/0/Pictures/Snapchat/.pending-1700900000-Snapchat-123.jpg",
        "date_added": 1_700_295_200, "date_modified": 1_700_295_200, "mime_type": "image/jpeg",
        "_display_name": "Snapchat-123.jpg", "media_type": 1, "owner_package_name": "com.snapchat.android",
        "is_pending": 1, "date_expires": 1_700_900_000, "relative_path": "Pictures/Snapchat/",
        "volume_name": "external_primary",
    },
    {  # damaged values: a taken time in the year 3 million, a negative width, a size as text
        "_id": 36, "_data": "/storage/emulated/0/DCIM/odd.jpg", "_size": "big", "mime_type": "image/jpeg",
        "_display_name": "odd.jpg", "media_type": 1, "datetaken": 99_999_999_999_999_999, "width": -5,
        "height": 10, "date_added": 0, "date_modified": 1_700_000_000,
    },
    # not pictures or videos: a folder, a document, a song
    {"_id": 40, "_data": "/storage/emulated/0/DCIM/Camera", "format": 12289, "media_type": 0},
    {"_id": 41, "_data": "/storage/emulated/0/Download/form.pdf", "mime_type": "application/pdf",
     "media_type": 0},
    {"_id": 42, "_data": "/storage/emulated/0/Music/song.mp3", "mime_type": "audio/mpeg", "media_type": 2},
]


def test_android_13_lists_pictures_and_videos_with_every_field(tmp_path: Path) -> None:
    records = read(android_13(tmp_path / "external.db", ANDROID_13_ROWS), "mediastore")
    assert sorted(records) == [31, 32, 33, 34, 35, 36]
    assert records[31] == record(
        "mediastore", 31, "/storage/emulated/0/DCIM/Camera/IMG_20231114_221320.jpg",
        original_name="IMG_20231114_221320.jpg", kind="image", size=2_345_678, width=4032, height=3024,
        created=1_700_000_000.5, modified=1_700_000_001.0, added=1_700_000_002.0,
        owner_app="com.google.android.GoogleCamera",
        extra=(("mime type", "image/jpeg"), ("favourite", "yes")))


def test_android_trash_keeps_the_original_name_and_estimates_when_it_was_trashed(tmp_path: Path) -> None:
    records = read(android_13(tmp_path / "external.db", ANDROID_13_ROWS), "mediastore")
    assert records[32] == record(
        "mediastore", 32, "/storage/emulated/0/DCIM/Camera/.trashed-1702692000-IMG_20231115_101500.jpg",
        original_name="IMG_20231115_101500.jpg", kind="image", size=1_000_000, width=3000, height=4000,
        created=1_700_043_300.0, modified=1_700_100_000.0, added=1_700_043_300.0,
        trashed=True, trashed_at=1_700_100_000.0, owner_app="com.google.android.GoogleCamera",
        extra=(("mime type", "image/jpeg"), ("trashed at", "estimated: expiry minus Android's 30-day trash period"),
               ("expires", "2023-12-16T02:00:00Z")))


def test_android_media_in_a_nomedia_folder_is_read_and_says_the_gallery_hides_it(tmp_path: Path) -> None:
    records = read(android_13(tmp_path / "external.db", ANDROID_13_ROWS), "mediastore")
    assert records[33] == record(
        "mediastore", 33, "/storage/emulated/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Video/Private/"
                          "VID-20231116-WA0001.mp4",
        original_name="VID-20231116-WA0001.mp4", kind="video", size=5_500_000,
        modified=1_700_149_999.0, added=1_700_150_000.0, owner_app="com.whatsapp",
        extra=(("mime type", "video/mp4"),
               ("gallery", "not listed (media_type 0: how Android marks files in .nomedia or hidden folders)")))


def test_android_rows_whose_files_are_gone_are_listed_with_where_they_came_from(tmp_path: Path) -> None:
    records = read(android_13(tmp_path / "external.db", ANDROID_13_ROWS), "mediastore")
    assert records[34] == record(
        "mediastore", 34, "/storage/emulated/0/Download/holiday.png", original_name="holiday.png", kind="image",
        size=812_345, width=1920, height=1080, modified=1_700_199_990.0, added=1_700_200_000.0,
        owner_app="com.android.chrome",
        extra=(("mime type", "image/png"), ("downloaded from", "https://example.org/holiday.png"),
               ("download referrer", "https://example.org/gallery")))


def test_android_pending_files_say_so_and_are_not_trashed(tmp_path: Path) -> None:
    records = read(android_13(tmp_path / "external.db", ANDROID_13_ROWS), "mediastore")
    assert records[35] == record(
        "mediastore", 35, "/storage/emulated/0/Pictures/Snapchat/.pending-1700900000-Snapchat-123.jpg",
        original_name="Snapchat-123.jpg", kind="image", modified=1_700_295_200.0, added=1_700_295_200.0,
        owner_app="com.snapchat.android",
        extra=(("mime type", "image/jpeg"), ("pending", "yes: being written by an app"),
               ("expires", "2023-11-25T08:13:20Z")))


def test_android_absurd_values_become_none_and_are_shown_raw(tmp_path: Path) -> None:
    records = read(android_13(tmp_path / "external.db", ANDROID_13_ROWS), "mediastore")
    assert records[36] == record(
        "mediastore", 36, "/storage/emulated/0/DCIM/odd.jpg", original_name="odd.jpg", kind="image", height=10,
        modified=1_700_000_000.0,
        extra=(("mime type", "image/jpeg"),
               ("unreadable values", "_size='big'; width=-5; datetaken=99999999999999999")))


# --------------------------------------------------------------------------- Android 10


def test_android_10_reads_the_columns_it_has(tmp_path: Path) -> None:
    db = android_10(tmp_path / "external.db", [
        {"_id": 7, "_data": "/storage/emulated/0/DCIM/Camera/IMG_20200301_120000.jpg", "_size": 3_000_000,
         "date_added": 1_583_064_001, "date_modified": 1_583_064_000, "mime_type": "image/jpeg",
         "_display_name": "IMG_20200301_120000.jpg", "datetaken": 1_583_064_000_000, "media_type": 1,
         "width": 4000, "height": 3000, "owner_package_name": "com.sec.android.app.camera",
         "relative_path": "DCIM/Camera/", "volume_name": "external_primary"},
        {"_id": 8, "_data": "/storage/emulated/0/Movies/clip.mp4", "_size": 9_000_000,
         "date_added": 1_583_100_000, "date_modified": 1_583_099_000, "mime_type": "video/mp4",
         "_display_name": "clip.mp4", "datetaken": 0, "media_type": 3, "width": 1920, "height": 1080},
        {"_id": 9, "_data": "/storage/emulated/0/DCIM/Camera/IMG_20200302_090000.jpg", "mime_type": "image/jpeg",
         "_display_name": "IMG_20200302_090000.jpg", "media_type": 1, "is_trashed": 1,
         "date_expires": 1_585_728_000, "date_added": 1_583_136_000},
    ])
    records = read(db, "mediastore")
    assert records == {
        7: record("mediastore", 7, "/storage/emulated/0/DCIM/Camera/IMG_20200301_120000.jpg",
                  original_name="IMG_20200301_120000.jpg", kind="image", size=3_000_000, width=4000, height=3000,
                  created=1_583_064_000.0, modified=1_583_064_000.0, added=1_583_064_001.0,
                  owner_app="com.sec.android.app.camera", extra=(("mime type", "image/jpeg"),)),
        8: record("mediastore", 8, "/storage/emulated/0/Movies/clip.mp4", original_name="clip.mp4", kind="video",
                  size=9_000_000, width=1920, height=1080, modified=1_583_099_000.0, added=1_583_100_000.0,
                  extra=(("mime type", "video/mp4"),)),
        9: record("mediastore", 9, "/storage/emulated/0/DCIM/Camera/IMG_20200302_090000.jpg",
                  original_name="IMG_20200302_090000.jpg", kind="image", added=1_583_136_000.0, trashed=True,
                  trashed_at=1_583_136_000.0,
                  extra=(("mime type", "image/jpeg"),
                         ("trashed at", "estimated: expiry minus Android's 30-day trash period"),
                         ("expires", "2020-04-01T08:00:00Z"))),
    }


def test_an_old_files_table_without_type_columns_lists_every_row(tmp_path: Path) -> None:
    db = build(tmp_path / "external.db", ("CREATE TABLE files (_id INTEGER PRIMARY KEY, _data TEXT)",),
               {"files": [{"_id": 1, "_data": "/sdcard/DCIM/100ANDRO/DSC_0001.JPG"}]})
    assert read(db, "mediastore") == {1: record("mediastore", 1, "/sdcard/DCIM/100ANDRO/DSC_0001.JPG", kind="other")}


def test_an_android_row_without_a_path_gets_the_one_android_would_build(tmp_path: Path) -> None:
    db = android_13(tmp_path / "external.db", [
        {"_id": 5, "_display_name": "a.jpg", "relative_path": "DCIM/", "volume_name": "external_primary",
         "_user_id": 10, "media_type": 1},
        {"_id": 6, "_display_name": "b.jpg", "relative_path": "DCIM/Camera/", "volume_name": "1a2b-3c4d",
         "media_type": 1},
    ])
    records = read(db, "mediastore")
    rebuilt = ("path", "rebuilt from volume_name, relative_path and _display_name: _data is empty")
    assert records[5] == record("mediastore", 5, "/storage/emulated/10/DCIM/a.jpg", original_name="a.jpg",
                                kind="image", extra=(rebuilt,))
    assert records[6] == record("mediastore", 6, "/storage/1A2B-3C4D/DCIM/Camera/b.jpg", original_name="b.jpg",
                                kind="image", extra=(rebuilt,))


# --------------------------------------------------------------------------- iOS 13 (ZGENERICASSET)


IOS_ASSETS = [
    {  # a live photo from the camera, a favourite, in iCloud Photos
        "Z_PK": 1, "Z_ENT": 34, "Z_OPT": 5, "ZKIND": 0, "ZKINDSUBTYPE": 2, "ZWIDTH": 4032, "ZHEIGHT": 3024,
        "ZFAVORITE": 1, "ZHIDDEN": 0, "ZTRASHEDSTATE": 0, "ZVISIBILITYSTATE": 0, "ZCLOUDLOCALSTATE": 1,
        "ZADDITIONALATTRIBUTES": 101, "ZDATECREATED": core_data(1_600_000_000.25),
        "ZMODIFICATIONDATE": core_data(1_600_000_100), "ZADDEDDATE": core_data(1_600_000_010),
        "ZDIRECTORY": "DCIM/100APPLE", "ZFILENAME": "IMG_0001.HEIC", "ZUNIFORMTYPEIDENTIFIER": "public.heic",
        "ZUUID": "8C3C8F41-2D5E-4F0B-9B1A-0E6E2B1D7A11",
    },
    {  # hidden by the user
        "Z_PK": 2, "Z_ENT": 34, "ZKIND": 0, "ZKINDSUBTYPE": 0, "ZWIDTH": 3024, "ZHEIGHT": 4032, "ZHIDDEN": 1,
        "ZTRASHEDSTATE": 0, "ZADDITIONALATTRIBUTES": 102, "ZDATECREATED": core_data(1_600_100_000),
        "ZMODIFICATIONDATE": core_data(1_600_100_000), "ZADDEDDATE": core_data(1_600_100_000),
        "ZDIRECTORY": "DCIM/100APPLE", "ZFILENAME": "IMG_0002.JPG", "ZUNIFORMTYPEIDENTIFIER": "public.jpeg",
        "ZUUID": "0B9C3A52-6A41-4C11-8E0B-3F2C7D9E5B22",
    },
    {  # in Recently Deleted
        "Z_PK": 3, "Z_ENT": 34, "ZKIND": 1, "ZKINDSUBTYPE": 101, "ZWIDTH": 1920, "ZHEIGHT": 1080, "ZHIDDEN": 0,
        "ZTRASHEDSTATE": 1, "ZTRASHEDDATE": core_data(1_600_300_000), "ZADDITIONALATTRIBUTES": 103,
        "ZDATECREATED": core_data(1_600_200_000), "ZMODIFICATIONDATE": core_data(1_600_300_000),
        "ZADDEDDATE": core_data(1_600_200_000), "ZDIRECTORY": "DCIM/100APPLE", "ZFILENAME": "IMG_0003.MOV",
        "ZUNIFORMTYPEIDENTIFIER": "com.apple.quicktime-movie", "ZUUID": "5D1E7F60-1B2C-4D3E-8F4A-5B6C7D8E9F33",
    },
    {  # a picture saved from an app whose file is no longer in DCIM; not shown in the library
        "Z_PK": 4, "Z_ENT": 34, "ZKIND": 0, "ZKINDSUBTYPE": 10, "ZWIDTH": 1170, "ZHEIGHT": 2532,
        "ZVISIBILITYSTATE": 2, "ZADDITIONALATTRIBUTES": 104, "ZDATECREATED": core_data(1_600_400_000),
        "ZADDEDDATE": core_data(1_600_400_000), "ZDIRECTORY": "DCIM/101APPLE", "ZFILENAME": "IMG_0104.PNG",
        "ZUNIFORMTYPEIDENTIFIER": "public.png", "ZUUID": "A1B2C3D4-E5F6-4711-8899-AABBCCDDEE44",
    },
    {  # damage: a creation time from before 1900, a kind no version uses, no attributes row
        "Z_PK": 5, "Z_ENT": 34, "ZKIND": 7, "ZDATECREATED": -1e12, "ZDIRECTORY": "DCIM/101APPLE",
        "ZFILENAME": "IMG_0105.JPG",
    },
]
IOS_13_ATTRIBUTE_ROWS = [
    {"Z_PK": 101, "ZASSET": 1, "ZORIGINALFILENAME": "IMG_0001.HEIC", "ZORIGINALFILESIZE": 1_876_543,
     "ZCREATORBUNDLEID": "com.apple.camera", "ZIMPORTEDBY": 1},
    {"Z_PK": 102, "ZASSET": 2, "ZORIGINALFILENAME": "IMG_0002.JPG", "ZORIGINALFILESIZE": 2_100_000,
     "ZCREATORBUNDLEID": "com.apple.camera"},
    {"Z_PK": 103, "ZASSET": 3, "ZORIGINALFILENAME": "IMG_0003.MOV", "ZORIGINALFILESIZE": 30_000_000},
    {"Z_PK": 104, "ZASSET": 4, "ZORIGINALFILENAME": "8F9E7D6C.png", "ZORIGINALFILESIZE": 456_789,
     "ZCREATORBUNDLEID": "ph.telegra.Telegraph"},
]


def ios_expected(owner_1: str, owner_4: str, extra_1: tuple[tuple[str, str], ...] = (),
                 extra_4: tuple[tuple[str, str], ...] = ()) -> dict[int, PhotoRecord]:
    return {
        1: record("photos", 1, f"{MEDIA}/DCIM/100APPLE/IMG_0001.HEIC", original_name="IMG_0001.HEIC", kind="image",
                  size=1_876_543, width=4032, height=3024, created=1_600_000_000.25, modified=1_600_000_100.0,
                  added=1_600_000_010.0, owner_app=owner_1,
                  extra=(("uuid", "8C3C8F41-2D5E-4F0B-9B1A-0E6E2B1D7A11"), ("type", "public.heic"),
                         ("subtype", "live photo"), ("favourite", "yes"),
                         ("icloud photos", "synced or to be synced"), *extra_1)),
        2: record("photos", 2, f"{MEDIA}/DCIM/100APPLE/IMG_0002.JPG", original_name="IMG_0002.JPG", kind="image",
                  size=2_100_000, width=3024, height=4032, created=1_600_100_000.0, modified=1_600_100_000.0,
                  added=1_600_100_000.0, hidden=True, owner_app="com.apple.camera",
                  extra=(("uuid", "0B9C3A52-6A41-4C11-8E0B-3F2C7D9E5B22"), ("type", "public.jpeg"))),
        3: record("photos", 3, f"{MEDIA}/DCIM/100APPLE/IMG_0003.MOV", original_name="IMG_0003.MOV", kind="video",
                  size=30_000_000, width=1920, height=1080, created=1_600_200_000.0, modified=1_600_300_000.0,
                  added=1_600_200_000.0, trashed=True, trashed_at=1_600_300_000.0,
                  extra=(("uuid", "5D1E7F60-1B2C-4D3E-8F4A-5B6C7D8E9F33"), ("type", "com.apple.quicktime-movie"),
                         ("subtype", "slow motion"))),
        4: record("photos", 4, f"{MEDIA}/DCIM/101APPLE/IMG_0104.PNG", original_name="8F9E7D6C.png", kind="image",
                  size=456_789, width=1170, height=2532, created=1_600_400_000.0, added=1_600_400_000.0,
                  owner_app=owner_4,
                  extra=(("uuid", "A1B2C3D4-E5F6-4711-8899-AABBCCDDEE44"), ("type", "public.png"),
                         ("subtype", "screenshot"), ("visibility", "not shown in the library (2)"), *extra_4)),
        5: record("photos", 5, f"{MEDIA}/DCIM/101APPLE/IMG_0105.JPG", kind="other",
                  extra=(("unreadable values", "ZDATECREATED=-1000000000000"),)),
    }


def test_ios_13_lists_normal_hidden_trashed_and_orphaned_assets_with_every_field(tmp_path: Path) -> None:
    db = ios(tmp_path / "Photos.sqlite", "ZGENERICASSET", IOS_ASSETS, IOS_13_ATTRIBUTE_ROWS,
             (IOS_13_GENERICASSET, IOS_13_ATTRIBUTES))
    assert read(db, "photos") == ios_expected("com.apple.camera", "ph.telegra.Telegraph")


# --------------------------------------------------------------------------- iOS 16 (ZASSET)


IOS_16_ATTRIBUTE_ROWS = [
    {"Z_PK": 101, "ZASSET": 1, "ZORIGINALFILENAME": "IMG_0001.HEIC", "ZORIGINALFILESIZE": 1_876_543,
     "ZIMPORTEDBYBUNDLEIDENTIFIER": "com.apple.camera", "ZIMPORTEDBYDISPLAYNAME": "Camera", "ZIMPORTEDBY": 1},
    {"Z_PK": 102, "ZASSET": 2, "ZORIGINALFILENAME": "IMG_0002.JPG", "ZORIGINALFILESIZE": 2_100_000,
     "ZIMPORTEDBYBUNDLEIDENTIFIER": "com.apple.camera"},
    {"Z_PK": 103, "ZASSET": 3, "ZORIGINALFILENAME": "IMG_0003.MOV", "ZORIGINALFILESIZE": 30_000_000},
    {"Z_PK": 104, "ZASSET": 4, "ZORIGINALFILENAME": "8F9E7D6C.png", "ZORIGINALFILESIZE": 456_789,
     "ZIMPORTEDBYBUNDLEIDENTIFIER": "net.whatsapp.WhatsApp", "ZIMPORTEDBYDISPLAYNAME": "WhatsApp"},
]


def test_ios_16_reads_zasset_and_the_importing_app(tmp_path: Path) -> None:
    db = ios(tmp_path / "Photos.sqlite", "ZASSET", IOS_ASSETS, IOS_16_ATTRIBUTE_ROWS,
             (IOS_16_ASSET, IOS_16_ATTRIBUTES))
    assert read(db, "photos") == ios_expected("com.apple.camera", "net.whatsapp.WhatsApp",
                                              extra_1=(("imported by", "Camera"),),
                                              extra_4=(("imported by", "WhatsApp"),))


def test_ios_attributes_are_found_through_their_asset_link_when_the_asset_has_no_pointer(tmp_path: Path) -> None:
    db = build(tmp_path / "Photos.sqlite", (
        "CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY, ZKIND INTEGER, ZDIRECTORY VARCHAR, ZFILENAME VARCHAR)",
        "CREATE TABLE ZADDITIONALASSETATTRIBUTES (Z_PK INTEGER PRIMARY KEY, ZASSET INTEGER, "
        "ZORIGINALFILENAME VARCHAR)",
    ), {"ZASSET": [{"Z_PK": 9, "ZKIND": 0, "ZDIRECTORY": "DCIM/100APPLE", "ZFILENAME": "IMG_0009.JPG"}],
        "ZADDITIONALASSETATTRIBUTES": [{"Z_PK": 50, "ZASSET": 9, "ZORIGINALFILENAME": "beach.jpg"}]})
    assert read(db, "photos") == {9: record("photos", 9, f"{MEDIA}/DCIM/100APPLE/IMG_0009.JPG",
                                            original_name="beach.jpg", kind="image")}


# --------------------------------------------------------------------------- write-ahead log and journals


def test_rows_still_in_the_write_ahead_log_are_read(tmp_path: Path) -> None:
    phone, copy = tmp_path / "phone", tmp_path / "copy"
    phone.mkdir()
    copy.mkdir()
    writer = sqlite3.connect(phone / "external.db")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute(ANDROID_13_FILES)
    writer.commit()
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.execute("INSERT INTO files (_id, _data, media_type, mime_type) "
                   "VALUES (77, '/storage/emulated/0/DCIM/Camera/wal.jpg', 1, 'image/jpeg')")
    writer.commit()
    shutil.copy(phone / "external.db", copy / "external.db")
    shutil.copy(phone / "external.db-wal", copy / "external.db-wal")
    writer.close()
    main_only = sqlite3.connect(f"{(copy / 'external.db').as_uri()}?immutable=1", uri=True)
    assert main_only.execute("SELECT count(*) FROM files").fetchone() == (0,)  # the row is only in the log
    main_only.close()
    assert list(read(copy / "external.db", "mediastore")) == [77]


def test_an_interrupted_write_is_rolled_back_to_the_last_committed_state(tmp_path: Path) -> None:
    phone = tmp_path / "phone"
    phone.mkdir()
    writer = sqlite3.connect(phone / "external.db", isolation_level=None)
    writer.execute("PRAGMA journal_mode=DELETE")
    writer.execute(ANDROID_13_FILES)
    writer.execute("INSERT INTO files (_id, _data, media_type) VALUES (1, '/storage/emulated/0/DCIM/kept.jpg', 1)")
    writer.execute("PRAGMA cache_size=1")  # spill the open transaction's pages into the database file
    writer.execute("BEGIN")
    for number in range(2, 2000):
        writer.execute("INSERT INTO files (_id, _data, media_type) VALUES (?, ?, 1)",
                       (number, f"/storage/emulated/0/DCIM/{'x' * 400}{number}.jpg"))
    assert (phone / "external.db-journal").exists()
    shutil.copy(phone / "external.db", tmp_path / "external.db")
    shutil.copy(phone / "external.db-journal", tmp_path / "external.db-journal")
    writer.execute("ROLLBACK")
    writer.close()
    assert list(read(tmp_path / "external.db", "mediastore")) == [1]


def test_reading_does_not_change_the_database_copy(tmp_path: Path) -> None:
    db = android_13(tmp_path / "external.db", ANDROID_13_ROWS)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    read(db, "mediastore")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


# --------------------------------------------------------------------------- damage and hostile values


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    garbage = tmp_path / "external.db"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 not a database at all" * 100)
    with pytest.raises(PhotoDatabaseError, match=r"MediaStore .*not an SQLite database \(it starts with b'\\xff"):
        list(read_photo_database(garbage, "mediastore"))


def test_an_empty_file_is_refused_clearly(tmp_path: Path) -> None:
    empty = tmp_path / "Photos.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(PhotoDatabaseError, match=r"Photos.sqlite: not an SQLite database \(it is empty\)"):
        list(read_photo_database(empty, "photos"))


def test_a_database_without_the_tables_says_what_it_holds(tmp_path: Path) -> None:
    other = build(tmp_path / "external.db", ("CREATE TABLE notes (body TEXT)",), {})
    with pytest.raises(PhotoDatabaseError, match=r"the 'files' table is missing \(it holds notes\)"):
        list(read_photo_database(other, "mediastore"))
    with pytest.raises(PhotoDatabaseError, match=r"the asset table .* is missing \(it holds notes\)"):
        list(read_photo_database(other, "photos"))


def test_a_view_in_place_of_the_table_is_never_run(tmp_path: Path) -> None:
    hostile = build(tmp_path / "external.db", (
        "CREATE TABLE t (x)",
        "CREATE VIEW files AS WITH RECURSIVE n(_id) AS (SELECT 1 UNION ALL SELECT _id + 1 FROM n) "
        "SELECT _id, 'x' AS _data FROM n",
    ), {})
    with pytest.raises(PhotoDatabaseError, match=r"the 'files' table is missing \(it holds t\)"):
        list(read_photo_database(hostile, "mediastore"))


def test_a_mediastore_database_read_as_photos_is_refused(tmp_path: Path) -> None:
    db = android_13(tmp_path / "external.db", ANDROID_13_ROWS)
    with pytest.raises(PhotoDatabaseError, match="iOS Photos.sqlite: the asset table"):
        list(read_photo_database(db, "photos"))


def many_rows(path: Path, count: int) -> Path:
    return android_13(path, [{"_id": number, "_data": f"/storage/emulated/0/DCIM/{'p' * 300}{number}.jpg",
                              "media_type": 1} for number in range(1, count + 1)])


def test_a_truncated_database_yields_the_rows_it_holds_then_raises(tmp_path: Path) -> None:
    db = many_rows(tmp_path / "external.db", 3000)
    data = db.read_bytes()
    db.write_bytes(data[:len(data) // 2])
    records = []
    with pytest.raises(PhotoDatabaseError, match=r"MediaStore .*: the database is damaged after row [\d,]+; "
                                                 r"reading stopped .*\. The file is [\d,]+ bytes but its header "
                                                 r"says [\d,]+: it was cut short"):
        records.extend(read_photo_database(db, "mediastore"))
    assert 0 < len(records) < 3000
    assert [record.row_id for record in records] == list(range(1, len(records) + 1))


def test_a_database_cut_inside_its_schema_raises_a_clear_error(tmp_path: Path) -> None:
    db = many_rows(tmp_path / "external.db", 10)
    db.write_bytes(db.read_bytes()[:200])
    with pytest.raises(PhotoDatabaseError, match=r"the 'files' table is missing .* The file is 200 bytes but "
                                                 r"its header says [\d,]+: it was cut short"):
        list(read_photo_database(db, "mediastore"))


def test_a_damaged_page_ends_the_listing_with_an_error_after_the_rows_before_it(tmp_path: Path) -> None:
    db = many_rows(tmp_path / "external.db", 3000)
    probe = sqlite3.connect(db)
    page_size = probe.execute("PRAGMA page_size").fetchone()[0]
    leaf = probe.execute("SELECT pageno FROM dbstat WHERE name = 'files' AND pagetype = 'leaf' "
                         "ORDER BY path LIMIT 1 OFFSET 20").fetchone()[0]
    probe.close()
    data = bytearray(db.read_bytes())
    data[(leaf - 1) * page_size:leaf * page_size] = b"\xee" * page_size
    db.write_bytes(bytes(data))
    records = []
    with pytest.raises(PhotoDatabaseError, match=r"damaged after row [\d,]+; reading stopped"):
        records.extend(read_photo_database(db, "mediastore"))
    assert 0 < len(records) < 3000
    assert [record.row_id for record in records] == list(range(1, len(records) + 1))


def test_reading_stops_after_max_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photo_databases, "MAX_ROWS", 3)
    db = many_rows(tmp_path / "external.db", 5)
    records = []
    with pytest.raises(PhotoDatabaseError, match="more than 3 rows; reading stopped there"):
        records.extend(read_photo_database(db, "mediastore"))
    assert [record.row_id for record in records] == [1, 2, 3]


def test_long_texts_are_cut_inside_sqlite_and_marked(tmp_path: Path) -> None:
    long_path = "/storage/emulated/0/" + "d/" * 50_000 + "x.jpg"
    db = android_13(tmp_path / "external.db", [
        {"_id": 1, "_data": long_path, "_display_name": b"bad\xffname\x00.jpg", "media_type": 1},
    ])
    (only,) = read_photo_database(db, "mediastore")
    assert only.path == long_path[:4096]
    assert only.original_name == "bad\ufffdname\ufffd.jpg"
    assert only.extra == (("cut short", "_data longer than 4,096 characters"),)


def test_a_key_that_is_not_a_number_is_shown_instead_of_lost(tmp_path: Path) -> None:
    db = build(tmp_path / "Photos.sqlite", ("CREATE TABLE ZASSET (Z_PK TEXT, ZKIND INTEGER, ZFILENAME VARCHAR)",),
               {"ZASSET": [{"Z_PK": "abc", "ZKIND": 1, "ZFILENAME": "IMG_0001.MOV"}]})
    (only,) = read_photo_database(db, "photos")
    assert only == record("photos", -1, f"{MEDIA}/IMG_0001.MOV", kind="video", extra=(("row key", "'abc'"),))
