"""`llm_decision_reviews` rows: one per review, keyed by decision; reads for executions, the error budget
and the promotion gate (`llm_error_budget_spent`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.llm_advisory import (
    BUDGET_ERROR_KINDS,
    LLM_REJECT_CODES,
    OUTCOME_REFUSAL,
    AdvisoryAction,
    AdvisoryPolicy,
    BudgetStatus,
    Resolution,
    ReviewCounts,
    ReviewError,
    ReviewOutcome,
    ReviewRefusal,
    ReviewResponse,
    evaluate_error_budget,
    total,
)
from torghut_assets.ledger import evidence_log, queries, schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import replace_lane_window, to_native

reviews = schema.llm_decision_reviews

BUDGET_ALERT_KIND = "llm_error_budget_alert"


@dataclass(frozen=True)
class Review:
    """One review as the advisory produced it, before it becomes a row."""

    trade_decision_id: str
    decision_event_ts: dt.datetime
    model: str
    prompt_version: str
    model_version_hash: str
    rollout_stage: str
    shadow_reasons: tuple[str, ...]
    input_json: dict[str, Any]
    request_hash: str
    outcome: ReviewOutcome
    resolution: Resolution
    reviewed_at: dt.datetime
    response_text: str | None = None
    tokens_prompt: int | None = None
    tokens_completion: int | None = None
    latency_ms: float | None = None
    finish_reason: str | None = None

    @property
    def error(self) -> ReviewError | None:
        return self.outcome if isinstance(self.outcome, ReviewError) else None

    @property
    def unanswered(self) -> ReviewError | ReviewRefusal | None:
        """Why there is no usable answer: an error, or the model's refusal (kind `refusal`)."""
        return None if isinstance(self.outcome, ReviewResponse) else self.outcome


def review_id(trade_decision_id: str) -> str:
    return row_id("llm_decision_reviews", trade_decision_id)


def review_row(lane: str, window_start: dt.datetime, review: Review) -> dict[str, Any]:
    error = review.unanswered
    answer = review.outcome if isinstance(review.outcome, ReviewResponse) else None
    resolution = review.resolution
    return {
        "id": review_id(review.trade_decision_id),
        "trade_decision_id": review.trade_decision_id,
        "model": review.model,
        "prompt_version": review.prompt_version,
        "input_json": review.input_json,
        "response_json": {
            "request_hash": review.request_hash,
            "response_hash": None if review.response_text is None else sha256_hex(review.response_text),
            "raw_excerpt": None if review.response_text is None else review.response_text[:500],
            "policy_resolution": resolution.as_json(),
            "fallback": resolution.fallback,
            "effective_verdict": resolution.effective_verdict,
            "advisory_only": not resolution.applied,
            "shadow_reasons": list(review.shadow_reasons),
            "problems": [] if error is None else list(error.problems),
            "finish_reason": review.finish_reason,
            "refusal": isinstance(review.outcome, ReviewRefusal),
        },
        "verdict": resolution.verdict,
        "confidence": None if answer is None else answer.confidence,
        "adjusted_qty": None if answer is None else answer.adjusted_qty,
        "adjusted_order_type": None if answer is None else answer.adjusted_order_type,
        "rationale": None if answer is None else answer.rationale,
        "risk_flags": None if answer is None else list(answer.risk_flags),
        "tokens_prompt": review.tokens_prompt,
        "tokens_completion": review.tokens_completion,
        "lane": lane,
        "window_start": window_start,
        "reviewed_at": review.reviewed_at,
        "model_version_hash": review.model_version_hash,
        "rollout_stage": review.rollout_stage,
        "effective_verdict": resolution.effective_verdict,
        "action": resolution.action,
        "shadow": resolution.shadow,
        "applied": resolution.applied,
        "error_kind": None if error is None else error.kind,
        "error_code": None if error is None else error.code,
        "error_detail": None if error is None else error.detail[:2000],
        "guardrail_mismatch": bool(resolution.mismatches),
        "latency_ms": review.latency_ms,
        "created_at": review.decision_event_ts,
    }


@dataclass(frozen=True)
class AppliedAction:
    """What executions must do to a decision: reject it (`reject_code`) or send `qty`/`order_type`."""

    action: AdvisoryAction
    qty: int
    order_type: str
    reject_code: str | None


