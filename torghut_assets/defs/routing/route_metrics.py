"""Operator metrics where operators already look: a Prometheus textfile and the `route_metrics` asset.

`metrics_textfile_sensor` rewrites `torghut.prom` (atomically) every minute for node-exporter's textfile
collector, from the code-location process, which is long-lived and the same in every deployment (run
pods come and go). When the figures changed it also requests a `route_metrics` run, whose numeric
metadata the UI plots over time. `torghut-assets metrics serve` serves the same text for a direct
scrape. See docs/alerts-and-metrics.md.
"""

import datetime as dt
import hashlib
import os
from pathlib import Path

import dagster as dg
from sqlalchemy.engine import Connection

from torghut_assets.adapters.prometheus_text import TEXTFILE_NAME, render, write_textfile
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lanes import LANES
from torghut_assets.domain.llm_advisory import AdvisoryPolicy
from torghut_assets.domain.profitability import executions_by_adapter
from torghut_assets.domain.route_metrics import (
    LaneFigures,
    Sample,
    fingerprint,
    generated_at,
    lane_samples,
    metadata_figures,
    route_samples,
)
from torghut_assets.ledger import llm_reviews
from torghut_assets.ledger import route_metrics as totals
from torghut_assets.ledger.profitability_queries import execution_groups

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class MetricsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the textfile goes: `TORGHUT_METRICS_TEXTFILE_DIR`, else `$DAGSTER_HOME/metrics`."""

    textfile_dir: str | None = None

    def directory(self) -> Path:
        if self.textfile_dir:
            return Path(self.textfile_dir)
        home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
        return home / "metrics"


def compute_samples(conn: Connection, now: dt.datetime, policy: AdvisoryPolicy | None = None) -> list[Sample]:
    """Every series from ledger totals as of `now`; the LLM ratio over the policy's error-budget window."""
    policy = policy or AdvisoryPolicy()
    groups = execution_groups(conn, EPOCH, now)
    routes = executions_by_adapter(groups)
    signals = totals.signal_totals(conn)
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
    return [
        *route_samples(routes["by_adapter"], routes["fallback_reason_totals"]),
        *lane_samples(lanes),
        generated_at(now.timestamp()),
    ]


def samples_digest(samples: list[Sample]) -> str:
    return hashlib.sha256(repr(fingerprint(samples)).encode("utf-8")).hexdigest()


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Route transitions, fallbacks, signals, decisions, continuity latch and LLM error ratio "
    "as numeric metadata (plotted over time); the same figures as the Prometheus textfile.",
)
def route_metrics(
    ledger: LedgerResource, llm: LLMAdvisoryResource, metrics: MetricsResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    now = dt.datetime.now(dt.UTC)
    with ledger.read() as conn:
        samples = compute_samples(conn, now, llm.policy())
    figures = metadata_figures(samples)
    return dg.MaterializeResult(
        metadata={
            **{
                key: dg.MetadataValue.float(value)
                if isinstance(value, float)
                else dg.MetadataValue.int(value)
                for key, value in figures.items()
            },
            "textfile": dg.MetadataValue.path(str(metrics.directory() / TEXTFILE_NAME)),
            "exposition": dg.MetadataValue.md(f"```\n{render(samples)}```"),
        }
    )


route_metrics_job = dg.define_asset_job(
    "route_metrics_job",
    selection=[route_metrics],
    executor_def=dg.in_process_executor,
    description="Record the operator metrics as numeric asset metadata.",
)


@dg.sensor(
    job=route_metrics_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rewrites the Prometheus textfile every minute; requests route_metrics when figures change.",
)
def metrics_textfile_sensor(
    context: dg.SensorEvaluationContext,
    ledger: LedgerResource,
    llm: LLMAdvisoryResource,
    metrics: MetricsResource,
) -> dg.SensorResult | dg.SkipReason:
    now = dt.datetime.now(dt.UTC)
    with ledger.read() as conn:
        samples = compute_samples(conn, now, llm.policy())
    path = write_textfile(samples, metrics.directory())
    digest = samples_digest(samples)
    if context.cursor == digest:
        return dg.SkipReason(f"wrote {len(samples)} series to {path}; figures unchanged")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"route_metrics:{digest[:16]}:{now:%Y%m%dT%H%M}")],
        cursor=digest,
    )
