"""The test hook that kills a scan at a named point: a mistyped setting is refused, never silently ignored."""

from __future__ import annotations

import pytest

from fieldlab.triage.kill_point import KillPoint


@pytest.mark.parametrize("setting", ["reading:2", "read", "read:0", "read:x", ":3"])
def test_a_setting_that_names_no_point_of_a_scan_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match="STAGE:N"):
        KillPoint(setting)


def test_unset_it_never_fires() -> None:
    point = KillPoint(None)
    for stage in ("walk", "read", "carve", "decode", "verify"):
        point.reached(stage)  # would kill this process if it fired
    assert point.stage is None
