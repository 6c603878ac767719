"""The operations database: accounts, audit trail, area data, sightings, targets, operations.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("tool_version", sa.String(40), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    _append_only("audit_log")
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "area_sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("level", sa.String(32)),
        sa.Column("networks", sa.Integer(), nullable=False),
        sa.Column("ranges", sa.Integer(), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.Float(), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "area_chunks",
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("area_sources.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("ranges", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("zone", sa.String(64)),
        sa.Column("imported_at", sa.Float(), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("malformed", sa.Integer(), nullable=False),
        sa.Column("set_aside", sa.Integer(), nullable=False),
    )
    op.create_table(
        "import_problems",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("imports.id"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_import_problems", "import_problems", ["import_id", "line"])
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("merged_into", sa.Integer(), sa.ForeignKey("targets.id")),
        sa.Column("closed_note", sa.Text()),
        sa.Column("override_score", sa.Integer()),
        sa.Column("override_note", sa.Text()),
        sa.Column("override_by", sa.String(200)),
        sa.Column("override_at", sa.Float()),
    )
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("imports.id"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("seen_us", sa.BigInteger(), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("port", sa.Integer()),
        sa.Column("network", sa.String(40), nullable=False),
        sa.Column("guid", sa.String(200), nullable=False),
        sa.Column("hash_kind", sa.String(8), nullable=False),
        sa.Column("file_hash", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_size", sa.BigInteger()),
        sa.Column("category", sa.String(32)),
        sa.Column("profile", sa.String(8)),
        sa.Column("hash_sets", sa.Text()),
        sa.Column("area", sa.String(200)),
        sa.Column("in_area", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("target_id", sa.Integer(), sa.ForeignKey("targets.id")),
    )
    op.create_index("ix_sightings_target", "sightings", ["target_id"])
    op.create_index("ix_sightings_ip", "sightings", ["ip", "seen_us"])
    op.create_table(
        "risk_facts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("target_id", sa.Integer(), sa.ForeignKey("targets.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(200), nullable=False),
        sa.Column("entered_at", sa.Float(), nullable=False),
        sa.Column("withdrawn_by", sa.String(200)),
        sa.Column("withdrawn_at", sa.Float()),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("target_id", sa.Integer(), sa.ForeignKey("targets.id"), nullable=False),
        sa.Column("isp", sa.String(200), nullable=False),
        sa.Column("isp_reference", sa.String(200), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("seen_us", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(200), nullable=False),
        sa.Column("entered_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("target_id", sa.Integer(), sa.ForeignKey("targets.id"), nullable=False, unique=True),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("warrant_applied_on", sa.Date()),
        sa.Column("warrant_granted_on", sa.Date()),
        sa.Column("warrant_executed_on", sa.Date()),
        sa.Column("arrested_on", sa.Date()),
        sa.Column("persons_arrested", sa.Integer(), server_default="0", nullable=False),
        sa.Column("charged_on", sa.Date()),
        sa.Column("persons_charged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_court_on", sa.Date()),
    )
    op.create_table(
        "seized_devices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("operation_id", sa.Integer(), sa.ForeignKey("operations.id"), nullable=False),
        sa.Column("exhibit_ref", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("case_dir", sa.Text()),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "safeguarding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("operation_id", sa.Integer(), sa.ForeignKey("operations.id"), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
    )


def _append_only(table: str) -> None:
    """The database itself refuses to change or remove audit entries; the hash chain still catches a bypass."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$")
        op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")


def downgrade() -> None:
    for table in ("safeguarding", "seized_devices", "operations", "subscribers", "risk_facts", "sightings",
                  "targets", "import_problems", "imports", "area_chunks", "area_sources", "settings", "audit_log",
                  "web_sessions", "users"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
