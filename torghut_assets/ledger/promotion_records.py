"""Rows the promotion job writes: the gate evaluation, the promotion decision, a demotion, lifecycle.

All of them are appended, never updated (docs/ledger.md, "Append-only audit"). Promotion-job rows share
`research_promotions` with the lane window's own requests but are told apart by `approver_role` (never
`autonomous_scheduler`). A candidate's lifecycle is appended to `candidate_lifecycle_events`; its
`research_candidates` row keeps what the research run wrote, and readers take the latest event
(`current_lifecycles`, `candidate_rows`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import canonical_json, canonical_value, sha256_hex
from torghut_assets.domain.gates import GateReport, TargetMode
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.domain.promotion import PromotionAction
from torghut_assets.domain.promotion_rules import PromotionOutcome
from torghut_assets.ledger import schema
from torghut_assets.ledger.audit_rules import require_auditable
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc

GATES_APPROVER = "torghut_gates"
GATES_ROLE = "system"


def gate_evaluation_row(
    *,
    run_id: str,
    candidate_id: str,
    window: LaneWindow,
    report: GateReport,
    full_report: Mapping[str, Any],
    evaluated_at: dt.datetime,
    code_version: str,
) -> dict[str, Any]:
    trace_id = sha256_hex(full_report)[:24]
    return {
        "id": str(uuid.uuid4()),
        "run_id": run_id,
        "candidate_id": candidate_id,
        "lane": window.lane,
        "window_start": window.start.to_pydatetime(),
        "policy_version": report.policy_version,
        "policy_checksum": report.policy_checksum,
        "promotion_target": report.promotion_target,
        "promotion_allowed": report.promotion_allowed,
        "recommended_mode": report.recommended_mode,
        "gates": [g.as_dict() for g in report.gates],
        "reasons": list(report.reasons),
        "uncertainty_gate_action": report.uncertainty_gate_action,
        "report_json": canonical_value(full_report),
        "evaluated_at": evaluated_at,
        "code_version": code_version,
        "gate_report_trace_id": trace_id,
        "created_at": evaluated_at,
    }


def promotion_row(
    *,
    outcome: PromotionOutcome,
    window: LaneWindow,
    run_id: str,
    gate_evaluation: Mapping[str, Any],
    requester: str,
    approver: str | None,
    approver_role: str | None,
    override_id: str | None,
    evidence_bundle: Mapping[str, Any],
    decided_at: dt.datetime,
    patch_ref: str | None,
    rollback_candidate_id: str | None,
) -> dict[str, Any]:
    decision = {
        "candidate_id": outcome.candidate_id,
        "from_stage": outcome.from_stage.value,
        "requested_stage": outcome.requested_stage.value,
        "approved_stage": None if outcome.approved_stage is None else outcome.approved_stage.value,
        "decision_action": outcome.action,
        "reason_codes": list(outcome.reason_codes),
        "blocking_gates": list(outcome.blocking_gates),
        "hard_blocks": list(outcome.hard_blocks),
        "override_applied": outcome.override_applied,
        "requester": requester,
    }
    text = canonical_json(decision)
    return {
        "id": str(uuid.uuid4()),
        "candidate_id": outcome.candidate_id,
        "requested_mode": outcome.requested_stage.value,
        "approved_mode": None if outcome.approved_stage is None else outcome.approved_stage.value,
        "approver": approver or GATES_APPROVER,
        "approver_role": approver_role or GATES_ROLE,
        "approve_reason": text if outcome.allowed else None,
        "deny_reason": None if outcome.allowed else text,
        "paper_candidate_patch_ref": patch_ref,
        "effective_time": decided_at if outcome.allowed else None,
        "decision_action": outcome.action,
        "decision_rationale": ("promoted:" if outcome.allowed else "promotion_blocked_or_held:")
        + ",".join(outcome.reason_codes),
        "evidence_bundle": canonical_value(evidence_bundle),
        "recommendation_trace_id": gate_evaluation["gate_report_trace_id"],
        "rollback_candidate_id": rollback_candidate_id,
        "override_id": override_id,
        "policy_checksum": gate_evaluation["policy_checksum"],
        "gate_evaluation_id": gate_evaluation["id"],
        "run_id": run_id,
        "lane": window.lane,
        "window_start": window.start.to_pydatetime(),
        "created_at": decided_at,
    }


def demotion_row(
    *,
    demoted: Mapping[str, Any],
    successor_id: str,
    reason: str,
    at: dt.datetime,
    promotion: Mapping[str, Any],
) -> dict[str, Any]:
    """The previous champion's `demote` row: approved mode shadow, as in the reference (docs/promotion.md)."""
    text = canonical_json(
        {"candidate_id": demoted["candidate_id"], "decision_action": PromotionAction.DEMOTE, "reason": reason}
    )
    return {
        "id": str(uuid.uuid4()),
        "candidate_id": demoted["candidate_id"],
        "requested_mode": TargetMode.SHADOW,
        "approved_mode": TargetMode.SHADOW,
        "approver": promotion["approver"],
        "approver_role": promotion["approver_role"],
        "approve_reason": text,
        "deny_reason": None,
        "effective_time": at,
        "decision_action": PromotionAction.DEMOTE,
        "decision_rationale": f"demoted:{reason}",
        "evidence_bundle": {"successor_candidate_id": successor_id, "reason": reason},
        "successor_candidate_id": successor_id,
        "policy_checksum": promotion["policy_checksum"],
        "gate_evaluation_id": promotion["gate_evaluation_id"],
        "run_id": demoted["run_id"],
        "lane": demoted["lane"],
        "window_start": demoted["window_start"],
        "created_at": at,
    }


