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

from dataclasses import dataclass
LAYER_KINDS = frozenset(
    {
        "file",  # a path inside the enclosing folder (bytes, '/'-separated)
        "partition",  # a volume of a disk, by its byte offset (0 when there is no partition table)
        "bde",  # the decrypted view of a BitLocker volume
        "vss",  # a volume shadow copy, by store index
        "fsfile",  # a file-system entry: "<metadata address>:<path>" (the address re-opens deleted entries)
        "stream",  # a named data stream of a file (NTFS ADS)
        "member",  # an entry inside an archive or container file
        "carved",  # a byte run "OFFSET+LENGTH" inside the enclosing data
    }
)

_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-~+,()[]!$&'*;=@: ")
_SEPARATOR = "|"


class LocatorError(ValueError):
    """A locator's text form could not be read back."""


@dataclass(frozen=True)
class Layer:
    kind: str
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
    def of(cls, kind: str, value: bytes | str) -> Locator:
        return cls(()).child(kind, value)

    def child(self, kind: str, value: bytes | str) -> Locator:
        """The locator of something found inside this item (archive member, stream, carved run)."""
        raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        return Locator(self.layers + (Layer(kind, raw),))

    @property
    def parent(self) -> Locator | None:
        return Locator(self.layers[:-1]) if len(self.layers) > 1 else None

    def to_text(self) -> str:
        return _SEPARATOR.join(f"{layer.kind}:{_encode(layer.value)}" for layer in self.layers)

    @classmethod
    def parse(cls, text: str) -> Locator:
        if not text:
            raise LocatorError("empty locator")
        layers = []
        for part in text.split(_SEPARATOR):
            kind, colon, value = part.partition(":")
            if not colon:
                raise LocatorError(f"locator layer without a kind: {part!r}")
            layers.append(Layer(kind, _decode(value)))
        return cls(tuple(layers))

    def display(self) -> str:
        """A human-readable path, still safe to print: control characters and bad bytes are escaped."""
        return " › ".join(display_bytes(layer.value) for layer in self.layers)

    def __str__(self) -> str:
        return self.to_text()


def _encode(value: bytes) -> str:
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in value)


def _decode(text: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            try:
                out.append(int(text[i + 1 : i + 3], 16))
            except ValueError:
                raise LocatorError(f"bad escape in locator at {i}: {text[i:i + 3]!r}") from None
            if len(text[i + 1 : i + 3]) != 2:
                raise LocatorError(f"truncated escape in locator at {i}")
            i += 3
        else:
            out.extend(ch.encode("utf-8"))
            i += 1
    return bytes(out)


def display_bytes(value: bytes) -> str:
    """Decode a suspect-controlled name for display: invalid UTF-8 and control characters become escapes."""
    text = value.decode("utf-8", "backslashreplace")
    return "".join(_display_char(c) for c in text)


def _display_char(c: str) -> str:
    code = ord(c)
    if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or c in "\u2028\u2029\u202e\u202d\u200e\u200f":
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return c
