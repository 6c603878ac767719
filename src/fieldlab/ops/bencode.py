"""Bencoding (BitTorrent's serialisation), read from data nobody vouches for: .torrent files, tracker answers, DHT
and peer-wire extension messages.

Decoding is bounded (nesting depth, element count, integer digits) and iterative, so a hostile message cannot
recurse or loop without end; ``decode_prefix`` also returns where the value ended, which the SHA-1 of a torrent's
``info`` dictionary needs (it is taken over the bytes as written, never a re-encoding).
"""

from __future__ import annotations

from fieldlab.errors import OpsError

MAX_DEPTH = 32
MAX_ELEMENTS = 1_000_000
MAX_INT_DIGITS = 64

Value = int | bytes | list | dict


class BencodeError(OpsError, ValueError):
    """The data is not bencoded within the bounds; the message says where."""


def decode(data: bytes, max_elements: int = MAX_ELEMENTS) -> Value:
    """The one value ``data`` holds; trailing bytes are an error."""
    value, end = decode_prefix(data, 0, max_elements)
    if end != len(data):
        raise BencodeError(f"{len(data) - end} bytes after the value")
    return value


def decode_prefix(data: bytes, start: int = 0, max_elements: int = MAX_ELEMENTS) -> tuple[Value, int]:
    """(value, end offset) of the value starting at ``start``."""
    value, end, _info = _decode(data, start, max_elements)
    return value, end


def info_span(data: bytes) -> tuple[int, int]:
    """The byte range of the top-level ``info`` value of a .torrent: what its infohashes are computed over."""
    top, _end, span = _decode(data, 0, MAX_ELEMENTS)
    if not isinstance(top, dict) or span is None or not isinstance(top.get(b"info"), dict):
        raise BencodeError("not a torrent: no info dictionary")
    return span


def _decode(data: bytes, pos: int, max_elements: int) -> tuple[Value, int, tuple[int, int] | None]:
    """(value, end, span of the top-level dictionary's ``info`` value if any)."""
    stack: list[list] = []  # [container, pending dictionary key or None, offset where it began]
    count = 0
    size = len(data)
    info: tuple[int, int] | None = None
    while True:
        if pos >= size:
            raise BencodeError(f"ends inside a value at byte {pos}")
        count += 1
        if count > max_elements:
            raise BencodeError(f"more than {max_elements} elements")
        lead = data[pos]
        begun = pos
        if lead == ord("e") and stack:
            container, key, begun = stack.pop()
            if isinstance(container, dict) and key is not None:
                raise BencodeError(f"dictionary key without a value at byte {pos}")
            value: Value = container
            pos += 1
        elif lead in (ord("l"), ord("d")):
            if len(stack) >= MAX_DEPTH:
                raise BencodeError(f"nested deeper than {MAX_DEPTH}")
            stack.append([{} if lead == ord("d") else [], None, pos])
            pos += 1
            continue
        elif lead == ord("i"):
            end = data.find(b"e", pos + 1, pos + 2 + MAX_INT_DIGITS)
            digits = data[pos + 1:end].removeprefix(b"-") if end > 0 else b""
            if not digits.isdigit() or (digits.startswith(b"0") and (digits != b"0" or data[pos + 1] == ord("-"))):
                raise BencodeError(f"bad integer at byte {pos}")
            value, pos = int(data[pos + 1:end]), end + 1
        elif ord("0") <= lead <= ord("9"):
            colon = data.find(b":", pos, pos + 21)
            if colon < 0 or not data[pos:colon].isdigit():
                raise BencodeError(f"bad string length at byte {pos}")
            length = int(data[pos:colon])
            if colon + 1 + length > size:
                raise BencodeError(f"string of {length} bytes runs past the end at byte {pos}")
            value, pos = data[colon + 1:colon + 1 + length], colon + 1 + length
        else:
            raise BencodeError(f"unexpected byte {lead:#04x} at byte {pos}")
        if not stack:
            return value, pos, info
        top = stack[-1]
        if isinstance(top[0], list):
            top[0].append(value)
        elif top[1] is None:
            if not isinstance(value, bytes):
                raise BencodeError(f"dictionary key is not a string before byte {pos}")
            top[1] = value
        else:
            if len(stack) == 1 and top[1] == b"info":
                info = (begun, pos)
            top[0][top[1]] = value
            top[1] = None


def encode(value: Value | str) -> bytes:
    """Bencode ``value`` (str is written as UTF-8; dictionary keys are sorted, as the format requires)."""
    out: list[bytes] = []
    _encode(value, out, 0)
    return b"".join(out)


def _encode(value: Value | str, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BencodeError(f"nested deeper than {MAX_DEPTH}")
    if isinstance(value, bool):
        raise BencodeError("booleans are not bencoded")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, str):
        _encode(value.encode("utf-8"), out, depth)
    elif isinstance(value, bytes):
        out.append(b"%d:" % len(value))
        out.append(value)
    elif isinstance(value, list):
        out.append(b"l")
        for item in value:
            _encode(item, out, depth + 1)
        out.append(b"e")
    elif isinstance(value, dict):
        out.append(b"d")
        keys = {(k.encode("utf-8") if isinstance(k, str) else k): v for k, v in value.items()}
        for key in sorted(keys):
            _encode(key, out, depth + 1)
            _encode(keys[key], out, depth + 1)
        out.append(b"e")
    else:
        raise BencodeError(f"cannot bencode {type(value).__name__}")
