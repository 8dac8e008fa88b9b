"""The window dimension leaves out weekend hours; the hourly schedule never targets one."""

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window.partitions import (
    lane_window_partitions,
    window_partitions,
)
from torghut_assets.defs.lane_window.schedules import lane_window_schedule
from torghut_assets.domain.lane_window_keys import window_key
from torghut_assets.domain.window_hours import is_window_hour


def test_a_saturday_afternoon_key_is_not_a_lane_window_partition() -> None:
    assert not lane_window_partitions.has_partition_key("macd_rsi|2026-03-07-15:00")


def test_a_sunday_key_is_not_a_window_partition() -> None:
    assert not window_partitions.has_partition_key("2026-03-08-23:00")


def test_a_market_hours_key_is_a_lane_window_partition() -> None:
    assert lane_window_partitions.has_partition_key("macd_rsi|2026-03-03-15:00")


def test_weekday_off_hours_and_the_saturday_midnight_hour_stay_partitions() -> None:
    """Saturday 00:00 UTC holds Friday's last post-market hour in winter; weekday nights may carry
    extended-hours signals."""
    assert window_partitions.has_partition_key("2026-03-04-02:00")
    assert window_partitions.has_partition_key("2026-03-07-00:00")


def test_the_pure_rule_agrees_with_the_partition_definition_hour_by_hour() -> None:
    hours = pd.date_range("2026-03-02", "2026-03-16", freq="h", tz="UTC", inclusive="left")
    keys = set(window_partitions.get_partition_keys())
    assert [is_window_hour(h) for h in hours] == [window_key(h) in keys for h in hours]


def test_the_schedule_skips_a_tick_whose_window_is_a_weekend_hour() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=pd.Timestamp("2026-03-07 16:05", tz="UTC"))
    assert isinstance(lane_window_schedule(context), dg.SkipReason)


def test_the_schedule_never_targets_an_excluded_window_over_a_week() -> None:
    ticks = pd.date_range("2026-03-02 00:05", "2026-03-09 00:05", freq="h", tz="UTC")
    for tick in ticks:
        result = lane_window_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
        if isinstance(result, list):
            assert all(lane_window_partitions.has_partition_key(str(r.partition_key)) for r in result), tick
