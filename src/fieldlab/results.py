"""What the scan's worker processes hand back and what the case store hands them: the messages between triage/ and case/.

They live apart from both so that a worker, which reads evidence and never the case, imports none of the case
store (SQLAlchemy and the schema), and the store imports none of the scan.  Plain frozen dataclasses, and named
tuples for those made once per file (a folder of a million small files makes a million of each): they cross
process boundaries pickled.  Where a folder's small files make them (``ItemRow``, ``ReadTask``, ``ItemResult``),
they are made with ``tuple.__new__(Kind, values)``, all fields in order: a named tuple's own ``__new__`` is a
Python-level function (measured: 0.86 against 0.28 us, on a loaded machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, NamedTuple, TypeVar

from fieldlab.evidence.item import Item
from fieldlab.problems import Problem

MediaKind = Literal["image", "video"]  # what the decoding stage makes of an item (media.kind)
_Row = TypeVar("_Row", bound=tuple)

if TYPE_CHECKING:  # the classifier's own imports (numpy) stay out of whoever only passes results on
    from fieldlab.detect.classify import Classification, ModelPixels


class PendingItem(NamedTuple):
    """An item the walk listed and no reader has read yet, as the scan dispatches it (one per file: a named tuple,
    as ``ItemResult``)."""

    id: int
    locator: str
    path: str
    size: int
    mtime: float | None
    flags: str = ""


class ItemResult(NamedTuple):
    """What reading one item produced; digests are lowercase hex.

    A named tuple, not a dataclass: one crosses the process boundary per file read, and a million small files made
    its pickling count (measured per result: unpickling 1.4 us as a named tuple, 4.7 us as a frozen dataclass, in
    the scan's one main process)."""

    item_id: int
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    file_type: str | None = None
    mime: str | None = None
    family: str | None = None
    extension_mismatch: bool | None = None
    error: Problem | None = None  # the item could not be read at all
    problems: tuple[Problem, ...] = ()  # read, but something is off (changed while read, a damaged archive, a bomb)
    size: int | None = None  # bytes read: an archive member's size is known only once expanded
    children: tuple[Item, ...] = ()  # found inside it (archive members), recorded with it, read in their turn
    truncated: bool = False  # its content stopped early: what was read is kept, hashed and searched (flag truncated)


class TupleBatch(list[_Row]):
    """Named tuples of one kind (a batch's ``ReadTask``s or ``ItemResult``s) that cross a process boundary pickled as
    plain tuples.  Pickle takes each named tuple apart through its Python-level ``__getnewargs__`` and makes it again
    through its Python-level ``__new__``; plain tuples go through pickle's C code alone (1,000 small files' results:
    0.85 ms pickled as named tuples, 0.24 ms as plain tuples, and 0.50 against 0.39 ms unpickled and made again)."""

    def __init__(self, kind: type[_Row], rows: Iterable[_Row] = ()) -> None:
        super().__init__(rows)
        self.kind = kind

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return _rebuilt_batch, (self.kind, [tuple(row) for row in self])


def _rebuilt_batch(kind: type[_Row], rows: list[tuple]) -> TupleBatch[_Row]:
    return TupleBatch(kind, [tuple.__new__(kind, row) for row in rows])


class ReadDigests(NamedTuple):
    """An item already read, as matching needs it; ``duplicate``: a carved copy of a listed file (no hits).  One per
    file read, matched as it is (``HashMatcher.match`` takes anything with the three digests)."""

    item_id: int
    md5: str | None
    sha1: str | None
    sha256: str | None
    duplicate: bool


@dataclass(frozen=True)
class PendingMedia:
    id: int
    locator: str
    path: str
    size: int
    family: MediaKind


@dataclass(frozen=True)
class UnclassifiedMedia(PendingMedia):
    """A decoded picture or video the classifier has not scored; ``retry``: an earlier run's attempt failed for a
    cause that may lie outside the picture (its worker died, its time ran out), and this is its one more try."""

    retry: bool = False


@dataclass(frozen=True)
class FrameRecord:
    frame: int
    timestamp: float
    quality: int
    pdq: str  # hex


@dataclass(frozen=True)
class ClassifiedPicture:
    """The classifier stage's outcome for one picture: its detections, or the problem that stopped them."""

    model_sha256: str
    found: Classification | None = None
    problem: Problem | None = None


@dataclass(frozen=True)
class MediaResult:
    """What decoding one picture or video produced: its perceptual hashes and a few facts, or why it failed."""

    item_id: int
    kind: MediaKind
    format: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frame_rate: float | None = None
    codec: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    dihedral: bytes | None = None
    frames: tuple[FrameRecord, ...] = ()
    error: Problem | None = None  # not decodable
    partial: Problem | None = None  # videos: why hashing stopped before the end
    exif: str | None = None  # JSON of detect.exif.PhotoFacts
    camera: str | None = None
    camera_serial: str | None = None
    # the picture, or a few sampled frames of the video, as the classifier's input; classified apart, after the
    # hashes are recorded (triage/classify_pool.py); never stored
    for_classifier: tuple[ModelPixels, ...] = ()
