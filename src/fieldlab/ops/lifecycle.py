"""An operation: what happens to a target from the warrant application to the first court date.

Stages are dated in order (a warrant is granted after it is applied for, a charge follows an arrest) and none lies
in the future.  Seized devices name the triage case folder that holds their exhibit, so the operation shows each
device's charging table.  Children safeguarded are a count and a note: never a child's identity.  The dashboard
counts operations by the furthest stage reached and gives the median days from arrest to charge and to court.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Sequence

from sqlalchemy import func, select, update

from fieldlab.errors import OpsError
from fieldlab.ops.database import OpsDatabase
from fieldlab.ops.models import Operation, Safeguarded, SeizedDevice
from fieldlab.ops.schema import imports, operations, safeguarding, seized_devices, sightings, targets
from fieldlab.sql import inserted_id

STAGES = ("warrant_applied", "warrant_granted", "warrant_executed", "arrested", "charged", "first_court")
STAGE_TITLES = {"target": "target", "warrant_applied": "warrant applied for", "warrant_granted": "warrant granted",
                "warrant_executed": "warrant executed", "arrested": "arrested", "charged": "charged",
                "first_court": "first court date"}
_COLUMNS = {"warrant_applied": "warrant_applied_on", "warrant_granted": "warrant_granted_on",
            "warrant_executed": "warrant_executed_on", "arrested": "arrested_on", "charged": "charged_on",
            "first_court": "first_court_on"}
_PERSONS = {"arrested": "persons_arrested", "charged": "persons_charged"}
# an arrest may come without a warrant, and a charge without an arrest (a postal requisition); the rest in order
_REQUIRES = {"warrant_granted": "warrant_applied", "warrant_executed": "warrant_granted", "first_court": "charged"}


class LifecycleError(OpsError, ValueError):
    """A stage or record cannot be entered as given; the message says why."""


def today() -> date:
    return datetime.now(timezone.utc).date()


def _text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise LifecycleError(f"{what} is required")
    if len(value) > limit:
        raise LifecycleError(f"{what} is at most {limit} characters")
    return value


def start_operation(db: OpsDatabase, target_id: int, reference: str, *, actor: str | None = None) -> int:
    reference = _text(reference, "the operation's reference", 100)
    with db.change("operation_started", actor, target=target_id, reference=reference) as change:
        target = change.conn.execute(select(targets.c.status).where(targets.c.id == target_id)).first()
        if target is None or target.status != "open":
            raise LifecycleError(f"target {target_id} is not an open target")
        if change.conn.execute(select(operations.c.id).where(operations.c.target_id == target_id)).first():
            raise LifecycleError(f"target {target_id} already has an operation")
        operation_id = inserted_id(change.conn.execute(operations.insert().values(
            target_id=target_id, reference=reference, created_by=actor or "", created_at=time.time())
        ))
        change.detail["operation"] = operation_id
    return operation_id


def record_stage(db: OpsDatabase, operation_id: int, stage: str, *, on: date, persons: int = 1,
                 actor: str | None = None, now: date | None = None) -> None:
    """Date ``stage`` (and, for arrests and charges, how many people); stages come in order, none in the future."""
    if stage not in STAGES:
        raise LifecycleError(f"stages are {', '.join(STAGES)}")
    if on > (now or today()):
        raise LifecycleError(f"{STAGE_TITLES[stage]}: {on} is in the future")
    if stage in _PERSONS and not 1 <= persons <= 100:
        raise LifecycleError("the number of people is 1 to 100")
    with db.change("stage_recorded", actor, operation=operation_id, stage=stage, on=on.isoformat(),
                   persons=persons if stage in _PERSONS else None) as change:
        row = change.conn.execute(select(operations).where(operations.c.id == operation_id)).first()
        if row is None:
            raise LifecycleError(f"no operation {operation_id}")
        needed = _REQUIRES.get(stage)
        if needed and getattr(row, _COLUMNS[needed]) is None:
            raise LifecycleError(f"record '{STAGE_TITLES[needed]}' before '{STAGE_TITLES[stage]}'")
        position = STAGES.index(stage)
        for other in STAGES:
            when = getattr(row, _COLUMNS[other])
            if other != stage and when is not None and (when > on if STAGES.index(other) < position else when < on):
                relation = "before" if STAGES.index(other) < position else "after"
                raise LifecycleError(f"'{STAGE_TITLES[stage]}' ({on}) cannot come {relation} "
                                     f"'{STAGE_TITLES[other]}' ({when})")
        change.detail["previous"] = str(getattr(row, _COLUMNS[stage]) or "")
        values: dict[str, object] = {_COLUMNS[stage]: on}
        if stage in _PERSONS:
            values[_PERSONS[stage]] = persons
        change.conn.execute(update(operations).where(operations.c.id == operation_id).values(**values))


def add_device(db: OpsDatabase, operation_id: int, *, exhibit_ref: str, description: str, case_dir: Path | None = None,
               actor: str | None = None) -> int:
    """A seized device, named by its exhibit reference; ``case_dir`` is the triage case that holds that exhibit."""
    exhibit_ref = _text(exhibit_ref, "the exhibit reference", 200)
    description = _text(description, "the description", 1000)
    folder = str(Path(case_dir).expanduser().resolve()) if case_dir is not None else None
    with db.change("device_seized", actor, operation=operation_id, exhibit=exhibit_ref, case=folder) as change:
        if change.conn.execute(select(operations.c.id).where(operations.c.id == operation_id)).first() is None:
            raise LifecycleError(f"no operation {operation_id}")
        device_id = inserted_id(change.conn.execute(seized_devices.insert().values(
            operation_id=operation_id, exhibit_ref=exhibit_ref, description=description, case_dir=folder,
            recorded_by=actor or "", recorded_at=time.time())))
        change.detail["device"] = device_id
    return device_id


def record_safeguarding(db: OpsDatabase, operation_id: int, *, children: int, on: date, note: str,
                        actor: str | None = None, now: date | None = None) -> int:
    """Children safeguarded: how many, when, and a note of what was done (no names, no identities)."""
    if not 0 <= children <= 100:
        raise LifecycleError("the number of children is 0 to 100")
    if on > (now or today()):
        raise LifecycleError(f"{on} is in the future")
    note = _text(note, "the note (what was done: no names)", 2000)
    with db.change("children_safeguarded", actor, operation=operation_id, children=children,
                   on=on.isoformat()) as change:
        if change.conn.execute(select(operations.c.id).where(operations.c.id == operation_id)).first() is None:
            raise LifecycleError(f"no operation {operation_id}")
        return inserted_id(change.conn.execute(safeguarding.insert().values(
            operation_id=operation_id, on_date=on, children=children, note=note, recorded_by=actor or "",
            recorded_at=time.time())))


def _operation(row, devices: Sequence, safeguards: Sequence) -> Operation:  # noqa: ANN001
    return Operation(row.id, row.target_id, row.reference, row.created_by,
                     {s: getattr(row, _COLUMNS[s]) for s in STAGES}, row.persons_arrested, row.persons_charged,
                     tuple(SeizedDevice(d.id, d.exhibit_ref, d.description, d.case_dir, d.recorded_by) for d in devices),
                     tuple(Safeguarded(s.id, s.on_date, s.children, s.note, s.recorded_by) for s in safeguards))


def get_operation(db: OpsDatabase, operation_id: int) -> Operation | None:
    with db.engine.connect() as conn:
        row = conn.execute(select(operations).where(operations.c.id == operation_id)).first()
        if row is None:
            return None
        devices = conn.execute(select(seized_devices).where(seized_devices.c.operation_id == operation_id)
                               .order_by(seized_devices.c.id)).all()
        safeguards = conn.execute(select(safeguarding).where(safeguarding.c.operation_id == operation_id)
                                  .order_by(safeguarding.c.on_date, safeguarding.c.id)).all()
    return _operation(row, devices, safeguards)


def list_operations(db: OpsDatabase) -> list[Operation]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(operations).order_by(operations.c.id)).all()
        devices = conn.execute(select(seized_devices).order_by(seized_devices.c.id)).all()
        safeguards = conn.execute(select(safeguarding).order_by(safeguarding.c.on_date, safeguarding.c.id)).all()
    return [_operation(r, [d for d in devices if d.operation_id == r.id],
                       [s for s in safeguards if s.operation_id == r.id]) for r in rows]


@dataclass(frozen=True)
class CaseCharging:
    """A linked case's charging table, for one device's exhibit: images per category, stills and movies."""

    exhibit_ref: str
    categories: tuple[str, ...]
    rows: tuple[tuple[str, str, dict[str, int]], ...]  # (basis, medium, images per category)


def device_charging(device: SeizedDevice, profile: str = "uk") -> CaseCharging | str:
    """The charging table of the device's exhibit in its case, or what stops it being read."""
    from fieldlab.case.store import CaseError, CaseStore
    from fieldlab.report.charging import BASES, charging_table

    if device.case_dir is None:
        return "no triage case linked"
    try:
        store = CaseStore.open(Path(device.case_dir), create=False)
    except CaseError as exc:
        return str(exc)
    except OSError as exc:
        return f"the case folder cannot be read from here: {exc.strerror}"
    try:
        table = charging_table(store, profile)
    finally:
        store.close()
    if device.exhibit_ref not in table.exhibits:
        return f"the case has no counted images for exhibit {device.exhibit_ref}"
    rows = []
    for basis in BASES:
        for medium in ("still", "movie"):
            counts = {c: table.images(device.exhibit_ref, basis, medium, c) for c in table.categories}
            if any(counts.values()):
                rows.append((basis, medium, counts))
    return CaseCharging(device.exhibit_ref, table.categories, tuple(rows))


