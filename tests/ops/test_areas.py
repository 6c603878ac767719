"""Area data: GeoLite2 and CIDR layouts, nesting, IPv4 and IPv6, and the compiled ranges kept in the database."""

from __future__ import annotations

import bisect
import ipaddress
import random

import pytest

from fieldlab.ops.areas import (
    AreaError,
    _Names,
    address_key,
    compile_ranges,
    import_areas,
    load_index,
    network_range,
    read_area_files,
)

BLOCKS_V4 = """network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast
203.0.113.0/25,2001,2635167,,0,0,WL1,53.8,-1.5,20,
203.0.113.128/25,2002,2635167,,0,0,EB2,52.1,-2.2,20,
198.51.100.0/24,,2635167,,0,0,,,,100,
198.51.100.999/24,2001,2635167,,0,0,,,,100,
192.0.2.0/24,9999,,,0,0,,,,100,
"""
BLOCKS_V6 = """network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast
2001:db8:a::/48,2001,2635167,,0,0,WL1,53.8,-1.5,50,
2001:db8:b::/48,2002,2635167,,0,0,,52.1,-2.2,50,
"""
LOCATIONS = """geoname_id,locale_code,continent_code,continent_name,country_iso_code,country_name,subdivision_1_iso_code,subdivision_1_name,subdivision_2_iso_code,subdivision_2_name,city_name,metro_code,time_zone,is_in_european_union
2635167,en,EU,Europe,GB,"United Kingdom",,,,,,,Europe/London,0
2001,en,EU,Europe,GB,"United Kingdom",ENG,England,WLM,"West Loamshire","Northtown, Upper",,Europe/London,0
2002,en,EU,Europe,GB,"United Kingdom",ENG,England,EBS,"East Borsetshire",Southbury,,Europe/London,0
"""


@pytest.fixture()
def geolite(tmp_path):  # noqa: ANN201
    folder = tmp_path / "GeoLite2-City-CSV_20240604"
    folder.mkdir()
    (folder / "GeoLite2-City-Blocks-IPv4.csv").write_text(BLOCKS_V4)
    (folder / "GeoLite2-City-Blocks-IPv6.csv").write_text(BLOCKS_V6)
    (folder / "GeoLite2-City-Locations-en.csv").write_text(LOCATIONS)
    return folder


def test_geolite_blocks_are_named_down_to_the_chosen_level(geolite) -> None:
    fmt, index, networks, problems = read_area_files([geolite], "subdivision_2")
    assert fmt == "geolite" and networks == 5
    assert index.areas_of(["203.0.113.5", "203.0.113.200", "2001:db8:a::1", "2001:db8:b:ffff::1", "198.51.100.1",
                           "192.0.2.1", "8.8.8.8"]) == [
        "GB/England/West Loamshire", "GB/England/East Borsetshire", "GB/England/West Loamshire",
        "GB/England/East Borsetshire", "GB", None, None]  # no geoname_id: the registered country
    assert {p.line for p in problems.kept} == {5, 6}  # a bad network, an unknown geoname_id
    _, by_city, _, _ = read_area_files([geolite], "city")
    assert by_city.areas_of(["203.0.113.5"]) == ["GB/England/West Loamshire/Northtown, Upper"]
    _, by_postcode, _, _ = read_area_files([geolite], "postal")
    assert by_postcode.areas_of(["2001:db8:a::1"]) == ["GB/England/West Loamshire/Northtown, Upper/WL1"]


def test_nested_networks_give_the_most_specific_area_and_adjacent_ranges_merge() -> None:
    names = _Names()
    wide, carve, inner = names.number("wide"), names.number("carve"), names.number("inner")
    index = compile_ranges([(*network_range("10.0.0.0/8"), wide), (*network_range("10.1.0.0/16"), carve),
                            (*network_range("10.1.2.0/24"), inner), (*network_range("11.0.0.0/8"), wide),
                            (*network_range("12.0.0.0/8"), wide)], names.names)
    assert index.areas_of(["10.0.0.1", "10.1.0.1", "10.1.2.3", "10.1.3.0", "10.2.0.0", "11.255.255.255",
                           "12.0.0.0", "13.0.0.0", "9.255.255.255"]) == [
        "wide", "carve", "inner", "carve", "wide", "wide", "wide", None, None]
    assert len(index) == 5  # wide | carve | inner | carve | wide (10.2/15 to the end of 12/8, merged)


def test_a_bad_network_is_named() -> None:
    for text, message in (("203.0.113.1/24", "host bits"), ("2001:db8::/129", "prefix length"), ("nonsense", "not an IPv4")):
        with pytest.raises(AreaError, match=message):
            network_range(text)


def test_lookups_agree_with_a_plain_bisect_over_random_networks() -> None:
    rng = random.Random(7)
    names = _Names()
    networks, seen = [], set()
    for _ in range(3000):
        if rng.random() < 0.7:
            prefix = rng.randint(16, 32)
            value = rng.getrandbits(32) >> (32 - prefix) << (32 - prefix)
            text = f"{ipaddress.IPv4Address(value)}/{prefix}"
        else:
            prefix = rng.randint(32, 64)
            value = rng.getrandbits(128) >> (128 - prefix) << (128 - prefix)
            text = f"{ipaddress.IPv6Address(value)}/{prefix}"
        first, last = network_range(text)
        if any(not (last < a or first > b) for a, b in seen):
            continue  # the reference below needs disjoint networks
        seen.add((first, last))
        networks.append((first, last, names.number(f"area {len(networks) % 50}")))
    index = compile_ranges(networks, names.names)
    ordered = sorted(networks)
    starts = [n[0] for n in ordered]
    probes = [ipaddress.ip_address(rng.getrandbits(32)) for _ in range(2000)]
    probes += [ipaddress.ip_address(n[0] + rng.randint(0, n[1] - n[0])) if n[0] >> 32 != 0xFFFF
               else ipaddress.IPv4Address((n[0] + rng.randint(0, n[1] - n[0])) & 0xFFFFFFFF) for n in ordered[:2000]]
    expected = []
    for probe in probes:
        key = int.from_bytes(address_key(probe), "big")
        slot = bisect.bisect_right(starts, key) - 1
        expected.append(names.names[ordered[slot][2]] if slot >= 0 and key <= ordered[slot][1] else None)
    assert index.areas_of([str(p) for p in probes]) == expected


def test_area_data_is_kept_in_the_database_and_replaced_by_the_next_import(ops_db, geolite, tmp_path) -> None:
    report = import_areas(ops_db, [geolite], level="subdivision_2", actor="DS 2 Super")
    assert (report.format, report.networks, report.problem_count) == ("geolite", 5, 2)
    ops_db.cache.clear()
    stored = load_index(ops_db)
    assert stored.areas_of(["2001:db8:b::1", "203.0.113.1"]) == ["GB/England/East Borsetshire",
                                                                 "GB/England/West Loamshire"]
    simple = tmp_path / "ours.csv"
    simple.write_text("203.0.113.0/24,Ours\n")
    import_areas(ops_db, [simple], actor="DS 2 Super")
    ops_db.cache.clear()
    assert load_index(ops_db).areas_of(["203.0.113.1", "2001:db8:b::1"]) == ["Ours", None]
    assert [e.action for e in ops_db.audit.entries()] == ["areas_imported", "areas_imported"]
