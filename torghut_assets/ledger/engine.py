"""Engine construction for the ledger: one place that knows SQLite and PostgreSQL differ."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

LEDGER_FILENAME = "torghut_ledger.sqlite"

# The names the rest of the package uses for the ledger's engine and connections, so code outside the
# ledger can hand them around (a resource opens one, a use case takes one) without naming SQLAlchemy.
LedgerEngine: TypeAlias = Engine
LedgerConnection: TypeAlias = Connection


class LedgerConfigError(ValueError):
    """The ledger URL is unusable; raised before any connection is attempted."""


def default_database_url(dagster_home: str | None = None) -> str:
    """SQLite file under the Dagster home: the embedded default that needs no credentials."""
    home = Path(dagster_home or os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(home / LEDGER_FILENAME).resolve()}"


def create_ledger_engine(url: str) -> Engine:
    """Build an engine whose transactions behave the same way on both databases.

    SQLite gets WAL, foreign keys and `BEGIN IMMEDIATE` so two concurrent runs serialize their writes
    instead of failing with "database is locked" halfway through a partition.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise LedgerConfigError(f"TORGHUT_DATABASE_URL is not a valid SQLAlchemy URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 60})
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "torghut_assets"},
        )
    raise LedgerConfigError(f"unsupported ledger backend {backend!r}: use sqlite or postgresql")


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def describe_engine(engine: Engine) -> dict[str, str]:
    """Which database the ledger is (backend and URL, password hidden), for run metadata."""
    url = engine.url
    return {"backend": url.get_backend_name(), "database": url.render_as_string(hide_password=True)}
