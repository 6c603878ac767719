"""Synthetic demo evidence: a small seized "home drive" and the hash sets that know some of its files.

Examiners, trainers, developers and tests need a case that runs end to end without
ever touching real material.  Every picture here is procedurally drawn (gradients,
shapes, noise) from a seed; the categories A, B and C are only labels in generated
hash sets.  The same seed gives the same bytes, hashes and file times, so demos and
tests are reproducible.

``build_demo_case(destination)`` writes::

    destination/evidence/                       the folder to scan (see _KNOWN_SLOTS and _write_drive)
    destination/hashsets/demo-case.vics.json    VICS 2.0 case; Category in Project VIC US numbering 1-3
    destination/hashsets/demo-case.csv          the same hashes: md5,sha1,category (lowercase hex, UK letters)
    destination/hashsets/demo-category-mapping.json   {"1": "A", "2": "B", "3": "C"}
    destination/hashsets/README.txt             says that mapping is for this demo only

The mapping is DEMO-ONLY: the codes a real UK (CAID) export uses are not public and
US category 1-3 do not correspond to UK A-C.  Known files are never planted only
inside a zip, because archive members are scanned by a later feature.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import struct
import uuid
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

DEMO_MAPPING = {"1": "A", "2": "B", "3": "C"}  # VICS raw Category -> UK label, for this demo only
UK_LABELS = ("A", "B", "C")
DECOYS_PER_SCALE = 40
VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Cases"

_EXIF_IFD, _MAKE, _MODEL, _DATETIME, _DATETIME_ORIGINAL = 0x8769, 0x010F, 0x0110, 0x0132, 0x9003
_EARLIEST, _LATEST = 1_514_764_800, 1_703_980_800  # 2018-01-01 .. 2023-12-31 UTC: plausibly in the past
_SID = "S-1-5-21-3623811015-3361044348-30300820-1001"
_DEEP = "Users/alex/AppData/Roaming/Chatly/profiles/x7f3/cache/media/2021/03/17"  # 12 folders deep

# Where known files hide on the drive: (path template, format).  Templates draw on a
# random number {n}, hex string {hex} and code {code} so that every scale gets fresh names.
_KNOWN_SLOTS = (
    ("Users/alex/Downloads/IMG_{n:04d}.jpg", "jpeg"),
    ("Users/alex/Downloads/image ({n}).jpg", "jpeg"),
    ("Users/alex/Downloads/setup_log_{n}.dat", "jpeg"),  # the extension lies: it is a JPEG
    ("Users/alex/Downloads/Snapchat-{n:09d}.png", "png"),
    ("Users/alex/AppData/Local/Temp/~DF{hex}", "jpeg"),  # cryptic name, no extension
    ("$Recycle.Bin/" + _SID + "/$R{code}.jpg", "jpeg"),
    (_DEEP + "/thumb_{n:05d}.jpg", "jpeg"),
)
_MIME = {"jpeg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class PlantedFile:
    relative_path: str  # path inside the evidence folder, '/'-separated
    md5: str  # lowercase hex
    sha1: str
    category: str  # UK label: "A", "B" or "C"


@dataclass(frozen=True)
class DemoCase:
    evidence_dir: Path
    vics_path: Path
    csv_path: Path
    mapping_path: Path
    planted: tuple[PlantedFile, ...]  # known files that ARE in the evidence, duplicates listed at each path
    decoys: int  # hash-set entries that are NOT in the evidence: sets are always bigger than one device


@dataclass(frozen=True)
class _Known:
    """A planted file plus what the hash set records about it."""

    file: PlantedFile
    mime: str
    size: int


def procedural_jpeg(seed: int, width: int = 640, height: int = 480, quality: int = 85) -> bytes:
    """A reproducible JPEG that decoders treat as a photograph, yet depicts nothing."""
    return _encode_jpeg(_picture(seed, width, height), quality)


def procedural_png(seed: int, width: int = 320, height: int = 240) -> bytes:
    """A reproducible PNG, for tests that need a second image format."""
    buffer = io.BytesIO()
    _picture(seed, width, height).save(buffer, format="PNG", compress_level=1)  # noise barely compresses: save time
    return buffer.getvalue()


def _picture(seed: int, width: int, height: int) -> Image.Image:
    """Gradient background, overlapping shapes and mild sensor-like noise, all from ``seed``."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.add.outer(np.linspace(0, np.sin(angle), height, dtype=np.float32),
                        np.linspace(0, np.cos(angle), width, dtype=np.float32))
    ramp -= ramp.min()
    ramp *= 255 / max(float(ramp.max()), 1e-6)
    # Colouring the ramp through a palette is ~20x faster than blending RGB in numpy.
    image = Image.frombytes("P", (width, height), ramp.astype(np.uint8).tobytes())
    first, last = rng.integers(0, 256, (2, 3))
    image.putpalette(np.linspace(first, last, 256).astype(np.uint8).tobytes())
    image = image.convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 15))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = int(rng.integers(3))
        if shape == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(int(x), int(y)) for x, y in rng.integers(0, (width, height), (3, 2))], fill=colour)
    pixels = np.clip(np.asarray(image), 5, 250)  # headroom, so the grain below cannot wrap around
    pixels += rng.integers(0, 11, (height, width, 1), dtype=np.uint8)  # one grain value for all channels
    pixels -= 5
    return Image.fromarray(pixels, "RGB")


