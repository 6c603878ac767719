"""Peers as the swarm hands them out (compact 6/18-byte forms or dictionaries), and the networks an observer may
talk to at all (``confine_to``: a lab or test run set to 127.0.0.0/8 can reach nothing else)."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Iterable

MAX_PEERS_PER_ANSWER = 2000


@dataclass(frozen=True, order=True)
class PeerAddress:
    ip: str  # canonical text
    port: int


def compact_peers(data: bytes, width: int = 6) -> list[PeerAddress]:
    """Peers packed as address + port (6 bytes IPv4, 18 bytes IPv6); a ragged tail is ignored."""
    found = []
    for start in range(0, min(len(data), width * MAX_PEERS_PER_ANSWER) - width + 1, width):
        chunk = data[start:start + width]
        port = struct.unpack(">H", chunk[-2:])[0]
        if port:
            found.append(PeerAddress(str(ipaddress.ip_address(chunk[:-2])), port))
    return found


def peer_of(ip: object, port: object) -> PeerAddress | None:
    """A peer from a dictionary-form answer, or None when it is not an address and port."""
    try:
        text = ip.decode("ascii") if isinstance(ip, bytes) else str(ip)
        address = ipaddress.ip_address(text)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(port, int) or not 0 < port < 65536:
        return None
    return PeerAddress(str(address), port)


class Confinement:
    """The networks an observer may connect to; empty means anywhere."""

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def allows(self, ip: str) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in n for n in self.networks if n.version == address.version)
