"""`live_reevaluation_job` and `live_reevaluation_sensor`: each closed lane window re-judges a live champion.

The sensor launches one run per closed, researched lane window of every lane whose champion is at a
live stage. The run puts the champion's configuration, as researched in that window, through gates 0–7
at the live target (`domain/live_reevaluation.py` says what passes). A pass writes nothing. A failure,
or missing evidence, writes in one transaction, with no human action:

* the window's gate evaluation of the champion (`gate_evaluations`, when one could be made);
* a rollback to the lane's previous verified champion (flat when there is none) and a halt, as two
  rollout transitions by `live_reevaluation` with trigger `live_gate_failure`, the failing gates as
  reason codes and the first failing gate as the blocking gate;
* a `rollback_incidents` row for each, demote/lifecycle rows for the champion, and the evidence-chain
  entries `gate_evaluation`, `lane_rollback`, `lane_halt` and `live_reevaluation_failed`.

Re-running a window is idempotent: once rolled back, the champion is no longer the lane's live
placement, and a window already recorded as `live_reevaluation_failed` for a champion is never acted on
again, even if that champion is later promoted back to live.
"""

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

import torghut_assets
from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.config_rules import configured_lane
from torghut_assets.defs.governance.gate_inputs import gather_evidence, load_candidate
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.governance.promotion import _uncertainty
from torghut_assets.defs.governance.rollback import (
    RollbackConfig,
    apply_lane_action,
    incident_alerts,
    lane_snapshot,
)
from torghut_assets.defs.lane_window.research_inputs import ResearchResource, UpstreamMissingError
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain import live_reevaluation as rules
from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.gates import GateReport, evaluate_gates
from torghut_assets.domain.lane_rollout import ADVANCE, HALT, ROLLBACK, Placement, replay_lane, stage_mode
from torghut_assets.domain.lanes import LANES, LaneWindow
from torghut_assets.domain.research import strategy_config_hash
from torghut_assets.ledger import promotion_records, queries, rollout_store, schema
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.ledger.records import LedgerIntegrityError
from torghut_assets.ledger.writes import to_native

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


class LiveReevaluationConfig(dg.Config):
    lane: str = Field(description="lane whose live champion is re-evaluated, e.g. macd_rsi")
    window_start: str = Field(description="start of the closed lane window, ISO 8601 (UTC), on the hour")

    _known_lane = field_validator("lane")(configured_lane)

    @field_validator("window_start")
    @classmethod
    def _on_the_hour(cls, value: str) -> str:
        parse_window_start(value)
        return value

    def window(self) -> LaneWindow:
        return LaneWindow(self.lane, parse_window_start(self.window_start))


