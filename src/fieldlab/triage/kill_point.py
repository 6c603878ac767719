"""A test hook: ``FIELDLAB_TEST_KILL_AT=stage:n`` makes a scan SIGKILL itself as the nth unit of a stage comes back.

Resuming must give exactly what one uninterrupted scan gives, wherever the scan dies.  A kill sent from outside
lands wherever timing puts it (mostly in the longest stage), so tests name the point instead.  The units:
``walk`` an entry found, ``read`` a batch of files read, ``carve`` a region carved, ``decode`` a batch of media
decoded, ``verify`` a chunk of the media hashed.  The unit dies unrecorded, as in a real crash.  Unset, as
outside tests it always is, a check is one comparison.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "FIELDLAB_TEST_KILL_AT"
STAGES = ("walk", "read", "carve", "decode", "verify")


class KillPoint:
    def __init__(self, setting: str | None) -> None:
        self.stage: str | None = None
        self.unit = self.seen = 0
        if setting:
            stage, _, unit = setting.partition(":")
            if stage not in STAGES or not unit.isdigit() or int(unit) < 1:
                raise ValueError(f"{VARIABLE} must be STAGE:N with STAGE one of {', '.join(STAGES)} and N >= 1, "
                                 f"not {setting!r}")
            self.stage, self.unit = stage, int(unit)

    @classmethod
    def from_environment(cls) -> KillPoint:
        return cls(os.environ.get(VARIABLE))

    def reached(self, stage: str) -> None:
        """One more unit of ``stage`` is back; the process dies here if it is the named one."""
        if stage == self.stage:
            self.seen += 1
            if self.seen == self.unit:
                os.kill(os.getpid(), signal.SIGKILL)
