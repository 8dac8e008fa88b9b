"""Table contracts: declared once, in step with the schema, and the source of every derived artefact.

The artefacts (the at-rest suite files, the reconciliation's reference list, docs/data-dictionary.md) are
compared with what the contracts generate; the rules are judged on hand-made rows, one break per rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import torghut_assets
from torghut_assets.ledger import quality, schema
from torghut_assets.ledger import table_contracts as tc
from torghut_assets.ledger.table_contract_checks import evaluate, violations_markdown

REPO = Path(torghut_assets.__file__).resolve().parents[1]
LANE_WINDOW_ASSETS = (
    "signals",
    "trade_decisions",
    "executions",
    "research_runs",
    "research_candidates",
    "research_fold_metrics",
    "research_stress_metrics",
    "research_promotions",
    "llm_decision_reviews",
)
CONTRACTED = [c.table for c in tc.CONTRACTS]


# --- the contracts against the schema ---------------------------------------------------------------------


@pytest.mark.parametrize("table", CONTRACTED)
def test_contract_columns_are_exactly_the_schema_columns(table: str) -> None:
    contract = tc.contract(table)
    assert list(contract.column_names) == list(schema.metadata.tables[table].c.keys())


@pytest.mark.parametrize("table", CONTRACTED)
def test_a_schema_not_null_column_is_not_null_in_its_contract(table: str) -> None:
    contract = tc.contract(table)
    required = [c.name for c in schema.metadata.tables[table].columns if not c.nullable]
    assert [name for name in required if not contract.column(name).not_null] == []


@pytest.mark.parametrize("table", CONTRACTED)
def test_keys_rules_and_references_name_columns_that_exist(table: str) -> None:
    contract = tc.contract(table)
    columns = set(contract.column_names)
    assert set(contract.natural_key.columns) <= columns
    assert contract.label_column in columns
    for column, rule in contract.all_rules():
        named = {c.strip() for c in column.split(",")}
        if isinstance(rule, tc.NotNull | tc.NotEmpty) and rule.when is not None:
            named.add(rule.when[0])
        if isinstance(rule, tc.UniqueTogether) and rule.scope is not None:
            named.add(rule.scope[0])
        assert named <= columns, (column, rule)
    for column, ref in contract.references:
        assert ref.column in schema.metadata.tables[ref.table].c, (column, ref.target)
    assert all(c.meaning.strip() for c in contract.columns) and contract.meaning.strip()


def test_every_lane_window_table_has_a_contract_partitioned_like_the_schema() -> None:
    partitioned = {c.table: c.partition_column for c in tc.CONTRACTS if c.partition_column is not None}
    assert partitioned == schema.LANE_WINDOW_TABLES


def test_every_lane_window_asset_writes_at_least_one_contracted_table() -> None:
    owners = {a: [c.table for c in tc.contracts_written_by(a)] for a in LANE_WINDOW_ASSETS}
    assert owners == {
        "signals": ["signals", "signal_ingest_windows"],
        "trade_decisions": ["trade_decisions"],
        "executions": ["executions", "execution_tca_metrics"],
        "research_runs": ["research_runs"],
        "research_candidates": ["research_candidates"],
        "research_fold_metrics": ["research_fold_metrics"],
        "research_stress_metrics": ["research_stress_metrics"],
        "research_promotions": ["research_promotions"],
        "llm_decision_reviews": ["llm_decision_reviews"],
    }


# --- derived artefacts ------------------------------------------------------------------------------------


def test_reconciliation_reference_list_is_derived_from_the_contracts() -> None:
    """The list the nightly `foreign_keys_resolve` walks, identical (and in the same order) to the hand
    list it replaced."""
    links = [
        (link.table, link.label_column, link.column, f"{link.target_table}.{link.target_column}", link.name)
        for link in tc.reconciled_links()
    ]
    candidates = "research_candidates.candidate_id"
    assert links == [
        ("research_candidates", "candidate_id", "run_id", "research_runs.run_id", "candidate→run"),
        ("research_fold_metrics", "candidate_id", "candidate_id", candidates, "fold→candidate"),
        ("research_stress_metrics", "candidate_id", "candidate_id", candidates, "stress→candidate"),
        ("research_promotions", "run_id", "run_id", "research_runs.run_id", "promotion→run"),
        ("executions", "client_order_id", "trade_decision_id", "trade_decisions.id", "execution→decision"),
    ]


def test_quality_suite_files_equal_what_the_contracts_generate() -> None:
    assert sorted(tc.suite_tables()) == sorted(quality.SUITES)
    for table in quality.SUITES:
        stored = tc.canonical_suite(quality.load_suite(table))
        assert stored == tc.canonical_suite(tc.suite_document(table)), table


def test_generated_suites_parse_as_great_expectations_suites() -> None:
    import great_expectations as gx

    for table in tc.suite_tables():
        document = tc.suite_document(table)
        assert len(gx.ExpectationSuite(**document).expectations) == len(document["expectations"]) > 0


def test_a_scoped_key_or_a_rule_without_a_great_expectations_form_cannot_be_at_rest() -> None:
    scoped = tc.NaturalKey(("run_id",), scope=("approver_role", "x"), at_rest=True)
    with pytest.raises(ValueError, match="no great-expectations form"):
        scoped.expectation()
    broken = dataclasses.replace(
        tc.TRADE_DECISIONS,
        columns=(*tc.TRADE_DECISIONS.columns[:-1], tc.col("created_at", "x", tc.Timestamp(at_rest=True))),
    )
    with pytest.raises(ValueError, match="iso_timestamp has no great-expectations form"):
        _suite_of(broken)


def _suite_of(contract: tc.TableContract) -> dict[str, Any]:
    original = tc._BY_TABLE[contract.table]
    tc._BY_TABLE[contract.table] = contract
    try:
        return tc.suite_document(contract.table)
    finally:
        tc._BY_TABLE[contract.table] = original


def test_the_data_dictionary_is_current() -> None:
    """Regenerate with `make data-dictionary`."""
    assert (REPO / tc.DICTIONARY_PATH).read_text() == tc.render_data_dictionary()


def test_the_data_dictionary_lists_every_column_of_every_contract() -> None:
    text = tc.render_data_dictionary()
    for contract in tc.CONTRACTS:
        section = text.split(f"## `{contract.table}`\n", 1)[1].split("\n## ", 1)[0]
        assert [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")] == list(
            contract.column_names
        )


def test_regeneration_writes_only_what_differs(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    first = tc.write_generated(tmp_path, suite_dir=suites)
    assert sorted(p.name for p in first) == sorted(
        ["data-dictionary.md", *(f"{t}.json" for t in tc.suite_tables())]
    )
    reordered = json.loads((suites / "executions.json").read_text())
    reordered["expectations"].reverse()
    (suites / "executions.json").write_text(json.dumps(reordered))
    assert tc.write_generated(tmp_path, suite_dir=suites) == []  # order carries no meaning
    (suites / "research_runs.json").write_text(json.dumps({"name": "research_runs", "expectations": []}))
    assert tc.write_generated(tmp_path, suite_dir=suites) == [suites / "research_runs.json"]
    assert json.loads((suites / "research_runs.json").read_text()) == tc.suite_document("research_runs")


# --- the rules on rows ------------------------------------------------------------------------------------

T0 = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)


def _execution(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "e1",
        "trade_decision_id": "d1",
        "alpaca_account_label": "paper",
        "alpaca_order_id": "sim-1",
        "client_order_id": "a" * 64,
        "symbol": "AAPL",
        "side": "buy",
        "order_type": "market",
        "time_in_force": "day",
        "submitted_qty": 3.0,
        "filled_qty": 3.0,
        "avg_fill_price": 190.5,
        "fees": 0.0,
        "status": "filled",
        "execution_expected_adapter": "simulator",
        "execution_actual_adapter": "simulator",
        "execution_fallback_reason": None,
        "execution_fallback_count": 0,
        "execution_correlation_id": "macd_rsi/2026-03-03T15:00Z:aaaa",
        "execution_idempotency_key": "a" * 64,
        "execution_audit_json": {"route": {}},
        "raw_order": {"simulated": True},
        "last_update_at": T0,
        "order_feed_last_event_ts": None,
        "order_feed_last_seq": None,
        "lane": "macd_rsi",
        "window_start": T0,
        "created_at": T0,
    }
    return {**row, **changes}


def _broken(contract: tc.TableContract, rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(v.column, v.rule, v.severity) for v in evaluate(contract, rows).violations}


def test_a_clean_row_and_no_rows_break_nothing() -> None:
    assert evaluate(tc.EXECUTIONS, [_execution()]).violations == ()
    empty = evaluate(tc.EXECUTIONS, [])
    assert (empty.rows, empty.violations) == (0, ())
    assert violations_markdown([empty]).startswith("0 rows in `executions`: the window wrote none")


E, W = "error", "warn"
OVERFILLED = ("submitted_qty, filled_qty", "ordered", E)
BREAKS = [
    pytest.param({"submitted_qty": -1.0}, {("submitted_qty", "positive", E), OVERFILLED}, id="negative-qty"),
    pytest.param({"filled_qty": -1.0}, {("filled_qty", "non_negative", E)}, id="negative-fill"),
    pytest.param({"side": "hold"}, {("side", "allowed_values", E)}, id="unknown-side"),
    pytest.param({"symbol": None}, {("symbol", "not_null", E)}, id="null-symbol"),
    pytest.param({"symbol": "aapl"}, {("symbol", "symbol", E)}, id="lowercase-symbol"),
    pytest.param(
        {"execution_actual_adapter": "unknown"},
        {("execution_actual_adapter", "forbidden_values", E)},
        id="route-unknown",
    ),
    pytest.param({"avg_fill_price": float("nan")}, {("avg_fill_price", "positive", E)}, id="nan-price"),
    pytest.param(
        {"last_update_at": T0.replace(tzinfo=None)}, {("last_update_at", "iso_timestamp", E)}, id="naive-time"
    ),
    pytest.param({"last_update_at": "2026-03-03T15:00:00Z"}, set(), id="iso-string-time"),
    pytest.param({"last_update_at": "yesterday"}, {("last_update_at", "iso_timestamp", E)}, id="bad-time"),
    pytest.param({"raw_order": [1]}, {("raw_order", "json", E)}, id="json-not-object"),
    pytest.param(
        {"execution_audit_json": {"x": float("inf")}}, {("execution_audit_json", "json", E)}, id="inf"
    ),
    pytest.param({"filled_qty": 4.0}, {OVERFILLED}, id="overfilled"),
    pytest.param({"status": "pending_new"}, {("status", "allowed_values", W)}, id="broker-status-warns"),
]


@pytest.mark.parametrize(("changes", "expected"), BREAKS)
def test_one_broken_value_names_its_column_and_rule(
    changes: dict[str, Any], expected: set[tuple[str, str, str]]
) -> None:
    clean = _execution()
    other = _execution(id="e2", alpaca_order_id="sim-2", client_order_id="b" * 64, **changes)
    assert _broken(tc.EXECUTIONS, [clean, other]) == expected


def test_a_duplicate_natural_key_is_reported_with_its_key() -> None:
    rows = [_execution(), _execution(id="e2", alpaca_order_id="sim-2")]
    (violation,) = evaluate(tc.EXECUTIONS, rows).violations
    key = "alpaca_account_label, client_order_id"
    assert (violation.column, violation.rule, violation.rows) == (key, "natural_key", 2)
    assert violation.examples == (f"'paper', '{'a' * 64}'",)


def test_a_null_in_a_key_is_never_a_duplicate_as_in_sql() -> None:
    rows = [
        _execution(client_order_id=None),
        _execution(id="e2", alpaca_order_id="sim-2", client_order_id=None),
    ]
    assert _broken(tc.EXECUTIONS, rows) == {("client_order_id", "not_null", "error")}


def _promotion(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(tc.RESEARCH_PROMOTIONS.column_names)
    row.update(
        id="p1",
        candidate_id="cand-1",
        run_id="r" * 24,
        approver_role="autonomous_scheduler",
        decision_action="hold",
        approve_reason='{"decision_action":"hold","reason_codes":["evidence_below_paper_threshold"]}',
        decision_rationale="promotion_blocked_or_held:evidence_below_paper_threshold",
        evidence_bundle={"fold_metrics_count": 3, "reasons": ["evidence_below_paper_threshold"]},
        lane="macd_rsi",
        window_start=T0,
        created_at=T0,
        revision=1,
    )
    return {**row, **changes}


def test_a_scoped_natural_key_judges_only_the_rows_of_its_scope() -> None:
    other_writer = _promotion(id="p2", approver_role="system", decision_action="promote")
    next_request = _promotion(id="p4", run_id="s" * 24, revision=2)
    assert _broken(tc.RESEARCH_PROMOTIONS, [_promotion(), other_writer, next_request]) == set()
    again = _promotion(id="p3", run_id="s" * 24)
    assert _broken(tc.RESEARCH_PROMOTIONS, [_promotion(), other_writer, again]) == {
        ("lane, window_start, revision", "natural_key", "error")
    }


def test_a_conditional_not_null_applies_only_where_its_condition_holds() -> None:
    rule = tc.RESEARCH_RUNS.column("no_signal_reason").rules[0]
    assert isinstance(rule, tc.NotNull)
    assert rule.violated(None, {"status": "skipped"})
    assert not rule.violated(None, {"status": "passed"})
    assert not rule.violated("market_closed", {"status": "skipped"})


def test_sha256_and_unique_rules() -> None:
    runs = tc.RESEARCH_RUNS
    base: dict[str, Any] = dict.fromkeys(runs.column_names)
    base.update(
        id="x",
        run_id="0" * 24,
        run_kind="lane_window",
        status="passed",
        dataset_version="f" * 64,
        artifact_refs=[{"kind": "research/evaluation-report", "path": "/a/r.json", "sha256": "e" * 64}],
        lane="macd_rsi",
        window_start=T0,
        window_end=T0 + dt.timedelta(hours=1),
        created_at=T0,
    )
    assert _broken(runs, [base]) == set()
    assert _broken(runs, [{**base, "dataset_version": "F" * 64}]) == {
        ("dataset_version", "sha256_hex", "error")
    }
    twin = {
        **base,
        "id": "y",
        "window_start": T0 + dt.timedelta(hours=1),
        "window_end": T0 + dt.timedelta(hours=2),
    }
    assert _broken(runs, [base, twin]) == {("run_id", "unique", "error")}


def test_the_markdown_table_names_table_column_rule_and_examples() -> None:
    verdict = evaluate(tc.EXECUTIONS, [_execution(side="hold")])
    text = violations_markdown([verdict])
    assert text.splitlines()[0] == "| table | column | rule | severity | rows | examples |"
    assert "| `executions` | `side` | allowed_values: one of `'buy'`, `'sell'` | error | 1 |" in text
    assert f"client_order_id='{'a' * 64}': 'hold'" in text


# --- auditable rows ---------------------------------------------------------------------------------------


def test_every_contract_audit_rule_is_among_the_audit_rules_in_contract_order() -> None:
    audited = {a.table: a.rules for a in tc.audit_rules()}
    for contract in tc.CONTRACTS:
        declared = tuple((c, r) for c, r in contract.all_rules() if r.audit)
        assert audited.get(contract.table, ()) == declared, contract.table
    assert {"gate_evaluations", "rollback_incidents"} <= set(audited)


@pytest.mark.parametrize("table", [a.table for a in tc.audit_rules()])
def test_audit_rules_name_columns_of_the_schema_and_say_why(table: str) -> None:
    audit = tc.audit_rules_for(table)
    assert audit is not None
    columns = schema.metadata.tables[table].c
    named = {audit.time_column, *audit.label_columns, *(c for c, _ in audit.rules)}
    named |= {r.when[0] for _, r in audit.rules if isinstance(r, tc.NotEmpty) and r.when is not None}
    assert named <= set(columns.keys())
    assert all(rule.audit and rule.why for _, rule in audit.rules)


@pytest.mark.parametrize(
    ("value", "row", "broken"),
    [
        pytest.param("promoted:gate_pass", {}, False, id="text"),
        pytest.param("  ", {}, True, id="blank-text"),
        pytest.param(None, {}, True, id="null"),
        pytest.param({}, {}, True, id="empty-object"),
        pytest.param([], {}, True, id="empty-array"),
        pytest.param(["manual", " "], {}, True, id="blank-entry"),
        pytest.param(["manual", "drift_breach"], {}, False, id="entries"),
    ],
)
def test_not_empty_judges_text_objects_and_arrays(value: Any, row: dict[str, Any], broken: bool) -> None:
    assert tc.NotEmpty().violated(value, row) is broken


def test_not_empty_when_present_lets_null_pass_and_a_condition_limits_it() -> None:
    assert not tc.NotEmpty(nullable=True).violated(None, {})
    assert tc.NotEmpty(nullable=True).violated("", {})
    skipped_only = tc.NotEmpty(when=("status", "skipped"))
    assert skipped_only.violated([], {"status": "skipped"})
    assert not skipped_only.violated([], {"status": "running"})


def test_a_promotion_without_rationale_or_evidence_breaks_its_blocking_partition_check() -> None:
    bare = _promotion(id="p2", run_id="s" * 24, revision=2, decision_rationale="", evidence_bundle={})
    assert _broken(tc.RESEARCH_PROMOTIONS, [_promotion(), bare]) == {
        ("decision_rationale", "not_empty", "error"),
        ("evidence_bundle", "not_empty", "error"),
    }
