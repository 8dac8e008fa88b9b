"""Ledger fixtures: every ledger test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `TORGHUT_TEST_POSTGRES_URL` (default: the machine's server on 127.0.0.1:5432,
database `test`). Each test gets its own database cloned from a migrated template, so tests never see
each other's rows. With `TORGHUT_REQUIRE_POSTGRES=1` (CI) an unreachable server fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade

DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _admin_url() -> str:
    return os.environ.get("TORGHUT_TEST_POSTGRES_URL", DEFAULT_PG_URL)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database; per-test databases are cheap copies of it."""
    admin = sa.create_engine(_admin_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        message = (
            f"PostgreSQL unreachable at {make_url(_admin_url()).render_as_string(hide_password=True)}: {exc}"
        )
        if os.environ.get("TORGHUT_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    name = f"torghut_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    template_engine = create_ledger_engine(make_url(_admin_url()).set(database=name).render_as_string(False))
    upgrade(template_engine)
    template_engine.dispose()
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _postgres_database(template: str | None) -> Iterator[str]:
    admin = sa.create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"torghut_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, unmigrated database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    request.getfixturevalue("postgres_template")  # reachability check (skip/fail) once per session
    yield from _postgres_database(None)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _migrated_ledger(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'ledger.sqlite'}"
        engine = create_ledger_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    yield from _postgres_database(request.getfixturevalue("postgres_template"))


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated ledger database of each backend."""
    yield from _migrated_ledger(request, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_ledger_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated ledger shared by a module's read-only tests (expensive setups run once per backend)."""
    yield from _migrated_ledger(request, tmp_path_factory.mktemp("ledger"))


@pytest.fixture
def ledger_engine(ledger_url: str) -> Iterator[Engine]:
    engine = create_ledger_engine(ledger_url)
    yield engine
    engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the UI tests' screenshots are (xdist workers pass the folder up in `user_properties`)."""
    folders = {
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == "ui_screenshots"
    }
    for folder in sorted(folders):
        terminalreporter.write_line(f"UI screenshots: {folder}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests go first (stable sort, same order on every worker): each module needs minutes of
    a real `dagster dev`, and scheduled last they would leave one worker running them alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("ui") is None)
