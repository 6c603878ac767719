"""One read-only look at one BitTorrent peer: which client it is and how much of a known torrent it holds.

The exchange is the BitTorrent handshake (BEP 3) with the extension-protocol bit (BEP 10) and the fast-extension
bit (BEP 6, so a peer holding everything or nothing says so in one message), then reading what the peer volunteers:
its extension handshake (client name ``v``), ``bitfield``, ``have``, ``have all`` and ``have none``.  We send our
handshake and our extension handshake, nothing else: never ``interested`` and never ``request``, so no piece is
ever asked for, and a ``piece`` message that arrives anyway is dropped unread.

Why our own client and not a libtorrent session: a libtorrent session that must not download runs torrents in
upload mode, and then drops a seed at once ("upload to upload connection") before its bitfield is recorded; this
plain exchange gets a libtorrent seed's client string and full bitfield within a second.

The peer is hostile: every read has a timeout, the whole look has a deadline, a message may be at most the
torrent's bitfield size (``ceil(pieces / 8)`` bytes) or 64 KiB for an extension message, and a bitfield of the
wrong length or with spare bits set is a recorded problem (the peer is still recorded as seen, its share unknown).
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass

from fieldlab.errors import OpsError
from fieldlab.ops.bencode import BencodeError, decode, encode
from fieldlab.problems import Problem, ProblemKind

PROTOCOL = b"\x13BitTorrent protocol"
HANDSHAKE_SIZE = 68
EXTENSION_BIT = (5, 0x10)
FAST_BIT = (7, 0x04)
MAX_EXTENSION_MESSAGE = 64 * 1024
MAX_CLIENT_NAME = 100
MAX_MESSAGES = 10_000

CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED, HAVE, BITFIELD, REQUEST, PIECE, CANCEL = range(9)
SUGGEST, HAVE_ALL, HAVE_NONE, REJECT, ALLOWED_FAST = 13, 14, 15, 16, 17
EXTENDED = 20
SENT_BY_OBSERVER = frozenset({EXTENDED})  # a test peer asserts it never receives anything else after the handshake


class PeerError(OpsError):
    """The peer could not be observed at all; ``problem`` says why (unreadable: no answer; damaged: not a
    BitTorrent peer of this torrent)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class PeerLook:
    """What one peer volunteered about one torrent."""

    peer_id: bytes
    client: str | None  # the extension handshake's ``v``, printable characters only
    pieces_held: int | None  # None: unknown (no bitfield in time, the torrent's size unknown, or a lying bitfield)
    pieces: int | None  # the torrent's piece count, when known
    share: float | None  # pieces held / pieces (1.0 for "have all" even when the piece count is unknown)
    problem: Problem | None  # something wrong the peer said (the look still counts)
    seconds: float
    local: str  # our own address and port on this connection: what the peer saw


def handshake(infohash: bytes, peer_id: bytes) -> bytes:
    reserved = bytearray(8)
    for byte, bit in (EXTENSION_BIT, FAST_BIT):
        reserved[byte] |= bit
    return PROTOCOL + bytes(reserved) + infohash[:20] + peer_id


def extension_handshake(client: str) -> bytes:
    """Ours: no extension messages offered (``m`` empty), so the peer has nothing to ask us for."""
    body = bytes([EXTENDED, 0]) + encode({"m": {}, "v": client})
    return struct.pack(">I", len(body)) + body


async def look_at_peer(ip: str, port: int, infohash: bytes, *, pieces: int | None, peer_id: bytes, client: str,
                       connect_timeout: float = 5.0, read_timeout: float = 5.0, deadline: float = 10.0,
                       source_address: str | None = None) -> PeerLook:
    """Connect (from ``source_address`` if given), handshake, and read until the peer has said its client and its
    pieces (or the deadline passes)."""
    started = time.monotonic()
    local = (source_address, 0) if source_address else None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port, limit=2**16, local_addr=local),
                                                connect_timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise PeerError(Problem(ProblemKind.UNREADABLE, f"no connection: {exc or 'timed out'}")) from None
    try:
        return await asyncio.wait_for(
            _exchange(reader, writer, infohash, pieces, peer_id, client, read_timeout, started), deadline)
    except asyncio.TimeoutError:
        raise PeerError(Problem(ProblemKind.UNREADABLE, f"no handshake within {deadline:g} s")) from None
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise PeerError(Problem(ProblemKind.TRUNCATED, f"the peer closed the connection: {exc}")) from None
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError):
            pass


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, infohash: bytes, pieces: int | None,
                    peer_id: bytes, client: str, read_timeout: float, started: float) -> PeerLook:
    writer.write(handshake(infohash, peer_id))
    await writer.drain()
    theirs = await asyncio.wait_for(reader.readexactly(HANDSHAKE_SIZE), read_timeout)
    if theirs[:20] != PROTOCOL:
        raise PeerError(Problem(ProblemKind.DAMAGED, "not a BitTorrent handshake"))
    if theirs[28:48] != infohash[:20]:
        raise PeerError(Problem(ProblemKind.DAMAGED, "the peer answered for another torrent"))
    extensions = bool(theirs[20 + EXTENSION_BIT[0]] & EXTENSION_BIT[1])
    if extensions:
        writer.write(extension_handshake(client))
        await writer.drain()
    local = writer.get_extra_info("sockname") or ("", 0)
    state = _State(theirs[48:68], pieces, need_client=extensions, local=f"{local[0]}:{local[1]}")
    try:
        for _ in range(MAX_MESSAGES):
            if state.complete:
                break
            message = await _read_message(reader, pieces, read_timeout)
            if message is None:  # keep-alive
                continue
            state.take(*message)
    except asyncio.TimeoutError:
        if not state.heard:  # a peer that said nothing at all after its handshake is still seen; say so
            state.note(Problem(ProblemKind.TRUNCATED, f"nothing after the handshake within {read_timeout:g} s"))
    except _Malformed as exc:
        state.note(exc.problem)
    except (OSError, asyncio.IncompleteReadError):
        state.note(Problem(ProblemKind.TRUNCATED, "the peer closed the connection after its handshake"))
    return state.look(time.monotonic() - started)


