"""Set-wise aggregates behind `profitability_runtime`: one GROUP BY per section, over a time window."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.profitability import (
    DecisionGroup,
    ExecutionGroup,
    ShortfallBySymbol,
    ShortfallRanks,
    nearest_rank_position,
)
from torghut_assets.domain.promotion import PromotionAction
from torghut_assets.ledger import schema
from torghut_assets.ledger.queries import as_utc


def _ts(value: Any) -> dt.datetime | None:
    ts = as_utc(value)
    return None if ts is None else ts.to_pydatetime()


def decision_groups(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[DecisionGroup]:
    d, s = schema.trade_decisions, schema.strategies
    query = (
        sa.select(
            d.c.strategy_id,
            s.c.name,
            d.c.symbol,
            d.c.status,
            sa.func.count(),
            sa.func.count(d.c.executed_at),
            sa.func.max(d.c.created_at),
            sa.func.max(d.c.executed_at),
        )
        .select_from(d.outerjoin(s, s.c.id == d.c.strategy_id))
        .where(d.c.created_at >= start, d.c.created_at < end)
        .group_by(d.c.strategy_id, s.c.name, d.c.symbol, d.c.status)
    )
    return [
        DecisionGroup(str(sid), name, str(sym), str(status), int(n), int(ex), _ts(last), _ts(last_ex))
        for sid, name, sym, status, n, ex, last, last_ex in conn.execute(query)
    ]


def execution_groups(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[ExecutionGroup]:
    e = schema.executions
    fallback = sa.or_(
        e.c.execution_fallback_reason.is_not(None),
        e.c.execution_fallback_count > 0,
        sa.func.lower(e.c.execution_expected_adapter) != sa.func.lower(e.c.execution_actual_adapter),
    )
    query = (
        sa.select(
            e.c.execution_expected_adapter,
            e.c.execution_actual_adapter,
            e.c.status,
            e.c.execution_fallback_reason,
            sa.func.count(),
            sa.func.sum(sa.case((fallback, 1), else_=0)),
            sa.func.sum(e.c.execution_fallback_count),
            sa.func.max(e.c.created_at),
            e.c.lane,
        )
        .where(e.c.created_at >= start, e.c.created_at < end)
        .group_by(
            e.c.execution_expected_adapter,
            e.c.execution_actual_adapter,
            e.c.status,
            e.c.execution_fallback_reason,
            e.c.lane,
        )
    )
    return [
        ExecutionGroup(exp, act, str(status), reason, int(n), int(fb or 0), int(total or 0), _ts(last), lane)
        for exp, act, status, reason, n, fb, total, last, lane in conn.execute(query)
    ]


def shortfall_by_symbol(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[ShortfallBySymbol]:
    t = schema.execution_tca_metrics
    query = (
        sa.select(
            t.c.symbol,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(t.c.implementation_shortfall_notional), 0),
            sa.func.coalesce(sa.func.sum(t.c.realized_shortfall_bps), 0),
            sa.func.count(t.c.realized_shortfall_bps),
        )
        .where(t.c.computed_at >= start, t.c.computed_at < end)
        .group_by(t.c.symbol)
    )
    return [
        ShortfallBySymbol(str(sym), int(n), float(total), float(bps), int(bps_n))
        for sym, n, total, bps, bps_n in conn.execute(query)
    ]


def shortfall_ranks(conn: Connection, start: dt.datetime, end: dt.datetime) -> ShortfallRanks:
    t = schema.execution_tca_metrics
    bps = t.c.realized_shortfall_bps
    window = (t.c.computed_at >= start, t.c.computed_at < end, bps.is_not(None))
    if conn.dialect.name == "postgresql":
        # percentile_disc(0.95) is the first value whose cumulative share reaches 95 %: the
        # ceil(0.95·n)-th smallest, i.e. the nearest rank, in the same single scan as the max.
        p95, top = conn.execute(
            sa.select(sa.func.percentile_disc(0.95).within_group(bps), sa.func.max(bps)).where(*window)
        ).one()
        return ShortfallRanks(None, None) if top is None else ShortfallRanks(float(p95), float(top))
    count, top = conn.execute(sa.select(sa.func.count(), sa.func.max(bps)).where(*window)).one()
    if not count:
        return ShortfallRanks(None, None)
    offset = nearest_rank_position(int(count), 95) - 1
    p95 = conn.execute(sa.select(bps).where(*window).order_by(bps).limit(1).offset(offset)).scalar_one()
    return ShortfallRanks(float(p95), float(top))


def attribution(conn: Connection, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The latest gate evaluation and promotion decision in the window, and the rollback picture."""
    g, p, r = schema.gate_evaluations, schema.research_promotions, schema.rollback_incidents
    gate = (
        conn.execute(
            sa.select(g)
            .where(g.c.evaluated_at >= start, g.c.evaluated_at < end)
            .order_by(g.c.evaluated_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    promotion = (
        conn.execute(
            sa.select(p)
            .where(p.c.created_at >= start, p.c.created_at < end, p.c.gate_evaluation_id.is_not(None))
            .order_by(p.c.created_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    incidents = (
        conn.execute(
            sa.select(r)
            .where(r.c.triggered_at >= start, r.c.triggered_at < end)
            .order_by(r.c.triggered_at.desc())
        )
        .mappings()
        .all()
    )
    blocked = conn.execute(
        sa.select(sa.func.count()).where(
            p.c.created_at >= start,
            p.c.created_at < end,
            p.c.decision_action == PromotionAction.DENY,
            p.c.deny_reason.like("%signal_continuity_alert_latched%"),
        )
    ).scalar_one()
    emergency = conn.execute(
        sa.select(sa.func.count()).where(schema.continuity_state.c.emergency_stop_active.is_(True))
    ).scalar_one()
    gate_row: dict[str, Any] = {} if gate is None else dict(gate)
    report = gate_row.get("report_json") or {}
    gate6 = next(
        (x for x in gate_row.get("gates") or [] if x.get("gate_id") == "gate6_profitability_evidence"),
        None,
    )
    latest = incidents[0] if incidents else None
    bundle = ({} if promotion is None else dict(promotion)).get("evidence_bundle") or {}
    return {
        "gate_evaluation_id": None if gate is None else str(gate["id"]),
        "run_id": None if gate is None else gate["run_id"],
        "gate_report_trace_id": None if gate is None else gate["gate_report_trace_id"],
        "gate6_result": None
        if gate6 is None
        else {"status": gate6.get("status"), "reasons": gate6.get("reasons")},
        "recommended_mode": None if gate is None else gate["recommended_mode"],
        "promotion_decision": None
        if promotion is None
        else {
            "candidate_id": promotion["candidate_id"],
            "decision_action": promotion["decision_action"],
            "requested_mode": promotion["requested_mode"],
            "approved_mode": promotion["approved_mode"],
        },
        "profitability_artifacts": bundle.get("artifacts") or {},
        "policy_checksum": report.get("policy_checksum"),
        "rollback": {
            "emergency_stop_active": bool(emergency),
            "incidents_total": len(incidents),
            "reason": None if latest is None else latest["trigger"],
            "reason_codes": [] if latest is None else list(latest["reasons"] or []),
            "incident_evidence_hash": None if latest is None else latest["evidence_hash"],
            "evidence_complete": None
            if latest is None
            else bool((latest["verification"] or {}).get("incident_evidence_complete")),
            "signal_continuity_promotion_block_total": int(blocked),
        },
    }


def shortfall_series(
    conn: Connection, start: dt.datetime, end: dt.datetime
) -> list[tuple[Any, Any, Any, Any]]:
    """(lane, computed_at, implementation shortfall notional, realized shortfall bps) of every TCA row
    computed in [start, end): the points of the runtime profitability plot."""
    t = schema.execution_tca_metrics
    rows = conn.execute(
        sa.select(
            t.c.lane, t.c.computed_at, t.c.implementation_shortfall_notional, t.c.realized_shortfall_bps
        ).where(t.c.computed_at >= start, t.c.computed_at < end)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]
