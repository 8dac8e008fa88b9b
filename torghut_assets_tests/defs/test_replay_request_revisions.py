"""The window's promotion requests are append-only; replay compares the request its current run wrote,
whatever revision number the window's history gave it, and never an earlier run's request."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.replay import replay_window
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources
from torghut_assets_tests.defs.replay_harness import LANE, edit_ledger

OTHER_DATA = MarketDataResource(seed=7)  # another source's data for the same window


def _materialize(ledger_url: str, root: Path, market_data: MarketDataResource) -> None:
    dg.materialize(
        LANE_WINDOW_ASSETS,
        partition_key=lane_window_key(LANE, OPEN_WINDOW),
        resources={**resources(ledger_url, root), "market_data": market_data},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )


def _requests(ledger_url: str) -> list[tuple[int, str]]:
    """(revision, run id) of the window's own requests, oldest first."""
    t = schema.research_promotions
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.revision, t.c.run_id)
                .where(t.c.approver_role == SCHEDULER_ROLE)
                .order_by(t.c.revision)
            ).all()
    finally:
        engine.dispose()
    return [(int(revision), str(run_id)) for revision, run_id in rows]


def _replay(ledger_url: str, root: Path) -> list[str]:
    ledger = LedgerResource(database_url=ledger_url, artifact_root=str(root))
    report = replay_window(
        ledger, MarketDataResource(), ResearchResource().settings(), LaneWindow(LANE, OPEN_WINDOW)
    )
    return [d.describe() for d in report.differences]


@pytest.fixture
def rerun_window(ledger_url: str, tmp_path: Path) -> list[tuple[int, str]]:
    """The window researched on other data first, then again on the configured source: its current run's
    request is the window's revision 2."""
    _materialize(ledger_url, tmp_path, OTHER_DATA)
    _materialize(ledger_url, tmp_path, MarketDataResource())
    return _requests(ledger_url)


def test_the_current_runs_request_matches_at_whatever_revision_it_was_appended(
    ledger_url: str, tmp_path: Path, rerun_window: list[tuple[int, str]]
) -> None:
    (first, earlier_run), (second, current_run) = rerun_window
    assert (first, second) == (1, 2) and earlier_run != current_run
    assert _replay(ledger_url, tmp_path) == []


def test_an_edit_of_the_current_runs_request_is_named(
    ledger_url: str, tmp_path: Path, rerun_window: list[tuple[int, str]]
) -> None:
    edited = edit_ledger(
        ledger_url,
        "update research_promotions set decision_rationale = 'promote: hand-edited' "
        f"where approver_role = '{SCHEDULER_ROLE}' and revision = 2",
    )
    assert edited == 1
    (difference,) = _replay(ledger_url, tmp_path)
    assert difference.startswith("research_promotions.decision_rationale [")
    assert "stored='promote: hand-edited'" in difference
