"""The LLM advisory in a lane window, against a local stub endpoint, on SQLite and PostgreSQL.

Each fault is a counted review row; in shadow nothing it says changes a decision; the circuit opens
and later calls are skipped; a spent error budget forces shadow, records an alert and makes the
promotion-gate hook report it. Only applied reviews at an acting stage veto or resize before routing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.llm.llm_reviews import DISABLED, llm_decision_reviews
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.llm_reviews import BUDGET_ALERT_KIND, llm_error_budget_spent
from torghut_assets_tests.adapters.llm_stub import LlmStub
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW

MODEL = "stub-model"
ACTING: dict[str, Any] = {
    "rollout_stage": "stage3",
    "allowed_models": [MODEL],
    "evaluation_report": "reports/llm-eval-2026-02.json",
    "effective_challenge_id": "challenge-7",
    "shadow_completed_at": "2026-02-20T00:00:00Z",
    "model_version_lock": "stub-model-2026-01",
    "adjustment_allowed": True,
    "adjustment_approved": True,
}
FOUR_DECISIONS = "macd_rsi"  # 4 planned decisions in OPEN_WINDOW
TEN_DECISIONS = "ema_trend"  # 10 planned decisions in OPEN_WINDOW


@pytest.fixture
def stub() -> Iterator[LlmStub]:
    with LlmStub(delay_seconds=1.0) as running:
        yield running


def _llm(stub: LlmStub, **policy: Any) -> LLMAdvisoryResource:
    settings: dict[str, Any] = {
        "enabled": True,
        "base_url": stub.url,
        "model": MODEL,
        "api_key": "sk-test",
        "timeout_seconds": 0.3,
        "connect_timeout_seconds": 0.3,
    }
    return LLMAdvisoryResource(**{**settings, **policy})


def _materialize(
    url: str, tmp_path: Path, lane: str, assets: list[Any], llm: LLMAdvisoryResource | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        partition_key=lane_window_key(lane, OPEN_WINDOW),
        resources={
            "ledger": LedgerResource(database_url=url, artifact_root=str(tmp_path)),
            "market_data": MarketDataResource(),
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
            "llm": llm or LLMAdvisoryResource(),
            "alerts": AlertsResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )


def _review_window(
    url: str, tmp_path: Path, lane: str, llm: LLMAdvisoryResource, *, route: bool = True
) -> dict[str, Any]:
    """Plan the window, review it and (unless `route=False`) route it; the review asset's metadata."""
    assets = [signals, trade_decisions, llm_decision_reviews, *([executions] if route else [])]
    result = _materialize(url, tmp_path, lane, assets, llm)
    (event,) = result.asset_materializations_for_node("llm_decision_reviews")
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def _rows(url: str, table: sa.Table, *order: sa.ColumnElement[Any]) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(table).order_by(*order, table.c.id)
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def _reviews(url: str) -> list[dict[str, Any]]:
    """In the order they were made."""
    return _rows(url, schema.llm_decision_reviews, schema.llm_decision_reviews.c.reviewed_at)


def _decisions_by_id(url: str) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): r for r in _rows(url, schema.trade_decisions)}


def _submitted_qty(url: str) -> dict[str, float]:
    return {str(r["trade_decision_id"]): float(r["submitted_qty"]) for r in _rows(url, schema.executions)}


def _assert_no_decision_changed(url: str) -> None:
    decisions = _decisions_by_id(url)
    submitted = _submitted_qty(url)
    assert set(submitted) == {i for i, d in decisions.items() if not d["decision_json"]["risk_reasons"]}
    assert all(submitted[i] == decisions[i]["decision_json"]["qty"] for i in submitted)
    advisory_codes = {"llm_veto", "llm_error"}
    assert not any(advisory_codes & set(d["decision_json"]["risk_reasons"]) for d in decisions.values())
    assert all(
        d["status"] != "rejected" for d in decisions.values() if not d["decision_json"]["risk_reasons"]
    )


def test_a_disabled_advisory_writes_nothing_and_says_so(ledger_url: str, tmp_path: Path) -> None:
    metadata = _review_window(ledger_url, tmp_path, FOUR_DECISIONS, LLMAdvisoryResource())
    assert metadata["llm_advisory"] == DISABLED and _reviews(ledger_url) == []
    _assert_no_decision_changed(ledger_url)


