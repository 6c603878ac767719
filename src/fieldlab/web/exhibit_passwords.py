"""Exhibit passwords an examiner typed into the review app, so the pictures of an encrypted exhibit (an encrypted
iOS backup, encrypted archive members) can be previewed.

The case never holds a password (issue 16.10): these live in this server's memory only, per session and exhibit,
and reach a thumbnail worker inside the task that needs them.  A session that has ended can no longer use its
passwords (a new login has a new token); they are dropped when the next password is given.
"""

from __future__ import annotations

import threading

MAX_PER_EXHIBIT = 8  # passwords tried in turn: a few guesses, not a dictionary
MAX_LENGTH = 1024


class ExhibitPasswords:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, int], tuple[str, ...]] = {}

    def give(self, session: str, exhibit_id: int, password: str, live_sessions: set[str]) -> None:
        """Add ``password`` for the session's use on the exhibit; passwords of sessions not live are dropped."""
        with self._lock:
            self._held = {key: held for key, held in self._held.items() if key[0] in live_sessions}
            held = tuple(p for p in self._held.get((session, exhibit_id), ()) if p != password)
            self._held[(session, exhibit_id)] = (password[:MAX_LENGTH], *held)[:MAX_PER_EXHIBIT]

    def of(self, session: str, exhibit_id: int) -> tuple[str, ...]:
        with self._lock:
            return self._held.get((session, exhibit_id), ())
