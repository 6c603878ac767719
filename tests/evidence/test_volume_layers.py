"""The volume-layer table: every volume layer a locator can name has one entry that opens it, and a disk image
opens a locator's volume layers through that table alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fieldlab.evidence.image import ImageSource, UnlockOptions
from fieldlab.evidence.volume_layers import BY_KIND, LAYERS, RangeVolume
from fieldlab.locator import LAYER_KINDS, VOLUME_LAYER_KINDS, Locator, LocatorError

REALDATA = Path("/work/shared/realdata")
PLASO = REALDATA / "log2timeline__plaso" / "test_data"
DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"


def test_every_volume_layer_kind_of_the_locator_has_one_table_entry_and_no_entry_is_unknown() -> None:
    kinds = [layer.kind for layer in LAYERS]
    assert len(kinds) == len(set(kinds))
    assert set(kinds) == set(VOLUME_LAYER_KINDS)
    assert VOLUME_LAYER_KINDS < LAYER_KINDS


def test_each_unlock_input_a_layer_reads_is_a_field_of_the_unlock_options() -> None:
    fields = {f.name for f in dataclasses.fields(UnlockOptions)}
    assert all(set(layer.unlock) <= fields for layer in LAYERS)
    assert BY_KIND["bde"].unlock  # the check above is not vacuous


def test_a_shadow_copy_locator_opens_through_the_table_and_each_layer_path_is_opened_once() -> None:
    source = ImageSource(PLASO / "vsstest.qcow2", UnlockOptions(shadow_copies=True))
    try:
        items = {i.path: i for i in source.walk() if hasattr(i, "locator")}
        locator = items["vss1/another_file"].locator
        first = source.open_item(locator)
        store = source._volume(locator.layers[:2])
        source.open_item(locator)
        assert source._volume(locator.layers[:2]) is store  # kept under "partition:0|vss:1", not opened again
        assert set(source._volumes) >= {"partition:0", "partition:0|vss:0", "partition:0|vss:1"}
        assert first.size == items["vss1/another_file"].size
    finally:
        source.close()


@pytest.mark.parametrize("text", [
    "vss:1|fsfile:5:/x",  # a shadow copy lies inside a volume, never on the media itself
    "partition:0|partition:0|fsfile:5:/x",  # a partition lies only on the media
    "partition:12345|fsfile:5:/x",  # no volume there
    "partition:0|vss:x|fsfile:5:/x",  # not an index
    "partition:0",  # a volume, not a file
    "partition:0|member:1:a|fsfile:5:/x",  # a member is opened after the file holding it, not by the image
    "partition:0|lvm:0|fsfile:5:/x",  # an NTFS volume is no LVM physical volume
])
def test_a_locator_the_layers_cannot_open_is_a_locator_error(text: str) -> None:
    source = ImageSource(PLASO / "vsstest.qcow2", UnlockOptions(shadow_copies=True))
    try:
        with pytest.raises(LocatorError):
            source.open_item(Locator.parse(text))
    finally:
        source.close()


@pytest.mark.parametrize("text", ["partition:0|lvm:1|fsfile:14:passwords.txt", "partition:0|lvm:x|fsfile:14:passwords.txt"])
def test_a_logical_volume_the_group_does_not_hold_is_a_locator_error(text: str) -> None:
    source = ImageSource(DFVFS / "lvm.qcow2")
    try:
        assert source.open_item(Locator.parse("partition:0|lvm:0|fsfile:14:passwords.txt")).size == 116
        with pytest.raises(LocatorError):
            source.open_item(Locator.parse(text))
    finally:
        source.close()


@pytest.mark.parametrize("size", [100, 512, 4096])
def test_a_range_too_small_for_an_lvm_label_is_no_physical_volume(size: int) -> None:
    class Zeros:
        def __init__(self) -> None:
            self.size = size

        def read(self, offset: int, length: int) -> bytes:
            return bytes(max(0, min(length, self.size - offset)))

    assert RangeVolume(Zeros()).volume_group() is None
    assert BY_KIND["lvm"].children(RangeVolume(Zeros())) == ()


def test_each_layer_lists_as_children_what_the_survey_recorded() -> None:
    shadows = ImageSource(PLASO / "vsstest.qcow2")
    apfs = ImageSource(DFVFS / "apfs.raw")
    locked = ImageSource(DFVFS / "bdetogo.raw")
    lvm = ImageSource(DFVFS / "lvm.qcow2")
    try:
        media = shadows._volume(())
        partition = shadows._volume(Locator.of("partition", "0").layers)
        assert BY_KIND["partition"].children(media) == tuple(str(v.offset).encode() for v in shadows.facts.volumes)
        assert BY_KIND["vss"].children(partition) == (b"0", b"1")
        assert BY_KIND["bde"].children(partition) == ()
        assert BY_KIND["bde"].children(locked._volume(Locator.of("partition", "0").layers)) == (b"",)
        assert BY_KIND["apfsvol"].children(apfs._volume(Locator.of("partition", "0").layers)) == (b"0",)
        assert BY_KIND["lvm"].children(lvm._volume(Locator.of("partition", "0").layers)) == (b"0",)
        assert BY_KIND["lvm"].children(partition) == ()
    finally:
        for source in (shadows, apfs, locked, lvm):
            source.close()
