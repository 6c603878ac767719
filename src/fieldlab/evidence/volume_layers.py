"""Every layer between a disk's media and its file systems in one table: how it opens, what it needs, what it holds.

A disk image's locator starts with volume layers, outermost first: ``partition:1048576|bde:|vss:1|fsfile:...``
is a file of shadow copy 1 of the decrypted BitLocker volume at byte 1,048,576 (``partition:1048576|luks:`` would be
the decrypted LUKS volume there).  ``ImageSource`` opens such a chain by handing each layer's value to its
``VolumeLayer`` with the view its parent opened, and keeps each view under the text of its layer path, so re-opening
an item names no layer kind and fixes no order.  An encrypted layer (BitLocker, LUKS) is one ``VolumeLayer`` line in
``LAYERS``, its kind in ``fieldlab.locator.VOLUME_LAYER_KINDS`` and its secret as a field of ``UnlockOptions``: the
survey tries every ``encryption`` entry on each volume.  A layer of a new role (the logical volumes of an LVM
physical volume, ``partition:1048576|lvm:0``) also needs the survey to descend into it.
``tests/evidence/test_volume_layers.py`` fails when the table and the locator's vocabulary disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Literal, Protocol

import pybde
import pyluksde
import pytsk3
import pyvshadow

from fieldlab.errors import EvidenceError
from fieldlab.evidence.apfs import ApfsFileReader, open_apfs_container
from fieldlab.evidence.filesystem import ImageFileReader, TskFileReader
from fieldlab.evidence.luks_header import has_luks_magic, read_luks_header
from fieldlab.evidence.luks_key import derive_master_key, derived_here, unlock_refusal
from fieldlab.evidence.luks_sectors import LuksPayload
from fieldlab.evidence.lvm import LvmError, PhysicalVolumeLabel, VolumeGroup, read_label, read_volume_group
from fieldlab.locator import LocatorError, VolumeLayerKind, display_bytes
from fieldlab.problems import ProblemKind

if TYPE_CHECKING:
    from fieldlab.evidence.image import UnlockOptions

class RangeReader(Protocol):
    @property
    def size(self) -> int: ...

    def read(self, offset: int, size: int) -> bytes: ...


class LockedVolume(EvidenceError):
    """An encrypted volume the unlock options given do not open; the message says what to supply, ``kind`` why it
    stays closed: encrypted, or (its header checked before any key is tried) damaged, cut short, unsupported."""

    def __init__(self, message: str, kind: ProblemKind = ProblemKind.ENCRYPTED) -> None:
        super().__init__(message)
        self.kind = kind


class Region:
    """A window of a larger range: one partition of a disk."""

    def __init__(self, parent: RangeReader, start: int, length: int) -> None:
        self._parent, self._start = parent, start
        self.size = max(0, min(length, parent.size - start))

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size:
            return b""
        return self._parent.read(self._start + offset, min(size, self.size - offset))


class FileObject:
    """The file-like face of a range, which the libyal libraries (pybde, pyvshadow, pyfsapfs) read through."""

    def __init__(self, source: RangeReader) -> None:
        self._source, self._offset = source, 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._source.size - self._offset
        data = self._source.read(self._offset, size)
        self._offset += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        self._offset = offset if whence == 0 else (self._offset + offset if whence == 1 else self._source.size + offset)
        return self._offset

    def tell(self) -> int:
        return self._offset

    def get_size(self) -> int:
        return self._source.size


class LibyalRange:
    """A decrypted BitLocker or LUKS volume or a shadow-copy store as a range.

    Reads are widened to whole 512-byte sectors and cut back here: libluksde returns wrong bytes for a read that
    begins inside a sector (tests/evidence/test_luks_key.py), and these volumes are sector devices to every reader
    of them, so the widening costs nothing where reads are already aligned."""

    def __init__(self, handle, owner: object = None) -> None:  # noqa: ANN001
        self._handle = handle
        self._owner = owner  # a shadow-copy store reads through its parent volume: keep that alive too
        self.size = handle.get_size() if hasattr(handle, "get_size") else handle.get_volume_size()

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.size:
            return b""
        end = min(offset + size, self.size)
        start, stop = offset - offset % _SECTOR, min(-(-end // _SECTOR) * _SECTOR, self.size)
        data = self._handle.read_buffer_at_offset(stop - start, start)
        return data if (start, stop) == (offset, end) else data[offset - start:end - start]


_SECTOR = 512


# How a file system TSK could not open because a read of its range failed is told from one it did not recognise.
READ_FAILED = "a read failed while its file system was opened"


class TskImage(pytsk3.Img_Info):
    """A range as The Sleuth Kit reads it, through Python call-backs.  The first read that failed is kept: TSK hands
    it back as its own error, in words that vary with the layer that failed."""

    def __init__(self, source: RangeReader) -> None:
        self._source = source
        self.read_error: OSError | None = None
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:
        try:
            return self._source.read(offset, size)
        except OSError as exc:
            self.read_error = self.read_error or exc
            raise

    def get_size(self) -> int:
        return self._source.size

    def close(self) -> None:
        pass


class RangeVolume:
    """What a layer opened as bytes: the media, a partition, a decrypted volume, a shadow copy.  The file system (or
    APFS container) on it is opened once, when first asked for."""

    def __init__(self, data: RangeReader, native: tuple[pytsk3.Img_Info, int] | None = None,
                 partitions: Callable[[], dict[int, int]] | None = None) -> None:
        self.data = data
        self.native = native  # (the raw image as TSK opened it, this range's offset in it): nothing sits in between
        self._partitions = partitions  # the media only: the volume system's volumes, offset -> length
        self._file_system: pytsk3.FS_Info | None = None
        self._apfs: tuple[object, FileObject] | None = None
        self._label: tuple[PhysicalVolumeLabel | None] | None = None
        self._group: VolumeGroup | None = None

    def partitions(self) -> dict[int, int]:
        if self._partitions is None:
            raise LocatorError("a partition lies only on the media itself")
        return self._partitions()

    def file_system(self) -> pytsk3.FS_Info:
        """TSK's file system on this range; OSError or RuntimeError when TSK recognises none.  Straight from a raw
        image or device when nothing sits in between, since TSK then reads in C; through our Python layers
        otherwise (measured: 191,870 reads for a 100,000-file NTFS walk cost 2.0 s of Python call-backs)."""
        if self._file_system is None:
            if self.native is not None:
                self._file_system = pytsk3.FS_Info(self.native[0], offset=self.native[1])
            else:
                image = TskImage(self.data)
                try:
                    self._file_system = pytsk3.FS_Info(image)
                except (OSError, RuntimeError) as exc:
                    if image.read_error is None:
                        raise
                    raise OSError(f"{READ_FAILED} ({str(image.read_error)[:300]})") from exc
        return self._file_system

    def apfs_container(self):  # noqa: ANN201 - a pyfsapfs.container, or None when the range holds no APFS
        if self._apfs is None:
            file_object = FileObject(self.data)  # libfsapfs reads through it: kept with the container
            self._apfs = (open_apfs_container(file_object), file_object)
        return self._apfs[0]

    def physical_volume_label(self) -> PhysicalVolumeLabel | None:
        """This range's LVM physical volume label, read once; None when it has none, LvmError (or OSError) when one
        is there but cannot be read."""
        if self._label is None:
            try:
                self._label = (read_label(self.data),)
            except OSError:  # shorter than a label (a tiny partition) or unreadable there: not read as LVM
                self._label = (None,)
        return self._label[0]

    def volume_group(self) -> VolumeGroup | None:
        """The LVM volume group this range is a physical volume of: as joined with the group's other physical
        volumes on the same evidence (``join_volume_group``), or read from this one alone (the others then
        missing); None when it is no physical volume, LvmError when its metadata cannot be read."""
        if self._group is None:
            label = self.physical_volume_label()
            if label is None:
                return None
            self._group = read_volume_group([(label, self.data)])
        return self._group

    def join_volume_group(self, group: VolumeGroup) -> None:
        self._group = group

    def open_file(self, address: int, stream: bytes | None) -> ImageFileReader:
        return TskFileReader(self.file_system(), address, stream)


class ApfsVolume:
    """A volume of an APFS container: its own file system, read through libfsapfs."""

    def __init__(self, volume) -> None:  # noqa: ANN001 - a pyfsapfs.volume
        self.volume = volume

    def open_file(self, address: int, stream: bytes | None) -> ImageFileReader:
        if stream is not None:
            raise LocatorError("APFS volumes are read without named streams")
        return ApfsFileReader(self.volume, address)


Volume = RangeVolume | ApfsVolume


@dataclass(frozen=True)
class VolumeLayer:
    kind: VolumeLayerKind
    role: Literal["volume", "encryption", "snapshot", "container"]  # encryption: wraps a whole volume
    open: Callable[[RangeVolume, bytes, UnlockOptions], Volume]  # the layer named by a value, on its parent
    children: Callable[[RangeVolume], tuple[bytes, ...]]  # the values of this layer found on a parent
    unlock: tuple[str, ...] = ()  # the UnlockOptions fields it reads
    fact: str = ""  # an encryption layer: the volume's ``encryption`` fact


def _partition(parent: RangeVolume, value: bytes, _: UnlockOptions) -> RangeVolume:
    offset = _number(value, "partition offset")
    length = parent.partitions().get(offset)
    if length is None:
        raise LocatorError(f"no volume at offset {offset}")
    native = (parent.native[0], parent.native[1] + offset) if parent.native is not None else None
    return RangeVolume(Region(parent.data, offset, length), native)


def _partition_offsets(parent: RangeVolume) -> tuple[bytes, ...]:
    return tuple(str(offset).encode() for offset in parent.partitions())


def _bitlocker_found(parent: RangeVolume) -> tuple[bytes, ...]:
    """libbde's own check: BitLocker To Go hides behind a readable FAT discovery volume, so a FAT check is not enough."""
    try:
        return (b"",) if pybde.check_volume_signature_file_object(FileObject(parent.data)) else ()
    except OSError:
        return ()


