"""The validation corpus: exhibits laid out like real seizures, known items planted by class, the hash sets a
force would hold and the truth file, all from one seed.

Reproducibility is part of the method: the same seed and fieldlab version give the same bytes.  Our own writers
use fixed times and seeded randomness; the tools we drive (mkntfs, libntfs-3g, mtools, mke2fs, mkfs.exfat,
ewfacquire) read the clock, so ``build_corpus`` runs them in a child process under libfaketime, frozen at
``CORPUS_TIME`` (``SOURCE_DATE_EPOCH`` for tools that never learnt it).  What they draw at random without the
clock (disk signatures, GUIDs, ext4 UUIDs) is derived from what the disk holds (``disks._layout_identity``), and
qemu-img's random VHDX identifiers are rewritten from the disk's SHA-256 (``vhdx.make_reproducible``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from fieldlab.detect.perceptual import image_pdq, pdq_hex
from fieldlab.detect.video import video_pdq
from fieldlab.validation import content, phones, thumbnails, vhdx
from fieldlab.validation.disks import MIB, PlantedFile, build_disk, to_e01, to_split_raw
from fieldlab.validation.luks import build_luks1_disk
from fieldlab.validation.truth import NOT_REACHABLE, BenignItem, ClassInfo, ExhibitInfo, KnownItem, Truth

SIZES = {"quick": 1, "standard": 30, "large": 150}  # known items planted per class
BENIGN_PICTURES = {"quick": 6, "standard": 200, "large": 1500}  # unknown pictures per disk exhibit
BENIGN_VIDEOS = {"quick": 1, "standard": 4, "large": 20}  # unknown videos per disk exhibit
CORPUS_TIME = "2024-05-17 12:30:00"
PASSWORD = "Summer2019!"
LUKS_PASSPHRASE = "validation luks passphrase 2024"  # generated corpus, generated secret: in the truth file
LABELS = ("A", "B", "C")
VICS_MAPPING = {"1": "A", "2": "B", "3": "C"}  # this corpus's own VICS Category numbering, written beside it
FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

_THUMBCACHE = "Users/alex/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db"
_THUMBS_DB = "Users/alex/Pictures/Old/Thumbs.db"

CLASSES = (
    ClassInfo("ntfs/allocated", "a file the NTFS file system lists", "hash set"),
    ClassInfo("ntfs/deleted", "a deleted NTFS file whose MFT record still leads to its content", "hash set"),
    ClassInfo("ntfs/renamed", "a picture with a lying extension (.dll) in a temporary folder", "hash set"),
    ClassInfo("ntfs/ads", "a picture in an NTFS alternate data stream of a text file", "hash set"),
    ClassInfo("unallocated/aligned", "a picture in unpartitioned disk space at a 4 KiB boundary", "hash set"),
    ClassInfo("unallocated/unaligned", "a picture in unpartitioned disk space at an odd byte offset", "hash set"),
    ClassInfo("archive/nested", "a picture in a zip inside a zip", "hash set"),
    ClassInfo("archive/password", "a picture in a ZipCrypto zip whose password the examiner gives", "hash set"),
    ClassInfo("archive/password-not-given", "a picture in a ZipCrypto zip whose password nobody gave: expected "
              "result: the zip reported as encrypted, the picture not reachable (and not charged)", NOT_REACHABLE),
    ClassInfo("archive/truncated", "the first member, whole, of a zip cut short inside its second", "hash set"),
    ClassInfo("document/docx", "a picture embedded in a Word document", "hash set"),
    ClassInfo("document/pdf", "a JPEG embedded unchanged in a PDF page", "hash set"),
    ClassInfo("thumbnail/exif-preview", "the EXIF preview (IFD1 JPEG) inside an unknown camera picture",
              "indicative"),
    ClassInfo("thumbnail/thumbcache", "a 256 px thumbnail in a Windows 10 thumbcache_256.db; the original is known",
              "indicative"),
    ClassInfo("thumbnail/thumbs-db", "a 96 px thumbnail in a Windows XP Thumbs.db; the original is known",
              "indicative"),
    *(ClassInfo(f"near/{kind}", f"a near variant of a known picture ({kind}); only the original is known",
                "indicative") for kind in content.NEAR_VARIANTS),
    ClassInfo("video/reencoded", "a known video scaled down and recompressed; the vPDQ file is of the original",
              "indicative"),
    ClassInfo("fat32/allocated", "a file on a FAT32 camera card", "hash set"),
    ClassInfo("fat32/deleted", "a deleted FAT32 file (first letter of its 8.3 name lost)", "hash set"),
    ClassInfo("ext4/allocated", "a file on ext4", "hash set"),
    ClassInfo("ext4/deleted", "a deleted ext4 file: its inode no longer leads to it, only carving can", "hash set"),
    ClassInfo("exfat/allocated", "a file on an exFAT stick", "hash set"),
    ClassInfo("exfat/deleted", "a deleted exFAT file", "hash set"),
    ClassInfo("phone/android-tar", "a picture in an Android full file-system extraction (tar)", "hash set"),
    ClassInfo("phone/ios-backup", "a picture in an iTunes/Finder backup of an iPhone, stored under its hashed name",
              "hash set"),
    ClassInfo("phone/android-ab", "a picture in an Android adb backup (.ab: zlib-compressed tar)", "hash set"),
    ClassInfo("phone/ufdr", "a picture in a Cellebrite UFDR package (report.xml and files by category)", "hash set"),
    ClassInfo("vhdx/allocated", "a file on NTFS in a GPT disk kept as a Hyper-V VHDX", "hash set"),
    ClassInfo("vhdx/deleted", "a deleted file on NTFS in a GPT disk kept as a Hyper-V VHDX", "hash set"),
    ClassInfo("hfsplus/allocated", "a file on a Mac's HFS+ volume", "hash set"),
    ClassInfo("hfsplus/deleted", "a deleted HFS+ file: its catalog records are gone as macOS leaves them, only "
              "carving its free blocks can find it", "hash set"),
    ClassInfo("luks/allocated", "a file on ext4 inside a LUKS1 volume (full-disk encryption), the passphrase "
              "given; no deleted class: ext4 deleted files are found only by carving, and free space inside an "
              "encrypted volume is not carved", "hash set"),
)


@dataclass
class _Planter:
    """Hands out fresh seeds and known items, and remembers what the hash sets must hold."""

    seed: int
    rng: np.random.Generator = field(init=False)
    known: list[KnownItem] = field(default_factory=list)
    benign: list[BenignItem] = field(default_factory=list)
    videos: dict[str, bytes] = field(default_factory=dict)  # ident -> vPDQ file text
    _next_seed: int = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._next_seed = self.seed * 1_000_003 + 17

    def fresh_seed(self) -> int:
        self._next_seed += 1
        return self._next_seed

    def picture(self, klass: str, exhibit: str, location: str, size: tuple[int, int] = (480, 360),
                container: str | None = None) -> tuple[bytes, Image.Image]:
        """A known picture of its own: returns its JPEG bytes (what the hash sets know) and the image."""
        image = content.picture(self.fresh_seed(), *size)
        data = content.jpeg(image)
        self._record(klass, exhibit, location, "still", data, pdq_hex(image_pdq(io.BytesIO(data)).pdq), container)
        return data, image

    def movie(self, klass: str, exhibit: str, location: str, work: Path) -> bytes:
        ident = f"K{len(self.known) + 1:04d}"
        original = content.video(work / f"{ident}.mp4", self.fresh_seed())
        hashed = video_pdq(str(original))
        self.videos[ident] = "".join(f"{f.frame},{f.quality},{pdq_hex(f.pdq)},{f.timestamp:.3f}\n"
                                     for f in hashed.frames).encode("ascii")
        self._record(klass, exhibit, location, "movie", original.read_bytes(), None)
        return content.reencoded_video(original, work / f"{ident}-reencoded.mp4").read_bytes()

    def benign_item(self, exhibit: str, path: str, kind: str) -> None:
        self.benign.append(BenignItem(exhibit, path, kind))

    def _record(self, klass: str, exhibit: str, location: str, medium: str, data: bytes, pdq: str | None,
                container: str | None = None) -> None:
        ident = f"K{len(self.known) + 1:04d}"
        self.known.append(KnownItem(ident, klass, exhibit, location, LABELS[len(self.known) % 3], medium,
                                    hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), pdq, container))


def build_corpus(folder: Path, seed: int, size: str) -> Truth:
    """Build the corpus in ``folder`` (new or empty) in a child process under libfaketime; return its truth."""
    folder = Path(folder)
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: the corpus is built in a new folder")
    if not FAKETIME_LIBRARY.exists():
        raise RuntimeError("libfaketime is missing (apt-get install faketime): without it the disk tools write "
                           "the current time and the corpus would differ on every run")
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LD_PRELOAD": str(FAKETIME_LIBRARY), "FAKETIME": CORPUS_TIME, "TZ": "UTC",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "SOURCE_DATE_EPOCH": str(content.FIXED_MTIME),
           "PYTHONHASHSEED": "0"}
    result = subprocess.run([sys.executable, "-m", "fieldlab.validation.corpus", str(folder), str(seed), size],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the validation corpus failed:\n{result.stderr[-4000:]}")
    return Truth.read(folder)


def write_corpus(folder: Path, seed: int, size: str) -> Truth:
    """Lay out every exhibit, the hash sets and the truth file (runs under libfaketime: see ``build_corpus``)."""
    planter = _Planter(seed)
    per_class = SIZES[size]
    exhibits_dir = folder / "exhibits"
    exhibits: list[ExhibitInfo] = []
    with tempfile.TemporaryDirectory(prefix="fieldlab-corpus-") as scratch:
        work = Path(scratch)
        exhibits.append(_windows_pc(planter, per_class, size, exhibits_dir / "EX01", work))
        exhibits.append(_card_and_linux(planter, per_class, size, exhibits_dir / "EX02", work))
        exhibits.append(_usb_stick(planter, per_class, size, exhibits_dir / "EX03", work))
        exhibits.append(_android(planter, per_class, size, exhibits_dir / "EX04"))
        exhibits.append(_iphone_backup(planter, per_class, size, exhibits_dir / "EX05"))
        exhibits.append(_android_backup(planter, per_class, size, exhibits_dir / "EX06"))
        exhibits.append(_ufdr_package(planter, per_class, size, exhibits_dir / "EX07"))
        exhibits.append(_virtual_machine(planter, per_class, size, exhibits_dir / "EX08", work))
        exhibits.append(_mac(planter, per_class, size, exhibits_dir / "EX09", work))
        exhibits.append(_encrypted_laptop(planter, per_class, size, exhibits_dir / "EX10", work))
    for path in exhibits_dir.rglob("*"):
        os.utime(path, (content.FIXED_MTIME, content.FIXED_MTIME))
    _write_hash_sets(folder / "hashsets", planter)
    digest = hashlib.sha256()
    for exhibit in exhibits:
        for name, _, sha in exhibit.files:
            digest.update(f"{name}\0{sha}\n".encode())
    truth = Truth(seed, size, PASSWORD, CLASSES, tuple(exhibits), tuple(planter.known), tuple(planter.benign),
                  digest.hexdigest())
    truth.write(folder)
    return truth


def _benign_files(planter: _Planter, exhibit: str, root: str, size: str, work: Path) -> list[PlantedFile]:
    """The negative control: unknown pictures, videos, documents and programs, which must produce no hit."""
    files = []
    for index in range(BENIGN_VIDEOS[size]):
        path = f"{root}Videos/Family/VID_{index + 1:04d}.mp4"
        movie = content.video(work / f"benign-{exhibit}-{index}.mp4", planter.fresh_seed(), seconds=4)
        files.append(PlantedFile(path, movie.read_bytes()))
        planter.benign_item(exhibit, path, "video")
    for index in range(BENIGN_PICTURES[size]):
        path = f"{root}Pictures/Holiday/DSC_{index + 1:04d}.jpg"
        files.append(PlantedFile(path, content.jpeg(content.picture(planter.fresh_seed(), 400, 300))))
        planter.benign_item(exhibit, path, "picture")
    for index in range(max(1, BENIGN_PICTURES[size] // 6)):
        path = f"{root}Documents/letter_{index + 1}.docx"
        photo = content.jpeg(content.picture(planter.fresh_seed(), 200, 150))
        files.append(PlantedFile(path, content.docx_with_picture(photo)))
        planter.benign_item(exhibit, path, "document")
        path = f"{root}Programs/tool_{index + 1}.exe"
        files.append(PlantedFile(path, content.executable(planter.fresh_seed(), 40_000)))
        planter.benign_item(exhibit, path, "executable")
    return files


def _size_mib(files: list[PlantedFile], minimum: int) -> int:
    return max(minimum, int(sum(len(f.data) for f in files) * 1.4) // MIB + 6)


def _windows_pc(planter: _Planter, per_class: int, size: str, target: Path, work: Path) -> ExhibitInfo:
    ref = "EX01"
    files: list[PlantedFile] = []
    cached: list[thumbnails.CachedPicture] = []
    catalogued: list[thumbnails.CatalogPicture] = []

    def plant(klass: str, path: str, make, **options) -> None:  # noqa: ANN001 - bytes -> bytes
        data, _ = planter.picture(klass, ref, f"NTFS partition, /{path}" + (f":{options['stream']}"
                                                                             if "stream" in options else ""))
        files.append(PlantedFile(path, make(data), **options))

    for i in range(1, per_class + 1):
        plant("ntfs/allocated", f"Users/alex/Pictures/IMG_{i:04d}.jpg", lambda d: d)
        plant("ntfs/deleted", f"Users/alex/Pictures/Old/DSC_{i:04d}.jpg", lambda d: d, deleted=True)
        plant("ntfs/renamed", f"Users/alex/AppData/Local/Temp/setup_{i}.dll", lambda d: d)
        files.append(PlantedFile(f"Users/alex/Documents/notes_{i}.txt", b"call garage about MOT\r\n"))
        plant("ntfs/ads", f"Users/alex/Documents/notes_{i}.txt", lambda d: d, stream="Zone.jpg")
        plant("archive/nested", f"Users/alex/Downloads/backup_{i}.zip",
              lambda d: content.zip_of({"old/inner.zip": content.zip_of({"photos/0001.jpg": d})}))
        seed = planter.fresh_seed()
        plant("archive/password", f"Users/alex/Downloads/private_{i}.zip",
              lambda d, s=seed: content.password_zip({"0001.jpg": d}, PASSWORD, s))
        locked = f"Users/alex/Downloads/locked_{i}.zip"
        data, _ = planter.picture("archive/password-not-given", ref, f"NTFS partition, /{locked}, 0001.jpg",
                                  container=locked)
        secret = planter.rng.bytes(9).hex()  # a password nobody gives: not in the truth file
        files.append(PlantedFile(locked, content.password_zip({"0001.jpg": data}, secret, planter.fresh_seed())))
        rest = content.jpeg(content.picture(planter.fresh_seed(), 320, 240))
        plant("archive/truncated", f"Users/alex/Downloads/partial_{i}.zip", lambda d, r=rest: content.truncated_zip(d, r))
        plant("document/docx", f"Users/alex/Documents/minutes_{i}.docx", content.docx_with_picture)
        plant("document/pdf", f"Users/alex/Documents/scan_{i}.pdf", content.pdf_with_jpeg)
        main = content.jpeg(content.picture(planter.fresh_seed(), 640, 480), 90)
        data, _ = planter.picture("thumbnail/exif-preview", ref,
                                  f"NTFS partition, /Users/alex/Pictures/Camera/P_{i:04d}.jpg, EXIF preview",
                                  (160, 120))
        files.append(PlantedFile(f"Users/alex/Pictures/Camera/P_{i:04d}.jpg", content.with_exif_preview(main, data)))
        for kind in content.NEAR_VARIANTS:
            path = f"Users/alex/Pictures/Saved/{kind}_{i}.jpg"
            _, image = planter.picture(f"near/{kind}", ref, f"NTFS partition, /{path}")
            files.append(PlantedFile(path, content.near_variant(image, kind)))
        _, image = planter.picture("thumbnail/thumbcache", ref, "NTFS partition, /" + _THUMBCACHE + f", entry {i}")
        cached.append(thumbnails.CachedPicture(0x5F3A_0000_0000 + i, content.jpeg(content.fitted(image, 256), 80)))
        _, image = planter.picture("thumbnail/thumbs-db", ref, f"NTFS partition, /{_THUMBS_DB}, entry {i}")
        catalogued.append(thumbnails.CatalogPicture(i, f"IMG_{i:04d}.jpg", content.FIXED_MTIME,
                                                    content.jpeg(content.fitted(image, 96), 75)))
        path = f"Users/alex/Videos/clip_{i}.mp4"
        files.append(PlantedFile(path, planter.movie("video/reencoded", ref, f"NTFS partition, /{path}", work)))
    files.append(PlantedFile(_THUMBCACHE, thumbnails.thumbcache(cached)))
    files.append(PlantedFile(_THUMBS_DB, thumbnails.compound_file(thumbnails.thumbs_db_streams(catalogued))))
    files += _benign_files(planter, ref, "Users/alex/", size, work)

    hidden: list[tuple[str, bytes]] = []
    for i in range(1, per_class + 1):
        for klass in ("unallocated/aligned", "unallocated/unaligned"):
            data, _ = planter.picture(klass, ref, "unpartitioned space after the NTFS partition")
            hidden.append((klass, data))
    gap_mib = sum(len(d) for _, d in hidden) // MIB + 2 * len(hidden) // 16 + 2
    disk = build_disk(work / "ex01.raw", "mbr", [("ntfs", _size_mib(files, 8), files)], gap_mib=gap_mib)
    _hide_in_gap(disk.path, disk.gaps[0], hidden, planter)
    target.mkdir(parents=True)
    to_e01(disk.path, target / "pc-disk", segment_size_mib=max(1, disk.size // MIB // 3 + 1),
           case_number="VALIDATION", evidence_number=ref, examiner="fieldlab validate",
           description="generated Windows PC disk", notes="generated content only")
    return _exhibit(ref, target, "pc-disk.E01", "Windows PC: MBR disk, NTFS (allocated, deleted, renamed, ADS, "
                    "archives, documents, EXIF previews, near variants, videos), data in unpartitioned space; "
                    "E01 in segments")


def _hide_in_gap(raw: Path, gap: tuple[int, int], hidden: list[tuple[str, bytes]], planter: _Planter) -> None:
    """Fill the gap with old-looking random data, then write the pictures: aligned ones at 4 KiB boundaries,
    unaligned ones at odd offsets."""
    start, length = gap
    with open(raw, "r+b") as disk:
        disk.seek(start)
        disk.write(content.seeded_bytes(planter.fresh_seed(), length))
        cursor = start + 8192
        for klass, data in hidden:
            if klass.endswith("unaligned"):
                cursor += 1 + 2 * int(planter.rng.integers(1, 700))  # odd: on no sector boundary
            disk.seek(cursor)
            disk.write(data)
            cursor = -(-(cursor + len(data) + 4096) // 4096) * 4096
            if cursor > start + length:
                raise AssertionError("the gap was sized too small for the pictures hidden in it")


def _card_and_linux(planter: _Planter, per_class: int, size: str, target: Path, work: Path) -> ExhibitInfo:
    ref = "EX02"
    fat: list[PlantedFile] = []
    ext: list[PlantedFile] = []
    for i in range(1, per_class + 1):
        for klass, path, deleted, bucket in (
                ("fat32/allocated", f"DCIM/100CANON/IMG_{i:04d}.JPG", False, fat),
                ("fat32/deleted", f"DCIM/100CANON/DEL_{i:04d}.JPG", True, fat),
                ("ext4/allocated", f"home/alex/Pictures/p_{i}.jpg", False, ext),
                ("ext4/deleted", f"home/alex/tmp/d_{i}.jpg", True, ext)):
            where = "FAT32" if bucket is fat else "ext4"
            data, _ = planter.picture(klass, ref, f"{where} partition, /{path}" + (", deleted" if deleted else ""))
            bucket.append(PlantedFile(path, data, deleted=deleted))
    ext += _benign_files(planter, ref, "home/alex/", size, work)
    disk = build_disk(work / "ex02.raw", "gpt", [("fat32", _size_mib(fat, 33), fat), ("ext4", _size_mib(ext, 8), ext)])
    target.mkdir(parents=True)
    to_split_raw(disk.path, target / "card-and-home", 8)
    return _exhibit(ref, target, "card-and-home.001", "camera card and Linux home: GPT disk, FAT32 and ext4 "
                    "(allocated and deleted); split raw, 8 MiB segments")


def _allocated_and_deleted(planter: _Planter, ref: str, per_class: int, classes: str, file_system: str,
                           allocated: str, deleted: str) -> list[PlantedFile]:
    """Per number ``i``, a known picture at ``allocated`` (class ``<classes>/allocated``) then one at ``deleted``
    (``<classes>/deleted``), the paths formatted with ``i``; in this order, which fixes the corpus's bytes."""
    files = []
    for i in range(1, per_class + 1):
        for klass, path, gone in ((f"{classes}/allocated", allocated.format(i=i), False),
                                  (f"{classes}/deleted", deleted.format(i=i), True)):
            data, _ = planter.picture(klass, ref, f"{file_system} partition, /{path}" + (", deleted" if gone else ""))
            files.append(PlantedFile(path, data, deleted=gone))
    return files