def _encode_jpeg(image: Image.Image, quality: int, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


class _Drive:
    """Writes files under one root, never overwriting, with deterministic past mtimes."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = np.random.default_rng(seed)
        self._image_seeds = itertools.count(seed * 1_000_003)  # disjoint from other case seeds' images

    def image_seed(self) -> int:
        """A seed no other image in this case uses, so every file's content is unique."""
        return next(self._image_seeds)

    def past_time(self) -> int:
        return int(self.rng.integers(_EARLIEST, _LATEST))

    def write(self, relative_path: str, data: bytes, when: int | None = None) -> None:
        path = self.root / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:  # "x": refuse to replace anything already there
            handle.write(data)
        when = self.past_time() if when is None else when
        os.utime(path, (when, when))

    def settle_folder_times(self) -> None:
        """Give folders past times too (creating files inside them just set them to now)."""
        folders = sorted((p for p in self.root.rglob("*") if p.is_dir()), key=lambda p: (-len(p.parts), str(p)))
        for folder in [*folders, self.root]:
            when = self.past_time()
            os.utime(folder, (when, when))


def build_demo_case(destination: Path, *, seed: int = 7, scale: int = 1) -> DemoCase:
    """Write a demo seized drive and its hash sets under ``destination`` (empty or absent)."""
    destination = Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise FileExistsError(f"{destination} is not an empty folder: choose a new folder for the demo case")
    if not 1 <= scale <= 1000:
        raise ValueError(f"scale must be between 1 and 1000, not {scale}")
    destination.mkdir(parents=True, exist_ok=True)
    drive = _Drive(destination / "evidence", seed)
    planted = _write_drive(drive, scale)
    drive.settle_folder_times()
    decoys = DECOYS_PER_SCALE * scale
    hashsets = destination / "hashsets"
    hashsets.mkdir()
    vics_path, csv_path, mapping_path = _write_hash_sets(hashsets, planted, decoys, drive.rng)
    return DemoCase(drive.root, vics_path, csv_path, mapping_path, tuple(k.file for k in planted), decoys)


def _write_drive(drive: _Drive, scale: int) -> list[_Known]:
    """Lay out the home drive; returns the known files planted in it."""
    planted: list[_Known] = []
    numbers = drive.rng.permutation(np.arange(1, 10_000))  # distinct, so file names never collide
    for round_ in range(scale):
        planted += _plant_known_files(drive, round_, numbers[round_ * len(_KNOWN_SLOTS):])
        _write_unknown_media(drive, round_)
    _write_everyday_files(drive)
    return planted


def _plant_known_files(drive: _Drive, round_: int, numbers: np.ndarray) -> list[_Known]:
    """One file per _KNOWN_SLOTS entry, categories cycling A, B, C, plus a duplicate of the first."""
    rng, planted = drive.rng, []
    for index, (template, kind) in enumerate(_KNOWN_SLOTS):
        names = {"n": int(numbers[index]), "hex": rng.bytes(8).hex().upper(),
                 "code": "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"), 6))}
        width, height = (int(v) for v in rng.choice([(640, 480), (800, 600), (480, 640), (320, 240)]))
        draw = procedural_jpeg if kind == "jpeg" else procedural_png
        data = draw(drive.image_seed(), width, height)
        category = UK_LABELS[(round_ * len(_KNOWN_SLOTS) + index) % 3]
        relative_path = template.format(**names)
        drive.write(relative_path, data)
        digests = hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest()
        planted.append(_Known(PlantedFile(relative_path, *digests, category), _MIME[kind], len(data)))
        if index == 0:
            first_known = data
        if relative_path.startswith("$Recycle.Bin"):
            original = f"C:\\Users\\alex\\Pictures\\IMG_{names['n']:04d}.jpg"
            drive.write(relative_path.replace("/$R", "/$I"), _recycle_info(len(data), original, drive))
    # Devices hold duplicates: a byte-identical copy at another path is a second hit.
    copy_path = f"Users/alex/Pictures/Saved Pictures/wallpaper_{round_ + 1}.jpg"
    drive.write(copy_path, first_known)
    planted.append(replace(planted[0], file=replace(planted[0].file, relative_path=copy_path)))
    return planted


