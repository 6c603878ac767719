#!/usr/bin/env python3
"""The BitTorrent observer against a local swarm of hundreds of peers: peers observed per second, and memory.

The swarm runs in a child process, on loopback only, each peer at its own 127.0.x.y address: ``--libtorrent``
libtorrent sessions seeding (or holding half of) the generated torrents, and the rest small asyncio peers that
answer a handshake the way a client does (extension handshake with a client name, then a bitfield of a random
share).  A local HTTP tracker (in this process) lists every peer.  The observer (this process) runs ``--rounds``
rounds into a fresh SQLite operations database (lab mode, confined to 127.0.0.0/8), first with the politeness
limits lifted (``--connections`` at once, no rate limits worth the name), which measures its capacity, then once
at the default rates, which is what a force runs.

Figures go to docs/benchmarks.md between this script's markers.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_folder import load_average, markdown_table, replace_doc_section  # noqa: E402

PIECES = 400


def peer_address(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def run_swarm(torrents: list, peers: int, libtorrent_peers: int, folder: str, ready, stop) -> None:  # noqa: ANN001
    """The child process: libtorrent sessions and asyncio peers; sends [(infohash, ip, port)] when listening."""
    from fieldlab.ops.bencode import encode
    from tests.ops.swarm import seed

    sessions = []
    listening = []
    for index in range(libtorrent_peers):
        torrent = torrents[index % len(torrents)]
        made = seed(peer_address(index), [torrent], "all" if index % 2 == 0 else "half", Path(folder), None)
        sessions.append(made)
        listening.append((torrent.v1, made.address, made.port))

    async def serve() -> None:
        async def answer(reader, writer, infohash: bytes, share: float, name: str) -> None:  # noqa: ANN001
            try:
                await asyncio.wait_for(reader.readexactly(68), 10)
                reserved = bytearray(8)
                reserved[5] |= 0x10
                writer.write(b"\x13BitTorrent protocol" + bytes(reserved) + infohash + b"-BN0001-" + os.urandom(12))
                body = b"\x14\x00" + encode({"m": {"ut_metadata": 2}, "v": name})
                writer.write(struct.pack(">I", len(body)) + body)
                rng = random.Random(name)
                bits = bytearray((PIECES + 7) // 8)
                for piece in range(PIECES):
                    if rng.random() < share:
                        bits[piece >> 3] |= 0x80 >> (piece & 7)
                writer.write(struct.pack(">I", 1 + len(bits)) + b"\x05" + bits)
                await writer.drain()
                await asyncio.wait_for(reader.read(65536), 10)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                pass
            finally:
                writer.close()

        for index in range(libtorrent_peers, peers):
            torrent = torrents[index % len(torrents)]
            infohash, share, name = bytes.fromhex(torrent.v1), random.Random(index).random(), f"bench-peer/{index}"
            server = await asyncio.start_server(
                lambda r, w, i=infohash, s=share, n=name: answer(r, w, i, s, n), peer_address(index), 0)
            listening.append((torrent.v1, peer_address(index), server.sockets[0].getsockname()[1]))
        ready.send(listening)
        await asyncio.to_thread(stop.wait)

    asyncio.run(serve())


def _machine() -> str:
    """The machine, as the other sections say it (without scan_folder's hashdeep, which this bench does not need)."""
    import platform

    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                  if line.startswith("model name")), "unknown")
    total = int(open("/proc/meminfo", encoding="utf-8").readline().split()[1]) / 2**20
    return (f"- Machine: {os.cpu_count()} CPUs ({model}), {total:.1f} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}\n")


