"""The run queue under the shipped profile: a window never runs twice at once, a lane's windows run one at
a time in window order, lanes run side by side, and ledger-heavy runs never overlap (docs/run-concurrency.md).

Both profiles share these limits (test_instance_profiles.py), so the dev profile stands for both here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster._core.storage.dagster_run import DagsterRunStatus

from torghut_assets_tests.defs.run_queue_harness import DEV_PROFILE, RunQueue, load_profile, run_queue

QUEUED, STARTING = DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING
WINDOW = "macd_rsi|2026-03-03-15:00"
PROMOTION_CONFIG = {
    "ops": {
        "promotion_decision": {
            "config": {"candidate_id": "cand-3f9a0c2b71de-1", "target_stage": "paper", "requester": "ops"}
        }
    }
}


def _without_lane_rule(profile: dict[str, Any]) -> dict[str, Any]:
    relaxed = copy.deepcopy(profile)
    runs = relaxed["concurrency"]["runs"]
    limits = [rule for rule in runs["tag_concurrency_limits"] if rule["key"] != "dagster/partition/lane"]
    assert len(limits) == len(runs["tag_concurrency_limits"]) - 1
    runs["tag_concurrency_limits"] = limits
    return relaxed


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[RunQueue]:
    with run_queue(tmp_path, load_profile(DEV_PROFILE)) as q:
        yield q


@pytest.mark.parametrize("lane_rule", ["as shipped", "relaxed"])
def test_a_second_run_of_a_window_waits_until_the_first_finishes(tmp_path: Path, lane_rule: str) -> None:
    profile = load_profile(DEV_PROFILE)
    with run_queue(tmp_path, profile if lane_rule == "as shipped" else _without_lane_rule(profile)) as queue:
        first = queue.launch("lane_window_job", partition_key=WINDOW)
        second = queue.launch("lane_window_job", partition_key=WINDOW)
        queue.tick()
        queue.tick()
        assert queue.statuses(first, second) == [STARTING, QUEUED]
        queue.finish(first)
        queue.tick()
        assert queue.statuses(second) == [STARTING]


def test_a_backfill_runs_one_lanes_windows_one_at_a_time_in_window_order(queue: RunQueue) -> None:
    hours = queue.backfill([f"macd_rsi|2026-03-03-{hour}:00" for hour in (14, 15, 16)])
    queue.tick()
    assert queue.statuses(*hours) == [STARTING, QUEUED, QUEUED]
    queue.finish(hours[0])
    queue.tick()
    assert queue.statuses(*hours[1:]) == [STARTING, QUEUED]
    queue.finish(hours[1])
    queue.tick()
    assert queue.statuses(hours[2]) == [STARTING]


def test_the_lanes_of_one_hour_run_side_by_side(queue: RunQueue) -> None:
    lanes = queue.backfill(["ema_trend|2026-03-03-15:00", "macd_rsi|2026-03-03-15:00"])
    queue.tick()
    assert queue.statuses(*lanes) == [STARTING, STARTING]


def test_a_promotion_waits_while_reconciliation_runs(queue: RunQueue) -> None:
    reconciliation = queue.launch("nightly_reconciliation")
    queue.tick()
    promotion = queue.launch("promotion_job", run_config=PROMOTION_CONFIG)
    queue.tick()
    assert queue.statuses(reconciliation, promotion) == [STARTING, QUEUED]
    queue.finish(reconciliation)
    queue.tick()
    assert queue.statuses(promotion) == [STARTING]


def test_a_ledger_heavy_run_does_not_hold_lane_windows(queue: RunQueue) -> None:
    halt = {"lane": "macd_rsi", "action": "halt", "actor": "ops", "reason": "broker incident"}
    rollback = queue.launch("rollback_job", run_config={"ops": {"apply_rollback": {"config": halt}}})
    window = queue.launch("lane_window_job", partition_key=WINDOW)
    queue.tick()
    assert queue.statuses(rollback, window) == [STARTING, STARTING]
