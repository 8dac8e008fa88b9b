"""Point a lane at another strategy for one test, and read what its lane window run did."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.domain import lanes
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.defs.lane_window_harness import resources


def use_strategy(monkeypatch: pytest.MonkeyPatch, lane: str, ref: str) -> None:
    """The lane trades `ref` (as if the lane catalog said `strategy = "<ref>"`), the others are unchanged."""
    configured = lanes.lane_config

    def lane_config(name: str) -> lanes.LaneConfig:
        config = configured(name)
        return dataclasses.replace(config, strategy_type=ref) if name == lane else config

    monkeypatch.setattr(lanes, "lane_config", lane_config)


def run_window(
    ledger_url: str,
    root: Path,
    lane: str,
    start: pd.Timestamp,
    assets: list[Any] | None = None,
    **overrides: Any,
) -> dg.ExecuteInProcessResult:
    """One lane window run, failures returned rather than raised."""
    return dg.materialize(
        assets or LANE_WINDOW_ASSETS,
        partition_key=lane_window_key(lane, start),
        resources={**resources(ledger_url, root), **overrides},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def failure(result: dg.ExecuteInProcessResult) -> tuple[str, str, dict[str, str]]:
    """(step, description, metadata) of the run's only failed step."""
    (event,) = result.get_step_failure_events()
    data = event.step_failure_data
    assert data.user_failure_data is not None, data.error
    metadata = {k: str(getattr(v, "value", v)) for k, v in data.user_failure_data.metadata.items()}
    return str(event.step_key), str(data.user_failure_data.description), metadata


def lane_rows(ledger_url: str, table: str, lane: str) -> list[dict[str, Any]]:
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            t = schema.metadata.tables[table]
            return [dict(r) for r in conn.execute(sa.select(t).where(t.c.lane == lane)).mappings()]
    finally:
        engine.dispose()
