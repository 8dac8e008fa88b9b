"""`promotion_decision` (launched as `promotion_job`): judge one candidate on gates 0–7 and advance it
at most one stage, recording the verdict.

A denied promotion is a verdict, not a failure: DENY and ALLOW are both successful materializations of
`promotion_decision`, whose first metadata entry is the gate table (each gate's figure against its policy
limit, and for a failing reason its cause and fix; `domain/gate_findings.py`). The run fails only when
there is no verdict to record: known-bad Launchpad input (a blank field, refused before anything is read
or written; a misspelled stage, refused by Dagster at launch), a request the service refuses
(`PromotionRefusedError`: unknown candidate, no next live stage, a lane changed concurrently), or a
database error. The use case is `services/promotion.py` (judge, decide, record, chain evidence, spend a
presented approval). A denied live promotion still pages (`denial_alerts`).

Single use means single presentation. The approval token sits in this job's run config, which Dagster
keeps, so an approval that verifies is spent by the promotion decision it accompanies whether that
promotion is allowed or denied (a denied run succeeds, recording DENY, and still spends it); presented
again, it is refused `approval_replayed`, naming that promotion and its outcome. What is recorded is the
approval id, approver, role, source, signing key id and approvers-file checksum — never the token.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.launchpad import LaunchpadRefusal, TargetStage, required_text
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.alerts import DeliveryReport
from torghut_assets.domain.gate_findings import FindingStatus, GateFinding, failed_gate_count
from torghut_assets.services.promotion import (
    PromotionRefusedError,
    PromotionResult,
    denial_alerts,
    run_promotion,
)

GATE_TABLE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("gate", "string", description="gate id, or `decision` for the promotion rules"),
        dg.TableColumn("status", "string", description="PASS or FAIL"),
        dg.TableColumn("figure", "string", description="what the evidence shows"),
        dg.TableColumn("limit", "string", description="the policy threshold (gates.toml key)"),
        dg.TableColumn("cause", "string", description="why it failed, in one sentence"),
        dg.TableColumn("fix", "string", description="the setting, evidence or job that would fix it"),
    ]
)
READ_ASSETS = (
    "research_candidates",
    "research_promotions",
    "operational_readiness",
    "route_parity",
    "signal_continuity",
)
"""What a promotion reads, declared so the lineage shows it (the ledger rows each asset writes)."""


class PromotionConfig(dg.Config):
    candidate_id: str = Field(description="research candidate id, e.g. cand-<run>-<hash>")
    target_stage: TargetStage = Field(
        description="paper | live_l1 | live_l2 | live_l3 ('live' = the candidate's next live stage)"
    )
    requester: str = Field(description="who asks; recorded on the promotion row")
    approval_token: str | None = Field(
        default=None,
        description="tav2.… token from `torghut-assets approve --key` (dev: also a wpat-… HMAC token)",
    )
    reason: str = Field(default="", description="why now; recorded with the transition")


@dataclass(frozen=True)
class LaunchpadPromotion:
    """The Launchpad's request with its texts checked and trimmed (a `PromotionRequest`)."""

    candidate_id: str
    target_stage: str
    requester: str
    approval_token: str | None
    reason: str

    @classmethod
    def from_config(cls, config: PromotionConfig) -> "LaunchpadPromotion":
        """Refuses a blank candidate id or requester with one sentence naming the field."""
        return cls(
            candidate_id=required_text("candidate_id", config.candidate_id),
            target_stage=TargetStage(config.target_stage).value,
            requester=required_text("requester", config.requester),
            approval_token=(config.approval_token or "").strip() or None,
            reason=config.reason.strip(),
        )


def verdict_line(result: PromotionResult) -> str:
    """`DENY: macd_rsi cand-… shadow → paper — 3 gates failed`: the decision in one line."""
    o = result.outcome
    failed = failed_gate_count(result.findings)
    if o.allowed:
        tail = f"manual override of {failed} failed gates" if o.override_applied else "all gates passed"
    else:
        tail = f"{failed} gate{'s' if failed != 1 else ''} failed"
    lane = result.promotion.get("lane", "")
    return (
        f"{'ALLOW' if o.allowed else 'DENY'}: {lane} {o.candidate_id} "
        f"{o.from_stage.value} → {o.requested_stage.value} — {tail}"
    )


def gate_table(findings: tuple[GateFinding, ...]) -> dg.MetadataValue:
    """The findings as a table Dagster draws inline on the run log and the asset page, failures first: the
    run log shows only the top of a long entry until it is expanded, and that is where the cause belongs."""
    findings = tuple(sorted(findings, key=lambda f: f.status != FindingStatus.FAIL))
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                data={
                    "gate": f.gate,
                    "status": f.status.value,
                    "figure": f.figure,
                    "limit": f.limit,
                    "cause": f.cause,
                    "fix": f.fix,
                }
            )
            for f in findings
        ],
        schema=GATE_TABLE_SCHEMA,
    )


