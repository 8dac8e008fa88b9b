"""The limits one lane window runs under, read from the environment: how old a planned decision may get
before it is never sent, how often the open-window loop runs, a plug-in strategy's time budget, and the
feature-quality gates a window's signals must pass.

Why checked at load: each of these turns a bad window into no orders (fail closed), so a limit set to a
meaningless value (a negative rate, a zero budget) would not fail loudly later; it would quietly stop or
unblock every window. A bad value is reported here and its default stands in (the load fails anyway, so
the default is never used for trading).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torghut_assets.config_registry import in_effect, whole
from torghut_assets.domain.feature_quality import FeatureQualityLimits

MAX_FEATURE_WARMUP_MINUTES = 60  # the longest indicator warm-up here is 20 bars (Bollinger)


@dataclass(frozen=True)
class WindowSettings:
    planned_decision_timeout_seconds: int
    open_window_interval_seconds: int
    strategy_timeout_seconds: float
    feature_quality_limits: FeatureQualityLimits
    problems: tuple[str, ...]


def window_settings(env: Mapping[str, str], bad: Mapping[str, str]) -> WindowSettings:
    decision_timeout = whole(env, bad, "TRADING_PLANNED_DECISION_TIMEOUT_SECONDS")
    interval = whole(env, bad, "TORGHUT_OPEN_WINDOW_INTERVAL_SECONDS")
    strategy_timeout = float(in_effect(env, bad, "TORGHUT_STRATEGY_TIMEOUT_SECONDS"))
    problems = []
    if decision_timeout < 0:
        problems.append("TRADING_PLANNED_DECISION_TIMEOUT_SECONDS must be >= 0 (0 disables expiry)")
    if not 5 <= interval <= 300:
        problems.append("TORGHUT_OPEN_WINDOW_INTERVAL_SECONDS must be between 5 and 300")
    if strategy_timeout <= 0:
        problems.append(f"TORGHUT_STRATEGY_TIMEOUT_SECONDS={strategy_timeout:g} must be > 0")
    feature_limits, feature_problems = feature_quality_limits(env, bad)
    return WindowSettings(
        decision_timeout, interval, strategy_timeout, feature_limits, (*problems, *feature_problems)
    )


def feature_quality_limits(
    env: Mapping[str, str], bad: Mapping[str, str]
) -> tuple[FeatureQualityLimits, list[str]]:
    """The limits of the window's feature quality gates (the reference's names and defaults) and our
    session warm-up; each must be >= 0 (the registry already refused non-numbers, NaN and infinities,
    and non-integers for the integer ones). A bad value leaves the defaults."""
    null_rate = float(in_effect(env, bad, "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE"))
    duplicate_ratio = float(in_effect(env, bad, "TRADING_FEATURE_MAX_DUPLICATE_RATIO"))
    staleness = whole(env, bad, "TRADING_FEATURE_MAX_STALENESS_MS")
    warmup = whole(env, bad, "TRADING_FEATURE_WARMUP_MINUTES")
    values = {
        "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE": null_rate,
        "TRADING_FEATURE_MAX_STALENESS_MS": staleness,
        "TRADING_FEATURE_MAX_DUPLICATE_RATIO": duplicate_ratio,
        "TRADING_FEATURE_WARMUP_MINUTES": warmup,
    }
    problems = [f"{name}={value} must be >= 0" for name, value in values.items() if value < 0]
    if warmup > MAX_FEATURE_WARMUP_MINUTES:
        problems.append(
            f"TRADING_FEATURE_WARMUP_MINUTES={warmup} is more than {MAX_FEATURE_WARMUP_MINUTES}: "
            "it would switch the null-rate gate off for most of the session"
        )
    if problems:
        return FeatureQualityLimits(), problems
    return FeatureQualityLimits(null_rate, staleness, duplicate_ratio, warmup), []


__all__ = ["MAX_FEATURE_WARMUP_MINUTES", "WindowSettings", "feature_quality_limits", "window_settings"]
