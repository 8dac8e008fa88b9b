"""The production instance profile on a real PostgreSQL.

`deploy/dagster.production.yaml` goes into a fresh `DAGSTER_HOME` with `DAGSTER_PG_*` pointing at a fresh
database; one lane window runs through the real job on that instance. Its run, materializations and asset
check results are then read from PostgreSQL's own tables, and through the instance API.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.checks import (
    signals_landed_before_deadline,
    signals_match_ingest_verdict,
)
from torghut_assets.defs.lane_window.jobs import lane_window_job
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade
from torghut_assets_tests.conftest import DEFAULT_PG_URL
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources
from torghut_assets_tests.defs.run_queue_harness import PRODUCTION_PROFILE

pytestmark = pytest.mark.postgres

WINDOW = str(lane_window_key("macd_rsi", OPEN_WINDOW))
LANE_WINDOW_ASSET_KEYS = {asset.key.to_string() for asset in LANE_WINDOW_ASSETS}
# A historical window run now is a backfill of a closed window: the lateness check records it as not judged.
CHECK_OUTCOMES = {"signals_match_ingest_verdict": "SUCCEEDED", "signals_landed_before_deadline": "SUCCEEDED"}


@dataclass(frozen=True)
class ProductionRun:
    instance: dg.DagsterInstance
    run_id: str
    storage: sa.Engine  # a plain connection to Dagster's PostgreSQL database, bypassing Dagster


@pytest.fixture(scope="module")
def dagster_database(request: pytest.FixtureRequest) -> Iterator[URL]:
    """A fresh database for Dagster's run, event and schedule storage, dropped afterwards."""
    request.getfixturevalue("postgres_template")  # skipped (or failed in CI) like every PostgreSQL test
    admin_url = make_url(os.environ.get("TORGHUT_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    name = f"torghut_dagster_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def production_run(
    dagster_database: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProductionRun]:
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PRODUCTION_PROFILE, home / "dagster.yaml")
    ledger_url = f"sqlite:///{home / 'ledger.sqlite'}"
    ledger = create_ledger_engine(ledger_url)
    upgrade(ledger)
    ledger.dispose()
    storage = sa.create_engine(dagster_database)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        env.setenv("DAGSTER_PG_HOST", dagster_database.host or "127.0.0.1")
        env.setenv("DAGSTER_PG_PORT", str(dagster_database.port or 5432))
        env.setenv("DAGSTER_PG_DB", dagster_database.database or "")
        env.setenv("DAGSTER_PG_USER", dagster_database.username or "postgres")
        env.setenv("DAGSTER_PG_PASSWORD", dagster_database.password or "")
        with dg.DagsterInstance.get() as instance:
            job = dg.Definitions(
                assets=LANE_WINDOW_ASSETS,
                asset_checks=[signals_match_ingest_verdict, signals_landed_before_deadline],
                jobs=[lane_window_job],
                resources=resources(ledger_url, Path(home) / "artifacts"),
            ).resolve_job_def("lane_window_job")
            result = job.execute_in_process(partition_key=WINDOW, instance=instance)
            yield ProductionRun(instance, result.run_id, storage)
    storage.dispose()


def _rows(run: ProductionRun, sql: str) -> list[sa.Row[tuple[object, ...]]]:
    with run.storage.connect() as conn:
        return list(conn.execute(sa.text(sql), {"run_id": run.run_id}))


def test_the_run_is_a_successful_row_of_postgresql_runs(production_run: ProductionRun) -> None:
    rows = _rows(production_run, "select pipeline_name, status from runs where run_id = :run_id")
    assert [tuple(row) for row in rows] == [("lane_window_job", "SUCCESS")]


def test_the_run_carries_the_window_and_lane_tags_the_run_queue_limits(production_run: ProductionRun) -> None:
    tags = dict(_rows(production_run, "select key, value from run_tags where run_id = :run_id"))
    assert (tags["dagster/partition"], tags["dagster/partition/lane"]) == (WINDOW, "macd_rsi")


def test_each_lane_window_asset_has_one_materialization_event_in_postgresql(
    production_run: ProductionRun,
) -> None:
    rows = _rows(
        production_run,
        "select asset_key, partition from event_logs "
        "where run_id = :run_id and dagster_event_type = 'ASSET_MATERIALIZATION'",
    )
    assert sorted(asset for asset, _ in rows) == sorted(LANE_WINDOW_ASSET_KEYS)
    assert {partition for _, partition in rows} == {WINDOW}


def test_the_signal_check_results_are_rows_of_postgresql_asset_check_executions(
    production_run: ProductionRun,
) -> None:
    rows = _rows(
        production_run,
        "select check_name, execution_status from asset_check_executions where run_id = :run_id",
    )
    assert dict(rows) == CHECK_OUTCOMES


def test_the_instance_api_reads_back_what_postgresql_holds(production_run: ProductionRun) -> None:
    instance, run_id = production_run.instance, production_run.run_id
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    materialized = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    assert {r.event_log_entry.dagster_event.asset_key.to_string() for r in materialized.records} == (
        LANE_WINDOW_ASSET_KEYS
    )
    outcomes = {}
    for name in CHECK_OUTCOMES:
        key = dg.AssetCheckKey(dg.AssetKey("signals"), name)
        (latest,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
        assert latest.run_id == run_id
        outcomes[name] = latest.status.value
    assert outcomes == CHECK_OUTCOMES
