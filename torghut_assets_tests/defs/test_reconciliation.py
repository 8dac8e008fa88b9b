"""Nightly reconciliation: a healthy ledger passes; each kind of break is caught by the right check,
naming the key; an empty ledger fails (the checks prove their producers ran)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.reconciliation.nightly import ReconciliationResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade
from torghut_assets.services.reconciliation import expected_windows, run_reconciliation
from torghut_assets_tests.defs.lane_window_harness import materialize_window

NOW = pd.Timestamp("2026-03-03 17:10", tz="UTC")
WINDOWS = [pd.Timestamp("2026-03-03 15:00", tz="UTC"), pd.Timestamp("2026-03-03 16:00", tz="UTC")]
SETTINGS = ReconciliationResource(lookback_hours=2, replay_sample=1)


def _build(url: str, root: Path) -> None:
    for lane in ("macd_rsi", "ema_trend"):
        for start in WINDOWS:
            materialize_window(url, root, lane, start)


def _reconcile(url: str, root: Path) -> dict[str, Any]:
    ledger = LedgerResource(database_url=url, artifact_root=str(root))
    findings, _ = run_reconciliation(ledger, MarketDataResource(), ResearchResource(), SETTINGS, NOW)
    return {f.check: f for f in findings}


@pytest.fixture(scope="module")
def healthy(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("healthy")
    _build(module_ledger_url, root)
    return module_ledger_url, root


@pytest.fixture(scope="module")
def healthy_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    engine = create_ledger_engine(url)
    upgrade(engine)
    engine.dispose()
    _build(url, root / "artifacts")
    return root


@pytest.fixture
def broken(healthy_sqlite: Path, tmp_path: Path) -> tuple[str, Path]:
    """A private copy of the healthy SQLite ledger and its artifacts, free to break."""
    shutil.copy(healthy_sqlite / "ledger.sqlite", tmp_path / "ledger.sqlite")
    shutil.copytree(healthy_sqlite / "artifacts", tmp_path / "artifacts")
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path / "artifacts"


def _sql(url: str, statement: str) -> None:
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def _failed(findings: dict[str, Any]) -> set[str]:
    return {name for name, f in findings.items() if not f.passed}


def test_a_healthy_ledger_fails_no_check_and_warns_only_where_the_simulated_broker_cannot_compare(
    healthy: tuple[str, Path],
) -> None:
    """A laptop's broker is the simulator: it has no account to compare positions with, and a venue
    built afresh holds no book to list. Those two are warnings (nothing to compare), never passes."""
    findings = _reconcile(*healthy)
    verdicts = {name: f.verdict for name, f in findings.items() if f.verdict != "pass"}
    assert verdicts == {"positions_match_broker": "warn", "venue_orders_known": "warn"}, {
        k: f.keys for k, f in findings.items() if not f.passed
    }


def test_an_empty_ledger_fails_the_row_floor_check(ledger_url: str, tmp_path: Path) -> None:
    findings = _reconcile(ledger_url, tmp_path)
    assert not findings["row_count_floors"].passed
    assert "lane macd_rsi: no research run in the lookback" in findings["row_count_floors"].keys


def test_a_dropped_window_run_is_named(broken: tuple[str, Path]) -> None:
    _sql(
        broken[0], "delete from research_runs where lane = 'ema_trend' and window_start like '2026-03-03 16%'"
    )
    findings = _reconcile(*broken)
    assert "ema_trend/2026-03-03T16:00:00+00:00" in findings["window_run_coverage"].keys


def test_coverage_expects_no_window_before_a_lanes_ledger_history_begins(healthy: tuple[str, Path]) -> None:
    """The ledger begins at 15:00: a six-hour lookback expects 15:00 and 16:00, not the 14:00 market hour
    before it (nor the pre-market hours)."""
    url, root = healthy
    ledger = LedgerResource(database_url=url, artifact_root=str(root))
    settings = ReconciliationResource(lookback_hours=6, replay_sample=0)
    findings, _ = run_reconciliation(ledger, MarketDataResource(), ResearchResource(), settings, NOW)
    coverage = next(f for f in findings if f.check == "window_run_coverage")
    assert (coverage.passed, coverage.examined) == (True, 4)


def test_coverage_expects_only_market_hours_windows() -> None:
    """Over a weekend and a Monday morning (New York winter time) only Friday's session hours are expected."""
    monday = pd.Timestamp("2026-03-09 09:00", tz="UTC")
    expected = expected_windows(["macd_rsi"], monday, 72)
    hours = sorted(pd.Timestamp(s).strftime("%a %H") for _, s in expected)
    assert hours == ["Fri 14", "Fri 15", "Fri 16", "Fri 17", "Fri 18", "Fri 19", "Fri 20"]


