"""What the operations modules hand each other and the web pages: typed records, and UTC times as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

US = 1_000_000
DAY_US = 86_400 * US


def utc_time(us: int) -> str:
    """A sighting's time as an officer and a magistrate read it: UTC, to the second (finer only if recorded)."""
    moment = datetime.fromtimestamp(us // US, timezone.utc).replace(microsecond=us % US)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + " UTC"


def utc_day(us: int) -> str:
    return datetime.fromtimestamp(us // US, timezone.utc).strftime("%Y-%m-%d")


def us_of(moment: datetime) -> int:
    return int(moment.timestamp()) * US + moment.microsecond


@dataclass(frozen=True)
class SightingRow:
    id: int
    seen_us: int
    ip: str
    port: int | None
    network: str
    guid: str
    hash_kind: str
    file_hash: str
    file_name: str
    file_size: int | None
    category: str | None
    profile: str | None
    hash_sets: str | None
    area: str | None
    in_area: bool
    share: float | None = None  # observed by fieldlab's BitTorrent observer: share of pieces the peer held
    client: str | None = None
    found_by: str | None = None
    observer: str | None = None

    @property
    def seen(self) -> str:
        return utc_time(self.seen_us)

    @property
    def observed(self) -> bool:
        return self.observer is not None


@dataclass(frozen=True)
class RiskFact:
    id: int
    kind: str
    points: int
    note: str
    entered_by: str
    entered_at: float
    withdrawn: bool = False


@dataclass(frozen=True)
class Subscriber:
    id: int
    isp: str
    isp_reference: str
    ip: str
    seen_us: int
    name: str
    address: str
    entered_by: str
    entered_at: float

    @property
    def seen(self) -> str:
        return utc_time(self.seen_us)


@dataclass(frozen=True)
class Reason:
    part: str  # volume | severity | recency | persistence | risk
    points: int
    text: str


@dataclass(frozen=True)
class Priority:
    computed: int
    reasons: tuple[Reason, ...]
    override: int | None = None
    override_note: str | None = None
    override_by: str | None = None

    @property
    def score(self) -> int:
        return self.computed if self.override is None else self.override


@dataclass(frozen=True)
class KnownFile:
    """One distinct file a target offered, with what the hash sets say of it."""

    hash_kind: str
    file_hash: str
    names: tuple[str, ...]
    category: str | None
    hash_sets: str | None
    sightings: int
    known: bool  # a hash set calls it indecent, or knows it without a category


@dataclass(frozen=True)
class TargetSummary:
    id: int
    rule: str
    status: str
    priority: Priority
    sightings: int
    known_files: int
    areas: tuple[str, ...]
    addresses: tuple[str, ...]
    first_seen_us: int
    last_seen_us: int
    operation_id: int | None

    @property
    def first_seen(self) -> str:
        return utc_time(self.first_seen_us)

    @property
    def last_seen(self) -> str:
        return utc_time(self.last_seen_us)


@dataclass(frozen=True)
class TargetDetail:
    summary: TargetSummary
    sightings: tuple[SightingRow, ...]
    files: tuple[KnownFile, ...]
    risk_facts: tuple[RiskFact, ...]  # withdrawn ones included, marked
    subscribers: tuple[Subscriber, ...]  # newest first
    merged_from: tuple[int, ...]
    closed_note: str | None
    override_at: float | None


@dataclass(frozen=True)
class SeizedDevice:
    id: int
    exhibit_ref: str
    description: str
    case_dir: str | None
    recorded_by: str


@dataclass(frozen=True)
class Safeguarded:
    id: int
    on_date: date
    children: int
    note: str
    recorded_by: str


@dataclass(frozen=True)
class Operation:
    id: int
    target_id: int
    reference: str
    created_by: str
    dates: dict[str, date | None]  # stage -> date, in pipeline order
    persons_arrested: int
    persons_charged: int
    devices: tuple[SeizedDevice, ...] = ()
    safeguarding: tuple[Safeguarded, ...] = ()

    @property
    def stage(self) -> str:
        """The furthest stage reached."""
        reached = [s for s, d in self.dates.items() if d is not None]
        return reached[-1] if reached else "target"

    @property
    def children_safeguarded(self) -> int:
        return sum(s.children for s in self.safeguarding)
