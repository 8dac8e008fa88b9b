"""Approvals: mint a dev HMAC approval, verify a presented token, and spend it on the decision it meets.

Why here: the Launchpad's `approval_overrides` asset and the CLI's `torghut-assets approve` mint the same
record with the same checks, and the promotion use case verifies and spends through the same functions,
so what "a valid, single-use approval" means is written once.

Two kinds exist (docs/approvals.md). An Ed25519 approval (`tav2.…`) is signed on the approver's own
machine and verified against the approvers file; the server cannot mint one. An HMAC approval (`wpat-…`)
is a `dev` convenience minted here and refused in production. Single use means single presentation: a
verified approval is spent by the promotion decision it accompanies, allowed or denied; a token that
fails verification is not spent (it was never a valid approval). No token is ever recorded: the ledger
keeps its sha256, the approval id, approver, role, source, signing key id and approvers-file checksum.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol

from sqlalchemy.engine import Connection, Engine

from torghut_assets.domain import approvals, signed_approvals
from torghut_assets.domain.gates import GatePolicy
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import approval_store, promotion_records
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.services.governance_config import Governance, GovernanceConfigError

MAX_TTL_HOURS = 24.0

Row = dict[str, Any]


class ApprovalRefusedError(ValueError):
    """The approval cannot be minted; the message says why."""


class ApprovalRequest(Protocol):
    """What an approver asks to mint (`RequestedApproval`, built by the CLI and by the Launchpad's
    `ApprovalConfig.request()`, is one)."""

    @property
    def candidate_id(self) -> str: ...

    @property
    def target_stage(self) -> str: ...

    @property
    def approver(self) -> str: ...

    @property
    def approver_role(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def symbols(self) -> Sequence[str]: ...

    @property
    def expires_in_hours(self) -> float: ...


@dataclass(frozen=True)
class RequestedApproval:
    candidate_id: str
    target_stage: str
    approver: str
    approver_role: str
    reason: str
    symbols: Sequence[str] = field(default_factory=tuple)
    expires_in_hours: float = 24.0


class MintedApproval(NamedTuple):
    """The stored record, its token (hand it to the approver, never to a log) and the gate evaluation it
    overrides."""

    record: approvals.ApprovalRecord
    token: str
    reviewed_gate_evaluation: Row


@dataclass(frozen=True)
class PresentedApproval:
    """A presented token's verdict; for an Ed25519 approval, the verified approval and the checksum of
    the approvers file that judged it. Holds no token."""

    verdict: approvals.ApprovalVerdict
    signed: signed_approvals.SignedApproval | None = None
    approvers_checksum: str | None = None


@dataclass(frozen=True)
class Spend:
    """What presenting a verified approval to a decision did: `spent` names the approval this decision
    spent (with the promotion id its use records), else the verdict says why it could not be."""

    verdict: approvals.ApprovalVerdict | None
    spent: str | None = None
    promotion_id: str | None = None
    lost_race: bool = False  # verified, but a concurrent decision spent it first: now a replay


# --- minting (dev HMAC) ----------------------------------------------------------------------------


def _request_problems(request: ApprovalRequest) -> tuple[Stage | None, list[str]]:
    problems = []
    try:
        stage: Stage | None = Stage(request.target_stage)
    except ValueError:
        stage = None
        problems.append(f"target_stage {request.target_stage!r} is not a stage")
    if stage == Stage.SHADOW:
        problems.append("shadow needs no approval")
    if request.approver_role not in approvals.ALLOWED_ROLES:
        problems.append(
            f"role {request.approver_role!r} may not approve (allowed: {sorted(approvals.ALLOWED_ROLES)})"
        )
    elif (
        stage is not None
        and approvals.is_live_mode(stage.value)
        and request.approver_role not in approvals.LIVE_ROLES
    ):
        problems.append(f"role {request.approver_role!r} may not approve a live stage")
    if not 0 < request.expires_in_hours <= MAX_TTL_HOURS:
        problems.append(f"expires_in_hours must be in (0, {MAX_TTL_HOURS:g}]")
    return stage, problems


def _reviewed_evaluation(
    conn: Connection, candidate_id: str, policy_checksum: str, problems: list[str]
) -> Row | None:
    """The gate evaluation the approval overrides: the candidate's latest under the current policy."""
    if not promotion_records.candidate_rows(conn, [candidate_id]):
        problems.append(f"no research candidate {candidate_id!r}")
        return None
    reviewed = promotion_records.latest_gate_evaluation(conn, candidate_id, policy_checksum)
    if reviewed is None:
        problems.append(
            f"no gate evaluation of {candidate_id} under the current policy: run promotion_job first, "
            "so the approval names the evaluation it overrides"
        )
    return reviewed


