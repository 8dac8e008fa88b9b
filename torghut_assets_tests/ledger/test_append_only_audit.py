"""The audit tables are append-only (docs/ledger.md, "Append-only audit"), on SQLite and PostgreSQL.

Promotion requests and decisions, gate evaluations, approvals and their uses, rollout transitions,
rollback and halt incidents, candidate lifecycle events and the evidence chain are never updated or
deleted: a change of state is a new row, and the latest row is the current state. A static guard scans
every module of the package for an UPDATE, DELETE or rewrite aimed at one of these tables (and for an
update of a candidate's lifecycle columns), and is shown a breaching module to prove it can fail; the
behaviour tests below exercise each writer.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from torghut_assets.defs.governance.rollback import RollbackConfig
from torghut_assets.defs.launchpad import LaneAction
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain import approvals
from torghut_assets.domain.gates import TargetMode
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.promotion import PromotionAction, PromotionDecision
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import (
    approval_store,
    promotion_records,
    research_records,
    research_store,
    rollout_store,
    schema,
)
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.identity import row_id
from torghut_assets.services.rollback import run_rollback

PACKAGE = Path(__file__).parents[2] / "torghut_assets"
AUDIT_TABLES = frozenset(
    {
        "research_promotions",
        "gate_evaluations",
        "approval_overrides",
        "approval_uses",
        "rollout_transitions",
        "rollback_incidents",
        "candidate_lifecycle_events",
        "evidence_log",
    }
)
REWRITERS = frozenset({"replace_lane_window", "upsert_rows", "_upsert", "copy_upsert"})
LIFECYCLE_COLUMNS = frozenset({"lifecycle_role", "lifecycle_status"})
RAW_SQL = re.compile(
    r"\b(?:UPDATE|DELETE\s+FROM)\s+\"?(" + "|".join(sorted(AUDIT_TABLES | {"research_candidates"})) + r")\b",
    re.IGNORECASE,
)


# --- the guard ------------------------------------------------------------------------------------------


def _table_of(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The ledger table an expression names: `schema.<table>`, or a name bound to one."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "schema":
        return node.attr if node.attr in schema.metadata.tables else None
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    return None


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Names bound to a table anywhere in the module (`t = schema.x`, `p, c = schema.x, schema.y`,
    `from ...schema import x`)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("ledger.schema"):
            for name in node.names:
                if name.name in schema.metadata.tables:
                    found[name.asname or name.name] = name.name
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs: list[tuple[ast.expr, ast.expr]] = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts, strict=False))
            for name, value in pairs:
                table = _table_of(value, found)
                if isinstance(name, ast.Name) and table is not None:
                    found[name.id] = table
    return found


def _chain_tables(node: ast.AST, aliases: dict[str, str], verbs: frozenset[str]) -> set[str]:
    """Tables a call chain updates or deletes: `<table>.update()...`, `sa.update(<table>)...`."""
    tables: set[str] = set()
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Call):
            func = node.func
            verb = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if verb in verbs:
                receiver = func.value if isinstance(func, ast.Attribute) else None
                for candidate in [receiver, *node.args[:1]]:
                    table = None if candidate is None else _table_of(candidate, aliases)
                    if table is not None:
                        tables.add(table)
            node = func
        else:
            node = node.value
    return tables


def _updates_candidates(node: ast.AST, aliases: dict[str, str]) -> bool:
    return "research_candidates" in _chain_tables(node, aliases, frozenset({"update"}))


def audit_rewrites(source: str) -> list[str]:
    """Every statement in `source` that would update, delete or rewrite an audit table, or update a
    candidate's lifecycle columns, as `line: what`."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"{node.lineno}: raw SQL on {m.group(1)}" for m in RAW_SQL.finditer(node.value)]
            continue
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ("update", "delete", "on_conflict_do_update"):
            verbs = frozenset({"update", "delete"} if name != "on_conflict_do_update" else {"insert"})
            for table in _chain_tables(node, aliases, verbs):
                if table in AUDIT_TABLES:
                    found.append(f"{node.lineno}: {name} of {table}")
        if name in REWRITERS and len(node.args) >= 2:
            table = _table_of(node.args[1], aliases)
            if table in AUDIT_TABLES:
                found.append(f"{node.lineno}: {name} of {table}")
        sets = {k.arg for k in node.keywords if k.arg}
        if name == "values" and LIFECYCLE_COLUMNS & sets and _updates_candidates(node, aliases):
            found.append(f"{node.lineno}: update of research_candidates lifecycle")
    return found


def _package_modules() -> list[Path]:
    # Migrations change the schema (and move data with it); they are not writers of the audit trail.
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_no_module_updates_deletes_or_rewrites_an_audit_table() -> None:
    breaches = {
        str(path.relative_to(PACKAGE)): found
        for path in _package_modules()
        if (found := audit_rewrites(path.read_text(encoding="utf-8")))
    }
    assert breaches == {}


