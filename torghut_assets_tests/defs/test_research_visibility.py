"""Research an operator can see in the UI (docs/research.md, "What a candidate did" and "Research
leaderboard"), on SQLite and PostgreSQL: every candidate in a typed table, fold and stress tables with
units, equity and drawdown plots as served PNG artifacts, metadata that says it is a snapshot, and a
leaderboard that ranks a lane's parameter sets across windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.research import (
    research_candidates,
    research_fold_metrics,
    research_promotions,
    research_runs,
    research_stress_metrics,
)
from torghut_assets.defs.lane_window.research_leaderboard import research_leaderboard
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window

LANE = "macd_rsi"
NEXT_WINDOW = OPEN_WINDOW + pd.Timedelta(hours=1)
BASE_URL = "http://artifacts.test/torghut"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


RUNS_METADATA: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def researched(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Two consecutive open-market windows of one lane, researched once per backend (the first
    window's `research_runs` metadata kept, by ledger URL)."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    first = materialize_window(module_ledger_url, artifacts, LANE, OPEN_WINDOW)
    RUNS_METADATA[module_ledger_url] = _metadata(first, research_runs)
    materialize_window(module_ledger_url, artifacts, LANE, NEXT_WINDOW)
    return module_ledger_url, artifacts


def _materialize(
    url: str, artifacts: Path, asset: Any, partition: Any, base_url: str | None = None, **config: str
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset],
        partition_key=partition,
        resources={
            "ledger": LedgerResource(
                database_url=url, artifact_root=str(artifacts), artifact_base_url=base_url
            )
        },
        run_config={"ops": {asset.key.path[-1]: {"config": config}}} if config else None,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _metadata(result: dg.ExecuteInProcessResult, asset: Any) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node(asset.key.path[-1])
    return dict(materialization.metadata)


def _window_metadata(researched: tuple[str, Path], asset: Any, base_url: str | None = None) -> dict[str, Any]:
    url, artifacts = researched
    return _metadata(_materialize(url, artifacts, asset, lane_window_key(LANE, OPEN_WINDOW), base_url), asset)


def _ledger_rows(url: str, sql: str) -> list[Any]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))
    finally:
        engine.dispose()


def _window_candidates(url: str) -> set[str]:
    rows = _ledger_rows(
        url, f"select candidate_id, window_start from research_candidates where lane = '{LANE}'"
    )
    return {r[0] for r in rows if pd.Timestamp(r[1]).tz_localize(None) == OPEN_WINDOW.tz_localize(None)}


def _columns(value: dg.TableMetadataValue) -> dict[str, str]:
    assert value.schema is not None
    return {c.name: c.type for c in value.schema.columns}


def test_research_candidates_lists_every_candidate_in_a_typed_table(researched: tuple[str, Path]) -> None:
    metadata = _window_metadata(researched, research_candidates)

    table = metadata["candidates"]
    listed = {r.data["candidate_id"] for r in table.records}
    assert listed == _window_candidates(researched[0])
    assert metadata["dagster/row_count"].value == len(listed)
    assert _columns(table) == {
        "candidate_id": "string",
        "research_role": "string",
        "params": "string",
        "net_pnl_usd": "float",
        "mean_fold_net_pnl_usd": "float",
        "sharpe": "float",
        "max_drawdown_usd": "float",
        "hit_rate_pct": "float",
        "trades": "int",
        "psr": "float",
        "dsr": "float",
    }


def test_the_champion_named_is_the_candidate_the_window_requested(researched: tuple[str, Path]) -> None:
    candidates = _window_metadata(researched, research_candidates)
    promotions = _window_metadata(researched, research_promotions)

    champion = candidates["champion_candidate_id"].value
    assert champion == promotions["requested_candidate_id"].value
    roles = {r.data["candidate_id"]: r.data["research_role"] for r in candidates["candidates"].records}
    assert roles[champion] == "champion"
    challengers = candidates["challenger_candidate_ids"].value
    assert len(challengers) == 3 and {roles[c] for c in challengers} == {"challenger"}


def test_fold_and_stress_tables_carry_units_and_one_row_per_fold_or_case(
    researched: tuple[str, Path],
) -> None:
    folds = _window_metadata(researched, research_fold_metrics)
    stress = _window_metadata(researched, research_stress_metrics)

    assert {"net_pnl_usd", "gross_pnl_usd", "max_drawdown_usd", "cost_bps"} <= set(_columns(folds["folds"]))
    assert len(folds["folds"].records) == folds["dagster/row_count"].value
    assert {"pnl_delta_usd", "pnl_delta_pct", "baseline_net_pnl_usd"} <= set(_columns(stress["stress_cases"]))
    assert len(stress["stress_cases"].records) == stress["dagster/row_count"].value
    record = stress["stress_cases"].records[0].data
    assert record["pnl_delta_pct"] == pytest.approx(
        100 * record["pnl_delta_usd"] / abs(record["baseline_net_pnl_usd"]), abs=0.05
    )


def test_equity_and_drawdown_plots_are_png_artifacts_shown_inline_when_the_root_is_served(
    researched: tuple[str, Path],
) -> None:
    metadata = _window_metadata(researched, research_candidates, base_url=BASE_URL)

    kinds = ("equity_curve", "drawdown")
    plotted = [f"{who}_{kind}" for who in ("champion", "challenger_1") for kind in kinds]
    for key in plotted:
        value = metadata[key]
        assert isinstance(value, dg.MarkdownMetadataValue), key
        markdown = str(value.md_str)
        assert markdown.startswith("![") and f"]({BASE_URL}/research/plots/" in markdown
        relative = markdown.split(f"{BASE_URL}/", 1)[1].rstrip(")")
        assert (researched[1] / relative).read_bytes().startswith(PNG_MAGIC)
    assert "challenger_2_equity_curve" not in metadata
    assert "the champion and its best challenger (of 3" in metadata["plotted_candidates"].value


def test_plots_are_named_as_text_when_the_artifact_root_is_not_served(researched: tuple[str, Path]) -> None:
    metadata = _window_metadata(researched, research_candidates)

    value = metadata["champion_equity_curve"]
    assert isinstance(value, dg.TextMetadataValue)
    assert value.value.startswith("research/plots/equity_curve/") and "not served" in value.value


def test_research_runs_reports_the_committed_status_and_says_it_is_a_snapshot(
    researched: tuple[str, Path],
) -> None:
    metadata = RUNS_METADATA[researched[0]]

    assert metadata["status_at_materialization"].value == "passed"
    assert "status" not in metadata
    note = metadata["current_state"].value
    assert note.startswith("Snapshot at ") and "research_leaderboard" in note and "promotion_decision" in note


def test_research_promotions_says_it_is_the_request_at_research_time(researched: tuple[str, Path]) -> None:
    metadata = _window_metadata(researched, research_promotions)

    assert metadata["summary"].value.startswith("**Request at research time**")
    assert "promotion_decision" in metadata["current_state"].value
    assert "decision_action" not in metadata and metadata["request_decision_action"].value == "deny"


def test_the_leaderboard_ranks_the_lanes_parameter_sets_across_windows(researched: tuple[str, Path]) -> None:
    url, artifacts = researched

    result = _materialize(url, artifacts, research_leaderboard, LANE, BASE_URL)

    assert result.success
    metadata = _metadata(result, research_leaderboard)
    records = [r.data for r in metadata["leaderboard"].records]
    assert metadata["windows"].value == 2
    assert len(records) == len(_window_candidates(url)) == metadata["dagster/row_count"].value
    assert all(r["windows"] == 2 for r in records)
    assert [r["rank"] for r in records] == list(range(1, len(records) + 1))
    assert (metadata["from_date"].value, metadata["to_date"].value) == ("2026-02-02", "2026-03-03")
    assert metadata["leaderboard_plot"].md_str.startswith("![")


def test_the_leaderboard_refuses_a_range_that_ends_before_it_starts(researched: tuple[str, Path]) -> None:
    url, artifacts = researched

    result = _materialize(
        url, artifacts, research_leaderboard, LANE, from_date="2026-03-10", to_date="2026-03-01"
    )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "from_date 2026-03-10 is after to_date 2026-03-01" in str(failure.step_failure_data.error)