def applied_actions(conn: Connection, lane: str, window_start: dt.datetime) -> dict[str, AppliedAction]:
    """Applied vetoes and adjustments of the window by trade decision id (shadow rows never appear)."""
    query = sa.select(reviews.c.trade_decision_id, reviews.c.action, reviews.c.response_json).where(
        reviews.c.lane == lane,
        reviews.c.window_start == to_native(window_start),
        reviews.c.applied.is_(True),
        reviews.c.action.in_([AdvisoryAction.VETO, AdvisoryAction.ADJUST]),
    )
    actions: dict[str, AppliedAction] = {}
    for decision_id, action, response in conn.execute(query):
        resolution = response["policy_resolution"]
        actions[str(decision_id)] = AppliedAction(
            action=AdvisoryAction(action),
            qty=int(resolution["qty"]),
            order_type=str(resolution["order_type"]),
            reject_code=resolution.get("reject_code"),
        )
    return actions


def rejected_only_by_advisory(decision_row: dict[str, Any]) -> bool:
    """A decision whose only rejection reasons are the advisory's: still reviewable and routable."""
    reasons = set(decision_row["decision_json"].get("risk_reasons") or ())
    return decision_row["status"] == "rejected" and bool(reasons) and reasons <= LLM_REJECT_CODES


def reviewable(decision_row: dict[str, Any]) -> bool:
    return decision_row["status"] != "rejected" or rejected_only_by_advisory(decision_row)


def with_advisory_rejection(decision_json: dict[str, Any], reject_code: str | None) -> dict[str, Any]:
    """The decision's JSON with the advisory's rejection code set (or cleared, for None)."""
    kept = [r for r in decision_json.get("risk_reasons") or () if r not in LLM_REJECT_CODES]
    return {**decision_json, "risk_reasons": kept + ([reject_code] if reject_code else [])}


def review_counts(
    conn: Connection, lane: str, since: dt.datetime, until: dt.datetime, *, exclude: dt.datetime | None = None
) -> ReviewCounts:
    """Counts of the lane's reviews in lane windows starting in [since, until)."""
    where = sa.and_(
        reviews.c.lane == lane,
        reviews.c.window_start >= to_native(since),
        reviews.c.window_start < to_native(until),
    )
    if exclude is not None:
        where = sa.and_(where, reviews.c.window_start != to_native(exclude))
    query = (
        sa.select(reviews.c.error_kind, reviews.c.guardrail_mismatch, sa.func.count())
        .where(where)
        .group_by(reviews.c.error_kind, reviews.c.guardrail_mismatch)
    )
    return total(
        ReviewCounts.of(kind, bool(mismatch)).times(int(n)) for kind, mismatch, n in conn.execute(query)
    )


def circuit_events(
    conn: Connection, since: dt.datetime, *, exclude_lane: str, exclude_window: dt.datetime
) -> list[tuple[float, bool]]:
    """(epoch seconds, was an error) of every call made since `since`, all lanes (one endpoint, one
    circuit), without the partition about to be replaced."""
    query = sa.select(reviews.c.reviewed_at, reviews.c.error_kind).where(
        reviews.c.reviewed_at >= to_native(since),
        sa.not_(sa.and_(reviews.c.lane == exclude_lane, reviews.c.window_start == to_native(exclude_window))),
        sa.or_(
            reviews.c.error_kind.is_(None),
            reviews.c.error_kind.in_(sorted(BUDGET_ERROR_KINDS | {OUTCOME_REFUSAL})),
        ),
    )
    return [
        (queries.as_utc(at).timestamp(), kind in BUDGET_ERROR_KINDS)  # type: ignore[union-attr]
        for at, kind in conn.execute(query)
    ]


def _alert_subject(lane: str, window_start: dt.datetime) -> str:
    return f"llm_error_budget/{lane}/{to_native(window_start).strftime('%Y-%m-%dT%H:%MZ')}"


