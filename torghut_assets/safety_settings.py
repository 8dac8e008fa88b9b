"""The safety-control thresholds a desk tunes: signal continuity, the emergency stop, the LEAN runner's
time budgets and health rule, and the LEAN live canary — under the reference's names and defaults.

Declared in `config_registry` like every other variable; read here into the domain's own types so the
continuity state machine and the broker resource never see raw strings. Every problem is returned at
once, each naming its variable, and a bad value leaves that threshold at its default (the load fails
anyway, so the default is never used for trading).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from torghut_assets.config_registry import SETTINGS, in_effect
from torghut_assets.domain.continuity import ContinuityConfig
from torghut_assets.env_setting import TRUE_WORDS

CONTINUITY_INTS = {
    "TRADING_SIGNAL_NO_SIGNAL_STREAK_ALERT_THRESHOLD": "no_signal_streak_alert_threshold",
    "TRADING_SIGNAL_CONTINUITY_RECOVERY_CYCLES": "recovery_cycles",
    "TRADING_EMERGENCY_STOP_RECOVERY_CYCLES": "emergency_recovery_cycles",
    "TRADING_ROLLBACK_SIGNAL_STALENESS_ALERT_STREAK_LIMIT": "staleness_alert_streak_limit",
    "TRADING_ROLLBACK_AUTONOMY_FAILURE_STREAK_LIMIT": "autonomy_failure_streak_limit",
}
CONTINUITY_POSITIVE_FLOATS = {
    "TRADING_SIGNAL_STALE_LAG_ALERT_SECONDS": "stale_lag_alert_seconds",
    "TRADING_ROLLBACK_SIGNAL_LAG_SECONDS_LIMIT": "signal_lag_seconds_limit",
    "TRADING_ROLLBACK_FALLBACK_RATIO_LIMIT": "fallback_ratio_limit",
    "TRADING_ROLLBACK_MAX_DRAWDOWN_LIMIT": "max_drawdown_limit",
    "TRADING_LEAN_LIVE_CANARY_FALLBACK_RATIO_LIMIT": "lean_live_canary_fallback_ratio_limit",
}
CONTINUITY_BOOLS = {
    "TRADING_EMERGENCY_STOP_ENABLED": "emergency_stop_enabled",
    "TRADING_LEAN_LIVE_CANARY_ENABLED": "lean_live_canary_enabled",
    "TRADING_LEAN_LIVE_CANARY_HARD_ROLLBACK_ENABLED": "lean_live_canary_hard_rollback_enabled",
}
CONTINUITY_REASON_LISTS = {
    "TRADING_SIGNAL_STALENESS_ALERT_CRITICAL_REASONS": "critical_reasons",
    "TRADING_SIGNAL_MARKET_CLOSED_EXPECTED_REASONS": "market_closed_expected_reasons",
}
SESSION_CLOSE_TOLERANCE = "TORGHUT_SESSION_CLOSE_TOLERANCE_SECONDS"
# Every no-signal reason a window can carry (docs/continuity.md taxonomy), plus the reference's cursor-mode
# ones it accepts in these lists; source failures are a family (`source_http_503`, ...).
KNOWN_NO_SIGNAL_REASONS = frozenset(
    {
        "no_signals_in_window",
        "cursor_ahead_of_stream",
        "cursor_tail_stable",
        "empty_batch_advanced",
        "market_closed",
        "all_rows_rejected",
        "universe_source_unavailable",
        "lane_window_missing",
        "clickhouse_url_missing",
        "feature_quality_gate_failed",
    }
)


@dataclass(frozen=True)
class LeanRunnerSettings:
    """The reference's runner budget and health rule: with the health check on and health required, an
    unhealthy runner is not used at all (orders take the fallback, recorded `lean_runner_unhealthy`)."""

    timeout_seconds: float = 5.0
    healthcheck_enabled: bool = True
    healthcheck_timeout_seconds: float = 2.0
    require_healthy: bool = True


@dataclass(frozen=True)
class SafetyThresholds:
    continuity: ContinuityConfig = field(default_factory=ContinuityConfig)
    lean: LeanRunnerSettings = field(default_factory=LeanRunnerSettings)


def _reasons(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def safety_thresholds(env: Mapping[str, str], bad: Mapping[str, str]) -> tuple[SafetyThresholds, list[str]]:
    """The configured thresholds, or the defaults with every problem named (`bad` = already reported)."""
    problems: list[str] = []
    kwargs: dict[str, object] = {}
    for name, attr in CONTINUITY_INTS.items():
        number = float(in_effect(env, bad, name))
        if number < 1:
            problems.append(f"{name}={number:g} must be a whole number >= 1")
        else:
            kwargs[attr] = int(number)
    for name, attr in CONTINUITY_POSITIVE_FLOATS.items():
        number = float(in_effect(env, bad, name))
        if not (math.isfinite(number) and number > 0):
            problems.append(f"{name}={number:g} must be > 0")
        else:
            kwargs[attr] = number
    for name, attr in CONTINUITY_BOOLS.items():
        kwargs[attr] = in_effect(env, bad, name).strip().lower() in TRUE_WORDS
    for name, attr in CONTINUITY_REASON_LISTS.items():
        reasons = _reasons(in_effect(env, bad, name))
        unknown = sorted(
            r for r in reasons if r not in KNOWN_NO_SIGNAL_REASONS and not r.startswith("source_")
        )
        if unknown:
            problems.append(f"{name}: unknown no-signal reason(s) {', '.join(unknown)}")
        kwargs[attr] = reasons
    tolerance = float(in_effect(env, bad, SESSION_CLOSE_TOLERANCE))
    if tolerance < 0:
        problems.append(f"{SESSION_CLOSE_TOLERANCE}={tolerance:g} must be >= 0")
    else:
        kwargs["session_close_tolerance_seconds"] = tolerance
    continuity = ContinuityConfig(**kwargs)  # type: ignore[arg-type]
    lean, lean_problems = _lean_runner(env, bad)
    return SafetyThresholds(continuity, lean), problems + lean_problems


def _lean_runner(env: Mapping[str, str], bad: Mapping[str, str]) -> tuple[LeanRunnerSettings, list[str]]:
    problems: list[str] = []
    timeouts: dict[str, float] = {}
    for name in ("TRADING_LEAN_RUNNER_TIMEOUT_SECONDS", "TRADING_LEAN_RUNNER_HEALTHCHECK_TIMEOUT_SECONDS"):
        number = float(in_effect(env, bad, name))
        if not (math.isfinite(number) and 0 < number <= 120):
            problems.append(f"{name}={number:g} must be > 0 and at most 120 seconds")
            number = float(SETTINGS[name].default)
        timeouts[name] = number

    def switch(name: str) -> bool:
        return in_effect(env, bad, name).lower() in TRUE_WORDS

    settings = LeanRunnerSettings(
        timeout_seconds=timeouts["TRADING_LEAN_RUNNER_TIMEOUT_SECONDS"],
        healthcheck_enabled=switch("TRADING_LEAN_RUNNER_HEALTHCHECK_ENABLED"),
        healthcheck_timeout_seconds=timeouts["TRADING_LEAN_RUNNER_HEALTHCHECK_TIMEOUT_SECONDS"],
        require_healthy=switch("TRADING_LEAN_RUNNER_REQUIRE_HEALTHY"),
    )
    return settings, problems
