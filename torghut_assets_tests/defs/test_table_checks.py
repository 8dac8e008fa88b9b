"""The lane-window assets' blocking table-contract checks, on SQLite and PostgreSQL.

A window is materialized once per backend with every check included; each break test damages the window's
rows by SQL, runs the one check alone against the same partition, and restores the rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key, lane_window_partitions
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.table_checks import (
    LANE_WINDOW_TABLE_CHECKS,
    build_table_contract_check,
)
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.llm.llm_reviews import llm_decision_reviews
from torghut_assets.ledger import schema
from torghut_assets.ledger import table_contracts as tc
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.adapters.llm_stub import LlmStub
from torghut_assets_tests.defs.lane_window_harness import (
    CLOSED_WINDOW,
    OPEN_WINDOW,
    materialize_window,
    resources,
)

LANE = "macd_rsi"
CHECKS = {next(iter(c.check_keys)).asset_key.to_user_string(): c for c in LANE_WINDOW_TABLE_CHECKS}


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _meta(evaluation: dg.AssetCheckEvaluation) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


@dataclasses.dataclass(frozen=True)
class Materialized:
    url: str
    root: Path
    evaluations: dict[pd.Timestamp, dict[str, dg.AssetCheckEvaluation]]


@pytest.fixture(scope="module")
def window(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> Materialized:
    """macd_rsi's open and closed windows, materialized with every contract check, once per backend."""
    root = tmp_path_factory.mktemp("artifacts")
    with_checks = [*LANE_WINDOW_ASSETS, *LANE_WINDOW_TABLE_CHECKS]
    evaluations = {
        start: _evaluations(materialize_window(module_ledger_url, root, LANE, start, assets=with_checks))
        for start in (OPEN_WINDOW, CLOSED_WINDOW)
    }
    return Materialized(module_ledger_url, root, evaluations)


def _run_check(
    url: str, root: Path, asset: str, start: pd.Timestamp = OPEN_WINDOW
) -> dg.AssetCheckEvaluation:
    """Run one asset's contract check alone on the window's partition (the asset is not re-materialized).

    A check-only selection has no asset to take a partitions definition from, so the partition goes in
    as the run tags a partitioned run carries."""
    check = CHECKS[asset]
    key = lane_window_key(LANE, start)
    tags = {
        "dagster/partition": str(key),
        **{f"dagster/partition/{dim}": value for dim, value in key.keys_by_dimension.items()},
    }
    result = dg.materialize(
        [*LANE_WINDOW_ASSETS, check],
        selection=dg.AssetSelection.checks(check),
        tags=tags,
        resources=resources(url, root),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.get_asset_materialization_events()
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


@contextmanager
def _damaged(url: str, table_name: str, change: Callable[[Any], dict[str, Any]]) -> Iterator[None]:
    """Apply `change(row)` to the open window's first row of the table, then restore it."""
    table = schema.metadata.tables[table_name]
    engine = create_ledger_engine(url)
    window = sa.and_(table.c.lane == LANE, table.c.window_start == OPEN_WINDOW.to_pydatetime())
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(table).where(window).order_by(table.c.id).limit(1)).one()
            values = change(row)
            original = {name: row._mapping[name] for name in values}
            conn.execute(table.update().where(table.c.id == row.id).values(values))
        try:
            yield
        finally:
            with engine.begin() as conn:
                conn.execute(table.update().where(table.c.id == row.id).values(original))
    finally:
        engine.dispose()


# --- the checks as declared ----------------------------------------------------------------------------


def test_each_lane_window_asset_has_one_blocking_partitioned_contract_check() -> None:
    assert sorted(CHECKS) == sorted(a.key.to_user_string() for a in LANE_WINDOW_ASSETS)
    for asset, check in CHECKS.items():
        (spec,) = check.check_specs
        assert spec.name == f"{asset}_table_contract"
        assert spec.blocking
        assert check.partitions_def == lane_window_partitions
    defs = dg.Definitions(
        assets=LANE_WINDOW_ASSETS,
        asset_checks=LANE_WINDOW_TABLE_CHECKS,
        resources=resources("sqlite://", Path("unused")),  # nothing connects while resolving
    )
    assert len(defs.resolve_asset_graph().asset_check_keys) == len(LANE_WINDOW_ASSETS)


# --- a clean window ------------------------------------------------------------------------------------


def test_a_clean_materialized_window_passes_every_contract_check(window: Materialized) -> None:
    evaluations = window.evaluations[OPEN_WINDOW]
    assert len(evaluations) == len(LANE_WINDOW_TABLE_CHECKS)
    assert {name: e.passed for name, e in evaluations.items()} == {
        f"{asset}_table_contract": True for asset in CHECKS
    }
    rows = {name: _meta(e)["rows_checked"] for name, e in evaluations.items()}
    assert rows.pop("llm_decision_reviews_table_contract") == 0  # the advisory is off by default
    assert all(n > 0 for n in rows.values()), rows
    signals_meta = _meta(evaluations["signals_table_contract"])
    assert set(signals_meta["rows_by_table"]) == {"signals", "signal_ingest_windows"}
    assert signals_meta["violations"].startswith("No violation in ")
    assert signals_meta["error_violations"] == signals_meta["warn_violations"] == 0


