"""Shared fixtures of the fault-injection suite (see `fault_harness.py` for the plumbing).

- `private_postgres` (per test, running) / `private_postgres_cluster` (the session's, for module-scoped
  fixtures): a throwaway PostgreSQL cluster (initdb in a temp dir, trust auth, a free port on
  127.0.0.1) that tests may stop, crash and restart without disturbing the machine's server. Skipped
  when the server binaries are missing, failed instead with `TORGHUT_REQUIRE_POSTGRES=1` (CI). Always
  stopped and deleted at the end of the session. `private_ledgers.create()` makes migrated ledgers on it.
- `window_artifacts` / `clean_window`: the shared artifact root and the ledger one uninterrupted run of
  the lane window leaves, per backend, to compare recovered ledgers with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from torghut_assets_tests.reliability.fault_harness import (
    CleanWindow,
    PostgresLedgers,
    PostgresUnavailable,
    PrivatePostgres,
)


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("TORGHUT_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def private_postgres_cluster() -> Iterator[PrivatePostgres]:
    """The session's private cluster; tests should use `private_postgres`, which also restarts it."""
    try:
        server = PrivatePostgres.create()
    except PostgresUnavailable as exc:
        _unavailable(f"private PostgreSQL unavailable: {exc}")
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_postgres(private_postgres_cluster: PrivatePostgres) -> PrivatePostgres:
    """The private cluster, running: `.url`, `.database_url(name)`, `.stop(mode)`, `.start()`, `.running`."""
    if not private_postgres_cluster.running:
        private_postgres_cluster.start()
    return private_postgres_cluster


@pytest.fixture(scope="session")
def private_ledgers(private_postgres_cluster: PrivatePostgres) -> PostgresLedgers:
    """Fresh migrated ledgers on the private cluster (`.create()` returns a URL); deleted with it."""
    return private_postgres_cluster.ledgers()


@pytest.fixture(scope="session")
def window_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("window-artifacts")


@pytest.fixture(scope="session")
def clean_window(window_artifacts: Path) -> CleanWindow:
    return CleanWindow(window_artifacts)
