"""Alembic environment: uses the engine handed over by `torghut_assets.ledger.migrate`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from torghut_assets.ledger.schema import metadata

config = context.config


def _configured_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no ledger URL: pass an engine or set sqlalchemy.url in the Alembic config")
    return url


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or sa.create_engine(_configured_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
