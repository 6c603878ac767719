"""NTFS files as Windows 10/11 leaves them behind reparse points: OneDrive cloud placeholders and WOF-compressed
files, planted with libntfs-3g (``disks._NtfsVolume``).

WOF chunks are compressed by wimlib (libwim, Debian's ``wimtools``): WIM resources use the same XPRESS Huffman and
LZX formats as WOF (wimlib's own ``compact`` support writes WOF files with them), so the content read back is checked
against a compressor that is not the decompressor under test (libfwnt).
"""

from __future__ import annotations

import ctypes
import random
import struct
import subprocess
from functools import cache
from pathlib import Path

from fieldlab.validation.disks import _ntfs_volume, _NtfsVolume

CLOUD_6 = 0x9000601A  # the tag OneDrive's placeholders carry
WOF_XPRESS4K, WOF_LZX, WOF_XPRESS8K, WOF_XPRESS16K = 0, 1, 2, 3
CHUNK_SIZES = {WOF_XPRESS4K: 4096, WOF_LZX: 32768, WOF_XPRESS8K: 8192, WOF_XPRESS16K: 16384}
_WIMLIB_XPRESS, _WIMLIB_LZX = 1, 2
FILE_ATTRIBUTE_SPARSE_FILE, FILE_ATTRIBUTE_OFFLINE = 0x200, 0x1000
FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS = 0x400000
FORMS = {"xpress4k": WOF_XPRESS4K, "lzx": WOF_LZX, "xpress8k": WOF_XPRESS8K, "xpress16k": WOF_XPRESS16K}
# repetitive text (compressed chunks), random bytes (chunks stored as they are) and a last chunk cut short
CONTENT = b"gradient of shapes " * 4000 + random.Random(7).randbytes(40000) + b"tail" * 777
LOCAL = b"a downloaded picture " * 4000
PLAIN = b"an ordinary file " * 500
CLOUD_SIZE = 300_000


@cache
def _wimlib() -> ctypes.CDLL:
    lib = ctypes.CDLL("libwim.so.15")
    lib.wimlib_create_compressor.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_uint,
                                             ctypes.POINTER(ctypes.c_void_p)]
    lib.wimlib_compress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.c_void_p]
    lib.wimlib_compress.restype = ctypes.c_size_t
    lib.wimlib_free_compressor.argtypes = [ctypes.c_void_p]
    return lib


def compressed_chunk(data: bytes, form: int) -> bytes:
    """One chunk as WOF stores it: compressed by wimlib, or as it is when compression does not shrink it."""
    lib, compressor = _wimlib(), ctypes.c_void_p()
    kind = _WIMLIB_LZX if form == WOF_LZX else _WIMLIB_XPRESS
    assert lib.wimlib_create_compressor(kind, CHUNK_SIZES[form], 50, ctypes.byref(compressor)) == 0
    try:
        out = ctypes.create_string_buffer(len(data))
        size = lib.wimlib_compress(data, len(data), out, len(data) - 1, compressor)
    finally:
        lib.wimlib_free_compressor(compressor)
    return out.raw[:size] if size else data


def wof_stream(data: bytes, form: int) -> bytes:
    """``WofCompressedData``: where chunks 1.. start (4-byte entries), then the chunks."""
    unit = CHUNK_SIZES[form]
    chunks = [compressed_chunk(data[i:i + unit], form) for i in range(0, len(data), unit)]
    starts, position = [], 0
    for chunk in chunks[:-1]:
        position += len(chunk)
        starts.append(position)
    return struct.pack(f"<{len(starts)}I", *starts) + b"".join(chunks)


def reparse_data(tag: int, data: bytes) -> bytes:
    return struct.pack("<IHH", tag, len(data), 0) + data


def wof_reparse_data(form: int, provider: int = 2) -> bytes:
    """WOF_EXTERNAL_INFO (version 1, provider) and FILE_PROVIDER_EXTERNAL_INFO_V1 (version 1, format)."""
    return reparse_data(0x80000017, struct.pack("<IIII", 1, provider, 1, form))


