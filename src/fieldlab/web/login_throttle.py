"""Failed logins, counted per account name and per client, so guessing is slow whichever way it is spread.

An attempt is counted *before* its password is checked (a reservation under one lock), and stays counted if the
password was wrong: forty guesses sent at once for one name get five checks and thirty-five refusals, never forty
checks.  A right password clears the name's count and gives the client back its slot.  Names are counted by
``accounts.name_key`` (the one canonical form login and accounts use), so `` examiner2``, ``Examiner2`` or a
full-width spelling are the same name here; clients by their address, so one machine spraying many names is slowed
too.  The memory held is bounded: expired entries are dropped, and beyond ``MAX_TRACKED`` keys the oldest go.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

FAILURES_PER_NAME = 5
FAILURES_PER_CLIENT = 20
WINDOW_SECONDS = 300.0
MAX_TRACKED = 10_000


@dataclass(frozen=True)
class Attempt:
    """A reserved try: hand it back to ``LoginThrottle.finish``."""

    name_key: str
    client: str
    at: float


class LoginThrottle:
    def __init__(self, per_name: int = FAILURES_PER_NAME, per_client: int = FAILURES_PER_CLIENT,
                 window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_name, self.per_client, self.window, self.clock = per_name, per_client, window, clock
        self._lock = threading.Lock()
        self._names: dict[str, deque[float]] = {}
        self._clients: dict[str, deque[float]] = {}

    def begin(self, name_key: str, client: str) -> Attempt | str:
        """A reserved attempt, or why none is allowed now (the examiner's words)."""
        with self._lock:
            now = self.clock()
            by_name, by_client = self._recent(self._names, name_key, now), self._recent(self._clients, client, now)
            if len(by_name) >= self.per_name:
                return f"too many failed attempts for this name: wait {int(self.window // 60)} minutes"
            if len(by_client) >= self.per_client:
                return f"too many failed attempts from this computer: wait {int(self.window // 60)} minutes"
            by_name.append(now)
            by_client.append(now)
            return Attempt(name_key, client, now)

    def finish(self, attempt: Attempt, failed: bool | None) -> None:
        """``failed``: True keeps the attempt counted; False (logged in) clears the name; None (the password was
        never checked: the server was busy) gives the attempt back."""
        if failed:
            return
        with self._lock:
            if failed is False:
                self._names.pop(attempt.name_key, None)
            else:
                _remove(self._names.get(attempt.name_key), attempt.at)
            _remove(self._clients.get(attempt.client), attempt.at)

    def _recent(self, table: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        times = table.get(key)
        if times is None:
            if len(table) >= MAX_TRACKED:
                self._forget_old(table, now)
            times = table[key] = deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def _forget_old(self, table: dict[str, deque[float]], now: float) -> None:
        for key in [k for k, t in table.items() if not t or now - t[-1] >= self.window]:
            del table[key]
        if len(table) >= MAX_TRACKED:  # all recent: the least recently tried half goes
            for key in sorted(table, key=lambda k: table[k][-1])[: len(table) // 2]:
                del table[key]


def _remove(times: deque[float] | None, at: float) -> None:
    if times is not None and at in times:
        times.remove(at)
