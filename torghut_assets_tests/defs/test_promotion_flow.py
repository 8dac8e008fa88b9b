"""Promotion end to end, on SQLite and PostgreSQL: gates, approvals, continuity, rollback, evidence.

One researched lane window (macd_rsi, Tuesday 2026-03-03 15:00 UTC) with passing route parity and fresh
readiness drills; the live ramp is enabled in the test's policy file (it is off in the shipped one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from torghut_assets.defs.governance.rollback import RollbackConfig, rollback_job
from torghut_assets.domain.continuity import ContinuityState
from torghut_assets.domain.signed_approvals import signature_part
from torghut_assets.ledger import route_controls
from torghut_assets.ledger.continuity_store import save_state
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets.services.promotion import PromotionRefusedError
from torghut_assets.services.rollback import run_rollback
from torghut_assets.services.trade_planning import entry_block
from torghut_assets_tests.defs.governance_harness import (
    APPROVER_KEYS,
    LANE,
    MALLORY,
    GovernedLedger,
    build_governed_ledger,
    launch_promotion,
    verdict_metadata,
)


@pytest.fixture(scope="module")
def governed_ledger(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> GovernedLedger:
    return build_governed_ledger(module_ledger_url, tmp_path_factory.mktemp("governed"))


@pytest.fixture
def ledger(governed_ledger: GovernedLedger) -> Iterator[GovernedLedger]:
    governed_ledger.reset()
    yield governed_ledger
    governed_ledger.reset()


def _at_paper(ledger: GovernedLedger) -> str:
    champion = ledger.candidates[0]
    assert ledger.promote(champion, "paper").outcome.allowed
    return champion


def test_shadow_to_paper_with_passing_gates_advances_and_records_everything(ledger: GovernedLedger) -> None:
    champion = ledger.candidates[0]
    result = ledger.promote(champion, "paper")
    assert result.outcome.action == "promote", result.outcome.reason_codes
    assert result.report.promotion_allowed and all(g.passed for g in result.report.gates)
    (transition,) = ledger.rows("rollout_transitions")
    assert (transition["from_stage"], transition["to_stage"], transition["status"]) == (
        "shadow",
        "paper",
        "passed",
    )
    (evaluation,) = ledger.rows("gate_evaluations", candidate_id=champion)
    assert evaluation["report_json"]["policy_checksum"] == evaluation["policy_checksum"]
    (promotion,) = ledger.rows("research_promotions", candidate_id=champion, decision_action="promote")
    assert promotion["approved_mode"] == "paper" and promotion["deny_reason"] is None
    assert promotion["gate_evaluation_id"] == evaluation["id"]
    assert promotion["paper_candidate_patch_ref"].endswith(".yaml")
    assert ledger.lifecycle(champion) == ("champion", "active")
    assert ledger.evidence_kinds() == ["gate_evaluation", "promotion_decision", "rollout_transition"]


def test_every_gate_report_carries_policy_checksum_code_version_and_artifact_refs(
    ledger: GovernedLedger,
) -> None:
    result = ledger.promote(ledger.candidates[0], "paper")
    report = result.gate_evaluation["report_json"]
    assert {"policy_checksum", "code_version", "evaluated_at", "gates", "provenance"} <= set(report)
    assert Path(result.artifacts["gate_evaluation"]).exists()
    assert Path(result.artifacts["profitability_evidence"]).exists()
    assert report["promotion_evidence"]["schema_version"] == "profitability-evidence-v4"


def test_paper_to_live_is_denied_without_an_approval(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    result = ledger.promote(champion, "live")
    assert result.outcome.action == "deny"
    assert "approval_required_for_live" in result.outcome.reason_codes
    assert "gate5_live_ramp_readiness:approval_token_missing" in result.outcome.reason_codes
    denied = ledger.rows(
        "research_promotions", candidate_id=champion, decision_action="deny", approver="torghut_gates"
    )
    assert len(denied) == 1 and denied[0]["approved_mode"] is None and denied[0]["deny_reason"]
    assert len(ledger.rows("rollout_transitions")) == 1
    assert ledger.evidence_kinds()[-2:] == ["gate_evaluation", "promotion_decision"]


def test_paper_to_live_with_a_valid_token_advances_one_stage_and_consumes_it(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")  # the denial the approver reviews
    approval, token = ledger.approve(champion, "live_l1")
    assert ledger.rows("approval_overrides", override_id=approval.approval_id) == []  # minted offline
    result = ledger.promote(champion, "live", token=token)
    assert result.outcome.action == "promote", result.outcome.reason_codes
    assert result.outcome.approved_stage is not None and result.outcome.approved_stage.value == "live_l1"
    (override,) = ledger.rows("approval_overrides", override_id=approval.approval_id)
    (use,) = ledger.rows("approval_uses", override_id=approval.approval_id)
    assert use["used_at"] is not None and use["used_by_promotion_id"] == result.promotion["id"]
    approvers_checksum = ledger.governance().approvers().checksum
    assert (override["scheme"], override["source"], override["key_id"], override["approvers_checksum"]) == (
        "ed25519_v2",
        "cli",
        approval.key_id,
        approvers_checksum,
    )
    assert override["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert (
        result.promotion["approver"] == "cio@torghut"
        and result.promotion["approver_role"] == "head_of_trading"
        and result.promotion["override_id"] == approval.approval_id
    )
    bundle = result.promotion["evidence_bundle"]
    assert bundle["approvers_checksum"] == approvers_checksum
    assert bundle["approval"] == {
        "scheme": "ed25519_v2",
        "source": "cli",
        "approver": "cio@torghut",
        "approver_role": "head_of_trading",
        "approvers_checksum": approvers_checksum,
        "key_id": approval.key_id,
    }
    assert token not in str(override) and signature_part(token) not in str(result.promotion)


def test_a_replayed_token_is_refused_and_the_refusal_recorded(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    _, token = ledger.approve(champion, "live_l1")
    assert ledger.promote(champion, "live", token=token).outcome.allowed
    run_rollback(  # the lane's only champion: the lane goes flat
        RollbackConfig(lane=LANE, actor="oncall@torghut", reason="drill"),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    _at_paper(ledger)
    replay = ledger.promote(champion, "live", token=token)
    assert replay.outcome.action == "deny" and "approval_replayed" in replay.outcome.reason_codes
    assert replay.promotion["evidence_bundle"]["approval_verdict"] == "approval_replayed"


def test_a_forged_token_is_refused(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    _, token = ledger.approve(champion, "live_l1")
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    result = ledger.promote(champion, "live", token=forged)
    assert result.outcome.action == "deny" and "approval_signature_invalid" in result.outcome.reason_codes


def test_a_token_signed_with_another_persons_key_is_refused(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    _, token = ledger.approve(champion, "live_l1", key=APPROVER_KEYS[MALLORY])  # names cio, signed by mallory
    result = ledger.promote(champion, "live", token=token)
    assert result.outcome.action == "deny"
    assert "approval_key_not_registered_for_approver" in result.outcome.reason_codes


def test_in_dev_an_hmac_token_signed_with_another_secret_is_refused(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    _, token = ledger.approve_hmac(champion, "live_l1")
    result = ledger.promote(
        champion, "live", token=token, approval_secret="another-secret-of-sufficient-length-1234"
    )
    assert "approval_signature_invalid" in result.outcome.reason_codes


def test_in_dev_a_launchpad_hmac_token_still_promotes_and_records_its_source(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    record, token = ledger.approve_hmac(champion, "live_l1")
    result = ledger.promote(champion, "live", token=token)
    assert result.outcome.allowed, result.outcome.reason_codes
    (override,) = ledger.rows("approval_overrides", override_id=record.override_id)
    assert (override["scheme"], override["source"]) == ("hmac_v1", "launchpad_dev")
    assert result.promotion["evidence_bundle"]["approval"]["source"] == "launchpad_dev"


def test_production_refuses_an_hmac_token_even_one_signed_with_the_right_secret(
    ledger: GovernedLedger,
) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    record, token = ledger.approve_hmac(champion, "live_l1")
    result = ledger.promote(champion, "live", token=token, profile="production")
    assert result.outcome.action == "deny"
    assert "approval_hmac_refused_in_production" in result.outcome.reason_codes
    assert ledger.rows("approval_uses", override_id=record.override_id) == []


def test_an_expired_token_is_refused(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    _, token = ledger.approve(champion, "live_l1", now=two_hours_ago, hours=1)
    result = ledger.promote(champion, "live", token=token)
    assert result.outcome.action == "deny" and "approval_expired" in result.outcome.reason_codes


def test_a_token_scoped_to_another_stage_is_refused(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    _, token = ledger.approve(champion, "live_l2")
    result = ledger.promote(champion, "live", token=token)
    assert "approval_wrong_mode" in result.outcome.reason_codes


def test_a_token_scoped_to_another_candidate_is_refused(ledger: GovernedLedger) -> None:
    champion, other = ledger.candidates[0], ledger.candidates[1]
    ledger.promote(other, "paper")
    _, token = ledger.approve(other, "paper", role="risk_officer")
    _at_paper(ledger)
    ledger.promote(champion, "live")
    result = ledger.promote(champion, "live", token=token)
    assert "approval_wrong_candidate" in result.outcome.reason_codes


def _latch_continuity(ledger: GovernedLedger, latched: bool) -> None:
    since = pd.Timestamp("2026-03-03 16:00", tz="UTC")
    state = (
        ContinuityState(lane=LANE, alert_active=True, alert_reason="no_signals_in_window", alert_since=since)
        if latched
        else ContinuityState(lane=LANE)
    )
    engine = ledger.engine()
    with engine.begin() as conn:
        save_state(conn, state, [], since.to_pydatetime())
    engine.dispose()


def test_live_promotion_is_refused_while_the_continuity_alert_is_latched(ledger: GovernedLedger) -> None:
    """The denial spends the approval (single use means single presentation): its token sits in the
    denied run's config, so once the latch clears it must not promote; a fresh approval does."""
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    record, token = ledger.approve(champion, "live_l1")
    _latch_continuity(ledger, True)
    result = ledger.promote(champion, "live", token=token)
    assert result.outcome.action == "deny"
    assert "signal_continuity_alert_latched" in result.outcome.hard_blocks
    assert result.approval_reason == "approval_valid" and result.approval_spent == record.override_id
    (spent,) = ledger.rows("approval_uses", override_id=record.override_id)
    assert (spent["used_by_promotion_id"], spent["used_outcome"]) == (result.promotion["id"], "deny")
    _latch_continuity(ledger, False)
    replay = ledger.promote(champion, "live", token=token)
    assert replay.outcome.action == "deny" and replay.approval_reason == "approval_replayed"
    assert replay.approval_spent_by is not None
    assert (replay.approval_spent_by.promotion_id, replay.approval_spent_by.outcome) == (
        result.promotion["id"],
        "deny",
    )
    _, fresh = ledger.approve(champion, "live_l1")
    assert ledger.promote(champion, "live", token=fresh).outcome.allowed


