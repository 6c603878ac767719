"""Generated intelligence for the operations tests: two forces' areas, a hash set of A/B/C files, and a monitoring
export with IPv4 and IPv6 sightings, duplicates and malformed rows.  Addresses are from the documentation ranges
(RFC 5737, RFC 3849); files are random bytes whose categories are only labels in a generated set."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import fieldlab

OUR_FORCE = "GB/West Loamshire"
OTHER_FORCE = "GB/East Borsetshire"
NOW = datetime(2024, 6, 10, tzinfo=timezone.utc)  # scores and the import's "not in the future" check
GUID_1 = "7F3A9C01-55D2-4E8B-9A10-3C4D5E6F7A81"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
HEADER = "timestamp_utc,ip,port,network,client_guid,file_hash,file_name,file_size"

AREAS_CSV = f"""cidr,area
# the two forces' networks, as a force's own list would give them
203.0.113.0/24,{OUR_FORCE}
203.0.113.192/26,{OTHER_FORCE}
198.51.100.0/24,{OTHER_FORCE}
2001:db8:a::/48,{OUR_FORCE}
2001:db8:b::/48,{OTHER_FORCE}
not-a-network,{OUR_FORCE}
"""


@dataclass(frozen=True)
class File:
    name: str
    category: str | None
    md5: str
    sha1: str


@dataclass(frozen=True)
class Scenario:
    root: Path
    areas: Path
    sightings: Path
    files: dict[str, File]
    lines: dict[str, int]  # what a row is -> its line in the sightings file


def _file(rng: random.Random, name: str, category: str | None) -> File:
    data = rng.randbytes(64)
    return File(name, category, hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest())


def build_scenario(root: Path, home: Path) -> Scenario:
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20240610)
    files = {name: _file(rng, name, category) for name, category in (
        ("A1", "A"), ("A2", "A"), ("B1", "B"), ("B2", "B"), ("C1", "C"), ("C2", "C"), ("C3", "C"), ("C4", "C"),
        ("U1", None))}
    hash_set = root / "known.csv"
    hash_set.write_text("md5,sha1,category\n" + "".join(f"{f.md5},{f.sha1},{f.category}\n" for f in files.values()
                                                        if f.category))
    fieldlab.import_hashset(hash_set, name="generated-set", home=home)
    areas = root / "areas.csv"
    areas.write_text(AREAS_CSV)

    f = files
    rows = [
        # target W1: one client (GUID) moving from IPv4 to IPv6, in our area
        ("w1-a1", f"2024-06-01T10:00:00Z,203.0.113.10,6346,gnutella,{GUID_1},{f['A1'].md5},holiday_01.jpg,20480"),
        ("w1-a2", f"2024-06-02T11:00:00Z,203.0.113.10,6346,gnutella,{GUID_1},urn:sha1:{_base32(f['A2'].sha1)},img 2.jpg,30720"),
        ("w1-b1", f"2024-06-05T12:00:00Z,[2001:db8:a::10],6346,gnutella,{GUID_1},{f['B1'].md5},<b>x</b>.jpg,1024"),
        ("w1-dup", f"2024-06-01T10:00:00Z,203.0.113.10,6346,gnutella,{GUID_1},{f['A1'].md5},holiday_01.jpg,20480"),
        # target W2: no GUID, one address within a week (one time with an offset)
        ("w2-c1", f"2024-05-20T09:00:00Z,203.0.113.20,6881,ares,,{f['C1'].sha1},c1.jpg,"),
        ("w2-c2", f"2024-05-24T09:00:00Z,203.0.113.20,6881,ares,,{f['C2'].sha1},c2.jpg,"),
        ("w2-c3", f"2024-05-25T09:00:00+02:00,203.0.113.20,6881,ares,,{f['C3'].md5},c3.jpg,"),
        # target W3: the same address 40 days earlier is someone else; a zero GUID joins nothing
        ("w3-c4", f"2024-04-10T09:00:00Z,203.0.113.20,6881,ares,{ZERO_GUID},{f['C4'].md5},c4.jpg,"),
        # target W4: an IPv6 client offering a file no set knows
        ("w4-u1", f"2024-06-08T00:00:00Z,2001:db8:a::99,6881,ares,{ZERO_GUID},{f['U1'].md5},unknown.bin,5"),
        # set aside: another force's area (v4, v6, a carve-out inside our /24), and an address in no area
        ("east-v4", f"2024-06-03T08:00:00Z,198.51.100.5,6346,gnutella,,{f['A1'].md5},a.jpg,"),
        ("east-v6", f"2024-06-03T08:00:00Z,2001:db8:b::5,6346,gnutella,,{f['B2'].md5},b.jpg,"),
        ("east-carve", f"2024-06-03T08:00:00Z,203.0.113.200,6346,gnutella,,{f['C1'].md5},c.jpg,"),
        ("no-area", f"2024-06-03T08:00:00Z,192.0.2.1,6346,gnutella,,{f['C2'].md5},c.jpg,"),
        # malformed
        ("bad-zone", f"2024-06-01 10:00:00,203.0.113.30,6346,gnutella,,{f['A1'].md5},n.jpg,"),
        ("bad-ip", f"2024-06-01T10:00:00Z,203.0.113.300,6346,gnutella,,{f['A1'].md5},n.jpg,"),
        ("private-ip", f"2024-06-01T10:00:00Z,10.1.2.3,6346,gnutella,,{f['A1'].md5},n.jpg,"),
        ("bad-hash", "2024-06-01T10:00:00Z,203.0.113.31,6346,gnutella,,xyz,n.jpg,"),
        ("short", "2024-06-01T10:00:00Z,203.0.113.32"),
        ("future", f"2031-01-01T00:00:00Z,203.0.113.33,6346,gnutella,,{f['A1'].md5},n.jpg,"),
    ]
    sightings = root / "sightings.csv"
    sightings.write_text(HEADER + "\n" + "".join(row + "\n" for _, row in rows))
    return Scenario(root, areas, sightings, files, {name: number + 2 for number, (name, _) in enumerate(rows)})


def _base32(sha1_hex: str) -> str:
    import base64

    return base64.b32encode(bytes.fromhex(sha1_hex)).decode()


def prepare(db, scenario: Scenario) -> None:  # noqa: ANN001 - an OpsDatabase
    """Area data imported and our force's area set, as a force does once."""
    from fieldlab.ops.areas import import_areas
    from fieldlab.ops.settings import save_settings

    import_areas(db, [scenario.areas], actor="test setup")
    save_settings(db, "test setup", force_areas=[OUR_FORCE])


