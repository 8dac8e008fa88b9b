"""`approval_overrides`: mint an HMAC-signed, scoped, expiring, single-use approval — `dev` only
(docs/approvals.md, "Sources").

In production approvals are signed by each approver's own Ed25519 key on their own machine
(`torghut-assets approve --key …`, docs/approvals.md) and this asset refuses to run. In `dev` it mints
an HMAC approval bound to the candidate, the target stage, the current gate policy checksum and the
gate evaluation the approver reviewed (source `launchpad_dev`). The token is never written into
Dagster's metadata or logs: it goes to a 0600 file under `$DAGSTER_HOME/approval_tokens/`, and the
materialization shows the approval id and that path. The ledger keeps only the token's sha256. Refused
requests are recorded in the evidence chain. Minting, its checks and the refusal record are
`services/approvals.py`, shared with `torghut-assets approve`.
"""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field

from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.launchpad import ApprovalStage, ApproverRole, required_text, ticker
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain import approvals
from torghut_assets.services.approvals import (
    ApprovalRefusedError,
    RequestedApproval,
    mint_recorded,
    recent_approvals,
    refuse,
)


class ApprovalConfig(dg.Config):
    """The Launchpad form of an approval: stage and role are enums Dagster checks at launch; the texts
    are checked by `request()`, the step's first act, before anything is read or written."""

    candidate_id: str = Field(description="the candidate this approval is for, e.g. cand-3f9a0c2b71de-1")
    target_stage: ApprovalStage = Field(
        description="the only stage it unlocks: paper, live_l1, live_l2, live_l3"
    )
    approver: str = Field(description="accountable human, e.g. an email (required)")
    approver_role: ApproverRole = Field(
        description="risk_officer (paper only) or head_of_trading (any stage)"
    )
    reason: str = Field(description="why the gates' verdict is being overridden (required)")
    symbols: list[str] = Field(
        default_factory=list, description="symbols in scope, e.g. AAPL (informational)"
    )
    expires_in_hours: float = Field(default=24.0, description="validity, at most 24 h")

    def request(self) -> RequestedApproval:
        """The approval the service mints: enum values as the ledger stores them, texts stripped; a blank
        candidate, approver or reason, or a symbol that is not one, is refused with one sentence."""
        return RequestedApproval(
            candidate_id=required_text("candidate_id", self.candidate_id),
            target_stage=self.target_stage.value,
            approver=required_text("approver", self.approver),
            approver_role=self.approver_role.value,
            reason=required_text("reason", self.reason),
            symbols=tuple(ticker("symbols", symbol.upper()) for symbol in self.symbols),
            expires_in_hours=self.expires_in_hours,
        )


def _recent_table(recent: list[dict[str, Any]]) -> str:
    return markdown_table(
        ["override", "candidate", "stage", "approver", "role", "expires", "used"],
        [
            (
                r["override_id"],
                r["candidate_id"],
                (r["scope"] or {}).get("target_mode"),
                r["approver"],
                r["approver_role"],
                str(r["expires_at"]),
                "yes" if r["used_at"] else "no",
            )
            for r in recent
        ],
    )


@dg.asset(
    group_name="governance",
    deps=["research_candidates", "research_promotions"],
    kinds={"sql"},
    description="dev only: mint an HMAC-signed, scoped, expiring, single-use approval (token to a 0600 "
    "file under $DAGSTER_HOME; production approvers sign with `torghut-assets approve --key`).",
)
def approval_overrides(
    context: dg.AssetExecutionContext,
    config: ApprovalConfig,
    ledger: LedgerResource,
    governance: GovernanceResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    request = config.request()
    now = dt.datetime.now(dt.UTC)
    if not governance.hmac_allowed:
        message = (
            "minting approvals from the Launchpad is dev only: in production each approver signs with "
            "their own key (torghut-assets approve --key …, docs/approvals.md)"
        )
        refuse(ledger.engine, request, message, now)
        raise dg.Failure(description=f"approval refused: {message}")
    secret, secret_source = governance.secret()
    try:
        record, token, reviewed = mint_recorded(
            ledger.engine, request, secret=secret, policy_checksum=governance.policy().checksum(), now=now
        )
    except ApprovalRefusedError as exc:  # recorded in the evidence chain by the service
        raise dg.Failure(description=f"approval refused: {exc}") from exc
    recent = recent_approvals(ledger.engine, limit=20)
    table = _recent_table(recent)
    token_file = governance.deliver_dev_token(record.override_id, token)
    del token  # from here on only its file path travels: never into metadata or logs
    context.log.info(
        f"approval {record.override_id} minted for {record.candidate_id} → {record.scope.target_mode}; "
        f"token written to {token_file}"
    )
    return dg.MaterializeResult(
        metadata={
            "override_id": record.override_id,
            # a secret's file on the code location's host: named as text, never served as an artifact
            "token_file": dg.MetadataValue.text(str(token_file)),
            "source": approvals.SOURCE_LAUNCHPAD_DEV,
            "candidate_id": record.candidate_id,
            "target_stage": record.scope.target_mode,
            "expires_at": record.expires_at.isoformat(),
            "reviewed_gate_evaluation_id": str(reviewed["id"]),
            "secret_source": secret_source,
            "summary": dg.MetadataValue.md(
                f"Approval `{record.override_id}` by **{record.approver}** ({record.approver_role}) for "
                f"`{record.candidate_id}` → **{record.scope.target_mode}**, single use, expires "
                f"{record.expires_at.isoformat()}. The token is in `{token_file}` (mode 0600, dev only): "
                "pass its content as `approval_token` to promotion_job.\n\n" + table
            ),
        }
    )
