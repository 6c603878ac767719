"""Targets: the force's own sightings grouped by who they are likely to be, ranked, and what officers add to them.

Two sightings belong to one target when they share a client GUID, or when one address offered files within the
grouping window of another (7 days by default: addresses are re-assigned to other subscribers over time).  The
rule that joined a target's sightings is kept in words beside it.  GUIDs a client does not really set (all one
digit, too short) join nothing.

Grouping is redone after every import and every change of areas or window.  A target keeps its number while its
sightings stay together; when new sightings join two targets, the larger keeps its number and the other is marked
merged into it (its risk facts and subscriber details follow).  The sightings of a target with an operation never
move: what a warrant was applied for does not change under the officers' feet.  A target closed without action
opens again when new sightings join it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import Connection, and_, bindparam, or_, select, update

from fieldlab.errors import OpsError
from fieldlab.ops.areas import load_index
from fieldlab.ops.database import OpsDatabase, serialise
from fieldlab.ops.models import (
    KnownFile,
    Priority,
    RiskFact,
    SightingRow,
    Subscriber,
    TargetDetail,
    TargetSummary,
    us_of,
)
from fieldlab.ops.priority import is_known, score
from fieldlab.ops.schema import operations, risk_facts, sightings, subscribers, targets
from fieldlab.ops.settings import OTHER_RISK_MAX, RISK_KINDS, OpsSettings, load_settings
from fieldlab.ops.sightings import RowError, parse_address
from fieldlab.sql import inserted_id

DAY_US = 86_400 * 1_000_000
SHOWN_IN_RULE = 3


class TargetError(OpsError, ValueError):
    """An officer's change to a target cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Group:
    sightings: tuple[int, ...]  # ids, ascending
    guids: tuple[str, ...]  # GUIDs shared by two or more of its sightings
    addresses: tuple[str, ...]  # addresses that offered files again within the window

    def rule(self, window_days: int) -> str:
        parts = []
        if self.guids:
            parts.append(f"same client GUID ({_some(self.guids)})")
        if self.addresses:
            parts.append(f"same IP address within {window_days} days ({_some(self.addresses)})")
        return "; ".join(parts) if parts else "a single sighting"


def _some(values: Sequence[str]) -> str:
    shown = ", ".join(values[:SHOWN_IN_RULE])
    return shown + (f" and {len(values) - SHOWN_IN_RULE} more" if len(values) > SHOWN_IN_RULE else "")


def usable_guid(guid: str) -> bool:
    """A client GUID that can tell one client from another: not empty, not short, not one repeated digit."""
    bare = guid.replace("-", "").replace("{", "").replace("}", "").lower()
    return len(bare) >= 8 and len(set(bare)) > 1


def group_sightings(rows: Sequence[tuple[int, int, str, str]], window_us: int,
                    apart: dict[int, int] | None = None) -> list[Group]:
    """Groups of (id, seen_us, ip, guid) rows.  ``apart`` pins sightings to targets that must stay distinct:
    two sightings pinned to different targets are never joined directly."""
    parent = list(range(len(rows)))
    apart = apart or {}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int) -> bool:
        pa, pb = apart.get(rows[a][0]), apart.get(rows[b][0])
        if pa is not None and pb is not None and pa != pb:
            return False
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
        return True

    linking_guids: dict[int, set[str]] = defaultdict(set)
    linking_addresses: dict[int, set[str]] = defaultdict(set)
    by_guid: dict[str, list[int]] = defaultdict(list)
    by_address: dict[str, list[int]] = defaultdict(list)
    for position, (_id, _seen, ip, guid) in enumerate(rows):
        if usable_guid(guid):
            by_guid[guid.lower()].append(position)
        by_address[ip].append(position)
    guid_edges = []
    for guid, members in by_guid.items():
        for other in members[1:]:
            if join(members[0], other):
                guid_edges.append((members[0], guid))
    address_edges = []
    for ip, members in by_address.items():
        members.sort(key=lambda p: rows[p][1])
        for before, after in zip(members, members[1:]):
            if rows[after][1] - rows[before][1] <= window_us and join(before, after):
                address_edges.append((before, ip))
    for position, guid in guid_edges:
        linking_guids[root(position)].add(guid)
    for position, ip in address_edges:
        linking_addresses[root(position)].add(ip)
    members_of: dict[int, list[int]] = defaultdict(list)
    for position in range(len(rows)):
        members_of[root(position)].append(rows[position][0])
    return [Group(tuple(sorted(ids)), tuple(sorted(linking_guids[r])), tuple(sorted(linking_addresses[r])))
            for r, ids in members_of.items()]


