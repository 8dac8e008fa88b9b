"""LLM advisory reviews of a lane window's planned decisions.

Off unless enabled; then shadow unless the stage, the policy and the guardrails all allow acting, and
executions carry out only rows marked `applied` (a veto rejects the decision, an adjustment changes its
qty / order type within bounds). The advisory never submits anything.

Why a use case: per window the rows are replaced in one transaction, keyed by decision, and a decision
that already has an execution keeps its review unchanged (it was routed on it). Each call goes through
the circuit breaker (seeded from the ledger's recent calls, all lanes: one endpoint); after the window
the error budget over the lane's rolling window decides whether this window's reviews are forced to
shadow, in which case an alert is appended to the evidence log. Paging is the caller's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pandas as pd

from torghut_assets.adapters.llm_client import LLMTransportError, OpenAICompatibleClient
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
    ReviewCounts,
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
from torghut_assets.ledger import evidence_log, llm_reviews
from torghut_assets.ledger.llm_reviews import Review, review_row, row_counts, window_counts
from torghut_assets.services.ports import LedgerPort

BUDGET_SHADOW_REASON = "error_budget_spent"
TELEMETRY_KIND = "llm_window_telemetry"

Row = dict[str, Any]


class AdvisoryPort(Protocol):
    """The configured advisory endpoint, its policy and its clock (the `llm` resource is one)."""

    @property
    def model(self) -> str | None: ...

    @property
    def prompt_version(self) -> str: ...

    @property
    def trading_mode(self) -> str: ...

    def policy(self) -> AdvisoryPolicy: ...

    def now(self) -> float: ...

    def client(self) -> OpenAICompatibleClient: ...


@dataclass(frozen=True)
class WindowReviews:
    """One window's reviews as stored (kept ones first), and how they came about."""

    rows: list[Row]
    written: int
    mode: AdvisoryMode
    telemetry: dict[str, Any]
    circuit: dict[str, Any]
    budget: BudgetStatus
    alerted: bool


@dataclass(frozen=True)
class _Plan:
    """What the window's review reads before calling the model."""

    kept: list[Row]
    pending: list[Row]
    breaker: CircuitBreaker
    prior: ReviewCounts


def clear_window_reviews(ledger: LedgerPort, window: LaneWindow) -> None:
    """The advisory is off: the window holds no reviews."""
    with ledger.engine.begin() as conn:
        llm_reviews.replace_window_reviews(conn, window.lane, window.start, [])


def _plan(ledger: LedgerPort, window: LaneWindow, policy: AdvisoryPolicy, started: float) -> _Plan:
    circuit_since = dt.datetime.fromtimestamp(
        started - policy.circuit_window_seconds - policy.circuit_cooldown_seconds, dt.UTC
    )
    budget_since = window.start - pd.Timedelta(hours=policy.error_budget_window_hours)
    with ledger.engine.connect() as conn:
        inputs = llm_reviews.window_review_inputs(conn, window.lane, window.start)
        events = llm_reviews.circuit_events(
            conn, circuit_since, exclude_lane=window.lane, exclude_window=window.start
        )
        prior = llm_reviews.review_counts(conn, window.lane, budget_since, window.start)
    executed, existing = inputs.executed, inputs.existing
    kept = [existing[str(r["id"])] for r in inputs.decisions if str(r["id"]) in executed & set(existing)]
    pending = sorted(
        (r for r in inputs.decisions if llm_reviews.reviewable(r) and str(r["id"]) not in executed),
        key=lambda r: (r["signal_event_ts"], r["symbol"]),
    )
    return _Plan(kept, pending, CircuitBreaker.from_policy(policy).replay(events), prior)


