"""When trading stops by itself: the signal-continuity alert, the per-lane emergency stop and the rollback
limits that latch it (docs/continuity.md), under the reference's names and defaults.

Why grouped: these are the thresholds `safety_settings` reads into the continuity state machine's own
types; a desk loosening one should see the others it interacts with.
"""

from __future__ import annotations

from torghut_assets.env_setting import EnvSetting

SAFETY: tuple[EnvSetting, ...] = (
    EnvSetting(
        "TRADING_SIGNAL_NO_SIGNAL_STREAK_ALERT_THRESHOLD",
        "int",
        "actionable empty windows in a row (same reason) that latch the continuity alert",
        default="2",
    ),
    EnvSetting(
        "TRADING_SIGNAL_STALE_LAG_ALERT_SECONDS",
        "float",
        "one actionable empty window with at least this signal lag latches the continuity alert at once",
        default="300",
    ),
    EnvSetting(
        "TRADING_SIGNAL_CONTINUITY_RECOVERY_CYCLES",
        "int",
        "signal-bearing windows in a row that clear a latched continuity alert",
        default="2",
    ),
    EnvSetting(
        "TRADING_SIGNAL_STALENESS_ALERT_CRITICAL_REASONS",
        "csv",
        "no-signal reasons whose streak can trigger the emergency stop",
        default="cursor_ahead_of_stream,no_signals_in_window,universe_source_unavailable,lane_window_missing",
    ),
    EnvSetting(
        "TRADING_SIGNAL_MARKET_CLOSED_EXPECTED_REASONS",
        "csv",
        "no-signal reasons a closed market explains (if the stream ran to the last close)",
        default="no_signals_in_window,cursor_tail_stable,empty_batch_advanced,market_closed,lane_window_missing",
    ),
    EnvSetting(
        "TORGHUT_SESSION_CLOSE_TOLERANCE_SECONDS",
        "float",
        "closed market: a stream whose newest signal is older than the last session close by more than "
        "this is a fault, not expected silence",
        default="900",
    ),
    EnvSetting(
        "TRADING_EMERGENCY_STOP_ENABLED",
        "bool",
        "latch the per-lane emergency stop on its reasons (docs/continuity.md); off clears every stop",
        default="true",
    ),
    EnvSetting(
        "TRADING_EMERGENCY_STOP_RECOVERY_CYCLES",
        "int",
        "clean windows in a row that clear a freshness-only emergency stop",
        default="3",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_SIGNAL_LAG_SECONDS_LIMIT",
        "float",
        "signal lag (s, market open) at which the emergency stop fires (inclusive)",
        default="600",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_SIGNAL_STALENESS_ALERT_STREAK_LIMIT",
        "int",
        "streak of a critical no-signal reason at which the emergency stop fires (inclusive)",
        default="3",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_AUTONOMY_FAILURE_STREAK_LIMIT",
        "int",
        "failed lane-window research runs in a row that latch the emergency stop (inclusive)",
        default="3",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_FALLBACK_RATIO_LIMIT",
        "float",
        "fallback executions / executions of a paper-or-above lane that latch the emergency stop (inclusive)",
        default="0.25",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_MAX_DRAWDOWN_LIMIT",
        "float",
        "realized drawdown / equity of a paper-or-above lane that latches the emergency stop (inclusive)",
        default="0.08",
    ),
)

__all__ = ["SAFETY"]
