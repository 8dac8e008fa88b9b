"""Governance assets, sensors and commands, on SQLite and PostgreSQL: readiness drills, the promotion
timeline, the lane trading record behind the drift sensor, rollback/halt/resume, and `approve`.

Most rules need only the rollout log and a few hand-built rows, so they run on a fresh ledger; the
`approve` command needs a researched candidate and uses the governed ledger (built once per backend).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.cli import main
from torghut_assets.defs.governance.operational_readiness import operational_readiness
from torghut_assets.defs.governance.promotion_timeline import promotion_timeline, promotion_timeline_sensor
from torghut_assets.defs.governance.rollback import RollbackConfig, rollback_drift_sensor
from torghut_assets.defs.launchpad import LaneAction
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.drift import FALLBACK_RATIO_EXCEEDED
from torghut_assets.domain.lane_rollout import (
    NOTHING_TO_ROLL_BACK,
    LaneRollout,
    Transition,
    TransitionRefused,
)
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import rehearsal_store, rollout_store, schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.trading_record import lane_trading_record
from torghut_assets.services.operational_readiness import kill_switch_drill
from torghut_assets.services.rollback import run_rollback
from torghut_assets_tests.defs.governance_harness import SECRET, GovernedLedger, build_governed_ledger

LANE = "macd_rsi"
OTHER_LANE = "ema_trend"
PROMOTED_AT = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)  # before the Monday session opens
MONDAY = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # 10:00 New York
TUESDAY = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)
MAX_AGE = dt.timedelta(hours=72)

Move = Callable[[LaneRollout], Transition]


# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    engine = create_ledger_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _rows(url: str, table: str) -> list[dict[str, Any]]:
    t = schema.metadata.tables[table]
    with _connect(url) as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]


def _evidence_kinds(url: str) -> list[str]:
    t = schema.evidence_log
    with _connect(url) as conn:
        return [str(r[0]) for r in conn.execute(sa.select(t.c.entry_kind).order_by(t.c.seq))]


def _ledger(url: str) -> LedgerResource:
    return LedgerResource(database_url=url)


def _record(url: str, lane: str, move: Move) -> None:
    """Append the lane's next transition exactly as the promotion and rollback jobs do."""
    with _connect(url) as conn:
        state, seq = rollout_store.load_lane(conn, lane)
        before = state.active
        rollout_store.append_transition(
            conn,
            move(state),
            after_seq=seq,
            from_candidate_id=None if before is None else before.candidate_id,
            gate_results=None,
            reason_codes=["test"],
            blocking_gate=None,
        )


def _advance(candidate_id: str, stage: Stage, at: dt.datetime = PROMOTED_AT) -> Move:
    return lambda s: s.advance(candidate_id, stage, at=at, reason="gates passed", actor="quant@torghut")


def _halt(at: dt.datetime) -> Move:
    return lambda s: s.halt(at=at, reason="fills diverging", actor="oncall@torghut")


def _rollback(at: dt.datetime) -> Move:
    return lambda s: s.rollback(at=at, reason="slippage", actor="oncall@torghut")


def _execution(
    order_id: str,
    *,
    symbol: str,
    side: str,
    qty: float,
    price: float,
    window_start: dt.datetime,
    fees: float = 0.0,
    fallbacks: int = 0,
    lane: str = LANE,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, order_id)),
        "alpaca_account_label": "paper",
        "alpaca_order_id": order_id,
        "symbol": symbol,
        "side": side,
        "order_type": "market",
        "time_in_force": "day",
        "submitted_qty": qty,
        "filled_qty": qty,
        "avg_fill_price": price,
        "fees": fees,
        "status": "filled",
        "execution_fallback_count": fallbacks,
        "execution_fallback_reason": "lean_unavailable" if fallbacks else None,
        "lane": lane,
        "window_start": window_start,
    }


def _tca(execution: dict[str, Any], shortfall: float) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "tca:" + execution["alpaca_order_id"])),
        "execution_id": execution["id"],
        "symbol": execution["symbol"],
        "side": execution["side"],
        "filled_qty": execution["filled_qty"],
        "implementation_shortfall_notional": shortfall,
        "computed_at": execution["window_start"],
        "lane": execution["lane"],
        "window_start": execution["window_start"],
    }


