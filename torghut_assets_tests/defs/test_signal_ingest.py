"""Signal ingest through the real assets: every empty window is classified, bad rows are counted, and a
failing source latches the continuity alert that blocks live promotion."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.adapters.sql_signal_source import create_ta_signals_table, write_ta_signals
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.continuity import ContinuityConfig, ContinuityState, live_promotion_block
from torghut_assets.ledger import schema
from torghut_assets.ledger.continuity_store import load_state, save_state
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.continuity import evaluate_lane
from torghut_assets_tests.defs.lane_window_harness import materialize_window

MONDAY_PREOPEN = pd.Timestamp("2026-03-02 13:00", tz="UTC")  # 08:00 New York
MONDAY_OPENING = pd.Timestamp("2026-03-02 14:00", tz="UTC")  # 09:00–10:00 New York, opens 09:30
TUESDAY = pd.Timestamp("2026-03-03 15:00", tz="UTC")


def _verdict(url: str, lane: str = "macd_rsi") -> dict[str, object]:
    table = schema.signal_ingest_windows
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        query = sa.select(table).where(table.c.lane == lane).order_by(table.c.window_start.desc())
        row = conn.execute(query).mappings().first()
    engine.dispose()
    assert row is not None
    return dict(row)


def _materialize_signals(url: str, tmp_path: Path, market_data: MarketDataResource, start: pd.Timestamp):
    return dg.materialize(
        [signals],
        partition_key=lane_window_key("macd_rsi", start),
        resources={
            "ledger": LedgerResource(database_url=url, artifact_root=str(tmp_path)),
            "market_data": market_data,
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
        selection=[signals],
    )


def test_closed_window_is_skipped_and_the_opening_window_is_a_normal_run(
    ledger_url: str, tmp_path: Path
) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", MONDAY_PREOPEN)
    materialize_window(ledger_url, tmp_path, "macd_rsi", MONDAY_OPENING)
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        runs = conn.execute(
            sa.text("select window_start, status, no_signal_reason from research_runs order by window_start")
        ).all()
    engine.dispose()
    assert [(r[1], r[2]) for r in runs] == [("skipped", "market_closed"), ("passed", None)]


def test_unreachable_source_yields_a_classified_empty_window_not_a_crash(
    ledger_url: str, tmp_path: Path
) -> None:
    dead = MarketDataResource(source="sql", sql_url="postgresql+psycopg2://postgres@127.0.0.1:1/none")
    result = _materialize_signals(ledger_url, tmp_path, dead, TUESDAY)
    assert result.success
    verdict = _verdict(ledger_url)
    assert (verdict["signals_total"], verdict["no_signal_reason"]) == (0, "source_unavailable")


def test_corrupt_source_rows_are_counted_and_never_stored(ledger_url: str, tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'ta.sqlite'}"
    engine = create_ledger_engine(source_url)
    create_ta_signals_table(engine)
    rows = MarketSimulator().signals(TUESDAY, TUESDAY + pd.Timedelta(hours=1))
    corrupt = rows.copy()
    corrupt.loc[corrupt.index[:3], "price"] = -5.0
    corrupt.loc[corrupt.index[3], "symbol"] = "ZZZZ"
    write_ta_signals(engine, pd.concat([corrupt, rows.iloc[[10]]], ignore_index=True))
    engine.dispose()
    result = _materialize_signals(
        ledger_url, tmp_path, MarketDataResource(source="sql", sql_url=source_url), TUESDAY
    )
    metadata = result.asset_materializations_for_node("signals")[0].metadata
    verdict = _verdict(ledger_url)
    assert verdict["rejected_by_reason"] == {"invalid_price": 3, "unknown_symbol": 1, "duplicate_signal": 1}
    assert verdict["signals_total"] == len(rows) - 4
    assert metadata["rejected_total"].value == 5
    # every row stored for the window is accounted for: the duplicate is a second stored version
    assert metadata["source_rows"].value == len(rows) + 1 == verdict["signals_total"] + 5
    assert metadata["source_superseded_versions"].value == 1
    assert f"{len(rows) + 1} rows read = {len(rows) - 4} admitted + 5 rejected" in metadata["summary"].value


def test_a_failing_source_latches_the_alert_and_blocks_live_promotion(
    ledger_url: str, tmp_path: Path
) -> None:
    dead = MarketDataResource(source="sql", sql_url="postgresql+psycopg2://postgres@127.0.0.1:1/none")
    for hour in (15, 16):
        _materialize_signals(ledger_url, tmp_path, dead, pd.Timestamp(f"2026-03-03 {hour}:00", tz="UTC"))
    ledger = LedgerResource(database_url=ledger_url, artifact_root=str(tmp_path))
    healthy_through_14h = ContinuityState(
        lane="macd_rsi", last_window_start=pd.Timestamp("2026-03-03 14:00", tz="UTC")
    )
    with ledger.transaction() as conn:
        save_state(conn, healthy_through_14h, [], pd.Timestamp("2026-03-03 14:30", tz="UTC").to_pydatetime())
    _, events = evaluate_lane(
        ledger, "macd_rsi", pd.Timestamp("2026-03-03 17:30", tz="UTC"), ContinuityConfig()
    )
    assert "latched" in [e["transition"] for e in events]
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        stored = load_state(conn, "macd_rsi")
    engine.dispose()
    assert stored is not None and stored.alert_active and stored.alert_reason == "source_unavailable"
    assert live_promotion_block(stored) == "signal_continuity_alert_active"


def test_an_empty_authoritative_universe_blocks_the_window(ledger_url: str, tmp_path: Path) -> None:
    no_url = MarketDataResource(universe_source="jangar", jangar_url=None)
    assert _materialize_signals(ledger_url, tmp_path, no_url, TUESDAY).success
    verdict = _verdict(ledger_url)
    assert (verdict["signals_total"], verdict["no_signal_reason"]) == (0, "universe_source_unavailable")