class _Malformed(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


async def _read_message(reader: asyncio.StreamReader, pieces: int | None,
                        read_timeout: float) -> tuple[int, bytes] | None:
    length = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), read_timeout))[0]
    if length == 0:
        return None
    bound = max(MAX_EXTENSION_MESSAGE, 1 + (pieces + 7) // 8) if pieces else MAX_EXTENSION_MESSAGE
    if length > bound + 1:
        raise _Malformed(Problem(ProblemKind.LIMIT, f"a message of {length:,} bytes (at most {bound:,} here)"))
    body = await asyncio.wait_for(reader.readexactly(length), read_timeout)
    return body[0], body[1:]


class _State:
    """What the peer has said so far."""

    def __init__(self, peer_id: bytes, pieces: int | None, need_client: bool, local: str) -> None:
        self.peer_id, self.pieces, self.need_client, self.local = peer_id, pieces, need_client, local
        self.client: str | None = None
        self.bits: bytearray | None = None  # pieces announced (a bitfield, one bit a piece), once the peer said
        self.everything = False  # "have all", whatever the piece count
        self.problem: Problem | None = None
        self.heard = False
        self.lied = False
        self.told_pieces = False

    @property
    def complete(self) -> bool:
        return self.told_pieces and (self.client is not None or not self.need_client)

    def note(self, problem: Problem) -> None:
        self.problem = self.problem or problem

    def take(self, kind: int, payload: bytes) -> None:
        self.heard = True
        if kind == EXTENDED:
            if payload[:1] == b"\x00":
                self.client = _client_name(payload[1:]) or self.client or ""
        elif kind == BITFIELD:
            self._bitfield(payload)
        elif kind == HAVE and len(payload) == 4:
            index = struct.unpack(">I", payload)[0]
            if self.pieces is not None and index >= self.pieces:
                self._lie(f"'have' for piece {index} of a torrent of {self.pieces}")
            elif self.bits is not None:
                self.bits[index >> 3] |= 0x80 >> (index & 7)
        elif kind == HAVE_ALL:
            self.told_pieces, self.everything = True, True
            self.bits = None
        elif kind == HAVE_NONE:
            self.told_pieces, self.everything = True, False
            self.bits = bytearray((self.pieces + 7) // 8) if self.pieces else bytearray()

    def _bitfield(self, payload: bytes) -> None:
        self.told_pieces = True
        if self.pieces is None:
            return  # the share cannot be told without the torrent's piece count
        if len(payload) != (self.pieces + 7) // 8:
            self._lie(f"a bitfield of {len(payload)} bytes for a torrent of {self.pieces} pieces")
            return
        spare = (8 - self.pieces % 8) % 8
        if spare and payload[-1] & ((1 << spare) - 1):
            self._lie("a bitfield with bits set past the last piece")
            return
        self.bits, self.everything = bytearray(payload), False

    def _lie(self, what: str) -> None:
        self.lied = True
        self.note(Problem(ProblemKind.DAMAGED, f"the peer sent {what}: its share is not recorded"))

    def look(self, seconds: float) -> PeerLook:
        held = None if self.lied or self.bits is None else int.from_bytes(self.bits, "big").bit_count()
        if self.lied:
            share = None
        elif self.everything:
            held, share = self.pieces, 1.0
        elif held is not None and (self.pieces or held == 0):
            share = held / self.pieces if self.pieces else 0.0
        else:
            share = None
        return PeerLook(self.peer_id, self.client, held, self.pieces, share, self.problem, seconds, self.local)


def _client_name(payload: bytes) -> str | None:
    try:
        message = decode(payload, max_elements=10_000)
    except BencodeError:
        return None
    name = message.get(b"v") if isinstance(message, dict) else None
    if not isinstance(name, bytes):
        return None
    text = name[:MAX_CLIENT_NAME].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "?" for c in text)
