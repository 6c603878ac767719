"""Shared pieces of the fuzzing passes: mutations of real seeds, and a time bound on every call.

The passes are Hypothesis tests with ``derandomize=True``: the same examples run on every machine, so CI is
deterministic, and a failure found once is found again.  Every crash or hang found is kept as an explicit
regression case next to the pass that found it.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CALL_SECONDS = 10  # far beyond any honest parse of these small seeds: past it, the call is a hang

FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Hang(BaseException):
    """A call overran its bound; a BaseException, so no ``except Exception`` in the code under test hides it."""


@contextlib.contextmanager
def within(seconds: float = CALL_SECONDS) -> Iterator[None]:
    """Raise ``Hang`` in the calling (main) thread if the block runs longer than ``seconds``."""

    def overran(_signal: int, _frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes overwritten (often in its first 512 bytes, where headers lie), maybe cut short."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        limit = min(len(data), 512) if draw(st.booleans()) else len(data)
        at = draw(st.integers(0, max(limit - 1, 0)))
        data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"])
                               if draw(st.booleans()) else st.binary(min_size=1, max_size=4))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)
