"""Operator alerts through the webhook resource, against a stub Slack webhook, on SQLite and PostgreSQL.

Each of the governance events pages exactly once per incident even when the code that sees it runs
again; a failing webhook never fails the governance action and the alert is retried later; without a
webhook the alert is recorded and the run says it was not sent; the URL never shows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.alerts import AlertsResource, alert_retry_sensor
from torghut_assets.defs.continuity.signal_continuity import evaluate_lanes
from torghut_assets.defs.governance.rollback import rollback_job
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.llm.llm_reviews import llm_decision_reviews
from torghut_assets.defs.reconciliation.nightly import ReconciliationResource, reconciliation_report
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.alerts import Alert, reconciliation_alert
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.continuity import transition_alerts
from torghut_assets_tests.adapters.llm_stub import LlmStub
from torghut_assets_tests.adapters.webhook_stub import TOKEN_PATH, WebhookStub, slack_problems
from torghut_assets_tests.defs.governance_harness import (
    LANE,
    GovernedLedger,
    build_governed_ledger,
    launch_promotion,
    verdict_metadata,
)
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources

MONDAY = pd.Timestamp("2026-03-02 00:00", tz="UTC")
LATCHING_TICK = MONDAY + pd.Timedelta(hours=18, minutes=30)  # 13:30 New York, nothing materialized
RECOVERY_WINDOWS = [MONDAY + pd.Timedelta(hours=18), MONDAY + pd.Timedelta(hours=19)]
RECOVERY_TICK = MONDAY + pd.Timedelta(hours=20, minutes=30)
FAILED_CHECK = reconciliation_alert(
    check="evidence_chain_verifies", checked_day="2026-03-04", examined=412, failing=1, keys=["seq 17"]
)


@pytest.fixture
def stub() -> Iterator[WebhookStub]:
    with WebhookStub() as running:
        yield running


def _alerts(stub: WebhookStub) -> AlertsResource:
    return AlertsResource(webhook_url=stub.url, timeout_seconds=2)


def _ledger(url: str, root: Path) -> LedgerResource:
    return LedgerResource(database_url=url, artifact_root=str(root / "artifacts"))


def _deliveries(url: str) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            table = schema.alert_deliveries
            return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.incident_key)).mappings()]
    finally:
        engine.dispose()


def _retry(ledger: LedgerResource, alerts: AlertsResource) -> dg.SkipReason:
    with dg.build_sensor_context(resources={"ledger": ledger, "alerts": alerts}) as context:
        return alert_retry_sensor(context)


def _pages(stub: WebhookStub, kind: str) -> list[str]:
    """Incident keys of the messages of one kind the webhook received, in order."""
    keys = []
    for message in stub.messages:
        context = message["blocks"][-1]["elements"][0]["text"]
        key = context.split("`")[1]
        if key.startswith(f"{kind}:"):
            keys.append(key)
    return keys


# --- the resource: once per incident, retried, recorded without a webhook -------------------------------


def test_an_incident_sent_twice_from_two_resources_is_posted_once(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    ledger = _ledger(ledger_url, tmp_path)
    first = _alerts(stub).send(ledger, [FAILED_CHECK])
    again = _alerts(stub).send(ledger, [FAILED_CHECK, FAILED_CHECK])
    assert first.sent == (FAILED_CHECK.incident_key,) and again.already_sent == (FAILED_CHECK.incident_key,)
    assert len(stub.messages) == 1 and slack_problems(stub.messages[0]) == []
    (row,) = _deliveries(ledger_url)
    assert (row["status"], row["attempts"], row["kind"]) == ("sent", 1, "reconciliation_failed")


def test_senders_racing_on_one_incident_post_it_once(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    start = threading.Barrier(4)

    def send() -> None:
        ledger = _ledger(ledger_url, tmp_path)  # one engine each, as separate processes would have
        start.wait()
        _alerts(stub).send(ledger, [FAILED_CHECK])
        ledger.engine.dispose()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stub.messages) == 1


def test_without_a_webhook_the_alert_is_recorded_and_the_report_says_it_was_not_sent(
    ledger_url: str, tmp_path: Path
) -> None:
    report = AlertsResource().send(_ledger(ledger_url, tmp_path), [FAILED_CHECK])
    assert report.recorded_only == (FAILED_CHECK.incident_key,) and not report.errors
    assert "TORGHUT_ALERT_WEBHOOK_URL is unset" in report.summary()
    assert [r["status"] for r in _deliveries(ledger_url)] == ["unconfigured"]


def test_a_failed_post_stays_pending_until_the_retry_sensor_delivers_it_once(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    ledger, alerts = _ledger(ledger_url, tmp_path), _alerts(stub)
    stub.script(500)
    report = alerts.send(ledger, [FAILED_CHECK])
    assert report.retry_pending == (FAILED_CHECK.incident_key,) and report.errors == ("http_500",)
    (row,) = _deliveries(ledger_url)
    assert (row["status"], row["last_error"]) == ("pending", "http_500 server_error")
    assert "1 sent" in str(_retry(ledger, alerts).skip_message)
    assert "no pending alert" in str(_retry(ledger, alerts).skip_message)
    assert len(stub.messages) == 1 and _deliveries(ledger_url)[0]["status"] == "sent"


def test_a_failed_post_is_retried_when_the_event_is_seen_again(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    ledger, alerts = _ledger(ledger_url, tmp_path), _alerts(stub)
    stub.script(500)
    alerts.send(ledger, [FAILED_CHECK])
    assert alerts.send(ledger, [FAILED_CHECK]).sent == (FAILED_CHECK.incident_key,)
    assert len(stub.messages) == 1


def test_after_a_failed_post_the_rest_of_the_batch_waits_for_the_retry(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    other = reconciliation_alert(check="orphans", checked_day="2026-03-04", examined=9, failing=2, keys=[])
    stub.script(503)
    report = _alerts(stub).send(_ledger(ledger_url, tmp_path), [FAILED_CHECK, other])
    assert set(report.retry_pending) == {FAILED_CHECK.incident_key, other.incident_key}
    assert report.errors == ("http_503",) and stub.messages == []


def test_an_unreachable_alert_ledger_is_reported_not_raised(stub: WebhookStub) -> None:
    ledger = LedgerResource(database_url="postgresql+psycopg2://nobody@127.0.0.1:1/none")
    report = _alerts(stub).send(ledger, [FAILED_CHECK])
    assert report.errors and report.errors[0].startswith("alerting_error:")
    assert stub.messages == []


def test_the_webhook_url_never_reaches_the_report_or_the_ledger(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    ledger, alerts = _ledger(ledger_url, tmp_path), _alerts(stub)
    stub.script(500)
    failed = alerts.send(ledger, [FAILED_CHECK])
    delivered = _retry(ledger, alerts)
    seen = json.dumps([failed.as_json(), str(delivered.skip_message), _deliveries(ledger_url)], default=str)
    assert TOKEN_PATH not in seen and "127.0.0.1" not in seen


# --- continuity latch, its recovery, emergency stop --------------------------------------------------------


def test_a_continuity_latch_and_an_emergency_stop_page_once_per_lane_however_often_the_sensor_ticks(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    ledger, alerts = _ledger(ledger_url, tmp_path), _alerts(stub)
    transitions, _ = evaluate_lanes(ledger, alerts, LATCHING_TICK)
    evaluate_lanes(ledger, alerts, LATCHING_TICK)
    alerts.send(ledger, transition_alerts(transitions))  # a tick retried after its commit
    assert _pages(stub, "continuity_latched") == [
        "continuity_latched:ema_trend:2026-03-02T14:00:00Z",
        "continuity_latched:macd_rsi:2026-03-02T14:00:00Z",
    ]
    assert _pages(stub, "emergency_stop") == [
        "emergency_stop:ema_trend:2026-03-02T14:00:00Z",
        "emergency_stop:macd_rsi:2026-03-02T14:00:00Z",
    ]
    assert all(slack_problems(m) == [] for m in stub.messages)


def test_recovery_pages_once_and_names_the_latch_it_closes(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    ledger, alerts = _ledger(ledger_url, tmp_path), _alerts(stub)
    evaluate_lanes(ledger, alerts, LATCHING_TICK)
    base = {**resources(ledger_url, tmp_path / "artifacts"), "ledger": ledger}
    for start in RECOVERY_WINDOWS:
        dg.materialize(
            [signals],
            partition_key=lane_window_key("macd_rsi", start),
            resources=base,
            instance=dg.DagsterInstance.ephemeral(),
        )
    transitions, _ = evaluate_lanes(ledger, alerts, RECOVERY_TICK)
    alerts.send(ledger, transition_alerts(transitions))
    evaluate_lanes(ledger, alerts, RECOVERY_TICK)
    assert _pages(stub, "continuity_recovered") == ["continuity_recovered:macd_rsi:2026-03-02T14:00:00Z"]
    assert stub.messages[-1]["text"] == "[RESOLVED] Signal continuity recovered on macd_rsi"


# --- failed reconciliation check ----------------------------------------------------------------------


def _reconcile(url: str, root: Path, alerts: AlertsResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [reconciliation_report],
        resources={
            "ledger": _ledger(url, root),
            "market_data": MarketDataResource(),
            "research_settings": ResearchResource(),
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
            "reconciliation": ReconciliationResource(
                lookback_hours=2, replay_sample=0, as_of="2026-03-04T07:30:00Z"
            ),
            "alerts": alerts,
        },
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_each_failing_reconciliation_check_pages_once_per_day_across_reruns(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    first = _reconcile(ledger_url, tmp_path, _alerts(stub))  # an empty ledger fails closed
    _reconcile(ledger_url, tmp_path, _alerts(stub))
    failing = {
        e.check_name
        for e in first.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    }
    assert failing
    assert sorted(_pages(stub, "reconciliation_failed")) == sorted(
        f"reconciliation_failed:-:2026-03-04:{check}" for check in failing
    )
    metadata = first.asset_materializations_for_node("reconciliation_report")[0].metadata
    assert metadata["alerts"].value["webhook"] == "configured"
    assert TOKEN_PATH not in str(first.all_events)


# --- spent LLM error budget ---------------------------------------------------------------------------


def test_a_spent_llm_error_budget_pages_once_for_the_window_across_rematerializations(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    with LlmStub(mode="malformed") as llm_stub:
        llm = LLMAdvisoryResource(
            enabled=True,
            base_url=llm_stub.url,
            model="stub-model",
            timeout_seconds=0.3,
            connect_timeout_seconds=0.3,
        )
        base = {**resources(ledger_url, tmp_path / "artifacts"), "llm": llm, "alerts": _alerts(stub)}
        for assets in ([signals, trade_decisions, llm_decision_reviews], [llm_decision_reviews]):
            result = dg.materialize(
                assets,
                partition_key=lane_window_key("macd_rsi", OPEN_WINDOW),
                resources=base,
                instance=dg.DagsterInstance.ephemeral(),
            )
            (event,) = result.asset_materializations_for_node("llm_decision_reviews")
            assert event.metadata["error_budget"].value["spent"]
    assert _pages(stub, "llm_error_budget_spent") == ["llm_error_budget_spent:macd_rsi:2026-03-03T15:00:00Z"]
    assert TOKEN_PATH not in str(result.all_events)
    assert event.metadata["alerts"].value["already_sent"] == [
        "llm_error_budget_spent:macd_rsi:2026-03-03T15:00:00Z"
    ]


# --- denied live promotion and rollback (governed ledger) -----------------------------------------------


@pytest.fixture(scope="module")
def governed_ledger(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> GovernedLedger:
    return build_governed_ledger(module_ledger_url, tmp_path_factory.mktemp("governed"))


@pytest.fixture
def governed(governed_ledger: GovernedLedger) -> Iterator[GovernedLedger]:
    governed_ledger.reset()
    yield governed_ledger
    governed_ledger.reset()


def _promote_live(
    governed: GovernedLedger, alerts: AlertsResource, candidate: str
) -> dg.ExecuteInProcessResult:
    config = {"candidate_id": candidate, "target_stage": "live", "requester": "quant@torghut"}
    return launch_promotion({**governed.resources(), "alerts": alerts}, config)


def _roll_back(
    governed: GovernedLedger, alerts: AlertsResource, action: str = "rollback"
) -> dg.ExecuteInProcessResult:
    config = {
        "lane": LANE,
        "action": action,
        "actor": "oncall@torghut",
        "reason": "fills diverge from the paper record",
    }
    return rollback_job.execute_in_process(
        run_config={"ops": {"apply_rollback": {"config": config}}},
        resources={"ledger": governed.resources()["ledger"], "alerts": alerts},
    )


def test_a_denied_live_promotion_pages_once_when_the_same_request_is_denied_again(
    governed: GovernedLedger, stub: WebhookStub
) -> None:
    champion = governed.candidates[0]
    assert governed.promote(champion, "paper").outcome.allowed
    first = _promote_live(governed, _alerts(stub), champion)
    second = _promote_live(governed, _alerts(stub), champion)
    assert first.success and second.success  # a deny is a recorded verdict, not a failed run
    denials = governed.rows(
        "research_promotions", candidate_id=champion, decision_action="deny", approver="torghut_gates"
    )
    assert len(denials) == 2
    (page,) = _pages(stub, "live_promotion_denied")
    assert page.startswith(f"live_promotion_denied:{LANE}:{champion}:live_l1:")
    assert verdict_metadata(second)["alerts"]["already_sent"] == [page]


def test_a_denied_paper_promotion_pages_nobody(governed: GovernedLedger, stub: WebhookStub) -> None:
    champion = governed.candidates[0]
    governed.promote(champion, "paper")
    config = {"candidate_id": champion, "target_stage": "paper", "requester": "quant@torghut"}  # again
    denied = launch_promotion({**governed.resources(), "alerts": _alerts(stub)}, config)
    assert denied.success and verdict_metadata(denied)["decision"].startswith("DENY:")
    assert stub.messages == []


def test_a_webhook_500_leaves_the_denial_intact_and_the_page_is_retried(
    governed: GovernedLedger, stub: WebhookStub
) -> None:
    champion = governed.candidates[0]
    governed.promote(champion, "paper")
    stub.status = 500
    denied = _promote_live(governed, _alerts(stub), champion)
    metadata = verdict_metadata(denied)
    assert metadata["decision"].startswith("DENY:") and metadata["alerts"]["errors"] == ["http_500"]
    denials = governed.rows(
        "research_promotions", candidate_id=champion, decision_action="deny", approver="torghut_gates"
    )
    assert len(denials) == 1
    stub.status = 200
    _retry(governed.resources()["ledger"], _alerts(stub))
    assert len(_pages(stub, "live_promotion_denied")) == 1
    assert TOKEN_PATH not in str(denied.all_events)


def test_each_rollback_and_halt_incident_pages_once(governed: GovernedLedger, stub: WebhookStub) -> None:
    champion = governed.candidates[0]
    governed.promote(champion, "paper")
    _roll_back(governed, _alerts(stub))
    _roll_back(governed, _alerts(stub), action="halt")
    _retry(governed.resources()["ledger"], _alerts(stub))
    incidents = sorted(governed.rows("rollback_incidents"), key=lambda r: r["triggered_at"])
    assert [i["after_state"]["halted"] for i in incidents] == [False, True]
    assert _pages(stub, "lane_rollback") == [f"lane_rollback:{LANE}:{i['id']}" for i in incidents]
    assert [m["text"] for m in stub.messages] == [
        f"[CRITICAL] Lane {LANE}: rollback (manual)",
        f"[CRITICAL] Lane {LANE}: halt (manual)",
    ]
    assert all(slack_problems(m) == [] for m in stub.messages)


def test_a_webhook_500_does_not_fail_the_rollback_and_the_page_is_retried_once(
    governed: GovernedLedger, stub: WebhookStub
) -> None:
    champion = governed.candidates[0]
    governed.promote(champion, "paper")
    stub.status = 500
    rolled = _roll_back(governed, _alerts(stub))
    assert rolled.success
    assert [t["transition_type"] for t in governed.rows("rollout_transitions")] == ["advance", "rollback"]
    (event,) = [e for e in rolled.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert event.event_specific_data.metadata["alerts"].value["errors"] == ["http_500"]
    stub.status = 200
    ledger = governed.resources()["ledger"]
    _retry(ledger, _alerts(stub))
    _retry(ledger, _alerts(stub))
    (incident,) = governed.rows("rollback_incidents")
    assert _pages(stub, "lane_rollback") == [f"lane_rollback:{LANE}:{incident['id']}"]
    assert TOKEN_PATH not in str(rolled.all_events)


def test_alerts_are_sent_only_after_the_ledger_commit(
    governed: GovernedLedger, stub: WebhookStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the webhook receives the rollback page, the incident it names is already readable."""
    champion = governed.candidates[0]
    governed.promote(champion, "paper")
    seen_incidents: list[int] = []
    original = AlertsResource.send

    def observing(self: AlertsResource, ledger: LedgerResource, alerts: list[Alert], log: Any = None) -> Any:
        seen_incidents.append(len(governed.rows("rollback_incidents")))
        return original(self, ledger, alerts, log)

    monkeypatch.setattr(AlertsResource, "send", observing)
    _roll_back(governed, _alerts(stub))
    assert seen_incidents == [1]