BREACHES = [
    pytest.param(
        "conn.execute(schema.research_promotions.update().values(approved_mode='paper'))", id="update"
    ),
    pytest.param("t = schema.approval_overrides\nconn.execute(t.update().where(t.c.id == 1))", id="alias"),
    pytest.param("conn.execute(sa.delete(schema.rollout_transitions))", id="sa-delete"),
    pytest.param(
        "p, c = schema.research_promotions, schema.research_candidates\nconn.execute(p.delete())",
        id="tuple-alias",
    ),
    pytest.param("replace_lane_window(conn, schema.research_promotions, lane, start, rows)", id="replace"),
    pytest.param("upsert_rows(conn, schema.gate_evaluations, rows)", id="upsert"),
    pytest.param(
        "stmt = postgresql.insert(schema.approval_uses).on_conflict_do_update(index_elements=['id'])",
        id="on-conflict",
    ),
    pytest.param("conn.execute(sa.text('UPDATE rollback_incidents SET reasons = :r'))", id="raw-sql"),
    pytest.param(
        "c = schema.research_candidates\nconn.execute(c.update().values(lifecycle_status='paused'))",
        id="lifecycle",
    ),
]


@pytest.mark.parametrize("source", BREACHES)
def test_the_guard_finds_a_module_that_rewrites_an_audit_table(source: str) -> None:
    assert audit_rewrites(source) != []


def test_the_guard_allows_appends_reads_and_research_partition_writes() -> None:
    source = (
        "conn.execute(schema.research_promotions.insert().values(**row))\n"
        "conn.execute(sa.select(schema.approval_uses))\n"
        "replace_lane_window(conn, schema.research_candidates, lane, start, rows)\n"
        "runs = schema.research_runs\n"
        "conn.execute(runs.update().where(runs.c.status == 'running').values(status='failed'))\n"
    )
    assert audit_rewrites(source) == []


# --- behaviour -------------------------------------------------------------------------------------------

WINDOW = LaneWindow("macd_rsi", pd.Timestamp("2026-03-03 15:00", tz="UTC"))
RUN_A, RUN_B = "a1" * 12, "b2" * 12
CANDIDATE_A, CANDIDATE_B = f"cand-{RUN_A[:12]}-0a1b2c3d", f"cand-{RUN_B[:12]}-4e5f6a7b"


def _hold(candidate_id: str) -> PromotionDecision:
    return PromotionDecision(
        candidate_id=candidate_id,
        requested_mode=TargetMode.SHADOW,
        approved_mode=TargetMode.SHADOW,
        decision_action=PromotionAction.HOLD,
        reason_codes=("evidence_below_paper_threshold",),
        evidence_bundle={"folds": 4, "mean_fold_net_pnl": -12.5, "stress_cases": 4},
    )


def _request_paper(candidate_id: str) -> PromotionDecision:
    return PromotionDecision(
        candidate_id=candidate_id,
        requested_mode=TargetMode.PAPER,
        approved_mode=None,
        decision_action=PromotionAction.DENY,
        reason_codes=("gate_evaluation_required",),
        evidence_bundle={"folds": 4, "mean_fold_net_pnl": 84.25, "stress_cases": 4},
    )


def _append(engine: Engine, run_id: str, decision: PromotionDecision) -> tuple[dict[str, Any], bool]:
    with engine.begin() as conn:
        return research_store.append_request(conn, research_records.promotion_row(WINDOW, run_id, decision))


def _rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    t = schema.metadata.tables[table]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]


