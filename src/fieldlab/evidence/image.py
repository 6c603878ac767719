"""A disk image or device as an evidence source: container > volumes > (BitLocker | LUKS) > (shadow copies | LVM
logical volumes) > file systems.

Each layer is a small read-only byte range with ``read(offset, size)`` and
``size``, opened through the table of ``volume_layers``; The Sleuth Kit sees
the innermost one.  The layout (volumes, gaps, encrypted volumes, shadow
copies) is worked out once when the source opens and becomes the exhibit's
facts; workers re-open the same image and reach any item again from its
locator, whose volume layers are walked through the same table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

import pytsk3

from fieldlab.evidence.allocation import AllocationResult, read_allocation
from fieldlab.evidence.apfs import apfs_volume_names, walk_apfs_volume
from fieldlab.evidence.containers import ContainerInfo, MediaReader, open_container
from fieldlab.evidence.extents import Extents, ExtentsTable, VolumePlacement, mft_runs
from fieldlab.evidence.filesystem import (
    ExtentsWanted,
    ImageFileReader,
    fs_type_name,
    parse_fsfile_value,
    walk_file_system,
)
from fieldlab.evidence.item import Item, WalkError
from fieldlab.evidence.luks_key import LuksMasterKey
from fieldlab.evidence.luks_sectors import LuksPayload
from fieldlab.evidence.lvm import MAX_LOGICAL_VOLUMES, LvmError, PhysicalVolumeLabel, VolumeGroup, read_volume_group
from fieldlab.evidence.media_claim import Region, carving_parts, claim_notes, media_claim
from fieldlab.evidence.unallocated import MAPPED_FILE_SYSTEMS, unallocated_runs
from fieldlab.evidence.unrecognised_volume import why_no_file_system, why_no_file_system_in_logical_volume
from fieldlab.evidence.volume_layers import BY_KIND as VOLUME_LAYERS
from fieldlab.evidence.volume_layers import (
    ENCRYPTIONS,
    READ_FAILED,
    ApfsVolume,
    LockedVolume,
    RangeReader,
    RangeVolume,
    TskImage,
    Volume,
    lvm_name,
    shadow_copies,
)
from fieldlab.locator import Layer, Locator, LocatorError, parse_runs
from fieldlab.problems import Problem, ProblemKind

MAX_VOLUME_LAYERS = 8  # partition > encryption > snapshot > container volume, with room for more


@dataclass(frozen=True)
class UnlockOptions:
    """Credentials for encrypted volumes; kept in memory only, never written to the case."""

    bitlocker_password: str | None = field(default=None, repr=False)
    bitlocker_recovery_key: str | None = field(default=None, repr=False)
    luks_password: str | None = field(default=None, repr=False)  # a LUKS1 or LUKS2 volume's passphrase
    luks_keys: tuple[LuksMasterKey, ...] = field(default=(), repr=False)  # derived by the scan's first process
    shadow_copies: bool = False  # also walk every volume shadow copy
    archive_passwords: tuple[str, ...] = field(default=(), repr=False)  # tried on encrypted zip, 7z (and RAR) members


@dataclass(frozen=True)
class VolumeRegions:
    """What to carve inside one unlocked encrypted volume or logical volume: byte ranges of its own bytes, not of the
    media."""

    volume: Locator  # its volume layers (``partition:1048576|luks:``); a run carved there is ``...|luks:|carved:O+L``
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class _InnerVolume:
    """A volume carved through its own bytes: where it is, its file system (None: none read; ``lvm``: a physical
    volume), how problems name it, and the partition it lies in."""

    located: Locator
    file_system: str | None
    named: str
    volume: VolumeFacts


@dataclass(frozen=True)
class _PhysicalVolume:
    """A volume of this image that is an LVM physical volume, its group read once every volume is surveyed."""

    facts: VolumeFacts
    view: RangeVolume
    label: PhysicalVolumeLabel


@dataclass
class VolumeFacts:
    offset: int
    length: int
    description: str
    index: int | None = None  # slot in the partition table
    file_system: str | None = None
    encryption: str | None = None  # "bitlocker" or "luks" when detected
    unlocked: bool | None = None
    shadow_copies: list[dict] = field(default_factory=list)  # {"index", "created", "size"}
    apfs_volumes: list[str] = field(default_factory=list)  # names, in container order
    logical_volumes: list[dict] = field(default_factory=list)  # LVM: {"index", "name", "size", "file_system", "problem"}
    problem: str | None = None
    problem_kind: str | None = None  # a ProblemKind, when the layer that failed to open said which


@dataclass
class ImageFacts:
    container: dict
    media_size: int
    partition_scheme: str  # dos | gpt | mac | bsd | sun | none
    sector_size: int
    volumes: list[VolumeFacts]
    gaps: list[tuple[int, int]]  # (offset, length) not inside any volume: unallocated disk space
    problems: list[str]

    def to_json_dict(self) -> dict:
        return asdict(self)


class ImageSource:
    kind = "image"

    def __init__(self, path: Path, options: UnlockOptions | None = None, parents: Sequence[Path] = ()) -> None:
        self.path = Path(path)
        self.options = options or UnlockOptions()
        self.media: MediaReader = open_container(self.path, parents)
        raw = self.media.info.kind in ("raw", "device")
        native = (pytsk3.Img_Info(str(self.path)), 0) if raw else None  # TSK opens raw files read-only
        self._partitions: dict[int, int] = {}  # offset -> length of each volume the survey found
        self._media_volume = RangeVolume(self.media, native, lambda: self._partitions)
        self._volumes: dict[str, Volume] = {}  # what each chain of volume layers opened, by the chain's text
        self.extents = ExtentsTable()  # the walk's files' media runs, by locator text, until a reader takes them
        self.claim = media_claim(self.media.info)
        self._allocation: AllocationResult | None = None  # read by the process that carves, and the one that walks
        self._physical_volumes: list[_PhysicalVolume] = []  # LVM physical volumes the survey found, in media order
        self.facts = self._survey()

    @property
    def container(self) -> ContainerInfo:
        return self.media.info

    def close(self) -> None:
        self._volumes.clear()
        self.media.close()

    def unlock_for_other_processes(self) -> UnlockOptions:
        """These unlock options with the master key of every LUKS volume opened here added, so that the scan's
        other processes (walker, readers, decoders) open those volumes without running PBKDF2 again."""
        derived = (view.data.master_key for view in self._volumes.values()
                   if isinstance(view, RangeVolume) and isinstance(view.data, LuksPayload))
        return replace(self.options, luks_keys=tuple(dict.fromkeys((*self.options.luks_keys, *derived))))

    # layout

    def _survey(self) -> ImageFacts:
        if self.media.info.missing_parent:  # every read fails: no layout to find, nothing to carve
            return ImageFacts(asdict(self.media.info), self.media.size, "none", self.media.info.bytes_per_sector, [],
                              [], [f"the image is incomplete: {self.media.info.missing_parent}"])
        if self.media.info.kind == "dmg":
            self.media.info = replace(self.media.info, problems=(*self.media.info.problems, *self._raw_layout_unread()))
        problems = [problem.message for problem in self.media.info.problems]
        try:
            self.media.read(max(self.media.size - 512, 0), 512)
        except OSError as exc:
            problems.append(
                "the image is incomplete: its end cannot be read (a segment is missing or truncated, or its last "
                f"chunk does not inflate): {str(exc)[:300]}"
            )
        image = TskImage(self.media)
        try:
            layout = pytsk3.Volume_Info(image)
        except (OSError, RuntimeError):
            layout = None
        if layout is None:
            volumes = [VolumeFacts(0, self.media.size, "whole media (no partition table)")]
            scheme, sector, gaps = "none", self.media.info.bytes_per_sector, list[tuple[int, int]]()
        else:
            scheme = _VS_TYPE_NAMES.get(int(layout.info.vstype), "unknown")
            sector = layout.info.block_size
            volumes, gaps = [], []
            for part in layout:
                start, length = part.start * sector, part.len * sector
                flags = int(part.flags)
                description = part.desc.decode("utf-8", "replace") if isinstance(part.desc, bytes) else str(part.desc)
                if flags & int(pytsk3.TSK_VS_PART_FLAG_UNALLOC):
                    gaps.append((start, length))
                elif flags & int(pytsk3.TSK_VS_PART_FLAG_ALLOC):
                    volume = VolumeFacts(start, length, description, index=int(part.addr))
                    if start + length > self.media.size:
                        volume.problem = f"extends {start + length - self.media.size:,} bytes past the end of the media"
                        problems.append(f"partition at offset {start:,}: {volume.problem}")
                    volumes.append(volume)
        self._partitions.update((volume.offset, volume.length) for volume in volumes)
        for volume in volumes:
            self._survey_volume(volume)
        self._survey_volume_groups()
        return ImageFacts(asdict(self.media.info), self.media.size, scheme, sector, volumes, gaps, problems)

    def _raw_layout_unread(self) -> tuple[Problem, ...]:
        """A .dmg is known by its trailer alone, and a trailer can be written at the end of any raw disk: read as a
        .dmg, that disk would show only what forged chunk tables map.  An uncompressed .dmg's media starts as its
        file does; when the file's own bytes hold a partition table or file system from the first byte that the
        .dmg's media does not start with, the examiner is told how to read those bytes too."""
        try:
            head = self.media.read(0, _RAW_HEAD)
        except OSError:
            head = b""  # a first chunk that does not inflate: the media cannot be said to start as the file does
        raw = pytsk3.Img_Info(str(self.path))
        try:
            found = _layout_name(raw)
            if found is None or head == raw.read(0, min(_RAW_HEAD, raw.get_size())):
                return ()
        finally:
            raw.close()
        return (Problem(ProblemKind.DAMAGED, (
            f"its own bytes hold a {found} from the first byte, which its media as a .dmg does not start with: a raw "
            "disk whose end was made to look like a .dmg trailer reads so. Only the .dmg's media is scanned; a copy "
            "without its last 512 bytes is read as a raw disk")),)

    def _survey_volume(self, volume: VolumeFacts) -> None:
        base = Locator.of("partition", str(volume.offset))
        view = self._range(base)
        if view.data.size == 0:
            volume.problem = volume.problem or "starts past the end of the media"
            return
        for encryption in ENCRYPTIONS:  # BitLocker, LUKS
            found = encryption.children(view)
            if not found:
                continue
            volume.encryption = encryption.fact
            try:
                view = self._range(base.child(encryption.kind, found[0]))
                volume.unlocked = True
            except LockedVolume as exc:
                volume.unlocked = False
                volume.problem, volume.problem_kind = str(exc), exc.kind
                return
            break
        try:
            fs = view.file_system()
        except (OSError, RuntimeError) as exc:
            if self._found_physical_volume(volume, view):
                return
            container = view.apfs_container()
            if container is None:
                volume.problem = volume.problem or why_no_file_system(exc, view.data)
                return
            volume.file_system = "apfs"
            volume.apfs_volumes = apfs_volume_names(container)
            return
        volume.file_system = fs_type_name(fs)
        volume.shadow_copies = shadow_copies(view)

    def _found_physical_volume(self, volume: VolumeFacts, view: RangeVolume) -> bool:
        """Whether the volume is an LVM physical volume; its group is read once every volume is surveyed, when the
        group's other physical volumes on this image (partitions, decrypted volumes) are known too."""
        try:
            label = view.physical_volume_label()
        except LvmError as exc:
            volume.problem = f"an LVM physical volume whose label cannot be read: {exc} (its space is kept for carving)"
            return True
        if label is None:
            return False
        self._physical_volumes.append(_PhysicalVolume(volume, view, label))
        return True

    def _survey_volume_groups(self) -> None:
        """Each LVM volume group whose physical volumes lie on this image, matched by the group's identifier and read
        across all of them present (``evidence/lvm.py``); its logical volumes are listed under the first in media
        order, the others say where.  A group whose physical volumes are not all here says which are missing, and
        its logical volumes lying whole on those present are still read."""
        groups: dict[str, list[_PhysicalVolume]] = {}
        for found in self._physical_volumes:
            try:
                alone = found.view.volume_group()
            except (OSError, LvmError) as exc:
                found.facts.problem = (f"an LVM physical volume whose volume group could not be read: "
                                       f"{str(exc)[:300]} (its space is kept for carving)")
                continue
            assert alone is not None  # a labelled volume
            groups.setdefault(alone.map.identifier, []).append(found)
        for members in groups.values():
            group = read_volume_group([(member.label, member.view.data) for member in members])
            for member in members:
                member.view.join_volume_group(group)
                member.facts.file_system = "lvm"
            home = members[0].facts
            self._survey_logical_volumes(home, group)
            for member in members[1:]:
                member.facts.problem = (f"a physical volume of LVM volume group {lvm_name(group.map.name, '?')!r}, "
                                        f"whose logical volumes are listed under the volume at {home.offset}")
                member.facts.problem_kind = ProblemKind.NORMAL

    def _survey_logical_volumes(self, volume: VolumeFacts, group: VolumeGroup) -> None:
        """The group's logical volumes, each with its file system or why none is read, as the volume's facts."""
        base = self._volume_base(volume)
        for index, logical in enumerate(group.map.logical_volumes):
            name = lvm_name(logical.name, f"lv{index}")
            file_system, problem = self._survey_logical_volume(base.child("lvm", str(index)))
            size = sum(segment.extent_count for segment in logical.segments) * group.map.extent_size
            volume.logical_volumes.append({"index": index, "name": name, "size": size, "file_system": file_system,
                                           "problem": problem and f"logical volume {name!r}: {problem}"})
        said = []
        if group.missing:
            missing = ", ".join(f"{pv.name} ({pv.identifier})" for pv in group.missing)
            said.append(f"its LVM volume group {lvm_name(group.map.name, '?')!r} has physical volumes not in this "
                        f"image: {missing[:500]}; the logical volumes lying on them are not read, the others are")
            volume.problem_kind = ProblemKind.UNREADABLE
        if group.map.more_logical_volumes:
            said.append(f"only the first {MAX_LOGICAL_VOLUMES} of the "
                        f"{MAX_LOGICAL_VOLUMES + group.map.more_logical_volumes:,} logical volumes of its LVM volume "
                        "group are listed")
            volume.problem_kind = volume.problem_kind or ProblemKind.LIMIT
        volume.problem = "; ".join(said) or None

    def _unused_physical_extents(self, volume: VolumeFacts) -> list[tuple[int, int]]:
        """(offset, length) of the LVM physical volume (its decrypted bytes, if encrypted) that no logical volume
        read here holds (``VolumeGroup.unused_space``): carved as the volume's own, each byte once."""
        view = self._range(self._volume_base(volume))
        label, group = view.physical_volume_label(), view.volume_group()
        if label is None or group is None:
            return []
        return group.unused_space(label.identifier, view.data.size)

    def _survey_logical_volume(self, located: Locator) -> tuple[str | None, str | None]:
        """(its file system, or why none is read) of one logical volume."""
        try:
            view = self._range(located)
        except LocatorError as exc:  # on a physical volume not present, of too many segments, an unread type
            return None, str(exc)
        try:
            return fs_type_name(view.file_system()), None
        except (OSError, RuntimeError) as exc:
            return None, why_no_file_system_in_logical_volume(exc, view.data)

    def _volume_base(self, volume: VolumeFacts) -> Locator:
        """The locator of the volume's file system: its partition, then the layer that decrypted it, if any."""
        base = Locator.of("partition", str(volume.offset))
        encryption = next((layer for layer in ENCRYPTIONS if layer.fact == volume.encryption), None)
        return base.child(encryption.kind, b"") if encryption else base

    def _volume(self, layers: tuple[Layer, ...]) -> Volume:
        """What a chain of volume layers opens to, each layer on the view of the one before it through the
        table, opened once and kept under the chain's text (``partition:1048576|bde:``)."""
        if not layers:
            return self._media_volume
        key = Locator(layers).to_text()
        view = self._volumes.get(key)
        if view is None:
            parent, layer = self._volume(layers[:-1]), layers[-1]
            entry = VOLUME_LAYERS.get(layer.kind)
            if entry is None:
                raise LocatorError(f"a disk image has no {layer.kind!r} layer: {key}")
            if not isinstance(parent, RangeVolume):
                raise LocatorError(f"nothing lies inside a {layers[-2].kind!r} layer: {key}")
            view = self._volumes[key] = entry.open(parent, layer.value, self.options)
        return view

    def _range(self, locator: Locator) -> RangeVolume:
        """The volume at ``locator`` as bytes (a file system or another layer lies on it)."""
        view = self._volume(locator.layers)
        if not isinstance(view, RangeVolume):
            raise LocatorError(f"not a volume of bytes: {locator}")
        return view

    # walking

    def walk(self) -> Iterator[Item | WalkError]:
        for problem in self.facts.problems:  # an image cut short, a partition past its end, free space not listed
            yield WalkError(str(self.path), problem, _image_problem_kind(problem, self.media.info))
        if self.claim.far_beyond_files:  # a media claimed far beyond its files: what of it is carved
            for note in claim_notes(self.claim, self.allocation()):
                yield WalkError(str(self.path), note.message, note.kind)
        numbered = len(self.facts.volumes) > 1 or self.facts.partition_scheme != "none"
        for volume in self.facts.volumes:
            prefix = f"vol{volume.index}@{volume.offset}/" if numbered else ""
            if volume.problem and volume.file_system is None:
                yield WalkError(prefix or str(self.path), volume.problem, _volume_problem_kind(volume, self.media.size))
                continue
            base = self._volume_base(volume)
            if volume.file_system == "apfs":
                for index in range(len(volume.apfs_volumes)):
                    apfs = base.child("apfsvol", str(index))
                    view = self._volume(apfs.layers)
                    assert isinstance(view, ApfsVolume)  # the apfsvol layer opens nothing else
                    yield from walk_apfs_volume(view.volume, apfs, f"{prefix}apfs{index}/")
                continue
            if volume.file_system == "lvm":
                yield from self._walk_logical_volumes(volume, base, prefix)
                continue
            fs = self._range(base).file_system()
            placement = self._placement(volume)
            if placement is not None and fs_type_name(fs) == "ntfs":
                self.media.keep(mft_runs(fs, placement))  # met in folder order: read over and over (ewf_chunks)
            try:
                yield from walk_file_system(fs, base, prefix, self._extents_wanted(volume))
            finally:
                self.media.keep(())
            if self.options.shadow_copies:
                for copy in volume.shadow_copies:
                    store = base.child("vss", str(copy["index"]))
                    yield from walk_file_system(self._range(store).file_system(), store, f"{prefix}vss{copy['index']}/")
            elif volume.shadow_copies:  # earlier states of the volume may hold pictures since deleted: say so
                yield WalkError(prefix or str(self.path),
                                f"{len(volume.shadow_copies)} volume shadow copies not scanned (earlier states of this "
                                "volume; scan again with --shadow-copies to include them)", ProblemKind.NORMAL)

    def _walk_logical_volumes(self, volume: VolumeFacts, base: Locator, prefix: str) -> Iterator[Item | WalkError]:
        """Each logical volume's file system under ``lvm:NAME/``; its files' runs are offsets of the logical volume,
        not of the media, so the readers reach them through the layer again."""
        if volume.problem:  # physical volumes missing, more logical volumes than are listed, or where they are
            yield WalkError(prefix or str(self.path), volume.problem, ProblemKind(volume.problem_kind or ProblemKind.LIMIT))
        for logical in volume.logical_volumes:
            shown = f"{prefix}lvm:{logical['name']}/"
            if logical["file_system"] is None:
                yield WalkError(shown, logical["problem"], ProblemKind.UNSUPPORTED)
                continue
            located = base.child("lvm", str(logical["index"]))
            yield from walk_file_system(self._range(located).file_system(), located, shown)

    def _extents_wanted(self, volume: VolumeFacts) -> ExtentsWanted | None:
        """Files of a volume that is a plain byte range of a container's media have runs the readers can read
        straight from the media.  A raw image or device is left to TSK, which reads it in C: on the 1 GiB seized
        disk the runs saved its readers 0.2 s of CPU and cost the walk 0.3 s (E01: 0.4-0.8 s saved, and its chunks
        inflated once less often)."""
        placement = self._placement(volume)
        if placement is None or self._media_volume.native is not None:
            return None
        return ExtentsWanted(placement, self.extents)

    def _placement(self, volume: VolumeFacts) -> VolumePlacement | None:
        """Where the volume's bytes lie on the media; None for an encrypted one (its runs are offsets of the
        decrypted volume, not the media)."""
        if volume.encryption is not None:
            return None
        return VolumePlacement(volume.offset, max(0, min(volume.length, self.media.size - volume.offset)))

    # reading

    def open_extents(self, extents: Extents) -> ImageFileReader:
        """A file the walk listed with its media runs, read from the media run by run (the E01 chunk cache included),
        without The Sleuth Kit re-reading its metadata."""
        return ExtentReader(self.media, extents)

    def open_item(self, locator: Locator) -> ImageFileReader:
        layers = locator.layers
        if len(layers) == 1 and layers[0].kind == "carved":
            return CarvedRunReader(self.media, parse_runs(layers[0].value))
        if layers and layers[-1].kind == "carved":  # a run carved from the free space of a decrypted or logical volume
            return CarvedRunReader(self.inner_volume(Locator(layers[:-1])), parse_runs(layers[-1].value))
        split = next((i for i, layer in enumerate(layers) if layer.kind not in VOLUME_LAYERS), len(layers))
        volume_layers, file_layers = layers[:split], layers[split:]
        unknown = next((layer.kind for layer in file_layers if layer.kind not in ("fsfile", "stream")), None)
        if unknown is not None:
            raise LocatorError(f"a disk image has no {unknown!r} layer: {locator}")
        if (not volume_layers or volume_layers[0].kind != "partition" or len(volume_layers) > MAX_VOLUME_LAYERS
                or [layer.kind for layer in file_layers] not in (["fsfile"], ["fsfile", "stream"])):
            raise LocatorError(f"not a file of a disk image: {locator}")
        address = parse_fsfile_value(file_layers[0].value)[0]
        stream = file_layers[1].value if len(file_layers) == 2 else None
        return self._volume(volume_layers).open_file(address, stream)

    def allocation(self) -> AllocationResult:
        """The media's parts the container stores (``evidence/allocation.py``), read once."""
        if self._allocation is None:
            paths = tuple(link.path for link in self.container.chain) or self.container.segments
            self._allocation = read_allocation(self.container.kind, paths, self.media.size)
        return self._allocation

    def carving_regions(self) -> list[Region]:
        """What to carve, in media order: the gaps between and after partitions, volumes without a file system and
        the free clusters of those with one, each only where the container stores data, and no more in all than
        its files could hold (``evidence/media_claim.py``): a media claimed far beyond them is not read in full."""
        found = [("gap", offset, length) for offset, length in self.facts.gaps]
        found += [("volume", v.offset, v.length) for v in self.facts.volumes if v.file_system is None and not v.unlocked]
        stored = self.allocation().allocation
        found += [("unallocated", offset, length)
                  for offset, length in self.unallocated_regions(within=stored.runs if stored else None)]
        found += [("unallocated", volume.offset + offset, length) for volume in self.facts.volumes
                  if volume.file_system == "lvm" and volume.encryption is None
                  for offset, length in self._unused_physical_extents(volume)]
        return carving_parts(sorted(found, key=lambda region: region[1]), stored, self.claim.read_limit)

    def decrypted_carving_regions(self, media_regions: Sequence[Region]) -> list[VolumeRegions]:
        """What to carve inside volumes whose bytes are not runs of the media (``inner_volumes``): each unlocked
        encrypted volume (LUKS, BitLocker), whose media bytes are ciphertext that carving searches for nothing, and
        each logical volume of an LVM volume group, whose bytes its extents scatter.  In each, the free clusters of
        its NTFS, FAT, exFAT, ext or HFS+ file system, or all of it when it holds none fieldlab reads (a swap area).
        Offsets are of that volume, so the container's stored parts (media offsets) do not clip them; no more in all
        is carved than the media's read limit leaves after ``media_regions``.  A locked volume is not here: its
        ciphertext stays a ``volume`` region of the media, as any volume without a file system (a forged header must
        not hide what lies in the clear).  An LVM physical volume's extents are carved once each: through the
        logical volume holding them, or as the physical volume's own space where none read here does."""
        limit = self.claim.read_limit
        left = None if limit is None else max(0, limit - sum(length for _, _, length in media_regions))
        found = []
        for inner in self._inner_volumes():
            if left == 0:
                break
            regions = carving_parts(self._inner_regions(inner), None, left)
            if regions:
                found.append(VolumeRegions(inner.located, tuple(regions)))
                left = None if left is None else left - sum(length for _, _, length in regions)
        return found

    def _inner_volumes(self) -> Iterator[_InnerVolume]:
        """Each opened volume whose bytes are not runs of the media: an unlocked encrypted volume (holding an LVM
        physical volume, the space no logical volume read here holds), and each logical volume fieldlab reads (one
        it does not, on a physical volume not in the image, of too many segments or a type not read, is said so by
        the survey and the walk, and its extents are its physical volume's own space)."""
        for volume in self.facts.volumes:
            base = self._volume_base(volume)
            if volume.encryption and volume.unlocked:
                yield _InnerVolume(base, volume.file_system, f"inside the {volume.encryption} volume at {volume.offset}",
                                   volume)
            if volume.file_system != "lvm":
                continue
            for logical in volume.logical_volumes:
                located = base.child("lvm", str(logical["index"]))
                try:
                    self._range(located)
                except LocatorError:
                    continue
                yield _InnerVolume(located, logical["file_system"],
                                   f"inside logical volume {logical['name']!r} at {volume.offset}", volume)

    def _inner_regions(self, inner: _InnerVolume) -> list[Region]:
        try:
            view = self._range(inner.located)
            if inner.file_system is None:
                return [("volume", 0, view.data.size)]
            if inner.file_system == "lvm":  # a physical volume inside an encrypted one
                return [("unallocated", offset, length)
                        for offset, length in self._unused_physical_extents(inner.volume)]
            if inner.file_system not in MAPPED_FILE_SYSTEMS:
                return []
            return [("unallocated", offset, length) for offset, length in unallocated_runs(
                view.file_system(), inner.file_system, 0, view.data.size, view.data.read,
                problem=self.facts.problems.append, named=inner.named)]
        except (OSError, LocatorError, LockedVolume) as exc:
            self.facts.problems.append(f"free space {inner.named} not listed: {str(exc)[:300]}")
            return []

    def inner_volumes(self) -> frozenset[str]:
        """The locator text of each volume this source opened whose regions are carved through it (an unlocked
        encrypted volume, a logical volume): what lies in them can be carved now."""
        return frozenset(inner.located.to_text() for inner in self._inner_volumes())

    def inner_volume(self, volume: Locator) -> RangeReader:
        """The bytes of the volume at ``volume`` (its volume layers, as a region inside it records them): decrypted,
        or a logical volume's extents joined; LocatorError when that is no such volume of a disk image, LockedVolume
        when the key it needs was not given.  A plain partition's bytes are the media's: runs in them are addressed
        in the media."""
        layers = volume.layers
        if (not layers or layers[0].kind != "partition" or len(layers) > MAX_VOLUME_LAYERS
                or any(layer.kind not in VOLUME_LAYERS for layer in layers)
                or not any(VOLUME_LAYERS[layer.kind].role == "encryption" or layer.kind == "lvm" for layer in layers)):
            raise LocatorError(f"not an encrypted or logical volume of a disk image: {volume.to_text()[:200]}")
        return self._range(volume).data

    def unallocated_regions(self, *, within: Sequence[tuple[int, int]] | None = None) -> Iterator[tuple[int, int]]:
        """Free clusters of the plain NTFS, FAT, exFAT, ext and HFS+ volumes, as (offset, length) of the media, for
        carving (only inside the sorted media parts ``within``, when given); why any were left out goes to
        the problems."""
        for volume in self.facts.volumes:
            if volume.encryption is None and volume.file_system in MAPPED_FILE_SYSTEMS:
                try:
                    view = self._range(Locator.of("partition", str(volume.offset)))
                    yield from unallocated_runs(view.file_system(), volume.file_system, volume.offset, volume.length,
                                                self.media.read, problem=self.facts.problems.append, within=within)
                except (OSError, LocatorError) as exc:
                    self.facts.problems.append(f"free space of the volume at {volume.offset} not listed: {exc}")