def regroup(conn: Connection, settings: OpsSettings) -> dict[str, int]:
    """Group the force's sightings into targets again, keeping numbers where groups persist (see the module)."""
    serialise(conn, "sightings", "targets")
    actioned = set(conn.execute(select(operations.c.target_id)).scalars())
    found = conn.execute(select(sightings.c.id, sightings.c.seen_us, sightings.c.ip, sightings.c.guid,
                                sightings.c.target_id)
                         .where(or_(sightings.c.in_area.is_(True), sightings.c.target_id.in_(actioned)))
                         .order_by(sightings.c.id)).all()
    was = {r.id: r.target_id for r in found}
    pinned = {r.id: r.target_id for r in found if r.target_id in actioned}
    groups = group_sightings([(r.id, r.seen_us, r.ip, r.guid) for r in found], settings.window_days * DAY_US, pinned)
    groups.sort(key=lambda g: (-len(g.sightings), g.sightings[0]))
    claimed: set[int] = set(actioned)
    moves: dict[int, list[int]] = defaultdict(list)
    counts: Counter[str] = Counter()
    rules: dict[int, str] = {}
    for group in groups:
        held = Counter(was[s] for s in group.sightings if was[s] is not None)
        keepers = [t for t, _ in sorted(held.items(), key=lambda kv: (kv[0] not in actioned, -kv[1], kv[0]))]
        pick = next((t for t in keepers if t in actioned), None) or next((t for t in keepers if t not in claimed), None)
        if pick is None:
            pick = inserted_id(conn.execute(targets.insert().values(created_at=time.time(), rule="", status="open")
                                ))
            counts["created"] += 1
        claimed.add(pick)
        rules[pick] = group.rule(settings.window_days)
        for sighting in group.sightings:
            if sighting not in pinned and was[sighting] != pick:
                moves[pick].append(sighting)
    for target_id, moved in moves.items():
        for start in range(0, len(moved), 500):
            conn.execute(update(sightings).where(sightings.c.id.in_(moved[start:start + 500]))
                         .values(target_id=target_id))
        counts["moved"] += len(moved)
    if moves:  # new intelligence on a target closed without action puts it back in front of the officers
        counts["reopened"] += conn.execute(update(targets).where(and_(targets.c.id.in_(list(moves)),
                                                                      targets.c.status == "closed"))
                                           .values(status="open")).rowcount or 0
    set_aside = conn.execute(update(sightings).where(and_(sightings.c.in_area.is_(False),
                                                          sightings.c.target_id.is_not(None),
                                                          sightings.c.target_id.not_in(actioned)))
                             .values(target_id=None)).rowcount
    counts["set_aside"] += set_aside or 0
    for target_id, rule in rules.items():
        conn.execute(update(targets).where(and_(targets.c.id == target_id, targets.c.rule != rule)).values(rule=rule))
    counts.update(_retire(conn, claimed, was))
    return dict(counts)