def _bitlocker(parent: RangeVolume, _: bytes, unlock: UnlockOptions) -> RangeVolume:
    if not (unlock.bitlocker_password or unlock.bitlocker_recovery_key):
        raise LockedVolume("encrypted volume (BitLocker): supply the recovery key or password "
                           "(--bitlocker-password or --bitlocker-recovery-key)")
    volume = pybde.volume()
    if unlock.bitlocker_password:
        volume.set_password(unlock.bitlocker_password)
    if unlock.bitlocker_recovery_key:
        volume.set_recovery_password(unlock.bitlocker_recovery_key)
    try:
        volume.open_file_object(FileObject(parent.data))
    except OSError as exc:
        raise LockedVolume(f"encrypted volume (BitLocker) could not be opened: {exc}") from None
    if volume.is_locked():
        raise LockedVolume("encrypted volume (BitLocker): the password or recovery key given does not unlock it")
    return RangeVolume(LibyalRange(volume))


def _luks_found(parent: RangeVolume) -> tuple[bytes, ...]:
    """By the header's magic alone (LUKS1 or LUKS2, or a LUKS2 header's second copy): never by a partition type."""
    return (b"",) if has_luks_magic(parent.data) else ()


def _luks(parent: RangeVolume, _: bytes, unlock: UnlockOptions) -> RangeVolume:
    """The decrypted volume, LUKS1 or LUKS2.  The header is checked first (``luks_header``): a damaged one is said so
    with or without a passphrase, and no KDF runs that costs more than ``luks_key.unlock_refusal`` allows.  A master
    key the scan's first process derived (``unlock.luks_keys``) opens the volume with no KDF; otherwise it is derived
    here (``luks_key``), or, for a LUKS1 cipher or hash read only by libluksde, libluksde opens the volume with the
    passphrase (a LUKS2 header names only what is derived here: ``luks2_metadata``)."""
    header = read_luks_header(parent.data)
    if header.problem is not None:
        raise LockedVolume(header.problem.message, header.problem.kind)
    layout = header.layout
    assert layout is not None  # a header without a problem comes with its fields
    derived = derived_here(layout)
    known = next((key for key in unlock.luks_keys if key.opens(layout)), None) if derived else None
    if known is not None:
        return RangeVolume(LuksPayload(parent.data, layout, known))
    if not unlock.luks_password:
        raise LockedVolume("LUKS volume: locked, give --luks-password to read it")
    refusal = unlock_refusal(layout)
    if refusal is not None:
        raise LockedVolume(refusal.message, refusal.kind)
    if not derived:
        return _luks_by_libluksde(parent, unlock.luks_password)
    try:
        key = derive_master_key(layout, parent.data, unlock.luks_password)
    except OSError as exc:
        raise LockedVolume(f"LUKS volume: its key slots cannot be read: {str(exc)[:300]}",
                           ProblemKind.UNREADABLE) from None
    if key is None:
        untried = f" ({'; '.join(layout.unread_slots)[:500]}: not tried)" if layout.unread_slots else ""
        raise LockedVolume(_WRONG_PASSPHRASE + untried)
    return RangeVolume(LuksPayload(parent.data, layout, key))


