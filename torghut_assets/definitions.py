"""The code location: `torghut_assets.definitions:defs`, autoloaded from `defs/` (docs/architecture.md).

Loading validates the settings (see `settings.py`) and connects to nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from torghut_assets.defs.alerts import alerts_resource
from torghut_assets.defs.continuity.thresholds import ContinuityThresholdsResource
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.open_window import build_open_window_sensor
from torghut_assets.defs.lane_window.research import (
    research_candidates,
    research_fold_metrics,
    research_promotions,
    research_runs,
    research_stress_metrics,
)
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.llm.llm_advisory import llm_advisory_resource
from torghut_assets.defs.llm.llm_reviews import llm_decision_reviews
from torghut_assets.defs.reconciliation.nightly import ReconciliationResource, nightly_reconciliation_schedule
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.defs.routing.route_metrics import MetricsResource
from torghut_assets.market_data_config import market_data_config
from torghut_assets.settings import Settings, load_settings

PACKAGE_ROOT = Path(__file__).parent

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
    """Built from `market_data_config`, as `torghut-assets replay` builds its source; secrets go in as
    `EnvVar`, so Dagster resolves them at run time and never shows them."""
    config = market_data_config(settings)
    secrets: dict[str, Any] = {name: dg.EnvVar(variable) for name, variable in config.secrets.items()}
    return MarketDataResource(**config.values, **secrets)


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


def settings_bound_definitions(settings: Settings) -> dg.Definitions:
    """What the settings shape: the resources (merged here once, for every folder under `defs/`), the
    nightly reconciliation's timezone and the open-window sensor's interval."""
    return dg.Definitions(
        schedules=[nightly_reconciliation_schedule(settings.reconciliation_timezone)],
        sensors=[build_open_window_sensor(settings.open_window_interval_seconds)],
        resources=default_resources(settings),
    )


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor declared under `defs/` (one folder per domain,
    autoloaded), plus what the settings shape."""
    settings = settings or load_settings()
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=PACKAGE_ROOT),
        settings_bound_definitions(settings),
    )


defs = build_definitions()