def test_every_fault_is_a_counted_review_and_none_changes_a_decision_in_shadow(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    stub.script("malformed", "slow", "schema_violation", "out_of_bounds", "http_500")
    metadata = _review_window(ledger_url, tmp_path, TEN_DECISIONS, _llm(stub, circuit_max_errors=10))
    telemetry = metadata["llm_telemetry"]
    assert telemetry["errors_by_kind"] == {"parse": 1, "transport": 2, "validation": 1}
    assert telemetry["errors_by_code"] == {
        "http_500": 1,
        "malformed_json": 1,
        "schema_violation": 1,
        "timeout": 1,
    }
    assert telemetry["counts"]["mismatches"] == 1 and telemetry["applied"] == 0
    rows = _reviews(ledger_url)
    assert len(rows) == 10 and all(r["shadow"] and not r["applied"] for r in rows)
    assert [r["error_code"] for r in rows[:5]] == [
        "malformed_json",
        "timeout",
        "schema_violation",
        None,
        "http_500",
    ]
    assert rows[3]["guardrail_mismatch"] and rows[1]["latency_ms"] >= 300
    _assert_no_decision_changed(ledger_url)


def test_the_circuit_opens_after_max_errors_and_skips_later_calls(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    stub.mode = "http_500"
    metadata = _review_window(ledger_url, tmp_path, TEN_DECISIONS, _llm(stub), route=False)
    assert stub.completions == 3
    assert metadata["llm_telemetry"]["errors_by_kind"] == {"circuit_open": 7, "transport": 3}
    assert metadata["circuit"]["state"] == "open" and metadata["circuit"]["recent_error_count"] == 3


def test_an_acting_stage_vetoes_and_resizes_before_routing(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    stub.script("veto", "adjust")
    metadata = _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub, **ACTING))
    assert metadata["llm_telemetry"]["applied_by_action"] == {"adjust": 1, "veto": 1}
    vetoed, adjusted, *_ = _reviews(ledger_url)
    decisions = _decisions_by_id(ledger_url)
    submitted = _submitted_qty(ledger_url)
    veto_decision = decisions[str(vetoed["trade_decision_id"])]
    assert veto_decision["status"] == "rejected"
    assert veto_decision["decision_json"]["risk_reasons"] == ["llm_veto"]
    assert str(vetoed["trade_decision_id"]) not in submitted
    original = decisions[str(adjusted["trade_decision_id"])]["decision_json"]["qty"]
    assert submitted[str(adjusted["trade_decision_id"])] == max(1, round(original * 0.75)) != original
    assert len(submitted) == 3


def test_an_error_at_an_acting_stage_rejects_with_llm_error_while_the_budget_holds(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    stub.script("malformed")
    metadata = _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub, **ACTING))
    assert not metadata["error_budget"]["spent"]
    first = _reviews(ledger_url)[0]
    decision = _decisions_by_id(ledger_url)[str(first["trade_decision_id"])]
    assert decision["decision_json"]["risk_reasons"] == ["llm_error"] and decision["status"] == "rejected"


def test_a_spent_error_budget_records_an_alert_blocks_live_and_keeps_every_veto(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    stub.mode = "malformed"
    metadata = _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub, **ACTING))
    assert metadata["error_budget"]["spent"] and metadata["budget_alert_recorded"]
    assert "error_budget_spent" in metadata["llm_mode"]["shadow_reasons"]
    reviews = _reviews(ledger_url)
    assert all(r["action"] == "veto" and r["applied"] and not r["shadow"] for r in reviews)
    decisions = _decisions_by_id(ledger_url)
    assert {
        tuple(decisions[str(r["trade_decision_id"])]["decision_json"]["risk_reasons"]) for r in reviews
    } == {("llm_error",)}
    assert _submitted_qty(ledger_url) == {}, "an LLM outage must not turn fail-closed into fail-open"
    alerts = [r for r in _rows(ledger_url, schema.evidence_log) if r["entry_kind"] == BUDGET_ALERT_KIND]
    assert len(alerts) == 1 and alerts[0]["content"]["action"] == "forced_shadow"
    day = pd.Timedelta(hours=24)
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        since, until = (OPEN_WINDOW - day).to_pydatetime(), (OPEN_WINDOW + day).to_pydatetime()
        assert llm_error_budget_spent(conn, FOUR_DECISIONS, since, until)
        assert not llm_error_budget_spent(conn, TEN_DECISIONS, since, until)
    engine.dispose()