def parse_window_start(value: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts != ts.floor("h"):
        raise ValueError(f"window_start {value!r} is not on the hour")
    return ts


@dataclass
class LiveReevaluation:
    lane: str
    window: LaneWindow
    outcome: str
    champion: Placement | None = None
    verdict: rules.LiveVerdict | None = None
    evaluated_candidate_id: str | None = None
    gate_evaluation: dict[str, Any] | None = None
    actions: list[tuple[RollbackConfig, dict[str, Any]]] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Evaluation:
    verdict: rules.LiveVerdict
    counterpart: str | None = None
    report: GateReport | None = None
    full_report: dict[str, Any] | None = None
    run_id: str | None = None
    error: str | None = None


def _already_rolled_back(conn: Connection, window: LaneWindow, champion: str) -> bool:
    t = schema.evidence_log
    found = conn.execute(
        sa.select(t.c.id)
        .where(
            t.c.entry_kind == rules.FAILURE_ENTRY_KIND,
            t.c.subject == champion,
            t.c.lane == window.lane,
            t.c.window_start == to_native(window.start.to_pydatetime()),
        )
        .limit(1)
    ).first()
    return found is not None


def _counterpart(conn: Connection, window: LaneWindow, champion: str) -> str | None:
    """The champion itself, or the candidate with its configuration, among the window's candidates."""
    t = schema.research_candidates
    own = conn.execute(sa.select(t.c.parameter_set).where(t.c.candidate_id == champion).limit(1)).first()
    wanted = None if own is None else strategy_config_hash(own[0])
    matches = sorted(
        str(c["candidate_id"])
        for c in queries.window_rows(conn, t, window.lane, window.start.to_pydatetime())
        if c["candidate_id"] == champion
        or (wanted is not None and strategy_config_hash(c["parameter_set"]) == wanted)
    )
    return champion if champion in matches else (matches[0] if matches else None)


def _evaluate(
    window: LaneWindow,
    champion: Placement,
    run: dict[str, Any],
    *,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    governance: GovernanceResource,
    now: dt.datetime,
) -> _Evaluation:
    if run["status"] == rules.RUN_FAILED:
        return _Evaluation(rules.evidence_missing(rules.RESEARCH_RUN_FAILED), run_id=str(run["run_id"]))
    with ledger.read() as conn:
        counterpart = _counterpart(conn, window, champion.candidate_id)
        if counterpart is None:
            return _Evaluation(
                rules.evidence_missing(rules.CHAMPION_EVIDENCE_MISSING), run_id=str(run["run_id"])
            )
        ctx = load_candidate(conn, counterpart)
        lane, _ = rollout_store.load_lane(conn, window.lane)
    policy = governance.policy()
    uncertainty, replay_error = _uncertainty(ctx, ledger, market_data, research_settings, policy)
    with ledger.read() as conn:
        # The lane's incumbent is the champion itself, so its baseline is a flat book (`baseline_for`).
        gathered = gather_evidence(
            conn,
            ctx,
            policy=policy,
            lane=lane,
            uncertainty=uncertainty,
            approval_token_valid=None,
            llm_enabled=governance.llm_enabled,
            now=now,
        )
    report = evaluate_gates(gathered.evidence, policy, "live")
    full_report = {
        **report.as_dict(),
        "kind": "live_reevaluation",
        "evaluated_at": now,
        "code_version": torghut_assets.__version__,
        "run_id": ctx.run["run_id"],
        "candidate_id": champion.candidate_id,
        "champion_stage": champion.stage.value,
        "evaluated_candidate_id": counterpart,
        "window": window.label(),
        "metrics": canonical_value(
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(gathered.evidence).items()}
        ),
        "uncertainty": uncertainty.as_dict(),
        "uncertainty_replay_error": replay_error,
        "promotion_evidence": gathered.profitability,
        "provenance": gathered.provenance,
    }
    return _Evaluation(
        rules.verdict_from_report(report), counterpart, report, full_report, str(run["run_id"])
    )


def run_live_reevaluation(
    config: LiveReevaluationConfig,
    *,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    governance: GovernanceResource,
    now: dt.datetime,
    run_id: str = "",
) -> LiveReevaluation:
    """Re-judge the lane's live champion on one closed window; roll back and halt on failure."""
    window = config.window()
    if window.end > pd.Timestamp(now):
        return LiveReevaluation(window.lane, window, rules.WINDOW_NOT_CLOSED)
    with ledger.read() as conn:
        state, _ = rollout_store.load_lane(conn, window.lane)
        champion = state.active
        if champion is None or stage_mode(champion.stage) != "live":
            return LiveReevaluation(window.lane, window, rules.LANE_NOT_LIVE, champion)
        if _already_rolled_back(conn, window, champion.candidate_id):
            return LiveReevaluation(window.lane, window, rules.ALREADY_ROLLED_BACK, champion)
        runs = queries.window_rows(conn, schema.research_runs, window.lane, window.start.to_pydatetime())
    if not runs or runs[0]["status"] not in rules.TERMINAL_RUN_STATUSES:
        return LiveReevaluation(window.lane, window, rules.RESEARCH_INCOMPLETE, champion)
    if runs[0]["status"] == rules.RUN_SKIPPED:
        return LiveReevaluation(window.lane, window, rules.WINDOW_WITHOUT_SIGNALS, champion)
    try:
        evaluation = _evaluate(
            window,
            champion,
            runs[0],
            ledger=ledger,
            market_data=market_data,
            research_settings=research_settings,
            governance=governance,
            now=now,
        )
    except EVIDENCE_ERRORS as exc:  # evidence that cannot be read is missing evidence: fail closed
        evaluation = _Evaluation(
            rules.evidence_missing(rules.EVALUATION_FAILED),
            run_id=str(runs[0]["run_id"]),
            error=f"{type(exc).__name__}: {exc}",
        )
    result = LiveReevaluation(
        window.lane,
        window,
        rules.PASSED,
        champion,
        evaluation.verdict,
        evaluation.counterpart,
    )
    if evaluation.full_report is not None:
        result.artifacts["live_reevaluation"] = ledger.artifacts.write_json(
            "gates/live-reevaluation", evaluation.full_report
        ).path
    if evaluation.verdict.passed:
        return result
    with ledger.transaction() as conn:
        current, _ = rollout_store.load_lane(conn, window.lane)
        if current.active != champion:
            result.outcome = rules.LANE_CHANGED
            return result
        if _already_rolled_back(conn, window, champion.candidate_id):
            result.outcome = rules.ALREADY_ROLLED_BACK
            return result
        _roll_back_and_halt(conn, result, evaluation, now=now, run_id=run_id)
    result.outcome = rules.ROLLED_BACK
    return result


