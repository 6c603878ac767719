"""The BitTorrent observer against a real swarm on loopback (tests/ops/swarm.py): libtorrent seeds holding all, half
or none of a known torrent, a local DHT node and HTTP tracker, and peers that misbehave and record what they get.

The observer is confined to 127.0.0.0/8 and runs in lab mode (loopback peers are recorded); it connects from
127.0.0.9, so that is the observer's address on every sighting."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from pathlib import Path

import pytest
from sqlalchemy import select

from fieldlab.ops.areas import import_areas
from fieldlab.ops.observer.peerwire import SENT_BY_OBSERVER
from fieldlab.ops.observer.run import Observer, ObserverConfig, ObserverError, RateLimit, latest_runs
from fieldlab.ops.schema import imports, sightings
from fieldlab.ops.settings import save_settings
from fieldlab.ops.targets import list_targets, target_detail
from fieldlab.ops.torrents import import_torrents, parse_magnet, parse_torrent_file
from fieldlab.ops.warrant import render_html, warrant_draft
from tests.ops.swarm import DHT_NODE, OddPeer, Tracker, make_torrent, seed, session, wait_for_port, wait_until_checked

OBSERVER = "127.0.0.9"
ODD = {"honest": "127.0.0.21", "lying": "127.0.0.22", "oversized": "127.0.0.23", "malformed": "127.0.0.24",
       "hangup": "127.0.0.25", "silent": "127.0.0.26"}


class Swarm:
    def __init__(self, root: Path) -> None:
        self.tracker = Tracker()
        self.dht = session(DHT_NODE, "")
        self.dht_node = f"{DHT_NODE}:{wait_for_port(self.dht)}"
        self.known = make_torrent("generated-known.bin", 9, self.tracker.url, 1, root / "made-known")
        self.other = make_torrent("generated-other.bin", 4, self.tracker.url, 2, root / "made-other")
        self.seeders = [seed("127.0.0.11", [self.known, self.other], "all", root, self.dht_node),
                        seed("127.0.0.12", [self.known], "half", root, self.dht_node),
                        seed("127.0.0.13", [self.known], "none", root, self.dht_node),
                        seed("127.0.0.14", [self.other], "all", root, self.dht_node)]
        self.odd = {b: OddPeer(a, self.known.v1, self.known.pieces, b) for b, a in ODD.items()}
        for peer in self.odd.values():
            self.tracker.add(self.known.v1, peer.address, peer.port)
        wait_until_checked(self.seeders)

    def wait_for_announces(self, timeout: float = 20.0) -> None:
        """Until the tracker holds the known torrent's three libtorrent peers, and the DHT those and the other
        torrent's two."""
        from fieldlab.ops.observer.addresses import Confinement
        from fieldlab.ops.observer.dht import get_peers, parse_node

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            tracked = {ip for ip, _ in self.tracker.peers.get(bytes.fromhex(self.known.v1), ())}
            found = [asyncio.run(get_peers(bytes.fromhex(t.v1), (parse_node(self.dht_node),),
                                           Confinement(["127.0.0.0/8"]), timeout=0.5)).peers
                     for t in (self.known, self.other)]
            if {"127.0.0.11", "127.0.0.12", "127.0.0.13"} <= tracked and [len(f) for f in found] == [3, 2]:
                return
            time.sleep(0.2)
        raise RuntimeError("the swarm did not announce in time")

    def close(self) -> None:
        for peer in self.odd.values():
            peer.close()
        for seeder in self.seeders:
            seeder.session.pause()
        self.seeders.clear()
        del self.dht
        self.tracker.close()


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    made = Swarm(tmp_path_factory.mktemp("swarm"))
    made.wait_for_announces()
    yield made
    made.close()


def _config(swarm: Swarm, **changes: object) -> ObserverConfig:
    values = dict(bootstrap=(swarm.dht_node,), confine_to=("127.0.0.0/8",), lab=True, interval=0.1,
                  max_connections=8, connections_per_second=200.0, per_torrent_per_second=100.0, peer_timeout=3.0,
                  read_timeout=1.0, retry_after=60.0, batch_size=5, source_address=OBSERVER)
    values.update(changes)
    return ObserverConfig(**values)


def _know(db, swarm: Swarm) -> None:  # noqa: ANN001
    import_torrents(db, [parse_torrent_file(swarm.known.metainfo)], source="torrent", source_name="known.torrent",
                    category="A", description="generated test torrent", actor="tester")


