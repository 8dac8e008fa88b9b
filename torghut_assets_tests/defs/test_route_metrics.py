"""Operator metrics in Prometheus text, on SQLite and PostgreSQL: after real lane windows, every counter
equals what the ledger holds, whether scraped over HTTP, read from the textfile or plotted as metadata.

The ledger: two lanes' open-market windows through the whole pipeline (LLM advisory on, its endpoint
answering garbage, so its error ratio is 1), plus one window routed while the LEAN runner answers 500,
so executions fall back from LEAN to the simulated broker.
"""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from torghut_assets.adapters.prometheus_text import TEXTFILE_NAME, render, serve
from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource
from torghut_assets.defs.routing.route_metrics import (
    MetricsResource,
    metrics_textfile_sensor,
    route_metrics,
)
from torghut_assets.domain.continuity import ContinuityConfig
from torghut_assets.domain.route_metrics import Sample
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.continuity import evaluate_lane
from torghut_assets.services.route_metrics import compute_samples
from torghut_assets_tests.adapters.lean_stub import LeanStub
from torghut_assets_tests.adapters.llm_stub import LlmStub
from torghut_assets_tests.defs.lane_window_harness import (
    OPEN_WINDOW,
    materialize_window,
    resources,
    trading_as_open_window,
)

FALLBACK_WINDOW = OPEN_WINDOW + pd.Timedelta(hours=1)
REVIEWED_AT = (
    OPEN_WINDOW + pd.Timedelta(hours=2)
).to_pydatetime()  # the LLM's 24 h window covers the reviews


@dataclass
class Metered:
    url: str
    root: Path

    def ledger(self) -> LedgerResource:
        return LedgerResource(database_url=self.url, artifact_root=str(self.root / "artifacts"))

    def query(self, statement: sa.Select[Any]) -> list[tuple[Any, ...]]:
        engine = create_ledger_engine(self.url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(statement)]
        finally:
            engine.dispose()

    def samples(self, now: dt.datetime | None = None) -> list[Sample]:
        with self.ledger().read() as conn:
            return compute_samples(conn, now or dt.datetime.now(dt.UTC))


