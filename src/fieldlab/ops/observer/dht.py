"""Asking the mainline DHT (BEP 5) which peers announced a torrent: an iterative ``get_peers`` lookup over KRPC.

Why our own client and not libtorrent's DHT: the lookup is one query kind and one UDP socket, about a hundred lines
we bound ourselves (queries per lookup, queries in flight, answer size, timeouts), with bootstrap nodes we
choose (a test or lab points them at loopback, and the ``Confinement`` refuses any node outside it).  A libtorrent
session's DHT also answers and stores for others, keeps a routing table alive in the background and, by default,
restricts nodes per /24 and refuses non-public addresses, which a lab run on 127.0.0.0/8 would have to switch off
one by one; the peer-wire part is ours for the reason in ``peerwire``; so libtorrent is used only in the tests, as
the swarm and its DHT node.

We never ``announce_peer``: we only ask.  The lookup walks towards the infohash: each round queries the closest
nodes not yet asked (by XOR distance), up to ``max_queries`` in all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from dataclasses import dataclass, field

from fieldlab.ops.bencode import BencodeError, decode, encode
from fieldlab.ops.observer.addresses import Confinement, PeerAddress, compact_peers

MAX_DATAGRAM = 8192
NODE_SIZE = 26  # 20-byte id + IPv4 + port


@dataclass(frozen=True)
class DhtAnswer:
    peers: tuple[PeerAddress, ...]
    queries: int
    answers: int


@dataclass
class _Lookup:
    target: bytes
    pending: dict[bytes, asyncio.Future] = field(default_factory=dict)  # transaction id -> answer


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, lookup: _Lookup) -> None:
        self.lookup = lookup

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # noqa: ANN001
        if len(data) > MAX_DATAGRAM:
            return
        try:
            message = decode(data, max_elements=5000)
        except BencodeError:
            return
        if not isinstance(message, dict):
            return
        waiting = self.lookup.pending.pop(message.get(b"t", b""), None) if isinstance(message.get(b"t"), bytes) else None
        if waiting is not None and not waiting.done():
            waiting.set_result(message)

    def error_received(self, exc: Exception) -> None:
        pass


async def get_peers(infohash: bytes, bootstrap: tuple[PeerAddress, ...], confinement: Confinement,
                    *, max_queries: int = 64, in_flight: int = 8, timeout: float = 2.0,
                    node_id: bytes | None = None) -> DhtAnswer:
    """Peers the DHT holds for ``infohash`` (its first 20 bytes: a v2 torrent is announced under its truncated hash)."""
    target = infohash[:20]
    node_id = node_id or os.urandom(20)
    lookup = _Lookup(target)
    loop = asyncio.get_running_loop()
    family = 6 if bootstrap and ipaddress.ip_address(bootstrap[0].ip).version == 6 else 4
    transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(lookup),
                                                       local_addr=("::" if family == 6 else "0.0.0.0", 0))
    candidates: dict[PeerAddress, bytes] = {b: bytes(20) for b in bootstrap if confinement.allows(b.ip)}
    asked: set[PeerAddress] = set()
    peers: dict[PeerAddress, None] = {}
    answers = 0
    try:
        while len(asked) < max_queries:
            fresh = sorted((a for a in candidates if a not in asked),
                           key=lambda a: _distance(candidates[a], target))[:min(in_flight, max_queries - len(asked))]
            if not fresh:
                break
            asked.update(fresh)
            results = await asyncio.gather(*(_query(transport, lookup, a, node_id, target, timeout) for a in fresh))
            for message in results:
                if message is None:
                    continue
                answers += 1
                body = message.get(b"r")
                if not isinstance(body, dict):
                    continue
                values = body.get(b"values")
                if isinstance(values, list):
                    for value in values[:200]:
                        if isinstance(value, bytes) and len(value) in (6, 18):
                            for peer in compact_peers(value, len(value)):
                                peers[peer] = None
                nodes = body.get(b"nodes")
                if isinstance(nodes, bytes):
                    for start in range(0, min(len(nodes), NODE_SIZE * 16) - NODE_SIZE + 1, NODE_SIZE):
                        chunk = nodes[start:start + NODE_SIZE]
                        for node in compact_peers(chunk[20:], 6):
                            if confinement.allows(node.ip) and node not in candidates:
                                candidates[node] = chunk[:20]
    finally:
        transport.close()
    return DhtAnswer(tuple(peers), len(asked), answers)


async def _query(transport: asyncio.DatagramTransport, lookup: _Lookup, node: PeerAddress, node_id: bytes,
                 target: bytes, timeout: float) -> dict | None:
    transaction = os.urandom(4)
    waiting = asyncio.get_running_loop().create_future()
    lookup.pending[transaction] = waiting
    message = {"t": transaction, "y": "q", "q": "get_peers", "a": {"id": node_id, "info_hash": target}}
    try:
        transport.sendto(encode(message), (node.ip, node.port))
        return await asyncio.wait_for(waiting, timeout)
    except (asyncio.TimeoutError, OSError):
        return None
    finally:
        lookup.pending.pop(transaction, None)


def _distance(node_id: bytes, target: bytes) -> int:
    return int.from_bytes(node_id, "big") ^ int.from_bytes(target, "big")


def parse_node(text: str) -> PeerAddress:
    """``host:port`` or ``[v6]:port`` of a bootstrap node (an address: a name would be resolved outside our bounds)."""
    host, _, port = text.strip().rpartition(":")
    try:
        return PeerAddress(str(ipaddress.ip_address(host.strip("[]"))), int(port))
    except ValueError:
        raise ValueError(f"{text!r} is not address:port (e.g. 127.0.0.2:6881)") from None


