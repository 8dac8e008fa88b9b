"""`rollback_incidents`: one row per rollback or halt of a lane, with what it rests on.

The row names the trigger and the actor, the lane before and after, the transition it wrote, the safety
state and the gate evaluation of the candidate that lost its placement, and carries the sha256 of that
content (`evidence_hash`), which the lane's evidence-chain entry repeats.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.promotion_rules import SafetyState
from torghut_assets.ledger import schema
from torghut_assets.ledger.audit_rules import require_auditable
from torghut_assets.ledger.queries import as_utc

Row = dict[str, Any]
REQUIRED_CONTENT = ("triggered_at", "reasons", "before", "after", "actor")


def incident_row(
    *,
    lane: str,
    action: str,
    actor: str,
    trigger: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    transition: Mapping[str, Any],
    reasons: Sequence[str],
    refs: Mapping[str, Any],
    safety: SafetyState,
    hooks: Mapping[str, Any],
    gate_evaluation_id: str | None,
    run_id: str,
    at: dt.datetime,
) -> Row:
    content = {
        "triggered_at": at,
        "reasons": list(reasons),
        "lane": lane,
        "action": action,
        "actor": actor,
        "before": dict(before),
        "after": dict(after),
        "transition_id": transition["transition_id"],
        "transition_evidence_hash": transition["evidence_hash"],
        "gate_evaluation_id": gate_evaluation_id,
        **({"refs": dict(refs)} if refs else {}),
    }
    complete = all(content.get(k) is not None for k in REQUIRED_CONTENT)
    return {
        "id": str(uuid.uuid4()),
        "triggered_at": at,
        "reasons": list(reasons),
        "safety_snapshot": {
            "continuity_alert_active": safety.continuity_alert_active,
            "emergency_stop_active": safety.emergency_stop_active,
            "kill_switch_active": safety.kill_switch_active,
        },
        "rollback_hooks": dict(hooks),
        "provenance": {"dagster_run_id": run_id, "gate_evaluation_id": gate_evaluation_id},
        "cancelled_open_orders": [],
        "verification": {"incident_evidence_complete": complete},
        "evidence_hash": sha256_hex(content),
        "lane": lane,
        "transition_id": transition["transition_id"],
        "trigger": trigger,
        "actor": actor,
        "before_state": dict(before),
        "after_state": dict(after),
        "evidence_refs": {
            "transition_evidence_hash": transition["evidence_hash"],
            "gate_evaluation_id": gate_evaluation_id,
            **refs,
        },
        "created_at": at,
    }


def insert_incident(conn: Connection, row: Mapping[str, Any]) -> None:
    require_auditable(schema.rollback_incidents.name, [row])  # UnauditableRow: nothing is written
    conn.execute(schema.rollback_incidents.insert().values(**row))


def incidents(conn: Connection) -> list[Row]:
    """Every incident, oldest first, `triggered_at` UTC-aware."""
    t = schema.rollback_incidents
    rows = conn.execute(sa.select(t).order_by(t.c.triggered_at, t.c.id)).mappings()
    return [{**r, "triggered_at": as_utc(r["triggered_at"])} for r in rows]
