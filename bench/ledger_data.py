"""Deterministic ledger rows at scale, as DataFrames per table, and a loader for either backend.

`research_chain(runs)` is a run's full artifact chain (candidate, 3 folds, 4 stress cases, the
scheduler's promotion row); `trading(executions, hours)` is decisions, executions (LEAN with some Alpaca
fallbacks, buys and sells that close per session) and their TCA rows spread over `hours` hourly lane
windows. PostgreSQL is loaded with COPY, SQLite with one executemany per table.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import sqlalchemy as sa

from torghut_assets.ledger import schema

START = pd.Timestamp("2026-01-05 14:00:00", tz="UTC")
LANES = np.array(["macd_rsi", "ema_trend"], dtype=object)
SYMBOLS = np.array(["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY"], dtype=object)
STRATEGY_ID = "00000000-0000-4000-8000-000000000001"


def _ids(kind: int, n: int) -> list[str]:
    return [f"{kind:08x}-0000-4000-8000-{i:012x}" for i in range(n)]


def research_chain(runs: int) -> dict[str, pd.DataFrame]:
    g = np.arange(runs)
    lane = LANES[g % 2]
    window_start = START + pd.to_timedelta(g // 2, unit="h")
    run_id = [f"run-{i:012d}" for i in g]
    cand_id = [f"cand-{i:012d}" for i in g]
    created = window_start + pd.Timedelta(hours=1)
    run_frame = pd.DataFrame(
        {
            "id": _ids(1, runs),
            "run_id": run_id,
            "run_kind": "lane_window",
            "status": "passed",
            "lane": lane,
            "window_start": window_start,
            "window_end": created,
            "dataset_version": [f"ds-{i}" for i in g],
            "created_at": created,
        }
    )
    base = {"candidate_id": cand_id, "lane": lane, "window_start": window_start, "created_at": created}
    candidates = pd.DataFrame({"id": _ids(2, runs), "run_id": run_id, **base})
    folds = pd.DataFrame(
        {
            "id": _ids(3, runs * 3),
            **{k: np.repeat(np.asarray(v, dtype=object), 3) for k, v in base.items()},
            "fold_name": np.tile(["fold_1", "fold_2", "fold_3"], runs),
            "fold_order": np.tile([1, 2, 3], runs),
        }
    )
    for col in ("train_start", "train_end", "test_start", "test_end"):
        folds[col] = np.repeat(window_start, 3)
    folds["window_start"] = np.repeat(window_start, 3)
    folds["created_at"] = np.repeat(created, 3)
    cases = ["spread", "volatility", "liquidity", "halt"]
    stress = pd.DataFrame(
        {
            "id": _ids(4, runs * 4),
            **{k: np.repeat(np.asarray(v, dtype=object), 4) for k, v in base.items()},
            "stress_case": np.tile(cases, runs),
        }
    )
    stress["window_start"] = np.repeat(window_start, 4)
    stress["created_at"] = np.repeat(created, 4)
    promotions = pd.DataFrame(
        {
            "id": _ids(5, runs),
            "candidate_id": cand_id,
            "run_id": run_id,
            "approver_role": "autonomous_scheduler",
            "decision_action": "hold",
            "approve_reason": "{}",
            "lane": lane,
            "window_start": window_start,
            "created_at": created,
        }
    )
    return {
        "research_runs": run_frame,
        "research_candidates": candidates,
        "research_fold_metrics": folds,
        "research_stress_metrics": stress,
        "research_promotions": promotions,
    }


def trading(executions: int, hours: int) -> dict[str, pd.DataFrame]:
    """Pairs of buy-then-sell of one symbol in the same window, so every session's round trips close."""
    g = np.arange(executions)
    pair = g // 2
    lane = LANES[pair % 2]
    window_start = START + pd.to_timedelta((pair // 2) % hours, unit="h")
    created = window_start + pd.to_timedelta(g % 3600, unit="s")
    symbol = SYMBOLS[(pair // 4) % len(SYMBOLS)]
    side = np.where(g % 2 == 0, "buy", "sell")
    rng = np.random.default_rng(11)
    price = np.round(100.0 + rng.uniform(-5, 5, size=executions), 4)
    qty = np.repeat(rng.integers(1, 50, size=(executions + 1) // 2), 2)[:executions].astype(float)
    fallback = (pair % 10) == 0
    decision_ids, execution_ids = _ids(6, executions), _ids(7, executions)
    hashes = [f"{i:064x}" for i in g]
    decisions = pd.DataFrame(
        {
            "id": decision_ids,
            "strategy_id": STRATEGY_ID,
            "alpaca_account_label": "paper",
            "symbol": symbol,
            "timeframe": "1Min",
            "decision_json": "{}",
            "decision_hash": hashes,
            "status": "submitted",
            "executed_at": created,
            "lane": lane,
            "window_start": window_start,
            "signal_event_ts": window_start,
            "signal_seq": 0,
            "created_at": created,
        }
    )
    execution_frame = pd.DataFrame(
        {
            "id": execution_ids,
            "trade_decision_id": decision_ids,
            "alpaca_account_label": "paper",
            "alpaca_order_id": [f"order-{i}" for i in g],
            "client_order_id": hashes,
            "symbol": symbol,
            "side": side,
            "order_type": "market",
            "time_in_force": "day",
            "submitted_qty": qty,
            "filled_qty": qty,
            "avg_fill_price": price,
            "fees": np.round(qty * price * 1e-4, 6),
            "status": "filled",
            "execution_expected_adapter": "lean",
            "execution_actual_adapter": np.where(fallback, "alpaca", "lean"),
            "execution_fallback_reason": np.where(fallback, "lean_timeout", None),
            "execution_fallback_count": fallback.astype(int),
            "lane": lane,
            "window_start": window_start,
            "created_at": created,
        }
    )
    shortfall_bps = np.round(rng.normal(1.5, 3.0, size=executions), 6)
    tca = pd.DataFrame(
        {
            "id": _ids(8, executions),
            "execution_id": execution_ids,
            "trade_decision_id": decision_ids,
            "strategy_id": STRATEGY_ID,
            "symbol": symbol,
            "side": side,
            "filled_qty": qty,
            "signed_qty": np.where(side == "buy", qty, -qty),
            "realized_shortfall_bps": shortfall_bps,
            "implementation_shortfall_notional": np.round(shortfall_bps * qty * price / 1e4, 6),
            "lane": lane,
            "window_start": window_start,
            "computed_at": created,
        }
    )
    strategies = pd.DataFrame(
        [{"id": STRATEGY_ID, "name": "bench@1", "strategy_type": "legacy_macd_rsi", "version": "1"}]
    )
    return {
        "strategies": strategies,
        "trade_decisions": decisions,
        "executions": execution_frame,
        "execution_tca_metrics": tca,
    }


def load(engine: sa.Engine, frames: dict[str, pd.DataFrame]) -> None:
    """Insert every frame, in order (parents first), in one transaction."""
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for table, frame in frames.items():
                copy_frame(cursor, table, frame)
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
        return
    with engine.begin() as conn:
        for table, frame in frames.items():
            rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            for row in rows:
                for key, value in row.items():
                    if isinstance(value, pd.Timestamp):
                        row[key] = value.to_pydatetime()
            conn.execute(schema.metadata.tables[table].insert(), rows)


def copy_frame(cursor: object, table: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f%z")
    buffer.seek(0)
    columns = ", ".join(frame.columns)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)  # type: ignore[attr-defined]