PASSWORDS = {"intel1": "intel-password-1", "exam1": "examiner-password-1", "viewer1": "viewer-password-1",
             "super1": "supervisor-password-1"}
ROLES = {"intel1": "intelligence", "exam1": "examiner", "viewer1": "viewer", "super1": "supervisor"}
SUBSCRIBER = {"isp": "Example Broadband", "isp_reference": "EB-REQ-77120", "name": "Jordan Q. Testperson",
              "address": "12 Sample Lane\nNorthtown WL1 2AB"}
OPERATION_REFS = ("Op ASH-1", "Op ASH-2", "Op ASH-3")


def add_users(db) -> None:  # noqa: ANN001
    from fieldlab.web.accounts import OPS_ROLES, add_user

    for name, password in PASSWORDS.items():
        add_user(db, name, ROLES[name], password=password, actor="test setup", roles=OPS_ROLES)


def run_lifecycle(db, target_ids, case_dir=None) -> list[int]:  # noqa: ANN001
    """Three operations over July-September 2024: two reach court, one stops at the search.

    Per month: July, 2 warrants executed, 6 arrests, 1 charge, 7 children safeguarded; August, 1 warrant executed
    and 4 charges; September nothing.  Arrest to charge: 17 and 25 days; arrest to first court date: 43 and 55."""
    from datetime import date

    from fieldlab.ops.lifecycle import add_device, record_safeguarding, record_stage, start_operation

    first, second, third = target_ids
    ops = [start_operation(db, t, ref, actor="intel1") for t, ref in zip((first, second, third), OPERATION_REFS)]
    plan = [
        (ops[0], [("warrant_applied", date(2024, 7, 1), 1), ("warrant_granted", date(2024, 7, 2), 1),
                  ("warrant_executed", date(2024, 7, 3), 1), ("arrested", date(2024, 7, 3), 2),
                  ("charged", date(2024, 7, 20), 1), ("first_court", date(2024, 8, 15), 1)]),
        (ops[1], [("warrant_applied", date(2024, 7, 5), 1), ("warrant_granted", date(2024, 7, 6), 1),
                  ("warrant_executed", date(2024, 7, 8), 1), ("arrested", date(2024, 7, 8), 4),
                  ("charged", date(2024, 8, 2), 4), ("first_court", date(2024, 9, 1), 1)]),
        (ops[2], [("warrant_applied", date(2024, 8, 1), 1), ("warrant_granted", date(2024, 8, 2), 1),
                  ("warrant_executed", date(2024, 8, 3), 1)]),
    ]
    for operation, stages in plan:
        for stage, on, persons in stages:
            record_stage(db, operation, stage, on=on, persons=persons, actor="exam1")
    add_device(db, ops[0], exhibit_ref="JS/1", description="laptop, bedroom", case_dir=case_dir, actor="exam1")
    record_safeguarding(db, ops[0], children=3, on=date(2024, 7, 3), note="referred to children's services",
                        actor="exam1")
    record_safeguarding(db, ops[1], children=4, on=date(2024, 7, 8), note="strategy meeting held", actor="exam1")
    return ops
