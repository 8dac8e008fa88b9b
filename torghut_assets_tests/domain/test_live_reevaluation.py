"""The rules of a live champion's re-evaluation on each closed lane window (docs/promotion.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from torghut_assets.domain.gates import GATE_IDS, GateReport, GateResult
from torghut_assets.domain.live_reevaluation import (
    CHAMPION_EVIDENCE_MISSING,
    ResearchedWindow,
    due_windows,
    evidence_missing,
    verdict_from_report,
)

APPROVAL_MISSING = "gate5_live_ramp_readiness:approval_token_missing"
TURNOVER = "gate2_risk_capacity:turnover_exceeds_max"
NULL_RATE = "gate0_data_integrity:required_feature_null_rate_exceeds_threshold"
LIVE_OFF = "gate5_live_ramp_readiness:live_rollout_disabled_by_policy"


def report(*reasons: str, target: str = "live") -> GateReport:
    by_gate: dict[str, list[str]] = {g: [] for g in GATE_IDS}
    for reason in reasons:
        by_gate[reason.partition(":")[0]].append(reason.partition(":")[2])
    gates = tuple(GateResult(g, "fail" if r else "pass", tuple(r)) for g, r in by_gate.items())
    return GateReport("v", "c" * 64, target, False, "paper", gates, tuple(reasons), "pass")


def test_a_live_champion_whose_only_gap_is_the_step_up_approval_keeps_its_place() -> None:
    verdict = verdict_from_report(report(APPROVAL_MISSING))
    assert verdict.passed and verdict.reasons == () and verdict.blocking_gate is None


def test_any_other_failing_gate_fails_the_live_champion_naming_every_reason() -> None:
    verdict = verdict_from_report(report(TURNOVER, APPROVAL_MISSING, NULL_RATE))
    assert not verdict.passed
    assert verdict.reasons == (TURNOVER, NULL_RATE)
    assert verdict.blocking_gates == ("gate0_data_integrity", "gate2_risk_capacity")
    assert verdict.blocking_gate == "gate0_data_integrity"


def test_live_switched_off_in_the_policy_fails_every_live_champion() -> None:
    assert not verdict_from_report(report(LIVE_OFF, APPROVAL_MISSING)).passed


def test_a_live_champion_is_only_judged_at_the_live_target() -> None:
    with pytest.raises(ValueError, match="live target"):
        verdict_from_report(report(target="paper"))


def test_missing_evidence_fails_closed() -> None:
    verdict = evidence_missing(CHAMPION_EVIDENCE_MISSING)
    assert not verdict.passed and verdict.reasons == (CHAMPION_EVIDENCE_MISSING,)


# --- which windows are due -------------------------------------------------------------------------

LIVE_SINCE = dt.datetime(2026, 3, 3, 15, 30, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 3, 21, 5, tzinfo=dt.UTC)


def window(hour: int, status: str) -> ResearchedWindow:
    start = dt.datetime(2026, 3, 3, hour, tzinfo=dt.UTC)
    return ResearchedWindow(start, start + dt.timedelta(hours=1), status)


def hours(starts: list[dt.datetime]) -> list[int]:
    return [s.hour for s in starts]


def test_windows_that_closed_after_the_live_step_are_due_in_window_order() -> None:
    runs = [window(17, "passed"), window(15, "passed"), window(14, "passed"), window(16, "failed")]
    due, mark = due_windows(runs, live_since=LIVE_SINCE, handled_through=None, now=NOW)
    assert hours(due) == [15, 16, 17]
    assert mark == window(17, "passed").window_start


def test_a_window_still_open_is_not_due() -> None:
    due, _ = due_windows([window(21, "passed")], live_since=LIVE_SINCE, handled_through=None, now=NOW)
    assert due == []


def test_windows_skipped_for_lack_of_signals_are_passed_over() -> None:
    runs = [window(16, "skipped"), window(17, "passed")]
    due, mark = due_windows(runs, live_since=LIVE_SINCE, handled_through=None, now=NOW)
    assert hours(due) == [17] and mark is not None and mark.hour == 17


def test_the_walk_stops_at_a_window_still_being_researched() -> None:
    runs = [window(16, "passed"), window(17, "running"), window(18, "passed")]
    due, mark = due_windows(runs, live_since=LIVE_SINCE, handled_through=None, now=NOW)
    assert hours(due) == [16] and mark is not None and mark.hour == 16


def test_windows_already_handled_are_not_due_again() -> None:
    runs = [window(16, "passed"), window(17, "passed")]
    handled = window(16, "passed").window_start
    due, mark = due_windows(runs, live_since=LIVE_SINCE, handled_through=handled, now=NOW)
    assert hours(due) == [17] and mark is not None and mark.hour == 17
    again, same = due_windows(runs, live_since=LIVE_SINCE, handled_through=mark, now=NOW)
    assert again == [] and same == mark


@pytest.mark.parametrize(
    "desk_reason",
    [
        "gate4_operational_readiness:operational_not_ready",
        "gate4_operational_readiness:kill_switch_dry_run_failed",
        "gate4_operational_readiness:kill_switch_active",
    ],
)
def test_a_lapsed_drill_or_a_flipped_kill_switch_does_not_roll_a_live_champion_back(desk_reason: str) -> None:
    assert verdict_from_report(report(desk_reason, APPROVAL_MISSING)).passed


def test_a_continuity_latch_still_fails_the_live_champion() -> None:
    assert not verdict_from_report(report("gate4_operational_readiness:continuity_alert_active")).passed
