"""`llm_decision_reviews`: the LLM advisory reviews each planned decision of a lane window.

Off unless `LLM_ENABLED=true`; then shadow unless the stage, the policy and the guardrails all allow
acting, and `executions` carries out only rows marked `applied` (a veto rejects the decision, an
adjustment changes its qty / order type within bounds). The advisory never submits anything.

Per partition the rows are replaced in one transaction, keyed by decision; a decision that already has
an execution keeps its review unchanged (it was routed on it). Each call goes through the circuit
breaker (seeded from the ledger's recent calls, all lanes: one endpoint); after the window the error
budget over the lane's rolling window decides whether this window's reviews are forced to shadow, in
which case an alert is appended to the evidence log.
"""

import datetime as dt
from collections import Counter
from dataclasses import replace
from typing import Any

import dagster as dg
import pandas as pd

from torghut_assets.adapters.llm_client import LLMTransportError, OpenAICompatibleClient
from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.alerts import llm_budget_alert
from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.llm_advisory import (
    ERROR_BLOCKED,
    ERROR_CIRCUIT_OPEN,
    ERROR_TRANSPORT,
    OUTCOME_REFUSAL,
    AdvisoryMode,
    AdvisoryPolicy,
    BudgetStatus,
    CircuitBreaker,
    ReviewedDecision,
    ReviewError,
    ReviewOutcome,
    advisory_mode,
    effective_verdict,
    evaluate_error_budget,
    force_shadow,
    judge_answer,
    model_version_hash,
    request_hash,
    review_messages,
    token_budget_block,
)
from torghut_assets.ledger import evidence_log, llm_reviews, queries, schema
from torghut_assets.ledger.llm_reviews import Review, review_row, row_counts, window_counts
from torghut_assets.ledger.writes import replace_lane_window

BUDGET_SHADOW_REASON = "error_budget_spent"
TELEMETRY_KIND = "llm_window_telemetry"
DISABLED = "LLM advisory disabled"


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["trade_decisions"],
    kinds={"sql"},
    code_version="1",
    description="LLM advisory reviews of the window's planned decisions (off by default; shadow is inert).",
)
def llm_decision_reviews(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    llm: LLMAdvisoryResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    table = schema.llm_decision_reviews
    if not llm.enabled:
        with ledger.transaction() as conn:
            replace_lane_window(conn, table, window.lane, window.start, [])
        note = f" ({llm.note})" if llm.note else ""
        return dg.MaterializeResult(
            metadata=window_metadata(
                window, 0, f"**{DISABLED}**{note}: no reviews, decisions untouched.", llm_advisory=DISABLED
            )
        )
    policy = llm.policy()
    mode = advisory_mode(
        policy, trading_mode=llm.trading_mode, model=llm.model, prompt_version=llm.prompt_version
    )
    started = llm.now()
    circuit_since = dt.datetime.fromtimestamp(
        started - policy.circuit_window_seconds - policy.circuit_cooldown_seconds, dt.UTC
    )
    budget_since = window.start - pd.Timedelta(hours=policy.error_budget_window_hours)
    with ledger.read() as conn:
        decision_rows = queries.window_rows(conn, schema.trade_decisions, window.lane, window.start)
        executed = {
            str(r["trade_decision_id"])
            for r in queries.window_rows(conn, schema.executions, window.lane, window.start)
        }
        existing = {
            str(r["trade_decision_id"]): r
            for r in queries.window_rows(conn, table, window.lane, window.start)
        }
        events = llm_reviews.circuit_events(
            conn, circuit_since, exclude_lane=window.lane, exclude_window=window.start
        )
        prior = llm_reviews.review_counts(conn, window.lane, budget_since, window.start)
    breaker = CircuitBreaker.from_policy(policy).replay(events)
    kept = [existing[str(r["id"])] for r in decision_rows if str(r["id"]) in executed & set(existing)]
    pending = sorted(
        (r for r in decision_rows if llm_reviews.reviewable(r) and str(r["id"]) not in executed),
        key=lambda r: (r["signal_event_ts"], r["symbol"]),
    )
    reviews: list[Review] = []
    if pending:
        with llm.client() as client:
            for row in pending:
                review, breaker = _review(client, llm, policy, mode, breaker, window, row)
                reviews.append(review)
    budget = evaluate_error_budget(prior + window_counts(reviews) + row_counts(kept), policy)
    if budget.spent:
        mode = force_shadow(mode, BUDGET_SHADOW_REASON)
        reviews = [
            replace(r, resolution=r.resolution.under_spent_budget(), shadow_reasons=mode.shadow_reasons)
            for r in reviews
        ]
    rows = [*kept, *(review_row(window.lane, window.start, r) for r in reviews)]
    telemetry = review_telemetry(rows)
    circuit = breaker.telemetry(llm.now())
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, table, window.lane, window.start, rows)
        alerted = llm_reviews.record_budget_state(
            conn, window.lane, window.start.to_pydatetime(), budget, window.end.to_pydatetime()
        )
        if rows:
            evidence_log.append_entry(
                conn,
                entry_kind=TELEMETRY_KIND,
                subject=f"llm_telemetry/{window.label()}"[:128],
                content={"telemetry": telemetry, "mode": _mode_json(mode), "error_budget": budget.as_json()},
                lane=window.lane,
                window_start=window.start.to_pydatetime(),
                recorded_at=window.end.to_pydatetime(),
            )
    page = llm_budget_alert(lane=window.lane, window_start=window.start, budget=budget.as_json())
    sent = alerts.send(ledger, [page] if budget.spent else [], context.log)
    return dg.MaterializeResult(
        metadata={
            **_metadata(window, written, rows, llm, mode, telemetry, circuit, budget, alerted),
            **alert_metadata(sent),
        }
    )


