"""A governed ledger per backend, built once per pytest session and copied for each module that uses it.

`build_governed_ledger` (researched lane window, passing parity, fresh drills) takes ~20 s per backend;
a copy takes well under a second: SQLite through the online backup API, PostgreSQL with
`CREATE DATABASE … TEMPLATE`. Each copy has its own root (policy file, artifact directory), so a module
can scan or mutate its copy without seeing another module's writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade
from torghut_assets_tests.defs.governance_harness import GovernedLedger, build_governed_ledger

DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
POLICY_FILE = "gates-live-enabled.toml"

_golden: dict[str, GovernedLedger] = {}


def admin_url() -> str:
    return os.environ.get("TORGHUT_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def _admin() -> sa.Engine:
    return sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")


def _pg_url(database: str) -> str:
    return make_url(admin_url()).set(database=database).render_as_string(hide_password=False)


def _create_pg_database(template: str | None) -> str:
    """A new database copied from `template` (None: an empty one); stale connections to the template
    (ours) are closed first."""
    name = f"torghut_r_{uuid.uuid4().hex[:12]}"
    gc.collect()  # engines of dropped LedgerResources may still hold pooled connections
    admin = _admin()
    try:
        for attempt in range(20):
            with admin.connect() as conn:
                conn.execute(
                    sa.text(
                        "select pg_terminate_backend(pid) from pg_stat_activity "
                        "where datname = :name and pid <> pg_backend_pid()"
                    ),
                    {"name": template},
                )
                try:
                    clause = f' TEMPLATE "{template}"' if template else ""
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
                    return name
                except sa.exc.OperationalError:
                    if attempt == 19:
                        raise
            time.sleep(0.1)
    finally:
        admin.dispose()
    raise AssertionError("unreachable")


@contextlib.contextmanager
def empty_pg_database() -> Iterator[str]:
    """The name of a new, empty (unmigrated) database on the test server."""
    name = _create_pg_database(None)
    try:
        yield name
    finally:
        drop_pg_database(name)


def drop_pg_database(name: str) -> None:
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _build_golden(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, backend: str
) -> GovernedLedger:
    root = factory.mktemp(f"golden-{backend}")
    if backend == "sqlite":
        url = f"sqlite:///{root / 'ledger.sqlite'}"
        engine = create_ledger_engine(url)
        upgrade(engine)
        engine.dispose()
    else:
        name = _create_pg_database(request.getfixturevalue("postgres_template"))
        request.config.add_cleanup(lambda: drop_pg_database(name))
        url = _pg_url(name)
    return build_governed_ledger(url, root)


def fresh_ledger_url(request: pytest.FixtureRequest, directory: Path, backend: str) -> Iterator[str]:
    """Another empty migrated ledger of `backend` (for tests that need two databases)."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / f'ledger-{uuid.uuid4().hex[:8]}.sqlite'}"
        engine = create_ledger_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    name = _create_pg_database(request.getfixturevalue("postgres_template"))
    try:
        yield _pg_url(name)
    finally:
        drop_pg_database(name)


def governed_copy(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory
) -> Iterator[GovernedLedger]:
    """A private copy of the session's governed ledger for `request.param` (use from a module fixture)."""
    backend = str(request.param)
    if backend not in _golden:
        _golden[backend] = _build_golden(request, factory, backend)
    golden = _golden[backend]
    root = factory.mktemp(f"governed-{backend}")
    shutil.copy2(golden.root / POLICY_FILE, root / POLICY_FILE)
    (root / "artifacts").mkdir()
    if backend == "sqlite":
        target = root / "ledger.sqlite"
        source = sqlite3.connect(make_url(golden.url).database or "")
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        yield dataclasses.replace(golden, url=f"sqlite:///{target}", root=root)
        return
    name = _create_pg_database(make_url(golden.url).database or "")
    try:
        yield dataclasses.replace(golden, url=_pg_url(name), root=root)
    finally:
        gc.collect()
        drop_pg_database(name)
