"""The code location as users see it: asset graph, job, schedule, partitions."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from torghut_assets.definitions import defs
from torghut_assets.defs.lane_window.checks import (
    signals_landed_before_deadline,
    signals_match_ingest_verdict,
)
from torghut_assets.defs.lane_window.partitions import (
    lane_window_from_key,
    lane_window_key,
    lane_window_partitions,
)
from torghut_assets.defs.lane_window.schedules import lane_window_schedule

EXPECTED_GRAPH = {
    "signals": set(),
    "trade_decisions": {"signals"},
    "llm_decision_reviews": {"trade_decisions"},
    "executions": {"trade_decisions", "llm_decision_reviews"},
    "research_runs": {"signals", "trade_decisions", "executions"},
    "research_candidates": {"research_runs"},
    "research_fold_metrics": {"research_candidates"},
    "research_stress_metrics": {"research_fold_metrics"},
    "research_promotions": {"research_stress_metrics"},
}
LANE_WINDOW_LEDGER = set(EXPECTED_GRAPH) - {"llm_decision_reviews"}
# Each governance asset depends on the assets whose rows it reads. Operational readiness and the promotion
# timeline read only what jobs write (drills, stage transitions, incidents): no asset is upstream of them.
GOVERNANCE_ASSETS = {
    "signal_continuity": {"signals"},
    "route_parity": {"trade_decisions"},
    "reconciliation_report": LANE_WINDOW_LEDGER,
    "approval_overrides": {"research_candidates", "research_promotions"},
    "operational_readiness": set(),
    "promotion_timeline": set(),
    "profitability_runtime": {"executions", "trade_decisions", "research_promotions"},
    "readiness_report": LANE_WINDOW_LEDGER,
    "route_metrics": {"signals", "trade_decisions", "llm_decision_reviews", "executions"},
    "promotion_decision": {
        "research_candidates",
        "research_promotions",
        "operational_readiness",
        "route_parity",
        "signal_continuity",
    },
}
RESEARCH_ASSETS = {"research_leaderboard": {"research_candidates"}}


def _asset_graph() -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }


def test_asset_graph_matches_the_lane_window_pipeline() -> None:
    assert _asset_graph() == {**EXPECTED_GRAPH, **GOVERNANCE_ASSETS, **RESEARCH_ASSETS}


def test_every_lane_window_asset_is_partitioned_by_lane_and_window() -> None:
    graph = defs.resolve_asset_graph()
    for name in EXPECTED_GRAPH:
        node = graph.get(dg.AssetKey(name))
        assert node.partitions_def == lane_window_partitions and node.group_name == "lane_window", name


def test_every_asset_has_a_description() -> None:
    graph = defs.resolve_asset_graph()
    assert all(graph.get(key).description for key in graph.get_all_asset_keys())


def test_signal_checks_run_per_lane_window_and_integrity_blocks_downstream() -> None:
    names = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {
        "signals_match_ingest_verdict",
        "signals_landed_before_deadline",
        "no_continuity_alert_latched",
    } <= names
    (integrity,) = signals_match_ingest_verdict.check_specs
    (lateness,) = signals_landed_before_deadline.check_specs
    assert integrity.blocking and not lateness.blocking


def test_partition_keys_round_trip_to_lane_windows() -> None:
    start = pd.Timestamp("2026-03-03 15:00", tz="UTC")
    window = lane_window_from_key(str(lane_window_key("ema_trend", start)))
    assert (window.lane, window.start, window.end) == ("ema_trend", start, start + pd.Timedelta(hours=1))


def test_schedule_requests_the_window_that_just_closed_for_every_lane() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=pd.Timestamp("2026-03-03 16:05", tz="UTC"))
    requests = lane_window_schedule(context)
    assert sorted(str(r.partition_key) for r in requests) == [
        "ema_trend|2026-03-03-15:00",
        "macd_rsi|2026-03-03-15:00",
    ]
    assert len({r.run_key for r in requests}) == 2


def test_nightly_reconciliation_is_scheduled_with_every_chain_check() -> None:
    schedule = defs.resolve_schedule_def("nightly_reconciliation_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 2 * * *", "America/New_York")
    names = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"evidence_chain_verifies", "executions_match_broker", "row_count_floors"} <= names


def test_promotion_and_rollback_jobs_are_launchable_with_typed_config() -> None:
    promotion = defs.resolve_job_def("promotion_job")
    rollback = defs.resolve_job_def("rollback_job")
    promotion_fields = set(promotion.run_config_schema.config_type.fields["ops"].config_type.fields)
    assert promotion_fields == {"promotion_decision"}
    assert {"apply_rollback"} == set(rollback.run_config_schema.config_type.fields["ops"].config_type.fields)


def test_governance_sensors_are_registered() -> None:
    names = {s.name for s in defs.sensors or []}
    assert {
        "signal_continuity_sensor",
        "rollback_drift_sensor",
        "live_reevaluation_sensor",
        "promotion_timeline_sensor",
    } <= names


def test_live_re_evaluation_runs_without_a_human_from_its_sensor() -> None:
    sensor = defs.resolve_sensor_def("live_reevaluation_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "live_reevaluation_job"
    job = defs.resolve_job_def("live_reevaluation_job")
    assert set(job.run_config_schema.config_type.fields["ops"].config_type.fields) == {
        "reevaluate_live_champion"
    }
