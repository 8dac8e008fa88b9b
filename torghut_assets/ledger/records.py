"""Domain objects → ledger rows. One function per table; ids are uuid5 of natural keys.

`created_at` on lane-window rows is the row's logical time (signal time, submission time, window end),
not the wall clock, so re-materializing a window rewrites byte-identical rows and the 72 h runtime
report reads event time even for backfilled windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from torghut_assets.adapters.paper_broker import PaperFill
from torghut_assets.domain.decisions import TradeDecision
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.signal_frame import SIGNAL_COLUMNS
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.tca import TcaInput, compute_tca
from torghut_assets.ledger.identity import row_id

Row = dict[str, Any]


def strategy_row(spec: StrategySpec, description: str) -> Row:
    return {
        "id": spec.strategy_id,
        "name": f"{spec.name}@{spec.version}",
        "description": description,
        "strategy_type": spec.strategy_type,
        "version": spec.version,
        "enabled": spec.enabled,
        "priority": spec.priority,
        "base_timeframe": spec.base_timeframe,
        "universe_type": "static",
        "params": dict(spec.params),
    }


def signal_rows(window: LaneWindow, frame: pd.DataFrame) -> list[Row]:
    rows: list[Row] = []
    for record in frame[list(SIGNAL_COLUMNS)].to_dict(orient="records"):
        record = {k: (None if pd.isna(v) else v) for k, v in record.items()}
        rows.append(
            {
                **record,
                "id": row_id("signals", window.lane, record["symbol"], record["event_ts"], record["seq"]),
                "lane": window.lane,
                "lane_window_start": window.start,
                "window_start": record["event_ts"] - pd.Timedelta(minutes=1),
                "window_end": record["event_ts"],
                "content_hash": sha256_hex(record),
                "created_at": record["ingest_ts"],
            }
        )
    return rows


def decision_row(window: LaneWindow, decision: TradeDecision, executed_at: pd.Timestamp | None) -> Row:
    digest = decision.decision_hash
    status = decision.status if decision.status == "rejected" or executed_at is None else "submitted"
    return {
        "id": row_id("trade_decisions", decision.account_label, digest),
        "strategy_id": decision.strategy_id,
        "alpaca_account_label": decision.account_label,
        "symbol": decision.symbol,
        "timeframe": decision.timeframe,
        "decision_json": decision.decision_json(),
        "rationale": decision.rationale,
        "decision_hash": digest,
        "status": status,
        "executed_at": executed_at,
        "lane": window.lane,
        "window_start": window.start,
        "signal_event_ts": decision.event_ts,
        "signal_seq": decision.signal_seq,
        "created_at": decision.event_ts,
    }


def execution_rows(
    window: LaneWindow, fills: Iterable[PaperFill], prior_signed_qty: dict[str, float], route: dict[str, Any]
) -> tuple[list[Row], list[Row]]:
    """Execution and TCA rows of the window; `prior_signed_qty` is the session position before it (§7)."""
    executions: list[Row] = []
    tca_rows: list[Row] = []
    position = dict(prior_signed_qty)
    for fill in fills:
        decision = fill.decision
        digest = decision.decision_hash
        execution_id = row_id("executions", decision.account_label, fill.order_id)
        submitted_at = decision.event_ts
        audit = {"route": route, "fill_bar": fill.fill_bar, "decision_hash": digest}
        executions.append(
            {
                "id": execution_id,
                "trade_decision_id": row_id("trade_decisions", decision.account_label, digest),
                "alpaca_account_label": decision.account_label,
                "alpaca_order_id": fill.order_id,
                "client_order_id": digest,
                "symbol": decision.symbol,
                "side": decision.action,
                "order_type": "market",
                "time_in_force": "day",
                "submitted_qty": fill.submitted_qty,
                "filled_qty": fill.filled_qty,
                "avg_fill_price": fill.avg_fill_price,
                "status": fill.status,
                "execution_expected_adapter": route["expected_adapter"],
                "execution_actual_adapter": route["actual_adapter"],
                "execution_fallback_reason": None,
                "execution_fallback_count": 0,
                "execution_correlation_id": f"{window.label()}:{digest[:16]}",
                "execution_idempotency_key": digest,
                "execution_audit_json": audit,
                "raw_order": {
                    "id": fill.order_id,
                    "client_order_id": digest,
                    "symbol": decision.symbol,
                    "side": decision.action,
                    "qty": fill.submitted_qty,
                    "filled_qty": fill.filled_qty,
                    "filled_avg_price": fill.avg_fill_price,
                    "status": fill.status,
                    "arrival_price": decision.price,
                },
                "last_update_at": fill.filled_at or submitted_at,
                "lane": window.lane,
                "window_start": window.start,
                "created_at": submitted_at,
            }
        )
        prior = position.get(decision.symbol, 0.0)
        tca = compute_tca(
            TcaInput(
                side=decision.action,
                arrival_price=decision.price,
                avg_fill_price=fill.avg_fill_price,
                submitted_qty=float(fill.submitted_qty),
                filled_qty=float(fill.filled_qty),
                prior_signed_qty=prior,
                expected_shortfall_bps_p50=fill.expected_shortfall_bps_p50,
                expected_shortfall_bps_p95=fill.expected_shortfall_bps_p95,
            )
        )
        position[decision.symbol] = prior + tca.signed_qty
        computed_at = fill.filled_at or submitted_at
        tca_rows.append(
            {
                "id": row_id("execution_tca_metrics", execution_id),
                "execution_id": execution_id,
                "trade_decision_id": row_id("trade_decisions", decision.account_label, digest),
                "strategy_id": decision.strategy_id,
                "alpaca_account_label": decision.account_label,
                "symbol": decision.symbol,
                "side": decision.action,
                "arrival_price": decision.price,
                "avg_fill_price": fill.avg_fill_price,
                "submitted_qty": fill.submitted_qty,
                "filled_qty": fill.filled_qty,
                "fill_ratio": tca.fill_ratio,
                "signed_qty": tca.signed_qty,
                "slippage_bps": tca.slippage_bps,
                "shortfall_notional": tca.shortfall_notional,
                "realized_shortfall_bps": tca.realized_shortfall_bps,
                "expected_shortfall_bps_p50": fill.expected_shortfall_bps_p50,
                "expected_shortfall_bps_p95": fill.expected_shortfall_bps_p95,
                "simulator_version": route.get("simulator_version"),
                "divergence_bps": tca.divergence_bps,
                "churn_qty": tca.churn_qty,
                "churn_ratio": tca.churn_ratio,
                "expected_adapter": route["expected_adapter"],
                "actual_adapter": route["actual_adapter"],
                "computed_at": computed_at,
                "lane": window.lane,
                "window_start": window.start,
                "created_at": computed_at,
            }
        )
    return executions, tca_rows


class LedgerIntegrityError(RuntimeError):
    """A stored row no longer matches the hash it was written with."""


def decision_from_row(row: dict[str, Any]) -> TradeDecision:
    """Rebuild the decision a ledger row records, refusing rows whose content no longer hashes right."""
    payload = row["decision_json"]
    params = {k: v for k, v in dict(payload["params"]).items() if k not in ("price", "arrival_price")}
    decision = TradeDecision(
        strategy_id=str(payload["strategy_id"]),
        symbol=str(payload["symbol"]),
        event_ts=pd.Timestamp(payload["event_ts"]).tz_convert("UTC"),
        signal_seq=int(row["signal_seq"]),
        timeframe=str(payload["timeframe"]),
        action=str(payload["action"]),
        qty=int(payload["qty"]),
        price=float(payload["params"]["price"]),
        rationale=str(payload.get("rationale") or ""),
        params=params,
        account_label=str(row["alpaca_account_label"]),
        risk_reasons=tuple(payload.get("risk_reasons") or ()),
    )
    if decision.decision_hash != row["decision_hash"]:
        raise LedgerIntegrityError(
            f"trade decision {row['id']} hash mismatch: stored {row['decision_hash']}, "
            f"recomputed {decision.decision_hash}"
        )
    return decision
