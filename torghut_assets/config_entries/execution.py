"""Where orders go: the LEAN runner, which symbols route to it, the fallback venue, the runner's time
budgets and health rule, and the live canary that watches LEAN->Alpaca fallbacks (docs/routing.md).

Why grouped: together they decide the venue of every order, and `load_settings` checks them against each
other in production (a venue must exist, an allowlist must not be empty).
"""

from __future__ import annotations

from torghut_assets.env_setting import HTTP, EnvSetting

EXECUTION: tuple[EnvSetting, ...] = (
    EnvSetting(
        "TRADING_LEAN_RUNNER_URL",
        "url",
        "LEAN runner bridge; LEAN is tried first when set",
        schemes=HTTP,
    ),
    EnvSetting(
        "TRADING_EXECUTION_ADAPTER_POLICY",
        "choice",
        "which symbols route to LEAN: all, or those in TRADING_EXECUTION_ADAPTER_SYMBOLS",
        default="all",
        choices=("all", "allowlist"),
    ),
    EnvSetting("TRADING_EXECUTION_ADAPTER_SYMBOLS", "csv-symbols", "LEAN allowlist (policy allowlist)"),
    EnvSetting(
        "TRADING_EXECUTION_FALLBACK_ADAPTER",
        "choice",
        "venue when LEAN is not used or fails",
        default="alpaca",
        choices=("alpaca", "none"),
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_TIMEOUT_SECONDS",
        "float",
        "budget of one LEAN runner call (connect and response); a timeout is looked up before any fallback",
        default="5",
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_HEALTHCHECK_ENABLED",
        "bool",
        "ask the LEAN runner's /healthz before routing a window to it",
        default="true",
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_HEALTHCHECK_TIMEOUT_SECONDS",
        "float",
        "budget of the LEAN health check",
        default="2",
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_REQUIRE_HEALTHY",
        "bool",
        "with the health check on, an unhealthy runner is not used: orders take the fallback "
        "(lean_runner_unhealthy); false routes to LEAN anyway",
        default="true",
    ),
    EnvSetting(
        "TRADING_LEAN_LIVE_CANARY_ENABLED",
        "bool",
        "live lanes: watch LEAN->Alpaca fallbacks over orders meant for LEAN",
        default="false",
    ),
    EnvSetting(
        "TRADING_LEAN_LIVE_CANARY_FALLBACK_RATIO_LIMIT",
        "float",
        "live canary: a fallback share above this is a breach (strictly above, as the reference)",
        default="0.25",
    ),
    EnvSetting(
        "TRADING_LEAN_LIVE_CANARY_HARD_ROLLBACK_ENABLED",
        "bool",
        "a live canary breach latches the lane's emergency stop (lean_canary_breach:...)",
        default="true",
    ),
)

__all__ = ["EXECUTION"]
