"""Alembic's environment for the operations database: run by ``fieldlab db upgrade`` with an open connection."""

from alembic import context
from sqlalchemy import create_engine

from fieldlab.ops.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:  # noqa: ANN001 - a SQLAlchemy Connection
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=conn.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # the alembic command line, given sqlalchemy.url
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("alembic: no sqlalchemy.url in its configuration")
    with create_engine(url).begin() as conn:
        run(conn)