_RAW_HEAD = 65536  # bytes of a .dmg's media and of its file compared


def _layout_name(image: pytsk3.Img_Info) -> str | None:
    """The partition table or file system TSK finds from the image's first byte, named; None if neither."""
    try:
        return f"partition table ({_VS_TYPE_NAMES.get(int(pytsk3.Volume_Info(image).info.vstype), 'unknown')})"
    except (OSError, RuntimeError):
        pass
    try:
        return f"file system ({fs_type_name(pytsk3.FS_Info(image))})"
    except (OSError, RuntimeError):
        return None


def _volume_problem_kind(volume: VolumeFacts, media_size: int) -> ProblemKind:
    """Why a volume was not walked: still locked, cut off by the end of the media, a read of it failed, or no file
    system fieldlab reads."""
    if volume.problem_kind is not None:
        return ProblemKind(volume.problem_kind)
    if volume.encryption and not volume.unlocked:
        return ProblemKind.ENCRYPTED
    if volume.offset + volume.length > media_size:
        return ProblemKind.TRUNCATED
    if volume.problem and volume.problem.startswith(READ_FAILED):
        return ProblemKind.DAMAGED
    return ProblemKind.UNSUPPORTED


def _image_problem_kind(problem: str, container: ContainerInfo) -> ProblemKind:
    """A differencing image without its parent cannot be read at all; the container's own problems have their kind;
    an image whose end is missing is cut short."""
    if container.missing_parent and container.missing_parent in problem:
        return ProblemKind.UNREADABLE
    known = next((known.kind for known in container.problems if known.message == problem), None)
    if known is not None:
        return known
    return ProblemKind.DAMAGED if problem.startswith("free space") else ProblemKind.TRUNCATED


