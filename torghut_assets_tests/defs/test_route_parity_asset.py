"""The route parity report: exists for the default subset, passes when routes agree, blocks otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.defs.routing.route_parity import route_parity
from torghut_assets.ledger import schema
from torghut_assets.ledger.artifacts import ArtifactStore
from torghut_assets.ledger.engine import create_ledger_engine

TUESDAY_WINDOWS = [pd.Timestamp(f"2026-03-03 {h}:00", tz="UTC") for h in range(14, 21)]


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A SQLite ledger holding a full Tuesday of planned decisions for both lanes."""
    root = tmp_path_factory.mktemp("parity")
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    from torghut_assets.ledger.migrate import upgrade

    engine = create_ledger_engine(url)
    upgrade(engine)
    engine.dispose()
    for lane in ("macd_rsi", "ema_trend"):
        for start in TUESDAY_WINDOWS:
            dg.materialize(
                [signals, trade_decisions],
                partition_key=lane_window_key(lane, start),
                resources=_resources(url, root),
                instance=dg.DagsterInstance.ephemeral(),
            )
    return url, root


def _resources(url: str, root: Path) -> dict[str, Any]:
    return {
        "ledger": LedgerResource(database_url=url, artifact_root=str(root / "artifacts")),
        "market_data": MarketDataResource(),
        "broker": BrokerResource(),
        "trading_session": TradingSessionResource(),
    }


def _parity(url: str, root: Path, **config: Any) -> dg.MaterializeResult:
    result = dg.materialize(
        [route_parity],
        resources=_resources(url, root),
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"route_parity": {"config": config}}},
    )
    return result.asset_materializations_for_node("route_parity")[0]


def _latest_report(url: str) -> dict[str, Any]:
    table = schema.route_parity_reports
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).order_by(table.c.evaluated_at.desc())).mappings().first()
    engine.dispose()
    assert row is not None
    return dict(row)


def test_agreeing_twins_pass_on_the_default_subset(decided: tuple[str, Path]) -> None:
    url, root = decided
    materialization = _parity(url, root)
    report = _latest_report(url)
    assert materialization.metadata["passed"].value is True
    assert report["passed"] and report["pair_count"] >= 20
    assert report["symbols"] == ["AAPL", "MSFT", "SPY"] and report["mode"] == "simulated_twins"
    assert ArtifactStore.verify(report["artifact_ref"])


def test_a_route_whose_slippage_deviates_beyond_three_bps_blocks(decided: tuple[str, Path]) -> None:
    url, root = decided
    _parity(url, root, twin_secondary_extra_cost_bps=5.0)
    report = _latest_report(url)
    assert not report["passed"]
    assert any(r.startswith("parity_slippage_deviation_bps:") for r in report["reasons"])


def test_too_few_pairs_fail_closed(decided: tuple[str, Path]) -> None:
    url, root = decided
    _parity(url, root, symbols=["TSLA"], max_pairs=5)
    report = _latest_report(url)
    assert not report["passed"] and report["reasons"][0].startswith("parity_insufficient_pairs:")