def _lab_area(db, tmp_path: Path) -> None:  # noqa: ANN001
    areas = tmp_path / "lab-areas.csv"
    areas.write_text("cidr,area\n127.0.0.0/8,GB/Lab\n")
    import_areas(db, [areas], actor="tester")
    save_settings(db, "tester", force_areas=["GB/Lab"])


def test_the_observer_records_every_peer_with_its_share_and_client_into_targets_and_a_warrant(
        swarm: Swarm, ops_db, tmp_path: Path) -> None:
    _lab_area(ops_db, tmp_path)
    _know(ops_db, swarm)
    observer = Observer(ops_db, _config(swarm), actor="DC 1 Observer")
    status = asyncio.run(observer.run(rounds=2))
    counts = status.counts

    with ops_db.engine.connect() as conn:
        rows = conn.execute(select(sightings).order_by(sightings.c.seen_us)).all()
        batches = conn.execute(select(imports).where(imports.c.source == "observer")).all()
    by_ip: dict[str, list] = {}
    for row in rows:
        by_ip.setdefault(row.ip, []).append(row)
    libtorrent_peers = {"127.0.0.11": 1.0, "127.0.0.12": 5 / 9, "127.0.0.13": 0.0}
    for ip, share in libtorrent_peers.items():
        seen = by_ip[ip]
        assert len(seen) == 2  # one sighting per peer and round: persistence
        for row in seen:
            assert row.share == pytest.approx(share) and row.client == f"fieldlab-test-peer/{ip}"
            assert row.found_by == "dht,tracker" and row.observer.startswith(f"{OBSERVER}:")
            assert (row.network, row.hash_kind, row.file_hash) == ("bittorrent", "btih", swarm.known.v1)
            assert (row.category, row.area, row.in_area) == ("A", "GB/Lab", True)
            assert bytes.fromhex(row.guid).startswith(b"-LT2110-")
    assert by_ip[ODD["honest"]][0].share == 1.0 and by_ip[ODD["honest"]][0].client == "OddPeer honest"
    assert by_ip[ODD["lying"]][0].share is None and by_ip[ODD["lying"]][0].client == "OddPeer lying"
    assert by_ip[ODD["oversized"]][0].share is None
    assert by_ip[ODD["malformed"]][0].client == "" and by_ip[ODD["malformed"]][0].share == 0.0
    assert by_ip[ODD["silent"]][0].share is None and by_ip[ODD["silent"]][0].found_by == "tracker"
    assert ODD["hangup"] not in by_ip and "127.0.0.14" not in by_ip  # a failed handshake; a peer of another torrent
    assert {r.file_hash for r in rows} == {swarm.known.v1}  # the torrent not in the known list is never asked for
    assert bytes.fromhex(swarm.other.v1) not in [h for h, peer_id in swarm.tracker.asked if peer_id.startswith(b"-FL")]

    # never asks for data: the recording peers received nothing after the handshake but extension handshakes
    for behaviour in ("honest", "lying", "malformed", "silent"):
        recorded = swarm.odd[behaviour].recorded
        assert recorded.handshakes and set(recorded.message_ids) <= SENT_BY_OBSERVER, behaviour

    # counted: two rounds, the hang-up failed once then was backed off, the liar's and the oversized message noted
    assert counts["rounds"] == 2 and counts["peers_failed_truncated"] == 1 and counts["peers_backed_off"] == 1
    assert counts["peer_problems_damaged"] >= 2 and counts["peer_problems_limit"] == 2
    assert counts["sightings_added"] == len(rows) == 2 * 8 and counts["batches"] == len(batches) >= 4

    # the pipeline: one target per peer (each its own address and peer id), priority with reasons, a warrant draft
    targets = list_targets(ops_db)
    assert len(targets) == 8
    seed_target = next(t for t in targets if t.addresses == ("127.0.0.11",))
    assert seed_target.known_files == 1 and seed_target.sightings == 2
    assert "same client GUID" in seed_target.rule or "same IP address" in seed_target.rule
    assert any(r.part == "severity" and "category A" in r.text for r in seed_target.priority.reasons)
    detail = target_detail(ops_db, seed_target.id)
    assert [s.share for s in detail.sightings] == [1.0, 1.0] and all(s.observed for s in detail.sightings)
    html = render_html(warrant_draft(ops_db, seed_target.id, prepared_by="DC 1 Observer"))
    assert "127.0.0.11" in html and "fieldlab-test-peer/127.0.0.11" in html and "100%" in html
    assert f"observer run {status.run_id}" in html

    # audited: the start, every batch and the stop, in an intact chain
    actions = [e.action for e in ops_db.audit.entries()]
    assert actions.count("observer_started") == 1 and actions.count("observer_stopped") == 1
    assert actions.count("observation_batch") == len(batches) and ops_db.audit.verify().ok
    (run,) = latest_runs(ops_db)
    assert run["stopped_at"] and run["status"]["state"] == "stopped" and run["observer"].startswith(OBSERVER)


