"""Operator metrics from ledger totals: route transitions and fallbacks, signals ingested and rejected,
decisions, the continuity latch and the LLM error ratio, as Prometheus samples.

Why a use case: the textfile sensor, the `route_metrics` asset and `torghut-assets metrics serve` must
show the same figures, computed the same way, from the ledger alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy.engine import Connection

from torghut_assets.domain.lanes import LANES
from torghut_assets.domain.llm_advisory import AdvisoryPolicy
from torghut_assets.domain.profitability import executions_by_adapter
from torghut_assets.domain.route_metrics import (
    LaneFigures,
    Sample,
    fingerprint,
    generated_at,
    lane_samples,
    route_samples,
)
from torghut_assets.ledger import llm_reviews
from torghut_assets.ledger import route_metrics as totals
from torghut_assets.ledger.profitability_queries import execution_groups

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _lane_figures(
    conn: Connection, now: dt.datetime, policy: AdvisoryPolicy, signals: dict[str, int]
) -> list[LaneFigures]:
    rejected = totals.signal_rejections(conn)
    decisions = totals.decision_counts(conn)
    continuity = totals.continuity_flags(conn)
    since = now - dt.timedelta(hours=policy.error_budget_window_hours)
    lanes = []
    for lane in sorted(set(LANES) | set(signals) | set(decisions) | set(continuity)):
        budget = llm_reviews.llm_error_budget(conn, lane, since, now, policy)
        lanes.append(
            LaneFigures(
                lane=lane,
                signals_ingested=signals.get(lane, 0),
                signals_rejected=rejected.get(lane),
                decisions=decisions.get(lane),
                continuity=continuity.get(lane),
                llm_error_ratio=budget.error_rate,
                llm_reviews_attempted=budget.counts.attempted,
            )
        )
    return lanes


def compute_samples(conn: Connection, now: dt.datetime, policy: AdvisoryPolicy | None = None) -> list[Sample]:
    """Every series from ledger totals as of `now`; the LLM ratio over the policy's error-budget window."""
    policy = policy or AdvisoryPolicy()
    routes = executions_by_adapter(execution_groups(conn, EPOCH, now))
    lanes = _lane_figures(conn, now, policy, totals.signal_totals(conn))
    return [
        *route_samples(routes["by_adapter"], routes["fallback_reason_totals"]),
        *lane_samples(lanes),
        generated_at(now.timestamp()),
    ]


def samples_digest(samples: list[Sample]) -> str:
    """Changes exactly when a figure changes (the generation time is left out)."""
    return hashlib.sha256(repr(fingerprint(samples)).encode("utf-8")).hexdigest()
