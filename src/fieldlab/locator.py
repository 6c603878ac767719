"""One address for any item in nested evidence.

A locator is a chain of layers read from the outside in, in the spirit of
dfVFS path specs: ``file:/Users/a/x.zip|member:photos/1.jpg`` names a zip
member inside a file of the exhibit's source.  The exhibit itself (which
folder, device or image) is not part of the locator: the case records it once,
so moving a case to another workstation only means re-pointing the exhibit.

The text form is stable (it is the key in the case database, in reports and in
URLs) and round-trips any byte string: suspect-controlled names may hold
newlines, separators, or bytes that are not UTF-8, so every value is
percent-encoded except for a small safe set of characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args
from urllib.parse import unquote_to_bytes

from fieldlab.errors import FieldlabError

# Literals, not enums: the kinds are written as text in every locator the case stores, and each call site names its
# kind as a plain string the type check verifies.
VolumeLayerKind = Literal[  # between a disk's media and its file systems: one entry each in evidence/volume_layers
    "partition",  # a volume of a disk, by its byte offset (0 when there is no partition table)
    "bde",  # the decrypted view of a BitLocker volume
    "luks",  # the decrypted view of a LUKS volume
    "vss",  # a volume shadow copy, by store index
    "apfsvol",  # a volume of an APFS container, by index
    "lvm",  # a logical volume of the LVM volume group on a physical volume, by index
]
LayerKind = Literal[
    VolumeLayerKind,
    "file",  # a path inside the enclosing folder (bytes, '/'-separated)
    "fsfile",  # a file-system entry: "<metadata address>:<path>" (the address re-opens deleted entries)
    "stream",  # a named data stream of a file (NTFS ADS)
    "member",  # an entry inside an archive or container file
    "carved",  # a byte run "OFFSET+LENGTH" inside the enclosing data
    "ioskey",  # the plaintext of an encrypted iOS backup's stored file: "CLASS:WRAPPED-KEY-HEX:SIZE"
]
VOLUME_LAYER_KINDS: frozenset[str] = frozenset(get_args(VolumeLayerKind))
LAYER_KINDS: frozenset[str] = frozenset(get_args(LayerKind))

_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-~+,()[]!$&'*;=@: ")
_SAFE_BYTES = bytes(sorted(_SAFE))
_SEPARATOR = "|"


class LocatorError(FieldlabError, ValueError):
    """A locator's text form could not be read back."""


MAX_RUN_PIECES = 2  # a file carved whole, or in two fragments with a gap between (bifragment gap carving)
_PIECE = re.compile(rb"(0|[1-9][0-9]{0,19})\+(0|[1-9][0-9]{0,19})")


def run_key(offset: int, length: int, second: tuple[int, int] | None = None) -> bytes:
    """The value of a ``carved`` layer: ``OFFSET+LENGTH``, or ``O1+L1,O2+L2`` for a file found in two pieces."""
    key = b"%d+%d" % (offset, length)
    return key + b",%d+%d" % second if second is not None else key


def parse_runs(value: bytes) -> tuple[tuple[int, int], ...]:
    """The pieces a ``carved`` layer names, in order: one, or two that do not overlap, the second after the first.

    A locator comes back from the case, a URL or a report, so it is read strictly: an address that could name
    bytes twice or out of order is not one the carver wrote.
    """
    parts = value.split(b",")
    pieces = [_PIECE.fullmatch(part) for part in parts[: MAX_RUN_PIECES + 1]]
    if len(parts) > MAX_RUN_PIECES or not all(pieces):
        raise LocatorError(f"not a carved run address (OFFSET+LENGTH[,OFFSET+LENGTH]): {value[:80]!r}")
    runs = tuple((int(match[1]), int(match[2])) for match in pieces if match)
    if len(runs) == 2 and (runs[1][0] < runs[0][0] + runs[0][1] or not runs[0][1] or not runs[1][1]):
        raise LocatorError(f"the two pieces of a carved run must be non-empty and in order: {value[:80]!r}")
    return runs


def parse_run(value: bytes) -> tuple[int, int]:
    """The one piece of a ``carved`` layer where only a contiguous run can be (a run carved inside a file)."""
    runs = parse_runs(value)
    if len(runs) != 1:
        raise LocatorError(f"a run carved inside a file is one piece: {value[:80]!r}")
    return runs[0]


