"""Operator metrics where operators already look: a Prometheus textfile and the `route_metrics` asset.

`metrics_textfile_sensor` rewrites `torghut.prom` (atomically) every minute for node-exporter's textfile
collector, from the code-location process, which is long-lived and the same in every deployment (run
pods come and go). When the figures changed it also requests a `route_metrics` run, whose numeric
metadata the UI plots over time. `torghut-assets metrics serve` serves the same text for a direct
scrape. See docs/alerts-and-metrics.md.
"""

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from torghut_assets.adapters.prometheus_text import TEXTFILE_NAME, render, write_textfile
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.route_metrics import metadata_figures
from torghut_assets.services.route_metrics import compute_samples, samples_digest


class MetricsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the textfile goes: `TORGHUT_METRICS_TEXTFILE_DIR`, else `$DAGSTER_HOME/metrics`."""

    textfile_dir: str | None = None

    def directory(self) -> Path:
        if self.textfile_dir:
            return Path(self.textfile_dir)
        home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
        return home / "metrics"


@dg.asset(
    group_name="governance",
    deps=["signals", "trade_decisions", "llm_decision_reviews", "executions"],
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
            # not an artifact: the node exporter's textfile collector reads it on the code location's host,
            # so it is named as text; the same figures are served live by `torghut-assets metrics serve`
            "textfile": dg.MetadataValue.text(
                f"{metrics.directory() / TEXTFILE_NAME} on the code location's host (node exporter textfile)"
            ),
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
