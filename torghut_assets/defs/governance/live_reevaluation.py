"""`live_reevaluation_job` and `live_reevaluation_sensor`: each closed lane window re-judges a live champion.

The sensor launches one run per closed, researched lane window of every lane whose champion is at a
live stage (`services.live_reevaluation.due_reevaluations` plans them; the cursor keeps each lane's
marks). The run puts the champion's configuration, as researched in that window, through gates 0–7 at
the live target (`services/live_reevaluation.py`). A pass writes nothing; a failure, or missing
evidence, rolls the lane back to its previous verified champion and halts it in one transaction, with
no human action, and pages once per incident. Re-running a window is idempotent.
"""

import datetime as dt
import json
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.launchpad import Lane, lane_name, refuse
from torghut_assets.defs.metadata import content_addressed
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain import live_reevaluation as rules
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.services.live_reevaluation import (
    LiveReevaluation,
    due_reevaluations,
    run_live_reevaluation,
)
from torghut_assets.services.rollback import incident_alerts

WINDOW_START_EXAMPLE = "2026-03-03T15:00:00+00:00"


class LiveReevaluationConfig(dg.Config):
    """Which closed window to re-judge: the lane is an enum Dagster checks at launch; the start's form is
    checked by `window()`, the step's first act (the sensor writes both)."""

    lane: Lane = Field(description="lane whose live champion is re-evaluated, e.g. macd_rsi")  # type: ignore[valid-type]
    window_start: str = Field(
        description=f"start of the closed lane window, ISO 8601 on the hour, e.g. {WINDOW_START_EXAMPLE}"
    )

    def window(self) -> LaneWindow:
        return LaneWindow(lane_name(self.lane), parse_window_start(self.window_start))


def parse_window_start(value: str) -> pd.Timestamp:
    """An ISO 8601 hour start in UTC (a time without zone is read as UTC); anything else is refused with
    one sentence showing the form."""
    refusal = f"window_start {value!r} is not an hour start: expected ISO 8601, e.g. {WINDOW_START_EXAMPLE}."
    try:
        ts = pd.Timestamp(dt.datetime.fromisoformat(value.strip()))
    except ValueError:
        refuse(refusal)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts != ts.floor("h"):
        refuse(refusal)
    return ts


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
    config.window()  # a malformed window_start is refused here, before anything is read
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
        result.outcome.value,
        metadata={
            "outcome": result.outcome.value,
            "lane": result.lane,
            "window": result.window.label(),
            "champion": None if result.champion is None else result.champion.candidate_id,
            "reasons": dg.MetadataValue.json([] if result.verdict is None else list(result.verdict.reasons)),
            "transitions": dg.MetadataValue.json(
                [applied["transition"]["transition_id"] for _, applied in result.actions]
            ),
            "summary": dg.MetadataValue.md(summary_markdown(result)),
            **{
                f"artifact_{k}": ledger.artifact_link(content_addressed(v))
                for k, v in result.artifacts.items()
            },
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


@dg.sensor(
    job=live_reevaluation_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-evaluate each live champion on every lane window that closes after its latest step up.",
)
def live_reevaluation_sensor(context: dg.SensorEvaluationContext, ledger: LedgerResource) -> dg.SensorResult:
    marks: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    plan = due_reevaluations(ledger.engine, marks, dt.datetime.now(dt.UTC))
    requests = [
        dg.RunRequest(
            run_key=f"live-reeval:{due.lane}:{due.window_start:%Y-%m-%dT%H:%MZ}:{due.champion_id}:{due.seq}",
            run_config=dg.RunConfig(
                ops={
                    "reevaluate_live_champion": LiveReevaluationConfig(
                        lane=due.lane, window_start=due.window_start.isoformat()
                    )
                }
            ),
            tags={"torghut/lane": due.lane, "torghut/trigger": rules.TRIGGER},
        )
        for due in plan.due
    ]
    cursor = json.dumps(plan.marks, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason="no closed window awaits a live re-evaluation", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


__all__ = ["LiveReevaluationConfig", "live_reevaluation_job", "live_reevaluation_sensor"]