def decision_input(window: LaneWindow, row: dict[str, Any]) -> dict[str, Any]:
    """What the model sees: the decision as recorded, nothing from outside the ledger."""
    payload = row["decision_json"]
    return {
        "lane": window.lane,
        "window_start": window.start,
        "decision_hash": row["decision_hash"],
        "symbol": payload["symbol"],
        "action": payload["action"],
        "qty": payload["qty"],
        "order_type": payload.get("order_type", "market"),
        "time_in_force": payload.get("time_in_force", "day"),
        "event_ts": payload["event_ts"],
        "strategy_id": payload["strategy_id"],
        "rationale": payload.get("rationale"),
        "params": payload.get("params") or {},
    }


def _review(
    client: OpenAICompatibleClient,
    llm: LLMAdvisoryResource,
    policy: AdvisoryPolicy,
    mode: AdvisoryMode,
    breaker: CircuitBreaker,
    window: LaneWindow,
    row: dict[str, Any],
) -> tuple[Review, CircuitBreaker]:
    payload = canonical_value(decision_input(window, row))
    system, user = review_messages(payload)
    model = llm.model or ""
    decision = ReviewedDecision(
        symbol=str(payload["symbol"]),
        action=str(payload["action"]),
        qty=int(payload["qty"]),
        order_type=str(payload["order_type"]),
    )
    now = llm.now()
    outcome: ReviewOutcome
    text = served = finish = None
    tokens: tuple[int | None, int | None] = (None, None)
    latency: float | None = None
    if mode.blocked_reason:
        outcome = ReviewError(ERROR_BLOCKED, mode.blocked_reason)
    elif (over_budget := token_budget_block(policy, system, user)) is not None:
        outcome = over_budget
    elif not breaker.allows(now):
        outcome = ReviewError(ERROR_CIRCUIT_OPEN, "circuit_open", "circuit open: call skipped")
    else:
        try:
            completion = client.complete(system, user)
        except LLMTransportError as exc:
            outcome, latency = ReviewError(ERROR_TRANSPORT, exc.code, exc.detail), exc.latency_ms
        else:
            outcome = judge_answer(
                completion.text, refusal=completion.refusal, finish_reason=completion.finish_reason
            )
            text, served, latency = completion.text, completion.served_model, completion.latency_ms
            tokens = (completion.prompt_tokens, completion.completion_tokens)
            finish = completion.finish_reason
        done = llm.now()
        failed = isinstance(outcome, ReviewError)  # a refusal is an answered call
        breaker = breaker.record_error(done) if failed else breaker.record_success(done)
    review = Review(
        trade_decision_id=str(row["id"]),
        decision_event_ts=row["signal_event_ts"],
        model=model,
        prompt_version=llm.prompt_version,
        model_version_hash=model_version_hash(
            model=model,
            served_model=served,
            version_lock=policy.model_version_lock,
            prompt_version=llm.prompt_version,
        ),
        rollout_stage=policy.rollout_stage.value,
        shadow_reasons=mode.shadow_reasons,
        input_json=payload,
        request_hash=request_hash(model, llm.prompt_version, system, user),
        outcome=outcome,
        resolution=effective_verdict(outcome, decision, policy, mode),
        reviewed_at=dt.datetime.fromtimestamp(now, dt.UTC),
        response_text=text,
        tokens_prompt=tokens[0],
        tokens_completion=tokens[1],
        latency_ms=latency,
        finish_reason=finish,
    )
    return review, breaker


