"""The Alembic history builds exactly the schema the code declares, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import current_revision, downgrade, head_revision, upgrade


def test_upgrade_from_empty_reaches_head(empty_ledger_url: str) -> None:
    engine = create_ledger_engine(empty_ledger_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(schema.metadata.tables) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_models_and_migrations_agree(empty_ledger_url: str) -> None:
    engine = create_ledger_engine(empty_ledger_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata
        )
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_removes_every_ledger_table(empty_ledger_url: str) -> None:
    engine = create_ledger_engine(empty_ledger_url)
    upgrade(engine)
    downgrade(engine, "base")
    remaining = set(sa.inspect(engine).get_table_names()) & set(schema.metadata.tables)
    engine.dispose()
    assert remaining == set()


def test_upgrade_is_idempotent(empty_ledger_url: str) -> None:
    engine = create_ledger_engine(empty_ledger_url)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