def mint_approval(
    conn: Connection,
    request: ApprovalRequest,
    *,
    secret: bytes,
    policy_checksum: str,
    now: dt.datetime,
    source: str = approvals.SOURCE_LAUNCHPAD_DEV,
) -> MintedApproval:
    """Create and store an HMAC record bound to the candidate, stage, policy and reviewed evaluation;
    raises ApprovalRefusedError naming every problem."""
    stage, problems = _request_problems(request)
    reviewed = _reviewed_evaluation(conn, request.candidate_id, policy_checksum, problems)
    if problems:
        raise ApprovalRefusedError("; ".join(problems))
    assert stage is not None and reviewed is not None
    try:
        record = approvals.new_record(
            candidate_id=request.candidate_id,
            target_mode=stage.value,
            symbols=tuple(sorted({s.strip().upper() for s in request.symbols if s.strip()})),
            approver=request.approver.strip(),
            approver_role=request.approver_role,
            reason=request.reason.strip(),
            policy_checksum=policy_checksum,
            gate_evaluation_id=str(reviewed["id"]),
            now=now.replace(microsecond=0),
            ttl=dt.timedelta(hours=request.expires_in_hours),
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
    return MintedApproval(record, token, reviewed)


def record_approval_refusal(
    conn: Connection, request: ApprovalRequest, message: str, now: dt.datetime
) -> None:
    append_entry(
        conn,
        entry_kind="approval_refused",
        subject=request.candidate_id[:128] or "unknown",
        content={
            "candidate_id": request.candidate_id,
            "target_stage": request.target_stage,
            "approver": request.approver,
            "approver_role": request.approver_role,
            "error": message,
            "at": now,
        },
        recorded_at=now,
    )


def mint_recorded(
    engine: Engine,
    request: ApprovalRequest,
    *,
    secret: bytes,
    policy_checksum: str,
    now: dt.datetime,
    source: str = approvals.SOURCE_LAUNCHPAD_DEV,
) -> MintedApproval:
    """Mint in one transaction; a refusal (ApprovalRefusedError) is recorded in the evidence chain in
    another, then raised."""
    try:
        with engine.begin() as conn:
            return mint_approval(
                conn, request, secret=secret, policy_checksum=policy_checksum, now=now, source=source
            )
    except ApprovalRefusedError as exc:
        refuse(engine, request, str(exc), now)
        raise


def mint_dev_approval(
    engine: Engine, request: ApprovalRequest, *, governance: Governance, now: dt.datetime, source: str
) -> tuple[MintedApproval, str]:
    """The CLI's dev minting: (approval, where its secret came from). A secret or policy that cannot be
    used (GovernanceConfigError) is a refusal too, recorded like any other."""
    try:
        secret, secret_source = governance.secret()
        policy_checksum = governance.policy().checksum()
    except GovernanceConfigError as exc:
        refuse(engine, request, str(exc), now)
        raise
    minted = mint_recorded(
        engine, request, secret=secret, policy_checksum=policy_checksum, now=now, source=source
    )
    return minted, secret_source


def refuse(engine: Engine, request: ApprovalRequest, message: str, now: dt.datetime) -> None:
    """Record a refused request in its own transaction."""
    with engine.begin() as conn:
        record_approval_refusal(conn, request, message, now)


def recent_approvals(engine: Engine, limit: int = 20) -> list[Row]:
    with engine.connect() as conn:
        return approval_store.list_overrides(conn, limit=limit)


# --- verifying a presented token -------------------------------------------------------------------


def _check_signed(
    conn: Connection,
    token: str,
    *,
    governance: Governance,
    candidate_id: str,
    stage: Stage,
    policy: GatePolicy,
    now: dt.datetime,
) -> PresentedApproval:
    try:
        registry: signed_approvals.Approvers | None = governance.approvers()
    except GovernanceConfigError:
        registry = None  # every token refused: approval_approvers_file_unavailable
    claimed = signed_approvals.claimed_approval_id(token)
    used: dict[str, approvals.ApprovalUse | None] = {}
    if claimed is not None and approval_store.seen(conn, claimed):
        used[claimed] = approval_store.use_of(conn, claimed)
    check = signed_approvals.verify_signed_token(
        token,
        approvers=registry,
        candidate_id=candidate_id,
        target_stage=stage.value,
        now=now,
        used_approval_ids=used,
        policy_checksum=policy.checksum(),
    )
    return PresentedApproval(check.verdict, check.approval, check.approvers_checksum)


def _check_hmac(
    conn: Connection,
    token: str,
    *,
    governance: Governance,
    candidate_id: str,
    stage: Stage,
    policy: GatePolicy,
    now: dt.datetime,
) -> PresentedApproval:
    parsed = approvals.parse_token(token)
    if not governance.hmac_allowed:
        reason = approvals.APPROVAL_HMAC_REFUSED if parsed else approvals.APPROVAL_TOKEN_MALFORMED
        return PresentedApproval(approvals.ApprovalVerdict(False, reason, parsed[0] if parsed else None))
    try:
        secret, _ = governance.secret()
    except GovernanceConfigError:
        secret = b""
    found = approval_store.load_record(conn, parsed[0]) if parsed else None
    used_ids: dict[str, approvals.ApprovalUse | None] = {}
    if found is not None and found[1] is not None:
        used_ids[found[0].override_id] = approval_store.use_of(conn, found[0].override_id)

    def lookup(override_id: str) -> approvals.ApprovalRecord | None:
        return found[0] if found is not None and found[0].override_id == override_id else None

    verdict = approvals.verify_token(
        token,
        secret=secret,
        record_lookup=lookup,
        candidate_id=candidate_id,
        target_mode=stage.value,
        policy_checksum=policy.checksum(),
        now=now,
        used_override_ids=used_ids,
    )
    if verdict.valid and verdict.override_id:
        verdict = replace(verdict, provenance=approval_store.provenance_of(conn, verdict.override_id))
    return PresentedApproval(verdict)


def check_approval(
    conn: Connection,
    token: str | None,
    *,
    governance: Governance,
    candidate_id: str,
    stage: Stage,
    policy: GatePolicy,
    now: dt.datetime,
) -> PresentedApproval | None:
    """Verify a presented token (None when none, or a blank one, was presented); never raises on
    hostile text: a refusal is a verdict with its reason code."""
    if token is None or not token.strip():
        return None
    token = token.strip()
    check = _check_signed if token.startswith(signed_approvals.TOKEN_PREFIX) else _check_hmac
    return check(
        conn, token, governance=governance, candidate_id=candidate_id, stage=stage, policy=policy, now=now
    )


def verify_approval(
    conn: Connection,
    token: str | None,
    *,
    governance: Governance,
    candidate_id: str,
    stage: Stage,
    policy: GatePolicy,
    now: dt.datetime,
) -> approvals.ApprovalVerdict | None:
    presented = check_approval(
        conn, token, governance=governance, candidate_id=candidate_id, stage=stage, policy=policy, now=now
    )
    return None if presented is None else presented.verdict


# --- spending it -----------------------------------------------------------------------------------


def spend(
    conn: Connection,
    presented: PresentedApproval | None,
    token: str | None,
    *,
    allowed: bool,
    gate_evaluation_id: str,
    policy_checksum: str,
    now: dt.datetime,
) -> Spend:
    """Spend a verified approval on the decision it accompanies (allowed or denied), inside the
    decision's transaction. When a concurrent decision spent it first, the verdict becomes a replay
    naming that decision (and the caller decides again)."""
    verdict = None if presented is None else presented.verdict
    if presented is None or verdict is None or not verdict.valid or not verdict.override_id:
        return Spend(verdict)
    assert token is not None
    promotion_id = str(uuid.uuid4())
    used_outcome = approvals.ApprovalUseOutcome.ALLOWED if allowed else approvals.ApprovalUseOutcome.DENIED
    if presented.signed is not None:
        spent_ok = approval_store.record_signed_use(
            conn,
            presented.signed,
            token.strip(),
            promotion_id=promotion_id,
            outcome=used_outcome,
            gate_evaluation_id=gate_evaluation_id,
            policy_checksum=policy_checksum,
            approvers_checksum=presented.approvers_checksum or "",
            at=now,
        )
    else:
        spent_ok = approval_store.consume(
            conn, verdict.override_id, promotion_id=promotion_id, outcome=used_outcome, at=now
        )
    if spent_ok:
        return Spend(verdict, spent=verdict.override_id, promotion_id=promotion_id)
    replayed = replace(
        verdict,
        valid=False,
        reason=approvals.APPROVAL_REPLAYED,
        spent_by=approval_store.use_of(conn, verdict.override_id),
    )
    return Spend(replayed, lost_race=True)
