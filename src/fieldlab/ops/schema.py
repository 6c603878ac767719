"""The operations database's tables (SQLAlchemy Core): one definition for SQLite and PostgreSQL.

The tables change only through the Alembic migrations in ``migrations/versions`` (``fieldlab db upgrade``); a test
checks that upgrading an empty database gives exactly these tables.  Accounts, sessions and the audit trail are the
review app's own table definitions, copied into this database, so ``web.accounts`` and ``case.audit.AuditLog``
work on either.

Times of day are microseconds since 1970 UTC (``*_us``: exact, so a sighting's time can be part of its identity)
or seconds (``*_at``, when something was recorded); the dates of an operation are calendar dates.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from fieldlab.case import schema as case_schema

metadata = MetaData()

users = case_schema.users.to_metadata(metadata)  # role: viewer | intelligence | examiner | supervisor
web_sessions = case_schema.web_sessions.to_metadata(metadata)
audit_log = case_schema.audit_log.to_metadata(metadata)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
)

# IP-range data the force supplies (GeoLite2 CSV or CIDR,area), compiled to sorted ranges and kept in chunks
area_sources = Table(
    "area_sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("format", String(16), nullable=False),  # geolite | cidr
    Column("files", Text, nullable=False),  # JSON: [{"name", "sha256"}] of the files imported
    Column("level", String(32)),  # GeoLite: the place level areas are named to
    Column("networks", Integer, nullable=False),  # networks read
    Column("ranges", Integer, nullable=False),  # disjoint ranges after nesting and merging
    Column("names", Text, nullable=False),  # JSON list: area number -> name
    Column("imported_at", Float, nullable=False),
    Column("imported_by", String(200), nullable=False),
)

area_chunks = Table(
    "area_chunks",
    metadata,
    Column("source_id", Integer, ForeignKey("area_sources.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ranges", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),  # zlib: first (16-byte keys), last (16-byte keys), area (uint32 LE)
)

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("file_name", String(255), nullable=False),  # as given: shown escaped, never used as a path
    Column("sha256", String(64), nullable=False),
    Column("layout", Text, nullable=False),  # JSON: field -> column of the file
    Column("zone", String(64)),  # zone given for times written without one
    Column("imported_at", Float, nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("added", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("malformed", Integer, nullable=False),
    Column("set_aside", Integer, nullable=False),  # added, but outside the force's area
    Column("source", String(16), nullable=False, server_default="export"),  # export | observer (one batch of a run)
)

import_problems = Table(
    "import_problems",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
    Column("line", Integer, nullable=False),
    Column("message", Text, nullable=False),
)
Index("ix_import_problems", import_problems.c.import_id, import_problems.c.line)

targets = Table(
    "targets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("rule", Text, nullable=False),  # how its sightings were grouped, in words
    Column("status", String(16), nullable=False),  # open | closed | merged
    Column("merged_into", Integer, ForeignKey("targets.id")),
    Column("closed_note", Text),
    Column("override_score", Integer),  # an officer's priority, with the reason below
    Column("override_note", Text),
    Column("override_by", String(200)),
    Column("override_at", Float),
)

sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
    Column("line", Integer, nullable=False),
    Column("key", String(64), nullable=False, unique=True),  # SHA-256 of network, IP, port, GUID, hash, time
    Column("seen_us", BigInteger, nullable=False),
    Column("ip", String(45), nullable=False),  # canonical text (ipaddress)
    Column("port", Integer),
    Column("network", String(40), nullable=False),
    Column("guid", String(200), nullable=False),  # "" when the export has none
    Column("hash_kind", String(8), nullable=False),  # md5 | sha1 | btih | ed2k
    Column("file_hash", String(64), nullable=False),  # lower-case hex
    Column("file_name", Text, nullable=False),
    Column("file_size", BigInteger),
    Column("category", String(32)),  # the deciding hash set's label; null: not in any set
    Column("profile", String(8)),
    Column("hash_sets", Text),  # versions of the sets that know the file
    Column("area", String(200)),  # null: no range holds the address
    Column("in_area", Boolean, nullable=False, server_default=false()),
    Column("target_id", Integer, ForeignKey("targets.id")),
    # observed by fieldlab's own BitTorrent observer (null for exported sightings)
    Column("share", Float),  # share of the torrent's pieces the peer said it held, 0..1 (null: not told)
    Column("client", String(100)),  # the client name the peer gave
    Column("found_by", String(16)),  # dht | tracker
    Column("observer", String(60)),  # the observer's own address, as the peer saw it
)
Index("ix_sightings_target", sightings.c.target_id)
Index("ix_sightings_ip", sightings.c.ip, sightings.c.seen_us)

risk_facts = Table(
    "risk_facts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("points", Integer, nullable=False),
    Column("note", Text, nullable=False),
    Column("entered_by", String(200), nullable=False),
    Column("entered_at", Float, nullable=False),
    Column("withdrawn_by", String(200)),
    Column("withdrawn_at", Float),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("isp", String(200), nullable=False),
    Column("isp_reference", String(200), nullable=False),
    Column("ip", String(45), nullable=False),
    Column("seen_us", BigInteger, nullable=False),  # the time the ISP was asked about
    Column("name", String(300), nullable=False),
    Column("address", Text, nullable=False),
    Column("entered_by", String(200), nullable=False),
    Column("entered_at", Float, nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False, unique=True),
    Column("reference", String(100), nullable=False),  # the team's own name for it: never public
    Column("created_by", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("warrant_applied_on", Date),
    Column("warrant_granted_on", Date),
    Column("warrant_executed_on", Date),
    Column("arrested_on", Date),
    Column("persons_arrested", Integer, nullable=False, server_default="0"),
    Column("charged_on", Date),
    Column("persons_charged", Integer, nullable=False, server_default="0"),
    Column("first_court_on", Date),
)

seized_devices = Table(
    "seized_devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operation_id", Integer, ForeignKey("operations.id"), nullable=False),
    Column("exhibit_ref", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("case_dir", Text),  # the triage case folder holding the exhibit
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", Float, nullable=False),
)

safeguarding = Table(
    "safeguarding",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operation_id", Integer, ForeignKey("operations.id"), nullable=False),
    Column("on_date", Date, nullable=False),
    Column("children", Integer, nullable=False),  # a count: never a child's identity
    Column("note", Text, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", Float, nullable=False),
)

# torrents known to hold indecent material: an infohash sighting of one of these is of a known file
known_torrents = Table(
    "known_torrents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("infohash_v1", String(40), unique=True),  # SHA-1 of the info dictionary, lower-case hex
    Column("infohash_v2", String(64), unique=True),  # SHA-256 of it (v2 and hybrid torrents)
    Column("name", Text, nullable=False),  # as the torrent or the list names it: shown escaped, never a path
    Column("category", String(32), nullable=False),
    Column("profile", String(8), nullable=False),
    Column("description", Text, nullable=False),
    Column("pieces", Integer),  # null until a .torrent file says
    Column("trackers", Text, nullable=False),  # JSON list of announce URLs
    Column("source", String(16), nullable=False),  # csv | torrent | magnet
    Column("source_name", String(255), nullable=False),
    Column("imported_at", Float, nullable=False),
    Column("imported_by", String(200), nullable=False),
)

# each run of the observer: who started it, how it was set, and what it has done so far
observer_runs = Table(
    "observer_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("started_by", String(200), nullable=False),
    Column("stopped_at", Float),
    Column("observer", String(60), nullable=False),
    Column("config", Text, nullable=False),  # JSON of ObserverConfig
    Column("status", Text, nullable=False),  # JSON of the counters, updated after every batch
)
