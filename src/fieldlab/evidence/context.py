"""What one process keeps open of the evidence: the exhibits it opened, the containers read in them, loaded models.

Opening an exhibit is costly (an E01's chunk table, a BitLocker unlock, a keybag's PBKDF2), and so is reading an
archive's directory; a worker keeps both for the batches that follow.  They belong to an ``EvidenceContext`` made
by whoever runs the work (one per scan worker process, review server's thumbnail worker or report run, in the
spirit of dfVFS's resolver context) and passed down, instead of caches hidden in modules: what is held is
bounded, ``close`` closes it, and two contexts share nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from fieldlab.evidence.nested import OpenedContainers
from fieldlab.evidence.sources import EvidenceSource, SourceSpec, open_source

_T = TypeVar("_T")


@dataclass(frozen=True)
class OpenedExhibit:
    """An exhibit's source, opened once, with the containers read in it so far."""

    source: EvidenceSource
    containers: OpenedContainers

    def close(self) -> None:
        self.containers.close()  # their outer items read through the source: closed first
        self.source.close()


class EvidenceContext:
    """The exhibits (at most ``max_exhibits``, the least recently used closed first) and loaded things (a
    classifier's model: at most ``max_loaded``) of one worker, server or report run."""

    def __init__(self, max_exhibits: int = 4, max_loaded: int = 2) -> None:
        self.max_exhibits, self.max_loaded = max_exhibits, max_loaded
        self._exhibits: OrderedDict[SourceSpec, OpenedExhibit] = OrderedDict()
        self._loaded: OrderedDict[str, Any] = OrderedDict()

    def __enter__(self) -> EvidenceContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exhibit(self, spec: SourceSpec) -> OpenedExhibit:
        """The exhibit ``spec`` describes, opened on first use and kept open; ``open_source``'s errors pass
        through (nothing is kept then)."""
        opened = self._exhibits.get(spec)
        if opened is None:
            opened = self._exhibits[spec] = OpenedExhibit(open_source(spec), OpenedContainers())
            while len(self._exhibits) > self.max_exhibits:
                self._exhibits.popitem(last=False)[1].close()
        self._exhibits.move_to_end(spec)
        return opened

    def loaded(self, key: str, load: Callable[[], _T]) -> _T:
        """What ``load`` gives, made once per ``key`` (a model's SHA-256) while it stays among the recently used;
        a ``load`` that reports its failure as a value is asked once too."""
        if key not in self._loaded:
            self._loaded[key] = load()
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(key)
        return self._loaded[key]

    def close(self) -> None:
        while self._exhibits:
            self._exhibits.popitem()[1].close()
        self._loaded.clear()