@pytest.fixture(scope="module")
def metered(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> Metered:
    root = tmp_path_factory.mktemp("metered")
    artifacts = root / "artifacts"
    materialize_window(module_ledger_url, artifacts, "ema_trend", OPEN_WINDOW)
    with LlmStub(mode="malformed") as llm_stub:
        llm = LLMAdvisoryResource(
            enabled=True,
            base_url=llm_stub.url,
            model="stub-model",
            timeout_seconds=0.3,
            connect_timeout_seconds=0.3,
        )
        dg.materialize(
            LANE_WINDOW_ASSETS,
            partition_key=lane_window_key("macd_rsi", OPEN_WINDOW),
            resources={**resources(module_ledger_url, artifacts), "llm": llm},
            instance=dg.DagsterInstance.ephemeral(),
        )
    with LeanStub(mode="http_500") as lean:
        broker = BrokerResource(lean_runner_url=lean.url, lean_timeout_seconds=0.3)
        dg.materialize(
            [signals, trade_decisions, executions],
            partition_key=lane_window_key("macd_rsi", FALLBACK_WINDOW),
            resources={
                **resources(module_ledger_url, artifacts),
                "broker": broker,
                "trading_session": trading_as_open_window(FALLBACK_WINDOW),
            },
            instance=dg.DagsterInstance.ephemeral(),
        )
    return Metered(module_ledger_url, root)


def _series(text: str, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one family, keyed by their sorted labels."""
    (found,) = [f for f in text_string_to_metric_families(text) if f.name == family]
    return {tuple(sorted(s.labels.items())): s.value for s in found.samples}


@pytest.fixture
def scraped(metered: Metered) -> Iterator[str]:
    server, _ = serve(metered.samples, host="127.0.0.1", port=0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as answer:
            assert answer.status == 200
            yield answer.read().decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()


def test_scraped_route_counters_equal_the_ledgers_executions_by_route(metered: Metered, scraped: str) -> None:
    e = schema.executions
    counts = metered.query(
        sa.select(e.c.execution_expected_adapter, e.c.execution_actual_adapter, sa.func.count()).group_by(
            e.c.execution_expected_adapter, e.c.execution_actual_adapter
        )
    )
    expected = {(("actual_adapter", act), ("expected_adapter", exp)): float(n) for exp, act, n in counts}
    assert len(expected) >= 2  # at least the direct route and the LEAN fallback
    assert _series(scraped, "torghut_execution_route_transitions") == expected


def test_scraped_fallbacks_by_reason_equal_the_ledger(metered: Metered, scraped: str) -> None:
    e = schema.executions
    counts = metered.query(
        sa.select(e.c.execution_fallback_reason, sa.func.count())
        .where(e.c.execution_fallback_count > 0)
        .group_by(e.c.execution_fallback_reason)
    )
    assert counts and all(str(reason).startswith("lean_submit_order_http_500") for reason, _ in counts)
    assert _series(scraped, "torghut_execution_fallbacks") == {(("reason", r),): float(n) for r, n in counts}


def test_scraped_signal_and_decision_counters_equal_the_ledger_per_lane(
    metered: Metered, scraped: str
) -> None:
    w, d = schema.signal_ingest_windows, schema.trade_decisions
    signals_by_lane = metered.query(sa.select(w.c.lane, sa.func.sum(w.c.signals_total)).group_by(w.c.lane))
    decisions = metered.query(sa.select(d.c.lane, d.c.status, sa.func.count()).group_by(d.c.lane, d.c.status))
    assert _series(scraped, "torghut_signals_ingested") == {
        (("lane", lane),): float(n) for lane, n in signals_by_lane
    }
    assert _series(scraped, "torghut_trade_decisions") == {
        (("lane", lane), ("status", status)): float(n) for lane, status, n in decisions
    }


def test_the_llm_error_ratio_covers_the_error_budget_window(metered: Metered) -> None:
    """Every call the advisory made failed; the calls the open circuit skipped are not attempts."""
    text = render(metered.samples(REVIEWED_AT))
    assert _series(text, "torghut_llm_error_ratio") == {
        (("lane", "ema_trend"),): 0.0,
        (("lane", "macd_rsi"),): 1.0,
    }
    r = schema.llm_decision_reviews
    made = metered.query(
        sa.select(sa.func.count()).where(
            r.c.lane == "macd_rsi",
            sa.or_(r.c.error_kind.is_(None), r.c.error_kind.not_in(["circuit_open", "blocked"])),
        )
    )[0][0]
    assert _series(text, "torghut_llm_reviews_attempted")[(("lane", "macd_rsi"),)] == float(made) > 0


def test_the_continuity_gauges_show_each_lanes_latch_and_emergency_stop(
    ledger_url: str, tmp_path: Path
) -> None:
    ledger = LedgerResource(database_url=ledger_url, artifact_root=str(tmp_path))
    monday_afternoon = pd.Timestamp("2026-03-02 18:30", tz="UTC")  # nothing materialized: silence latches
    evaluate_lane(ledger, "macd_rsi", monday_afternoon, ContinuityConfig())
    with ledger.read() as conn:
        text = render(compute_samples(conn, dt.datetime.now(dt.UTC)))
    assert _series(text, "torghut_signal_continuity_alert_active") == {(("lane", "macd_rsi"),): 1.0}
    assert _series(text, "torghut_emergency_stop_active") == {(("lane", "macd_rsi"),): 1.0}


def _sensor_tick(metered: Metered, directory: Path, cursor: str | None) -> tuple[Any, str | None]:
    res = {
        "ledger": metered.ledger(),
        "llm": LLMAdvisoryResource(),
        "metrics": MetricsResource(textfile_dir=str(directory)),
    }
    with dg.build_sensor_context(resources=res, cursor=cursor) as context:
        result = metrics_textfile_sensor(context)
        return result, result.cursor if isinstance(result, dg.SensorResult) else context.cursor


def test_the_sensor_writes_a_textfile_whose_route_counters_equal_the_ledger(
    metered: Metered, tmp_path: Path
) -> None:
    _sensor_tick(metered, tmp_path, None)
    assert [p.name for p in tmp_path.iterdir()] == [TEXTFILE_NAME]  # the temporary file was renamed away
    text = (tmp_path / TEXTFILE_NAME).read_text(encoding="utf-8")
    e = schema.executions
    total = metered.query(sa.select(sa.func.count()).select_from(e))[0][0]
    assert sum(_series(text, "torghut_execution_route_transitions").values()) == float(total)


def test_the_sensor_requests_a_metrics_run_only_when_the_figures_change(
    metered: Metered, tmp_path: Path
) -> None:
    first, cursor = _sensor_tick(metered, tmp_path, None)
    second, _ = _sensor_tick(metered, tmp_path, cursor)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    assert isinstance(second, dg.SkipReason) and "unchanged" in str(second.skip_message)


def test_the_asset_records_the_same_figures_as_numeric_metadata(metered: Metered, scraped: str) -> None:
    result = dg.materialize(
        [route_metrics],
        resources={
            "ledger": metered.ledger(),
            "llm": LLMAdvisoryResource(),
            "metrics": MetricsResource(textfile_dir=str(metered.root / "metrics")),
            "alerts": AlertsResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    metadata = result.asset_materializations_for_node("route_metrics")[0].metadata
    routes = {k: v for k, v in metadata.items() if k.startswith("execution_route_transitions/")}
    assert routes and all(isinstance(v, dg.IntMetadataValue) for v in routes.values())
    served = _series(scraped, "torghut_execution_route_transitions")
    assert {k: v.value for k, v in routes.items()} == {
        "execution_route_transitions/{expected_adapter}/{actual_adapter}".format(**dict(labels)): int(n)
        for labels, n in served.items()
    }
    assert isinstance(metadata["llm_error_ratio/macd_rsi"], dg.FloatMetadataValue)