def _write_unknown_media(drive: _Drive, round_: int) -> None:
    """Pictures no hash set knows: the bulk of any real drive."""
    holiday = int(datetime(2019, 8, 10, tzinfo=timezone.utc).timestamp())
    for photo in range(6):
        taken = holiday + int(drive.rng.integers(0, 14 * 86_400))
        width, height = (int(v) for v in drive.rng.choice([(1600, 1200), (1280, 960), (1200, 1600)]))
        drive.write(f"Users/alex/Pictures/Holiday 2019/DSC_{round_ * 6 + photo + 1:04d}.JPG",
                    _encode_jpeg(_picture(drive.image_seed(), width, height), 90, _camera_exif(taken)), taken)
    for _ in range(2):
        stamp = datetime.fromtimestamp(drive.past_time(), timezone.utc).strftime("%Y-%m-%d %H%M%S")
        drive.write(f"Users/alex/Pictures/Screenshots/Screenshot {stamp}.png",
                    procedural_png(drive.image_seed(), 640, 360))


def _write_everyday_files(drive: _Drive) -> None:
    """Documents, archives, programs and an empty file: what a scanner must walk past safely."""
    rng = drive.rng
    # Zip members are scanned by a later feature, so a zip only ever holds an unknown picture.
    drive.write("Users/alex/Downloads/holiday_pics.zip",
                _zip({"DSC_0042.jpg": procedural_jpeg(drive.image_seed())}, zipfile.ZIP_STORED))
    drive.write("Users/alex/Downloads/bank statement.pdf",
                b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% Statement for A. Example\n%%EOF\n")
    drive.write("Users/alex/Documents/notes.txt", b"shopping: milk, bread\r\ncall garage about MOT\r\n")
    drive.write("Users/alex/Documents/budget.csv", b"month,rent,food\r\nJan,650,210\r\nFeb,650,198\r\n")
    drive.write("Users/alex/Documents/New Text Document.txt", b"")
    drive.write("Users/alex/Documents/letter.docx", _zip({
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                               b'package/2006/content-types"/>',
        "word/document.xml": b'<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t>Dear Sir</w:t>'
                             b"</w:r></w:p></w:body></w:document>",
    }, zipfile.ZIP_DEFLATED))
    drive.write("Users/Public/desktop.ini", "[.ShellClassInfo]\r\nLocalizedResourceName=Public\r\n".encode("utf-16"))
    drive.write("Users/Public/Pictures/Garden.jpg", procedural_jpeg(drive.image_seed(), 1024, 768))
    drive.write("Program Files/App/App.exe", b"MZ" + rng.bytes(48 * 1024))
    drive.write("Program Files/App/core.dll", b"MZ" + rng.bytes(24 * 1024))
    drive.write("Program Files/App/data.bin", rng.bytes(8 * 1024))


def _camera_exif(taken: int) -> Image.Exif:
    """A fake camera's tags, so metadata-reading features have something to show."""
    exif = Image.Exif()
    exif[_MAKE], exif[_MODEL] = "Fieldlab Optics", "Demo Cam 2"
    stamp = datetime.fromtimestamp(taken, timezone.utc).strftime("%Y:%m:%d %H:%M:%S")
    exif[_DATETIME] = stamp
    exif.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = stamp
    return exif


def _recycle_info(size: int, original_path: str, drive: _Drive) -> bytes:
    """A Windows 10 $I record (version 2): size, deletion FILETIME, original path in UTF-16."""
    filetime = (drive.past_time() + 11_644_473_600) * 10_000_000
    name = original_path + "\0"
    return struct.pack("<qqqI", 2, size, filetime, len(name)) + name.encode("utf-16-le")


def _zip(members: dict[str, bytes], compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2019, 8, 14, 10, 22, 30))  # fixed: reproducible bytes
            archive.writestr(info, data, compress_type=compression)
    return buffer.getvalue()