def _insert_executions(
    url: str, executions: list[dict[str, Any]], tca: list[dict[str, Any]] | None = None
) -> None:
    with _connect(url) as conn:
        conn.execute(schema.executions.insert(), executions)
        if tca:
            conn.execute(schema.execution_tca_metrics.insert(), tca)


def _materialize_readiness(url: str, **config: Any) -> dict[str, Any]:
    result = dg.materialize(
        [operational_readiness],
        resources={"ledger": _ledger(url)},
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"operational_readiness": {"config": config}}},
    )
    metadata = result.asset_materializations_for_node("operational_readiness")[0].metadata
    return {key: value.value for key, value in metadata.items()}


def _materialize_timeline(url: str) -> dict[str, Any]:
    result = dg.materialize(
        [promotion_timeline], resources={"ledger": _ledger(url)}, instance=dg.DagsterInstance.ephemeral()
    )
    metadata = result.asset_materializations_for_node("promotion_timeline")[0].metadata
    return {key: value.value for key, value in metadata.items()}


def _timeline_sensor(url: str, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(cursor=cursor, resources={"ledger": _ledger(url)}) as context:
        result = promotion_timeline_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _drift_sensor(url: str) -> dg.SensorResult:
    with dg.build_sensor_context(resources={"ledger": _ledger(url)}) as context:
        result = rollback_drift_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


# --- operational_readiness -------------------------------------------------------------------------

LANE_SETUPS: dict[str, list[tuple[str, Move]]] = {
    "no lane has moved": [],
    "a lane has a promoted candidate": [
        (LANE, _advance("cand-a", Stage.PAPER)),
        (LANE, _advance("cand-a", Stage.LIVE_L1, PROMOTED_AT + dt.timedelta(minutes=5))),
    ],
    "a promoted lane is halted": [
        (LANE, _advance("cand-a", Stage.PAPER)),
        (LANE, _halt(PROMOTED_AT + dt.timedelta(minutes=5))),
    ],
}


@pytest.mark.parametrize("setup", list(LANE_SETUPS))
def test_readiness_drills_pass_and_leave_route_controls_and_rollout_log_untouched(
    ledger_url: str, setup: str
) -> None:
    for lane, move in LANE_SETUPS[setup]:
        _record(ledger_url, lane, move)
    controls, transitions = (
        _rows(ledger_url, "route_control_events"),
        _rows(ledger_url, "rollout_transitions"),
    )
    metadata = _materialize_readiness(ledger_url)
    assert metadata["kill_switch_dry_run_passed"] is True and metadata["rollback_dry_run_passed"] is True
    assert _rows(ledger_url, "route_control_events") == controls
    assert _rows(ledger_url, "rollout_transitions") == transitions


def test_a_lane_already_halted_does_not_fail_the_kill_switch_drill(ledger_url: str) -> None:
    _record(ledger_url, OTHER_LANE, _halt(PROMOTED_AT))
    with _connect(ledger_url) as conn:
        drill = kill_switch_drill(conn, dt.datetime.now(dt.UTC))
    assert drill["passed"] is True
    assert drill["entry_block_by_lane"] == {LANE: "kill_switch_enabled", OTHER_LANE: "lane_halted"}


def test_the_rollback_drill_restores_the_previous_placement_of_a_promoted_lane(ledger_url: str) -> None:
    _record(ledger_url, LANE, _advance("cand-a", Stage.PAPER))
    _record(ledger_url, LANE, _advance("cand-a", Stage.LIVE_L1, PROMOTED_AT + dt.timedelta(minutes=5)))
    _materialize_readiness(ledger_url)
    (rollback,) = [r for r in _rows(ledger_url, "operational_rehearsals") if r["kind"] == "rollback_dry_run"]
    drilled = rollback["detail"]["lanes"][LANE]
    assert drilled == {
        "stage_before": "live_l1",
        "halt_blocks_entries": True,
        "rollback_restores_previous": True,
        "passed": True,
    }
    with _connect(ledger_url) as conn:
        state, _ = rollout_store.load_lane(conn, LANE)
    assert state.stage == Stage.LIVE_L1 and not state.halted


def test_a_readiness_run_records_one_rehearsal_of_each_kind(ledger_url: str) -> None:
    _materialize_readiness(ledger_url, runbook_reviewed_by="oncall@torghut")
    rows = _rows(ledger_url, "operational_rehearsals")
    assert sorted(r["kind"] for r in rows) == sorted(rehearsal_store.KINDS)
    assert all(r["passed"] is True and len(r["evidence_hash"]) == 64 for r in rows)
    assert _evidence_kinds(ledger_url) == ["operational_readiness"]


def test_the_runbook_is_not_validated_without_a_reviewer(ledger_url: str) -> None:
    metadata = _materialize_readiness(ledger_url)
    assert metadata["runbook_validated"] is False and metadata["ready"] is False
    (runbook,) = [r for r in _rows(ledger_url, "operational_rehearsals") if r["kind"] == "runbook_review"]
    assert runbook["passed"] is False and runbook["detail"] == {"passed": False, "reviewed_by": None}


def test_a_named_reviewer_validates_the_runbook(ledger_url: str) -> None:
    metadata = _materialize_readiness(ledger_url, runbook_reviewed_by="oncall@torghut")
    assert metadata["runbook_validated"] is True and metadata["ready"] is True


def _rehearse(url: str, at: dt.datetime, outcomes: dict[str, bool]) -> None:
    with _connect(url) as conn:
        for kind, passed in outcomes.items():
            rehearsal_store.record_rehearsal(conn, kind=kind, passed=passed, detail={}, actor="test", at=at)


def test_rehearsals_older_than_max_age_count_as_missing(ledger_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    _rehearse(ledger_url, now - MAX_AGE - dt.timedelta(hours=1), dict.fromkeys(rehearsal_store.KINDS, True))
    with _connect(ledger_url) as conn:
        readiness = rehearsal_store.readiness(conn, now=now, max_age=MAX_AGE)
    assert readiness.kill_switch_dry_run_passed is None
    assert readiness.rollback_dry_run_passed is None
    assert readiness.runbook_validated is None
    assert readiness.operational_ready is None


def test_fresh_rehearsals_report_their_stored_outcomes(ledger_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    _rehearse(
        ledger_url,
        now - dt.timedelta(hours=1),
        {
            rehearsal_store.KILL_SWITCH: True,
            rehearsal_store.ROLLBACK: False,
            rehearsal_store.RUNBOOK: True,
        },
    )
    with _connect(ledger_url) as conn:
        readiness = rehearsal_store.readiness(conn, now=now, max_age=MAX_AGE)
    assert readiness.kill_switch_dry_run_passed is True
    assert readiness.rollback_dry_run_passed is False
    assert readiness.runbook_validated is True
    assert readiness.operational_ready is False


# --- promotion_timeline ----------------------------------------------------------------------------

TIMELINE: list[tuple[str, Move]] = [
    (LANE, _advance("cand-a", Stage.PAPER)),
    (LANE, _advance("cand-a", Stage.LIVE_L1, PROMOTED_AT + dt.timedelta(hours=1))),
    (LANE, _rollback(PROMOTED_AT + dt.timedelta(hours=2))),
    (OTHER_LANE, _advance("cand-b", Stage.PAPER, PROMOTED_AT + dt.timedelta(minutes=10))),
    (OTHER_LANE, _halt(PROMOTED_AT + dt.timedelta(hours=3))),
]


def test_the_timeline_lists_every_stage_change_per_lane(ledger_url: str) -> None:
    for lane, move in TIMELINE:
        _record(ledger_url, lane, move)
    summary = _materialize_timeline(ledger_url)["summary"]
    expected = [
        (LANE, 1, PROMOTED_AT, "advance", "—", "cand-a", "shadow → paper"),
        (LANE, 2, PROMOTED_AT + dt.timedelta(hours=1), "advance", "cand-a", "cand-a", "paper → live_l1"),
        (LANE, 3, PROMOTED_AT + dt.timedelta(hours=2), "rollback", "cand-a", "cand-a", "live_l1 → shadow"),
        (OTHER_LANE, 1, PROMOTED_AT + dt.timedelta(minutes=10), "advance", "—", "cand-b", "shadow → paper"),
        (OTHER_LANE, 2, PROMOTED_AT + dt.timedelta(hours=3), "halt", "cand-b", "cand-b", "paper → paper"),
    ]
    for lane, seq, at, kind, before, candidate, stages in expected:
        assert (
            f"| {lane} | {seq} | {at.isoformat()} | {kind} | {before} | {candidate} | {stages} |" in summary
        )


def test_the_timeline_shows_each_lanes_current_stage_and_counts(ledger_url: str) -> None:
    for lane, move in TIMELINE:
        _record(ledger_url, lane, move)
    metadata = _materialize_timeline(ledger_url)
    assert f"| {LANE} | shadow | — | no |" in metadata["summary"]  # its only champion was rolled back
    assert f"| {OTHER_LANE} | paper | cand-b | yes |" in metadata["summary"]
    assert metadata["current_stage"] == {LANE: "shadow", OTHER_LANE: "paper"}
    assert (metadata["transitions"], metadata["lanes_promoted"], metadata["lanes_halted"]) == (5, 1, 1)


def test_an_empty_timeline_shows_every_lane_in_shadow(ledger_url: str) -> None:
    metadata = _materialize_timeline(ledger_url)
    assert "_No stage changes yet" in metadata["summary"]
    assert metadata["current_stage"] == {LANE: "shadow", OTHER_LANE: "shadow"}
    assert (metadata["transitions"], metadata["lanes_promoted"], metadata["lanes_halted"]) == (0, 0, 0)


def test_the_timeline_sensor_skips_while_the_transition_count_is_unchanged(ledger_url: str) -> None:
    _record(ledger_url, LANE, _advance("cand-a", Stage.PAPER))
    result = _timeline_sensor(ledger_url, cursor="1")
    assert result.run_requests == [] and result.skip_reason is not None


def test_the_timeline_sensor_requests_a_run_when_a_transition_is_recorded(ledger_url: str) -> None:
    _record(ledger_url, LANE, _advance("cand-a", Stage.PAPER))
    _record(ledger_url, LANE, _halt(PROMOTED_AT + dt.timedelta(hours=1)))
    result = _timeline_sensor(ledger_url, cursor="1")
    assert [r.run_key for r in result.run_requests or []] == ["timeline:2"]
    assert result.cursor == "2"


# --- lane trading record and drift sensor ----------------------------------------------------------


def test_lane_trading_record_matches_hand_computed_values(ledger_url: str) -> None:
    monday_buy = _execution("o1", symbol="AAPL", side="buy", qty=10, price=100, window_start=MONDAY, fees=1)
    monday_sell = _execution(
        "o2", symbol="AAPL", side="sell", qty=10, price=103, window_start=MONDAY, fees=1, fallbacks=1
    )
    left_open = _execution("o3", symbol="MSFT", side="buy", qty=5, price=200, window_start=MONDAY, fees=0.5)
    tuesday_buy = _execution("o4", symbol="AAPL", side="buy", qty=10, price=105, window_start=TUESDAY, fees=1)
    tuesday_sell = _execution(
        "o5", symbol="AAPL", side="sell", qty=10, price=101, window_start=TUESDAY, fees=1, fallbacks=2
    )
    before_promotion = _execution(
        "o6", symbol="AAPL", side="buy", qty=1, price=50, window_start=MONDAY - dt.timedelta(hours=2)
    )
    other_lane = _execution(
        "o7", symbol="AAPL", side="buy", qty=100, price=100, window_start=MONDAY, lane=OTHER_LANE
    )
    _insert_executions(
        ledger_url,
        [monday_buy, monday_sell, left_open, tuesday_buy, tuesday_sell, before_promotion, other_lane],
        [_tca(monday_buy, 2.0), _tca(monday_sell, -0.5), _tca(tuesday_buy, 3.0)],
    )
    with _connect(ledger_url) as conn:
        record = lane_trading_record(conn, LANE, PROMOTED_AT, equity=10_000.0)
    monday_pnl = -1000 - 1 + 1030 - 1  # the MSFT buy is still open: no realized PnL
    tuesday_pnl = -1050 - 1 + 1010 - 1
    assert dataclasses.asdict(record) == pytest.approx(
        {
            "executions": 5,
            "fallbacks": 2,
            "traded_notional": 1000 + 1030 + 1000 + 1050 + 1010,
            "cost_notional": (2.0 + 0.0 + 3.0) + (1 + 1 + 0.5 + 1 + 1),  # a negative shortfall counts 0
            "net_pnl": monday_pnl + tuesday_pnl,
            # cumulative PnL peaks at 28 after Monday and falls to -14 after Tuesday: a drawdown of 42
            "drawdown_fraction": (monday_pnl - (monday_pnl + tuesday_pnl)) / 10_000.0,
        }
    )


def test_a_round_trip_past_utc_midnight_closes_within_its_new_york_session(ledger_url: str) -> None:
    evening = dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC)  # 20:00 New York, still Monday
    _insert_executions(
        ledger_url,
        [
            _execution("o1", symbol="AAPL", side="buy", qty=10, price=100, window_start=MONDAY),
            _execution("o2", symbol="AAPL", side="sell", qty=10, price=102, window_start=evening),
        ],
    )
    with _connect(ledger_url) as conn:
        record = lane_trading_record(conn, LANE, PROMOTED_AT, equity=10_000.0)
    assert record.net_pnl == pytest.approx(20.0)


def _round_trips_with_fallbacks(url: str, trips: int, fallbacks: int) -> None:
    """Profitable, cost-free AAPL round trips on Monday; `fallbacks` of the executions fell back."""
    executions: list[dict[str, Any]] = []
    for i in range(trips):
        for side, price in (("buy", 100.0), ("sell", 101.0)):
            n = len(executions)
            executions.append(
                _execution(
                    f"o{n}",
                    symbol="AAPL",
                    side=side,
                    qty=10,
                    price=price,
                    window_start=MONDAY + dt.timedelta(hours=i),
                    fallbacks=1 if n < fallbacks else 0,
                )
            )
    _insert_executions(url, executions)


def test_the_drift_sensor_rolls_back_a_promoted_lane_whose_fallback_ratio_exceeds_a_quarter(
    ledger_url: str,
) -> None:
    _record(ledger_url, LANE, _advance("cand-a", Stage.PAPER))
    _round_trips_with_fallbacks(ledger_url, trips=1, fallbacks=1)  # 1 of 2
    (request,) = _drift_sensor(ledger_url).run_requests or []
    assert request.run_key == f"drift:{LANE}:1:{FALLBACK_RATIO_EXCEEDED}"
    config = request.run_config["ops"]["apply_rollback"]["config"]
    assert (config["lane"], config["action"], config["trigger"]) == (LANE, "rollback", "drift")
    assert config["reason"] == FALLBACK_RATIO_EXCEEDED
    assert request.tags == {"torghut/lane": LANE, "torghut/trigger": "drift"}


def test_the_drift_sensor_tolerates_a_fallback_ratio_of_exactly_a_quarter(ledger_url: str) -> None:
    _record(ledger_url, LANE, _advance("cand-a", Stage.PAPER))
    _round_trips_with_fallbacks(ledger_url, trips=2, fallbacks=1)  # 1 of 4
    assert not _drift_sensor(ledger_url).run_requests


def test_the_drift_sensor_ignores_a_lane_with_nothing_promoted(ledger_url: str) -> None:
    _round_trips_with_fallbacks(ledger_url, trips=1, fallbacks=2)
    assert not _drift_sensor(ledger_url).run_requests


def test_the_drift_sensor_ignores_a_halted_lane(ledger_url: str) -> None:
    _record(ledger_url, LANE, _advance("cand-a", Stage.PAPER))
    _record(ledger_url, LANE, _halt(PROMOTED_AT + dt.timedelta(minutes=1)))
    _round_trips_with_fallbacks(ledger_url, trips=1, fallbacks=2)
    assert not _drift_sensor(ledger_url).run_requests


# --- rollback, halt, resume ------------------------------------------------------------------------


def _act(url: str, action: str) -> dict[str, Any]:
    return run_rollback(
        RollbackConfig(
            lane=LANE, action=LaneAction(action), actor="oncall@torghut", reason="fills diverging"
        ).request(),
        ledger=_ledger(url),
        now=dt.datetime.now(dt.UTC),
    )


def test_rolling_back_a_lane_with_nothing_promoted_is_refused_and_recorded(ledger_url: str) -> None:
    with pytest.raises(TransitionRefused) as refused:
        _act(ledger_url, "rollback")
    assert refused.value.code == NOTHING_TO_ROLL_BACK
    assert _rows(ledger_url, "rollout_transitions") == []
    assert _rows(ledger_url, "rollback_incidents") == []
    (entry,) = [r for r in _rows(ledger_url, "evidence_log") if r["entry_kind"] == "rollback_refused"]
    assert entry["subject"] == LANE and entry["lane"] == LANE


def test_halt_then_resume_records_both_transitions_and_lifts_the_halt(ledger_url: str) -> None:
    halted = _act(ledger_url, "halt")
    assert halted["after"]["halted"] is True and halted["incident"] is not None
    resumed = _act(ledger_url, "resume")
    assert resumed["after"]["halted"] is False and resumed["incident"] is None
    transitions = sorted(_rows(ledger_url, "rollout_transitions"), key=lambda r: r["seq"])
    assert [(t["seq"], t["transition_type"], t["status"]) for t in transitions] == [
        (1, "halt", "halted"),
        (2, "resume", "resumed"),
    ]
    (incident,) = _rows(ledger_url, "rollback_incidents")
    assert incident["transition_id"] == transitions[0]["transition_id"]
    assert _evidence_kinds(ledger_url) == ["lane_halt", "lane_resume"]
    with _connect(ledger_url) as conn:
        state, _ = rollout_store.load_lane(conn, LANE)
    assert not state.halted


# --- `torghut-assets approve` ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def governed_ledger(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> GovernedLedger:
    return build_governed_ledger(module_ledger_url, tmp_path_factory.mktemp("governed"))


@pytest.fixture
def governed(governed_ledger: GovernedLedger, monkeypatch: pytest.MonkeyPatch) -> Iterator[GovernedLedger]:
    """The governed ledger, wiped of governance rows, as the CLI's environment."""
    monkeypatch.setenv("TORGHUT_ENV", "dev")
    monkeypatch.setenv("TORGHUT_DATABASE_URL", governed_ledger.url)
    monkeypatch.setenv("TORGHUT_APPROVAL_SECRET", SECRET)
    monkeypatch.setenv(
        "TORGHUT_GATE_POLICY_PATH", str(Path(governed_ledger.root) / "gates-live-enabled.toml")
    )
    governed_ledger.reset()
    yield governed_ledger
    governed_ledger.reset()


def _approve(candidate_id: str, stage: str, role: str) -> int:
    return main(
        [
            "approve",
            "--candidate",
            candidate_id,
            "--stage",
            stage,
            "--approver",
            "cio@torghut",
            "--role",
            role,
            "--reason",
            "paper period reviewed by the investment committee",
        ]
    )


def test_approve_prints_the_token_last_and_stores_only_its_sha256(
    governed: GovernedLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    champion = governed.candidates[0]
    assert governed.promote(champion, "paper").outcome.allowed
    assert _approve(champion, "live_l1", "head_of_trading") == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("wpat-")
    (override,) = governed.rows("approval_overrides", candidate_id=champion)
    assert override["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(override)
    assert governed.evidence_kinds()[-1] == "approval_override"


def test_approve_refuses_a_role_that_may_not_approve_live_and_records_it(
    governed: GovernedLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    champion = governed.candidates[0]
    assert governed.promote(champion, "paper").outcome.allowed
    assert _approve(champion, "live_l1", "risk_officer") == 1
    assert "may not approve a live stage" in capsys.readouterr().err
    assert governed.rows("approval_overrides") == []
    assert governed.evidence_kinds()[-1] == "approval_refused"


def test_approve_refuses_a_candidate_without_a_gate_evaluation(
    governed: GovernedLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _approve(governed.candidates[1], "paper", "risk_officer") == 1
    assert "no gate evaluation" in capsys.readouterr().err
    assert governed.rows("approval_overrides") == []
    assert governed.evidence_kinds() == ["approval_refused"]
