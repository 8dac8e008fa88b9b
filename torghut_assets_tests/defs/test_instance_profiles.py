"""The two instance profiles: one set of run-queue rules, two storages (docs/run-concurrency.md)."""

from __future__ import annotations

from torghut_assets.definitions import build_definitions
from torghut_assets.defs.lane_window.partitions import lane_partitions, lane_window_partitions
from torghut_assets.domain.lanes import LANES
from torghut_assets_tests.defs.run_queue_harness import DEV_PROFILE, PRODUCTION_PROFILE, load_profile

LEDGER_HEAVY_JOBS = ("nightly_reconciliation", "promotion_job", "rollback_job", "live_reevaluation_job")


def _limited_keys() -> set[str]:
    limits = load_profile(PRODUCTION_PROFILE)["concurrency"]["runs"]["tag_concurrency_limits"]
    return {rule["key"] for rule in limits}


def test_the_profiles_differ_only_in_storage() -> None:
    production = load_profile(PRODUCTION_PROFILE)
    assert "storage" not in load_profile(DEV_PROFILE)
    assert set(production["storage"]) == {"postgres"}
    assert {k: v for k, v in production.items() if k != "storage"} == load_profile(DEV_PROFILE)


def test_every_lane_can_run_a_window_while_a_ledger_heavy_run_is_in_progress() -> None:
    assert load_profile(PRODUCTION_PROFILE)["concurrency"]["runs"]["max_concurrent_runs"] >= len(LANES) + 1


def test_the_per_partition_limit_only_meets_lane_windows_and_per_lane_leaderboards() -> None:
    """`dagster/partition` is on every partitioned run: lane windows (one run per window) and the research
    leaderboard, whose partition is a lane (one leaderboard per lane at a time; it never shares a key with a
    window, whose key also names its hour)."""
    assert "dagster/partition" in _limited_keys()
    graph = build_definitions().resolve_asset_graph()
    partitions = {graph.get(key).partitions_def for key in graph.get_all_asset_keys()} - {None}
    assert partitions == {lane_window_partitions, lane_partitions}


def test_reconciliation_promotion_and_rollback_share_one_ledger_heavy_slot() -> None:
    assert "torghut/ledger_heavy" in _limited_keys()
    defs = build_definitions()
    tags = {name: defs.resolve_job_def(name).tags.get("torghut/ledger_heavy") for name in LEDGER_HEAVY_JOBS}
    assert all(tags.values()), tags
