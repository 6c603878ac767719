"""The one rule for every output: refuse what could touch or confuse the evidence, accept every other place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import fieldlab
from fieldlab.case.outputs import refuse_near_evidence
from fieldlab.case.store import CaseError
from tests.conftest import REALDATA

IMAGE = REALDATA / "py4n6__pytsk" / "test_data" / "image.raw"


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """/data with an image, its acquisition log, an existing cases folder and another folder of the examiner's."""
    root = tmp_path / "data"
    (root / "cases").mkdir(parents=True)
    (root / "JD-1.raw").write_bytes(b"\0" * 512)
    (root / "JD-1.log").write_text("acquired by ...\n")
    return root


@pytest.mark.parametrize("target", ["cases/op-ash", "cases/op-ash/report.pdf", "../elsewhere/op-ash"])
def test_places_in_an_existing_subfolder_or_outside_the_image_folder_are_accepted(data: Path, target: str) -> None:
    refuse_near_evidence(data / target, str(data / "JD-1.raw"), "image", what="the case folder")


@pytest.mark.parametrize("target", ["op-ash", "report.pdf", "JD-1.E02", "new/op-ash", ".", "JD-1.raw"])
def test_anything_created_in_the_folder_holding_the_image_is_refused_saying_what_is_allowed(
        data: Path, target: str) -> None:
    with pytest.raises(CaseError) as refused:
        refuse_near_evidence(data / target, str(data / "JD-1.raw"), "image", what="the case folder")
    said = str(refused.value)
    assert "beside the evidence" in said and f"outside {data}" in said and "existing subfolders" in said


def test_a_link_into_the_image_folder_is_judged_where_it_leads(data: Path, tmp_path: Path) -> None:
    (tmp_path / "shortcut").symlink_to(data)
    with pytest.raises(CaseError, match="beside the evidence"):
        refuse_near_evidence(tmp_path / "shortcut" / "op", str(data / "JD-1.raw"), "image", what="the case folder")


def test_nothing_is_written_inside_a_folder_source_and_next_to_it_is_fine(tmp_path: Path) -> None:
    (tmp_path / "usb" / "DCIM").mkdir(parents=True)
    with pytest.raises(CaseError, match="inside the evidence.*choose a place outside"):
        refuse_near_evidence(tmp_path / "usb" / "DCIM" / "case", str(tmp_path / "usb"), "folder",
                             what="the case folder")
    refuse_near_evidence(tmp_path / "case", str(tmp_path / "usb"), "folder", what="the case folder")


def test_the_folder_of_a_differencing_images_parent_is_protected_too(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "bases").mkdir()
    child, parent = tmp_path / "snapshots" / "c.qcow2", tmp_path / "bases" / "b.qcow2"
    refuse_near_evidence(tmp_path / "case", str(child), "image", what="the case folder", parents=[str(parent)])
    with pytest.raises(CaseError, match=f"beside the evidence {parent}"):
        refuse_near_evidence(tmp_path / "bases" / "case", str(child), "image", what="the case folder",
                             parents=[str(parent)])


def test_a_device_protects_itself_and_its_partitions_not_all_of_dev() -> None:
    for target in ("/dev/sdb", "/dev/sdb1"):
        with pytest.raises(CaseError, match="evidence device"):
            refuse_near_evidence(Path(target), "/dev/sdb", "image", what="the output")
    refuse_near_evidence(Path("/dev/shm/case"), "/dev/sdb", "image", what="the case folder")
    refuse_near_evidence(Path("/dev/sdc1"), "/dev/sdb", "image", what="the output")


def test_a_scan_into_an_existing_subfolder_of_the_image_folder_works(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "cases").mkdir(parents=True)
    image = shutil.copyfile(IMAGE, home / "JD-1.raw")
    fieldlab.scan(image, home / "cases" / "op-ash", exhibit_ref="JD/1", workers=1, perceptual=False)
    assert fieldlab.summary(home / "cases" / "op-ash")[0].files_read > 0
    with pytest.raises(CaseError, match="beside the evidence"):
        fieldlab.scan(image, home / "op-ash", exhibit_ref="JD/1")
    assert sorted(p.name for p in home.iterdir()) == ["JD-1.raw", "cases"]
