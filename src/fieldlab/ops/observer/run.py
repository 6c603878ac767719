"""The observer: round after round, for every known torrent, find its peers (trackers, DHT), look at each peer once
(``peerwire``), and record what it saw as sightings through the same path as an imported export.

Politeness and bounds, each counted in the run's status: a global and a per-torrent rate of new connections, a
cap on connections open at once, a bounded queue of peers to look at (peers beyond it are dropped and counted),
and a back-off for a peer that failed (doubling from ``retry_after`` up to an hour).  ``confine_to`` limits every
connection (trackers, DHT nodes, peers) to the networks named: a lab or test run on 127.0.0.0/8 reaches nothing
else.  Peers at private, shared or loopback addresses lead to no subscriber and are skipped, unless ``lab`` says
this is an exercise.

Starting, stopping and every batch of sightings are entries of the operations database's audit trail; the run's
counters are written to ``observer_runs`` after every batch, so the operations app shows them whichever process
runs the observer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select, update

from fieldlab import __version__
from fieldlab.errors import OpsError
from fieldlab.ops.database import OpsDatabase
from fieldlab.ops.observer.addresses import Confinement, PeerAddress
from fieldlab.ops.observer.dht import get_peers, parse_node
from fieldlab.ops.observer.peerwire import PeerError, look_at_peer
from fieldlab.ops.observer.tracker import TrackerError, ask_tracker, is_tracker_we_ask
from fieldlab.ops.schema import observer_runs
from fieldlab.ops.sightings import ParsedSighting, RowError, parse_address, store_observed
from fieldlab.ops.torrents import KnownTorrent, list_known
from fieldlab.sql import inserted_id

MAX_BACKOFF = 3600.0
REMEMBERED_PEERS = 100_000
CLIENT_NAME = f"fieldlab observer {__version__}"


class ObserverError(OpsError, ValueError):
    """The observer cannot run as configured; the message says what to change."""


@dataclass(frozen=True)
class ObserverConfig:
    bootstrap: tuple[str, ...] = ()  # DHT nodes as address:port; none: the DHT is not asked
    confine_to: tuple[str, ...] = ()  # networks every connection must stay in; none: anywhere
    lab: bool = False  # record peers at private/loopback addresses (an exercise: they lead to no subscriber)
    interval: float = 300.0  # seconds from the start of one round to the next
    max_connections: int = 50
    connections_per_second: float = 20.0  # new peer connections, all torrents together
    per_torrent_per_second: float = 5.0  # new peer connections to one torrent's swarm
    queue_size: int = 10_000  # peers waiting to be looked at
    peer_timeout: float = 10.0  # the whole look at one peer
    read_timeout: float = 5.0  # one read from a peer
    retry_after: float = 60.0  # back-off after a peer failed, doubling
    batch_size: int = 200  # sightings stored (and audited) together
    announce_port: int = 6881  # the port told to trackers (nothing listens: we only ask)
    source_address: str = ""  # the local address peer connections come from ("": the system's choice)

    def validated(self) -> ObserverConfig:
        try:
            for node in self.bootstrap:
                parse_node(node)
            Confinement(self.confine_to)
        except ValueError as exc:
            raise ObserverError(str(exc)) from None
        numbers = (self.interval, self.connections_per_second, self.per_torrent_per_second, self.peer_timeout,
                   self.read_timeout, self.retry_after)
        if any(n <= 0 for n in numbers) or not 1 <= self.max_connections <= 1000 \
                or not 1 <= self.queue_size <= 1_000_000 or not 1 <= self.batch_size <= 10_000:
            raise ObserverError("rates, timeouts and the interval are positive; connections 1-1000, queue "
                                "1-1,000,000, batch 1-10,000")
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json_dict(cls, values: dict) -> ObserverConfig:
        """A run's stored configuration (fields a newer or older fieldlab does not know are left out)."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for key in ("bootstrap", "confine_to"):
            known[key] = tuple(known.get(key, ()))
        return cls(**known)


@dataclass
class ObserverStatus:
    """What the run has done: every decision it takes is counted here."""

    run_id: int = 0
    state: str = "starting"  # starting | running | stopped
    counts: Counter[str] = field(default_factory=Counter)
    last_round_at: float | None = None
    last_batch_at: float | None = None

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "state": self.state, "counts": dict(sorted(self.counts.items())),
                "last_round_at": self.last_round_at, "last_batch_at": self.last_batch_at}


