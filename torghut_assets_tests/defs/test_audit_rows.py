"""Every audit row carries what makes it auditable (`table_contracts.audit_rules`): a promotion its
rationale, reasons and evidence bundle; a skipped research run the artifact explaining the skip; a
rollback or halt incident its reasons. The writers refuse a row without them, and the nightly
`audit_rows_complete` check names each stored row that lacks them (here, rows edited after the fact).

The ledger is macd_rsi's 2026-03-03 15:00 window (a normal run and its promotion request) and its
Saturday window (a skipped run), built once per backend and copied for each test that edits it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.reconciliation.nightly import ReconciliationResource
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.ledger import promotion_records, schema
from torghut_assets.ledger import reconciliation as rec
from torghut_assets.ledger.audit_rules import UnauditableRow, require_auditable
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.reconciliation import run_reconciliation
from torghut_assets.services.rollback import LaneAction, run_rollback
from torghut_assets_tests.conftest import _postgres_database
from torghut_assets_tests.defs.lane_window_harness import CLOSED_WINDOW, OPEN_WINDOW, materialize_window

SINCE = OPEN_WINDOW.to_pydatetime()
UNTIL = (CLOSED_WINDOW + pd.Timedelta(hours=2)).to_pydatetime()
NOW = CLOSED_WINDOW + pd.Timedelta(hours=2, minutes=10)  # the lookback's last hour is CLOSED_WINDOW + 1 h
SETTINGS = ReconciliationResource(lookback_hours=98, replay_sample=0)  # from OPEN_WINDOW on


@pytest.fixture(scope="module")
def built(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("audit")
    materialize_window(module_ledger_url, root, "macd_rsi", OPEN_WINDOW)
    materialize_window(module_ledger_url, root, "macd_rsi", CLOSED_WINDOW)
    return module_ledger_url, root


@pytest.fixture
def copy(built: tuple[str, Path], tmp_path: Path) -> Iterator[str]:
    """A private copy of the built ledger (its artifacts stay where they are), free to edit."""
    url, _ = built
    if url.startswith("sqlite"):
        target = tmp_path / "ledger.sqlite"
        shutil.copy(make_url(url).database or "", target)
        yield f"sqlite:///{target}"
        return
    yield from _postgres_database(make_url(url).database)


def _rows(url: str, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(table).where(*where)).mappings()]
    engine.dispose()
    return rows


def _update(url: str, table: sa.Table, where: sa.ColumnElement[bool], **values: Any) -> None:
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        conn.execute(table.update().where(where).values(**values))
    engine.dispose()


def _audit(url: str) -> rec.Finding:
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        finding = rec.audit_rows(conn, SINCE, UNTIL)
    engine.dispose()
    return finding


def test_the_windows_as_written_are_auditable(built: tuple[str, Path]) -> None:
    finding = _audit(built[0])

    assert (finding.passed, finding.failing) == (True, 0)
    assert finding.detail["examined_by_table"]["research_runs"] == 2
    assert finding.detail["examined_by_table"]["research_promotions"] >= 1


def test_a_promotion_row_without_rationale_fails_reconciliation_naming_the_row(
    copy: str, built: tuple[str, Path]
) -> None:
    promotions = schema.research_promotions
    (request,) = _rows(copy, promotions, promotions.c.lane == "macd_rsi")
    _update(copy, promotions, promotions.c.id == request["id"], decision_rationale="  ")
    ledger = LedgerResource(database_url=copy, artifact_root=str(built[1]))

    findings, _ = run_reconciliation(
        ledger, MarketDataResource(), ResearchResource(), SETTINGS, NOW, lanes=["macd_rsi"]
    )

    finding = next(f for f in findings if f.check == rec.AUDIT_CHECK)
    assert (finding.passed, finding.severity, finding.failing) == (False, "ERROR", 1)
    assert finding.keys == (
        f"research_promotions id={request['id']}, run_id={request['run_id']}: decision_rationale: not empty",
    )


def test_a_promotion_row_without_its_evidence_bundle_is_named(copy: str) -> None:
    promotions = schema.research_promotions
    (request,) = _rows(copy, promotions)
    _update(copy, promotions, promotions.c.id == request["id"], evidence_bundle={})

    assert _audit(copy).keys == (
        f"research_promotions id={request['id']}, run_id={request['run_id']}: evidence_bundle: not empty",
    )


def test_a_skipped_run_without_its_artifact_fails(copy: str) -> None:
    runs = schema.research_runs
    (skipped,) = _rows(copy, runs, runs.c.status == "skipped")
    _update(copy, runs, runs.c.run_id == skipped["run_id"], artifact_refs=[])

    finding = _audit(copy)

    assert (finding.passed, finding.severity) == (False, "ERROR")
    assert finding.keys == (
        f"research_runs run_id={skipped['run_id']}: artifact_refs: not empty when `status` = `'skipped'`",
    )


def test_an_empty_lookback_is_a_warning_not_a_pass(built: tuple[str, Path]) -> None:
    engine = create_ledger_engine(built[0])
    with engine.connect() as conn:
        finding = rec.audit_rows(
            conn, dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
        )
    engine.dispose()

    assert (finding.passed, finding.severity, finding.verdict) == (False, "WARN", "warn")
    assert finding.keys == (
        "no research run, promotion, gate evaluation or incident in the lookback: nothing to audit",
    )


def test_the_promotion_writer_refuses_a_row_without_rationale_and_writes_nothing(copy: str) -> None:
    promotions = schema.research_promotions
    (request,) = _rows(copy, promotions)
    demotion = {
        **request,
        "id": "7d2f1c9e-3b1a-4f0e-9c55-0a6d3e1b2c4f",
        "approver_role": "rollback_job",
        "decision_action": "demote",
        "decision_rationale": "",
    }
    engine = create_ledger_engine(copy)
    with pytest.raises(UnauditableRow, match="decision_rationale: not empty"), engine.begin() as conn:
        promotion_records.insert_promotion(conn, demotion)
    engine.dispose()

    assert len(_rows(copy, promotions)) == 1


def test_a_skipped_run_without_its_artifact_is_refused_before_it_is_written(built: tuple[str, Path]) -> None:
    runs = schema.research_runs
    (skipped,) = _rows(built[0], runs, runs.c.status == "skipped")

    with pytest.raises(UnauditableRow, match="artifact_refs: not empty when `status` = `'skipped'`"):
        require_auditable("research_runs", [{**skipped, "artifact_refs": []}])


def test_a_halt_without_a_reason_is_refused_and_leaves_the_lane_as_it_was(copy: str, tmp_path: Path) -> None:
    ledger = LedgerResource(database_url=copy, artifact_root=str(tmp_path))
    halt = LaneAction(lane="macd_rsi", action="halt", actor="ops-oncall", reason=" ")

    with pytest.raises(UnauditableRow, match="reasons: not empty"):
        run_rollback(halt, ledger=ledger, now=dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC))

    assert _rows(copy, schema.rollout_transitions) == []
    assert _rows(copy, schema.rollback_incidents) == []
