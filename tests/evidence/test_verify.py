"""Background verification of an image's hash: the answer of a full, sequential read, from a niced process."""

from __future__ import annotations

import os
from pathlib import Path

from fieldlab.evidence.verify import LOWEST_PRIORITY, BackgroundVerification, VerifyResult
from fieldlab.validation.disks import to_e01

MEDIA_BYTES = 3 << 20


def _acquired(tmp_path: Path) -> Path:
    """An E01 made by ``ewfacquire`` of random media, chunks stored plain (so a flipped byte stays a flipped byte)."""
    raw = tmp_path / "media.raw"
    raw.write_bytes(os.urandom(MEDIA_BYTES))
    return to_e01(raw, tmp_path / "evidence" / "disk")[0]


def _finished(verification: BackgroundVerification) -> tuple[int, VerifyResult]:
    units = 0
    while verification.result is None:
        units += verification.poll(timeout=5)
    return units, verification.result


def test_an_acquired_e01_is_verified_in_the_background_with_its_progress(tmp_path: Path) -> None:
    with BackgroundVerification(_acquired(tmp_path)) as verification:
        units, result = _finished(verification)
    assert result.state == "verified" and result.stored == result.computed and set(result.stored) == {"md5", "sha1"}
    assert units == 1 and (verification.done, verification.total) == (MEDIA_BYTES, MEDIA_BYTES)


def test_a_tampered_e01_is_a_mismatch(tmp_path: Path) -> None:
    image = _acquired(tmp_path)
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the media data: the sectors section fills most of the segment
    image.write_bytes(bytes(data))
    with BackgroundVerification(image) as verification:
        _, result = _finished(verification)
    assert result.state == "mismatch" and result.stored["md5"] != result.computed["md5"]
    assert result.message == "MD5, SHA1 differ from the acquisition hash"


def test_an_image_that_cannot_be_opened_is_unreadable_with_the_reason(tmp_path: Path) -> None:
    image = _acquired(tmp_path)
    image.write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + bytes(100))  # a signature and nothing behind it
    with BackgroundVerification(image) as verification:
        _, result = _finished(verification)
    assert result.state == "unreadable" and result.message.startswith("the image could not be opened")


def test_closing_a_verification_that_still_runs_ends_its_process(tmp_path: Path) -> None:
    verification = BackgroundVerification(_acquired(tmp_path))
    verification.close()
    assert not verification.running and verification.result is None


def test_the_verification_runs_niced_until_the_scan_hurries_it(tmp_path: Path) -> None:
    with BackgroundVerification(_acquired(tmp_path)) as verification:
        assert os.getpriority(os.PRIO_PROCESS, verification.pid) == LOWEST_PRIORITY
        raised = verification.hurry()  # raising a priority takes root or CAP_SYS_NICE: without, it stays niced
        assert os.getpriority(os.PRIO_PROCESS, verification.pid) == (os.getpriority(os.PRIO_PROCESS, 0) if raised else LOWEST_PRIORITY)
        assert raised or os.geteuid() != 0
        _, result = _finished(verification)
    assert result.state == "verified"
