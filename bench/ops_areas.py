#!/usr/bin/env python3
"""Area data at GeoLite2 scale: importing a million networks, and placing a hundred thousand addresses.

Generates a GeoLite2-City-shaped CSV set (Blocks-IPv4, Blocks-IPv6, Locations-en) of N networks (default
1,000,000: 80% IPv4 /22-/30, 20% IPv6 /36-/64, disjoint, named by 5,000 locations), then measures in one run:

- parsing and compiling them to sorted ranges (``ops.areas.read_area_files``);
- the whole ``fieldlab ops areas`` import into a fresh operations database (SQLite in a temporary folder, or
  ``--database URL``): parse, compile, store the compressed chunks, place the (no) sightings;
- loading the stored ranges back in a fresh ``OpsDatabase`` (what a server does once per area import);
- placing Q addresses (default 100,000; half inside a network, half random) with ``AreaIndex.areas_of`` (one
  ``numpy.searchsorted`` over 16-byte keys), beside the same look-ups with Python's ``bisect`` over a list of
  integers, each checked to give the same areas.

Figures go to docs/benchmarks.md between this script's markers.
"""

from __future__ import annotations

import argparse
import bisect
import ipaddress
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_folder import load_average, machine_facts, markdown_table, replace_doc_section  # noqa: E402

BLOCKS_HEADER = ("network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,"
                 "is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast\n")
LOCATIONS_HEADER = ("geoname_id,locale_code,continent_code,continent_name,country_iso_code,country_name,"
                    "subdivision_1_iso_code,subdivision_1_name,subdivision_2_iso_code,subdivision_2_name,city_name,"
                    "metro_code,time_zone,is_in_european_union\n")