def observe(db_folder: Path, tracker, torrents, config, rounds: int) -> tuple[float, int, dict]:  # noqa: ANN001
    from fieldlab.ops.database import OpsDatabase, locate
    from fieldlab.ops.observer.run import Observer
    from fieldlab.ops.torrents import import_torrents, parse_torrent_file

    db = OpsDatabase.open(locate(ops_dir=db_folder))
    try:
        import_torrents(db, [parse_torrent_file(t.metainfo) for t in torrents], source="torrent", source_name="bench",
                        category="A")
        observer = Observer(db, config, "bench")
        began = time.perf_counter()
        status = asyncio.run(observer.run(rounds=rounds))
        elapsed = time.perf_counter() - began
    finally:
        db.close()
    return elapsed, status.counts["peers_observed"], dict(status.counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=240)
    parser.add_argument("--libtorrent", type=int, default=20, help="how many of the peers are libtorrent sessions")
    parser.add_argument("--torrents", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    from fieldlab.ops.observer.run import ObserverConfig
    from tests.ops.swarm import Tracker, make_torrent

    load_before = load_average()
    work = Path(tempfile.mkdtemp(prefix="fieldlab-observe-bench-"))
    tracker = Tracker()
    torrents = [make_torrent(f"bench-{n}.bin", PIECES, tracker.url, 100 + n, work / f"made-{n}")
                for n in range(args.torrents)]
    ready_here, ready_there = multiprocessing.Pipe()
    stop = multiprocessing.Event()
    child = multiprocessing.get_context("fork").Process(
        target=run_swarm, args=(torrents, args.peers, args.libtorrent, str(work / "swarm"), ready_there, stop))
    child.start()
    listening = ready_here.recv()
    for infohash, ip, port in listening:
        tracker.add(infohash, ip, port)
    time.sleep(2)  # the libtorrent sessions check their files
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    common = dict(confine_to=("127.0.0.0/8",), lab=True, interval=0.01, peer_timeout=5.0, read_timeout=2.0,
                  batch_size=200)
    fast = ObserverConfig(max_connections=args.connections, connections_per_second=10_000.0,
                          per_torrent_per_second=10_000.0, **common)
    fast_time, fast_peers, fast_counts = observe(work / "ops-fast", tracker, torrents, fast, args.rounds)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    polite = ObserverConfig(**common)
    polite_time, polite_peers, polite_counts = observe(work / "ops-polite", tracker, torrents, polite, 1)
    stop.set()
    child.join(30)
    tracker.close()
    shutil.rmtree(work, ignore_errors=True)

    rows = [
        [f"limits lifted: {args.connections} connections at once, {args.rounds} rounds",
         f"{fast_peers:,}", f"{fast_time:.1f} s", f"{fast_peers / fast_time:,.0f}",
         f"{fast_counts.get('batches', 0)}"],
        ["default politeness: 50 at once, 20 new a second, 5 a second per torrent, 1 round",
         f"{polite_peers:,}", f"{polite_time:.1f} s", f"{polite_peers / polite_time:,.1f}",
         f"{polite_counts.get('batches', 0)}"],
    ]
    body = (
        "## BitTorrent observer: peers observed per second\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `.venv/bin/python bench/observe.py`"
        + (f" --peers {args.peers}" if args.peers != 240 else "") + ".\n\n"
        + _machine()
        + f"- Load average before {load_before}, after {load_average()} (the machine is shared: figures are a floor)\n\n"
        f"**Swarm** (loopback only, child process): {args.peers} peers at their own 127.0.x.y addresses, "
        f"{args.libtorrent} of them libtorrent sessions (seeds and half-holders), the rest asyncio peers answering "
        f"like a client (extension handshake, bitfield of a random share); {args.torrents} torrents of {PIECES} "
        "pieces; one local HTTP tracker listing every peer; no DHT. Each sighting is stored through the import path "
        "(matched, placed, grouped into targets) into SQLite, in batches of 200.\n\n"
        + markdown_table(["Run", "Peers observed", "Time", "Peers/s", "Batches stored"], rows)
        + f"\n\nPeak RSS of the observer's process: {rss_before:,.0f} MiB before observing (Python, libraries, the "
        f"tracker), {rss_after:,.0f} MiB after {fast_peers:,} observations. At the default rates a round is "
        "bounded by the global rate (20 new connections a second; each torrent's peers are "
        "interleaved, so no torrent's own limit of 5 a second holds the others up), by design.\n"
    )
    print(body)
    if not args.no_docs:
        replace_doc_section("bench/observe.py", body)


if __name__ == "__main__":
    main()