def _roll_back_and_halt(
    conn: Connection, result: LiveReevaluation, evaluation: _Evaluation, *, now: dt.datetime, run_id: str
) -> None:
    window, verdict, champion = result.window, evaluation.verdict, result.champion
    assert champion is not None
    start = window.start.to_pydatetime()
    gate_row = None
    if evaluation.report is not None and evaluation.full_report is not None:
        gate_row = promotion_records.gate_evaluation_row(
            run_id=str(evaluation.run_id),
            candidate_id=champion.candidate_id,
            window=window,
            report=evaluation.report,
            full_report=evaluation.full_report,
            evaluated_at=now,
            code_version=torghut_assets.__version__,
        )
        conn.execute(schema.gate_evaluations.insert().values(**gate_row))
        append_entry(
            conn,
            entry_kind="gate_evaluation",
            subject=champion.candidate_id,
            content={
                k: gate_row[k] for k in ("id", "gate_report_trace_id", "policy_checksum", "report_json")
            },
            lane=window.lane,
            window_start=start,
            recorded_at=now,
        )
    result.gate_evaluation = gate_row
    refs = {
        "live_reevaluation": {
            "window": window.label(),
            "research_run_id": evaluation.run_id,
            "champion": champion.candidate_id,
            "champion_stage": champion.stage.value,
            "evaluated_candidate_id": evaluation.counterpart,
            "gate_evaluation_id": None if gate_row is None else gate_row["id"],
            "artifact": result.artifacts.get("live_reevaluation"),
            "error": evaluation.error,
        }
    }
    gate_results = None if evaluation.report is None else [g.as_dict() for g in evaluation.report.gates]
    reason = f"live champion {champion.candidate_id} failed re-evaluation on {window.label()}"
    for action in (ROLLBACK, HALT):
        config = RollbackConfig(
            lane=window.lane, action=action, actor=rules.ACTOR, reason=reason, trigger=rules.TRIGGER
        )
        applied = apply_lane_action(
            conn,
            config,
            now=now,
            run_id=run_id,
            reason_codes=verdict.reasons,
            gate_results=gate_results,
            blocking_gate=verdict.blocking_gate,
            refs=refs,
        )
        result.actions.append((config, applied))
    final, _ = rollout_store.load_lane(conn, window.lane)
    append_entry(
        conn,
        entry_kind=rules.FAILURE_ENTRY_KIND,
        subject=champion.candidate_id,
        content={
            **refs["live_reevaluation"],
            "reasons": list(verdict.reasons),
            "blocking_gates": list(verdict.blocking_gates),
            "transitions": [applied["transition"]["transition_id"] for _, applied in result.actions],
            "after": lane_snapshot(final),
            "at": now,
        },
        lane=window.lane,
        window_start=start,
        recorded_at=now,
    )


def summary_markdown(result: LiveReevaluation) -> str:
    held = result.champion
    champion = "—" if held is None else f"`{held.candidate_id}`@{held.stage}"
    lines = [
        f"**{result.outcome}** lane `{result.lane}` window `{result.window.label()}`: champion {champion}"
    ]
    if result.evaluated_candidate_id:
        lines.append(f"evaluated as `{result.evaluated_candidate_id}`, its configuration in the window's run")
    if result.verdict is not None and result.verdict.reasons:
        lines.append("**Failing**\n" + "\n".join(f"- `{r}`" for r in result.verdict.reasons))
    for config, applied in result.actions:
        before, after = applied["before"], applied["after"]
        lines.append(
            f"{config.action}: `{before['candidate_id']}`@{before['stage']} → "
            f"`{after['candidate_id']}`@{after['stage']}{' (halted)' if after['halted'] else ''}"
        )
    return "\n\n".join(lines)


