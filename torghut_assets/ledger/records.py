"""Domain objects → ledger rows. One function per table; ids are uuid5 of natural keys.

`created_at` on lane-window rows is the row's logical time (signal time, submission time, window end),
not the wall clock, so re-materializing a window rewrites byte-identical rows and the 72 h runtime
report reads event time even for backfilled windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from torghut_assets.domain.decisions import DecisionStatus, TradeDecision
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.orders import OrderStatus, RoutedOrder, parse_side
from torghut_assets.domain.signal_frame import SIGNAL_COLUMNS
from torghut_assets.domain.signal_quality import AdmittedSignals
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.tca import TcaMetrics
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
    for raw in frame[list(SIGNAL_COLUMNS)].to_dict(orient="records"):
        record: Row = {str(k): (None if pd.isna(v) else v) for k, v in raw.items()}
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


def signal_ingest_row(
    window: LaneWindow,
    admitted: AdmittedSignals,
    *,
    source: str,
    no_signal_reason: str | None,
    no_signal_detail: str | None,
    signal_lag_seconds: float | None,
    market_session_open: bool,
    newest_signal_ts: pd.Timestamp | None,
    dataset_version: str,
) -> Row:
    """The window's ingest verdict: what the source returned, what was admitted, and why it is empty."""
    frame = admitted.frame
    return {
        "id": row_id("signal_ingest_windows", window.lane, window.start),
        "lane": window.lane,
        "window_start": window.start,
        "window_end": window.end,
        "source": source,
        "source_mode": "bounded_window",
        "signals_total": len(frame),
        "rejected_total": admitted.rejected_total,
        "rejected_by_reason": admitted.rejected,
        "symbols_covered": int(frame["symbol"].nunique()),
        "no_signal_reason": no_signal_reason,
        "no_signal_detail": no_signal_detail,
        "signal_lag_seconds": signal_lag_seconds,
        "market_session_open": market_session_open,
        "newest_signal_ts": newest_signal_ts,
        "dataset_version": dataset_version,
        "created_at": window.end,
    }


def decision_row(window: LaneWindow, decision: TradeDecision, executed_at: pd.Timestamp | None) -> Row:
    digest = decision.decision_hash
    status = (
        decision.status
        if decision.status == DecisionStatus.REJECTED or executed_at is None
        else DecisionStatus.SUBMITTED
    )
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
    window: LaneWindow, routed: Iterable[tuple[TradeDecision, RoutedOrder, TcaMetrics]]
) -> tuple[list[Row], list[Row]]:
    """Execution and TCA rows of the window: each routed order with the TCA figures computed for it
    against the session position before it (the churn baseline, docs/routing.md, "Transaction cost
    analysis").

    An order no venue accepted is still a row (status `rejected`, zero fill) carrying its route and the
    failure, so a failed route leaves evidence instead of a gap.
    """
    executions: list[Row] = []
    tca_rows: list[Row] = []
    for decision, order, tca in routed:
        execution = _execution_row(window, decision, order)
        executions.append(execution)
        tca_rows.append(_tca_row(window, decision, order, tca, execution["id"]))
    return executions, tca_rows


def _execution_row(window: LaneWindow, decision: TradeDecision, order: RoutedOrder) -> Row:
    digest = decision.decision_hash
    execution_id = row_id("executions", decision.account_label, digest)
    report = order.report
    route = order.route
    submitted_at = order.request.submitted_at
    arrival = order.request.arrival_price
    filled = float(report.filled_qty) if report else 0.0
    avg_price = report.avg_fill_price if report else None
    raw = dict(report.raw) if report else {}
    return {
        "id": execution_id,
        "trade_decision_id": row_id("trade_decisions", decision.account_label, digest),
        "alpaca_account_label": decision.account_label,
        "alpaca_order_id": report.order_id if report else f"unplaced-{digest[:32]}",
        "client_order_id": digest,
        "symbol": decision.symbol,
        "side": decision.action,
        "order_type": order.request.order_type,
        "time_in_force": order.request.time_in_force,
        "submitted_qty": order.request.qty,
        "filled_qty": filled,
        "avg_fill_price": avg_price,
        "fees": report.fees if report else 0.0,
        "status": report.status if report else OrderStatus.REJECTED,
        "execution_expected_adapter": route.expected_adapter,
        "execution_actual_adapter": route.actual_adapter,
        "execution_fallback_reason": route.fallback_reason,
        "execution_fallback_count": route.fallback_count,
        "execution_correlation_id": order.request.correlation_id,
        "execution_idempotency_key": digest,
        "execution_audit_json": {
            "route": order.raw_route_payload(),
            "failure_reason": order.failure_reason,
            "decision_hash": digest,
        },
        "raw_order": {
            **raw,
            "route": order.raw_route_payload(),
            "arrival_price": arrival,
            "submitted_at": submitted_at.isoformat(),
        },
        "last_update_at": (report.filled_at if report else None) or submitted_at,
        "lane": window.lane,
        "window_start": window.start,
        "created_at": submitted_at,
    }


