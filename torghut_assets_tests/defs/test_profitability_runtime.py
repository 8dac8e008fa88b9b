"""`profitability_runtime` on a hand-built ledger: every figure equals the hand computation."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from torghut_assets.defs.governance.profitability import profitability_runtime
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.profitability import CAVEAT_EMPTY, decimal_text, nearest_rank
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.profitability import build_payload

UTC = dt.UTC
AS_OF = dt.datetime(2026, 3, 6, 18, 0, tzinfo=UTC)
S1 = "00000000-0000-0000-0000-0000000000a1"
S2 = "00000000-0000-0000-0000-0000000000b2"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _decision(
    strategy: str, symbol: str, status: str, created: dt.datetime, executed: dt.datetime | None
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "strategy_id": strategy,
        "symbol": symbol,
        "timeframe": "1Min",
        "decision_json": {"action": "buy"},
        "decision_hash": uuid.uuid4().hex,
        "status": status,
        "executed_at": executed,
        "lane": "macd_rsi",
        "window_start": created - dt.timedelta(hours=1),
        "signal_event_ts": created - dt.timedelta(minutes=30),
        "signal_seq": 1,
        "created_at": created,
    }


def _execution(
    lane: str,
    symbol: str,
    side: str,
    qty: float,
    price: float,
    created: dt.datetime,
    *,
    expected: str,
    actual: str,
    fallback: str | None = None,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "alpaca_account_label": "paper",
        "alpaca_order_id": uuid.uuid4().hex,
        "symbol": symbol,
        "side": side,
        "order_type": "market",
        "time_in_force": "day",
        "submitted_qty": qty,
        "filled_qty": qty,
        "avg_fill_price": price,
        "fees": 0.0,
        "status": "filled",
        "execution_expected_adapter": expected,
        "execution_actual_adapter": actual,
        "execution_fallback_reason": fallback,
        "execution_fallback_count": 1 if fallback else 0,
        "lane": lane,
        "window_start": created - dt.timedelta(hours=1),
        "created_at": created,
    }


def _tca(execution: dict[str, Any], shortfall: float, bps: float) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "execution_id": execution["id"],
        "symbol": execution["symbol"],
        "side": execution["side"],
        "filled_qty": execution["filled_qty"],
        "implementation_shortfall_notional": shortfall,
        "realized_shortfall_bps": bps,
        "computed_at": execution["created_at"],
        "lane": execution["lane"],
        "window_start": execution["window_start"],
        "created_at": execution["created_at"],
    }


@pytest.fixture
def fixture_ledger(ledger_url: str) -> Iterator[str]:
    x1 = _execution("macd_rsi", "AAPL", "buy", 10, 100.0, at(5, 16), expected="lean", actual="lean")
    x2 = _execution(
        "macd_rsi",
        "AAPL",
        "sell",
        10,
        101.0,
        at(5, 17),
        expected="LEAN",
        actual="alpaca",
        fallback="lean_submit_timeout",
    )
    x3 = _execution("ema_trend", "MSFT", "buy", 5, 200.0, at(6, 15), expected="alpaca", actual="alpaca")
    old = _execution("macd_rsi", "AAPL", "buy", 1, 99.0, at(2, 16), expected="lean", actual="lean")
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        for sid, name in ((S1, "macd_rsi@1"), (S2, "ema_trend@1")):
            conn.execute(
                schema.strategies.insert().values(id=sid, name=name, strategy_type=name[:-2], version="1")
            )
        conn.execute(
            schema.trade_decisions.insert(),
            [
                _decision(S1, "AAPL", "submitted", at(5, 16), at(5, 15, 10)),
                _decision(S1, "AAPL", "rejected", at(5, 16), None),
                _decision(S2, "MSFT", "submitted", at(6, 15), at(6, 14, 30)),
                _decision(S1, "AAPL", "submitted", at(2, 16), at(2, 15, 5)),
            ],
        )
        conn.execute(schema.executions.insert(), [x1, x2, x3, old])
        conn.execute(
            schema.execution_tca_metrics.insert(),
            [_tca(x1, 1.5, 15.0), _tca(x2, 2.5, 24.75), _tca(x3, -0.5, -5.0), _tca(old, 9.0, 90.0)],
        )
        gate_id = str(uuid.uuid4())
        conn.execute(
            schema.gate_evaluations.insert().values(
                id=gate_id,
                run_id="run-1",
                candidate_id="cand-1",
                lane="macd_rsi",
                window_start=at(5, 15),
                policy_version="v3",
                policy_checksum="c" * 64,
                promotion_target="paper",
                promotion_allowed=True,
                recommended_mode="paper",
                gates=[{"gate_id": "gate6_profitability_evidence", "status": "pass", "reasons": []}],
                reasons=[],
                report_json={"policy_checksum": "c" * 64},
                evaluated_at=at(6, 12),
                gate_report_trace_id="t" * 24,
            )
        )
        common = {
            "lane": "macd_rsi",
            "window_start": at(5, 15),
            "run_id": "run-1",
            "gate_evaluation_id": gate_id,
        }
        conn.execute(
            schema.research_promotions.insert(),
            [
                {
                    **common,
                    "id": str(uuid.uuid4()),
                    "candidate_id": "cand-1",
                    "requested_mode": "live_l1",
                    "approved_mode": None,
                    "decision_action": "deny",
                    "approve_reason": None,
                    "deny_reason": '{"reason_codes":["signal_continuity_alert_latched"]}',
                    "evidence_bundle": None,
                    "created_at": at(6, 11),
                },
                {
                    **common,
                    "id": str(uuid.uuid4()),
                    "candidate_id": "cand-1",
                    "requested_mode": "paper",
                    "approved_mode": "paper",
                    "decision_action": "promote",
                    "approve_reason": "{}",
                    "deny_reason": None,
                    "evidence_bundle": {"artifacts": {"gate_evaluation": "gates/gate-evaluation/x.json"}},
                    "created_at": at(6, 12),
                },
            ],
        )
        conn.execute(
            schema.rollback_incidents.insert().values(
                id=str(uuid.uuid4()),
                triggered_at=at(6, 13),
                reasons=["drift", "performance_cost_bps_exceeded"],
                verification={"incident_evidence_complete": True},
                evidence_hash="e" * 64,
                trigger="drift",
            )
        )
    engine.dispose()
    yield ledger_url


def _payload(url: str, as_of: dt.datetime = AS_OF) -> dict[str, Any]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return build_payload(conn, as_of)
    finally:
        engine.dispose()


def test_the_window_is_the_72_hours_before_the_evaluation_time(fixture_ledger: str) -> None:
    window = _payload(fixture_ledger)["window"]
    assert (window["start"], window["end"]) == ("2026-03-03T18:00:00Z", "2026-03-06T18:00:00Z")
    assert (window["decision_count"], window["execution_count"], window["tca_sample_count"]) == (3, 3, 3)
    assert window["empty"] is False


def test_decisions_are_grouped_by_strategy_and_symbol(fixture_ledger: str) -> None:
    groups = _payload(fixture_ledger)["decisions_by_symbol_strategy"]
    assert [(g["strategy_name"], g["symbol"], g["decision_count"], g["executed_count"]) for g in groups] == [
        ("macd_rsi@1", "AAPL", 2, 1),
        ("ema_trend@1", "MSFT", 1, 1),
    ]
    assert groups[0]["status_counts"] == {"rejected": 1, "submitted": 1}
    assert groups[0]["last_executed_at"] == "2026-03-05T15:10:00Z"


def test_executions_are_grouped_by_adapter_transition_with_fallback_attribution(fixture_ledger: str) -> None:
    executions = _payload(fixture_ledger)["executions"]
    rows = [
        (a["expected_adapter"], a["actual_adapter"], a["execution_count"], a["fallback_execution_count"])
        for a in executions["by_adapter"]
    ]
    assert rows == [("alpaca", "alpaca", 1, 0), ("lean", "alpaca", 1, 1), ("lean", "lean", 1, 0)]
    assert executions["by_adapter"][1]["fallback_reason_counts"] == {"lean_submit_timeout": 1}
    assert executions["fallback_reason_totals"] == {"lean_submit_timeout": 1}


def test_the_pnl_proxy_is_minus_the_shortfall_with_nearest_rank_excursions(fixture_ledger: str) -> None:
    pnl = _payload(fixture_ledger)["realized_pnl_summary"]
    assert pnl["shortfall_notional_total"] == "3.5"
    assert pnl["realized_pnl_proxy_notional"] == "-3.5"
    assert pnl["avg_realized_shortfall_bps"] == "11.58333333"
    assert (pnl["adverse_excursion_proxy_bps_p95"], pnl["adverse_excursion_proxy_bps_max"]) == (
        "24.75",
        "24.75",
    )
    assert pnl["by_symbol"] == [
        {"symbol": "AAPL", "samples": 2, "shortfall_notional_total": "4"},
        {"symbol": "MSFT", "samples": 1, "shortfall_notional_total": "-0.5"},
    ]


def test_closed_round_trips_give_the_realized_pnl_per_lane(fixture_ledger: str) -> None:
    assert _payload(fixture_ledger)["closed_trade_pnl_by_lane"] == {"ema_trend": None, "macd_rsi": "10"}


def test_gate_promotion_and_rollback_are_attributed(fixture_ledger: str) -> None:
    attribution = _payload(fixture_ledger)["gate_rollback_attribution"]
    assert attribution["gate6_result"] == {"status": "pass", "reasons": []}
    assert attribution["recommended_mode"] == "paper"
    assert attribution["promotion_decision"]["decision_action"] == "promote"
    assert attribution["profitability_artifacts"] == {"gate_evaluation": "gates/gate-evaluation/x.json"}
    rollback = attribution["rollback"]
    assert (rollback["incidents_total"], rollback["reason"], rollback["evidence_complete"]) == (
        1,
        "drift",
        True,
    )
    assert rollback["signal_continuity_promotion_block_total"] == 1


def test_an_empty_window_says_so_and_claims_nothing(fixture_ledger: str) -> None:
    payload = _payload(fixture_ledger, dt.datetime(2026, 1, 10, tzinfo=UTC))
    assert payload["window"]["empty"] is True
    assert CAVEAT_EMPTY in payload["caveats"]
    assert payload["realized_pnl_summary"]["adverse_excursion_proxy_bps_p95"] is None


def _materialize(url: str, root: Path, as_of: dt.datetime = AS_OF, base_url: str | None = None) -> Any:
    ledger = LedgerResource(database_url=url, artifact_root=str(root), artifact_base_url=base_url)
    result = dg.materialize(
        [profitability_runtime],
        resources={"ledger": ledger},
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"profitability_runtime": {"config": {"as_of": as_of.isoformat()}}}},
    )
    return result.asset_materializations_for_node("profitability_runtime")[0].metadata


def test_the_closed_trades_section_adds_up_to_the_lane_pnl(fixture_ledger: str) -> None:
    closed = _payload(fixture_ledger)["closed_trades"]
    assert (closed["evidenced"], closed["round_trips"], closed["net_pnl"]) == (True, 1, "10")
    assert [(r["lane"], r["symbol"], r["round_trips"], r["net_pnl"]) for r in closed["by_lane_symbol"]] == [
        ("macd_rsi", "AAPL", 1, "10")
    ]
    assert [p["cumulative_net_pnl"] for p in closed["equity_curve"]] == ["10"]


def test_the_report_leads_with_closed_trade_pnl_then_the_cost_proxy(
    fixture_ledger: str, tmp_path: Path
) -> None:
    metadata = _materialize(fixture_ledger, tmp_path)
    keys = list(metadata)
    assert keys[:3] == ["headline", "closed_trades", "equity_curve"]
    assert (
        keys.index("equity_curve")
        < keys.index("cost_proxy")
        < keys.index("attribution")
        < keys.index("caveats")
    )
    assert (
        metadata["headline"].value
        == "closed-trade net PnL +$10.00 over 1 round trip (72 h to 2026-03-06T18:00:00Z)"
    )
    rows = [r.data for r in metadata["closed_trades"].value.records]
    assert rows == [
        {
            "lane": "macd_rsi",
            "symbol": "AAPL",
            "round_trips": 1,
            "winning": 1,
            "executions": 2,
            "net_pnl_usd": 10.0,
        }
    ]
    assert metadata["closed_trade_net_pnl_usd"].value == 10.0


def test_without_closed_trades_the_pnl_is_not_evidenced_rather_than_zero(
    fixture_ledger: str, tmp_path: Path
) -> None:
    metadata = _materialize(fixture_ledger, tmp_path, dt.datetime(2026, 1, 10, tzinfo=UTC))
    assert metadata["headline"].value.startswith("no closed trades in the window: PnL is not evidenced")
    assert metadata["closed_trade_net_pnl_usd"].value == "not evidenced"
    assert metadata["closed_trades"].value.records == []
    assert "no_closed_trades_pnl_not_evidenced" in str(metadata["caveats"].value)


def test_the_equity_curve_is_a_png_artifact_drawn_inline_when_the_root_is_served(
    fixture_ledger: str, tmp_path: Path
) -> None:
    metadata = _materialize(fixture_ledger, tmp_path, base_url="http://artifacts.test/")
    markdown = str(metadata["equity_curve"].value)
    assert markdown.startswith("![cumulative closed-trade net PnL](http://artifacts.test/")
    relative = markdown.split("http://artifacts.test/", 1)[1].rstrip(")")
    assert relative.startswith("gates/runtime-profitability-equity-curve/")
    assert (tmp_path / relative).read_bytes()[:4] == b"\x89PNG"
    assert str(metadata["cost_proxy_plot"].value).startswith("![TCA cost proxy")
    assert str(metadata["report"].value).startswith("http://artifacts.test/gates/runtime-profitability/")


def test_without_a_served_root_the_plots_are_named_by_relative_path_and_digest(
    fixture_ledger: str, tmp_path: Path
) -> None:
    metadata = _materialize(fixture_ledger, tmp_path)
    text = str(metadata["equity_curve"].value)
    assert text.startswith("gates/runtime-profitability-equity-curve/") and "sha256" in text
    assert "data:image" not in "".join(str(v.value) for v in metadata.values())
    assert metadata["payload"].value["closed_trades"]["round_trips"] == 1


def test_the_report_says_when_it_was_read_and_where_the_present_is(
    fixture_ledger: str, tmp_path: Path
) -> None:
    metadata = _materialize(fixture_ledger, tmp_path)
    assert metadata["snapshot_note"].value.startswith("snapshot of ")
    assert "signal_continuity" in metadata["snapshot_note"].value
    assert dt.datetime.fromisoformat(metadata["snapshot_at"].value).tzinfo is not None


def test_nearest_rank_and_decimal_text() -> None:
    assert nearest_rank([5.0, 1.0, 3.0, 2.0, 4.0], 95) == 5.0
    assert nearest_rank([], 95) is None
    assert [decimal_text(v) for v in (12.5, -0.0, 3.0, 1e-12, float("nan"))] == ["12.5", "0", "3", "0", None]


def test_as_of_without_a_timezone_is_refused() -> None:
    from torghut_assets.services.profitability import evaluation_time

    with pytest.raises(ValueError, match="needs a timezone"):
        evaluation_time("2026-03-06T18:00:00")


def test_the_query_layer_reads_no_rows_outside_the_window(fixture_ledger: str) -> None:
    engine = create_ledger_engine(fixture_ledger)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(schema.executions)).scalar_one()
    engine.dispose()
    assert total == 4 and _payload(fixture_ledger)["window"]["execution_count"] == 3