def _write_hash_sets(folder: Path, planted: list[_Known], decoys: int,
                     rng: np.random.Generator) -> tuple[Path, Path, Path]:
    """VICS 2.0 JSON, CSV and the demo category mapping; decoys mixed in among the known files."""
    raw_category = {label: raw for raw, label in DEMO_MAPPING.items()}
    entries, seen = [], set()
    for known in planted:
        if known.file.md5 not in seen:  # a duplicate copy is one Media: Media is keyed by MD5
            seen.add(known.file.md5)
            entries.append((known.file.md5, known.file.sha1, known.file.category, known.size, known.mime))
    for index in range(decoys):
        entries.append((rng.bytes(16).hex(), rng.bytes(20).hex(), UK_LABELS[index % 3],
                        int(rng.integers(20_000, 900_000)), "image/jpeg"))
    entries = [entries[i] for i in rng.permutation(len(entries))]

    media = []
    for media_id, (md5, sha1, label, size, mime) in enumerate(entries, start=1):
        extension = ".png" if mime == "image/png" else ".jpg"
        media.append({
            "MediaID": media_id, "MD5": md5.upper(), "SHA1": sha1.upper(), "Category": int(raw_category[label]),
            "IsPrecategorized": True, "MediaSize": size, "MimeType": mime,
            "MediaFiles": [{"MD5": md5.upper(), "MediaFileID": 1, "FileName": f"{media_id:06d}{extension}",
                            "FilePath": "E:\\Exhibits\\DEMO-2017-0001\\Export\\"}],
        })
    case = {"CaseID": str(uuid.UUID(bytes=rng.bytes(16), version=4)), "CaseNumber": "DEMO-0001",
            "SourceApplicationName": "fieldlab demo", "TotalMediaFiles": len(media),
            "TotalPrecategorized": len(media), "Media": media}
    vics_path = folder / "demo-case.vics.json"
    vics_path.write_text(json.dumps({"@odata.context": VICS_CONTEXT, "value": [case]}, indent=2) + "\n",
                         encoding="utf-8")

    csv_path = folder / "demo-case.csv"
    with open(csv_path, "x", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["md5", "sha1", "category"])
        writer.writerows((md5, sha1, label) for md5, sha1, label, _, _ in entries)

    mapping_path = folder / "demo-category-mapping.json"
    mapping_path.write_text(json.dumps(DEMO_MAPPING, indent=2) + "\n", encoding="utf-8")
    (folder / "README.txt").write_text(
        "Generated by fieldlab.demo. Every image is procedurally drawn; categories are only labels.\n"
        "demo-category-mapping.json maps this demo's VICS Category values to UK labels. It is for\n"
        "this demo only: real UK (CAID) codes are not public, and US 1-3 do not mean UK A-C.\n",
        encoding="utf-8")
    return vics_path, csv_path, mapping_path
