"""`approval_overrides`: mint an HMAC-signed, scoped, expiring, single-use approval — `dev` only (§10.3).

In production approvals are signed by each approver's own Ed25519 key on their own machine
(`torghut-assets approve --key …`, docs/approvals.md) and this asset refuses to run. In `dev` it mints
an HMAC approval bound to the candidate, the target stage, the current gate policy checksum and the
gate evaluation the approver reviewed (source `launchpad_dev`). The token is never written into
Dagster's metadata or logs: it goes to a 0600 file under `$DAGSTER_HOME/approval_tokens/`, and the
materialization shows the approval id and that path. The ledger keeps only the token's sha256. Refused
requests are recorded in the evidence chain.
"""

import datetime as dt
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain import approvals
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import approval_store, schema
from torghut_assets.ledger.evidence_log import append_entry

MAX_TTL_HOURS = 24.0


class ApprovalRefusedError(ValueError):
    """The approval cannot be minted; the message says why."""


class ApprovalConfig(dg.Config):
    candidate_id: str = Field(description="the candidate this approval is for")
    target_stage: str = Field(description="paper | live_l1 | live_l2 | live_l3: the only stage it unlocks")
    approver: str = Field(description="accountable human, e.g. an email")
    approver_role: str = Field(description="risk_officer (paper) or head_of_trading (any stage)")
    reason: str = Field(description="why the gates' verdict is being overridden")
    symbols: list[str] = Field(default_factory=list, description="symbols in scope (informational)")
    expires_in_hours: float = Field(default=24.0, description="validity, at most 24 h")


def latest_gate_evaluation(
    conn: Connection, candidate_id: str, policy_checksum: str
) -> dict[str, Any] | None:
    t = schema.gate_evaluations
    row = (
        conn.execute(
            sa.select(t.c.id, t.c.promotion_target, t.c.reasons, t.c.evaluated_at)
            .where(t.c.candidate_id == candidate_id, t.c.policy_checksum == policy_checksum)
            .order_by(t.c.evaluated_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def mint_approval(
    conn: Connection,
    config: ApprovalConfig,
    *,
    secret: bytes,
    policy_checksum: str,
    now: dt.datetime,
    source: str = approvals.SOURCE_LAUNCHPAD_DEV,
) -> tuple[approvals.ApprovalRecord, str, dict[str, Any]]:
    """Create and store the record; returns (record, token, reviewed gate evaluation)."""
    problems = []
    try:
        stage = Stage(config.target_stage)
    except ValueError:
        stage = None
        problems.append(f"target_stage {config.target_stage!r} is not a stage")
    if stage == Stage.SHADOW:
        problems.append("shadow needs no approval")
    if config.approver_role not in approvals.ALLOWED_ROLES:
        problems.append(
            f"role {config.approver_role!r} may not approve (allowed: {sorted(approvals.ALLOWED_ROLES)})"
        )
    elif (
        stage is not None
        and approvals.is_live_mode(stage.value)
        and config.approver_role not in approvals.LIVE_ROLES
    ):
        problems.append(f"role {config.approver_role!r} may not approve a live stage")
    if not 0 < config.expires_in_hours <= MAX_TTL_HOURS:
        problems.append(f"expires_in_hours must be in (0, {MAX_TTL_HOURS:g}]")
    candidates = schema.research_candidates
    known = conn.execute(
        sa.select(candidates.c.candidate_id).where(candidates.c.candidate_id == config.candidate_id)
    ).first()
    if known is None:
        problems.append(f"no research candidate {config.candidate_id!r}")
    reviewed = latest_gate_evaluation(conn, config.candidate_id, policy_checksum)
    if known is not None and reviewed is None:
        problems.append(
            f"no gate evaluation of {config.candidate_id} under the current policy: run promotion_job first, "
            "so the approval names the evaluation it overrides"
        )
    if problems:
        raise ApprovalRefusedError("; ".join(problems))
    assert stage is not None and reviewed is not None
    created = now.replace(microsecond=0)
    try:
        record = approvals.new_record(
            candidate_id=config.candidate_id,
            target_mode=stage.value,
            symbols=tuple(sorted({s.strip().upper() for s in config.symbols if s.strip()})),
            approver=config.approver.strip(),
            approver_role=config.approver_role,
            reason=config.reason.strip(),
            policy_checksum=policy_checksum,
            gate_evaluation_id=str(reviewed["id"]),
            now=created,
            ttl=dt.timedelta(hours=config.expires_in_hours),
        )
        token = approvals.mint_token(record, secret)
    except ValueError as exc:
        raise ApprovalRefusedError(str(exc)) from exc
    approval_store.insert_override(conn, record, token, source=source)
    append_entry(
        conn,
        entry_kind="approval_override",
        subject=record.override_id,
        content={
            **record.payload(),
            "token_sha256": approval_store.token_digest(token),
            "scheme": approvals.SCHEME_HMAC,
            "source": source,
        },
        recorded_at=now,
    )
    return record, token, reviewed


def record_approval_refusal(conn: Connection, config: ApprovalConfig, message: str, now: dt.datetime) -> None:
    append_entry(
        conn,
        entry_kind="approval_refused",
        subject=config.candidate_id[:128] or "unknown",
        content={
            "candidate_id": config.candidate_id,
            "target_stage": config.target_stage,
            "approver": config.approver,
            "approver_role": config.approver_role,
            "error": message,
            "at": now,
        },
        recorded_at=now,
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
        with ledger.transaction() as conn:
            record_approval_refusal(conn, config, message, now)
        raise dg.Failure(description=f"approval refused: {message}")
    secret, secret_source = governance.secret()
    try:
        with ledger.transaction() as conn:
            record, token, reviewed = mint_approval(
                conn, config, secret=secret, policy_checksum=governance.policy().checksum(), now=now
            )
    except ApprovalRefusedError as exc:
        with ledger.transaction() as conn:
            record_approval_refusal(conn, config, str(exc), now)
        raise dg.Failure(description=f"approval refused: {exc}") from exc
    with ledger.read() as conn:
        recent = approval_store.list_overrides(conn, limit=20)
    table = markdown_table(
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