def test_a_window_that_writes_no_rows_passes_with_zero_rows(window: Materialized) -> None:
    evaluations = window.evaluations[CLOSED_WINDOW]
    assert all(e.passed for e in evaluations.values())
    for asset in ("trade_decisions", "executions", "research_candidates", "research_promotions"):
        evaluation = evaluations[f"{asset}_table_contract"]
        assert _meta(evaluation)["rows_checked"] == 0
        assert evaluation.description == "0 rows: the window wrote none"
        assert _meta(evaluation)["violations"].startswith("0 rows in ")


def test_the_check_reads_the_partition_it_is_run_for(window: Materialized) -> None:
    url, root = window.url, window.root
    evaluation = _run_check(url, root, "research_runs", CLOSED_WINDOW)
    assert evaluation.passed and _meta(evaluation)["rows_checked"] == 1  # the skipped run


# --- broken rows ---------------------------------------------------------------------------------------


def test_a_negative_qty_and_an_unknown_side_fail_the_executions_check_naming_column_and_rule(
    window: Materialized,
) -> None:
    url, root = window.url, window.root
    with _damaged(url, "executions", lambda row: {"submitted_qty": -1, "side": "hold"}):
        evaluation = _run_check(url, root, "executions")
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.description is not None
    assert "executions.submitted_qty positive (1 row)" in evaluation.description
    assert "executions.side allowed_values (1 row)" in evaluation.description
    table = _meta(evaluation)["violations"]
    assert "| `executions` | `submitted_qty` | positive: > 0 | error | 1 |" in table
    assert "| `executions` | `side` | allowed_values: one of `'buy'`, `'sell'` | error | 1 |" in table
    assert "'hold'" in table
    assert _run_check(url, root, "executions").passed  # restored


def test_a_broker_status_outside_the_list_warns_without_blocking(window: Materialized) -> None:
    url, root = window.url, window.root
    with _damaged(url, "executions", lambda row: {"status": "pending_new"}):
        evaluation = _run_check(url, root, "executions")
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert _meta(evaluation)["warn_violations"] == 1 and _meta(evaluation)["error_violations"] == 0


def test_a_duplicate_natural_key_fails_the_promotions_check(window: Materialized) -> None:
    """The window's own requests (approver role autonomous_scheduler) are one row per revision."""
    url, root = window.url, window.root
    table = schema.research_promotions
    engine = create_ledger_engine(url)
    try:
        with engine.begin() as conn:
            row = conn.execute(
                sa.select(table).where(
                    table.c.lane == LANE, table.c.window_start == OPEN_WINDOW.to_pydatetime()
                )
            ).one()
            twin = {**row._mapping, "id": "00000000-0000-4000-8000-000000000001"}
            # the ledger's unique index refuses the twin; the check is for a ledger restored without it
            conn.execute(sa.text("DROP INDEX uq_research_promotions_request_revision"))
            conn.execute(table.insert().values(twin))
        try:
            evaluation = _run_check(url, root, "research_promotions")
        finally:
            with engine.begin() as conn:
                conn.execute(table.delete().where(table.c.id == twin["id"]))
                next(i for i in table.indexes if i.name == "uq_research_promotions_request_revision").create(
                    conn
                )
    finally:
        engine.dispose()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.description == (
        "1 rule(s) broken: research_promotions.lane, window_start, revision natural_key (2 rows)"
    )
    assert f"'{row.run_id}'" in _meta(evaluation)["violations"]


def test_a_failing_contract_check_blocks_the_downstream_assets_of_its_run(
    ledger_url: str, tmp_path: Path
) -> None:
    """Blocking: a decision the (here stricter) contract rejects stops executions in the same run."""
    symbol = tc.TRADE_DECISIONS.column("symbol")
    strict = dataclasses.replace(
        tc.TRADE_DECISIONS,
        columns=tuple(
            dataclasses.replace(c, rules=(*c.rules, tc.OneOf(("NONE",)))) if c is symbol else c
            for c in tc.TRADE_DECISIONS.columns
        ),
    )
    check = build_table_contract_check(trade_decisions, [strict])
    result = dg.materialize(
        [signals, trade_decisions, llm_decision_reviews, executions, check],
        partition_key=lane_window_key(LANE, OPEN_WINDOW),
        resources=resources(ledger_url, tmp_path),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    events = result.get_asset_materialization_events()
    materialized = {e.asset_key.to_user_string() for e in events if e.asset_key is not None}
    assert materialized == {"signals", "trade_decisions"}
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.executions)).scalar_one() == 0
    finally:
        engine.dispose()


def test_reviews_of_a_live_advisory_meet_their_contract(ledger_url: str, tmp_path: Path) -> None:
    """Answers, faults and a guardrail override: every kind of review row passes its contract."""
    with LlmStub(delay_seconds=1.0) as stub:
        stub.script("ok", "malformed", "veto", "out_of_bounds")
        llm = LLMAdvisoryResource(
            enabled=True,
            base_url=stub.url,
            model="stub-model",
            api_key="sk-test",
            timeout_seconds=2.0,
            connect_timeout_seconds=2.0,
        )
        result = dg.materialize(
            [signals, trade_decisions, llm_decision_reviews, CHECKS["llm_decision_reviews"]],
            partition_key=lane_window_key(LANE, OPEN_WINDOW),
            resources={**resources(ledger_url, tmp_path), "llm": llm},
            instance=dg.DagsterInstance.ephemeral(),
        )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed, _meta(evaluation)["violations"]
    assert _meta(evaluation)["rows_checked"] == 4
