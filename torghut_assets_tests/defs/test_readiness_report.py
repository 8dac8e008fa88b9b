"""`readiness_report`: a healthy paper day produced by the pipeline passes every acceptance criterion,
and removing the evidence behind any one criterion fails exactly that one."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.defs.governance.readiness_report import criteria_table, readiness_report_asset
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.domain.readiness import ReadinessFigures, evaluate_readiness, readiness_report
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.readiness_report import measure, paper_period_start
from torghut_assets_tests.defs.governance_harness import (
    GovernedLedger,
    live_enabled_policy,
    pass_parity_and_drills,
)
from torghut_assets_tests.defs.lane_window_harness import materialize_window

AS_OF = dt.datetime(2026, 3, 3, 21, 30, tzinfo=dt.UTC)  # after Tuesday's close
DAY = [pd.Timestamp(f"2026-03-03 {h}:00", tz="UTC") for h in range(14, 21)]


@pytest.fixture(scope="module")
def paper_day(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> GovernedLedger:
    """A full Tuesday of macd_rsi through the pipeline, parity, drills, and the champion promoted to paper."""
    root = tmp_path_factory.mktemp("paper_day")
    live_enabled_policy(root / "gates-live-enabled.toml")
    for start in DAY:
        materialize_window(module_ledger_url, root / "artifacts", "macd_rsi", start)
        materialize_window(
            module_ledger_url, root / "artifacts", "ema_trend", start, assets=[signals, trade_decisions]
        )
    ledger = GovernedLedger(url=module_ledger_url, root=root, evidence_seq=0, candidates=[])
    pass_parity_and_drills(ledger)
    engine = create_ledger_engine(module_ledger_url)
    with engine.connect() as conn:
        champion = conn.execute(
            sa.select(schema.research_promotions.c.candidate_id).where(
                schema.research_promotions.c.window_start == DAY[1].to_pydatetime()
            )
        ).scalar_one()
    engine.dispose()
    assert ledger.promote(champion, "paper").outcome.allowed
    return ledger


def _verdicts(url: str, mutate: Callable[[Connection], None] | None = None) -> dict[str, bool]:
    """Criteria as measured, optionally after a mutation that is rolled back afterwards."""
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            if mutate is not None:
                mutate(conn)
            figures, _ = measure(conn, AS_OF, market_days=1)
            transaction.rollback()
    finally:
        engine.dispose()
    return {c.criterion_id: c.passed for c in evaluate_readiness(figures)}


def test_a_healthy_paper_day_produced_by_the_pipeline_passes_every_criterion(
    paper_day: GovernedLedger,
) -> None:
    verdicts = _verdicts(paper_day.url)
    assert all(verdicts.values()), verdicts


def _delete(table: sa.Table) -> Callable[[Connection], None]:
    return lambda conn: conn.execute(table.delete())


REMOVALS: dict[str, Callable[[Connection], None]] = {
    "signals_total_24h_positive": _delete(schema.signals),
    "new_trade_decisions_24h": lambda conn: (
        conn.execute(schema.llm_decision_reviews.delete()),
        conn.execute(schema.trade_decisions.delete()),
    ),
    "complete_research_row_set_24h": _delete(schema.research_stress_metrics),
    "stable_route_metadata_24h": lambda conn: conn.execute(
        schema.executions.update().values(execution_actual_adapter="unknown")
    ),
    "paper_period_net_realized_pnl_positive": lambda conn: conn.execute(
        schema.executions.update().where(schema.executions.c.side == "sell").values(avg_fill_price=1.0)
    ),
    "gate_report_recommends_paper_or_better": _delete(schema.gate_evaluations),
    "evidence_chain_stored_and_verified": lambda conn: conn.execute(
        schema.evidence_log.update().where(schema.evidence_log.c.seq == 1).values(content_hash="0" * 64)
    ),
}


@pytest.mark.parametrize("criterion", sorted(REMOVALS))
def test_removing_the_evidence_of_a_criterion_fails_it(paper_day: GovernedLedger, criterion: str) -> None:
    verdicts = _verdicts(paper_day.url, REMOVALS[criterion])
    assert verdicts[criterion] is False


def test_removing_executions_fails_the_flow_and_route_criteria(paper_day: GovernedLedger) -> None:
    def drop(conn: Connection) -> None:
        conn.execute(schema.execution_tca_metrics.delete())
        conn.execute(schema.executions.delete())

    verdicts = _verdicts(paper_day.url, drop)
    assert not verdicts["new_executions_24h"] and not verdicts["stable_route_metadata_24h"]
    assert not verdicts["paper_period_net_realized_pnl_positive"]


def test_the_asset_reports_every_criterion_with_its_numbers(
    paper_day: GovernedLedger, tmp_path: Path
) -> None:
    result = dg.materialize(
        [readiness_report_asset],
        resources={"ledger": paper_day.resources()["ledger"]},
        instance=dg.DagsterInstance.ephemeral(),
        run_config={
            "ops": {
                "readiness_report": {"config": {"as_of": AS_OF.isoformat(), "paper_period_market_days": 1}}
            }
        },
    )
    metadata = result.asset_materializations_for_node("readiness_report")[0].metadata
    assert metadata["ready"].value is True
    assert (metadata["criteria_passed"].value, metadata["criteria_total"].value) == (8, 8)
    assert list(metadata)[:2] == ["verdict", "criteria"]
    assert metadata["verdict"].value.startswith("READY: 8 of 8 criteria PASS")
    assert {r.data["verdict"] for r in metadata["criteria"].value.records} == {"PASS"}
    assert metadata["snapshot_note"].value.startswith("snapshot of ")


HEALTHY = ReadinessFigures(
    signals_24h=2400,
    decisions_24h=310,
    executions_24h=32,
    complete_research_sets_24h=7,
    executions_missing_route_24h=0,
    paper_period_days=10,
    paper_period_net_realized_pnl=142.15,
    paper_period_executions=320,
    latest_recommended_mode="paper",
    latest_gate_evaluation_id="0b6c2c3e-4f0e-4b8e-9a55-3c1d2f7e9a10",
    evidence_entries=120,
    evidence_chain_ok=True,
    evidence_breaks=0,
)


@pytest.mark.parametrize(
    "changes, criterion",
    [
        ({"signals_24h": 0}, "signals_total_24h_positive"),
        ({"decisions_24h": 0}, "new_trade_decisions_24h"),
        ({"executions_24h": 0}, "new_executions_24h"),
        ({"complete_research_sets_24h": 0}, "complete_research_row_set_24h"),
        ({"executions_missing_route_24h": 1}, "stable_route_metadata_24h"),
        ({"paper_period_net_realized_pnl": None}, "paper_period_net_realized_pnl_positive"),
        ({"paper_period_net_realized_pnl": 0.0}, "paper_period_net_realized_pnl_positive"),
        ({"latest_recommended_mode": "shadow"}, "gate_report_recommends_paper_or_better"),
        ({"latest_recommended_mode": None}, "gate_report_recommends_paper_or_better"),
        ({"evidence_chain_ok": False}, "evidence_chain_stored_and_verified"),
        ({"evidence_entries": 0}, "evidence_chain_stored_and_verified"),
    ],
)
def test_each_criterion_fails_closed_on_its_own_figure(changes: dict[str, object], criterion: str) -> None:
    verdicts = {c.criterion_id: c.passed for c in evaluate_readiness(dataclasses.replace(HEALTHY, **changes))}
    assert verdicts.pop(criterion) is False
    failing_others = [k for k, v in verdicts.items() if not v]
    assert failing_others in ([], ["stable_route_metadata_24h"])  # no executions also means no route metadata


def test_each_criterion_is_a_table_row_with_pass_or_fail_in_words() -> None:
    figures = dataclasses.replace(HEALTHY, evidence_chain_ok=False)
    report = readiness_report(figures, as_of="2026-03-03T21:30:00+00:00", period_start="2026-02-18")
    rows = {r.data["criterion"]: r.data for r in criteria_table(report).value.records}
    assert rows["evidence_chain_stored_and_verified"]["verdict"] == "FAIL"
    assert rows["evidence_chain_stored_and_verified"]["figure"] == "ok False"
    assert rows["paper_period_net_realized_pnl_positive"]["figure"] == "net_realized_pnl_after_costs 142.15"
    assert rows["evidence_chain_stored_and_verified"]["detail"] == "entries=120, ok=False, breaks=0"
    assert rows["signals_total_24h_positive"]["verdict"] == "PASS"


def test_the_paper_period_counts_market_sessions_back_from_the_evaluation_time() -> None:
    start = paper_period_start(dt.datetime(2026, 3, 9, 21, 30, tzinfo=dt.UTC), 2)  # Monday after close
    assert start == dt.datetime(2026, 3, 6, 14, 30, tzinfo=dt.UTC)  # Friday's open