def generate(folder: Path, networks: int, seed: int) -> list[tuple[str, int]]:
    """The three files; returns (network, geoname_id) of every block, for the probes and the reference."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    places = 5000
    with open(folder / "GeoLite2-City-Locations-en.csv", "w", encoding="utf-8") as out:
        out.write(LOCATIONS_HEADER)
        for n in range(places):
            out.write(f"{100000 + n},en,EU,Europe,GB,\"United Kingdom\",ENG,England,S{n % 48},\"County {n % 48}\","
                      f"\"Town {n}\",,Europe/London,0\n")
    blocks: list[tuple[str, int]] = []
    v4 = int(networks * 0.8)
    slots = sorted(rng.sample(range(1 << 22), v4))  # one /22 slot each, so networks never overlap
    with open(folder / "GeoLite2-City-Blocks-IPv4.csv", "w", encoding="ascii") as out:
        out.write(BLOCKS_HEADER)
        for slot in slots:
            prefix = rng.randint(22, 30)
            network = f"{ipaddress.IPv4Address(slot << 10)}/{prefix}"
            place = 100000 + rng.randrange(places)
            blocks.append((network, place))
            out.write(f"{network},{place},2635167,,0,0,,53.8,-1.5,20,\n")
    slots6 = sorted(rng.sample(range(1 << 36), networks - v4))  # /36 slots under 2000::/3-ish space
    with open(folder / "GeoLite2-City-Blocks-IPv6.csv", "w", encoding="ascii") as out:
        out.write(BLOCKS_HEADER)
        for slot in slots6:
            prefix = rng.randint(36, 64)
            network = f"{ipaddress.IPv6Address((0x2 << 124) | (slot << 92))}/{prefix}"
            place = 100000 + rng.randrange(places)
            blocks.append((network, place))
            out.write(f"{network},{place},2635167,,0,0,,53.8,-1.5,20,\n")
    return blocks


def probes(blocks: list[tuple[str, int]], count: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    found = []
    for network, _ in rng.sample(blocks, count // 2):
        net = ipaddress.ip_network(network)
        found.append(str(net[rng.randrange(net.num_addresses)] if net.num_addresses < 2**62 else net[rng.randrange(2**62)]))
    for _ in range(count - len(found)):
        found.append(str(ipaddress.IPv4Address(rng.getrandbits(32))) if rng.random() < 0.8
                     else str(ipaddress.IPv6Address((0x2 << 124) | rng.getrandbits(124))))
    rng.shuffle(found)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20240610)
    parser.add_argument("--database", help="an operations database URL to import into (default: SQLite, temporary)")
    parser.add_argument("--no-docs", action="store_true", help="print the figures, do not write docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fieldlab-bench-areas-"))
    try:
        measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path) -> None:
    from fieldlab.ops.areas import import_areas, load_index, read_area_files, text_key
    from fieldlab.ops.database import OpsDatabase, locate, upgrade

    began = time.perf_counter()
    blocks = generate(work / "geolite", args.networks, args.seed)
    generated = time.perf_counter() - began
    size_mb = sum(p.stat().st_size for p in (work / "geolite").iterdir()) / 1e6
    addresses = probes(blocks, args.queries, args.seed)
    load_before = load_average()

    began = time.perf_counter()
    fmt, index, networks, problems = read_area_files([work / "geolite"], "city")
    parsed = time.perf_counter() - began
    assert fmt == "geolite" and networks == args.networks and problems.count == 0, (networks, problems.kept[:3])

    location = locate(args.database) if args.database else locate(ops_dir=work / "ops")
    upgrade(location)
    db = OpsDatabase.open(location)
    began = time.perf_counter()
    report = import_areas(db, [work / "geolite"], level="city", actor="bench")
    imported = time.perf_counter() - began
    db.close()

    fresh = OpsDatabase.open(location)
    began = time.perf_counter()
    stored = load_index(fresh)
    loaded = time.perf_counter() - began
    fresh.close()

    began = time.perf_counter()
    areas = stored.areas_of(addresses)
    looked_up = time.perf_counter() - began
    inside = sum(a is not None for a in areas)

    # the plain-Python peer: bisect over ints (numpy drops the trailing zero bytes of S16 values: put them back)
    starts = [int.from_bytes(k.ljust(16, b"\0"), "big") for k in stored.first.tolist()]
    ends = [int.from_bytes(k.ljust(16, b"\0"), "big") for k in stored.last.tolist()]
    numbers = stored.area.tolist()
    began = time.perf_counter()
    reference = []
    for address in addresses:
        key = int.from_bytes(text_key(address), "big")
        slot = bisect.bisect_right(starts, key) - 1
        reference.append(stored.names[numbers[slot]] if slot >= 0 and key <= ends[slot] else None)
    bisected = time.perf_counter() - began
    assert reference == areas, "searchsorted and bisect disagree"
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    facts = machine_facts()
    rows = [
        ["generate the GeoLite2-shaped CSV files (not part of an import)", f"{generated:.1f} s", ""],
        [f"parse and compile {networks:,} networks to sorted ranges", f"{parsed:.1f} s",
         f"{networks / parsed:,.0f} networks/s"],
        [f"`fieldlab ops areas` into {'PostgreSQL' if location.url.startswith('postgresql') else 'SQLite'} "
         "(parse, compile, store, place)", f"{imported:.1f} s", f"{report.ranges:,} ranges stored"],
        ["load the stored ranges in a fresh process state", f"{loaded:.2f} s", ""],
        [f"place {len(addresses):,} addresses: `AreaIndex.areas_of` (numpy searchsorted)", f"{looked_up:.2f} s",
         f"{len(addresses) / looked_up:,.0f} addresses/s"],
        [f"the same {len(addresses):,} with Python `bisect` over int lists (peer; same answers)", f"{bisected:.2f} s",
         f"{len(addresses) / bisected:,.0f} addresses/s"],
    ]
    body = (
        "## Area data: a million networks, a hundred thousand addresses\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `.venv/bin/python bench/ops_areas.py`"
        + (f" --networks {args.networks}" if args.networks != 1_000_000 else "") + ".\n\n"
        + facts.as_markdown()
        + f"- Load average before {load_before}, after {load_average()}; peak RSS of the run {peak_mib:,.0f} MiB\n\n"
        f"**Data** (generated, seed {args.seed}): GeoLite2-City-shaped CSV files, {size_mb:,.0f} MB: "
        f"{int(args.networks * 0.8):,} IPv4 networks (/22-/30) and {args.networks - int(args.networks * 0.8):,} IPv6 "
        "(/36-/64), disjoint, named by 5,000 locations at city level; "
        f"{len(addresses):,} addresses to place, half inside a network ({inside:,} placed).\n\n"
        + markdown_table(["Step", "Time", "Rate"], rows)
        + "\n\nBoth look-ups read the same stored ranges; every answer was compared. The ranges are 16-byte keys "
        "(IPv4 as IPv4-mapped IPv6), so one sorted table serves both families.\n"
    )
    print(body)
    if not args.no_docs:
        replace_doc_section("bench/ops_areas.py", body)


if __name__ == "__main__":
    main()
