"""The evidence chain's head, published outside the ledger by the nightly reconciliation, on SQLite and
PostgreSQL (docs/reconciliation.md, "Published chain head"): written as an artifact, shown in the
report's metadata, posted to the webhook when one is set; a chain that no longer holds a head published
before fails `evidence_chain_head_retained`, naming the head and how it was lost."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.reconciliation.nightly import ReconciliationResource, reconciliation_report
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.evidence_log import EvidenceEntry, append_entry
from torghut_assets.services.chain_head import HEAD_CHECK, publish_chain_head
from torghut_assets_tests.adapters.webhook_stub import WebhookStub

T0 = dt.datetime(2026, 3, 4, 7, 30, tzinfo=dt.UTC)


@pytest.fixture
def stub() -> Iterator[WebhookStub]:
    with WebhookStub() as running:
        yield running


def ledger(url: str, root: Path) -> LedgerResource:
    return LedgerResource(database_url=url, artifact_root=str(root / "artifacts"))


def append(url: str, *subjects: str) -> list[EvidenceEntry]:
    engine = create_ledger_engine(url)
    try:
        with engine.begin() as conn:
            return [
                append_entry(
                    conn,
                    entry_kind="operational_readiness",
                    subject=subject,
                    content={"drill": subject, "passed": True},
                    recorded_at=T0,
                )
                for subject in subjects
            ]
    finally:
        engine.dispose()


def drop_from(url: str, seq: int) -> None:
    engine = create_ledger_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(schema.evidence_log.delete().where(schema.evidence_log.c.seq >= seq))
    finally:
        engine.dispose()


def test_the_head_is_published_as_an_artifact_and_the_first_night_has_nothing_to_compare(
    ledger_url: str, tmp_path: Path
) -> None:
    *_, tip = append(ledger_url, "kill_switch", "rollback", "runbook")
    published = publish_chain_head(ledger(ledger_url, tmp_path), now=T0)
    assert (published.head.seq, published.head.entry_hash) == (3, tip.entry_hash)
    assert json.loads(Path(published.artifact.path).read_text()) == published.head.as_dict()
    finding = published.finding
    assert finding.check == HEAD_CHECK and finding.verdict == "warn"
    assert finding.keys == ("no earlier published head: nothing to compare",)


def test_a_head_published_before_is_found_at_its_seq_the_next_night(ledger_url: str, tmp_path: Path) -> None:
    append(ledger_url, "kill_switch", "rollback", "runbook")
    publish_chain_head(ledger(ledger_url, tmp_path), now=T0)
    append(ledger_url, "parity")
    finding = publish_chain_head(ledger(ledger_url, tmp_path), now=T0 + dt.timedelta(days=1)).finding
    assert finding.passed and finding.examined == 1


def test_a_chain_truncated_below_a_published_head_fails_naming_it(ledger_url: str, tmp_path: Path) -> None:
    append(ledger_url, "kill_switch", "rollback", "runbook")
    first = publish_chain_head(ledger(ledger_url, tmp_path), now=T0).head
    drop_from(ledger_url, 3)
    finding = publish_chain_head(ledger(ledger_url, tmp_path), now=T0 + dt.timedelta(days=1)).finding
    assert not finding.passed and finding.severity == "ERROR"
    assert finding.keys == (f"{first.label()}: published_head_truncated",)


def test_a_chain_rewritten_at_a_published_head_fails_naming_it(ledger_url: str, tmp_path: Path) -> None:
    append(ledger_url, "kill_switch", "rollback", "runbook")
    first = publish_chain_head(ledger(ledger_url, tmp_path), now=T0).head
    drop_from(ledger_url, 3)
    append(ledger_url, "runbook-rewritten")  # seq 3 again, another hash
    finding = publish_chain_head(ledger(ledger_url, tmp_path), now=T0 + dt.timedelta(days=1)).finding
    assert not finding.passed
    assert finding.keys == (f"{first.label()}: published_head_rewritten",)


def _reconcile(url: str, root: Path, alerts: AlertsResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [reconciliation_report],
        resources={
            "ledger": ledger(url, root),
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
        raise_on_error=False,
    )


def _head_messages(stub: WebhookStub) -> list[dict[str, Any]]:
    return [m for m in stub.messages if str(m.get("text", "")).startswith("[NOTICE] Evidence chain head")]


def test_the_nightly_report_shows_the_head_and_posts_it_to_the_webhook_once(
    ledger_url: str, tmp_path: Path, stub: WebhookStub
) -> None:
    *_, tip = append(ledger_url, "kill_switch", "rollback")
    alerts = AlertsResource(webhook_url=stub.url, timeout_seconds=2)
    first = _reconcile(ledger_url, tmp_path, alerts)
    _reconcile(ledger_url, tmp_path, alerts)  # the same head again: posted once
    metadata = first.asset_materializations_for_node("reconciliation_report")[0].metadata
    head = metadata["evidence_chain_head"].value
    assert (head["seq"], head["entry_hash"]) == (2, tip.entry_hash)
    # not served (no TORGHUT_ARTIFACT_BASE_URL): the artifact's path under the root, then its digest
    relative = str(metadata["evidence_chain_head_artifact"].value).split(" (sha256 ")[0]
    assert (tmp_path / "artifacts" / relative).exists()
    checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    assert HEAD_CHECK in checks
    (message,) = _head_messages(stub)
    assert message["text"] == "[NOTICE] Evidence chain head: seq 2"
    assert tip.entry_hash in json.dumps(message["blocks"])


def test_without_a_webhook_the_head_is_published_but_not_recorded_as_an_alert(
    ledger_url: str, tmp_path: Path
) -> None:
    append(ledger_url, "kill_switch")
    result = _reconcile(ledger_url, tmp_path, AlertsResource())
    metadata = result.asset_materializations_for_node("reconciliation_report")[0].metadata
    assert metadata["evidence_chain_head"].value["seq"] == 1
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            kinds = conn.execute(sa.select(schema.alert_deliveries.c.kind)).scalars().all()
    finally:
        engine.dispose()
    assert "evidence_chain_head" not in kinds