_VS_TYPE_NAMES = {
    int(getattr(pytsk3, n)): n.removeprefix("TSK_VS_TYPE_").lower()
    for n in dir(pytsk3)
    if n.startswith("TSK_VS_TYPE_") and n not in ("TSK_VS_TYPE_ENUM",)
}


class CarvedRunReader(ImageFileReader):
    """A byte run of the media itself, or of a decrypted volume: a file carved from space no file system accounts
    for; a file found in two fragments reads as its two pieces joined."""

    def __init__(self, data: RangeReader, pieces: tuple[tuple[int, int], ...]) -> None:
        for offset, length in pieces:
            if offset < 0 or length < 0 or offset + length > data.size:
                raise LocatorError(f"carved run {offset}+{length} lies outside the bytes it was carved from "
                                   f"({data.size} bytes)")
        self._data, self._pieces, self.size = data, pieces, sum(length for _, length in pieces)

    def _read_at(self, offset: int, size: int) -> bytes:
        parts, position, end = [], 0, min(offset + size, self.size)
        for start, length in self._pieces:
            first, last = max(offset, position), min(end, position + length)
            if last > first:
                parts.append(self._data.read(start + first - position, last - first))
            position += length
        return b"".join(parts)


class ExtentReader(ImageFileReader):
    """A file's content from its media runs (``evidence/extents.py``), or the resident content the walk read:
    bytes past its initialised size are zeros, exactly as The Sleuth Kit reads them.  Read straight into the
    caller's buffer (``MediaReader.read_into``)."""

    def __init__(self, media: MediaReader, extents: Extents) -> None:
        self._media, self._extents, self.size = media, extents, extents.size

    def readinto(self, buffer: bytearray | memoryview) -> int:
        wanted = min(len(buffer), self.size - self._offset)
        if wanted <= 0:
            return 0
        count = self._fill(memoryview(buffer)[:wanted], self._offset)
        if not count:
            raise OSError(f"no data at offset {self._offset} of {self.size}")
        self._offset += count
        return count

    def _fill(self, view: memoryview, offset: int) -> int:
        """Bytes from ``offset`` into ``view``; how many the runs hold (all of them, unless the runs end short)."""
        if self._extents.resident:
            data = self._extents.resident[offset:offset + len(view)]
            view[:len(data)] = data
            return len(data)
        position, end, initialized = 0, offset + len(view), self._extents.initialized
        for start, length in self._extents.runs:
            if position + length > offset and position < end:
                first, last = max(offset, position), min(end, position + length)
                readable = min(last, max(first, initialized))
                if readable > first:
                    got = self._media.read_into(view[first - offset:readable - offset], start + first - position)
                    if got != readable - first:
                        raise OSError(f"media ends inside the file's run at offset {start}")
                view[readable - offset:last - offset] = bytes(last - readable)
            position += length
            if position >= end:
                break
        return max(0, min(end, position) - offset)
