"""Known torrents: infohashes from .torrent files (computed as libtorrent computes them), magnet links and CSV lists;
an infohash sighting imported before or after matches them; bencode stays within its bounds."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import select

from fieldlab.ops.bencode import BencodeError, decode, encode, info_span
from fieldlab.ops.schema import sightings
from fieldlab.ops.sightings import import_sightings
from fieldlab.ops.targets import list_targets
from fieldlab.ops.torrents import (
    TorrentError,
    import_torrents,
    list_known,
    parse_magnet,
    parse_torrent_file,
    read_sources,
    read_torrent_list,
)
from tests.ops.ops_data import NOW, OUR_FORCE, prepare
from tests.ops.swarm import make_torrent


@pytest.mark.parametrize("kind", ["v1", "v2", "hybrid"])
def test_infohashes_of_a_torrent_file_are_those_libtorrent_computes(kind: str, tmp_path: Path) -> None:
    torrent = make_torrent("x.bin", 5, "http://127.0.0.3:1/announce", 7, tmp_path, kind=kind)
    facts = parse_torrent_file(torrent.metainfo)
    assert (facts.infohash_v1, facts.infohash_v2) == (torrent.v1, torrent.v2)
    assert facts.pieces == 5 and facts.name == "x.bin" and facts.trackers == ("http://127.0.0.3:1/announce",)


def test_a_broken_torrent_file_is_refused_with_the_reason() -> None:
    with pytest.raises(TorrentError, match="not a .torrent"):
        parse_torrent_file(b"d4:infod4:name1:x", "cut.torrent")
    with pytest.raises(TorrentError, match="neither v1 pieces nor a v2 file tree"):
        parse_torrent_file(encode({"info": {"name": "x", "piece length": 16384}}), "empty.torrent")


def test_bencode_is_bounded_and_strict() -> None:
    value = {"announce": "http://t/a", "info": {"name": "n", "pieces": b"\x00" * 20}}
    data = encode(value)
    start, end = info_span(data)
    assert decode(data[start:end]) == {b"name": b"n", b"pieces": b"\x00" * 20}
    for bad in (b"l" * 100 + b"e" * 100, b"i01e", b"i-0e", b"5:ab", b"d1:ae", b"i1ei2e", b"d i1e1:xe"):
        with pytest.raises(BencodeError):
            decode(bad)
    with pytest.raises(BencodeError, match="more than 10 elements"):
        decode(encode(list(range(20))), max_elements=10)


def test_magnet_links_give_v1_in_hex_or_base32_and_v2_as_a_multihash() -> None:
    v1 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    v2 = "ab" * 32
    hexed = parse_magnet(f"magnet:?xt=urn:btih:{v1}&dn=some%20name&tr=http%3A%2F%2F127.0.0.3%3A1%2Fannounce")
    assert (hexed.infohash_v1, hexed.name, hexed.trackers) == (v1, "some name", ("http://127.0.0.3:1/announce",))
    based = parse_magnet(f"magnet:?xt=urn:btih:{base64.b32encode(bytes.fromhex(v1)).decode()}")
    assert based.infohash_v1 == v1
    both = parse_magnet(f"magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220{v2}")
    assert (both.infohash_v1, both.infohash_v2) == (v1, v2)
    with pytest.raises(TorrentError, match="names no BitTorrent infohash"):
        parse_magnet("magnet:?xt=urn:sha1:ABCDEF&dn=x")


def test_a_csv_list_reports_bad_lines_and_keeps_the_rest() -> None:
    found, problems = read_torrent_list("infohash,category,description\n"
                                        f"{'a' * 40},A,first\nnot-a-hash,B,second\n{'b' * 64},C,third\n")
    assert [(f.infohash_v1, f.infohash_v2, f.category, f.description) for f in found] == [
        ("a" * 40, None, "A", "first"), (None, "b" * 64, "C", "third")]
    assert len(problems) == 1 and problems[0].startswith("line 3: 'not-a-hash' is not an infohash")
    with pytest.raises(TorrentError, match="infohash and category"):
        read_torrent_list("hash,cat\n")


def test_an_infohash_sighting_imported_by_csv_matches_a_torrent_known_later(ops_db, scenario, tmp_path: Path) -> None:
    prepare(ops_db, scenario)
    torrent = make_torrent("known.bin", 4, None, 11, tmp_path / "t", kind="hybrid")
    export = tmp_path / "bt.csv"
    export.write_text("timestamp_utc,ip,port,network,client_guid,file_hash,file_name,file_size\n"
                      f"2024-06-05T10:00:00Z,203.0.113.77,51413,bittorrent,,{torrent.v1},known.bin,\n")
    report = import_sightings(ops_db, export, now=NOW)
    assert report.added == 1 and report.known == 0  # no torrent known yet: counted as unknown

    (tmp_path / "known.torrent").write_bytes(torrent.metainfo)
    kind, name, found, problems = read_sources([tmp_path / "known.torrent"])[0]
    done = import_torrents(ops_db, found, source=kind, source_name=name, category="A", description="series X",
                           actor="tester")
    assert (done.added, done.updated, done.rematched, done.problems) == (1, 0, 1, ())
    with ops_db.engine.connect() as conn:
        row = conn.execute(select(sightings)).one()
        (known,) = list_known(conn)
    assert (row.category, row.profile, row.hash_sets) == ("A", "uk", f"known torrent {known.id} (torrent)")
    assert (known.pieces, known.infohash_v2, known.description) == (4, torrent.v2, "series X")
    (target,) = list_targets(ops_db, now=NOW)
    assert target.known_files == 1 and OUR_FORCE in target.areas
    assert any(r.part == "severity" and "1 category A" in r.text for r in target.priority.reasons)

    # a CSV row for the same torrent later completes nothing it lacks but changes the category; a new export of
    # the same infohash matches at once
    listed, _ = read_torrent_list(f"infohash,category,description\n{torrent.v1},B,re-graded\n")
    again = import_torrents(ops_db, listed, source="csv", source_name="list.csv", actor="tester")
    assert (again.added, again.updated, again.rematched) == (0, 1, 1)
    with ops_db.engine.connect() as conn:
        assert conn.execute(select(sightings.c.category)).scalar_one() == "B"
        (known,) = list_known(conn)
    assert known.pieces == 4 and known.description == "re-graded"
    audit = [e.action for e in ops_db.audit.entries()]
    assert audit.count("known_torrents_imported") == 2 and ops_db.audit.verify().ok


def test_a_torrent_without_a_category_is_a_problem_not_a_guess(ops_db, tmp_path: Path) -> None:
    torrent = make_torrent("x.bin", 2, None, 5, tmp_path)
    done = import_torrents(ops_db, [parse_torrent_file(torrent.metainfo)], source="torrent", source_name="x.torrent")
    assert done.added == 0 and "give --category" in done.problems[0]