def _tca_row(
    window: LaneWindow, decision: TradeDecision, order: RoutedOrder, tca: TcaMetrics, execution_id: str
) -> Row:
    digest = decision.decision_hash
    report = order.report
    route = order.route
    submitted_at = order.request.submitted_at
    arrival = order.request.arrival_price
    filled = float(report.filled_qty) if report else 0.0
    avg_price = report.avg_fill_price if report else None
    raw = dict(report.raw) if report else {}
    computed_at = (report.filled_at if report else None) or submitted_at
    return {
        "id": row_id("execution_tca_metrics", execution_id),
        "execution_id": execution_id,
        "trade_decision_id": row_id("trade_decisions", decision.account_label, digest),
        "strategy_id": decision.strategy_id,
        "alpaca_account_label": decision.account_label,
        "symbol": decision.symbol,
        "side": decision.action,
        "arrival_price": arrival,
        "avg_fill_price": avg_price,
        "submitted_qty": order.request.qty,
        "filled_qty": filled,
        "fill_ratio": tca.fill_ratio,
        "signed_qty": tca.signed_qty,
        "slippage_bps": tca.slippage_bps,
        "shortfall_notional": tca.shortfall_notional,
        "realized_shortfall_bps": tca.realized_shortfall_bps,
        "expected_shortfall_bps_p50": raw.get("expected_shortfall_bps_p50"),
        "expected_shortfall_bps_p95": raw.get("expected_shortfall_bps_p95"),
        "simulator_version": raw.get("simulator_version"),
        "divergence_bps": tca.divergence_bps,
        "churn_qty": tca.churn_qty,
        "churn_ratio": tca.churn_ratio,
        "decision_price": decision.price,
        "market_arrival_price": raw.get("market_arrival_price") or arrival,
        "delay_cost_notional": tca.delay_cost_notional,
        "impact_cost_notional": tca.impact_cost_notional,
        "fees_notional": tca.fees_notional,
        "implementation_shortfall_notional": tca.implementation_shortfall_notional,
        "expected_adapter": route.expected_adapter,
        "actual_adapter": route.actual_adapter,
        "computed_at": computed_at,
        "lane": window.lane,
        "window_start": window.start,
        "created_at": computed_at,
    }


class LedgerIntegrityError(RuntimeError):
    """A stored row no longer matches the hash it was written with."""


def decision_from_row(row: dict[str, Any]) -> TradeDecision:
    """Rebuild the decision a ledger row records, refusing rows whose content no longer hashes right."""
    payload = row["decision_json"]
    params = {k: v for k, v in dict(payload["params"]).items() if k not in ("price", "arrival_price")}
    catalog = payload.get("lane_catalog") or {}  # absent on rows written before the lane catalog
    decision = TradeDecision(
        strategy_id=str(payload["strategy_id"]),
        symbol=str(payload["symbol"]),
        event_ts=pd.Timestamp(payload["event_ts"]).tz_convert("UTC"),
        signal_seq=int(row["signal_seq"]),
        timeframe=str(payload["timeframe"]),
        action=parse_side(payload["action"]),
        qty=int(payload["qty"]),
        price=float(payload["params"]["price"]),
        rationale=str(payload.get("rationale") or ""),
        params=params,
        account_label=str(row["alpaca_account_label"]),
        risk_reasons=tuple(payload.get("risk_reasons") or ()),
        account_in_hash=bool(catalog.get("multi_account", True)),
        lane_catalog_checksum=catalog.get("checksum"),
    )
    if decision.decision_hash != row["decision_hash"]:
        raise LedgerIntegrityError(
            f"trade decision {row['id']} hash mismatch: stored {row['decision_hash']}, "
            f"recomputed {decision.decision_hash}"
        )
    return decision