def test_coverage_expects_nothing_of_a_lane_with_no_ledger_history() -> None:
    first = {"macd_rsi": pd.Timestamp("2026-03-03 15:00", tz="UTC")}
    expected = expected_windows(["macd_rsi", "ema_trend"], NOW.floor("h"), 4, first)
    assert {lane for lane, _ in expected} == {"macd_rsi"} and len(expected) == 2


def test_an_orphaned_candidate_is_named(broken: tuple[str, Path]) -> None:
    url, _ = broken
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        candidate = conn.execute(sa.text("select candidate_id from research_candidates limit 1")).scalar_one()
        conn.execute(
            sa.text("update research_candidates set run_id = 'deadbeef' where candidate_id = :c"),
            {"c": candidate},
        )
    engine.dispose()
    findings = _reconcile(*broken)
    assert f"candidate→run: {candidate}" in findings["foreign_keys_resolve"].keys


def test_a_candidate_without_folds_breaks_the_chain(broken: tuple[str, Path]) -> None:
    url, _ = broken
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        candidate = conn.execute(
            sa.text("select candidate_id from research_fold_metrics limit 1")
        ).scalar_one()
        conn.execute(sa.text("delete from research_fold_metrics where candidate_id = :c"), {"c": candidate})
    engine.dispose()
    findings = _reconcile(*broken)
    assert f"candidate {candidate}: fewer than 3 folds" in findings["research_chain_complete"].keys
    assert not findings["evidence_chain_verifies"].passed


def test_one_deleted_fold_row_is_caught_by_the_evidence_chain(broken: tuple[str, Path]) -> None:
    _sql(
        broken[0],
        "delete from research_fold_metrics where fold_name = 'fold_2' and rowid = "
        "(select min(rowid) from research_fold_metrics where fold_name = 'fold_2')",
    )
    findings = _reconcile(*broken)
    assert any("content_source_mismatch" in k for k in findings["evidence_chain_verifies"].keys)


def test_an_edited_hash_is_caught(broken: tuple[str, Path]) -> None:
    _sql(
        broken[0],
        "update research_candidates set candidate_hash = '00000000000000000000000000000000' "
        "where rowid = (select min(rowid) from research_candidates)",
    )
    assert not _reconcile(*broken)["evidence_chain_verifies"].passed


def test_an_altered_artifact_is_named(broken: tuple[str, Path]) -> None:
    engine = create_ledger_engine(broken[0])
    with engine.connect() as conn:
        refs = conn.execute(sa.select(schema.research_runs.c.artifact_refs)).scalars().all()
    engine.dispose()
    report = Path(next(r["path"] for run_refs in refs for r in run_refs if r["path"].endswith(".json")))
    original = report.read_bytes()  # the copy's rows point at the shared template's artifact files
    try:
        report.write_bytes(original + b" ")
        findings = _reconcile(*broken)
    finally:
        report.write_bytes(original)
    assert any(report.name in k for k in findings["artifacts_verify"].keys)


def test_missing_route_fields_are_named(broken: tuple[str, Path]) -> None:
    url, _ = broken
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        order = conn.execute(sa.text("select client_order_id from executions limit 1")).scalar_one()
        conn.execute(
            sa.text("update executions set execution_actual_adapter = 'unknown' where client_order_id = :o"),
            {"o": order},
        )
    engine.dispose()
    assert order in _reconcile(*broken)["execution_route_provenance"].keys


def test_a_diverging_broker_record_is_named(broken: tuple[str, Path]) -> None:
    url, _ = broken
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        order = conn.execute(
            sa.text("select client_order_id from executions where filled_qty > 1 limit 1")
        ).scalar_one()
        conn.execute(
            sa.text("update executions set filled_qty = filled_qty - 1 where client_order_id = :o"),
            {"o": order},
        )
    engine.dispose()
    keys = _reconcile(*broken)["executions_match_broker"].keys
    assert any(k.startswith(order[:16]) for k in keys)


