"""Known torrents, the BitTorrent observer's runs, and what an observed sighting adds.

Revision ID: 0002_torrents
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_torrents"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="export"))
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("share", sa.Float()))
        batch.add_column(sa.Column("client", sa.String(100)))
        batch.add_column(sa.Column("found_by", sa.String(16)))
        batch.add_column(sa.Column("observer", sa.String(60)))
    op.create_table(
        "known_torrents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("infohash_v1", sa.String(40), unique=True),
        sa.Column("infohash_v2", sa.String(64), unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("profile", sa.String(8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("pieces", sa.Integer()),
        sa.Column("trackers", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("imported_at", sa.Float(), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "observer_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("stopped_at", sa.Float()),
        sa.Column("observer", sa.String(60), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("observer_runs")
    op.drop_table("known_torrents")
    with op.batch_alter_table("sightings") as batch:
        for column in ("observer", "found_by", "client", "share"):
            batch.drop_column(column)
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("source")