def review_telemetry(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-window counts for the evidence log and metadata (no latencies: they differ on every run).
    Refusals are counted apart from the errors (`refusals`, `refusals_by_code`)."""
    counts = row_counts(rows)
    errors = [r for r in rows if r["error_kind"] and r["error_kind"] != OUTCOME_REFUSAL]
    refusals = [r for r in rows if r["error_kind"] == OUTCOME_REFUSAL]
    confidences = [float(r["confidence"]) for r in rows if r["confidence"] is not None]
    flags = Counter(f for r in rows for f in r["risk_flags"] or ())
    return {
        "reviews": len(rows),
        "verdicts": dict(sorted(Counter(str(r["verdict"]) for r in rows).items())),
        "effective_verdicts": dict(sorted(Counter(str(r["effective_verdict"]) for r in rows).items())),
        "shadow": sum(1 for r in rows if r["shadow"]),
        "applied": sum(1 for r in rows if r["applied"]),
        "applied_by_action": dict(sorted(Counter(str(r["action"]) for r in rows if r["applied"]).items())),
        "errors_by_kind": dict(sorted(Counter(str(r["error_kind"]) for r in errors).items())),
        "errors_by_code": dict(sorted(Counter(str(r["error_code"]) for r in errors).items())),
        "refusals": len(refusals),
        "refusals_by_code": dict(sorted(Counter(str(r["error_code"]) for r in refusals).items())),
        "counts": counts.as_json(),
        "error_rate": round(counts.errors / counts.attempted, 6) if counts.attempted else 0.0,
        "mismatch_rate": round(counts.mismatches / counts.attempted, 6) if counts.attempted else 0.0,
        "fallbacks": sum(1 for r in rows if r["response_json"].get("fallback")),
        "avg_confidence": round(sum(confidences) / len(confidences), 4) if confidences else None,
        "tokens_prompt": sum(int(r["tokens_prompt"] or 0) for r in rows),
        "tokens_completion": sum(int(r["tokens_completion"] or 0) for r in rows),
        "top_risk_flags": [f for f, _ in sorted(flags.items(), key=lambda kv: (-kv[1], kv[0]))[:5]],
    }


def _mode_json(mode: AdvisoryMode) -> dict[str, Any]:
    return {
        "stage": mode.stage.value,
        "trading_mode": mode.trading_mode,
        "shadow": mode.shadow,
        "shadow_reasons": list(mode.shadow_reasons),
        "blocked_reason": mode.blocked_reason,
    }


def _metadata(
    window: LaneWindow,
    written: int,
    rows: list[dict[str, Any]],
    llm: LLMAdvisoryResource,
    mode: AdvisoryMode,
    telemetry: dict[str, Any],
    circuit: dict[str, Any],
    budget: BudgetStatus,
    alerted: bool,
) -> dict[str, Any]:
    latencies = sorted(float(r["latency_ms"]) for r in rows if r["latency_ms"] is not None)
    state = "shadow (" + ", ".join(mode.shadow_reasons) + ")" if mode.shadow else "acting"
    summary = (
        f"**{written} LLM reviews** for `{window.label()}`, {state}: {telemetry['applied']} applied, "
        f"{telemetry['counts']['errors']} errors, {telemetry['refusals']} refusals, "
        f"circuit {circuit['state']}"
        + (", **error budget spent: forced to shadow**" if budget.spent else "")
        + "\n\n"
        + markdown_table(
            ["decision", "verdict", "effective", "action", "applied", "error", "latency_ms"],
            [
                (
                    str(r["trade_decision_id"])[:8],
                    r["verdict"],
                    r["effective_verdict"],
                    r["action"],
                    r["applied"],
                    r["error_code"],
                    r["latency_ms"],
                )
                for r in rows[:50]
            ],
        )
    )
    return window_metadata(
        window,
        written,
        summary,
        llm_advisory="enabled",
        llm=llm.describe(),
        llm_mode=_mode_json(mode),
        llm_telemetry=telemetry,
        circuit=circuit,
        error_budget={**budget.as_json(), "window_hours": llm.error_budget_window_hours},
        budget_alert_recorded=alerted,
        latency_ms_p50=latencies[len(latencies) // 2] if latencies else None,
        latency_ms_max=latencies[-1] if latencies else None,
    )
