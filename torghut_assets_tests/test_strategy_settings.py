"""`TORGHUT_STRATEGY_TIMEOUT_SECONDS`: the time budget of one plug-in strategy call (docs/strategies.md)."""

from __future__ import annotations

import pytest

from torghut_assets.config_registry import SETTINGS
from torghut_assets.definitions import default_resources
from torghut_assets.settings import SettingsError, load_settings


def test_the_strategy_time_budget_defaults_to_thirty_seconds() -> None:
    assert SETTINGS["TORGHUT_STRATEGY_TIMEOUT_SECONDS"].default == "30"
    assert load_settings({}).strategy_timeout_seconds == 30.0


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_a_strategy_time_budget_that_is_not_a_positive_number_is_refused_by_name(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"TORGHUT_STRATEGY_TIMEOUT_SECONDS": value})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("TORGHUT_STRATEGY_TIMEOUT_SECONDS=")


def test_the_strategy_time_budget_reaches_the_trading_and_research_resources() -> None:
    resources = default_resources(load_settings({"TORGHUT_STRATEGY_TIMEOUT_SECONDS": "2.5"}))
    assert resources["trading_session"].strategy_timeout_seconds == 2.5  # type: ignore[attr-defined]
    assert resources["research_settings"].strategy_timeout_seconds == 2.5  # type: ignore[attr-defined]
