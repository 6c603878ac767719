"""Generated phone extractions laid out the way real ones are: an Android full file system as a tar and an iOS full
file system as a zip (UFDR packages and backups come from ``fieldlab.validation.phones``).  Pictures are
procedural; the layout (paths, build.prop, container metadata plists) follows what real devices and tools write."""

from __future__ import annotations

import io
import plistlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fieldlab.demo import procedural_jpeg
from fieldlab.validation.content import tar_of, zip_of
from tests.detect.photo_db_builders import IOS_16_ASSET, IOS_16_ATTRIBUTES, android_13, core_data, ios

ANDROID_STORAGE = "data/media/0"
WHATSAPP_GROUP = "7A1C3E2B-0D4F-4C11-9E1A-2B3C4D5E6F70"


@dataclass(frozen=True)
class Planted:
    path: str  # inside the extraction
    data: bytes
    app: str | None
    place: str | None


def camera_jpeg(seed: int, make: str, model: str, serial: str | None = None) -> bytes:
    """A procedural picture carrying the EXIF a phone camera writes (make, model, capture time)."""
    picture = Image.open(io.BytesIO(procedural_jpeg(seed, 320, 240)))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = "2024:05:06 07:08:09"
    if serial:
        exif_ifd[0xA431] = serial
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def build_prop(model: str, manufacturer: str, device: str, release: str) -> bytes:
    return (f"# begin build properties\nro.build.id=TP1A.220624.014\nro.build.version.release={release}\n"
            f"ro.product.system.model={model}\nro.product.model={model}\nro.product.manufacturer={manufacturer}\n"
            f"ro.product.device={device}\nro.build.display.id=TP1A.220624.014.G960FXXU\n").encode()


def android_ffs_tar(path: Path, planted: list[Planted], extra: dict[str, bytes] | None = None) -> None:
    """Full file system of an Android phone: system partition, shared storage under data/media/0, app data."""
    files = {"system/build.prop": build_prop("SM-G960F", "samsung", "starlte", "13"),
             "vendor/build.prop": b"ro.product.vendor.model=SM-G960F\nro.product.vendor.device=starlte-vendor\n",
             f"{ANDROID_STORAGE}/Pictures/Secret/.nomedia": b"",
             **{p.path: p.data for p in planted}, **(extra or {})}
    path.write_bytes(tar_of(files))


def android_planted(known: list[bytes], camera: bytes) -> list[Planted]:
    storage = ANDROID_STORAGE
    return [
        Planted(f"{storage}/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20240101-WA0001.jpg",
                known[0], "WhatsApp", None),
        Planted(f"{storage}/Pictures/Secret/hidden.jpg", known[1], None, "hidden"),
        Planted(f"{storage}/DCIM/Camera/.trashed-1718000000-IMG_0002.jpg", known[2], None, "trash"),
        Planted("data/data/com.netqin.ps/files/hidden_pictures/0001.bin", known[3], "Vault app", None),
        Planted(f"{storage}/DCIM/.thumbnails/1718000001.jpg", known[4], None, "thumbnails"),
        Planted(f"{storage}/DCIM/Camera/IMG_20240506_070809.jpg", camera, None, "camera"),
    ]


def ios_ffs_zip(path: Path, planted: list[Planted], extra: dict[str, bytes] | None = None) -> None:
    """Full file system of an iPhone as extraction tools zip it: private/var/..., app group containers named by
    UUID with the container manager's metadata plist naming the app."""
    metadata = plistlib.dumps({"MCMMetadataIdentifier": "group.net.whatsapp.WhatsApp.shared",
                               "MCMMetadataContentClass": 7, "MCMMetadataVersion": 6})
    files = {
        f"private/var/mobile/Containers/Shared/AppGroup/{WHATSAPP_GROUP}/.com.apple.mobile_container_manager.metadata.plist": metadata,
        "System/Library/CoreServices/SystemVersion.plist": plistlib.dumps(
            {"ProductName": "iPhone OS", "ProductVersion": "16.5", "ProductBuildVersion": "20F66"}),
        **{p.path: p.data for p in planted}, **(extra or {})}
    path.write_bytes(zip_of(files, zipfile.ZIP_STORED))