_WRONG_PASSPHRASE = "LUKS volume: the --luks-password given does not unlock it"


def _luks_by_libluksde(parent: RangeVolume, passphrase: str) -> RangeVolume:
    """A cipher or hash ``luks_key`` does not read: libluksde runs its own PBKDF2, in every process that opens it."""
    volume = pyluksde.volume()
    volume.set_password(passphrase)
    try:
        volume.open_file_object(FileObject(parent.data))
    except OSError as exc:
        raise LockedVolume(f"LUKS volume: libluksde could not open it (a cipher or hash it does not read, or a field "
                           f"damaged): {str(exc)[:300]}", ProblemKind.UNSUPPORTED) from None
    if volume.is_locked():
        raise LockedVolume(_WRONG_PASSPHRASE)
    return RangeVolume(LibyalRange(volume))


def shadow_copies(parent: RangeVolume) -> list[dict]:
    """The volume's shadow copies with when each was made and its size: the facts the case records."""
    try:
        if not pyvshadow.check_volume_signature_file_object(FileObject(parent.data)):
            return []
        volume = pyvshadow.volume()
        volume.open_file_object(FileObject(parent.data))
    except OSError:
        return []
    copies = []
    for index in range(volume.get_number_of_stores()):
        store = volume.get_store(index)
        created = store.get_creation_time()
        copies.append({
            "index": index,
            "created": created.replace(tzinfo=timezone.utc).isoformat() if isinstance(created, datetime) else str(created),
            "size": store.get_volume_size(),
        })
    return copies


