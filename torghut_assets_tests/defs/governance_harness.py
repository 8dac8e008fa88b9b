"""A ledger with one researched lane window, passing parity and fresh readiness drills, and helpers to
promote, approve and roll back in it. Governance rows are wiped between tests; research rows stay.

Approvals are Ed25519-signed by default (the production path): the harness registers three approvers
with fixed test-only keys in an approvers file next to the ledger. `approve_hmac` mints the dev-only
HMAC kind."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.governance.approvals import ApprovalConfig
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.governance.operational_readiness import operational_readiness
from torghut_assets.defs.governance.promotion import PromotionConfig, promotion_decision, promotion_job
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.launchpad import ApprovalStage, ApproverRole, TargetStage
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.defs.routing.route_parity import route_parity
from torghut_assets.domain import signed_approvals
from torghut_assets.domain.approvals import ApprovalRecord
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.ledger import promotion_records, schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.approvals import mint_approval
from torghut_assets.services.promotion import PromotionResult, run_promotion
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window, resources

LANE = "macd_rsi"
SECRET = "test-approval-secret-7d1c9e0a5b3f4e2d8c6a"
APPROVERS_FILE = "approvers.toml"
CIO, RISK, MALLORY = "cio@torghut", "risk@torghut", "mallory@torghut"
# Test-only keys (fixed seeds, so every copy of a governed ledger shares them). Never used outside tests.
APPROVER_KEYS = {
    name: signed_approvals.Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32)
    for i, name in enumerate((CIO, RISK, MALLORY), start=1)
}
APPROVER_ROLES = {
    CIO: ("head_of_trading", "risk_officer"),
    RISK: ("risk_officer",),
    MALLORY: ("risk_officer",),
}
UNREGISTERED_KEY = signed_approvals.Ed25519PrivateKey.from_private_bytes(bytes([99]) * 32)


def approvers_toml(
    roles: dict[str, tuple[str, ...]] | None = None, *, version: int = 1, extra: str = ""
) -> str:
    blocks = [
        signed_approvals.approver_block(name, signed_approvals.public_key_bytes(APPROVER_KEYS[name]), r)
        for name, r in (roles or APPROVER_ROLES).items()
    ]
    return f"version = {version}\n\n" + "\n".join(blocks) + extra


def sign_approval(
    candidate_id: str,
    stage: str,
    *,
    approver: str = CIO,
    role: str = "head_of_trading",
    key: signed_approvals.Ed25519PrivateKey | None = None,
    now: dt.datetime | None = None,
    hours: float = 24.0,
    reason: str = "paper period reviewed by the investment committee",
    policy_checksum: str | None = None,
) -> tuple[signed_approvals.SignedApproval, str]:
    """What `torghut-assets approve --key` does, with the approver's (or `key`'s) private key."""
    signer = key or APPROVER_KEYS[approver]
    approval = signed_approvals.new_signed_approval(
        candidate_id=candidate_id,
        target_stage=stage,
        approver=approver,
        approver_role=role,
        reason=reason,
        public_key=signed_approvals.public_key_bytes(signer),
        now=now or dt.datetime.now(dt.UTC),
        ttl=dt.timedelta(hours=hours),
        policy_checksum=policy_checksum,
    )
    return approval, signed_approvals.sign(approval, signer)


PARITY_WINDOWS = [pd.Timestamp(f"2026-03-03 {h}:00", tz="UTC") for h in (14, 16, 17, 18, 19, 20)]
GOVERNANCE_TABLES = (
    "rollout_transitions",
    "gate_evaluations",
    "approval_uses",
    "approval_overrides",
    "candidate_lifecycle_events",
    "rollback_incidents",
    "route_control_events",
    "continuity_state",
    "alert_deliveries",
)


@dataclass
class GovernedLedger:
    url: str
    root: Path
    evidence_seq: int
    candidates: list[str]  # by mean fold net pnl, best first

    def resources(self, **governance: Any) -> dict[str, Any]:
        return {**resources(self.url, self.root / "artifacts"), "governance": self.governance(**governance)}

    def governance(self, **overrides: Any) -> GovernanceResource:
        approvers = self.root / APPROVERS_FILE
        if not approvers.exists():
            approvers.write_text(approvers_toml(), encoding="utf-8")
        settings: dict[str, Any] = {
            "policy_path": str(self.root / "gates-live-enabled.toml"),
            "approvers_path": str(approvers),
            "approval_secret": SECRET,
            "dagster_home": str(self.root),
        }
        return GovernanceResource(**{**settings, **overrides})

    def engine(self) -> sa.Engine:
        return create_ledger_engine(self.url)

    def promote(
        self, candidate_id: str, stage: str, token: str | None = None, **governance: Any
    ) -> PromotionResult:
        res = self.resources(**governance)
        return run_promotion(
            PromotionConfig(
                candidate_id=candidate_id,
                target_stage=TargetStage(stage),
                requester="quant@torghut",
                approval_token=token,
            ),
            ledger=res["ledger"],
            market_data=res["market_data"],
            research_settings=res["research_settings"],
            governance=res["governance"],
            now=dt.datetime.now(dt.UTC),
        )

    def approve(
        self,
        candidate_id: str,
        stage: str,
        *,
        role: str = "head_of_trading",
        now: dt.datetime | None = None,
        hours: float = 24.0,
        approver: str = CIO,
        key: signed_approvals.Ed25519PrivateKey | None = None,
    ) -> tuple[signed_approvals.SignedApproval, str]:
        """An Ed25519 approval signed by `approver`'s key (or `key`), as the CLI signs it offline."""
        return sign_approval(candidate_id, stage, approver=approver, role=role, key=key, now=now, hours=hours)

    def approve_hmac(
        self,
        candidate_id: str,
        stage: str,
        *,
        role: str = "head_of_trading",
        now: dt.datetime | None = None,
        hours: float = 24.0,
    ) -> tuple[ApprovalRecord, str]:
        """dev only: an HMAC approval stored in the ledger when minted (as the Launchpad mints it)."""
        config = ApprovalConfig(
            candidate_id=candidate_id,
            target_stage=ApprovalStage(stage),
            approver="cio@torghut",
            approver_role=ApproverRole(role),
            reason="paper period reviewed by the investment committee",
            expires_in_hours=hours,
        )
        engine = self.engine()
        try:
            with engine.begin() as conn:
                record, token, _ = mint_approval(
                    conn,
                    config.request(),
                    secret=SECRET.encode(),
                    policy_checksum=self.governance().policy().checksum(),
                    now=now or dt.datetime.now(dt.UTC),
                )
        finally:
            engine.dispose()
        return record, token

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        t = schema.metadata.tables[table]
        query = sa.select(t).where(*(t.c[k] == v for k, v in where.items()))
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(query).mappings()]
        finally:
            engine.dispose()

    def lifecycle(self, candidate_id: str) -> tuple[str, str]:
        """The candidate's (role, status) now: its latest lifecycle event (the candidate row is never
        updated)."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return promotion_records.current_lifecycles(conn, [candidate_id])[candidate_id]
        finally:
            engine.dispose()

    def evidence_kinds(self) -> list[str]:
        t = schema.evidence_log
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [
                    str(r[0])
                    for r in conn.execute(
                        sa.select(t.c.entry_kind).where(t.c.seq > self.evidence_seq).order_by(t.c.seq)
                    )
                ]
        finally:
            engine.dispose()

    def reset(self) -> None:
        """Drop everything governance wrote since setup (research rows and drills stay)."""
        engine = self.engine()
        try:
            with engine.begin() as conn:
                for name in GOVERNANCE_TABLES:
                    conn.execute(schema.metadata.tables[name].delete())
                promotions = schema.research_promotions
                conn.execute(promotions.delete().where(promotions.c.approver_role != SCHEDULER_ROLE))
                conn.execute(
                    schema.evidence_log.delete().where(schema.evidence_log.c.seq > self.evidence_seq)
                )
        finally:
            engine.dispose()


def resolved_promotion_job(resources: dict[str, Any] | None = None) -> dg.JobDefinition:
    """`promotion_job` as the code location resolves it (an asset job needs its assets to run)."""
    defaults: dict[str, Any] = {
        "ledger": LedgerResource(),
        "market_data": MarketDataResource(),
        "research_settings": ResearchResource(),
        "governance": GovernanceResource(),
        "alerts": AlertsResource(),
    }
    defs = dg.Definitions(
        assets=[promotion_decision], jobs=[promotion_job], resources={**defaults, **(resources or {})}
    )
    return defs.resolve_job_def("promotion_job")


def promotion_run_config(config: dict[str, Any]) -> dict[str, Any]:
    """The run config the Launchpad sends: the request is `promotion_decision`'s config."""
    return {"ops": {"promotion_decision": {"config": config}}}