def test_outside_a_lab_loopback_peers_lead_to_no_subscriber_and_are_not_contacted(swarm: Swarm, ops_db) -> None:
    _know(ops_db, swarm)
    status = asyncio.run(Observer(ops_db, _config(swarm, lab=False), "tester").run(rounds=1))
    with ops_db.engine.connect() as conn:
        assert conn.execute(select(sightings)).all() == []
    assert status.counts["peers_not_subscriber_addresses"] == 9 and status.counts["connections"] == 0


def test_the_queue_and_the_rates_bound_the_work_and_are_counted(swarm: Swarm, ops_db, tmp_path: Path) -> None:
    _know(ops_db, swarm)
    config = _config(swarm, queue_size=3, max_connections=1, connections_per_second=10.0, bootstrap=())
    status = asyncio.run(Observer(ops_db, config, "tester").run(rounds=1))
    assert status.counts["peers_found"] == 9 and status.counts["peers_queued"] == 3
    assert status.counts["peers_dropped_queue_full"] == 6 and status.counts["connections"] == 3
    assert status.counts["rate_limited_seconds"] >= 0.15  # three connections at ten a second


def test_a_rate_limit_spaces_acquisitions_evenly() -> None:
    async def take() -> float:
        limit = RateLimit(50.0)
        start = time.monotonic()
        for _ in range(6):
            await limit.acquire()
        return time.monotonic() - start

    assert 0.09 <= asyncio.run(take()) < 0.5


def test_a_bad_configuration_is_refused_with_the_reason() -> None:
    with pytest.raises(ObserverError, match="is not address:port"):
        ObserverConfig(bootstrap=("router.example:x",)).validated()
    with pytest.raises(ObserverError, match="positive"):
        ObserverConfig(connections_per_second=0).validated()


def test_a_supervisor_starts_and_stops_the_observer_in_the_app_and_a_target_shows_the_share_over_time(
        swarm: Swarm, ops_db, make_client, tmp_path: Path) -> None:
    import re

    def csrf_of(client) -> str:  # noqa: ANN001 - a TestClient
        return re.search(r'<meta name="csrf-token" content="([^"]*)">', client.get("/").text).group(1)

    _lab_area(ops_db, tmp_path)
    _know(ops_db, swarm)
    intel, supervisor = make_client("intel1"), make_client("super1")
    assert intel.get("/observer").status_code == 403
    assert intel.post("/observer/start", data={"csrf": csrf_of(intel)}).status_code == 403
    page = supervisor.get("/observer")
    assert page.status_code == 200 and 'id="observer-start"' in page.text
    form = {"csrf": csrf_of(supervisor), "minutes": "2", "interval": "600", "bootstrap": swarm.dht_node,
            "confine_to": "127.0.0.0/8", "lab": "true", "max_connections": "8", "rate": "100", "per_torrent_rate": "100"}
    assert supervisor.post("/observer/start", data=form, follow_redirects=False).status_code == 303
    again = supervisor.post("/observer/start", data=form)
    assert again.status_code == 400 and "already running" in again.text
    end = time.monotonic() + 20
    while time.monotonic() < end and (latest_runs(ops_db)[0]["status"].get("counts", {}).get("peers_observed", 0) < 8
                                      or not latest_runs(ops_db)[0]["status"].get("last_batch_at")):
        time.sleep(0.2)
    assert supervisor.post("/observer/stop", data={"csrf": csrf_of(supervisor)}, follow_redirects=False).status_code == 303
    runner = supervisor.app.state.observer
    runner.thread.join(20)
    (run,) = latest_runs(ops_db)
    assert run["stopped_at"] and run["status"]["counts"]["sightings_added"] == 8
    shown = supervisor.get("/observer").text
    assert 'id="observer-start"' in shown and "sightings added: 8" in shown and "super1" in shown
    stops = [e for e in ops_db.audit.entries() if e.action == "observer_stopped"]
    assert len(stops) == 1 and stops[0].actor == "super1"

    half = next(t for t in list_targets(ops_db) if t.addresses == ("127.0.0.12",))
    target_page = intel.get(f"/targets/{half.id}").text
    assert 'id="observed"' in target_page and "56%" in target_page and "fieldlab-test-peer/127.0.0.12" in target_page


