"""Differencing images: a missing parent is named, parents are found only where allowed, chains open whole."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from fieldlab.evidence import differencing
from fieldlab.evidence.containers import open_container
from fieldlab.evidence.differencing import last_component
from fieldlab.evidence.image import ImageSource
from fieldlab.evidence.item import Item, WalkError
from fieldlab.evidence.sources import describe_source, open_source
from fieldlab.evidence.verify import verify_media
from tests.conftest import REALDATA
from tests.evidence.chain_builders import chain, run

DFVFS = REALDATA / "log2timeline__dfvfs" / "test_data"
CHILD_VHD = DFVFS / "image-differential.vhd"  # names its parent "image.vhd", identifier d49c5c80-...
PARENT_ID = "d49c5c80-350a-4a89-898a-5ad6d10f6578"
PASSWORDS = (b"place,user,password\nbank,joesmith,superrich\nalarm system,-,1234\ntreasure chest,-,1111\n"
             b"uber secret laire,admin,admin\n")
BASE_ONLY = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(9600))  # 300 KiB, no block repeats
CHILD_ONLY = b"written only in the child layer\n"


def listed(source: ImageSource) -> dict[str, Item]:
    return {entry.path: entry for entry in source.walk() if isinstance(entry, Item)}


def content(source: ImageSource, item: Item) -> bytes:
    handle = source.open_item(item.locator)
    data = bytearray(item.size)
    view, got = memoryview(data), 0
    while got < item.size:
        n = handle.readinto(view[got:])
        if not n:
            break
        got += n
    handle.close()
    return bytes(data[:got])


def opened(path: Path, parents: list[Path] | None = None) -> ImageSource:
    return ImageSource(path, parents=parents or [])


def test_the_real_differencing_vhd_without_its_parent_is_incomplete_and_names_it(tmp_path: Path) -> None:
    alone = tmp_path / "image-differential.vhd"
    shutil.copyfile(CHILD_VHD, alone)
    source = opened(alone)
    try:
        missing = source.container.missing_parent
        assert "'image.vhd'" in missing and PARENT_ID in missing and str(tmp_path) in missing and "--parent" in missing
        entries = list(source.walk())
        assert [type(e) for e in entries] == [WalkError] and "incomplete" in entries[0].message
        assert [link.path for link in source.container.chain] == [str(alone)]
        assert source.container.chain[0].parent_identifier == PARENT_ID
    finally:
        source.close()


def test_the_real_differencing_vhd_opens_with_its_parent_beside_it_and_records_the_chain() -> None:
    source = opened(CHILD_VHD)
    try:
        assert source.container.missing_parent is None
        assert [(link.path, link.identifier) for link in source.container.chain] == [
            (str(CHILD_VHD), "40d56d36-9ab8-4fe4-a31a-121fe2bf15eb"), (str(DFVFS / "image.vhd"), PARENT_ID)]
        assert content(source, listed(source)["passwords.txt"]) == PASSWORDS
    finally:
        source.close()


def test_a_vhd_parent_is_found_by_its_identifier_under_another_name(tmp_path: Path) -> None:
    shutil.copyfile(CHILD_VHD, tmp_path / "child.vhd")
    shutil.copyfile(DFVFS / "image.vhd", tmp_path / "renamed by the lab.vhd")
    source = opened(tmp_path / "child.vhd")
    try:
        assert source.container.chain[1].path == str(tmp_path / "renamed by the lab.vhd")
        assert content(source, listed(source)["passwords.txt"]) == PASSWORDS
    finally:
        source.close()


def test_a_vhd_of_the_parent_name_but_another_identifier_is_not_used(tmp_path: Path) -> None:
    shutil.copyfile(CHILD_VHD, tmp_path / "child.vhd")
    shutil.copyfile(DFVFS / "ext2.vhd", tmp_path / "image.vhd")  # another disk under the name the child asks for
    source = opened(tmp_path / "child.vhd")
    try:
        assert "has identifier" in source.container.missing_parent and "not " + PARENT_ID in source.container.missing_parent
        assert listed(source) == {}
    finally:
        source.close()


@pytest.mark.parametrize("given", ["file", "folder"])
def test_the_examiner_gives_a_parent_kept_elsewhere(tmp_path: Path, given: str) -> None:
    shutil.copyfile(CHILD_VHD, tmp_path / "child.vhd")
    source = opened(tmp_path / "child.vhd", [DFVFS / "image.vhd" if given == "file" else DFVFS])
    try:
        assert source.container.missing_parent is None
        assert content(source, listed(source)["passwords.txt"]) == PASSWORDS
    finally:
        source.close()


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk"])
def test_a_qemu_chain_reads_files_written_only_in_the_base_and_only_in_the_children(tmp_path: Path, fmt: str) -> None:
    images = chain(tmp_path / "ev", fmt, [{"BASE.BIN": BASE_ONLY}, {"MIDDLE.TXT": b"middle layer\n"},
                                          {"CHILD.TXT": CHILD_ONLY}])
    for image in images[1:]:  # the children really hold only their own blocks: the base's file lies in the base
        assert BASE_ONLY[200_000:204_096] not in image.read_bytes()
    assert BASE_ONLY[200_000:204_096] in images[0].read_bytes()
    source = opened(images[-1])
    try:
        assert [link.path for link in source.container.chain] == [str(p) for p in reversed(images)]
        assert [link.parent_name for link in source.container.chain] == [images[1].name, images[0].name, None]
        files = listed(source)
        assert content(source, files["BASE.BIN"]) == BASE_ONLY
        assert content(source, files["MIDDLE.TXT"]) == b"middle layer\n"
        assert content(source, files["CHILD.TXT"]) == CHILD_ONLY
    finally:
        source.close()
    middle = opened(images[1])  # the middle layer is a disk of its own: the child's file is not in it
    try:
        assert sorted(p for p in listed(middle) if "Volume Label" not in p) == ["BASE.BIN", "MIDDLE.TXT"]
    finally:
        middle.close()


def test_a_parent_named_by_an_absolute_path_outside_the_allowed_places_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    base, child = chain(elsewhere, "qcow2", [{"BASE.BIN": BASE_ONLY}, {"CHILD.TXT": CHILD_ONLY}],
                        backing=[str(elsewhere / "layer0.qcow2")])
    (tmp_path / "exhibit").mkdir()
    moved = Path(shutil.move(child, tmp_path / "exhibit" / "child.qcow2"))
    source = opened(moved)
    try:
        assert base.exists()  # the path the image names is there, and still not followed
        assert "'layer0.qcow2' was not found in " + str(tmp_path / "exhibit") in source.container.missing_parent
        assert listed(source) == {}
    finally:
        source.close()
    source = opened(moved, [base])  # the examiner's word opens it
    try:
        assert content(source, listed(source)["BASE.BIN"]) == BASE_ONLY
    finally:
        source.close()


def test_a_parent_named_up_the_tree_is_looked_for_only_beside_the_child(tmp_path: Path) -> None:
    _, child = chain(tmp_path / "ev", "qcow2", [{"BASE.BIN": BASE_ONLY}, {"CHILD.TXT": CHILD_ONLY}],
                     backing=["../ev/layer0.qcow2"])
    (tmp_path / "ev" / "sub").mkdir()
    moved = Path(shutil.move(child, tmp_path / "ev" / "sub" / "child.qcow2"))  # ../ev/layer0.qcow2 still exists
    source = opened(moved)
    try:
        assert "'layer0.qcow2' was not found in " + str(tmp_path / "ev" / "sub") in source.container.missing_parent
    finally:
        source.close()


def test_a_symbolic_link_beside_the_child_is_not_followed(tmp_path: Path) -> None:
    base, child = chain(tmp_path / "built", "qcow2", [{"BASE.BIN": BASE_ONLY}, {"CHILD.TXT": CHILD_ONLY}])
    (tmp_path / "ev").mkdir()
    moved = Path(shutil.move(child, tmp_path / "ev" / child.name))
    (tmp_path / "ev" / base.name).symlink_to(base)
    source = opened(moved)
    try:
        assert source.container.missing_parent is not None
    finally:
        source.close()


def test_a_loop_of_backing_files_ends_as_incomplete(tmp_path: Path) -> None:
    base, child = chain(tmp_path / "ev", "qcow2", [{"BASE.BIN": BASE_ONLY}, {"CHILD.TXT": CHILD_ONLY}])
    run("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", child.name, "-F", "qcow2", str(base))  # base -> child
    source = opened(child)
    try:
        assert "a loop" in source.container.missing_parent
        assert [link.path for link in source.container.chain] == [str(child), str(base)]
    finally:
        source.close()


def test_a_chain_longer_than_the_limit_is_not_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = chain(tmp_path / "ev", "qcow2", [{"A.TXT": b"a"}, {"B.TXT": b"b"}, {"C.TXT": b"c"}])
    monkeypatch.setattr(differencing, "MAX_CHAIN", 2)
    source = opened(images[-1])
    try:
        assert "more than 2 differencing images" in source.container.missing_parent
    finally:
        source.close()


def test_a_qcow2_over_a_raw_backing_file_says_what_it_found(tmp_path: Path) -> None:
    (tmp_path / "base.raw").write_bytes(bytes(1 << 20))
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "child.qcow2", cwd=tmp_path)
    source = opened(tmp_path / "child.qcow2")
    try:
        assert f"{tmp_path / 'base.raw'} is not a QCOW2 image" in source.container.missing_parent
    finally:
        source.close()


def test_a_plain_image_records_no_chain() -> None:
    source = opened(DFVFS / "ext2.qcow2")
    try:
        assert (source.container.chain, source.container.missing_parent) == ((), None)
        assert hashlib.sha256(content(source, listed(source)["passwords.txt"])).hexdigest() == (
            "02a2a6af2f1ecf4720d7d49d640f0d0a269a7ec733e41973bdd34f09dad0e252")
    finally:
        source.close()


@pytest.mark.parametrize("name, component", [
    ("image.vhd", "image.vhd"), ("C:\\VMs\\Disk 1\\base.vhdx", "base.vhdx"), ("/etc/passwd", "passwd"),
    ("../../base.qcow2", "base.qcow2"), ("..", ""), ("dir/", "dir"), ("", ""),
])
def test_only_the_last_component_of_a_parent_name_is_used(name: str, component: str) -> None:
    assert last_component(name) == component


def test_verifying_an_image_without_its_parent_says_which_parent_is_missing(tmp_path: Path) -> None:
    alone = Path(shutil.copyfile(CHILD_VHD, tmp_path / "child.vhd"))
    media = open_container(alone)
    try:
        result = verify_media(media)
    finally:
        media.close()
    assert result.state == "unreadable" and "'image.vhd'" in result.message


def test_a_parent_the_examiner_gives_through_a_link_is_used(tmp_path: Path) -> None:
    shutil.copyfile(CHILD_VHD, tmp_path / "child.vhd")
    (tmp_path / "given").symlink_to(DFVFS / "image.vhd")
    source = open_source(describe_source(tmp_path / "child.vhd", parents=[tmp_path / "given"]))
    try:
        assert isinstance(source, ImageSource) and source.container.chain[1].path == str(DFVFS / "image.vhd")
    finally:
        source.close()