def _current(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return research_store.current_request(conn, WINDOW.lane, WINDOW.start.to_pydatetime())


def test_rerunning_a_window_with_the_same_outcome_appends_no_promotion_request(ledger_engine: Engine) -> None:
    first, appended = _append(ledger_engine, RUN_A, _hold(CANDIDATE_A))
    stored = _rows(ledger_engine, "research_promotions")
    again, appended_again = _append(ledger_engine, RUN_A, _hold(CANDIDATE_A))
    assert (appended, appended_again) == (True, False)
    assert _rows(ledger_engine, "research_promotions") == stored
    assert again["id"] == first["id"] and again["revision"] == 1


def test_rerunning_with_a_different_outcome_appends_a_second_request_and_the_latest_is_current(
    ledger_engine: Engine,
) -> None:
    _append(ledger_engine, RUN_A, _hold(CANDIDATE_A))
    (first,) = _rows(ledger_engine, "research_promotions")
    second, appended = _append(ledger_engine, RUN_B, _request_paper(CANDIDATE_B))
    assert appended and second["revision"] == 2
    rows = _rows(ledger_engine, "research_promotions")
    assert len(rows) == 2 and first in rows  # the first request is history, untouched
    current = _current(ledger_engine)
    assert current is not None
    assert (current["run_id"], current["revision"], current["requested_mode"]) == (RUN_B, 2, "paper")


def test_a_window_returning_to_an_earlier_request_appends_it_again_as_the_latest(
    ledger_engine: Engine,
) -> None:
    _append(ledger_engine, RUN_A, _hold(CANDIDATE_A))
    _append(ledger_engine, RUN_B, _request_paper(CANDIDATE_B))
    back, appended = _append(ledger_engine, RUN_A, _hold(CANDIDATE_A))
    assert appended and back["revision"] == 3
    rows = _rows(ledger_engine, "research_promotions")
    assert sorted(r["revision"] for r in rows) == [1, 2, 3] and len({r["id"] for r in rows}) == 3
    current = _current(ledger_engine)
    assert current is not None and (current["run_id"], current["revision"]) == (RUN_A, 3)


def test_a_window_request_revision_is_unique_but_other_writers_rows_are_not_in_its_stream(
    ledger_engine: Engine,
) -> None:
    first, _ = _append(ledger_engine, RUN_A, _hold(CANDIDATE_A))
    stored = _rows(ledger_engine, "research_promotions")[0]
    twin = {**stored, "id": "00000000-0000-4000-8000-000000000001", "run_id": RUN_B}
    with pytest.raises(sa.exc.IntegrityError), ledger_engine.begin() as conn:
        conn.execute(schema.research_promotions.insert().values(twin))
    decision = {**twin, "approver": "torghut_gates", "approver_role": "system", "decision_action": "deny"}
    with ledger_engine.begin() as conn:
        conn.execute(schema.research_promotions.insert().values(decision))
    assert {r["id"] for r in _rows(ledger_engine, "research_promotions")} == {first["id"], decision["id"]}


# --- approvals: a use is appended, the approval row is left as minted -------------------------------

NOW = dt.datetime(2026, 3, 3, 16, 5, tzinfo=dt.UTC)
PROMOTION_ID = "7c1e0f4a-2b3d-4c5e-8f90-a1b2c3d4e5f6"


def _minted(engine: Engine) -> approvals.ApprovalRecord:
    record = approvals.new_record(
        candidate_id=CANDIDATE_A,
        target_mode="live_l1",
        symbols=("AAPL", "MSFT"),
        approver="cio@torghut",
        approver_role="head_of_trading",
        reason="reviewed the paper fills of the last week",
        policy_checksum="c" * 64,
        gate_evaluation_id="5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
        now=NOW - dt.timedelta(minutes=30),
    )
    with engine.begin() as conn:
        approval_store.insert_override(conn, record, "hmac-token-for-the-test", source="cli_dev_hmac")
    return record


def _consume(engine: Engine, override_id: str, promotion_id: str = PROMOTION_ID) -> bool:
    with engine.begin() as conn:
        return approval_store.consume(
            conn, override_id, promotion_id=promotion_id, outcome=approvals.ApprovalUseOutcome.ALLOWED, at=NOW
        )


def test_using_an_approval_appends_a_use_row_and_leaves_the_approval_row_untouched(
    ledger_engine: Engine,
) -> None:
    record = _minted(ledger_engine)
    minted = _rows(ledger_engine, "approval_overrides")
    assert _consume(ledger_engine, record.override_id)
    assert _rows(ledger_engine, "approval_overrides") == minted
    (use,) = _rows(ledger_engine, "approval_uses")
    assert (use["override_id"], use["used_by_promotion_id"], use["used_outcome"]) == (
        record.override_id,
        PROMOTION_ID,
        "allow",
    )
    with ledger_engine.connect() as conn:
        spent = approval_store.use_of(conn, record.override_id)
    assert spent is not None and (spent.promotion_id, spent.outcome) == (PROMOTION_ID, "allow")


def test_a_second_use_of_an_approval_is_refused_and_appends_nothing(ledger_engine: Engine) -> None:
    record = _minted(ledger_engine)
    assert _consume(ledger_engine, record.override_id)
    uses = _rows(ledger_engine, "approval_uses")
    assert not _consume(ledger_engine, record.override_id, "9f8e7d6c-5b4a-4392-8817-263544536271")
    assert _rows(ledger_engine, "approval_uses") == uses


def test_the_use_table_holds_one_use_per_approval_id(ledger_engine: Engine) -> None:
    """The single-use guarantee is the database's: a second use row for the same approval id is refused
    even when written around `consume` (as a racing transaction would)."""
    record = _minted(ledger_engine)
    assert _consume(ledger_engine, record.override_id)
    with pytest.raises(sa.exc.IntegrityError), ledger_engine.begin() as conn:
        conn.execute(
            schema.approval_uses.insert().values(
                id="00000000-0000-4000-8000-000000000002",
                override_id=record.override_id,
                used_by_promotion_id="9f8e7d6c-5b4a-4392-8817-263544536271",
                used_outcome="deny",
                used_at=NOW,
            )
        )


def test_a_revoked_approval_cannot_be_used_and_its_row_stays_as_minted(ledger_engine: Engine) -> None:
    record = _minted(ledger_engine)
    minted = _rows(ledger_engine, "approval_overrides")
    with ledger_engine.begin() as conn:
        assert approval_store.revoke(conn, record.override_id, at=NOW)
    assert not _consume(ledger_engine, record.override_id)
    assert _rows(ledger_engine, "approval_overrides") == minted
    with ledger_engine.connect() as conn:
        ended = approval_store.use_of(conn, record.override_id)
    assert ended is not None and ended.revoked and ended.promotion_id is None


# --- rollbacks and halts: appended, never updated -------------------------------------------------------

LANE = WINDOW.lane
PROMOTED_AT = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
ROLLOUT_TABLES = (
    "rollout_transitions",
    "rollback_incidents",
    "research_promotions",
    "candidate_lifecycle_events",
    "research_candidates",
)


def _researched(engine: Engine, candidate_id: str, run_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            schema.research_candidates.insert().values(
                id=row_id("research_candidates", candidate_id),
                run_id=run_id,
                candidate_id=candidate_id,
                candidate_hash=(run_id + run_id)[:32],
                parameter_set={"strategy_type": "macd_rsi", "params": {"rsi_entry": 30}},
                lane=LANE,
                window_start=WINDOW.start.to_pydatetime(),
                created_at=WINDOW.end.to_pydatetime(),
            )
        )


def _promoted(engine: Engine, candidate_id: str, at: dt.datetime) -> None:
    """A candidate placed at paper as the promotion job places it: the transition and its lifecycle."""
    with engine.begin() as conn:
        state, seq = rollout_store.load_lane(conn, LANE)
        before = state.active
        transition = state.advance(
            candidate_id, Stage.PAPER, at=at, reason="gates passed", actor="quant@torghut"
        )
        rollout_store.append_transition(
            conn, transition, after_seq=seq, from_candidate_id=None if before is None else before.candidate_id
        )
        promotion_records.set_lifecycle(conn, candidate_id, role="champion", status="active")
        if before is not None:
            promotion_records.set_lifecycle(conn, before.candidate_id, role="demoted", status="standby")


def _act(url: str, action: str) -> None:
    run_rollback(
        RollbackConfig(
            lane=LANE, action=LaneAction(action), actor="oncall@torghut", reason="fills diverging from paper"
        ).request(),
        ledger=LedgerResource(database_url=url),
        now=dt.datetime.now(dt.UTC),
    )


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {table: _rows(engine, table) for table in ROLLOUT_TABLES}


def test_a_halt_and_a_rollback_are_appended_and_nothing_before_them_is_updated(ledger_url: str) -> None:
    engine = create_ledger_engine(ledger_url)
    try:
        _researched(engine, CANDIDATE_A, RUN_A)
        _researched(engine, CANDIDATE_B, RUN_B)
        _promoted(engine, CANDIDATE_A, PROMOTED_AT)
        _promoted(engine, CANDIDATE_B, PROMOTED_AT + dt.timedelta(days=1))
        promoted = _snapshot(engine)
        _act(ledger_url, "halt")
        halted = _snapshot(engine)
        _act(ledger_url, "rollback")
        rolled_back = _snapshot(engine)
        with engine.connect() as conn:
            lifecycles = promotion_records.current_lifecycles(conn, [CANDIDATE_A, CANDIDATE_B])
    finally:
        engine.dispose()

    for before, after in ((promoted, halted), (halted, rolled_back)):
        for table in ROLLOUT_TABLES:
            assert all(row in after[table] for row in before[table]), f"{table}: a row changed or vanished"
    grown = {
        t: (len(halted[t]) - len(promoted[t]), len(rolled_back[t]) - len(halted[t])) for t in ROLLOUT_TABLES
    }
    assert grown == {
        "rollout_transitions": (1, 1),  # the halt, the rollback
        "rollback_incidents": (1, 1),
        "research_promotions": (0, 1),  # the rollback's `demote` row
        "candidate_lifecycle_events": (0, 2),  # B demoted/standby, A champion/active again
        "research_candidates": (0, 0),
    }
    assert rolled_back["research_candidates"] == promoted["research_candidates"]  # never updated
    assert lifecycles == {CANDIDATE_A: ("champion", "active"), CANDIDATE_B: ("demoted", "standby")}
