"""A fresh, migrated ledger per benchmark row: a new database on the PostgreSQL server, or a SQLite file."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade

BACKENDS = ("sqlite", "postgresql")
EXECUTIONS = {"quick": (20_000, 40_000, 80_000), "full": (250_000, 500_000, 1_000_000)}


def admin_url() -> str:
    return os.environ.get("TORGHUT_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def create_ledger(backend: str) -> str:
    if backend == "postgresql":
        name = f"torghut_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='torghut-bench-')) / 'ledger.db'}"
    engine = create_ledger_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


def drop_state_ledger(state: dict[str, Any]) -> None:
    """`cleanup` of a workload whose prepared state holds one ledger `url`."""
    drop_ledger(state["url"])


def drop_ledger(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
        return
    admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def loaded_ledger(backend: str, frames: dict[str, pd.DataFrame]) -> str:
    """A fresh migrated ledger holding `frames` (see bench/ledger_data.py); returns its URL."""
    from bench.ledger_data import load

    url = create_ledger(backend)
    engine = create_ledger_engine(url)
    try:
        load(engine, frames)
    finally:
        engine.dispose()
    return url
