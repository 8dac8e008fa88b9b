"""Alert composition: incident keys, Slack-compatible messages, which transitions page."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from torghut_assets.domain.alerts import (
    CONTINUITY_LATCHED,
    CONTINUITY_RECOVERED,
    EMERGENCY_STOP,
    MAX_KEY_CHARS,
    Alert,
    DeliveryReport,
    continuity_alert,
    distinct,
    incident_key,
    llm_budget_alert,
    promotion_denied_alert,
    reconciliation_alert,
    rollback_alert,
    slack_message,
)
from torghut_assets.domain.continuity import ContinuityTransition
from torghut_assets_tests.adapters.webhook_stub import slack_problems

LATCH = pd.Timestamp("2026-03-02 15:00", tz="UTC")
CLEAR = pd.Timestamp("2026-03-02 19:00", tz="UTC")


def _denied(reasons: list[str]) -> Alert:
    return promotion_denied_alert(
        candidate_id="cand-5d2e9f0a1b3c-77aa",
        lane="macd_rsi",
        from_stage="paper",
        requested_stage="live_l1",
        reason_codes=reasons,
        blocking_gates=["gate5_live_ramp_readiness"],
        requester="quant@torghut",
        promotion_id="0b7f6a52-8d0e-4d8b-9a57-3b1f0c7e2a91",
    )


EVERY_KIND = {
    "latched": continuity_alert(
        lane="macd_rsi",
        transition=ContinuityTransition.LATCHED,
        window_start=LATCH,
        latched_window=LATCH,
        reason="no_signals_in_window",
    ),
    "recovered": continuity_alert(
        lane="macd_rsi",
        transition=ContinuityTransition.CLEARED,
        window_start=CLEAR,
        latched_window=LATCH,
        reason=None,
    ),
    "emergency": continuity_alert(
        lane="ema_trend",
        transition=ContinuityTransition.EMERGENCY_TRIGGERED,
        window_start=LATCH,
        latched_window=LATCH,
        reason="lane_window_missing",
        detail=["signal_staleness_streak_exceeded:lane_window_missing:3"],
    ),
    "reconciliation": reconciliation_alert(
        check="evidence_chain_verifies",
        checked_day="2026-03-04",
        examined=412,
        failing=1,
        keys=["seq 17: content hash mismatch"],
    ),
    "llm_budget": llm_budget_alert(
        lane="macd_rsi",
        window_start=LATCH,
        budget={"counts": {"attempted": 8}, "error_rate": 0.25, "mismatch_rate": 0.0, "reasons": ["x"]},
    ),
    "promotion": _denied(["approval_required_for_live", "gate5_live_ramp_readiness:approval_token_missing"]),
    "rollback": rollback_alert(
        lane="macd_rsi",
        action="rollback",
        incident_id="4f1c3a52-8d0e-4d8b-9a57-3b1f0c7e2a91",
        before={"candidate_id": "cand-a", "stage": "live_l1", "halted": False},
        after={"candidate_id": "cand-a", "stage": "paper", "halted": False},
        actor="rollback_drift_sensor",
        trigger="drift",
        reason="performance_drawdown_exceeded",
    ),
}


def test_incident_key_names_kind_lane_and_incident() -> None:
    assert incident_key("emergency_stop", "macd_rsi", "2026-03-02T15:00:00Z") == (
        "emergency_stop:macd_rsi:2026-03-02T15:00:00Z"
    )
    assert incident_key("reconciliation_failed", None, "2026-03-04:foreign_keys_resolve").startswith(
        "reconciliation_failed:-:"
    )


def test_a_long_incident_id_gets_a_bounded_key_that_still_tells_incidents_apart() -> None:
    first = incident_key("live_promotion_denied", "macd_rsi", "x" * 300 + "a")
    second = incident_key("live_promotion_denied", "macd_rsi", "x" * 300 + "b")
    assert len(first) <= MAX_KEY_CHARS and len(second) <= MAX_KEY_CHARS
    assert first != second


def test_distinct_keeps_the_first_alert_of_each_incident() -> None:
    latched = EVERY_KIND["latched"]
    assert latched is not None
    echo = Alert(
        latched.kind, latched.incident_id, latched.severity, "the same latch, seen again", "macd_rsi"
    )
    assert distinct([latched, echo, EVERY_KIND["rollback"]]) == [latched, EVERY_KIND["rollback"]]


@pytest.mark.parametrize("name", sorted(EVERY_KIND))
def test_every_alert_renders_a_slack_compatible_message(name: str) -> None:
    alert = EVERY_KIND[name]
    assert alert is not None
    message = json.loads(json.dumps(slack_message(alert)))
    assert slack_problems(message) == []
    assert alert.incident_key in json.dumps(message)


def test_slack_control_characters_in_event_text_are_escaped() -> None:
    alert = Alert("lane_rollback", "i-1", "critical", "t", detail="Reason: fills <50% & drift > limit")
    section = slack_message(alert)["blocks"][1]["text"]["text"]
    assert section == "Reason: fills &lt;50% &amp; drift &gt; limit"


def test_oversized_event_text_is_clipped_to_slack_limits() -> None:
    keys = [f"seq {n}: content hash mismatch " + "z" * 400 for n in range(40)]
    alert = reconciliation_alert(
        check="evidence_chain_verifies", checked_day="2026-03-04", examined=40, failing=40, keys=keys
    )
    many = Alert("x", "i", "warning", "T" * 400, facts=tuple((f"f{n}", "v" * 3000) for n in range(23)))
    assert slack_problems(slack_message(alert)) == []
    assert slack_problems(slack_message(many)) == []


def test_a_latch_and_its_recovery_share_the_latch_id_under_different_keys() -> None:
    latched, recovered = EVERY_KIND["latched"], EVERY_KIND["recovered"]
    assert latched is not None and recovered is not None
    assert (latched.kind, recovered.kind) == (CONTINUITY_LATCHED, CONTINUITY_RECOVERED)
    assert latched.incident_id == recovered.incident_id == "2026-03-02T15:00:00Z"
    assert latched.incident_key != recovered.incident_key


@pytest.mark.parametrize(
    "transition",
    [
        ContinuityTransition.REFRESHED,
        ContinuityTransition.RECOVERING,
        "emergency_escalated",
        "freshness_recovered",
    ],
)
def test_transitions_that_do_not_change_what_operators_must_do_page_nobody(transition: str) -> None:
    assert (
        continuity_alert(
            lane="macd_rsi", transition=transition, window_start=CLEAR, latched_window=LATCH, reason=None
        )
        is None
    )


def test_an_emergency_stop_is_one_incident_per_triggering_window() -> None:
    emergency = EVERY_KIND["emergency"]
    assert emergency is not None and emergency.kind == EMERGENCY_STOP
    assert emergency.incident_key == "emergency_stop:ema_trend:2026-03-02T15:00:00Z"


def test_the_same_live_denial_asked_again_is_the_same_incident() -> None:
    first = _denied(["approval_required_for_live", "gate5_live_ramp_readiness:approval_token_missing"])
    again = _denied(["gate5_live_ramp_readiness:approval_token_missing", "approval_required_for_live"])
    other = _denied(["signal_continuity_alert_active"])
    assert first.incident_key == again.incident_key
    assert other.incident_key != first.incident_key


def test_the_delivery_summary_says_alerts_were_not_sent_without_a_webhook() -> None:
    report = DeliveryReport(webhook_configured=False, recorded_only=("emergency_stop:macd_rsi:t",))
    assert "recorded, not sent: TORGHUT_ALERT_WEBHOOK_URL is unset" in report.summary()
    assert report.as_json()["webhook"] == "not configured"


def test_a_failed_post_is_reported_for_retry_with_its_error_code() -> None:
    report = DeliveryReport(webhook_configured=True, retry_pending=("k",), errors=("http_500",))
    assert report.summary() == "alerts: 1 to retry (http_500)"
