"""Each safety threshold, set under the reference's variable name, changes what the controls do.

One scenario per variable: the same windows judged under the default and under the set value must
come out differently, and the value must reach the resource the sensor or the executions step reads.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from torghut_assets.config_registry import SETTINGS
from torghut_assets.definitions import default_resources
from torghut_assets.defs.resources import BrokerResource
from torghut_assets.domain.continuity import (
    ContinuityConfig,
    ContinuityState,
    RiskObservation,
    Staleness,
    WindowObservation,
    classify_staleness,
    step,
)
from torghut_assets.domain.routing import Venue
from torghut_assets.settings import SettingsError, load_settings

OPEN = pd.Timestamp("2026-03-02 15:00", tz="UTC")
FRIDAY_CLOSE = pd.Timestamp("2026-03-06 21:00", tz="UTC")


def at(i: int) -> pd.Timestamp:
    return OPEN + pd.Timedelta(hours=i)


def empty(i: int, reason: str = "no_signals_in_window", lag: float | None = None) -> WindowObservation:
    return WindowObservation(at(i), 0, reason, True, lag)


def full(i: int, **risk: float) -> WindowObservation:
    return WindowObservation(at(i), 480, None, True, None, risk=RiskObservation(**risk))  # type: ignore[arg-type]


def run(config: ContinuityConfig, windows: list[WindowObservation]) -> ContinuityState:
    state = ContinuityState(lane="macd_rsi")
    for obs in windows:
        state, _ = step(state, obs, config)
    return state


Scenario = Callable[[ContinuityConfig], object]

CONTINUITY_SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "TRADING_SIGNAL_NO_SIGNAL_STREAK_ALERT_THRESHOLD": (
        "3",
        lambda c: run(c, [empty(0), empty(1)]).alert_active,
    ),
    "TRADING_SIGNAL_STALE_LAG_ALERT_SECONDS": (
        "100",
        lambda c: run(c, [empty(0, "cursor_ahead_of_stream", lag=150.0)]).alert_active,
    ),
    "TRADING_SIGNAL_CONTINUITY_RECOVERY_CYCLES": (
        "1",
        lambda c: run(c, [empty(0), empty(1), full(2)]).alert_active,
    ),
    "TRADING_SIGNAL_STALENESS_ALERT_CRITICAL_REASONS": (
        "cursor_ahead_of_stream",
        lambda c: run(c, [empty(0), empty(1), empty(2)]).emergency_stop_active,
    ),
    "TRADING_SIGNAL_MARKET_CLOSED_EXPECTED_REASONS": (
        "no_signals_in_window",
        lambda c: (
            classify_staleness(
                WindowObservation(FRIDAY_CLOSE + pd.Timedelta(hours=3), 0, "market_closed", False, None), c
            )
            == Staleness.ACTIONABLE
        ),
    ),
    "TORGHUT_SESSION_CLOSE_TOLERANCE_SECONDS": (
        "7200",
        lambda c: classify_staleness(
            WindowObservation(
                FRIDAY_CLOSE + pd.Timedelta(hours=3),
                0,
                "market_closed",
                False,
                None,
                newest_signal_ts=FRIDAY_CLOSE - pd.Timedelta(hours=1),
            ),
            c,
        ),
    ),
    "TRADING_EMERGENCY_STOP_ENABLED": (
        "false",
        lambda c: run(c, [empty(0), empty(1), empty(2)]).emergency_stop_active,
    ),
    "TRADING_EMERGENCY_STOP_RECOVERY_CYCLES": (
        "1",
        lambda c: run(c, [empty(0, "cursor_ahead_of_stream", lag=900.0), full(1)]).emergency_stop_active,
    ),
    "TRADING_ROLLBACK_SIGNAL_LAG_SECONDS_LIMIT": (
        "1000",
        lambda c: run(c, [empty(0, "cursor_ahead_of_stream", lag=900.0)]).emergency_stop_active,
    ),
    "TRADING_ROLLBACK_SIGNAL_STALENESS_ALERT_STREAK_LIMIT": (
        "5",
        lambda c: run(c, [empty(i) for i in range(3)]).emergency_stop_active,
    ),
    "TRADING_ROLLBACK_AUTONOMY_FAILURE_STREAK_LIMIT": (
        "5",
        lambda c: run(c, [full(0, autonomy_failure_streak=3)]).emergency_stop_active,
    ),
    "TRADING_ROLLBACK_FALLBACK_RATIO_LIMIT": (
        "0.5",
        lambda c: run(c, [full(0, execution_fallback_ratio=0.3)]).emergency_stop_active,
    ),
    "TRADING_ROLLBACK_MAX_DRAWDOWN_LIMIT": (
        "0.2",
        lambda c: run(c, [full(0, max_drawdown=0.1)]).emergency_stop_active,
    ),
    "TRADING_LEAN_LIVE_CANARY_ENABLED": (
        "true",
        lambda c: run(c, [full(0, lean_canary_fallback_ratio=0.5)]).emergency_stop_active,
    ),
}

CANARY_ON = {"TRADING_LEAN_LIVE_CANARY_ENABLED": "true"}
CANARY_SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "TRADING_LEAN_LIVE_CANARY_FALLBACK_RATIO_LIMIT": (
        "0.6",
        lambda c: run(c, [full(0, lean_canary_fallback_ratio=0.5)]).emergency_stop_active,
    ),
    "TRADING_LEAN_LIVE_CANARY_HARD_ROLLBACK_ENABLED": (
        "false",
        lambda c: run(c, [full(0, lean_canary_fallback_ratio=0.5)]).emergency_stop_active,
    ),
}


def continuity(env: dict[str, str]) -> ContinuityConfig:
    return load_settings(env).safety.continuity


@pytest.mark.parametrize("name", sorted(CONTINUITY_SCENARIOS))
def test_each_continuity_threshold_changes_what_the_state_machine_does(name: str) -> None:
    value, scenario = CONTINUITY_SCENARIOS[name]
    assert scenario(continuity({})) != scenario(continuity({name: value}))


@pytest.mark.parametrize("name", sorted(CANARY_SCENARIOS))
def test_each_live_canary_threshold_changes_what_the_canary_does(name: str) -> None:
    value, scenario = CANARY_SCENARIOS[name]
    assert scenario(continuity(CANARY_ON)) != scenario(continuity({**CANARY_ON, name: value}))


def test_the_defaults_are_the_reference_defaults_except_the_enabled_emergency_stop() -> None:
    config = continuity({})
    assert (
        config.no_signal_streak_alert_threshold,
        config.stale_lag_alert_seconds,
        config.recovery_cycles,
    ) == (
        2,
        300.0,
        2,
    )
    assert (config.emergency_recovery_cycles, config.signal_lag_seconds_limit) == (3, 600.0)
    assert (config.staleness_alert_streak_limit, config.autonomy_failure_streak_limit) == (3, 3)
    assert (config.fallback_ratio_limit, config.max_drawdown_limit) == (0.25, 0.08)
    assert config.emergency_stop_enabled and not config.lean_live_canary_enabled


def test_the_configured_thresholds_reach_the_continuity_sensors_resource() -> None:
    settings = load_settings({"TRADING_EMERGENCY_STOP_RECOVERY_CYCLES": "7"})
    assert default_resources(settings)["continuity"].config().emergency_recovery_cycles == 7  # type: ignore[attr-defined]


class UnhealthyLean:
    calls = 0

    def healthy(self) -> bool:
        UnhealthyLean.calls += 1
        return False


def test_an_unhealthy_runner_is_not_used_when_health_is_required() -> None:
    broker = default_resources(load_settings({}))["broker"]
    assert isinstance(broker, BrokerResource)
    assert not broker.lean_usable({Venue.LEAN: UnhealthyLean()})  # type: ignore[dict-item]


def test_trading_lean_runner_require_healthy_false_routes_to_an_unhealthy_runner() -> None:
    broker = default_resources(load_settings({"TRADING_LEAN_RUNNER_REQUIRE_HEALTHY": "false"}))["broker"]
    assert broker.lean_usable({Venue.LEAN: UnhealthyLean()})  # type: ignore[attr-defined]


def test_trading_lean_runner_healthcheck_enabled_false_never_asks_the_runner() -> None:
    broker = default_resources(load_settings({"TRADING_LEAN_RUNNER_HEALTHCHECK_ENABLED": "false"}))["broker"]
    before = UnhealthyLean.calls
    assert broker.lean_usable({Venue.LEAN: UnhealthyLean()})  # type: ignore[attr-defined]
    assert UnhealthyLean.calls == before


@pytest.mark.parametrize(
    ("name", "attribute"),
    [
        ("TRADING_LEAN_RUNNER_TIMEOUT_SECONDS", "timeout_seconds"),
        ("TRADING_LEAN_RUNNER_HEALTHCHECK_TIMEOUT_SECONDS", "healthcheck_timeout_seconds"),
    ],
)
def test_each_lean_runner_budget_reaches_the_runner_client(name: str, attribute: str) -> None:
    env = {"TRADING_LEAN_RUNNER_URL": "http://lean-runner:8080", name: "1.5"}
    broker = default_resources(load_settings(env))["broker"]
    venue = broker.venues(pd.DataFrame())[Venue.LEAN]  # type: ignore[attr-defined]
    assert getattr(venue, attribute) == 1.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRADING_SIGNAL_CONTINUITY_RECOVERY_CYCLES", "0", "must be a whole number >= 1"),
        ("TRADING_ROLLBACK_MAX_DRAWDOWN_LIMIT", "-0.1", "must be > 0"),
        ("TRADING_LEAN_RUNNER_TIMEOUT_SECONDS", "0", "must be > 0 and at most 120 seconds"),
        (
            "TRADING_SIGNAL_STALENESS_ALERT_CRITICAL_REASONS",
            "no_signal_in_window",
            "unknown no-signal reason",
        ),
        ("TRADING_EMERGENCY_STOP_ENABLED", "maybe", "is not a boolean"),
    ],
)
def test_a_bad_threshold_is_refused_at_load_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({name: value})
    assert any(name in p and message in p for p in refused.value.problems)


def test_every_threshold_is_declared_once_in_the_registry() -> None:
    names = {*CONTINUITY_SCENARIOS, *CANARY_SCENARIOS}
    names |= {
        "TRADING_LEAN_RUNNER_TIMEOUT_SECONDS",
        "TRADING_LEAN_RUNNER_HEALTHCHECK_ENABLED",
        "TRADING_LEAN_RUNNER_HEALTHCHECK_TIMEOUT_SECONDS",
        "TRADING_LEAN_RUNNER_REQUIRE_HEALTHY",
    }
    assert names <= set(SETTINGS)