def _retire(conn: Connection, claimed: set[int], was: dict[int, int | None]) -> Counter:
    """Targets left without sightings: merged into the target that took most of them, or empty (set aside)."""
    counts: Counter[str] = Counter()
    now_of = dict(conn.execute(select(sightings.c.id, sightings.c.target_id)
                               .where(sightings.c.target_id.is_not(None))).all())
    holding = set(now_of.values())
    live = conn.execute(select(targets.c.id).where(targets.c.status.in_(("open", "closed")))).scalars().all()
    for target_id in [t for t in live if t not in claimed and t not in holding]:
        went = Counter(now_of[s] for s, t in was.items() if t == target_id and s in now_of)
        into = went.most_common(1)[0][0] if went else None
        conn.execute(update(targets).where(targets.c.id == target_id).values(
            status="merged" if into else "empty", merged_into=into))
        if into:
            for table in (risk_facts, subscribers):
                conn.execute(update(table).where(table.c.target_id == target_id).values(target_id=into))
        counts["merged" if into else "emptied"] += 1
    return counts


def refresh(db: OpsDatabase, conn: Connection, settings: OpsSettings | None = None) -> dict[str, int]:
    """Place every sighting in an area again (current area data and force areas), then regroup."""
    settings = settings or load_settings(db)
    index = load_index(db, conn)
    rows = conn.execute(select(sightings.c.id, sightings.c.ip, sightings.c.area, sightings.c.in_area)).all()
    areas = index.areas_of([r.ip for r in rows]) if index is not None else [None] * len(rows)
    changed = [{"sid": r.id, "new_area": area, "new_in": settings.is_force_area(area)}
               for r, area in zip(rows, areas) if (area, settings.is_force_area(area)) != (r.area, bool(r.in_area))]
    if changed:
        conn.execute(update(sightings).where(sightings.c.id == bindparam("sid"))
                     .values(area=bindparam("new_area"), in_area=bindparam("new_in")), changed)
    result = {"replaced": len(changed)}
    result.update({f"targets_{k}": v for k, v in regroup(conn, settings).items()})
    return result


# reading

def _sighting(r) -> SightingRow:  # noqa: ANN001 - a row of sightings
    return SightingRow(r.id, r.seen_us, r.ip, r.port, r.network, r.guid, r.hash_kind, r.file_hash, r.file_name,
                       r.file_size, r.category, r.profile, r.hash_sets, r.area, bool(r.in_area), r.share, r.client, r.found_by,
                       r.observer)


def _risk(r) -> RiskFact:  # noqa: ANN001
    return RiskFact(r.id, r.kind, r.points, r.note, r.entered_by, r.entered_at, r.withdrawn_at is not None)


def now_us(now: datetime | None = None) -> int:
    return us_of(now or datetime.now(timezone.utc))


def list_targets(db: OpsDatabase, now: datetime | None = None, statuses: Sequence[str] = ("open",)) -> list[TargetSummary]:
    """Targets in priority order: score (an override where one is set), then the most recently seen."""
    weights = load_settings(db).weights
    with db.engine.connect() as conn:
        rows = conn.execute(select(targets).where(targets.c.status.in_(statuses))).all()
        wanted = [r.id for r in rows]
        seen: dict[int, list[SightingRow]] = defaultdict(list)
        facts: dict[int, list[RiskFact]] = defaultdict(list)
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            for s in conn.execute(select(sightings).where(sightings.c.target_id.in_(part)).order_by(sightings.c.seen_us)):
                seen[s.target_id].append(_sighting(s))
            for f in conn.execute(select(risk_facts).where(risk_facts.c.target_id.in_(part))):
                facts[f.target_id].append(_risk(f))
        operation_of = dict(conn.execute(select(operations.c.target_id, operations.c.id)).all())
    at = now_us(now)
    found = [_summary(r, seen[r.id], facts[r.id], weights, at, operation_of.get(r.id)) for r in rows if seen[r.id]]
    found.sort(key=lambda t: (-t.priority.score, -t.last_seen_us, t.id))
    return found


