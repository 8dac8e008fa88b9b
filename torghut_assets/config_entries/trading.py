"""How the lanes trade: paper or live, the lane catalog and its ops override, the open-window loop, and
the per-window limits a decision must pass (decision expiry, the strategy's time budget, feature quality).

Why grouped: each of these changes what one lane window does with its signals, and a desk tuning a lane
reads them together with docs/lane-catalog.md.
"""

from __future__ import annotations

from torghut_assets.domain.strategy_interface import DEFAULT_TIMEOUT_SECONDS
from torghut_assets.env_setting import EnvSetting

TRADING: tuple[EnvSetting, ...] = (
    EnvSetting(
        "TRADING_MODE",
        "choice",
        "paper or live trading; a static universe is refused with live",
        default="paper",
        choices=("paper", "live"),
    ),
    EnvSetting(
        "TORGHUT_LANE_CATALOG",
        "path",
        "lane catalog TOML: lanes, strategies, accounts, limits, window start (docs/lane-catalog.md); its "
        "checksum is on every decision and research run",
        when_unset="the shipped torghut_assets/policy/lane_catalog.toml",
    ),
    EnvSetting(
        "TORGHUT_LANE_MODES",
        "str",
        "ops override of the lane catalog's modes: lane=mode pairs (replay, paper, live); a lane not named "
        "keeps its catalog mode; paper/live lanes trade their open window only",
        when_unset="every lane in its catalog mode",
    ),
    EnvSetting(
        "TRADING_PLANNED_DECISION_TIMEOUT_SECONDS",
        "int",
        "a planned decision this old (from its signal time) is rejected decision_timeout_unsubmitted and "
        "never sent; 0 disables expiry",
        default="600",
    ),
    EnvSetting(
        "TORGHUT_STRATEGY_TIMEOUT_SECONDS",
        "float",
        "time budget of one call to a plug-in strategy (docs/strategies.md); a call that overruns fails its "
        "lane window with strategy_timeout (the call is abandoned); > 0",
        default=f"{DEFAULT_TIMEOUT_SECONDS:g}",
    ),
    EnvSetting(
        "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE",
        "float",
        "a window whose macd, macd_signal or rsi14 is null in more than this share of its admitted rows "
        "fails closed (feature_quality_gate_failed: no decisions, no orders); >= 0",
        default="0.01",
    ),
    EnvSetting(
        "TRADING_FEATURE_WARMUP_MINUTES",
        "int",
        "nulls in bars closing within this many minutes of the session open are indicator warm-up, left "
        "out of that null rate; 0 counts every row (the reference); whole number 0-60",
        default="15",
    ),
    EnvSetting(
        "TRADING_FEATURE_MAX_STALENESS_MS",
        "int",
        "a window whose p95 signal lag (ingest_ts - event_ts, ms) is above this fails closed; >= 0",
        default="120000",
    ),
    EnvSetting(
        "TRADING_FEATURE_MAX_DUPLICATE_RATIO",
        "float",
        "a window where more than this share of the rows read are extra copies of a key fails closed; >= 0",
        default="0.02",
    ),
    EnvSetting(
        "TORGHUT_OPEN_WINDOW_INTERVAL_SECONDS",
        "int",
        "how often the open-window loop (open_window_sensor) reads new signals and submits fresh decisions",
        default="15",
    ),
)

__all__ = ["TRADING"]