@dataclass(frozen=True)
class Dashboard:
    sightings: int
    set_aside: int
    imports: int
    open_targets: int
    pipeline: tuple[tuple[str, int], ...]  # (stage title, operations whose furthest stage it is)
    reached: tuple[tuple[str, int], ...]  # (stage title, operations that reached it)
    persons_arrested: int
    persons_charged: int
    children_safeguarded: int
    median_days_to_charge: float | None
    median_days_to_court: float | None
    charge_samples: int
    court_samples: int


def dashboard(db: OpsDatabase) -> Dashboard:
    found = list_operations(db)
    with db.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(sightings)).scalar_one()
        aside = conn.execute(select(func.count()).select_from(sightings).where(sightings.c.in_area.is_(False))).scalar_one()
        imported = conn.execute(select(func.count()).select_from(imports)).scalar_one()
        actioned = set(conn.execute(select(operations.c.target_id)).scalars())
        open_ids = set(conn.execute(select(targets.c.id).where(targets.c.status == "open")).scalars())
    furthest = {stage: 0 for stage in STAGES}
    reached = {stage: 0 for stage in STAGES}
    for operation in found:
        if operation.stage in furthest:
            furthest[operation.stage] += 1
        for stage, when in operation.dates.items():
            reached[stage] += when is not None
    to_charge = [(o.dates["charged"] - o.dates["arrested"]).days for o in found
                 if o.dates["arrested"] and o.dates["charged"]]
    to_court = [(o.dates["first_court"] - o.dates["arrested"]).days for o in found
                if o.dates["arrested"] and o.dates["first_court"]]
    return Dashboard(
        sightings=total, set_aside=aside, imports=imported, open_targets=len(open_ids - actioned),
        pipeline=(("targets not yet actioned", len(open_ids - actioned)),
                  *((STAGE_TITLES[s], furthest[s]) for s in STAGES)),
        reached=tuple((STAGE_TITLES[s], reached[s]) for s in STAGES),
        persons_arrested=sum(o.persons_arrested for o in found if o.dates["arrested"]),
        persons_charged=sum(o.persons_charged for o in found if o.dates["charged"]),
        children_safeguarded=sum(o.children_safeguarded for o in found),
        median_days_to_charge=statistics.median(to_charge) if to_charge else None,
        median_days_to_court=statistics.median(to_court) if to_court else None,
        charge_samples=len(to_charge), court_samples=len(to_court),
    )