def test_the_command_line_imports_known_torrents_and_observes(swarm: Swarm, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fieldlab.cli import app

    runner = CliRunner()
    ops_dir = str(tmp_path / "ops")
    (tmp_path / "known.torrent").write_bytes(swarm.known.metainfo)
    (tmp_path / "magnets.txt").write_text(f"# one a line\nmagnet:?xt=urn:btih:{swarm.other.v1}\nnot a magnet\n")
    imported = runner.invoke(app, ["ops", "torrents", "import", str(tmp_path / "known.torrent"),
                                   str(tmp_path / "magnets.txt"), "--category", "A", "--ops-dir", ops_dir])
    assert imported.exit_code == 0, imported.output
    assert "known.torrent: 1 added" in imported.output and "magnets.txt: 1 added" in imported.output
    assert "line 3:" in imported.output
    listed = runner.invoke(app, ["ops", "torrents", "list", "--ops-dir", ops_dir])
    assert swarm.known.v1 in listed.output and swarm.other.v1 in listed.output
    observed = runner.invoke(app, ["ops", "observe", "--ops-dir", ops_dir, "--rounds", "1", "--bootstrap",
                                   swarm.dht_node, "--confine-to", "127.0.0.0/8", "--lab", "--interval", "1"])
    assert observed.exit_code == 0, observed.output
    # the known torrent's 8 answering peers, and the other torrent's two seeds (a magnet: share not told)
    assert "10 sightings added" in observed.output and "sightings_set_aside: 10" in observed.output


def test_a_udp_tracker_named_by_a_magnet_link_gives_the_peers(swarm: Swarm, ops_db) -> None:
    link = f"magnet:?xt=urn:btih:{swarm.known.v1}&tr={urllib.parse.quote(swarm.tracker.udp_url, safe='')}"
    import_torrents(ops_db, [parse_magnet(link)], source="magnet", source_name="links.txt", category="B",
                    actor="tester")
    status = asyncio.run(Observer(ops_db, _config(swarm, bootstrap=()), "tester").run(rounds=1))
    with ops_db.engine.connect() as conn:
        rows = conn.execute(select(sightings)).all()
    assert status.counts["tracker_requests"] == 1 and status.counts["tracker_errors"] == 0
    assert {r.ip for r in rows} >= {"127.0.0.11", "127.0.0.12", "127.0.0.13"} and len(rows) == 8
    assert {r.found_by for r in rows} == {"tracker"} and {r.category for r in rows} == {"B"}
    # a magnet gives no piece count: "have all" is still everything, a bitfield is "not told"
    shares = {r.ip: r.share for r in rows}
    assert shares["127.0.0.11"] == 1.0 and shares["127.0.0.12"] is None and shares["127.0.0.13"] == 0.0


def test_a_piece_nobody_asked_for_is_dropped_and_the_look_goes_on(swarm: Swarm) -> None:
    from fieldlab.ops.observer.peerwire import look_at_peer

    pushy = OddPeer("127.0.0.31", swarm.known.v1, swarm.known.pieces, "pushy")
    try:
        look = asyncio.run(look_at_peer(pushy.address, pushy.port, bytes.fromhex(swarm.known.v1),
                                        pieces=swarm.known.pieces, peer_id=b"-FL0100-" + bytes(12), client="test",
                                        read_timeout=1.0, source_address=OBSERVER))
    finally:
        pushy.close()
    assert (look.client, look.pieces_held, look.share, look.problem) == ("OddPeer pushy", 9, 1.0, None)
    assert look.local.startswith(f"{OBSERVER}:") and set(pushy.recorded.message_ids) <= SENT_BY_OBSERVER