def review_window(ledger: LedgerPort, llm: AdvisoryPort, window: LaneWindow) -> WindowReviews:
    """Review every pending decision of the window, apply the error budget, store the rows, the budget
    state and the window's telemetry in one transaction."""
    policy = llm.policy()
    mode = advisory_mode(
        policy, trading_mode=llm.trading_mode, model=llm.model, prompt_version=llm.prompt_version
    )
    plan = _plan(ledger, window, policy, llm.now())
    breaker = plan.breaker
    reviews: list[Review] = []
    if plan.pending:
        with llm.client() as client:
            for row in plan.pending:
                review, breaker = review_decision(client, llm, policy, mode, breaker, window, row)
                reviews.append(review)
    budget = evaluate_error_budget(plan.prior + window_counts(reviews) + row_counts(plan.kept), policy)
    if budget.spent:
        mode = force_shadow(mode, BUDGET_SHADOW_REASON)
        reviews = [
            replace(r, resolution=r.resolution.under_spent_budget(), shadow_reasons=mode.shadow_reasons)
            for r in reviews
        ]
    rows = [*plan.kept, *(review_row(window.lane, window.start, r) for r in reviews)]
    telemetry = review_telemetry(rows)
    circuit = breaker.telemetry(llm.now())
    written, alerted = _record(ledger, window, rows, telemetry, mode, budget)
    return WindowReviews(rows, written, mode, telemetry, circuit, budget, alerted)


def _record(
    ledger: LedgerPort,
    window: LaneWindow,
    rows: list[Row],
    telemetry: dict[str, Any],
    mode: AdvisoryMode,
    budget: BudgetStatus,
) -> tuple[int, bool]:
    with ledger.engine.begin() as conn:
        written = llm_reviews.replace_window_reviews(conn, window.lane, window.start, rows)
        alerted = llm_reviews.record_budget_state(
            conn, window.lane, window.start.to_pydatetime(), budget, window.end.to_pydatetime()
        )
        if rows:
            evidence_log.append_entry(
                conn,
                entry_kind=TELEMETRY_KIND,
                subject=f"llm_telemetry/{window.label()}"[:128],
                content={"telemetry": telemetry, "mode": mode_json(mode), "error_budget": budget.as_json()},
                lane=window.lane,
                window_start=window.start.to_pydatetime(),
                recorded_at=window.end.to_pydatetime(),
            )
    return written, alerted


def decision_input(window: LaneWindow, row: Row) -> dict[str, Any]:
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


@dataclass
class _Call:
    """The model call's outcome and what the endpoint reported about it."""

    outcome: ReviewOutcome
    text: str | None = None
    served: str | None = None
    finish: str | None = None
    tokens: tuple[int | None, int | None] = (None, None)
    latency: float | None = None


def _call(
    client: OpenAICompatibleClient,
    llm: AdvisoryPort,
    policy: AdvisoryPolicy,
    mode: AdvisoryMode,
    breaker: CircuitBreaker,
    messages: tuple[str, str],
    now: float,
) -> tuple[_Call, CircuitBreaker]:
    """Call the model unless the mode blocks it, the prompt is over the token budget or the circuit is
    open; a call (answered, refused or failed) is recorded on the breaker."""
    system, user = messages
    if mode.blocked_reason:
        return _Call(ReviewError(ERROR_BLOCKED, mode.blocked_reason)), breaker
    if (over_budget := token_budget_block(policy, system, user)) is not None:
        return _Call(over_budget), breaker
    if not breaker.allows(now):
        return _Call(ReviewError(ERROR_CIRCUIT_OPEN, "circuit_open", "circuit open: call skipped")), breaker
    try:
        completion = client.complete(system, user)
    except LLMTransportError as exc:
        call = _Call(ReviewError(ERROR_TRANSPORT, exc.code, exc.detail), latency=exc.latency_ms)
    else:
        call = _Call(
            judge_answer(completion.text, refusal=completion.refusal, finish_reason=completion.finish_reason),
            text=completion.text,
            served=completion.served_model,
            finish=completion.finish_reason,
            tokens=(completion.prompt_tokens, completion.completion_tokens),
            latency=completion.latency_ms,
        )
    done = llm.now()
    failed = isinstance(call.outcome, ReviewError)  # a refusal is an answered call
    return call, breaker.record_error(done) if failed else breaker.record_success(done)