def test_a_denied_promotion_spends_its_approval(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    approval, token = ledger.approve(champion, "live_l2")
    denied = ledger.promote(champion, "live_l2", token=token)  # paper → live_l2 skips a stage
    assert denied.outcome.action == "deny" and denied.approval_reason == "approval_valid"
    (spent,) = ledger.rows("approval_uses", override_id=approval.approval_id)
    assert spent["used_at"] is not None
    assert (spent["used_by_promotion_id"], spent["used_outcome"]) == (denied.promotion["id"], "deny")
    (row,) = ledger.rows("research_promotions", id=denied.promotion["id"])
    assert row["decision_action"] == "deny" and row["override_id"] == approval.approval_id
    assert row["approver"] == "torghut_gates"  # spent, but it approved nothing
    assert row["evidence_bundle"]["approval_spent"] is True
    assert row["evidence_bundle"]["approval"]["approver"] == "cio@torghut"


def test_the_replay_after_a_denial_is_refused_naming_the_earlier_outcome(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    approval, token = ledger.approve(champion, "live_l2")
    denied = ledger.promote(champion, "live_l2", token=token)  # paper → live_l2 skips a stage
    assert denied.outcome.action == "deny" and denied.approval_spent == approval.approval_id
    _, step = ledger.approve(champion, "live_l1")
    assert ledger.promote(champion, "live_l1", token=step).outcome.allowed
    replay = ledger.promote(champion, "live_l2", token=token)  # live_l2 is now the next step
    assert replay.outcome.action == "deny" and "approval_replayed" in replay.outcome.reason_codes
    assert replay.approval_spent is None and replay.transition is None
    bundle = replay.promotion["evidence_bundle"]
    assert bundle["approval_verdict"] == "approval_replayed" and bundle["approval_spent"] is False
    assert (bundle["approval_spent_by"]["promotion_id"], bundle["approval_spent_by"]["outcome"]) == (
        denied.promotion["id"],
        "deny",
    )
    (spent,) = ledger.rows("approval_uses", override_id=approval.approval_id)
    assert spent["used_by_promotion_id"] == denied.promotion["id"]  # the replay changed nothing
    _, fresh = ledger.approve(champion, "live_l2")
    assert ledger.promote(champion, "live_l2", token=fresh).approval_reason == "approval_valid"


def test_an_invalid_token_is_not_spent(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    approval, token = ledger.approve(champion, "live_l1")
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    expired, stale = ledger.approve(
        champion, "live_l1", now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3), hours=1
    )
    for hostile, reason in ((forged, "approval_signature_invalid"), (stale, "approval_expired")):
        refused = ledger.promote(champion, "live", token=hostile)
        assert refused.outcome.action == "deny" and refused.approval_reason == reason
        assert refused.approval_spent is None
        assert reason in refused.promotion["evidence_bundle"]["approval_verdict"]  # the refusal recorded
    assert ledger.rows("approval_overrides", override_id=approval.approval_id) == []
    assert ledger.rows("approval_overrides", override_id=expired.approval_id) == []
    used = ledger.promote(champion, "live", token=token)  # the genuine approval was not burnt
    assert used.outcome.allowed and used.approval_spent == approval.approval_id


def test_the_kill_switch_blocks_promotion_even_with_a_valid_approval(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    _, token = ledger.approve(champion, "live_l1")
    engine = ledger.engine()
    with engine.begin() as conn:
        route_controls.record_control(
            conn,
            control=route_controls.TRADING_KILL_SWITCH,
            enabled=True,
            reason="incident 4411",
            operator="oncall@torghut",
            source="test",
            at=dt.datetime.now(dt.UTC),
        )
    engine.dispose()
    result = ledger.promote(champion, "live", token=token)
    assert result.outcome.action == "deny" and "kill_switch_active" in result.outcome.hard_blocks
    assert result.approval_spent is not None  # presented once: spent, though it lifted nothing


def test_a_threshold_failure_is_lifted_only_by_a_scoped_approval(ledger: GovernedLedger) -> None:
    champion = ledger.candidates[0]
    strict = ledger.root / "strict.toml"
    shipped = (ledger.root / "gates-live-enabled.toml").read_text(encoding="utf-8")
    strict.write_text(shipped.replace("max_turnover = 8.0", "max_turnover = 0.5"), encoding="utf-8")
    denied = ledger.promote(champion, "paper", policy_path=str(strict))
    assert (
        denied.outcome.action == "deny"
        and "gate2_risk_capacity:turnover_exceeds_max" in denied.outcome.reason_codes
    )
    engine = ledger.engine()
    from torghut_assets.defs.governance.approvals import ApprovalConfig
    from torghut_assets.services.approvals import mint_approval

    with engine.begin() as conn:
        _, token, _ = mint_approval(
            conn,
            ApprovalConfig(
                candidate_id=champion,
                target_stage="paper",
                approver="risk@torghut",
                approver_role="risk_officer",
                reason="turnover limit under review; paper only",
            ),
            secret=b"test-approval-secret-7d1c9e0a5b3f4e2d8c6a",
            policy_checksum=ledger.governance(policy_path=str(strict)).policy().checksum(),
            now=dt.datetime.now(dt.UTC),
        )
    engine.dispose()
    allowed = ledger.promote(champion, "paper", token=token, policy_path=str(strict))
    assert allowed.outcome.action == "promote" and allowed.outcome.override_applied
    assert "manual_override_applied" in allowed.outcome.reason_codes


def test_three_consecutive_denies_freeze_the_candidate(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    for _ in range(3):
        assert not ledger.promote(champion, "live").outcome.allowed
    assert ledger.lifecycle(champion)[1] == "paused"
    assert "candidate_frozen" in ledger.evidence_kinds()
    _, token = ledger.approve(champion, "live_l1")
    result = ledger.promote(champion, "live", token=token)
    assert result.outcome.allowed and "candidate_paused_for_review" in result.outcome.reason_codes


def test_rollback_restores_the_previous_champion_with_evidence(ledger: GovernedLedger) -> None:
    first, challenger = ledger.candidates[0], ledger.candidates[1]
    _at_paper(ledger)
    replaced = ledger.promote(challenger, "paper")
    if not replaced.outcome.allowed:  # a weaker challenger needs the risk officer's override
        _, token = ledger.approve(challenger, "paper", role="risk_officer")
        replaced = ledger.promote(challenger, "paper", token=token)
    assert replaced.outcome.allowed, replaced.outcome.reason_codes
    assert ledger.lifecycle(first)[1] == "standby"
    result = run_rollback(
        RollbackConfig(
            lane=LANE, actor="oncall@torghut", reason="challenger slippage", trigger="risk_breach"
        ),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    assert result["before"]["candidate_id"] == challenger and result["after"]["candidate_id"] == first
    assert ledger.lifecycle(first)[0] == "champion"
    (incident,) = ledger.rows("rollback_incidents")
    assert incident["trigger"] == "risk_breach" and len(incident["evidence_hash"]) == 64
    assert incident["before_state"]["candidate_id"] == challenger
    assert incident["verification"]["incident_evidence_complete"] is True
    demotes = ledger.rows("research_promotions", candidate_id=challenger, decision_action="demote")
    assert demotes and demotes[-1]["rollback_candidate_id"] == first
    assert ledger.evidence_kinds()[-1] == "lane_rollback"


def test_a_halted_lane_refuses_new_entries_and_promotions(ledger: GovernedLedger) -> None:
    champion = _at_paper(ledger)
    run_rollback(
        RollbackConfig(lane=LANE, action="halt", actor="oncall@torghut", reason="fills diverging"),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    engine = ledger.engine()
    with engine.connect() as conn:
        block = entry_block(conn, LANE)
    engine.dispose()
    assert block is not None and block.reason == "lane_halted"
    _, token = ledger.approve(champion, "live_l1")
    assert "lane_halted" in ledger.promote(champion, "live", token=token).outcome.hard_blocks
    assert len(ledger.rows("rollback_incidents")) == 1


def test_an_unknown_candidate_is_refused_and_recorded(ledger: GovernedLedger) -> None:
    with pytest.raises(PromotionRefusedError, match="no research candidate 'cand-doesnotexist'"):
        ledger.promote("cand-doesnotexist", "paper")
    assert ledger.evidence_kinds() == ["promotion_refused"]


def test_the_evidence_chain_verifies_after_a_promotion_and_a_rollback(ledger: GovernedLedger) -> None:
    _at_paper(ledger)
    run_rollback(
        RollbackConfig(lane=LANE, actor="oncall@torghut", reason="drill"),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    engine = ledger.engine()
    with engine.connect() as conn:
        result = verify_chain(conn, recompute=live_recompute(conn))
    engine.dispose()
    assert result.ok, result.breaks[:3]


def test_promotion_job_records_a_deny_as_a_verdict_naming_the_refused_step(ledger: GovernedLedger) -> None:
    config = {"candidate_id": ledger.candidates[0], "target_stage": "live_l1", "requester": "quant"}
    result = launch_promotion(ledger.resources(), config)
    assert result.success
    metadata = verdict_metadata(result)
    assert metadata["decision"].startswith("DENY:") and "stage_not_next_step" in metadata["reason_codes"]
    assert len(ledger.rows("research_promotions", decision_action="deny", approver="torghut_gates")) == 1


def test_promotion_and_rollback_jobs_succeed_from_launchpad_config(ledger: GovernedLedger) -> None:
    config = {"candidate_id": ledger.candidates[0], "target_stage": "paper", "requester": "quant"}
    promoted = launch_promotion(ledger.resources(), config, raise_on_error=True)
    assert promoted.success
    rolled = rollback_job.execute_in_process(
        run_config={
            "ops": {"apply_rollback": {"config": {"lane": LANE, "actor": "oncall", "reason": "drill"}}}
        },
        resources={"ledger": ledger.resources()["ledger"], "alerts": ledger.resources()["alerts"]},
    )
    assert rolled.success
    assert [t["transition_type"] for t in ledger.rows("rollout_transitions")] == ["advance", "rollback"]


def test_in_dev_the_approval_asset_writes_the_token_to_a_private_file_never_into_metadata(
    ledger: GovernedLedger,
) -> None:
    from torghut_assets.defs.governance.approvals import approval_overrides

    champion = _at_paper(ledger)
    ledger.promote(champion, "live")

    def mint(role: str, **governance: object) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [approval_overrides],
            resources=ledger.resources(**governance),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
            run_config={
                "ops": {
                    "approval_overrides": {
                        "config": {
                            "candidate_id": champion,
                            "target_stage": "live_l1",
                            "approver": "cio@torghut",
                            "approver_role": role,
                            "reason": "reviewed",
                        }
                    }
                }
            },
        )

    refused = mint("risk_officer")
    assert not refused.success and "approval_refused" in ledger.evidence_kinds()
    minted = mint("head_of_trading")
    metadata = minted.asset_materializations_for_node("approval_overrides")[0].metadata
    assert "token" not in metadata and metadata["source"].value == "launchpad_dev"
    token_file = Path(str(metadata["token_file"].value))
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text(encoding="utf-8").strip()
    assert token.startswith("wpat-") and token_file.name == f"{metadata['override_id'].value}.token"
    events = [dg.serialize_value(e) for e in minted.all_events]
    assert not [e for e in events if token in e or token.rpartition(".")[2] in e]
    assert ledger.promote(champion, "live", token=token).outcome.allowed


def test_in_production_the_launchpad_approval_asset_refuses_to_mint(ledger: GovernedLedger) -> None:
    from torghut_assets.defs.governance.approvals import approval_overrides

    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    refused = dg.materialize(
        [approval_overrides],
        resources=ledger.resources(profile="production"),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={
            "ops": {
                "approval_overrides": {
                    "config": {
                        "candidate_id": champion,
                        "target_stage": "live_l1",
                        "approver": "cio@torghut",
                        "approver_role": "head_of_trading",
                        "reason": "reviewed",
                    }
                }
            }
        },
    )
    assert not refused.success
    failure = refused.failure_data_for_node("approval_overrides")
    assert failure is not None and "dev only" in str(failure.error)
    assert ledger.rows("approval_overrides") == [] and "approval_refused" in ledger.evidence_kinds()


def test_a_promoted_champion_drives_the_lanes_decisions_within_stage_caps(ledger: GovernedLedger) -> None:
    from torghut_assets.domain.lanes import LaneWindow
    from torghut_assets.services.trade_planning import active_strategy

    champion = _at_paper(ledger)
    ledger.promote(champion, "live")
    _, token = ledger.approve(champion, "live_l1")
    assert ledger.promote(champion, "live", token=token).outcome.allowed
    (candidate,) = ledger.rows("research_candidates", candidate_id=champion)
    later = LaneWindow(LANE, pd.Timestamp.now(tz="UTC").floor("h") + pd.Timedelta(hours=1))
    earlier = LaneWindow(LANE, pd.Timestamp("2026-03-03 15:00", tz="UTC"))
    engine = ledger.engine()
    with engine.connect() as conn:
        spec, lane, stage = active_strategy(conn, later)
        _, _, old_stage = active_strategy(conn, earlier)
    engine.dispose()
    assert stage is not None and stage.value == "live_l1"
    assert spec.parameter_set()["params"] == candidate["parameter_set"]["params"]
    assert (lane.max_gross_notional, lane.max_open_positions) == (5_000.0, 3)
    assert old_stage is None  # a replay of a window before the promotion trades what it traded then
