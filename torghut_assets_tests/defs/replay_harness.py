"""Replay a lane window through both front doors, `torghut-assets replay` and `replay_job`, and read what
each says: the CLI's exit code and printed lines, the job run's success or its failure's description and
metadata."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest.mock import patch

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.adapters.sql_signal_source import create_ta_signals_table, write_ta_signals
from torghut_assets.cli import main
from torghut_assets.definitions import LANE_WINDOW_ASSETS, market_data_resource
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.replay import replay_job
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.settings import load_settings
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources

LANE = "macd_rsi"
WINDOW = "2026-03-03-15:00"  # OPEN_WINDOW as the CLI and the Launchpad take it
PREVIOUS_SESSION_OPEN = pd.Timestamp("2026-03-02 14:30", tz="UTC")  # Monday: research looks back to it
WINDOW_END = OPEN_WINDOW + pd.Timedelta(hours=1)


def cli_replay(ledger_url: str, artifact_root: Path) -> int:
    """`torghut-assets replay --lane macd_rsi --window 2026-03-03-15:00 --url …`, in the process's
    environment with the pipeline's artifact folder."""
    with patch.dict(os.environ, {"TORGHUT_ARTIFACT_ROOT": str(artifact_root)}):
        return main(["replay", "--lane", LANE, "--window", WINDOW, "--url", ledger_url])


def job_replay(
    ledger_url: str, artifact_root: Path, market_data: MarketDataResource | None = None
) -> dg.ExecuteInProcessResult:
    """`replay_job` as the Launchpad launches it (default market data: the simulator)."""
    return replay_job.execute_in_process(
        run_config={"ops": {"replay_lane_window": {"config": {"lane": LANE, "window": WINDOW}}}},
        resources={
            "ledger": LedgerResource(database_url=ledger_url, artifact_root=str(artifact_root)),
            "market_data": market_data or MarketDataResource(),
            "research_settings": ResearchResource(),
        },
        raise_on_error=False,
    )


def job_failure(result: dg.ExecuteInProcessResult) -> tuple[str, dict[str, Any]]:
    """The description and metadata of the replay run's `dg.Failure`."""
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    user_failure = failure.step_failure_data.user_failure_data
    assert user_failure is not None, "the run failed without a dg.Failure"
    return str(user_failure.description), {k: v.value for k, v in user_failure.metadata.items()}


def materialize_from_settings(ledger_url: str, artifact_root: Path) -> None:
    """The window as the code location runs it: market data from the settings in the environment, its
    secrets handed to Dagster as environment variables."""
    run_resources = {
        **resources(ledger_url, artifact_root),
        "market_data": market_data_resource(load_settings()),
    }
    dg.materialize(
        LANE_WINDOW_ASSETS,
        partition_key=lane_window_key(LANE, OPEN_WINDOW),
        resources=run_resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )


def write_reference_signals(url: str, table: str = "ta_signals") -> pd.DataFrame:
    """What the TA job would have written from Monday's open to the window's end (the simulator's
    signals) into an existing `ta_signals` table; returns the rows written."""
    signals = MarketSimulator().signals(PREVIOUS_SESSION_OPEN, WINDOW_END)
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        write_ta_signals(engine, signals, table)
    finally:
        engine.dispose()
    return signals


def reference_table_in(url: str) -> pd.DataFrame:
    """A PostgreSQL/SQLite copy of `ta_signals` in the database at `url`, holding the reference signals."""
    engine = create_ledger_engine(url)
    try:
        create_ta_signals_table(engine)
    finally:
        engine.dispose()
    return write_reference_signals(url)


def edit_one_signal(url: str, signals: pd.DataFrame, table: str = "ta_signals") -> None:
    """Change the MACD of one stored signal inside the window, as a late correction of the source would."""
    row = signals[signals["event_ts"] >= OPEN_WINDOW].iloc[100]
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        schema, _, name = table.rpartition(".")
        t = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
        key = (t.c.symbol == row["symbol"], t.c.seq == int(row["seq"]), t.c.event_ts == row["event_ts"])
        with engine.begin() as conn:
            changed = conn.execute(t.update().where(*key).values(macd=float(row["macd"]) + 0.25)).rowcount
    finally:
        engine.dispose()
    assert changed == 1, f"{changed} rows matched the signal's key"


def edit_ledger(ledger_url: str, statement: str) -> int:
    """Run one SQL statement on the ledger, as someone with write access would; the rows it changed."""
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.begin() as conn:
            return int(conn.execute(sa.text(statement)).rowcount)
    finally:
        engine.dispose()
