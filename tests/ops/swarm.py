"""A BitTorrent swarm on loopback only, for the observer's tests and bench.

Every peer has its own 127.0.0.0/8 address: libtorrent sessions seeding generated benign torrents (all, half or none
of the pieces: random bytes), a local DHT node (a libtorrent session at 127.0.0.2 that the others bootstrap from),
a small HTTP tracker (127.0.0.3), and hand-written peers that misbehave on purpose and record every message they
receive.  No session has LSD, UPnP, NAT-PMP or a DHT bootstrap node outside loopback, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import libtorrent as lt

from fieldlab.ops.bencode import encode

PIECE = 16384
DHT_NODE = "127.0.0.2"
TRACKER = "127.0.0.3"
QUIET = {"enable_lsd": False, "enable_upnp": False, "enable_natpmp": False, "enable_incoming_utp": False,
         "enable_outgoing_utp": False, "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
         "dht_enforce_node_id": False, "dht_prefer_verified_node_ids": False, "alert_mask": 0,
         "allow_multiple_connections_per_ip": True, "announce_to_all_trackers": True, "stop_tracker_timeout": 1}


@dataclass(frozen=True)
class Torrent:
    name: str
    data: bytes  # the torrent's one file
    metainfo: bytes  # the .torrent file
    v1: str | None
    v2: str | None
    pieces: int


def make_torrent(name: str, pieces: int, tracker: str | None, seed: int, folder: Path, kind: str = "hybrid") -> Torrent:
    """A one-file torrent of random bytes: ``kind`` hybrid (v1+v2), v1 or v2."""
    data = random.Random(seed).randbytes(pieces * PIECE - PIECE // 2)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    files = lt.file_storage()
    files.add_file(name, len(data))
    flags = {"hybrid": 0, "v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only}[kind]
    creator = lt.create_torrent(files, PIECE, flags)
    lt.set_piece_hashes(creator, str(folder))
    if tracker:
        creator.add_tracker(tracker)
    metainfo = lt.bencode(creator.generate())
    hashes = lt.torrent_info(metainfo).info_hashes()
    return Torrent(name, data, metainfo, str(hashes.v1) if hashes.has_v1() else None,
                   str(hashes.v2) if hashes.has_v2() else None, pieces)


class Tracker:
    """An HTTP tracker that remembers announces per infohash (v1 and truncated v2 alike) and answers compact."""

    def __init__(self, address: str = TRACKER) -> None:
        self.peers: dict[bytes, set[tuple[str, int]]] = {}
        self.asked: list[tuple[bytes, bytes]] = []  # (infohash, peer id) of every announce, in order
        self.lock = threading.Lock()
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
                infohash = urllib.parse.unquote_to_bytes(self.path.split("info_hash=")[1].split("&")[0])
                port = int(query["port"][0])
                peer_ip = self.client_address[0]
                with tracker.lock:
                    peer_id = urllib.parse.unquote_to_bytes(self.path.split("peer_id=")[1].split("&")[0])
                    tracker.asked.append((infohash, peer_id))
                    known = set(tracker.peers.get(infohash, set()))
                    if not peer_id.startswith(b"-FL"):  # the observer only asks; the test peers announce
                        tracker.peers.setdefault(infohash, set()).add((peer_ip, port))
                packed = b"".join(socket.inet_aton(ip) + struct.pack(">H", p) for ip, p in sorted(known))
                body = encode({"interval": 60, "peers": packed})
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # libtorrent gave up on this announce (a test ends its sessions): nothing to answer

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{address}:{self.server.server_address[1]}/announce"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((address, 0))
        self.udp_url = f"udp://{address}:{self.udp.getsockname()[1]}/announce"
        threading.Thread(target=self._serve_udp, daemon=True).start()

    def _serve_udp(self) -> None:
        """BEP 15: a connect answer with a connection id, then announce answers with compact peers."""
        while True:
            try:
                data, sender = self.udp.recvfrom(2048)
            except OSError:
                return
            action, transaction = struct.unpack(">I", data[8:12])[0], data[12:16]
            if action == 0 and len(data) == 16:
                self.udp.sendto(struct.pack(">I", 0) + transaction + b"CONNID01", sender)
            elif action == 1 and len(data) >= 98 and data[:8] == b"CONNID01":
                infohash, peer_id = data[16:36], data[36:56]
                with self.lock:
                    self.asked.append((infohash, peer_id))
                    known = sorted(self.peers.get(infohash, set()))
                packed = b"".join(socket.inet_aton(ip) + struct.pack(">H", p) for ip, p in known)
                self.udp.sendto(struct.pack(">I", 1) + transaction + struct.pack(">III", 60, 0, len(known)) + packed,
                                sender)

    def add(self, infohash: str, ip: str, port: int) -> None:
        with self.lock:
            self.peers.setdefault(bytes.fromhex(infohash[:40]), set()).add((ip, port))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.udp.close()


def session(address: str, dht_node: str | None) -> lt.session:
    settings = dict(QUIET, listen_interfaces=f"{address}:0", outgoing_interfaces=address, enable_dht=dht_node is not None,
                    dht_bootstrap_nodes=dht_node or "", user_agent=f"fieldlab-test-peer/{address}",
                    peer_fingerprint="-LT2110-")
    return lt.session(settings)


def wait_for_port(s: lt.session) -> int:
    for _ in range(200):
        if s.listen_port():
            return s.listen_port()
        time.sleep(0.01)
    raise RuntimeError("libtorrent did not listen")


@dataclass
class Seeder:
    address: str
    holds: str  # all | half | none
    session: lt.session
    port: int
    torrents: list[Torrent] = field(default_factory=list)


def seed(address: str, torrents: list[Torrent], holds: str, root: Path, dht_node: str | None) -> Seeder:
    """A libtorrent session at ``address`` holding all, half (the even pieces) or none of each torrent."""
    s = session(address, dht_node)
    port = wait_for_port(s)
    folder = root / address
    folder.mkdir(parents=True, exist_ok=True)
    for torrent in torrents:
        data = bytearray(torrent.data)
        if holds == "half":
            for index in range(1, torrent.pieces, 2):
                data[index * PIECE:(index + 1) * PIECE] = bytes(len(data[index * PIECE:(index + 1) * PIECE]))
        if holds != "none":
            (folder / torrent.name).write_bytes(bytes(data))
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent.metainfo)
        params.save_path = str(folder)
        if holds == "all":
            params.flags |= lt.torrent_flags.seed_mode
        else:
            params.flags |= lt.torrent_flags.upload_mode  # keeps its share: it never downloads from the others
        s.add_torrent(params)
    return Seeder(address, holds, s, port, list(torrents))


def wait_until_checked(seeders: list[Seeder], timeout: float = 20.0) -> None:
    """Every torrent checked (a partial peer hashes its file first) and announced."""
    end = time.monotonic() + timeout
    for seeder in seeders:
        for handle in seeder.session.get_torrents():
            while handle.status().state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
                if time.monotonic() > end:
                    raise RuntimeError("torrents were not checked in time")
                time.sleep(0.05)


# peers that misbehave, recording every message they receive

@dataclass
class Recorded:
    handshakes: list[bytes] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)  # the id of every message after the handshake


class OddPeer:
    """A peer at its own address that answers a handshake as ``behaviour`` says:
    ``honest`` (extension handshake, exact bitfield), ``pushy`` (the same after a piece nobody asked for), ``lying`` (a bitfield too long, then bits past the end),
    ``oversized`` (an extension message of 10 MiB announced), ``malformed`` (garbage in place of bencode, then a
    bitfield), ``hangup`` (closes mid-handshake), ``silent`` (handshake, then nothing)."""

    def __init__(self, address: str, infohash: str, pieces: int, behaviour: str) -> None:
        self.address, self.infohash, self.pieces, self.behaviour = address, bytes.fromhex(infohash[:40]), pieces, behaviour
        self.recorded = Recorded()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, self.address, 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            theirs = await asyncio.wait_for(reader.readexactly(68), 5)
            from_observer = theirs[48:51] == b"-FL"  # the libtorrent peers find these peers too: not recorded
            if from_observer:
                self.recorded.handshakes.append(theirs)
            reserved = bytearray(8)
            reserved[5] |= 0x10
            ours = b"\x13BitTorrent protocol" + bytes(reserved) + self.infohash + b"-XX0001-" + self.address.encode()[:12].ljust(12, b"x")
            if self.behaviour == "hangup":
                writer.write(ours[:30])
                await writer.drain()
                return
            writer.write(ours)
            size = (self.pieces + 7) // 8
            if self.behaviour in ("honest", "pushy"):
                if self.behaviour == "pushy":  # a piece nobody asked for, before anything else
                    writer.write(_message(7, struct.pack(">II", 0, 0) + b"\xaa" * PIECE))
                writer.write(_message(20, b"\x00" + encode({"m": {}, "v": f"OddPeer {self.behaviour}"})))
                writer.write(_message(5, b"\xff" * (size - 1) + b"\x80"))
            elif self.behaviour == "lying":
                writer.write(_message(20, b"\x00" + encode({"v": "OddPeer lying"})))
                writer.write(_message(5, b"\xff" * (size + 3)))
            elif self.behaviour == "oversized":
                writer.write(struct.pack(">I", 10 * 2**20) + b"\x14\x00" + b"x" * 1000)
            elif self.behaviour == "malformed":
                writer.write(_message(20, b"\x00d1:v" + os.urandom(50)))
                writer.write(_message(5, bytes(size)))
            await writer.drain()
            await self._record(reader, from_observer)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _record(self, reader: asyncio.StreamReader, from_observer: bool) -> None:
        while True:
            length = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), 10))[0]
            if length:
                body = await reader.readexactly(min(length, 2**20))
                if from_observer:
                    self.recorded.message_ids.append(body[0])

    def close(self) -> None:
        async def shut() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _message(kind: int, payload: bytes) -> bytes:
    return struct.pack(">I", 1 + len(payload)) + bytes([kind]) + payload