def _usb_stick(planter: _Planter, per_class: int, size: str, target: Path, work: Path) -> ExhibitInfo:
    ref = "EX03"
    files = _allocated_and_deleted(planter, ref, per_class, "exfat", "exFAT", "Photos/pic_{i}.jpg",
                                   "Photos/gone_{i}.jpg")
    files += _benign_files(planter, ref, "", size, work)
    disk = build_disk(work / "ex03.raw", "mbr", [("exfat", _size_mib(files, 8), files)])
    target.mkdir(parents=True)
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(disk.path),
                    str(target / "usb-stick.qcow2")], check=True, capture_output=True)
    return _exhibit(ref, target, "usb-stick.qcow2", "USB stick: MBR disk, exFAT (allocated and deleted); QCOW2")


def _android(planter: _Planter, per_class: int, size: str, target: Path) -> ExhibitInfo:
    ref = "EX04"
    storage = "data/media/0"
    members = {"system/build.prop": b"ro.product.model=SM-G960F\nro.product.manufacturer=samsung\n"
                                    b"ro.build.version.release=13\n"}
    for i in range(1, per_class + 1):
        for path in (f"{storage}/DCIM/Camera/IMG_20240101_{i:06d}.jpg",
                     f"{storage}/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20240101-WA{i:04d}.jpg"):
            members[path], _ = planter.picture("phone/android-tar", ref, f"extraction, /{path}")
    for index in range(BENIGN_PICTURES[size]):
        path = f"{storage}/DCIM/Camera/IMG_20230701_{index:06d}.jpg"
        members[path] = content.jpeg(content.picture(planter.fresh_seed(), 400, 300))
        planter.benign_item(ref, path, "picture")
    target.mkdir(parents=True)
    (target / "android-ffs.tar").write_bytes(content.tar_of(members))
    return _exhibit(ref, target, "android-ffs.tar", "Android phone: full file-system extraction as a tar")


