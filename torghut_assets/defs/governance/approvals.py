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
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain import approvals
from torghut_assets.services.approvals import ApprovalRefusedError, mint_recorded, recent_approvals, refuse


class ApprovalConfig(dg.Config):
    candidate_id: str = Field(description="the candidate this approval is for")
    target_stage: str = Field(description="paper | live_l1 | live_l2 | live_l3: the only stage it unlocks")
    approver: str = Field(description="accountable human, e.g. an email")
    approver_role: str = Field(description="risk_officer (paper) or head_of_trading (any stage)")
    reason: str = Field(description="why the gates' verdict is being overridden")
    symbols: list[str] = Field(default_factory=list, description="symbols in scope (informational)")
    expires_in_hours: float = Field(default=24.0, description="validity, at most 24 h")


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
    now = dt.datetime.now(dt.UTC)
    if not governance.hmac_allowed:
        message = (
            "minting approvals from the Launchpad is dev only: in production each approver signs with "
            "their own key (torghut-assets approve --key …, docs/approvals.md)"
        )
        refuse(ledger.engine, config, message, now)
        raise dg.Failure(description=f"approval refused: {message}")
    secret, secret_source = governance.secret()
    try:
        record, token, reviewed = mint_recorded(
            ledger.engine, config, secret=secret, policy_checksum=governance.policy().checksum(), now=now
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
            "token_file": dg.MetadataValue.path(str(token_file)),
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