def _is_layer_kind(kind: str) -> TypeGuard[LayerKind]:
    return kind in LAYER_KINDS


@dataclass(frozen=True)
class Layer:
    kind: LayerKind
    value: bytes

    def __post_init__(self) -> None:
        if self.kind not in LAYER_KINDS:
            raise LocatorError(f"unknown locator layer kind {self.kind!r}")


@dataclass(frozen=True)
class Locator:
    layers: tuple[Layer, ...]

    @classmethod
    def for_file(cls, relative_path: bytes) -> Locator:
        """The locator of a file at ``relative_path`` (bytes, '/'-separated) in the exhibit's source."""
        return cls((Layer("file", relative_path),))

    @classmethod
    def of(cls, kind: LayerKind, value: bytes | str) -> Locator:
        return cls(()).child(kind, value)

    def child(self, kind: LayerKind, value: bytes | str) -> Locator:
        """The locator of something found inside this item (archive member, stream, carved run)."""
        raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        return Locator(self.layers + (Layer(kind, raw),))

    @property
    def parent(self) -> Locator | None:
        return Locator(self.layers[:-1]) if len(self.layers) > 1 else None

    def to_text(self) -> str:
        return _SEPARATOR.join([layer_text(layer.kind, layer.value) for layer in self.layers])

    @classmethod
    def parse(cls, text: str) -> Locator:
        if not text:
            raise LocatorError("empty locator")
        layers = []
        for part in text.split(_SEPARATOR):
            kind, colon, value = part.partition(":")
            if not colon:
                raise LocatorError(f"locator layer without a kind: {part!r}")
            if not _is_layer_kind(kind):
                raise LocatorError(f"unknown locator layer kind {kind!r}")
            layers.append(Layer(kind, _decode(value)))
        return cls(tuple(layers))

    def display(self) -> str:
        """A human-readable path, still safe to print: control characters and bad bytes are escaped."""
        return " › ".join(display_bytes(layer.value) for layer in self.layers)

    def __str__(self) -> str:
        return self.to_text()


_UNSAFE_BYTES = re.compile(b"[^" + re.escape(_SAFE_BYTES) + b"]")
_BAD_ESCAPE = re.compile("%(?![0-9A-Fa-f]{2})")
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def layer_text(kind: LayerKind, value: bytes) -> str:
    """One layer's text form; alone, the text of a one-layer locator, made without the objects (a folder scan's walk
    makes one per file)."""
    return f"{kind}:{_encode(value)}"


def _encode(value: bytes) -> str:
    if not value.translate(None, _SAFE_BYTES):  # nothing to escape, as in most names: 4x faster than the search
        return value.decode("ascii")
    return _UNSAFE_BYTES.sub(lambda m: b"%%%02X" % m[0][0], value).decode("ascii")


def file_path(text: str) -> bytes | None:
    """The path of a one-layer ``file:`` locator's text (a folder's own file), else None: what ``Locator.parse``
    gives of it, without making the objects (a reader opens a folder's files by it, a million for a million files)."""
    if not text.startswith("file:") or _SEPARATOR in text:
        return None
    value = text[5:]
    return _decode(value) if "%" in value else value.encode("utf-8")  # unquote_to_bytes, where there is no escape


def _decode(text: str) -> bytes:
    bad = _BAD_ESCAPE.search(text)
    if bad:
        raise LocatorError(f"bad escape in locator at {bad.start()}: {text[bad.start():bad.start() + 3]!r}")
    return unquote_to_bytes(text)


def display_bytes(value: bytes) -> str:
    """Decode a suspect-controlled name for display: invalid UTF-8 and control characters become escapes."""
    if not value.translate(None, _SAFE_BYTES):  # printable ASCII alone: shown as it is (a walk shows every name)
        return value.decode("ascii")
    text = value.decode("utf-8", "backslashreplace")
    return _UNSAFE_CHARS.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def file_texts(relative: bytes) -> tuple[str, str]:
    """A folder's file's locator text and display path (``layer_text("file", relative)``, ``display_bytes(relative)``)
    from one look at its name: most names need escaping in neither, and a walk makes both for every file."""
    if not relative.translate(None, _SAFE_BYTES):
        shown = relative.decode("ascii")
        return "file:" + shown, shown
    return layer_text("file", relative), display_bytes(relative)