def ios_planted(known: list[bytes]) -> list[Planted]:
    return [
        Planted(f"private/var/mobile/Containers/Shared/AppGroup/{WHATSAPP_GROUP}/Message/Media/447700900123@s.whatsapp.net/a/b/1f2e.jpg",
                known[0], "WhatsApp", None),
        Planted("private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG", known[1], "Photos (iOS)", "camera"),
        Planted("private/var/mobile/Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0002.JPG/5005.JPG", known[2],
                "Photos (iOS)", "thumbnails"),
    ]


MEDIASTORE_PATH = "data/data/com.google.android.providers.media.module/databases/external.db"
PHOTOS_PATH = "private/var/mobile/Media/PhotoData/Photos.sqlite"


def mediastore_db(folder: Path, planted: list[Planted]) -> bytes:
    """Android's gallery database naming every planted file under shared storage, a trashed one as trashed, plus
    one picture whose file is gone (deleted behind MediaStore's back: the row outlives it)."""
    rows = []
    for n, p in enumerate(x for x in planted if x.path.startswith(ANDROID_STORAGE + "/")):
        device_path = "/storage/emulated/0/" + p.path[len(ANDROID_STORAGE) + 1:]
        trashed = "/.trashed-" in device_path
        rows.append({"_id": 100 + n, "_data": device_path, "_size": len(p.data), "mime_type": "image/jpeg",
                     "_display_name": device_path.rsplit("/", 1)[-1].split("-", 2)[-1] if trashed else device_path.rsplit("/", 1)[-1],
                     "media_type": 1, "date_added": 1_718_000_000, "date_modified": 1_718_000_000,
                     "is_trashed": int(trashed), "date_expires": 1_720_592_000 if trashed else None,
                     "volume_name": "external_primary"})
    rows.append({"_id": 99, "_data": "/storage/emulated/0/DCIM/Camera/IMG_20240101_000000.jpg", "_size": 123_456,
                 "mime_type": "image/jpeg", "_display_name": "IMG_20240101_000000.jpg", "media_type": 1,
                 "date_added": 1_704_067_200, "date_modified": 1_704_067_200, "volume_name": "external_primary"})
    return android_13(folder / "external.db", rows).read_bytes()


def photos_db(folder: Path) -> bytes:
    """iOS Photos.sqlite (iOS 16 layout): IMG_0001 present, IMG_0002 hidden (its file only a thumbnail now),
    IMG_0003 in Recently Deleted and gone."""
    def asset(pk: int, name: str, **state: object) -> dict[str, object]:
        return {"Z_PK": pk, "Z_ENT": 34, "ZKIND": 0, "ZDIRECTORY": "DCIM/100APPLE", "ZFILENAME": name,
                "ZDATECREATED": core_data(1_715_000_000 + pk), "ZADDITIONALATTRIBUTES": 200 + pk,
                "ZUNIFORMTYPEIDENTIFIER": "public.jpeg", "ZHIDDEN": 0, "ZTRASHEDSTATE": 0, **state}

    assets = [asset(1, "IMG_0001.JPG"), asset(2, "IMG_0002.JPG", ZHIDDEN=1),
              asset(3, "IMG_0003.JPG", ZTRASHEDSTATE=1, ZTRASHEDDATE=core_data(1_716_000_000))]
    attributes = [{"Z_PK": 200 + n, "ZASSET": n, "ZORIGINALFILENAME": f"original_{n}.jpg"} for n in (1, 2, 3)]
    return ios(folder / "Photos.sqlite", "ZASSET", assets, attributes, (IOS_16_ASSET, IOS_16_ATTRIBUTES)).read_bytes()