def _shadow_copy(parent: RangeVolume, value: bytes, _: UnlockOptions) -> RangeVolume:
    volume = pyvshadow.volume()
    volume.open_file_object(FileObject(parent.data))
    return RangeVolume(LibyalRange(volume.get_store(_number(value, "shadow copy index")), owner=volume))


def _apfs_volume(parent: RangeVolume, value: bytes, _: UnlockOptions) -> ApfsVolume:
    container = parent.apfs_container()
    if container is None:
        raise LocatorError("no APFS container on this volume")
    index = _number(value, "APFS volume index")
    if index >= container.get_number_of_volumes():
        raise LocatorError(f"the APFS container has no volume {index}")
    return ApfsVolume(container.get_volume(index))


def _apfs_volume_indexes(parent: RangeVolume) -> tuple[bytes, ...]:
    container = parent.apfs_container()
    return tuple(str(i).encode() for i in range(container.get_number_of_volumes())) if container is not None else ()


def lvm_name(name: bytes, fallback: str) -> str:
    """A volume group's or logical volume's name from suspect metadata, at most 120 characters, its control
    characters escaped as every shown name's are (``display_bytes``); ``fallback`` when it is not UTF-8."""
    try:
        return display_bytes(name.decode("utf-8")[:120].encode()) or fallback
    except UnicodeDecodeError:
        return fallback


def _logical_volume(parent: RangeVolume, value: bytes, _: UnlockOptions) -> RangeVolume:
    try:
        group = parent.volume_group()
    except (OSError, LvmError) as exc:
        raise LocatorError(f"the LVM volume group could not be read: {exc}") from None
    if group is None:
        raise LocatorError("no LVM physical volume here")
    index = _number(value, "logical volume index")
    if index >= len(group.map.logical_volumes):
        raise LocatorError(f"the LVM volume group has no logical volume {index}")
    try:
        return RangeVolume(group.logical_volume(index))
    except LvmError as exc:
        raise LocatorError(f"logical volume {index}: {exc}") from None


def _logical_volume_indexes(parent: RangeVolume) -> tuple[bytes, ...]:
    try:
        group = parent.volume_group()
    except (OSError, LvmError):
        return ()
    return tuple(str(i).encode() for i in range(len(group.map.logical_volumes))) if group is not None else ()


def _number(value: bytes, what: str) -> int:
    if not value.isdigit() or len(value) > 20:
        raise LocatorError(f"not a {what}: {value[:40]!r}")
    return int(value)


LAYERS: tuple[VolumeLayer, ...] = (
    VolumeLayer("partition", "volume", _partition, _partition_offsets),
    VolumeLayer("bde", "encryption", _bitlocker, _bitlocker_found, ("bitlocker_password", "bitlocker_recovery_key"),
                fact="bitlocker"),
    VolumeLayer("luks", "encryption", _luks, _luks_found, ("luks_password", "luks_keys"), fact="luks"),
    VolumeLayer("vss", "snapshot", _shadow_copy, lambda parent: tuple(str(c["index"]).encode()
                                                                      for c in shadow_copies(parent))),
    VolumeLayer("apfsvol", "container", _apfs_volume, _apfs_volume_indexes),
    VolumeLayer("lvm", "volume", _logical_volume, _logical_volume_indexes),
)
BY_KIND: dict[str, VolumeLayer] = {layer.kind: layer for layer in LAYERS}  # looked up with any layer kind
ENCRYPTIONS = tuple(layer for layer in LAYERS if layer.role == "encryption")