_IPHONE_UDID = "00008030-001a2b3c4d5e802e"
_WHATSAPP_GROUP = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"


def _benign_phone_pictures(planter: _Planter, size: str) -> list[bytes]:
    """A phone's share of the negative control: a quarter of a disk's unknown pictures."""
    return [content.jpeg(content.picture(planter.fresh_seed(), 400, 300)) for _ in range(BENIGN_PICTURES[size] // 4)]


def _iphone_backup(planter: _Planter, per_class: int, size: str, target: Path) -> ExhibitInfo:
    ref = "EX05"
    files = {("HomeDomain", "Library/Preferences/.GlobalPreferences.plist"): b'<?xml version="1.0"?><plist '
             b'version="1.0"><dict><key>AppleLanguages</key><array><string>en-GB</string></array></dict></plist>'}
    for i in range(1, per_class + 1):
        for key in (("CameraRollDomain", f"Media/DCIM/100APPLE/IMG_{i:04d}.JPG"),
                    (_WHATSAPP_GROUP, f"Message/Media/447700900123@s.whatsapp.net/{i % 10}/{i:x}/{i:04d}.jpg")):
            stored = phones.stored_name(*key)
            files[key], _ = planter.picture("phone/ios-backup", ref, f"iOS backup, {key[0]}/{key[1]} (stored as "
                                            f"{stored})")
    for index, data in enumerate(_benign_phone_pictures(planter, size)):
        key = ("CameraRollDomain", f"Media/DCIM/101APPLE/IMG_{1001 + index:04d}.JPG")
        files[key] = data
        planter.benign_item(ref, phones.stored_name(*key), "picture")
    phones.ios_backup(target, _IPHONE_UDID, files)
    return _exhibit(ref, target, _IPHONE_UDID, "iPhone: an unencrypted iTunes/Finder backup folder (Manifest.db, "
                    "files stored under hashed names)")


def _android_backup(planter: _Planter, per_class: int, size: str, target: Path) -> ExhibitInfo:
    ref = "EX06"
    members = {"apps/com.whatsapp/_manifest": b"1\ncom.whatsapp\n231180\n33\nsamsung/SM-A536B\n0\n0\n"}
    for i in range(1, per_class + 1):
        for path in (f"shared/0/DCIM/Camera/IMG_20240301_{i:06d}.jpg",
                     f"apps/com.whatsapp/ef/WhatsApp/Media/WhatsApp Images/IMG-20240301-WA{i:04d}.jpg"):
            members[path], _ = planter.picture("phone/android-ab", ref, f"adb backup, {path}")
    for index, data in enumerate(_benign_phone_pictures(planter, size)):
        path = f"shared/0/Pictures/Screenshots/Screenshot_20240302-{index:06d}.jpg"
        members[path] = data
        planter.benign_item(ref, path, "picture")
    target.mkdir(parents=True)
    (target / "backup.ab").write_bytes(phones.android_backup(content.tar_of(members)))
    return _exhibit(ref, target, "backup.ab", "Android phone: an adb backup (.ab, compressed, no password) of "
                    "shared storage and app data")


def _ufdr_package(planter: _Planter, per_class: int, size: str, target: Path) -> ExhibitInfo:
    ref = "EX07"
    files = []
    for i in range(1, per_class + 1):
        for phone_path in (f"/storage/emulated/0/DCIM/Camera/IMG_20240401_{i:06d}.jpg",
                           f"/storage/emulated/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/"
                           f"IMG-20240401-WA{i:04d}.jpg"):
            local = f"files/Image/{phone_path.rsplit('/', 1)[1]}"
            data, _ = planter.picture("phone/ufdr", ref, f"UFDR, {local} (on the phone {phone_path})")
            files.append(phones.ExtractedFile(phone_path, local, data))
    for index, data in enumerate(_benign_phone_pictures(planter, size)):
        local = f"files/Image/Screenshot_20240402-{index:06d}.jpg"
        files.append(phones.ExtractedFile(f"/storage/emulated/0/Pictures/Screenshots/{local.rsplit('/', 1)[1]}",
                                          local, data))
        planter.benign_item(ref, local, "picture")
    target.mkdir(parents=True)
    device = {"DeviceInfoDetectedManufacturer": "samsung", "DeviceInfoDetectedModel": "SM-A536B",
              "DeviceInfoOSVersion": "14", "IMEI": "352099001761481"}
    (target / "extraction.ufdr").write_bytes(phones.ufdr(device, files))
    return _exhibit(ref, target, "extraction.ufdr", "Android phone: a Cellebrite UFDR package (report.xml, files "
                    "sorted by category)")


def _virtual_machine(planter: _Planter, per_class: int, size: str, target: Path, work: Path) -> ExhibitInfo:
    ref = "EX08"
    files = _allocated_and_deleted(planter, ref, per_class, "vhdx", "NTFS", "Users/sam/Pictures/vm_{i:04d}.jpg",
                                   "Users/sam/Pictures/Trash/vm_del_{i:04d}.jpg")
    files += _benign_files(planter, ref, "Users/sam/", size, work)
    disk = build_disk(work / "ex08.raw", "gpt", [("ntfs", _size_mib(files, 8), files)])
    target.mkdir(parents=True)
    image = target / "hyperv-disk.vhdx"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vhdx", str(disk.path), str(image)],
                   check=True, capture_output=True)
    vhdx.make_reproducible(image, bytes.fromhex(_sha256(disk.path)))
    return _exhibit(ref, target, "hyperv-disk.vhdx", "Hyper-V virtual machine: GPT disk, NTFS (allocated and "
                    "deleted); VHDX")


def _mac(planter: _Planter, per_class: int, size: str, target: Path, work: Path) -> ExhibitInfo:
    ref = "EX09"
    files = _allocated_and_deleted(planter, ref, per_class, "hfsplus", "HFS+", "Users/robin/Pictures/Photos/mac_{i:04d}.jpg",
                                   "Users/robin/.Trash/mac_del_{i:04d}.jpg")
    files += _benign_files(planter, ref, "Users/robin/", size, work)
    target.mkdir(parents=True)
    build_disk(target / "macbook.dd", "gpt", [("hfsplus", _size_mib(files, 8), files)])
    return _exhibit(ref, target, "macbook.dd", "Mac: GPT disk, HFS+ (allocated and deleted); raw (dd)")


def _encrypted_laptop(planter: _Planter, per_class: int, size: str, target: Path, work: Path) -> ExhibitInfo:
    ref = "EX10"
    files = []
    for i in range(1, per_class + 1):
        path = f"home/kim/Pictures/lx_{i:04d}.jpg"
        data, _ = planter.picture("luks/allocated", ref, f"ext4 in the LUKS1 partition, /{path}")
        files.append(PlantedFile(path, data))
    files += _benign_files(planter, ref, "home/kim/", size, work)
    plaintext = build_disk(work / "ex10-ext4.img", "none", [("ext4", _size_mib(files, 8), files)])
    target.mkdir(parents=True)
    build_luks1_disk(target / "laptop.dd", "gpt", plaintext.path, LUKS_PASSPHRASE)
    return _exhibit(ref, target, "laptop.dd", "Linux laptop with full-disk encryption: GPT disk, a LUKS1 partition "
                    "holding ext4 (allocated; the passphrase given); raw (dd)", luks_password=LUKS_PASSPHRASE)


def _exhibit(ref: str, folder: Path, source: str, description: str, luks_password: str | None = None) -> ExhibitInfo:
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        files.append((f"exhibits/{ref}/{path.relative_to(folder).as_posix()}", path.stat().st_size, _sha256(path)))
    return ExhibitInfo(ref, f"exhibits/{ref}/{source}", description, tuple(files), luks_password)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def _write_hash_sets(folder: Path, planter: _Planter) -> None:
    """What a force receives: MD5/SHA-1 CSV, the same as VICS JSON (with its category mapping), a categorised
    ``pdq,category`` list and a folder of vPDQ files; plus decoys, since a set always holds more than a device."""
    folder.mkdir(parents=True)
    stills = [k for k in planter.known if k.medium == "still"]
    decoys = [(planter.rng.bytes(16).hex(), planter.rng.bytes(20).hex(), LABELS[i % 3]) for i in range(3 * len(stills))]
    exact = sorted([(k.md5, k.sha1, k.category) for k in planter.known] + decoys)
    with open(folder / "known.csv", "w", newline="", encoding="ascii") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["md5", "sha1", "category"])
        writer.writerows(exact)
    raw = {label: number for number, label in VICS_MAPPING.items()}
    media = [{"MediaID": n, "MD5": md5.upper(), "SHA1": sha1.upper(), "Category": int(raw[category]),
              "IsPrecategorized": True} for n, (md5, sha1, category) in enumerate(exact, start=1)]
    vics = {"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Cases",
            "value": [{"CaseID": "00000000-0000-4000-8000-00000000f1e1", "CaseNumber": "VALIDATION",
                       "SourceApplicationName": "fieldlab validate", "TotalMediaFiles": len(media), "Media": media}]}
    (folder / "known.vics.json").write_text(json.dumps(vics, indent=1) + "\n", encoding="utf-8")
    (folder / "vics-category-mapping.json").write_text(json.dumps(VICS_MAPPING) + "\n", encoding="utf-8")
    with open(folder / "known-pdq.csv", "w", newline="", encoding="ascii") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["pdq", "category"])
        writer.writerows(sorted((k.pdq, k.category) for k in stills))
    videos = folder / "known-videos"
    videos.mkdir()
    with open(videos / "categories.csv", "w", newline="", encoding="ascii") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["file", "category"])
        for known in planter.known:
            if known.medium == "movie":
                writer.writerow([f"{known.ident}.txt", known.category])
                (videos / f"{known.ident}.txt").write_bytes(planter.videos[known.ident])
    for path in folder.rglob("*"):
        os.utime(path, (content.FIXED_MTIME, content.FIXED_MTIME))


if __name__ == "__main__":  # the child process build_corpus starts under libfaketime
    write_corpus(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
