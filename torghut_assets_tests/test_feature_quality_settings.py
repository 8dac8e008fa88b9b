"""The feature quality limits are settings with the reference's names and defaults (TRADING_FEATURE_MAX_*,
proompteng/lab 18622cbe3a services/torghut/app/config.py), refused at load when impossible, listed by
`config check`, and handed to the resource the `signals` asset judges windows with. The session warm-up
(TRADING_FEATURE_WARMUP_MINUTES) is our own setting and travels the same way."""

from __future__ import annotations

import pytest

from torghut_assets.config_report import check_report
from torghut_assets.definitions import market_data_resource
from torghut_assets.domain.feature_quality import FeatureQualityLimits
from torghut_assets.settings import SettingsError, load_settings

NAMES = (
    "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE",
    "TRADING_FEATURE_MAX_STALENESS_MS",
    "TRADING_FEATURE_MAX_DUPLICATE_RATIO",
    "TRADING_FEATURE_WARMUP_MINUTES",
)
TIGHTER = {
    "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE": "0.005",
    "TRADING_FEATURE_MAX_STALENESS_MS": "30000",
    "TRADING_FEATURE_MAX_DUPLICATE_RATIO": "0.001",
    "TRADING_FEATURE_WARMUP_MINUTES": "20",
}


def test_a_bare_environment_loads_the_reference_limits_and_a_15_minute_warm_up() -> None:
    assert load_settings({}).feature_quality_limits == FeatureQualityLimits(0.01, 120_000, 0.02, 15)


def test_configured_limits_reach_the_resource_the_signals_asset_reads() -> None:
    settings = load_settings(TIGHTER)
    expected = FeatureQualityLimits(0.005, 30_000, 0.001, 20)
    assert settings.feature_quality_limits == expected
    assert market_data_resource(settings).feature_quality_limits() == expected


def test_zero_limits_are_allowed_and_a_whole_float_reads_as_an_integer() -> None:
    env = {name: "0" for name in NAMES} | {
        "TRADING_FEATURE_MAX_STALENESS_MS": "90000.0",
        "TRADING_FEATURE_WARMUP_MINUTES": "30.0",
    }
    assert load_settings(env).feature_quality_limits == FeatureQualityLimits(0.0, 90_000, 0.0, 30)


def test_a_zero_warm_up_is_the_reference_gate_counting_every_row() -> None:
    limits = load_settings({"TRADING_FEATURE_WARMUP_MINUTES": "0"}).feature_quality_limits
    assert limits == FeatureQualityLimits(0.01, 120_000, 0.02, 0)
    assert isinstance(limits.warmup_minutes, int)


@pytest.mark.parametrize(
    ("name", "value"), [(NAMES[0], "-0.01"), (NAMES[1], "-1"), (NAMES[2], "-0.5"), (NAMES[3], "-15")]
)
def test_a_negative_limit_is_refused_at_load_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}={value} must be >= 0"):
        load_settings({name: value})


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        (NAMES[0], "nan", "is not a finite number"),
        (NAMES[2], "inf", "is not a finite number"),
        (NAMES[2], "two percent", "is not a finite number"),
        (NAMES[1], "1.5", "is not an integer"),
        (NAMES[1], "1e400", "is not an integer"),
        (NAMES[3], "7.5", "is not an integer"),
        (NAMES[3], "a quarter hour", "is not an integer"),
    ],
)
def test_a_limit_that_is_not_a_finite_number_is_refused_at_load(name: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}='{value}' {problem}"):
        load_settings({name: value})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({NAMES[0]: "-1", NAMES[1]: "soon", NAMES[2]: "-0.1", NAMES[3]: "-5"})
    assert sum(name in problem for problem in refused.value.problems for name in NAMES) == 4


def test_config_check_lists_each_limit_with_its_value_in_effect() -> None:
    lines, ok = check_report({"TRADING_FEATURE_MAX_STALENESS_MS": "60000"})
    listed = {line.split()[0]: line.split()[1:3] for line in lines if line.strip().startswith(NAMES)}
    assert ok
    assert listed == {
        "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE": ["default", "0.01"],
        "TRADING_FEATURE_MAX_STALENESS_MS": ["env", "60000"],
        "TRADING_FEATURE_MAX_DUPLICATE_RATIO": ["default", "0.02"],
        "TRADING_FEATURE_WARMUP_MINUTES": ["default", "15"],
    }


def test_a_warm_up_longer_than_an_hour_is_refused_because_it_would_switch_the_gate_off() -> None:
    with pytest.raises(SettingsError, match="TRADING_FEATURE_WARMUP_MINUTES=90 is more than 60"):
        load_settings({"TRADING_FEATURE_WARMUP_MINUTES": "90"})