def _summary(row, seen: list[SightingRow], facts: list[RiskFact], weights, at: int,  # noqa: ANN001
             operation_id: int | None) -> TargetSummary:
    computed, reasons = score(seen, facts, weights, now_us=at)
    priority = Priority(computed, reasons, row.override_score, row.override_note, row.override_by)
    known = {(s.hash_kind, s.file_hash) for s in seen if is_known(s.category, s.profile)}
    return TargetSummary(
        row.id, row.rule, row.status, priority, len(seen), len(known),
        tuple(sorted({s.area for s in seen if s.area})), tuple(sorted({s.ip for s in seen})),
        min(s.seen_us for s in seen), max(s.seen_us for s in seen), operation_id)


def target_detail(db: OpsDatabase, target_id: int, now: datetime | None = None) -> TargetDetail | None:
    weights = load_settings(db).weights
    with db.engine.connect() as conn:
        row = conn.execute(select(targets).where(targets.c.id == target_id)).first()
        if row is None:
            return None
        seen = [_sighting(s) for s in conn.execute(select(sightings).where(sightings.c.target_id == target_id)
                                                   .order_by(sightings.c.seen_us, sightings.c.id))]
        facts = [_risk(f) for f in conn.execute(select(risk_facts).where(risk_facts.c.target_id == target_id)
                                                .order_by(risk_facts.c.id))]
        subs = [Subscriber(s.id, s.isp, s.isp_reference, s.ip, s.seen_us, s.name, s.address, s.entered_by,
                           s.entered_at)
                for s in conn.execute(select(subscribers).where(subscribers.c.target_id == target_id)
                                      .order_by(subscribers.c.id.desc()))]
        merged = tuple(conn.execute(select(targets.c.id).where(targets.c.merged_into == target_id)
                                    .order_by(targets.c.id)).scalars())
        operation_id = conn.execute(select(operations.c.id).where(operations.c.target_id == target_id)).scalar()
    if not seen:
        empty = Priority(0, ())
        summary = TargetSummary(row.id, row.rule, row.status, empty, 0, 0, (), (), 0, 0, operation_id)
    else:
        summary = _summary(row, seen, facts, weights, now_us(now), operation_id)
    return TargetDetail(summary, tuple(seen), _files(seen), tuple(facts), tuple(subs), merged, row.closed_note,
                        row.override_at)


def _files(seen: list[SightingRow]) -> tuple[KnownFile, ...]:
    by_file: dict[tuple[str, str], list[SightingRow]] = defaultdict(list)
    for s in seen:
        by_file[(s.hash_kind, s.file_hash)].append(s)
    found = [KnownFile(kind, digest, tuple(sorted({s.file_name for s in rows if s.file_name})), rows[0].category,
                       rows[0].hash_sets, len(rows), is_known(rows[0].category, rows[0].profile))
             for (kind, digest), rows in by_file.items()]
    found.sort(key=lambda f: (not f.known, f.category or "~", f.hash_kind, f.file_hash))
    return tuple(found)


# what officers add

def _existing(conn: Connection, target_id: int):  # noqa: ANN202
    row = conn.execute(select(targets).where(targets.c.id == target_id)).first()
    if row is None or row.status in ("merged", "empty"):
        raise TargetError(f"no target {target_id}" if row is None else
                          f"target {target_id} was {row.status}" + (f" into {row.merged_into}" if row.merged_into else ""))
    return row