def record_budget_state(
    conn: Connection, lane: str, window_start: dt.datetime, status: BudgetStatus, recorded_at: dt.datetime
) -> bool:
    """Append the alert when the budget is spent, and a clearing entry when a re-materialization finds it
    no longer spent; returns whether an entry was appended. Call last in the transaction."""
    subject = _alert_subject(lane, window_start)
    if not status.spent:
        latest = _latest_alert(conn, subject)
        if latest is None or not latest.get("spent"):
            return False
    evidence_log.append_entry(
        conn,
        entry_kind=BUDGET_ALERT_KIND,
        subject=subject,
        content={**status.as_json(), "action": "forced_shadow" if status.spent else "cleared"},
        lane=lane,
        window_start=window_start,
        recorded_at=recorded_at,
    )
    return True


def _latest_alert(conn: Connection, subject: str) -> dict[str, Any] | None:
    log = schema.evidence_log
    content = conn.execute(
        sa.select(log.c.content)
        .where(log.c.entry_kind == BUDGET_ALERT_KIND, log.c.subject == subject)
        .order_by(log.c.seq.desc())
        .limit(1)
    ).scalar()
    return None if content is None else dict(content)


def standing_alerts(conn: Connection, lane: str, since: dt.datetime, until: dt.datetime) -> list[str]:
    """Subjects of lane windows in [since, until) whose latest budget entry says spent."""
    log = schema.evidence_log
    query = (
        sa.select(log.c.subject, log.c.seq, log.c.content)
        .where(
            log.c.entry_kind == BUDGET_ALERT_KIND,
            log.c.lane == lane,
            log.c.window_start >= to_native(since),
            log.c.window_start < to_native(until),
        )
        .order_by(log.c.seq)
    )
    latest: dict[str, bool] = {}
    for subject, _, content in conn.execute(query):
        latest[subject] = bool(content.get("spent"))
    return sorted(s for s, spent in latest.items() if spent)


def llm_error_budget(
    conn: Connection,
    lane: str,
    since: dt.datetime,
    until: dt.datetime,
    policy: AdvisoryPolicy | None = None,
) -> BudgetStatus:
    """The error budget over the lane's reviews in lane windows starting in [since, until)."""
    return evaluate_error_budget(review_counts(conn, lane, since, until), policy or AdvisoryPolicy())


def llm_error_budget_spent(
    conn: Connection,
    lane: str,
    since: dt.datetime,
    until: dt.datetime,
    policy: AdvisoryPolicy | None = None,
) -> bool:
    """Promotion-gate hook: True when the LLM error budget blocks live promotion of `lane`.

    Spent if the budget recomputed over [since, until) is spent, or any lane window in that range still
    has a standing budget alert (a long range must not dilute a spent hour). No reviews: not spent.
    """
    return llm_error_budget(conn, lane, since, until, policy).spent or bool(
        standing_alerts(conn, lane, since, until)
    )


def window_counts(items: Sequence[Review]) -> ReviewCounts:
    return total(
        ReviewCounts.of(None if r.unanswered is None else r.unanswered.kind, bool(r.resolution.mismatches))
        for r in items
    )


def row_counts(rows: Sequence[dict[str, Any]]) -> ReviewCounts:
    return total(ReviewCounts.of(r["error_kind"], bool(r["guardrail_mismatch"])) for r in rows)


@dataclass(frozen=True)
class WindowReviewInputs:
    """What reviewing one lane window reads: its decisions, which of them already have an execution, and
    the reviews it already holds (by trade decision id)."""

    decisions: list[dict[str, Any]]
    executed: set[str]
    existing: dict[str, dict[str, Any]]


def window_review_inputs(conn: Connection, lane: str, window_start: dt.datetime) -> WindowReviewInputs:
    return WindowReviewInputs(
        decisions=queries.window_rows(conn, schema.trade_decisions, lane, window_start),
        executed={
            str(r["trade_decision_id"])
            for r in queries.window_rows(conn, schema.executions, lane, window_start)
        },
        existing={
            str(r["trade_decision_id"]): r for r in queries.window_rows(conn, reviews, lane, window_start)
        },
    )


def replace_window_reviews(
    conn: Connection, lane: str, window_start: dt.datetime, rows: Sequence[dict[str, Any]]
) -> int:
    """The window's reviews become exactly `rows` (keyed by decision); the count written."""
    return replace_lane_window(conn, reviews, lane, window_start, list(rows))