class RateLimit:
    """At most ``rate`` acquisitions a second, evenly spaced."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate
        self.next = 0.0

    async def acquire(self) -> float:
        now = time.monotonic()
        wait = max(0.0, self.next - now)
        self.next = max(now, self.next) + self.gap
        if wait:
            await asyncio.sleep(wait)
        return wait


@dataclass(frozen=True)
class _Work:
    torrent: KnownTorrent
    peer: PeerAddress
    found_by: str


class Observer:
    def __init__(self, db: OpsDatabase, config: ObserverConfig, actor: str, home: Path | None = None) -> None:
        self.db, self.config, self.actor, self.home = db, config.validated(), actor, home
        self.confinement = Confinement(config.confine_to)
        self.nodes = tuple(parse_node(n) for n in config.bootstrap)
        self.status = ObserverStatus()
        self.peer_id = b"-FL0100-" + os.urandom(12)
        self.stop_requested = threading.Event()
        self._global = RateLimit(config.connections_per_second)
        self._per_torrent: dict[int, RateLimit] = {}
        self._backoff: OrderedDict[tuple[str, int], tuple[int, float]] = OrderedDict()
        self._batch: list[ParsedSighting] = []
        self._observer_address = ""

    # lifecycle

    def stop(self) -> None:
        """Ask the run to stop (from any thread): it finishes the looks under way and stores their sightings."""
        self.stop_requested.set()

    async def run(self, minutes: float | None = None, rounds: int | None = None) -> ObserverStatus:
        """Observe until ``minutes`` pass, ``rounds`` are done, or ``stop`` is called; then record the stop."""
        if not self.status.run_id:
            self.start()
        deadline = time.monotonic() + minutes * 60 if minutes is not None else None
        done = 0
        try:
            while not self.stop_requested.is_set():
                begun = time.monotonic()
                await self.observe_round(deadline)
                done += 1
                if (rounds is not None and done >= rounds) or (deadline is not None and time.monotonic() >= deadline):
                    break
                pause = self.config.interval - (time.monotonic() - begun)
                if deadline is not None:
                    pause = min(pause, deadline - time.monotonic())
                await asyncio.to_thread(self.stop_requested.wait, max(0.0, pause))
        finally:
            await asyncio.to_thread(self._flush)
            self._stop()
        return self.status

    def start(self) -> None:
        """Record the run's start (audited); ``run`` does it itself if it was not done before."""
        with self.db.change("observer_started", self.actor, config=json.loads(self.config.to_json())) as change:
            run_id = inserted_id(change.conn.execute(observer_runs.insert().values(
                started_at=time.time(), started_by=self.actor, observer="", config=self.config.to_json(),
                status="{}")))
            change.detail["run"] = run_id
        self.status.run_id, self.status.state = run_id, "running"
        self._save_status()

    def _stop(self) -> None:
        self.status.state = "stopped"
        with self.db.change("observer_stopped", self.actor, run=self.status.run_id,
                            counts=dict(self.status.counts)) as change:
            change.conn.execute(update(observer_runs).where(observer_runs.c.id == self.status.run_id).values(
                stopped_at=time.time(), observer=self._observer_address[:60],
                status=json.dumps(self.status.as_dict())))

    def _save_status(self) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(update(observer_runs).where(observer_runs.c.id == self.status.run_id).values(
                observer=self._observer_address[:60], status=json.dumps(self.status.as_dict())))

    # one round

    async def observe_round(self, deadline: float | None = None) -> None:
        counts = self.status.counts
        with self.db.engine.connect() as conn:
            known = list_known(conn)
        counts["rounds"] += 1
        self.status.last_round_at = time.time()
        queue: asyncio.Queue[_Work] = asyncio.Queue(self.config.queue_size)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.config.max_connections)]
        try:
            swarms: list[list[_Work]] = []
            room = self.config.queue_size  # peers held for this round, all torrents together
            for torrent in known:
                if self.stop_requested.is_set() or (deadline is not None and time.monotonic() >= deadline):
                    break
                found = [_Work(torrent, p, how) for p, how in (await self._discover(torrent)).items()
                         if self._worth_a_look(p)]
                counts["peers_dropped_queue_full"] += max(0, len(found) - room)
                swarms.append(found[:room])
                room -= len(swarms[-1])
            # one torrent's peers after another would leave the workers waiting on that torrent's rate
            for work in (w for turn in itertools.zip_longest(*swarms) for w in turn if w is not None):
                if queue.full():
                    counts["peers_dropped_queue_full"] += 1
                else:
                    queue.put_nowait(work)
                    counts["peers_queued"] += 1
            await queue.join()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.to_thread(self._flush)

    async def _discover(self, torrent: KnownTorrent) -> dict[PeerAddress, str]:
        """Peers of one torrent from its trackers and the DHT: peer -> how it was found (dht, tracker or both)."""
        counts = self.status.counts
        found: dict[PeerAddress, set[str]] = {}
        for tracker in torrent.trackers:
            if not is_tracker_we_ask(tracker):
                counts["trackers_skipped_scheme"] += 1
                continue
            counts["tracker_requests"] += 1
            try:
                answer = await ask_tracker(tracker, torrent.wire_hash, peer_id=self.peer_id,
                                           port=self.config.announce_port, confinement=self.confinement)
            except TrackerError:
                counts["tracker_errors"] += 1
                continue
            for peer in answer.peers:
                found.setdefault(peer, set()).add("tracker")
        if self.nodes:
            counts["dht_lookups"] += 1
            lookup = await get_peers(torrent.wire_hash, self.nodes, self.confinement)
            counts["dht_queries"] += lookup.queries
            counts["dht_answers"] += lookup.answers
            for peer in lookup.peers:
                found.setdefault(peer, set()).add("dht")
        counts["peers_found"] += len(found)
        return {p: ",".join(sorted(how)) for p, how in found.items()}

    def _worth_a_look(self, peer: PeerAddress) -> bool:
        counts = self.status.counts
        if not self.confinement.allows(peer.ip):
            counts["peers_outside_confinement"] += 1
        elif not self._may_lead_to_subscriber(peer.ip):
            counts["peers_not_subscriber_addresses"] += 1
        elif self._backing_off(peer):
            counts["peers_backed_off"] += 1
        else:
            return True
        return False

    def _may_lead_to_subscriber(self, ip: str) -> bool:
        """Private, shared and loopback addresses are not looked at (outside a lab exercise): no ISP can name them."""
        if self.config.lab:
            return True
        try:
            return parse_address(ip) == ip
        except RowError:
            return False

    def _backing_off(self, peer: PeerAddress) -> bool:
        held = self._backoff.get((peer.ip, peer.port))
        return held is not None and held[1] > time.monotonic()

    def _failed(self, peer: PeerAddress) -> None:
        key = (peer.ip, peer.port)
        failures = self._backoff.pop(key, (0, 0.0))[0] + 1
        wait = min(MAX_BACKOFF, self.config.retry_after * 2 ** (failures - 1))
        self._backoff[key] = (failures, time.monotonic() + wait)
        while len(self._backoff) > REMEMBERED_PEERS:
            self._backoff.popitem(last=False)

    async def _worker(self, queue: asyncio.Queue[_Work]) -> None:
        while True:
            work = await queue.get()
            try:
                await self._look(work)
            except Exception:  # noqa: BLE001 - one peer must never stop the run; counted
                self.status.counts["internal_errors"] += 1
            finally:
                queue.task_done()

    async def _look(self, work: _Work) -> None:
        counts = self.status.counts
        if self.stop_requested.is_set():
            counts["peers_not_looked_at_stopping"] += 1
            return
        waited = await self._global.acquire()
        waited += await self._per_torrent.setdefault(
            work.torrent.id, RateLimit(self.config.per_torrent_per_second)).acquire()
        counts["rate_limited_seconds"] += round(waited, 3)  # type: ignore[assignment]  # a Counter holds any number
        counts["connections"] += 1
        try:
            look = await look_at_peer(work.peer.ip, work.peer.port, work.torrent.wire_hash, pieces=work.torrent.pieces,
                                      peer_id=self.peer_id, client=CLIENT_NAME, read_timeout=self.config.read_timeout,
                                      deadline=self.config.peer_timeout,
                                      source_address=self.config.source_address or None)
        except PeerError as exc:
            counts[f"peers_failed_{exc.problem.kind.value}"] += 1
            self._failed(work.peer)
            return
        self._backoff.pop((work.peer.ip, work.peer.port), None)
        if look.problem is not None:
            counts[f"peer_problems_{look.problem.kind.value}"] += 1
        self._observer_address = self._observer_address or look.local
        kind, digest = work.torrent.sighting_hash
        self._batch.append(ParsedSighting(
            line=0, seen_us=time.time_ns() // 1000, ip=work.peer.ip, port=work.peer.port, network="bittorrent",
            guid=look.peer_id.hex(), hash_kind=kind, file_hash=digest, file_name=work.torrent.name,
            file_size=None, share=look.share, client=look.client, found_by=work.found_by, observer=look.local))
        counts["peers_observed"] += 1
        if len(self._batch) >= self.config.batch_size:
            await asyncio.to_thread(self._flush)

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            report = store_observed(self.db, batch, run_id=self.status.run_id, observer=self._observer_address,
                                    home=self.home, actor=self.actor)
            counts = self.status.counts
            counts["batches"] += 1
            counts["sightings_added"] += report.added
            counts["sightings_duplicate"] += report.duplicates
            counts["sightings_set_aside"] += report.set_aside
            self.status.last_batch_at = time.time()
        self._save_status()


def latest_runs(db: OpsDatabase, limit: int = 10) -> list[dict]:
    """The newest runs with their configuration and counters, for the operations app and ``ops observe``."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(observer_runs).order_by(observer_runs.c.id.desc()).limit(limit)).all()
    return [{"id": r.id, "started_at": r.started_at, "started_by": r.started_by, "stopped_at": r.stopped_at,
             "observer": r.observer, "config": json.loads(r.config), "status": json.loads(r.status or "{}")}
            for r in rows]