def _text(value: str, what: str, limit: int = 2000, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise TargetError(f"{what} is required")
    if len(value) > limit:
        raise TargetError(f"{what} is at most {limit} characters")
    return value


def add_risk_fact(db: OpsDatabase, target_id: int, *, kind: str, note: str, points: int | None = None,
                  actor: str | None = None) -> int:
    if kind not in RISK_KINDS:
        raise TargetError(f"risk fact kinds are {', '.join(RISK_KINDS)}")
    fixed = RISK_KINDS[kind][1]
    if fixed is None:
        if points is None or not 0 <= points <= OTHER_RISK_MAX:
            raise TargetError(f"an 'other' risk fact needs points from 0 to {OTHER_RISK_MAX}")
    else:
        points = fixed
    note = _text(note, "the note (where the fact comes from)")
    with db.change("risk_fact_added", actor, target=target_id, kind=kind, points=points) as change:
        _existing(change.conn, target_id)
        fact_id = inserted_id(change.conn.execute(risk_facts.insert().values(
            target_id=target_id, kind=kind, points=points, note=note, entered_by=actor or "",
            entered_at=time.time())))
        change.detail["fact"] = fact_id
    return fact_id


def withdraw_risk_fact(db: OpsDatabase, target_id: int, fact_id: int, *, actor: str | None = None) -> None:
    with db.change("risk_fact_withdrawn", actor, target=target_id, fact=fact_id) as change:
        _existing(change.conn, target_id)
        done = change.conn.execute(update(risk_facts).where(and_(
            risk_facts.c.id == fact_id, risk_facts.c.target_id == target_id, risk_facts.c.withdrawn_at.is_(None)))
            .values(withdrawn_by=actor or "", withdrawn_at=time.time())).rowcount
        if not done:
            raise TargetError(f"target {target_id} has no standing risk fact {fact_id}")


def set_override(
    db: OpsDatabase, target_id: int, *, new_score: int | None, note: str, actor: str | None = None,
) -> None:
    """An officer's priority in place of the computed one (None: back to the computed score), with the reason."""
    if new_score is not None and not 0 <= new_score <= 10_000:
        raise TargetError("an overriding score is 0 to 10000")
    note = _text(note, "the reason for the override" if new_score is not None else "the reason for removing it")
    with db.change("priority_overridden" if new_score is not None else "priority_override_removed", actor,
                   target=target_id, score=new_score, note=note) as change:
        row = _existing(change.conn, target_id)
        change.detail["previous"] = row.override_score
        change.conn.execute(update(targets).where(targets.c.id == target_id).values(
            override_score=new_score, override_note=note if new_score is not None else None,
            override_by=actor if new_score is not None else None,
            override_at=time.time() if new_score is not None else None))


def add_subscriber(db: OpsDatabase, target_id: int, *, isp: str, isp_reference: str, ip: str, seen_us: int, name: str,
                   address: str, actor: str | None = None) -> int:
    """Subscriber details from an ISP's answer.  The audit entry names the fields and the SHA-256 of the values,
    not the values: the append-only trail must not keep a person's details for ever."""
    values = {"isp": _text(isp, "the ISP", 200), "isp_reference": _text(isp_reference, "the ISP's reference", 200),
              "name": _text(name, "the subscriber's name", 300), "address": _text(address, "the address", 1000)}
    try:
        values["ip"] = parse_address(ip)
    except RowError as exc:
        raise TargetError(str(exc)) from None
    digest = hashlib.sha256(json.dumps({**values, "seen_us": seen_us}, sort_keys=True).encode()).hexdigest()
    with db.change("subscriber_entered", actor, target=target_id, fields=sorted(values), sha256=digest) as change:
        _existing(change.conn, target_id)
        held = change.conn.execute(select(sightings.c.id).where(and_(
            sightings.c.target_id == target_id, sightings.c.ip == values["ip"], sightings.c.seen_us == seen_us))).first()
        if held is None:
            raise TargetError("the ISP was asked about an address and time this target was not seen at: "
                              "choose one of its sightings")
        new_id = inserted_id(change.conn.execute(subscribers.insert().values(
            target_id=target_id, seen_us=seen_us, entered_by=actor or "", entered_at=time.time(), **values)
        ))
    return new_id


def close_target(db: OpsDatabase, target_id: int, *, note: str, reopen: bool = False, actor: str | None = None) -> None:
    note = _text(note, "the reason")
    with db.change("target_reopened" if reopen else "target_closed", actor, target=target_id, note=note) as change:
        _existing(change.conn, target_id)
        change.conn.execute(update(targets).where(targets.c.id == target_id).values(
            status="open" if reopen else "closed", closed_note=None if reopen else note))
