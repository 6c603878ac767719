"""Asking a torrent's trackers for peers: HTTP (BEP 3 announce, BEP 23 compact answers, BEP 7 ``peers6``) and UDP
(BEP 15: a connect exchange, then the announce).

The announce says we have downloaded nothing and have something left (``left=1``): trackers give a seed's
announce only other downloaders, and the seeds are what we most need to see.  We announce no event and ask for
compact answers; an HTTP answer is read up to 1 MiB and parsed with the bounded bencode reader, a UDP answer is one
datagram of at most 64 KiB.  A tracker does list the observer as a peer at the announced port; nothing listens
there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import urllib.parse
import urllib.request
from dataclasses import dataclass

from fieldlab.errors import OpsError
from fieldlab.ops.bencode import BencodeError, decode
from fieldlab.ops.observer.addresses import Confinement, PeerAddress, compact_peers, peer_of

MAX_ANSWER = 1024 * 1024
NUMWANT = 200


class TrackerError(OpsError):
    """The tracker gave no usable answer; the message says why."""


@dataclass(frozen=True)
class TrackerAnswer:
    peers: tuple[PeerAddress, ...]
    interval: int | None  # seconds the tracker asks us to wait before the next announce


def announce_url(tracker: str, infohash: bytes, *, peer_id: bytes, port: int) -> str:
    query = urllib.parse.urlencode({"info_hash": infohash[:20], "peer_id": peer_id, "port": port, "uploaded": 0,
                                    "downloaded": 0, "left": 1, "compact": 1, "numwant": NUMWANT},
                                   quote_via=urllib.parse.quote)  # %20, never "+": trackers differ on "+"
    return tracker + ("&" if "?" in tracker else "?") + query


def parse_answer(data: bytes) -> TrackerAnswer:
    try:
        answer = decode(data, max_elements=50_000)
    except BencodeError as exc:
        raise TrackerError(f"not a tracker answer: {exc}") from None
    if not isinstance(answer, dict):
        raise TrackerError("not a tracker answer")
    failure = answer.get(b"failure reason")
    if isinstance(failure, bytes):
        raise TrackerError(f"the tracker refused: {failure[:200].decode('utf-8', 'replace')}")
    peers: list[PeerAddress] = []
    listed = answer.get(b"peers", b"")
    if isinstance(listed, bytes):
        peers += compact_peers(listed, 6)
    elif isinstance(listed, list):
        peers += [p for p in (peer_of(d.get(b"ip"), d.get(b"port")) for d in listed[:2000] if isinstance(d, dict)) if p]
    if isinstance(answer.get(b"peers6"), bytes):
        peers += compact_peers(answer[b"peers6"], 18)
    interval = answer.get(b"interval")
    return TrackerAnswer(tuple(dict.fromkeys(peers)), interval if isinstance(interval, int) else None)


def is_tracker_we_ask(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("http", "https", "udp")


async def ask_tracker(tracker: str, infohash: bytes, *, peer_id: bytes, port: int, confinement: Confinement,
                      timeout: float = 10.0) -> TrackerAnswer:
    """Peers from one HTTP or UDP tracker; a tracker outside the confinement is refused before anything is sent."""
    parts = urllib.parse.urlsplit(tracker)
    host = parts.hostname or ""
    addresses = await _resolve(host)
    if confinement.networks and (not addresses or not all(confinement.allows(a) for a in addresses)):
        raise TrackerError(f"tracker {host} is outside the networks the observer is confined to")
    if parts.scheme == "udp":
        try:
            target = (addresses[0], parts.port or 0) if addresses else None
        except ValueError:
            target = None
        if target is None or not target[1]:
            raise TrackerError(f"tracker {tracker[:100]!r} has no address and port")
        return await ask_udp_tracker(target, infohash, peer_id=peer_id, port=port, timeout=timeout)
    url = announce_url(tracker, infohash, peer_id=peer_id, port=port)
    return await asyncio.to_thread(_fetch, url, timeout)


UDP_PROTOCOL_ID = 0x41727101980
CONNECT, ANNOUNCE, ERROR = 0, 1, 3


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(16)

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # noqa: ANN001
        if not self.queue.full():
            self.queue.put_nowait(data[:65536])


async def ask_udp_tracker(target: tuple[str, int], infohash: bytes, *, peer_id: bytes, port: int,
                          timeout: float = 10.0) -> TrackerAnswer:
    """BEP 15: connect, then announce; each step tried twice within ``timeout``."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_Datagrams, remote_addr=target)
    try:
        connected = await _exchange(transport, protocol, CONNECT, struct.pack(">Q", UDP_PROTOCOL_ID), b"", timeout)
        if len(connected) < 8:
            raise TrackerError("the tracker's connect answer is too short")
        connection_id = connected[:8]
        body = (infohash[:20] + peer_id + struct.pack(">QQQIIIiH", 0, 1, 0, 0, 0, int.from_bytes(os.urandom(4), "big"),
                                                      NUMWANT, port))
        answer = await _exchange(transport, protocol, ANNOUNCE, connection_id, body, timeout)
    finally:
        transport.close()
    if len(answer) < 12:
        raise TrackerError("the tracker's announce answer is too short")
    interval = struct.unpack(">I", answer[:4])[0]
    width = 18 if ":" in target[0] else 6
    return TrackerAnswer(tuple(dict.fromkeys(compact_peers(answer[12:], width))), interval)


async def _exchange(transport: asyncio.DatagramTransport, protocol: _Datagrams, action: int, head: bytes, body: bytes,
                    timeout: float) -> bytes:
    """Send one request (``head`` is the connection id, or the protocol id to connect); the answer after its
    action and transaction id."""
    for _attempt in range(2):
        transaction = os.urandom(4)
        transport.sendto(head + struct.pack(">I", action) + transaction + body)
        end = loop_time() + timeout / 2
        while (left := end - loop_time()) > 0:
            try:
                data = await asyncio.wait_for(protocol.queue.get(), left)
            except asyncio.TimeoutError:
                break
            if len(data) < 8 or data[4:8] != transaction:
                continue
            kind = struct.unpack(">I", data[:4])[0]
            if kind == ERROR:
                raise TrackerError(f"the tracker refused: {data[8:208].decode('utf-8', 'replace')}")
            if kind == action:
                return data[8:]
    raise TrackerError(f"no answer within {timeout:g} s")


def loop_time() -> float:
    return asyncio.get_running_loop().time()


async def _resolve(host: str) -> list[str]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [str(f[4][0]) for f in found]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - a redirect could leave the confinement
        return None


def _fetch(url: str, timeout: float) -> TrackerAnswer:
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            data = response.read(MAX_ANSWER + 1)
    except (OSError, ValueError) as exc:
        raise TrackerError(f"no answer: {exc}") from None
    if len(data) > MAX_ANSWER:
        raise TrackerError(f"an answer larger than {MAX_ANSWER // 1024} KiB")
    return parse_answer(data)