def test_rematerializing_replaces_the_window_reviews(ledger_url: str, tmp_path: Path, stub: LlmStub) -> None:
    _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub), route=False)
    first = {r["id"]: r["reviewed_at"] for r in _reviews(ledger_url)}
    _materialize(ledger_url, tmp_path, FOUR_DECISIONS, [llm_decision_reviews], _llm(stub))
    second = {r["id"]: r["reviewed_at"] for r in _reviews(ledger_url)}
    assert len(first) == 4 and set(second) == set(first) and second != first
    _materialize(ledger_url, tmp_path, FOUR_DECISIONS, [llm_decision_reviews], LLMAdvisoryResource())
    assert _reviews(ledger_url) == []


def test_a_lifted_veto_is_undone_when_the_window_is_routed_again(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    stub.script("veto")
    _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub, **ACTING))
    vetoed = str(_reviews(ledger_url)[0]["trade_decision_id"])
    assert vetoed not in _submitted_qty(ledger_url)
    _materialize(
        ledger_url, tmp_path, FOUR_DECISIONS, [llm_decision_reviews, executions], _llm(stub, **ACTING)
    )
    assert vetoed in _submitted_qty(ledger_url)
    assert _decisions_by_id(ledger_url)[vetoed]["decision_json"]["risk_reasons"] == []


def test_reviewing_a_routed_window_again_keeps_the_reviews_its_orders_went_out_on(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub))
    before = _reviews(ledger_url)
    _materialize(ledger_url, tmp_path, FOUR_DECISIONS, [llm_decision_reviews], _llm(stub))
    assert stub.completions == 4 and _reviews(ledger_url) == before


def test_a_refusal_is_counted_as_a_refusal_not_an_error_and_changes_no_decision(
    ledger_url: str, tmp_path: Path
) -> None:
    with LlmStub(gateway="openai") as stub:
        stub.script("refusal", "content_filter")
        metadata = _review_window(
            ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub, gateway="openai", **ACTING)
        )
    telemetry = metadata["llm_telemetry"]
    assert telemetry["refusals"] == 2
    assert telemetry["refusals_by_code"] == {"content_filter": 1, "model_refusal": 1}
    assert telemetry["errors_by_kind"] == {} and telemetry["counts"]["errors"] == 0
    assert telemetry["counts"]["refusals"] == 2 and telemetry["counts"]["attempted"] == 4
    assert not metadata["error_budget"]["spent"] and metadata["circuit"]["recent_error_count"] == 0
    refused, filtered, *_ = _reviews(ledger_url)
    assert (refused["verdict"], refused["effective_verdict"], refused["action"], refused["applied"]) == (
        "refusal",
        "pass_through",
        "none",
        False,
    )
    assert (refused["error_kind"], refused["error_code"]) == ("refusal", "model_refusal")
    assert "can't help" in refused["error_detail"] and refused["response_json"]["refusal"] is True
    assert (filtered["error_code"], filtered["response_json"]["finish_reason"]) == (
        "content_filter",
        "content_filter",
    )
    _assert_no_decision_changed(ledger_url)


def test_an_answer_cut_at_the_token_limit_is_a_parse_error_of_its_own(
    ledger_url: str, tmp_path: Path
) -> None:
    with LlmStub(gateway="openai") as stub:
        stub.script("length")
        metadata = _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub, gateway="openai"))
    telemetry = metadata["llm_telemetry"]
    assert telemetry["errors_by_kind"] == {"parse": 1} and telemetry["errors_by_code"] == {"truncated": 1}
    cut = _reviews(ledger_url)[0]
    assert cut["response_json"]["finish_reason"] == "length" and cut["verdict"] == "error"


def test_gateway_faults_leave_whole_error_rows_never_a_partial_answer(
    ledger_url: str, tmp_path: Path, stub: LlmStub
) -> None:
    stub.script("garbage_stream", "error_frame", "cut_stream", "trickle")
    metadata = _review_window(ledger_url, tmp_path, FOUR_DECISIONS, _llm(stub, circuit_max_errors=10))
    assert metadata["llm_telemetry"]["errors_by_code"] == {
        "gateway_error": 1,
        "invalid_stream": 1,
        "stream_incomplete": 1,
        "timeout": 1,
    }
    rows = _reviews(ledger_url)
    assert len(rows) == 4
    for row in rows:
        assert (row["verdict"], row["error_kind"]) == ("error", "transport")
        assert row["confidence"] is row["rationale"] is row["risk_flags"] is row["tokens_prompt"] is None
        assert row["response_json"]["raw_excerpt"] is None and row["response_json"]["response_hash"] is None
    _assert_no_decision_changed(ledger_url)