def review_decision(
    client: OpenAICompatibleClient,
    llm: AdvisoryPort,
    policy: AdvisoryPolicy,
    mode: AdvisoryMode,
    breaker: CircuitBreaker,
    window: LaneWindow,
    row: Row,
) -> tuple[Review, CircuitBreaker]:
    """One decision's review, and the breaker after its call."""
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
    call, breaker = _call(client, llm, policy, mode, breaker, (system, user), now)
    review = Review(
        trade_decision_id=str(row["id"]),
        decision_event_ts=row["signal_event_ts"],
        model=model,
        prompt_version=llm.prompt_version,
        model_version_hash=model_version_hash(
            model=model,
            served_model=call.served,
            version_lock=policy.model_version_lock,
            prompt_version=llm.prompt_version,
        ),
        rollout_stage=policy.rollout_stage.value,
        shadow_reasons=mode.shadow_reasons,
        input_json=payload,
        request_hash=request_hash(model, llm.prompt_version, system, user),
        outcome=call.outcome,
        resolution=effective_verdict(call.outcome, decision, policy, mode),
        reviewed_at=dt.datetime.fromtimestamp(now, dt.UTC),
        response_text=call.text,
        tokens_prompt=call.tokens[0],
        tokens_completion=call.tokens[1],
        latency_ms=call.latency,
        finish_reason=call.finish,
    )
    return review, breaker


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _tally(values: Sequence[object]) -> dict[str, int]:
    return dict(sorted(Counter(str(v) for v in values).items()))


def review_telemetry(rows: list[Row]) -> dict[str, Any]:
    """Per-window counts for the evidence log and metadata (no latencies: they differ on every run).
    Refusals are counted apart from the errors (`refusals`, `refusals_by_code`)."""
    counts = row_counts(rows)
    errors = [r for r in rows if r["error_kind"] and r["error_kind"] != OUTCOME_REFUSAL]
    refusals = [r for r in rows if r["error_kind"] == OUTCOME_REFUSAL]
    confidences = [float(r["confidence"]) for r in rows if r["confidence"] is not None]
    flags = Counter(f for r in rows for f in r["risk_flags"] or ())
    return {
        "reviews": len(rows),
        "verdicts": _tally([r["verdict"] for r in rows]),
        "effective_verdicts": _tally([r["effective_verdict"] for r in rows]),
        "shadow": sum(1 for r in rows if r["shadow"]),
        "applied": sum(1 for r in rows if r["applied"]),
        "applied_by_action": _tally([r["action"] for r in rows if r["applied"]]),
        "errors_by_kind": _tally([r["error_kind"] for r in errors]),
        "errors_by_code": _tally([r["error_code"] for r in errors]),
        "refusals": len(refusals),
        "refusals_by_code": _tally([r["error_code"] for r in refusals]),
        "counts": counts.as_json(),
        "error_rate": _rate(counts.errors, counts.attempted),
        "mismatch_rate": _rate(counts.mismatches, counts.attempted),
        "fallbacks": sum(1 for r in rows if r["response_json"].get("fallback")),
        "avg_confidence": round(sum(confidences) / len(confidences), 4) if confidences else None,
        "tokens_prompt": sum(int(r["tokens_prompt"] or 0) for r in rows),
        "tokens_completion": sum(int(r["tokens_completion"] or 0) for r in rows),
        "top_risk_flags": [f for f, _ in sorted(flags.items(), key=lambda kv: (-kv[1], kv[0]))[:5]],
    }


def mode_json(mode: AdvisoryMode) -> dict[str, Any]:
    return {
        "stage": mode.stage.value,
        "trading_mode": mode.trading_mode,
        "shadow": mode.shadow,
        "shadow_reasons": list(mode.shadow_reasons),
        "blocked_reason": mode.blocked_reason,
    }