@dg.op(
    description="Re-evaluate the lane's live champion on a closed window; roll back and halt on failure.",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=15),
)
def reevaluate_live_champion(
    context: dg.OpExecutionContext,
    config: LiveReevaluationConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    governance: GovernanceResource,
    alerts: AlertsResource,
) -> dg.Output[str]:
    result = run_live_reevaluation(
        config,
        ledger=ledger,
        market_data=market_data,
        research_settings=research_settings,
        governance=governance,
        now=dt.datetime.now(dt.UTC),
        run_id=context.run_id,
    )
    pages = [alert for cfg, applied in result.actions for alert in incident_alerts(cfg, applied)]
    sent = alerts.send(ledger, pages, context.log)
    return dg.Output(
        result.outcome,
        metadata={
            "outcome": result.outcome,
            "lane": result.lane,
            "window": result.window.label(),
            "champion": None if result.champion is None else result.champion.candidate_id,
            "reasons": dg.MetadataValue.json([] if result.verdict is None else list(result.verdict.reasons)),
            "transitions": dg.MetadataValue.json(
                [applied["transition"]["transition_id"] for _, applied in result.actions]
            ),
            "summary": dg.MetadataValue.md(summary_markdown(result)),
            **{f"artifact_{k}": dg.MetadataValue.path(v) for k, v in result.artifacts.items()},
            **alert_metadata(sent),
        },
    )


@dg.job(
    description="Re-evaluate a lane's live champion on a closed window (fail closed: roll back and halt).",
    tags={
        "torghut/pipeline": "live_reevaluation",
        "torghut/ledger_heavy": "governance",
        **GOVERNANCE_POD.tag(),
    },
)
def live_reevaluation_job() -> None:
    reevaluate_live_champion()


def _live_lanes(conn: Connection) -> dict[str, tuple[Placement, dt.datetime, int]]:
    """Lanes whose champion is at a live stage, with the time and seq of the champion's latest step up."""
    out: dict[str, tuple[Placement, dt.datetime, int]] = {}
    for lane, history in rollout_store.histories_by_lane(conn).items():
        state = replay_lane(lane, (h.transition for h in history))
        active = state.active
        if active is None or stage_mode(active.stage) != "live" or lane not in LANES:
            continue
        step = next(
            (
                h
                for h in reversed(history)
                if h.transition.transition_type == ADVANCE
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
    t = schema.research_runs
    query = sa.select(t.c.window_start, t.c.window_end, t.c.status).where(
        t.c.lane == lane, t.c.window_end > to_native(since)
    )
    if through is not None:
        query = query.where(t.c.window_start > to_native(through))
    rows = conn.execute(query).all()
    out = []
    for start, end, status in rows:
        s, e = queries.as_utc(start), queries.as_utc(end)
        if s is not None and e is not None:
            out.append(rules.ResearchedWindow(s.to_pydatetime(), e.to_pydatetime(), str(status)))
    return out


@dg.sensor(
    job=live_reevaluation_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-evaluate each live champion on every lane window that closes after its latest step up.",
)
def live_reevaluation_sensor(context: dg.SensorEvaluationContext, ledger: LedgerResource) -> dg.SensorResult:
    marks: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    now = dt.datetime.now(dt.UTC)
    requests, new_marks = [], {}
    with ledger.read() as conn:
        for lane, (champion, since, seq) in sorted(_live_lanes(conn).items()):
            mark = marks.get(lane) or {}
            stored = mark.get("through") if mark.get("seq") == seq else None
            through = None if stored is None else dt.datetime.fromisoformat(stored)
            due, handled = rules.due_windows(
                _researched_windows(conn, lane, since, through),
                live_since=since,
                handled_through=through,
                now=now,
            )
            new_marks[lane] = {"seq": seq, "through": None if handled is None else handled.isoformat()}
            for start in due:
                key = f"{start:%Y-%m-%dT%H:%MZ}"
                requests.append(
                    dg.RunRequest(
                        run_key=f"live-reeval:{lane}:{key}:{champion.candidate_id}:{seq}",
                        run_config=dg.RunConfig(
                            ops={
                                "reevaluate_live_champion": LiveReevaluationConfig(
                                    lane=lane, window_start=start.isoformat()
                                )
                            }
                        ),
                        tags={"torghut/lane": lane, "torghut/trigger": rules.TRIGGER},
                    )
                )
    cursor = json.dumps(new_marks, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason="no closed window awaits a live re-evaluation", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


__all__ = [
    "LiveReevaluation",
    "LiveReevaluationConfig",
    "live_reevaluation_job",
    "live_reevaluation_sensor",
    "run_live_reevaluation",
]