def rollback_demotion_row(
    *,
    demoted: Mapping[str, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    reason: str,
    at: dt.datetime,
) -> dict[str, Any]:
    """The `demote` row of a candidate a rollback removed (or lowered): shadow unless it keeps a stage."""
    leaving, restored = before["candidate_id"], after["candidate_id"]
    text = canonical_json(
        {"candidate_id": leaving, "decision_action": "demote", "to_stage": after["stage"], "reason": reason}
    )
    return {
        "id": str(uuid.uuid4()),
        "candidate_id": leaving,
        "requested_mode": after["stage"] if restored == leaving else "shadow",
        "approved_mode": after["stage"] if restored == leaving else "shadow",
        "approver": GATES_APPROVER,
        "approver_role": "rollback_job",
        "approve_reason": text,
        "effective_time": at,
        "decision_action": "demote",
        "decision_rationale": f"rolled_back:{reason}",
        "evidence_bundle": {"before": dict(before), "after": dict(after)},
        "rollback_candidate_id": restored,
        "run_id": demoted["run_id"],
        "lane": demoted["lane"],
        "window_start": demoted["window_start"],
        "created_at": at,
    }


def insert_gate_evaluation(conn: Connection, row: Mapping[str, Any]) -> None:
    require_auditable(schema.gate_evaluations.name, [row])  # UnauditableRow: nothing is written
    conn.execute(schema.gate_evaluations.insert().values(**row))


def insert_promotion(conn: Connection, row: Mapping[str, Any]) -> None:
    require_auditable(schema.research_promotions.name, [row])  # UnauditableRow: nothing is written
    conn.execute(schema.research_promotions.insert().values(**row))


def latest_gate_evaluation(
    conn: Connection, candidate_id: str, policy_checksum: str | None = None
) -> dict[str, Any] | None:
    """The candidate's newest gate evaluation (under `policy_checksum`, when given): id, target,
    reasons and when."""
    t = schema.gate_evaluations
    query = sa.select(t.c.id, t.c.promotion_target, t.c.reasons, t.c.evaluated_at).where(
        t.c.candidate_id == candidate_id
    )
    if policy_checksum is not None:
        query = query.where(t.c.policy_checksum == policy_checksum)
    row = conn.execute(query.order_by(t.c.evaluated_at.desc()).limit(1)).mappings().first()
    return None if row is None else dict(row)


def set_lifecycle(conn: Connection, candidate_id: str, *, role: str, status: str) -> bool:
    """Make (`role`, `status`) the candidate's current lifecycle by appending its next revision to
    `candidate_lifecycle_events`; nothing when it already is. The candidate row is never updated (its
    `lifecycle_*` stay what the research run wrote). Returns whether an event was appended.

    Two transactions appending to one candidate at once collide on the unique (candidate, revision):
    the second fails rather than interleaving its history."""
    current = current_lifecycles(conn, [candidate_id]).get(candidate_id)
    if current == (role, status):
        return False
    e = schema.candidate_lifecycle_events
    last = conn.execute(sa.select(sa.func.max(e.c.revision)).where(e.c.candidate_id == candidate_id)).scalar()
    revision = 1 if last is None else int(last) + 1
    conn.execute(
        e.insert().values(
            id=row_id("candidate_lifecycle_events", candidate_id, revision),
            candidate_id=candidate_id,
            revision=revision,
            lifecycle_role=role,
            lifecycle_status=status,
        )
    )
    return True


def current_lifecycles(conn: Connection, candidate_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(role, status) of each candidate now: its latest lifecycle event, else what its research run
    wrote on the candidate row. Candidates that do not exist are left out."""
    ids = sorted(set(candidate_ids))
    e, c = schema.candidate_lifecycle_events, schema.research_candidates
    latest = (
        sa.select(e.c.candidate_id, sa.func.max(e.c.revision).label("revision"))
        .where(e.c.candidate_id.in_(ids))
        .group_by(e.c.candidate_id)
        .subquery()
    )
    found = {
        str(cid): (str(role), str(status))
        for cid, role, status in conn.execute(
            sa.select(e.c.candidate_id, e.c.lifecycle_role, e.c.lifecycle_status).join(
                latest, sa.and_(e.c.candidate_id == latest.c.candidate_id, e.c.revision == latest.c.revision)
            )
        )
    }
    researched = conn.execute(
        sa.select(c.c.candidate_id, c.c.lifecycle_role, c.c.lifecycle_status).where(c.c.candidate_id.in_(ids))
    )
    for cid, role, status in researched:
        found.setdefault(str(cid), (str(role), str(status)))
    return found


def with_current_lifecycle(conn: Connection, rows: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Candidate rows with `lifecycle_role`/`lifecycle_status` as they stand now (latest event)."""
    now = current_lifecycles(conn, list(rows))
    return {
        cid: {**row, "lifecycle_role": now[cid][0], "lifecycle_status": now[cid][1]} if cid in now else row
        for cid, row in rows.items()
    }


def consecutive_denies(conn: Connection, candidate_hash: str | None, candidate_id: str) -> list[dt.datetime]:
    """Times of the trailing run of promotion-job denies for this candidate (hash), newest last.

    The run resets at any promote or an applied override; the lane window's own requests do not count.
    """
    p, c = schema.research_promotions, schema.research_candidates
    same = (
        c.c.candidate_id == candidate_id if candidate_hash is None else c.c.candidate_hash == candidate_hash
    )
    ids = sa.select(c.c.candidate_id).where(same)
    rows = conn.execute(
        sa.select(p.c.decision_action, p.c.created_at, p.c.override_id)
        .where(
            p.c.candidate_id.in_(ids),
            p.c.approver_role != SCHEDULER_ROLE,
            p.c.decision_action != PromotionAction.DEMOTE,
        )
        .order_by(p.c.created_at, p.c.id)
    ).all()
    streak: list[dt.datetime] = []
    for action, created, _override in rows:
        if action == PromotionAction.DENY:
            ts = as_utc(created)
            if ts is not None:
                streak.append(ts.to_pydatetime())
        else:
            streak = []
    return streak


def candidate_rows(conn: Connection, candidate_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The candidates' rows, their lifecycle as it stands now (`with_current_lifecycle`), datetimes
    UTC-aware on both backends (a `demote` row copies the candidate's window into the evidence chain)."""
    t = schema.research_candidates
    rows = conn.execute(sa.select(t).where(t.c.candidate_id.in_(list(candidate_ids)))).mappings()
    return with_current_lifecycle(
        conn, {str(r["candidate_id"]): {k: _aware(v) for k, v in r.items()} for r in rows}
    )


def _aware(value: Any) -> Any:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
