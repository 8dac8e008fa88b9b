"""Specification of research run / candidate identity and the no-signal artifact (docs/research.md)."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from torghut_assets.domain import research
from torghut_assets.domain.evidence import canonical_json, sha256_hex
from torghut_assets.domain.strategies import default_strategy

HEX24 = re.compile(r"^[0-9a-f]{24}$")
CANDIDATE_ID = re.compile(r"^cand-(?P<run>[0-9a-f]{12})-(?P<hash>[0-9a-f]{8})$")

WINDOW_START = pd.Timestamp("2026-03-03 15:00", tz="UTC")
WINDOW_END = pd.Timestamp("2026-03-03 16:00", tz="UTC")
CONFIG_SHA = research.strategy_config_hash(default_strategy("legacy_macd_rsi").parameter_set())
DATASET_VERSION = "9b1f3c0d5e7a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c"

RUN_INPUTS: dict[str, Any] = {
    "lane": "macd_rsi",
    "window_start": WINDOW_START,
    "window_end": WINDOW_END,
    "dataset_version": DATASET_VERSION,
    "strategy_config_sha256": CONFIG_SHA,
    "code_version": "0.1.0",
    "promotion_target": "shadow",
}
RUN_CHANGES: dict[str, Any] = {
    "lane": "ema_trend",
    "window_start": WINDOW_START + pd.Timedelta(hours=1),
    "window_end": WINDOW_END + pd.Timedelta(hours=1),
    "dataset_version": "0" * 64,
    "strategy_config_sha256": research.strategy_config_hash(
        default_strategy("legacy_macd_rsi").with_params(rsi_buy_below=30.0).parameter_set()
    ),
    "code_version": "0.1.1",
    "promotion_target": "paper",
}

SKIP_INPUTS: dict[str, Any] = {
    "lane": "macd_rsi",
    "window_start": pd.Timestamp("2026-03-03 23:00", tz="UTC"),
    "window_end": pd.Timestamp("2026-03-04 00:00", tz="UTC"),
    "reason": "market_closed",
    "strategy_config_sha256": CONFIG_SHA,
}
SKIP_CHANGES: dict[str, Any] = {
    "lane": "ema_trend",
    "window_start": pd.Timestamp("2026-03-03 22:00", tz="UTC"),
    "window_end": pd.Timestamp("2026-03-04 01:00", tz="UTC"),
    "reason": "no_signals_in_window",
    "strategy_config_sha256": "1" * 64,
}


# --- lane-window run ids --------------------------------------------------------------------------------


def test_run_id_is_24_lowercase_hex_chars() -> None:
    assert HEX24.match(research.lane_window_run_id(**RUN_INPUTS))


def test_run_id_is_deterministic() -> None:
    assert research.lane_window_run_id(**RUN_INPUTS) == research.lane_window_run_id(**dict(RUN_INPUTS))


def test_run_id_is_the_sha256_prefix_of_its_canonical_inputs() -> None:
    assert research.lane_window_run_id(**RUN_INPUTS) == sha256_hex(RUN_INPUTS)[:24]


@pytest.mark.parametrize("field", sorted(RUN_CHANGES))
def test_run_id_changes_when_any_input_changes(field: str) -> None:
    changed = {**RUN_INPUTS, field: RUN_CHANGES[field]}
    assert research.lane_window_run_id(**changed) != research.lane_window_run_id(**RUN_INPUTS)


def test_run_id_defaults_to_a_shadow_promotion_target() -> None:
    without_target = {k: v for k, v in RUN_INPUTS.items() if k != "promotion_target"}
    assert research.lane_window_run_id(**without_target) == research.lane_window_run_id(**RUN_INPUTS)


def test_run_id_does_not_depend_on_the_timezone_the_window_is_spelled_in() -> None:
    new_york = {
        **RUN_INPUTS,
        "window_start": WINDOW_START.tz_convert("America/New_York"),
        "window_end": WINDOW_END.tz_convert("America/New_York"),
    }
    assert research.lane_window_run_id(**new_york) == research.lane_window_run_id(**RUN_INPUTS)


def test_strategy_config_hash_changes_with_a_parameter() -> None:
    spec = default_strategy("legacy_macd_rsi")
    assert research.strategy_config_hash(spec.parameter_set()) == research.strategy_config_hash(
        default_strategy("legacy_macd_rsi").parameter_set()
    )
    assert research.strategy_config_hash(spec.parameter_set()) != research.strategy_config_hash(
        spec.with_params(rsi_sell_above=70.0).parameter_set()
    )


# --- skipped run ids ------------------------------------------------------------------------------------


def test_skipped_run_id_is_24_hex_and_deterministic() -> None:
    run_id = research.skipped_run_id(**SKIP_INPUTS)
    assert HEX24.match(run_id)
    assert research.skipped_run_id(**SKIP_INPUTS) == run_id


@pytest.mark.parametrize(
    "other_reason",
    ["no_signals_in_window", "cursor_ahead_of_stream", "all_rows_rejected", "universe_source_unavailable"],
)
def test_skipped_run_id_differs_by_reason(other_reason: str) -> None:
    assert research.skipped_run_id(**{**SKIP_INPUTS, "reason": other_reason}) != research.skipped_run_id(
        **SKIP_INPUTS
    )


@pytest.mark.parametrize("field", sorted(SKIP_CHANGES))
def test_skipped_run_id_changes_when_any_input_changes(field: str) -> None:
    changed = {**SKIP_INPUTS, field: SKIP_CHANGES[field]}
    assert research.skipped_run_id(**changed) != research.skipped_run_id(**SKIP_INPUTS)


def test_skipped_run_id_is_the_sha256_prefix_of_lane_window_reason_and_config() -> None:
    assert research.skipped_run_id(**SKIP_INPUTS) == sha256_hex(SKIP_INPUTS)[:24]


def test_skipped_and_evaluated_runs_of_the_same_window_never_share_an_id() -> None:
    skipped = research.skipped_run_id(
        lane="macd_rsi",
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        reason="no_signals_in_window",
        strategy_config_sha256=CONFIG_SHA,
    )
    assert skipped != research.lane_window_run_id(**RUN_INPUTS)


# --- candidates -----------------------------------------------------------------------------------------


def test_candidate_id_has_the_cand_run_prefix_hash_shape() -> None:
    run_id = research.lane_window_run_id(**RUN_INPUTS)
    params = default_strategy("legacy_macd_rsi").parameter_set()
    cand_hash = research.candidate_hash(run_id=run_id, dataset_version=DATASET_VERSION, parameter_set=params)
    cand_id = research.candidate_id(run_id, cand_hash)
    match = CANDIDATE_ID.match(cand_id)
    assert match, cand_id
    assert match["run"] == run_id[:12]
    assert match["hash"] == cand_hash[:8]


def test_candidate_hash_is_32_hex_and_deterministic() -> None:
    run_id = research.lane_window_run_id(**RUN_INPUTS)
    params = default_strategy("legacy_macd_rsi").parameter_set()
    first = research.candidate_hash(run_id=run_id, dataset_version=DATASET_VERSION, parameter_set=params)
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first == research.candidate_hash(
        run_id=run_id, dataset_version=DATASET_VERSION, parameter_set=params
    )


def test_candidates_of_one_run_with_different_parameters_get_different_ids() -> None:
    run_id = research.lane_window_run_id(**RUN_INPUTS)
    spec = default_strategy("legacy_macd_rsi")
    ids = {
        research.candidate_id(
            run_id,
            research.candidate_hash(
                run_id=run_id,
                dataset_version=DATASET_VERSION,
                parameter_set=spec.with_params(rsi_buy_below=b).parameter_set(),
            ),
        )
        for b in (30.0, 35.0, 40.0, 45.0)
    }
    assert len(ids) == 4
    assert all(i.startswith(f"cand-{run_id[:12]}-") for i in ids)


def test_same_parameters_in_another_run_get_a_different_candidate_id() -> None:
    params = default_strategy("legacy_macd_rsi").parameter_set()
    run_a = research.lane_window_run_id(**RUN_INPUTS)
    run_b = research.lane_window_run_id(
        **{**RUN_INPUTS, "window_start": WINDOW_START + pd.Timedelta(hours=1)}
    )
    id_a = research.candidate_id(
        run_a, research.candidate_hash(run_id=run_a, dataset_version=DATASET_VERSION, parameter_set=params)
    )
    id_b = research.candidate_id(
        run_b, research.candidate_hash(run_id=run_b, dataset_version=DATASET_VERSION, parameter_set=params)
    )
    assert id_a != id_b


# --- no-signal artifact ---------------------------------------------------------------------------------


def _artifact(**overrides: Any) -> dict[str, object]:
    run_id = research.skipped_run_id(**SKIP_INPUTS)
    kwargs: dict[str, Any] = {
        "run_id": run_id,
        "lane": SKIP_INPUTS["lane"],
        "window_start": SKIP_INPUTS["window_start"],
        "window_end": SKIP_INPUTS["window_end"],
        "reason": SKIP_INPUTS["reason"],
        "signal_lag_seconds": 10_800.0,
        "market_session_open": False,
        **overrides,
    }
    return research.no_signal_artifact(**kwargs)


def test_no_signal_artifact_is_skipped_with_the_no_signal_snapshot_ref() -> None:
    artifact = _artifact()
    assert artifact["status"] == "skipped"
    assert artifact["dataset_snapshot_ref"] == "no_signal_window"


def test_no_signal_artifact_records_reason_query_bounds_lag_session_and_run_id() -> None:
    artifact = _artifact()
    assert artifact["no_signal_reason"] == "market_closed"
    assert artifact["query_start"] == SKIP_INPUTS["window_start"]
    assert artifact["query_end"] == SKIP_INPUTS["window_end"]
    assert artifact["signal_lag_seconds"] == 10_800.0
    assert artifact["market_session_open"] is False
    assert artifact["research_run_id"] == research.skipped_run_id(**SKIP_INPUTS)


def test_no_signal_artifact_never_allows_promotion() -> None:
    assert _artifact()["promotion"] == {
        "requested_target": "shadow",
        "promotion_allowed": False,
        "outcome": "skipped_no_signal",
    }


def test_no_signal_artifact_reports_zero_throughput_and_a_no_signal_window() -> None:
    assert _artifact()["throughput"] == {
        "signal_count": 0,
        "decision_count": 0,
        "trade_count": 0,
        "no_signal_window": True,
    }


def test_no_signal_artifact_keeps_a_null_lag() -> None:
    assert _artifact(reason="no_signals_in_window", signal_lag_seconds=None)["signal_lag_seconds"] is None


def test_no_signal_artifact_serializes_with_utc_query_bounds() -> None:
    text = canonical_json(_artifact())
    assert '"query_start":"2026-03-03T23:00:00Z"' in text
    assert '"query_end":"2026-03-04T00:00:00Z"' in text


def test_no_signal_artifact_carries_the_reference_keys() -> None:
    reference_keys = {
        "signal_continuity",
        "status",
        "dataset_snapshot_ref",
        "no_signal_reason",
        "query_start",
        "query_end",
        "signal_lag_seconds",
        "market_session_open",
        "promotion",
        "research_run_id",
    }
    assert reference_keys <= set(_artifact())


def test_no_signal_artifact_carries_the_reference_signal_continuity_block() -> None:
    continuity = _artifact()["signal_continuity"]
    assert isinstance(continuity, dict)
    assert {"state", "reason", "actionable", "alert_active", "alert_reason"} <= set(continuity)
    assert continuity["reason"] == "market_closed"


def test_no_signal_artifact_records_the_continuity_state_it_is_given() -> None:
    latched = {
        "state": "actionable_source_fault",
        "reason": "cursor_ahead_of_stream",
        "actionable": True,
        "alert_active": True,
        "alert_reason": "cursor_ahead_of_stream",
    }
    artifact = _artifact(reason="cursor_ahead_of_stream", market_session_open=True, signal_continuity=latched)
    assert artifact["signal_continuity"] == latched