def launch_promotion(
    resources: dict[str, Any], config: dict[str, Any], *, raise_on_error: bool = False
) -> dg.ExecuteInProcessResult:
    """Run `promotion_job` with a Launchpad config, as the UI launches it."""
    return resolved_promotion_job(resources).execute_in_process(
        run_config=promotion_run_config(config),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def verdict_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The `promotion_decision` materialization's metadata values, in recorded order."""
    (materialization,) = result.asset_materializations_for_node("promotion_decision")
    return {k: v.value for k, v in materialization.metadata.items()}


def live_enabled_policy(path: Path) -> None:
    shipped = (Path(__file__).parents[2] / "torghut_assets" / "policy" / "gates.toml").read_text(
        encoding="utf-8"
    )
    path.write_text(
        shipped.replace("live_rollout_enabled = false", "live_rollout_enabled = true"), encoding="utf-8"
    )


def pass_parity_and_drills(ledger: GovernedLedger) -> None:
    """Route parity over the stored decisions, and fresh readiness drills with a named runbook reviewer."""
    res = ledger.resources()
    dg.materialize([route_parity], resources=res, instance=dg.DagsterInstance.ephemeral())
    dg.materialize(
        [operational_readiness],
        resources=res,
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"operational_readiness": {"config": {"runbook_reviewed_by": "oncall@torghut"}}}},
    )


def build_governed_ledger(url: str, root: Path) -> GovernedLedger:
    live_enabled_policy(root / "gates-live-enabled.toml")
    artifacts = root / "artifacts"
    base = resources(url, artifacts)
    for lane in (LANE, "ema_trend"):
        for start in PARITY_WINDOWS:
            dg.materialize(
                [signals, trade_decisions],
                partition_key=lane_window_key(lane, start),
                resources=base,
                instance=dg.DagsterInstance.ephemeral(),
            )
    materialize_window(url, artifacts, LANE, OPEN_WINDOW)
    governed = GovernedLedger(url=url, root=root, evidence_seq=0, candidates=[])
    pass_parity_and_drills(governed)
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            governed.evidence_seq = int(
                conn.execute(sa.select(sa.func.max(schema.evidence_log.c.seq))).scalar_one()
            )
            folds = conn.execute(
                sa.select(schema.research_fold_metrics.c.candidate_id, schema.research_fold_metrics.c.net_pnl)
            ).all()
    finally:
        engine.dispose()
    means: dict[str, list[float]] = {}
    for cid, net in folds:
        means.setdefault(str(cid), []).append(float(net))
    governed.candidates = sorted(means, key=lambda c: (-sum(means[c]) / len(means[c]), c))
    return governed
