"""The code location: `torghut_assets.definitions:defs`.

Loading validates the settings (see `settings.py`) and connects to nothing.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from torghut_assets.defs.alerts import alert_retry_sensor, alerts_resource
from torghut_assets.defs.approvals import approval_overrides
from torghut_assets.defs.assets.executions import executions
from torghut_assets.defs.assets.llm_reviews import llm_decision_reviews
from torghut_assets.defs.assets.research import (
    research_candidates,
    research_fold_metrics,
    research_promotions,
    research_runs,
    research_stress_metrics,
)
from torghut_assets.defs.assets.signals import signals
from torghut_assets.defs.assets.trading import trade_decisions
from torghut_assets.defs.checks import signals_landed_before_deadline, signals_match_ingest_verdict
from torghut_assets.defs.continuity import (
    clear_emergency_stop_job,
    signal_continuity,
    signal_continuity_job,
    signal_continuity_sensor,
)
from torghut_assets.defs.continuity_thresholds import ContinuityThresholdsResource
from torghut_assets.defs.governance_resource import GovernanceResource
from torghut_assets.defs.jobs import lane_window_job
from torghut_assets.defs.live_reevaluation import live_reevaluation_job, live_reevaluation_sensor
from torghut_assets.defs.llm_advisory import llm_advisory_resource
from torghut_assets.defs.open_window import build_open_window_sensor
from torghut_assets.defs.operational_readiness import operational_readiness
from torghut_assets.defs.profitability import profitability_runtime
from torghut_assets.defs.promotion import promotion_job
from torghut_assets.defs.promotion_timeline import (
    promotion_timeline,
    promotion_timeline_job,
    promotion_timeline_sensor,
)
from torghut_assets.defs.readiness_report import readiness_report_asset
from torghut_assets.defs.reconciliation import (
    ReconciliationResource,
    nightly_reconciliation_job,
    nightly_reconciliation_schedule,
    reconciliation_report,
)
from torghut_assets.defs.replay import replay_job
from torghut_assets.defs.research_inputs import ResearchResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.defs.rollback import rollback_drift_sensor, rollback_job
from torghut_assets.defs.route_controls import set_route_control
from torghut_assets.defs.route_metrics import (
    MetricsResource,
    metrics_textfile_sensor,
    route_metrics,
    route_metrics_job,
)
from torghut_assets.defs.route_parity import route_parity
from torghut_assets.defs.schedules import (
    governance_reports_job,
    governance_reports_schedule,
    lane_window_schedule,
)
from torghut_assets.defs.trading_session import TradingSessionResource
from torghut_assets.settings import Settings, load_settings

LANE_WINDOW_ASSETS = [
    signals,
    trade_decisions,
    executions,
    research_runs,
    research_candidates,
    research_fold_metrics,
    research_stress_metrics,
    research_promotions,
    llm_decision_reviews,
]


def market_data_resource(settings: Settings) -> MarketDataResource:
    """Secrets go in as `EnvVar`, so Dagster resolves them at run time and never shows them."""
    source = settings.effective_signal_source
    secrets: dict[str, Any] = {}
    if source == "sql":
        secrets["sql_url"] = dg.EnvVar("TORGHUT_SIGNAL_SOURCE_URL")
    if source == "alpaca":
        secrets["alpaca_api_key_id"] = dg.EnvVar("APCA_API_KEY_ID")
        secrets["alpaca_secret_key"] = dg.EnvVar("APCA_API_SECRET_KEY")
    return MarketDataResource(
        source=source,
        symbols=list(settings.static_symbols),
        universe_source=settings.universe_source,
        jangar_url=settings.jangar_url,
        universe_cache_seconds=settings.universe_cache_seconds,
        universe_max_stale_seconds=settings.universe_max_stale_seconds,
        universe_timeout_seconds=settings.universe_timeout_seconds,
        sql_table=settings.signal_table,
        alpaca_data_url=settings.alpaca_data_url,
        fallback_note=settings.fallback_note,
        feature_max_required_null_rate=settings.feature_quality_limits.max_required_null_rate,
        feature_max_staleness_ms=settings.feature_quality_limits.max_staleness_ms,
        feature_max_duplicate_ratio=settings.feature_quality_limits.max_duplicate_ratio,
        feature_warmup_minutes=settings.feature_quality_limits.warmup_minutes,
        **secrets,
    )


def broker_resource(settings: Settings) -> BrokerResource:
    keys: dict[str, Any] = {}
    if settings.alpaca_credentials_set:
        keys = {
            "alpaca_api_key_id": dg.EnvVar("APCA_API_KEY_ID"),
            "alpaca_secret_key": dg.EnvVar("APCA_API_SECRET_KEY"),
        }
    return BrokerResource(
        lean_runner_url=settings.lean_runner_url,
        alpaca_trading_url=settings.alpaca_trading_url,
        adapter_policy=settings.execution_policy,
        adapter_symbols=list(settings.execution_symbols),
        fallback_adapter=settings.fallback_adapter,
        paper_simulator_fallback=settings.profile != "production",
        lean_timeout_seconds=settings.safety.lean.timeout_seconds,
        lean_healthcheck_enabled=settings.safety.lean.healthcheck_enabled,
        lean_healthcheck_timeout_seconds=settings.safety.lean.healthcheck_timeout_seconds,
        lean_require_healthy=settings.safety.lean.require_healthy,
        **keys,
    )


def trading_session_resource(settings: Settings) -> TradingSessionResource:
    return TradingSessionResource(
        lane_modes=",".join(f"{lane}={mode.value}" for lane, mode in sorted(settings.lane_modes.items())),
        planned_decision_timeout_seconds=settings.planned_decision_timeout_seconds,
        strategy_timeout_seconds=settings.strategy_timeout_seconds,
    )


def governance_resource(settings: Settings) -> GovernanceResource:
    secret: dict[str, Any] = {}
    if settings.approval_secret_set:
        secret["approval_secret"] = dg.EnvVar("TORGHUT_APPROVAL_SECRET")
    return GovernanceResource(
        policy_path=settings.gate_policy_path,
        approvers_path=settings.approvers_path,
        profile=settings.profile,
        allow_dev_secret=settings.profile != "production",
        llm_enabled=settings.llm_policy.enabled and settings.llm_note is None,
        **secret,
    )


def default_resources(settings: Settings | None = None) -> dict[str, object]:
    settings = settings or load_settings()
    return {
        "governance": governance_resource(settings),
        "ledger": LedgerResource(),
        "market_data": market_data_resource(settings),
        "broker": broker_resource(settings),
        "trading_session": trading_session_resource(settings),
        "continuity": ContinuityThresholdsResource.from_config(settings.safety.continuity),
        "research_settings": ResearchResource(strategy_timeout_seconds=settings.strategy_timeout_seconds),
        "reconciliation": ReconciliationResource(),
        "llm": llm_advisory_resource(settings),
        "alerts": alerts_resource(settings.alert_webhook_url_set),
        "metrics": MetricsResource(textfile_dir=settings.metrics_textfile_dir),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    return dg.Definitions(
        assets=[
            *LANE_WINDOW_ASSETS,
            signal_continuity,
            route_parity,
            reconciliation_report,
            approval_overrides,
            operational_readiness,
            promotion_timeline,
            profitability_runtime,
            readiness_report_asset,
            route_metrics,
        ],
        asset_checks=[signals_match_ingest_verdict, signals_landed_before_deadline],
        jobs=[
            lane_window_job,
            signal_continuity_job,
            clear_emergency_stop_job,
            set_route_control,
            replay_job,
            nightly_reconciliation_job,
            promotion_job,
            rollback_job,
            live_reevaluation_job,
            promotion_timeline_job,
            governance_reports_job,
            route_metrics_job,
        ],
        schedules=[
            lane_window_schedule,
            nightly_reconciliation_schedule(settings.reconciliation_timezone),
            governance_reports_schedule,
        ],
        sensors=[
            signal_continuity_sensor,
            rollback_drift_sensor,
            live_reevaluation_sensor,
            promotion_timeline_sensor,
            alert_retry_sensor,
            metrics_textfile_sensor,
            build_open_window_sensor(settings.open_window_interval_seconds),
        ],
        resources=default_resources(settings),
    )


defs = build_definitions()
