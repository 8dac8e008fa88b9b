"""Data quality at rest: the GX suites pass on a healthy ledger and each catches the break it is for.

One lane window is materialized per backend and module (`module_ledger_url`); each break test damages one
row by SQL, runs the suite, and restores the row, so the shared ledger is healthy between tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from torghut_assets.ledger import quality, schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.quality import SUITES, run_suites
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window


@pytest.fixture(scope="module")
def healthy_url(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    materialize_window(module_ledger_url, tmp_path_factory.mktemp("artifacts"), "macd_rsi", OPEN_WINDOW)
    return module_ledger_url


@contextmanager
def broken(url: str, table_name: str, change: Callable[[Any], dict[str, Any]]) -> Iterator[None]:
    """Apply `change(row)` to the table's first row (committed, so GX's own connection sees it), then undo."""
    table = schema.metadata.tables[table_name]
    engine = create_ledger_engine(url)
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(table).order_by(table.c.id).limit(1)).one()
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


def failures(result: quality.SuiteResult) -> set[tuple[str, tuple[str, ...]]]:
    return {(f["expectation_type"], tuple(f["columns"])) for f in result.failed}


def test_healthy_ledger_passes_every_suite_and_renders_data_docs(healthy_url: str, tmp_path: Path) -> None:
    results = run_suites(healthy_url, docs_dir=tmp_path / "docs")

    assert [r.suite for r in results] == list(SUITES)
    assert {r.suite: r.failed for r in results} == {name: [] for name in SUITES}
    assert all(r.success for r in results)
    for r in results:
        assert r.evaluated == len(quality.load_suite(r.suite)["expectations"]) > 0
        assert r.statistics["unsuccessful_expectations"] == 0
    index = Path(str(results[0].data_docs_index))
    assert index == (tmp_path / "docs" / "index.html").resolve()
    assert index.is_file()
    assert all(name in index.read_text() for name in SUITES)
    assert {p.parent.parent.parent.name for p in (tmp_path / "docs" / "validations").rglob("*.html")} == set(
        SUITES
    )


BREAKS = [
    pytest.param(
        "executions",
        lambda row: {"execution_actual_adapter": "unknown"},
        ("expect_column_values_to_not_be_in_set", ("execution_actual_adapter",)),
        id="route-adapter-unknown",
    ),
    pytest.param(
        "executions",
        lambda row: {"filled_qty": row.submitted_qty + 1},
        ("expect_column_pair_values_a_to_be_greater_than_b", ("submitted_qty", "filled_qty")),
        id="overfilled",
    ),
    pytest.param(
        "executions",
        lambda row: {"avg_fill_price": 0},
        ("expect_column_values_to_be_between", ("avg_fill_price",)),
        id="zero-fill-price",
    ),
    pytest.param(
        "executions",
        lambda row: {"status": "lost"},
        ("expect_column_values_to_be_in_set", ("status",)),
        id="execution-status",
    ),
    pytest.param(
        "trade_decisions",
        lambda row: {"decision_hash": None},
        ("expect_column_values_to_not_be_null", ("decision_hash",)),
        id="decision-hash-null",
    ),
    pytest.param(
        "trade_decisions",
        lambda row: {"decision_hash": row.decision_hash.upper()},
        ("expect_column_values_to_match_regex", ("decision_hash",)),
        id="decision-hash-not-lower-hex",
    ),
    pytest.param(
        "trade_decisions",
        lambda row: {"symbol": row.symbol.lower()},
        ("expect_column_values_to_match_regex", ("symbol",)),
        id="symbol-lowercase",
    ),
    pytest.param(
        "research_runs",
        lambda row: {"status": "bogus"},
        ("expect_column_values_to_be_in_set", ("status",)),
        id="run-status",
    ),
    pytest.param(
        "research_runs",
        lambda row: {"status": "skipped", "no_signal_reason": None},
        ("expect_column_values_to_not_be_null", ("no_signal_reason",)),
        id="skipped-without-reason",
    ),
    pytest.param(
        "research_runs",
        lambda row: {"run_id": "run-" + row.run_id},
        ("expect_column_values_to_match_regex", ("run_id",)),
        id="run-id-shape",
    ),
    pytest.param(
        "research_fold_metrics",
        lambda row: {"fold_order": 0},
        ("expect_column_values_to_be_between", ("fold_order",)),
        id="fold-order-zero",
    ),
    pytest.param(
        "research_fold_metrics",
        lambda row: {"train_end": row.test_end},
        ("expect_column_pair_values_a_to_be_greater_than_b", ("test_start", "train_end")),
        id="train-overlaps-test",
    ),
    pytest.param(
        "research_fold_metrics",
        lambda row: {"cost_bps": -0.5},
        ("expect_column_values_to_be_between", ("cost_bps",)),
        id="negative-cost",
    ),
    pytest.param(
        "research_candidates",
        lambda row: {"candidate_hash": "not-a-hash"},
        ("expect_column_values_to_match_regex", ("candidate_hash",)),
        id="candidate-hash-shape",
    ),
]


@pytest.mark.parametrize(("suite", "change", "expected"), BREAKS)
def test_one_break_fails_exactly_the_expectation_guarding_it(
    healthy_url: str,
    tmp_path: Path,
    suite: str,
    change: Callable[[Any], dict[str, Any]],
    expected: tuple[str, tuple[str, ...]],
) -> None:
    with broken(healthy_url, suite, change):
        (result,) = run_suites(healthy_url, suites=[suite], docs_dir=tmp_path)

    assert not result.success
    assert failures(result) == {expected}
    (failure,) = result.failed
    assert failure["unexpected_count"] == 1
    assert result.statistics["unsuccessful_expectations"] == 1
    assert result.data_docs_index is not None


@pytest.fixture
def unconstrained_url(empty_ledger_url: str) -> str:
    """A 'restored' ledger holding two tables without their UNIQUE constraints (and no other table)."""
    engine = sa.create_engine(empty_ledger_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE research_candidates (candidate_id VARCHAR(64), candidate_hash VARCHAR(64))")
        )
        conn.execute(
            sa.text(
                "CREATE TABLE research_fold_metrics (candidate_id VARCHAR(64), fold_name VARCHAR(32),"
                " fold_order INTEGER, train_end TIMESTAMP, test_start TIMESTAMP, cost_bps FLOAT)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO research_candidates VALUES (:c, :h)"),
            [{"c": "cand-a", "h": "0" * 32}, {"c": "cand-a", "h": "1" * 32}, {"c": "cand-b", "h": "2" * 32}],
        )
        conn.execute(
            sa.text("INSERT INTO research_fold_metrics VALUES ('cand-a', :f, :o, :e, :s, 0.5)"),
            [
                {"f": "fold_1", "o": 1, "e": "2026-03-02 15:00:00", "s": "2026-03-02 15:05:00"},
                {"f": "fold_1", "o": 2, "e": "2026-03-02 16:00:00", "s": "2026-03-02 16:05:00"},
            ],
        )
    engine.dispose()
    return empty_ledger_url


def test_duplicates_the_schema_would_reject_are_caught_when_constraints_are_gone(
    unconstrained_url: str, tmp_path: Path
) -> None:
    candidates, folds = run_suites(
        unconstrained_url, suites=["research_candidates", "research_fold_metrics"], docs_dir=tmp_path
    )

    assert failures(candidates) == {("expect_column_values_to_be_unique", ("candidate_id",))}
    assert candidates.failed[0]["unexpected_values"] == ["cand-a", "cand-a"]
    assert failures(folds) == {("expect_compound_columns_to_be_unique", ("candidate_id", "fold_name"))}


def test_missing_tables_fail_closed_naming_the_table(unconstrained_url: str, tmp_path: Path) -> None:
    results = run_suites(unconstrained_url, docs_dir=tmp_path)

    missing = {r.suite: r for r in results if r.suite not in ("research_candidates", "research_fold_metrics")}
    assert set(missing) == {"executions", "trade_decisions", "research_runs"}
    for name, r in missing.items():
        assert not r.success and r.evaluated == 0 and r.data_docs_index is None
        (problem,) = r.failed
        assert f"table {name!r} not readable" in problem["problem"]


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql+psycopg2://postgres@127.0.0.1:1/none", id="postgres-port-closed"),
        pytest.param("sqlite:///{tmp}/typo/ledger.sqlite", id="sqlite-missing-file"),
        pytest.param("mysql://nobody@127.0.0.1/ledger", id="unsupported-backend"),
    ],
)
def test_an_unusable_database_yields_failed_results_not_an_exception(url: str, tmp_path: Path) -> None:
    url = url.format(tmp=tmp_path)
    results = run_suites(url, docs_dir=tmp_path / "docs")

    assert [r.suite for r in results] == list(SUITES)
    for r in results:
        assert not r.success and r.evaluated == 0 and r.data_docs_index is None
        assert r.failed[0]["problem"].startswith("cannot open the ledger: ")
    assert not (tmp_path / "typo").exists()  # no empty ledger conjured at a mistyped path


def test_an_expectation_gx_cannot_parse_fails_the_suite_instead_of_being_dropped(
    unconstrained_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = quality.load_suite("research_candidates")
    spec["expectations"].append(
        {"type": "expect_column_values_to_be_uniq", "kwargs": {"column": "candidate_id"}}
    )
    (tmp_path / "research_candidates.json").write_text(json.dumps(spec))
    monkeypatch.setattr(quality, "SUITE_DIR", tmp_path)

    (result,) = run_suites(unconstrained_url, suites=["research_candidates"], docs_dir=tmp_path / "docs")

    assert not result.success
    assert "could not parse" in result.failed[0]["problem"]


def test_suite_files_match_the_schema() -> None:
    """Every suite is versioned, names only columns its table has, and GX parses every expectation."""
    import great_expectations as gx

    assert sorted(p.stem for p in quality.SUITE_DIR.glob("*.json")) == sorted(SUITES)
    for name in SUITES:
        spec = quality.load_suite(name)
        assert isinstance(spec["meta"]["suite_version"], int)
        columns = set(schema.metadata.tables[name].c.keys())
        for expectation in spec["expectations"]:
            kwargs = expectation["kwargs"]
            named = [kwargs.get(k) for k in ("column", "column_A", "column_B")] + kwargs.get(
                "column_list", []
            )
            if "row_condition" in kwargs:
                named.append(kwargs["row_condition"]["column"]["name"])
            assert {c for c in named if c} <= columns, (name, expectation)
        assert len(gx.ExpectationSuite(**spec).expectations) == len(spec["expectations"])
    with pytest.raises(ValueError, match="no expectation suite"):
        run_suites("sqlite://", suites=["signals"], docs_dir="unused")


def test_importing_the_module_does_not_import_great_expectations() -> None:
    code = "import sys, torghut_assets.ledger.quality; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