def test_the_nightly_asset_reports_every_check_and_a_failing_gx_suite_names_its_expectation(
    broken: tuple[str, Path],
) -> None:
    import dagster as dg

    from torghut_assets.defs.reconciliation.nightly import reconciliation_report

    url, root = broken
    _sql(
        url,
        "update research_fold_metrics set fold_order = 0 "
        "where rowid = (select min(rowid) from research_fold_metrics)",
    )
    result = dg.materialize(
        [reconciliation_report],
        resources={
            "ledger": LedgerResource(database_url=url, artifact_root=str(root)),
            "market_data": MarketDataResource(),
            "research_settings": ResearchResource(),
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
            "reconciliation": ReconciliationResource(
                lookback_hours=2, replay_sample=0, as_of=NOW.isoformat()
            ),
            "alerts": AlertsResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert {"row_count_floors", "gx_executions", "gx_research_fold_metrics"} <= set(checks)
    fold_suite = checks["gx_research_fold_metrics"]
    assert not fold_suite.passed
    failed = fold_suite.metadata["failed_expectations"].value
    assert any(
        f["expectation_type"] == "expect_column_values_to_be_between" and f["columns"] == ["fold_order"]
        for f in failed
    )
    assert checks["gx_executions"].passed
    materialization = result.asset_materializations_for_node("reconciliation_report")[0]
    data_docs = str(materialization.metadata["data_docs"].value)  # not served: its path under the root
    assert data_docs.startswith("data-docs/") and data_docs.split(" (sha256 ")[0].endswith("index.html")


def test_lean_orders_are_reconciled_against_the_runner_record(ledger_url: str, tmp_path: Path) -> None:
    import dagster as dg

    from torghut_assets.defs.lane_window.executions import executions
    from torghut_assets.defs.lane_window.partitions import lane_window_key
    from torghut_assets.defs.lane_window.signals import signals
    from torghut_assets.defs.lane_window.trading import trade_decisions
    from torghut_assets.services.reconciliation import broker_finding as _broker_finding
    from torghut_assets_tests.adapters.lean_stub import LeanStub
    from torghut_assets_tests.defs.lane_window_harness import trading_as_open_window

    ledger = LedgerResource(database_url=ledger_url, artifact_root=str(tmp_path))
    since, until = WINDOWS[0], WINDOWS[0] + pd.Timedelta(hours=1)
    with LeanStub() as stub:
        broker = BrokerResource(lean_runner_url=stub.url, lean_timeout_seconds=0.5)
        dg.materialize(
            [signals, trade_decisions, executions],
            partition_key=lane_window_key("macd_rsi", WINDOWS[0]),
            resources={
                "ledger": ledger,
                "market_data": MarketDataResource(),
                "broker": broker,
                "trading_session": trading_as_open_window(WINDOWS[0]),
            },
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert _broker_finding(ledger, MarketDataResource(), broker, since, until).passed
        engine = create_ledger_engine(ledger_url)
        with engine.begin() as conn:
            order = conn.execute(sa.text("select client_order_id from executions limit 1")).scalar_one()
            conn.execute(
                sa.text("update executions set filled_qty = 0 where client_order_id = :o"), {"o": order}
            )
        engine.dispose()
        diverged = _broker_finding(ledger, MarketDataResource(), broker, since, until)
        assert any(k.startswith(order[:16]) and "vs lean" in k for k in diverged.keys)
    unreachable = _broker_finding(ledger, MarketDataResource(), broker, since, until)
    assert not unreachable.passed and all("lean unreachable" in k for k in unreachable.keys)


def test_nothing_to_compare_shows_as_a_warning_check_in_the_ui_never_a_pass(broken: tuple[str, Path]) -> None:
    """Dagster renders a failed check of severity WARN as a warning (a passed check shows green
    whatever its severity), and such a check pages nobody; the report's verdict is `warn`, not ok."""
    import dagster as dg

    from torghut_assets.defs.reconciliation.nightly import reconciliation_report

    url, root = broken
    result = dg.materialize(
        [reconciliation_report],
        resources={
            "ledger": LedgerResource(database_url=url, artifact_root=str(root)),
            "market_data": MarketDataResource(),
            "research_settings": ResearchResource(),
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
            "reconciliation": ReconciliationResource(
                lookback_hours=2, replay_sample=0, as_of=NOW.isoformat()
            ),
            "alerts": AlertsResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("positions_match_broker", "venue_orders_known", "replay_sample_matches"):
        assert (checks[name].passed, checks[name].severity) == (False, dg.AssetCheckSeverity.WARN), name
    assert "the market simulator (no broker configured) keeps its order book only" in str(
        checks["venue_orders_known"].description
    )
    assert "replay sample of 0" in str(checks["replay_sample_matches"].description)
    metadata = result.asset_materializations_for_node("reconciliation_report")[0].metadata
    assert metadata["ok"].value is False and metadata["verdict"].value != "pass"
