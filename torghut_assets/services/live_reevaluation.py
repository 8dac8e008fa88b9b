"""Re-judge a lane's live champion on one closed lane window; roll back and halt the lane when it fails.

The champion's configuration, as researched in that window, is put through gates 0–7 at the live
target with the same evidence gathering as a promotion (`services/gate_evidence.py`);
`domain/live_reevaluation.py` says what passes. A pass writes nothing. A failure, or missing evidence,
writes in one transaction, with no human action:

* the window's gate evaluation of the champion (`gate_evaluations`, when one could be made);
* a rollback to the lane's previous verified champion (flat when there is none) and a halt, as two
  rollout transitions by `live_reevaluation` with trigger `live_gate_failure`, the failing gates as
  reason codes and the first failing gate as the blocking gate;
* a `rollback_incidents` row for each, demote/lifecycle rows for the champion, and the evidence-chain
  entries `gate_evaluation`, `lane_rollback`, `lane_halt` and `live_reevaluation_failed`.

Re-running a window is idempotent: once rolled back, the champion is no longer the lane's live
placement, and a window already recorded as `live_reevaluation_failed` for a champion is never acted on
again, even if that champion is later promoted back to live. `due_reevaluations` plans the windows the
sensor launches, one run per closed, researched window of every lane whose champion is live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
from sqlalchemy.engine import Connection, Engine

import torghut_assets
from torghut_assets.domain import live_reevaluation as rules
from torghut_assets.domain.gates import GateReport, TargetMode
from torghut_assets.domain.lane_rollout import LaneRollout, Placement, replay_lane, stage_mode
from torghut_assets.domain.lanes import LANES, LaneWindow
from torghut_assets.domain.live_reevaluation import ReevaluationOutcome
from torghut_assets.domain.research import TERMINAL_RUN_STATUSES, ResearchRunStatus, strategy_config_hash
from torghut_assets.domain.stages import TransitionType
from torghut_assets.ledger import gate_inputs, promotion_records, rollout_store
from torghut_assets.ledger.evidence_log import append_entry, has_entry
from torghut_assets.ledger.records import LedgerIntegrityError
from torghut_assets.services.gate_evidence import ReplaySources, judge_candidate, load_candidate
from torghut_assets.services.governance_config import Governance
from torghut_assets.services.ports import LedgerPort, MarketDataPort, ResearchSettingsPort
from torghut_assets.services.research_inputs import UpstreamMissingError
from torghut_assets.services.rollback import LaneAction, LaneActionResult, apply_lane_action, lane_snapshot

Row = dict[str, Any]

# What reading or judging a window's evidence can raise; the ledger failing to answer is not among them.
EVIDENCE_ERRORS = (
    LookupError,
    ValueError,
    TypeError,
    ArithmeticError,
    OSError,
    LedgerIntegrityError,
    UpstreamMissingError,
)


class ReevaluationRequest(Protocol):
    """Which closed lane window to re-judge (the Launchpad's `LiveReevaluationConfig` is one)."""

    def window(self) -> LaneWindow: ...


@dataclass
class LiveReevaluation:
    lane: str
    window: LaneWindow
    outcome: ReevaluationOutcome
    champion: Placement | None = None
    verdict: rules.LiveVerdict | None = None
    evaluated_candidate_id: str | None = None
    gate_evaluation: Row | None = None
    actions: list[tuple[LaneAction, LaneActionResult]] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Evaluation:
    verdict: rules.LiveVerdict
    counterpart: str | None = None
    report: GateReport | None = None
    full_report: Row | None = None
    run_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class DueReevaluation:
    lane: str
    window_start: dt.datetime
    champion_id: str
    seq: int  # the champion's latest step up


@dataclass(frozen=True)
class ReevaluationPlan:
    """The windows to re-judge now, and each live lane's new mark (`{"seq", "through"}`)."""

    due: list[DueReevaluation]
    marks: dict[str, dict[str, Any]]


def _already_rolled_back(conn: Connection, window: LaneWindow, champion: str) -> bool:
    return has_entry(
        conn,
        entry_kind=rules.FAILURE_ENTRY_KIND,
        subject=champion,
        lane=window.lane,
        window_start=window.start.to_pydatetime(),
    )


def champion_counterpart(conn: Connection, window: LaneWindow, champion: str) -> str | None:
    """The champion itself, or the candidate with its configuration, among the window's candidates."""
    own = gate_inputs.candidate_parameter_set(conn, champion)
    wanted = None if own is None else strategy_config_hash(own)
    matches = sorted(
        str(c["candidate_id"])
        for c in gate_inputs.window_candidates(conn, window.lane, window.start.to_pydatetime())
        if c["candidate_id"] == champion
        or (wanted is not None and strategy_config_hash(c["parameter_set"]) == wanted)
    )
    return champion if champion in matches else (matches[0] if matches else None)


def _evaluate(
    window: LaneWindow,
    champion: Placement,
    run: Row,
    *,
    sources: ReplaySources,
    governance: Governance,
    now: dt.datetime,
) -> _Evaluation:
    run_id = str(run["run_id"])
    if run["status"] == ResearchRunStatus.FAILED:
        return _Evaluation(rules.evidence_missing(rules.RESEARCH_RUN_FAILED), run_id=run_id)
    with sources.ledger.engine.connect() as conn:
        counterpart = champion_counterpart(conn, window, champion.candidate_id)
        if counterpart is None:
            return _Evaluation(rules.evidence_missing(rules.CHAMPION_EVIDENCE_MISSING), run_id=run_id)
        ctx = load_candidate(conn, counterpart)
        lane, _ = rollout_store.load_lane(conn, window.lane)
    # The lane's incumbent is the champion itself, so its baseline is a flat book (`baseline_for`).
    judgement = judge_candidate(
        ctx,
        lane,
        sources=sources,
        governance=governance,
        target=TargetMode.LIVE,
        approval_token_valid=None,
        now=now,
    )
    identity = {
        "kind": "live_reevaluation",
        "run_id": ctx.run["run_id"],
        "candidate_id": champion.candidate_id,
        "champion_stage": champion.stage.value,
        "evaluated_candidate_id": counterpart,
        "window": window.label(),
    }
    report = judgement.report
    full_report = judgement.report_json(now, identity)
    return _Evaluation(rules.verdict_from_report(report), counterpart, report, full_report, run_id)


def _research_run(
    ledger: LedgerPort, window: LaneWindow
) -> tuple[Placement | None, Row | None, ReevaluationOutcome | None]:
    """The live champion and the window's research run, or the outcome that ends the re-evaluation."""
    with ledger.engine.connect() as conn:
        state, _ = rollout_store.load_lane(conn, window.lane)
        champion = state.active
        if champion is None or stage_mode(champion.stage) != TargetMode.LIVE:
            return champion, None, ReevaluationOutcome.LANE_NOT_LIVE
        if _already_rolled_back(conn, window, champion.candidate_id):
            return champion, None, ReevaluationOutcome.ALREADY_ROLLED_BACK
        runs = gate_inputs.window_runs(conn, window.lane, window.start.to_pydatetime())
    if not runs or runs[0]["status"] not in TERMINAL_RUN_STATUSES:
        return champion, None, ReevaluationOutcome.RESEARCH_INCOMPLETE
    if runs[0]["status"] == ResearchRunStatus.SKIPPED:
        return champion, None, ReevaluationOutcome.WINDOW_WITHOUT_SIGNALS
    return champion, runs[0], None


def run_live_reevaluation(
    request: ReevaluationRequest,
    *,
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research_settings: ResearchSettingsPort,
    governance: Governance,
    now: dt.datetime,
    run_id: str = "",
) -> LiveReevaluation:
    """Re-judge the lane's live champion on one closed window; roll back and halt on failure."""
    window = request.window()
    if window.end > pd.Timestamp(now):
        return LiveReevaluation(window.lane, window, ReevaluationOutcome.WINDOW_NOT_CLOSED)
    champion, run, ended = _research_run(ledger, window)
    if ended is not None or champion is None or run is None:
        return LiveReevaluation(window.lane, window, ended or ReevaluationOutcome.LANE_NOT_LIVE, champion)
    sources = ReplaySources(ledger, market_data, research_settings)
    try:
        evaluation = _evaluate(window, champion, run, sources=sources, governance=governance, now=now)
    except EVIDENCE_ERRORS as exc:  # evidence that cannot be read is missing evidence: fail closed
        evaluation = _Evaluation(
            rules.evidence_missing(rules.EVALUATION_FAILED),
            run_id=str(run["run_id"]),
            error=f"{type(exc).__name__}: {exc}",
        )
    result = LiveReevaluation(
        window.lane, window, ReevaluationOutcome.PASSED, champion, evaluation.verdict, evaluation.counterpart
    )
    if evaluation.full_report is not None:
        result.artifacts["live_reevaluation"] = ledger.artifacts.write_json(
            "gates/live-reevaluation", evaluation.full_report
        ).path
    if evaluation.verdict.passed:
        return result
    with ledger.engine.begin() as conn:
        current, _ = rollout_store.load_lane(conn, window.lane)
        if current.active != champion:
            result.outcome = ReevaluationOutcome.LANE_CHANGED
            return result
        if _already_rolled_back(conn, window, champion.candidate_id):
            result.outcome = ReevaluationOutcome.ALREADY_ROLLED_BACK
            return result
        _roll_back_and_halt(conn, result, evaluation, now=now, run_id=run_id)
    result.outcome = ReevaluationOutcome.ROLLED_BACK
    return result


def _record_gate_evaluation(
    conn: Connection, result: LiveReevaluation, evaluation: _Evaluation, champion: Placement, now: dt.datetime
) -> Row | None:
    if evaluation.report is None or evaluation.full_report is None:
        return None
    window = result.window
    gate_row = promotion_records.gate_evaluation_row(
        run_id=str(evaluation.run_id),
        candidate_id=champion.candidate_id,
        window=window,
        report=evaluation.report,
        full_report=evaluation.full_report,
        evaluated_at=now,
        code_version=torghut_assets.__version__,
    )
    promotion_records.insert_gate_evaluation(conn, gate_row)
    append_entry(
        conn,
        entry_kind="gate_evaluation",
        subject=champion.candidate_id,
        content={k: gate_row[k] for k in ("id", "gate_report_trace_id", "policy_checksum", "report_json")},
        lane=window.lane,
        window_start=window.start.to_pydatetime(),
        recorded_at=now,
    )
    return gate_row


def _roll_back_and_halt(
    conn: Connection, result: LiveReevaluation, evaluation: _Evaluation, *, now: dt.datetime, run_id: str
) -> None:
    window, verdict, champion = result.window, evaluation.verdict, result.champion
    assert champion is not None
    gate_row = _record_gate_evaluation(conn, result, evaluation, champion, now)
    result.gate_evaluation = gate_row
    refs = {
        "window": window.label(),
        "research_run_id": evaluation.run_id,
        "champion": champion.candidate_id,
        "champion_stage": champion.stage.value,
        "evaluated_candidate_id": evaluation.counterpart,
        "gate_evaluation_id": None if gate_row is None else gate_row["id"],
        "artifact": result.artifacts.get("live_reevaluation"),
        "error": evaluation.error,
    }
    gate_results = None if evaluation.report is None else [g.as_dict() for g in evaluation.report.gates]
    reason = f"live champion {champion.candidate_id} failed re-evaluation on {window.label()}"
    for action in (TransitionType.ROLLBACK, TransitionType.HALT):
        request = LaneAction(
            lane=window.lane, action=action, actor=rules.ACTOR, reason=reason, trigger=rules.TRIGGER
        )
        applied = apply_lane_action(
            conn,
            request,
            now=now,
            run_id=run_id,
            reason_codes=verdict.reasons,
            gate_results=gate_results,
            blocking_gate=verdict.blocking_gate,
            refs={"live_reevaluation": refs},
        )
        result.actions.append((request, applied))
    final, _ = rollout_store.load_lane(conn, window.lane)
    append_entry(
        conn,
        entry_kind=rules.FAILURE_ENTRY_KIND,
        subject=champion.candidate_id,
        content={
            **refs,
            "reasons": list(verdict.reasons),
            "blocking_gates": list(verdict.blocking_gates),
            "transitions": [applied["transition"]["transition_id"] for _, applied in result.actions],
            "after": lane_snapshot(final),
            "at": now,
        },
        lane=window.lane,
        window_start=window.start.to_pydatetime(),
        recorded_at=now,
    )


# --- what the sensor launches ----------------------------------------------------------------------


def _live_lanes(conn: Connection) -> dict[str, tuple[Placement, dt.datetime, int]]:
    """Lanes whose champion is at a live stage, with the time and seq of the champion's latest step up."""
    out: dict[str, tuple[Placement, dt.datetime, int]] = {}
    for lane, history in rollout_store.histories_by_lane(conn).items():
        state: LaneRollout = replay_lane(lane, (h.transition for h in history))
        active = state.active
        if active is None or stage_mode(active.stage) != TargetMode.LIVE or lane not in LANES:
            continue
        step = next(
            (
                h
                for h in reversed(history)
                if h.transition.transition_type == TransitionType.ADVANCE
                and h.transition.candidate_id == active.candidate_id
            ),
            None,
        )
        if step is not None:
            out[lane] = (active, step.transition.at, step.seq)
    return out


def _researched_windows(
    conn: Connection, lane: str, since: dt.datetime, through: dt.datetime | None
) -> list[rules.ResearchedWindow]:
    return [
        rules.ResearchedWindow(start, end, ResearchRunStatus(status))
        for start, end, status in gate_inputs.research_run_windows(conn, lane, since, through)
    ]


def due_reevaluations(
    engine: Engine, marks: Mapping[str, Mapping[str, Any]], now: dt.datetime
) -> ReevaluationPlan:
    """The closed, researched windows each live champion has not been re-judged on yet.

    `marks` are the previous plan's (the sensor's cursor): per lane, the champion's step-up seq and the
    last window handled; a new step up (another seq) starts the lane afresh.
    """
    due: list[DueReevaluation] = []
    new_marks: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for lane, (champion, since, seq) in sorted(_live_lanes(conn).items()):
            mark = marks.get(lane) or {}
            stored = mark.get("through") if mark.get("seq") == seq else None
            through = None if stored is None else dt.datetime.fromisoformat(stored)
            starts, handled = rules.due_windows(
                _researched_windows(conn, lane, since, through),
                live_since=since,
                handled_through=through,
                now=now,
            )
            new_marks[lane] = {"seq": seq, "through": None if handled is None else handled.isoformat()}
            due += [DueReevaluation(lane, start, champion.candidate_id, seq) for start in starts]
    return ReevaluationPlan(due, new_marks)