def summary_markdown(result: PromotionResult) -> str:
    """A short summary (kept under Dagster's inline limit: the detail is in the gate table)."""
    failing = [f for f in result.findings if f.status == FindingStatus.FAIL]
    lines = [f"**{verdict_line(result)}**", ""]
    if failing:
        lines.append(
            markdown_table(
                ["gate", "reason"], [(f.gate.split("_", 1)[0], f"`{f.code}`") for f in failing[:8]]
            )
        )
        if len(failing) > 8:
            lines.append(f"\n…and {len(failing) - 8} more in the gate table.")
    lines.append(f"\npolicy `{result.report.policy_checksum[:16]}…`")
    return "\n".join(lines)


def approval_note(result: PromotionResult) -> str:
    """What the verdict tells its operator about the approval it carried (single use)."""
    if result.approval_spent is not None and not result.outcome.allowed:
        return (
            f"approval {result.approval_spent} is spent by this denied promotion (single use means "
            "single presentation): promoting again needs a fresh approval"
        )
    if result.approval_spent is not None:
        return f"approval {result.approval_spent} is spent by this promotion"
    if result.approval_spent_by is not None:
        return f"the approval was {result.approval_spent_by.describe()}: promoting needs a fresh approval"
    return ""


def verdict_metadata(result: PromotionResult, ledger: LedgerResource, sent: DeliveryReport) -> dict[str, Any]:
    """The verdict's metadata, the gate table first."""
    o = result.outcome
    signed_by = (result.promotion.get("evidence_bundle") or {}).get("approval")
    return {
        "gates": gate_table(result.findings),
        "decision": dg.MetadataValue.text(verdict_line(result)),
        "candidate_id": o.candidate_id,
        "from_stage": o.from_stage.value,
        "requested_stage": o.requested_stage.value,
        "reason_codes": dg.MetadataValue.json(list(o.reason_codes)),
        "blocking_gates": dg.MetadataValue.json(list(o.blocking_gates)),
        "gate_evaluation_id": str(result.gate_evaluation["id"]),
        "promotion_row_id": str(result.promotion["id"]),
        "policy_checksum": result.report.policy_checksum,
        "approval": result.approval_reason or "none presented",
        **({"approval_note": note} if (note := approval_note(result)) else {}),
        **({"approval_spent": result.approval_spent} if result.approval_spent else {}),
        **(
            {"approval_spent_by": dg.MetadataValue.json(result.approval_spent_by.as_dict())}
            if result.approval_spent_by is not None
            else {}
        ),
        **({"approval_signed_by": dg.MetadataValue.json(signed_by)} if signed_by else {}),
        "auto_frozen": result.frozen,
        # Artifacts are content-addressed (`kind/<sha256>.<suffix>`), so the file name is the digest.
        **{
            f"artifact_{k}": ledger.artifact_link({"path": v, "sha256": Path(v).stem})
            for k, v in result.artifacts.items()
        },
        "summary": dg.MetadataValue.md(summary_markdown(result)),
        **alert_metadata(sent),
    }


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    deps=list(READ_ASSETS),
    description="The latest promotion verdict: gates 0–7 judged for one candidate, ALLOW or DENY with each "
    "gate's figure, limit, cause and fix; an allowed candidate advances one stage.",
)
def promotion_decision(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    governance: GovernanceResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    request = LaunchpadPromotion.from_config(config)  # refuses blank fields before anything is read
    try:
        result = run_promotion(
            request,
            ledger=ledger,
            market_data=market_data,
            research_settings=research_settings,
            governance=governance,
            now=dt.datetime.now(dt.UTC),
            run_id=context.run_id,
        )
    except PromotionRefusedError as exc:  # recorded in the evidence chain by the service
        raise LaunchpadRefusal(f"Promotion refused: {exc}.") from exc
    sent = alerts.send(ledger, denial_alerts(result, request.requester), context.log)
    context.log.info(verdict_line(result))
    return dg.MaterializeResult(metadata=verdict_metadata(result, ledger, sent))


promotion_job = dg.define_asset_job(
    "promotion_job",
    selection=[promotion_decision],
    description="Promote one research candidate one stage, with gates, caps and an optional signed "
    "approval; a deny is a recorded verdict, not a failed run.",
    tags={"torghut/pipeline": "promotion", "torghut/ledger_heavy": "governance", **GOVERNANCE_POD.tag()},
)


__all__ = ["PromotionConfig", "promotion_decision", "promotion_job"]
