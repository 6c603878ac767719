"""LVM volume groups over several physical volumes of one image, read by fieldlab's own LVM reader
(``evidence/lvm.py``): a logical volume crossing from one partition's physical volume to another's is walked and read
across both; with one physical volume missing, it is named and the logical volumes not on it are still read.  The
metadata is suspect data: absurd counts, lists and nesting are bounded and said."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fieldlab.evidence import lvm
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, WalkError
from fieldlab.evidence.lvm import LvmError, parse_metadata_text, volume_group_map
from fieldlab.problems import ProblemKind
from fieldlab.validation.disks import PlantedFile, build_disk, random_bytes
from tests.evidence.lvm_builders import MIB, Extents, build_volume_group, write_logical_volume

PICTURE = PlantedFile("home/alex/Pictures/IMG_0002.JPG", random_bytes(71, 200_000))
BOOT = PlantedFile("grub/grub.cfg", b"menuentry 'Debian' {}\n" * 20)
FILLER = PlantedFile("var/cache/filler.bin", random_bytes(72, 12 * MIB))


def _two_partition_laptop(root: Path) -> tuple[Path, list[int], dict[str, list[Extents]], int]:
    """A GPT disk whose two partitions are the physical volumes of one group: vg/boot (4 MiB, on the first), vg/root
    (20 MiB ext4 across both, a filler beside PICTURE) and vg/swap.  Returns the disk, the
    partitions' offsets, the logical volumes' runs and where PICTURE lies in root."""
    files = [root / "pv0.img", root / "pv1.img"]
    runs = build_volume_group(files, 16, [("boot", 4), ("root", 20), ("swap", 4)])
    boot = build_disk(root / "boot.img", "none", [("ext4", 4, [BOOT])]).path.read_bytes()
    tree = build_disk(root / "root.img", "none", [("ext4", 20, [FILLER, PICTURE])]).path.read_bytes()
    at = tree.find(PICTURE.data)
    assert at > 0
    write_logical_volume(files, runs["boot"], boot)
    write_logical_volume(files, runs["root"], tree)
    (root / "evidence").mkdir()
    disk = build_disk(root / "evidence" / "disk.raw", "gpt", [("fat16", 16, []), ("fat16", 16, [])])
    with open(disk.path, "r+b") as out:
        for partition, file in zip(disk.partitions, files):
            out.seek(partition.start_offset)
            out.write(file.read_bytes())
    return disk.path, [p.start_offset for p in disk.partitions], runs, at


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], dict[str, list[Extents]], int]:
    return _two_partition_laptop(tmp_path_factory.mktemp("lvm-two"))


def _walked(source: ImageSource) -> tuple[dict[str, Item], list[WalkError]]:
    walked = list(source.walk())
    return ({e.path: e for e in walked if isinstance(e, Item)}, [e for e in walked if isinstance(e, WalkError)])


def _md5(source: ImageSource, item: Item) -> str:
    reader = source.open_item(item.locator)
    buffer = bytearray(item.size + 1)
    return hashlib.md5(buffer[:reader.readinto(buffer)]).hexdigest()


def test_a_logical_volume_crossing_two_partitions_physical_volumes_is_walked_and_read_across_both(
        laptop: tuple[Path, list[int], dict[str, list[Extents]], int]) -> None:
    path, offsets, runs, at = laptop
    assert {run.pv for run in runs["root"]} == {0, 1}  # lvm2 put root across both physical volumes
    [holding] = [run for run in runs["root"] if run.start <= at < run.start + run.length]
    assert holding.pv == 1  # and the picture on the second partition's, not the one root is listed under
    source = ImageSource(path)
    try:
        first, second = source.facts.volumes
        assert (first.file_system, second.file_system) == ("lvm", "lvm")
        assert [(lv["name"], lv["file_system"], lv["size"]) for lv in first.logical_volumes] == [
            ("boot", "ext4", 4 * MIB), ("root", "ext4", 20 * MIB), ("swap", None, 4 * MIB)]
        assert second.logical_volumes == [] and second.problem == (
            f"a physical volume of LVM volume group 'vg', whose logical volumes are listed under the volume at "
            f"{offsets[0]}")
        items, errors = _walked(source)
        prefix = f"vol{first.index}@{offsets[0]}/lvm:"
        picture = items[f"{prefix}root/{PICTURE.path}"]
        assert picture.locator.to_text().startswith(f"partition:{offsets[0]}|lvm:1|fsfile:")
        assert _md5(source, picture) == PICTURE.md5
        assert _md5(source, items[f"{prefix}boot/{BOOT.path}"]) == BOOT.md5
        assert (second.problem, ProblemKind.NORMAL) in [(e.message, e.kind) for e in errors]
        held = [(offsets[run.pv] + run.offset, run.length) for runs_of in runs.values() for run in runs_of]
        regions = source.carving_regions()
        assert not any(offset < start + length and start < offset + size
                       for _, offset, size in regions for start, length in held)  # no logical volume's bytes twice
    finally:
        source.close()


def test_with_one_physical_volume_missing_it_is_named_and_the_logical_volumes_not_on_it_still_read(
        laptop: tuple[Path, list[int], dict[str, list[Extents]], int], tmp_path: Path) -> None:
    path, offsets, runs, _ = laptop
    cut = tmp_path / "cut.raw"
    data = bytearray(path.read_bytes())
    data[offsets[1]:offsets[1] + 16 * MIB] = bytes(16 * MIB)  # the second disk was not seized
    cut.write_bytes(data)
    source = ImageSource(cut)
    try:
        first = source.facts.volumes[0]
        assert first.problem is not None and first.problem.startswith(
            "its LVM volume group 'vg' has physical volumes not in this image: pv1 (")
        assert [(lv["name"], lv["file_system"]) for lv in first.logical_volumes] == [
            ("boot", "ext4"), ("root", None), ("swap", None)]
        assert first.logical_volumes[1]["problem"] == (
            "logical volume 'root': logical volume 1: lies partly on pv1, not in this image: not read")
        items, errors = _walked(source)
        assert _md5(source, items[f"vol{first.index}@{offsets[0]}/lvm:boot/{BOOT.path}"]) == BOOT.md5
        assert not any(PICTURE.path in path for path in items)
        assert (first.problem, ProblemKind.UNREADABLE) in [(e.message, e.kind) for e in errors]
        [root_here] = [run for run in runs["root"] if run.pv == 0]  # root's part that is here is carved raw
        assert any(offset <= offsets[0] + root_here.offset and offsets[0] + root_here.offset + root_here.length
                   <= offset + size for _, offset, size in source.carving_regions())
    finally:
        source.close()


_GROUP = b"""vg {
id = "SN0dH9-7Eic-NCvi-WHj8-76G8-za0g-iJobeq"
seqno = 2
extent_size = 8192
physical_volumes {
%s
}
logical_volumes {
%s
}
}
contents = "Text Format Volume Group"
"""
_PV = b'pv%d {\nid = "K994MB-Sn1r-7rpS-hQEW-DgUP-87Dr-9d0MFa"\npe_start = 2048\npe_count = %d\n}'
_LV = b'lv%d {\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = %d\ntype = "striped"\n' \
      b'stripe_count = 1\nstripes = [\n"pv0", %d\n]\n}\n}'


def test_absurd_counts_and_lists_in_the_metadata_are_bounded_and_said() -> None:
    many = b"\n".join(_PV % (i, 1) for i in range(lvm.MAX_PHYSICAL_VOLUMES + 1))
    with pytest.raises(LvmError, match="lists 65 physical volumes"):
        volume_group_map(_GROUP % (many, b""))
    with pytest.raises(LvmError, match="pe_count is missing or out of range"):
        volume_group_map(_GROUP % (_PV % (0, 1 << 60), b""))
    past = volume_group_map(_GROUP % (_PV % (0, 4), _LV % (0, 1 << 39, 0) + b"\n" + _LV % (1, 1, 3)))
    assert [lv.problem for lv in past.logical_volumes] == [
        "a segment's extents lie past the end of its physical volume: not read", None]
    lvs = b"\n".join(_LV % (i, 1, 0) for i in range(lvm.MAX_LOGICAL_VOLUMES + 5))
    bounded = volume_group_map(_GROUP % (_PV % (0, 1), lvs))
    assert (len(bounded.logical_volumes), bounded.more_logical_volumes) == (lvm.MAX_LOGICAL_VOLUMES, 5)


@pytest.mark.parametrize("text", [
    b"vg {" * 10_000,  # nesting far past the depth bound: no recursion error
    b'vg { id = "unterminated }',
    b"vg { stripes = [" + b"[" * 10_000 + b"}",
    b"vg { = }",
    bytes(range(256)) * 64,
])
def test_metadata_text_that_does_not_parse_is_an_lvm_error_not_a_crash(text: bytes) -> None:
    with pytest.raises(LvmError):
        volume_group_map(text)


def test_a_real_metadata_text_parses_into_its_sections() -> None:
    tree = parse_metadata_text(_GROUP % (_PV % (0, 4), _LV % (0, 2, 1)) + b"\0")
    group = tree[b"vg"]
    assert isinstance(group, dict) and group[b"extent_size"] == 8192
    assert tree[b"contents"] == b"Text Format Volume Group"


def test_a_logical_volume_striped_over_two_physical_volumes_reads_its_chunks_in_turn(tmp_path: Path) -> None:
    """lvcreate -i2 -I64k: chunk k of the logical volume lies on stripe k % 2, at chunk k // 2 of that stripe's
    extents (device mapper's striping).  Each chunk is written there by number, and read back in order."""
    files = [tmp_path / "pv0.img", tmp_path / "pv1.img"]
    runs = build_volume_group(files, 16, [("fast", 8)], striped="fast")
    stripes = sorted(runs["fast"], key=lambda run: run.pv)
    assert [(run.pv, run.length) for run in stripes] == [(0, 4 * MIB), (1, 4 * MIB)]
    chunk = 64 * 1024
    for k in range(8 * MIB // chunk):
        stripe = stripes[k % 2]
        with open(files[stripe.pv], "r+b") as out:
            out.seek(stripe.offset + (k // 2) * chunk)
            out.write(k.to_bytes(4, "big") * (chunk // 4))
    volumes = [_FileRange(file) for file in files]
    members = [(lvm.read_label(volume), volume) for volume in volumes]
    group = lvm.read_volume_group([(label, volume) for label, volume in members if label is not None])
    [logical] = group.map.logical_volumes
    assert [(len(s.stripes), s.stripe_size) for s in logical.segments] == [(2, chunk)]
    data = group.logical_volume(0).read(0, 8 * MIB)
    assert data == b"".join(k.to_bytes(4, "big") * (chunk // 4) for k in range(8 * MIB // chunk))
    assert group.logical_volume(0).read(3 * chunk - 4, 8) == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert group.unused_space(members[0][0].identifier, 16 * MIB) == [(1 * MIB + 4 * MIB, 11 * MIB)]


class _FileRange:
    def __init__(self, path: Path) -> None:
        self._data = path.read_bytes()
        self.size = len(self._data)

    def read(self, offset: int, size: int) -> bytes:
        return self._data[offset:offset + size]