def onedrive_reparse_data(tag: int = CLOUD_6) -> bytes:
    """A cloud reparse buffer shaped as OneDrive's: flags and length, then the uncompressed ``FeRp`` blob."""
    blob = b"FeRp" + struct.pack("<IHHI", 0x5E1A3B2C, 40, 1, 2) + bytes(26)
    return reparse_data(tag, struct.pack("<HH", 1, len(blob) + 4) + blob)


def plant_cloud_only(volume: _NtfsVolume, path: str, size: int, tag: int = CLOUD_6) -> None:
    """A Files On-Demand placeholder: the full size, all of it a hole, the attributes Windows gives it."""
    volume.write_file(path, b"", {})
    volume.make_sparse(path, size)
    volume.set_reparse_point(path, onedrive_reparse_data(tag))
    volume.set_file_attributes(path, FILE_ATTRIBUTE_SPARSE_FILE | FILE_ATTRIBUTE_OFFLINE
                               | FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS)


def plant_cloud_local(volume: _NtfsVolume, path: str, data: bytes) -> None:
    """A placeholder whose content has been downloaded ("locally available")."""
    volume.write_file(path, data, {})
    volume.set_reparse_point(path, onedrive_reparse_data())


def plant_wof(volume: _NtfsVolume, path: str, size: int, stream: bytes, reparse: bytes) -> None:
    """A WOF file: its unnamed data a hole of ``size`` bytes, its content in ``WofCompressedData``."""
    volume.write_file(path, b"", {"WofCompressedData": stream})
    volume.make_sparse(path, size)
    volume.set_reparse_point(path, reparse)


def build_laptop_volume(image: Path) -> Path:
    """A raw NTFS volume as a Windows 11 laptop leaves OneDrive and Compact OS files (made with libntfs-3g): two
    cloud-only placeholders, one downloaded, WOF files in every format holding ``CONTENT``, WOF files that cannot be
    read (an unknown format, WIMBoot, hostile tables and chunks), and an ordinary file with a stream named as WOF's."""
    with image.open("wb") as raw:
        raw.truncate(24 << 20)
    subprocess.run(["mkntfs", "-F", "-f", "-Q", "-q", str(image)], check=True, capture_output=True)
    with _ntfs_volume(image) as volume:
        volume.make_folders("Users/a/OneDrive/Pictures/x")
        volume.make_folders("Windows/System32/x")
        plant_cloud_only(volume, "Users/a/OneDrive/Pictures/beach.jpg", CLOUD_SIZE)
        plant_cloud_only(volume, "Users/a/OneDrive/Pictures/party.jpg", 12_345, tag=0x9000101A)  # CLOUD_1
        plant_cloud_local(volume, "Users/a/OneDrive/Pictures/local.jpg", LOCAL)
        volume.write_file("Users/a/plain.txt", PLAIN, {"WofCompressedData": b"hidden in a stream of that name"})
        for name, form in FORMS.items():
            plant_wof(volume, f"Windows/System32/{name}.dll", len(CONTENT), wof_stream(CONTENT, form),
                      wof_reparse_data(form))
        plant_wof(volume, "Windows/System32/unknown.dll", len(CONTENT), wof_stream(CONTENT, WOF_XPRESS4K),
                  wof_reparse_data(7))
        plant_wof(volume, "Windows/System32/wimboot.dll", len(CONTENT), b"", wof_reparse_data(0, provider=1))
        # a table for 4,096 chunks over a stream of a few bytes (TSK itself refuses a sparse run longer than the
        # volume, so a table of 10^9 chunks is tried on ``WofContent`` alone)
        plant_wof(volume, "Windows/System32/huge.dll", 16 << 20, b"\0" * 64, wof_reparse_data(WOF_XPRESS4K))
        # a chunk that claims more bytes than its unit holds
        plant_wof(volume, "Windows/System32/inflated.dll", 8192, struct.pack("<I", 5000) + bytes(9000),
                  wof_reparse_data(WOF_XPRESS4K))
        # a compressed chunk that is garbage
        plant_wof(volume, "Windows/System32/garbage.dll", 4096, b"\xff" * 300, wof_reparse_data(WOF_XPRESS4K))
    return image
