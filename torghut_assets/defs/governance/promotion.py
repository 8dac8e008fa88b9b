"""`promotion_job`: evaluate every gate for one candidate and advance it at most one stage.

Launched from the Launchpad with a typed config; the use case is `services/promotion.py` (judge, decide,
record, chain evidence, spend a presented approval). Whatever the outcome it is recorded; a deny then
fails the run, naming every failing gate, so it is red in the UI and cannot be mistaken for a promotion.

Single use means single presentation. The approval token sits in this job's run config, which Dagster
keeps, so an approval that verifies is spent by the promotion decision it accompanies whether that
promotion is allowed or denied; presented again, it is refused `approval_replayed`, naming that
promotion and its outcome. What is recorded is the approval id, approver, role, source, signing key id
and approvers-file checksum — never the token.
"""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field, field_validator

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.services.promotion import (
    PromotionRefusedError,
    PromotionResult,
    denial_alerts,
    run_promotion,
)

STAGE_CHOICES = ("paper", "live", "live_l1", "live_l2", "live_l3")


class PromotionConfig(dg.Config):
    candidate_id: str = Field(description="research candidate id, e.g. cand-<run>-<hash>")
    target_stage: str = Field(
        description="paper | live_l1 | live_l2 | live_l3 ('live' = the next live stage)"
    )
    requester: str = Field(description="who asks; recorded on the promotion row")
    approval_token: str | None = Field(
        default=None,
        description="tav2.… token from `torghut-assets approve --key` (dev: also a wpat-… HMAC token)",
    )
    reason: str = Field(default="", description="why now; recorded with the transition")

    @field_validator("target_stage")
    @classmethod
    def _known_stage(cls, value: str) -> str:
        if value not in STAGE_CHOICES:
            raise ValueError(f"target_stage {value!r} is not one of {', '.join(STAGE_CHOICES)}")
        return value

    @field_validator("requester", "candidate_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def outcome_markdown(result: PromotionResult) -> str:
    o = result.outcome
    head = f"**{o.action.upper()}** `{o.candidate_id}` {o.from_stage.value} → {o.requested_stage.value}" + (
        " (manual override applied)" if o.override_applied else ""
    )
    gates = markdown_table(
        ["gate", "status", "reasons"],
        [(g.gate_id, g.status, ", ".join(g.reasons) or "—") for g in result.report.gates],
    )
    reasons = "\n".join(f"- `{r}`" for r in o.reason_codes)
    return f"{head}\n\npolicy `{result.report.policy_checksum[:16]}…`\n\n{gates}\n\n**Reasons**\n{reasons}\n"


def approval_note(result: PromotionResult) -> str:
    """What a denied run tells its operator about the approval it carried (single use)."""
    if result.approval_spent is not None:
        return (
            f". Approval {result.approval_spent} is spent by this denied promotion (single use means "
            "single presentation): promoting again needs a fresh approval"
        )
    if result.approval_spent_by is not None:
        return f". The approval was {result.approval_spent_by.describe()}: promoting needs a fresh approval"
    return ""


@dg.op(description="Evaluate gates 0–7 for the candidate and advance it at most one stage (fail closed).")
def evaluate_and_promote(
    context: dg.OpExecutionContext,
    config: PromotionConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    governance: GovernanceResource,
    alerts: AlertsResource,
) -> dg.Output[str]:
    now = dt.datetime.now(dt.UTC)
    try:
        result = run_promotion(
            config,
            ledger=ledger,
            market_data=market_data,
            research_settings=research_settings,
            governance=governance,
            now=now,
            run_id=context.run_id,
        )
    except PromotionRefusedError as exc:
        raise dg.Failure(description=f"promotion refused: {exc}") from exc
    sent = alerts.send(ledger, denial_alerts(result, config.requester), context.log)
    metadata: dict[str, Any] = {
        "decision": result.outcome.action.value,
        "candidate_id": result.outcome.candidate_id,
        "from_stage": result.outcome.from_stage.value,
        "requested_stage": result.outcome.requested_stage.value,
        "reason_codes": dg.MetadataValue.json(list(result.outcome.reason_codes)),
        "blocking_gates": dg.MetadataValue.json(list(result.outcome.blocking_gates)),
        "gate_evaluation_id": result.gate_evaluation["id"],
        "promotion_row_id": result.promotion["id"],
        "policy_checksum": result.report.policy_checksum,
        "approval": result.approval_reason or "none presented",
        **({"approval_spent": result.approval_spent} if result.approval_spent else {}),
        **(
            {"approval_spent_by": dg.MetadataValue.json(result.approval_spent_by.as_dict())}
            if result.approval_spent_by is not None
            else {}
        ),
        **(
            {"approval_signed_by": dg.MetadataValue.json(signed_by)}
            if (signed_by := (result.promotion.get("evidence_bundle") or {}).get("approval"))
            else {}
        ),
        "auto_frozen": result.frozen,
        "summary": dg.MetadataValue.md(outcome_markdown(result)),
        **{f"artifact_{k}": dg.MetadataValue.path(v) for k, v in result.artifacts.items()},
        **alert_metadata(sent),
    }
    if not result.outcome.allowed:
        raise dg.Failure(
            description=f"promotion denied for {result.outcome.candidate_id} → "
            f"{result.outcome.requested_stage.value}: {', '.join(result.outcome.reason_codes)}"
            + approval_note(result),
            metadata=metadata,
        )
    return dg.Output(result.promotion["id"], metadata=metadata)


@dg.job(
    description="Promote one research candidate one stage, with gates, caps and an optional signed approval.",
    tags={"torghut/pipeline": "promotion", "torghut/ledger_heavy": "governance", **GOVERNANCE_POD.tag()},
)
def promotion_job() -> None:
    evaluate_and_promote()


__all__ = ["PromotionConfig", "promotion_job"]
