"""Hostile approval tokens are refused, on SQLite and PostgreSQL (issue 11, part 5).

The best candidate sits at paper (gates pass, live ramp enabled), so the only thing standing between it
and live_l1 is a valid approval. Every hostile attempt below goes through `run_promotion` and must:

- be denied, with the approval's refusal code on the promotion row (`evidence_bundle.approval_verdict`)
  and in the outcome's reason codes;
- be recorded in the evidence chain as a `promotion_decision` entry carrying that verdict;
- leave the approval unconsumed and the lane where it was (no rollout transition).

A genuine token in the same setup is accepted (the control), so the refusals are the token's doing.
Property tests then throw arbitrary text at `verify_token` and at the ledger-backed verification.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from torghut_assets.defs.approvals import ApprovalConfig, ApprovalRefusedError, mint_approval
from torghut_assets.defs.promotion import PromotionResult, _verify_approval
from torghut_assets.defs.rollback import RollbackConfig, run_rollback
from torghut_assets.domain import approvals
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import approval_store, schema
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets_tests.defs.governance_harness import LANE, SECRET, GovernedLedger
from torghut_assets_tests.reliability.governed_snapshot import BACKENDS, governed_copy

BASELINE_TABLES = (
    "rollout_transitions",
    "gate_evaluations",
    "approval_overrides",
    "rollback_incidents",
    "route_control_events",
    "continuity_state",
    "research_promotions",
)
ATTACKER_SECRET = b"attacker-guessed-secret-of-plenty-length-000"


@dataclass(frozen=True)
class Baseline:
    """The ledger with the champion promoted to paper: what every test starts from and returns to."""

    champion: str
    ids: dict[str, frozenset[str]]
    evidence_seq: int
    lifecycles: dict[str, tuple[str, str]]
    transitions: list[tuple[int, str, str]]


@pytest.fixture(scope="module", params=BACKENDS)
def governed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GovernedLedger]:
    yield from governed_copy(request, tmp_path_factory)


def _snapshot(ledger: GovernedLedger, champion: str) -> Baseline:
    engine = ledger.engine()
    try:
        with engine.connect() as conn:
            ids = {
                name: frozenset(
                    str(i) for i in conn.execute(sa.select(schema.metadata.tables[name].c.id)).scalars()
                )
                for name in BASELINE_TABLES
            }
            seq = int(conn.execute(sa.select(sa.func.max(schema.evidence_log.c.seq))).scalar_one())
            c = schema.research_candidates
            lifecycles = {
                str(r.candidate_id): (str(r.lifecycle_role), str(r.lifecycle_status))
                for r in conn.execute(sa.select(c.c.candidate_id, c.c.lifecycle_role, c.c.lifecycle_status))
            }
    finally:
        engine.dispose()
    return Baseline(champion, ids, seq, lifecycles, _transitions(ledger))


def _restore(ledger: GovernedLedger, baseline: Baseline) -> None:
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            for table in reversed(schema.metadata.sorted_tables):
                if table.name in baseline.ids:
                    conn.execute(table.delete().where(table.c.id.not_in(sorted(baseline.ids[table.name]))))
            conn.execute(
                schema.evidence_log.delete().where(schema.evidence_log.c.seq > baseline.evidence_seq)
            )
            c = schema.research_candidates
            for candidate_id, (role, status) in baseline.lifecycles.items():
                conn.execute(
                    c.update()
                    .where(c.c.candidate_id == candidate_id)
                    .values(lifecycle_role=role, lifecycle_status=status)
                )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def baseline(governed: GovernedLedger) -> Iterator[Baseline]:
    governed.reset()
    champion = governed.candidates[0]
    promoted = governed.promote(champion, "paper")
    assert promoted.outcome.allowed, promoted.outcome.reason_codes
    yield _snapshot(governed, champion)
    governed.reset()


@pytest.fixture
def ledger(governed: GovernedLedger, baseline: Baseline) -> Iterator[GovernedLedger]:
    _restore(governed, baseline)
    yield governed
    _restore(governed, baseline)


def _transitions(ledger: GovernedLedger) -> list[tuple[int, str, str]]:
    return sorted((t["seq"], t["transition_type"], t["to_stage"]) for t in ledger.rows("rollout_transitions"))


def _decision_entries(ledger: GovernedLedger, after_seq: int) -> dict[str, dict[str, Any]]:
    log = schema.evidence_log
    engine = ledger.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(log.c.content).where(
                    log.c.seq > after_seq, log.c.entry_kind == "promotion_decision"
                )
            ).scalars()
            return {str(content["id"]): content for content in rows}
    finally:
        engine.dispose()


def _latest_gate_evaluation_id(ledger: GovernedLedger, candidate_id: str) -> str:
    rows = ledger.rows("gate_evaluations", candidate_id=candidate_id)
    return str(max(rows, key=lambda r: r["evaluated_at"])["id"])


def _forge_record(
    ledger: GovernedLedger,
    *,
    candidate_id: str,
    target_mode: str,
    role: str,
    secret: bytes = SECRET.encode(),
    now: dt.datetime | None = None,
) -> tuple[approvals.ApprovalRecord, str]:
    """Write an approval row directly (bypassing `mint_approval`'s checks), signed with `secret`."""
    record = approvals.new_record(
        candidate_id=candidate_id,
        target_mode=target_mode,
        symbols=(),
        approver="insider@torghut",
        approver_role=role,
        reason="looks fine to me",
        policy_checksum=ledger.governance().policy().checksum(),
        gate_evaluation_id=_latest_gate_evaluation_id(ledger, candidate_id),
        now=(now or dt.datetime.now(dt.UTC)).replace(microsecond=0),
    )
    token = approvals.mint_token(record, secret)
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            approval_store.insert_override(conn, record, token)
    finally:
        engine.dispose()
    return record, token


def _attempt(ledger: GovernedLedger, token: str, **governance: Any) -> PromotionResult:
    return ledger.promote(ledger.candidates[0], "live", token=token, **governance)


def assert_refused(
    ledger: GovernedLedger,
    baseline: Baseline,
    result: PromotionResult,
    reason: str,
    override_id: str | None,
    *,
    transitions_before: list[tuple[int, str, str]] | None = None,
    consumed_by: str | None = None,
) -> None:
    """Denied with `reason` recorded on the row and in the chain; approval untouched; lane unmoved."""
    assert result.outcome.action == "deny" and result.transition is None
    assert result.approval_reason == reason
    assert reason in result.outcome.reason_codes, result.outcome.reason_codes
    (row,) = ledger.rows("research_promotions", id=result.promotion["id"])
    assert row["decision_action"] == "deny" and row["approved_mode"] is None
    assert row["evidence_bundle"]["approval_verdict"] == reason
    assert row["approver"] == "torghut_gates"  # no human approval was applied
    entries = _decision_entries(ledger, baseline.evidence_seq)
    assert entries[result.promotion["id"]]["evidence_bundle"]["approval_verdict"] == reason
    if override_id is not None:
        for stored in ledger.rows("approval_overrides", override_id=override_id):
            assert stored["used_by_promotion_id"] == consumed_by
            assert (stored["used_at"] is None) == (consumed_by is None)
    assert _transitions(ledger) == (transitions_before or baseline.transitions)
    engine = ledger.engine()
    try:
        with engine.connect() as conn:
            chain = verify_chain(conn)
    finally:
        engine.dispose()
    assert chain.ok, chain.breaks[:3]


# --- the control -------------------------------------------------------------------------------------


def test_a_genuine_token_in_the_same_setup_is_accepted(ledger: GovernedLedger) -> None:
    record, token = ledger.approve(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token)
    assert result.outcome.action == "promote", result.outcome.reason_codes
    (stored,) = ledger.rows("approval_overrides", override_id=record.override_id)
    assert stored["used_by_promotion_id"] == result.promotion["id"]


# --- forged signatures -------------------------------------------------------------------------------


def _flip_last_hex(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


@pytest.mark.parametrize(
    "forgery",
    ["altered_signature", "signed_with_a_guessed_secret", "signature_spliced_from_another_approval"],
)
def test_a_forged_signature_is_refused(ledger: GovernedLedger, baseline: Baseline, forgery: str) -> None:
    record, token = ledger.approve(ledger.candidates[0], "live_l1")
    if forgery == "altered_signature":
        hostile = _flip_last_hex(token)
    elif forgery == "signed_with_a_guessed_secret":
        hostile = approvals.mint_token(record, ATTACKER_SECRET)
    else:
        _, other = ledger.approve(ledger.candidates[0], "live_l2")
        hostile = f"{approvals.TOKEN_PREFIX}{record.override_id}.{other.rpartition('.')[2]}"
    assert_refused(
        ledger, baseline, _attempt(ledger, hostile), approvals.APPROVAL_SIGNATURE_INVALID, record.override_id
    )


def test_a_token_naming_no_stored_override_is_refused(ledger: GovernedLedger, baseline: Baseline) -> None:
    _, token = ledger.approve(ledger.candidates[0], "live_l1")
    invented = f"{approvals.TOKEN_PREFIX}wpao-{uuid.uuid4().hex[:24]}.{token.rpartition('.')[2]}"
    assert_refused(ledger, baseline, _attempt(ledger, invented), approvals.APPROVAL_UNKNOWN_OVERRIDE, None)


# --- validity window ---------------------------------------------------------------------------------


def test_an_expired_token_is_refused(ledger: GovernedLedger, baseline: Baseline) -> None:
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    record, token = ledger.approve(ledger.candidates[0], "live_l1", now=two_hours_ago, hours=1)
    assert_refused(ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_EXPIRED, record.override_id)


def test_a_token_minted_for_the_future_is_not_yet_valid(ledger: GovernedLedger, baseline: Baseline) -> None:
    in_an_hour = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    record, token = ledger.approve(ledger.candidates[0], "live_l1", now=in_an_hour)
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_NOT_YET_VALID, record.override_id
    )


# --- single use --------------------------------------------------------------------------------------


def test_a_replayed_token_is_refused_after_its_single_use(ledger: GovernedLedger, baseline: Baseline) -> None:
    record, token = ledger.approve(ledger.candidates[0], "live_l1")
    used = _attempt(ledger, token)
    assert used.outcome.allowed, used.outcome.reason_codes
    run_rollback(  # the lane's only champion: the lane goes flat, and the champion climbs back to paper
        RollbackConfig(lane=LANE, actor="oncall@torghut", reason="drill"),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    back = ledger.promote(ledger.candidates[0], "paper")
    assert back.outcome.allowed, back.outcome.reason_codes
    before = _transitions(ledger)
    assert_refused(
        ledger,
        baseline,
        _attempt(ledger, token),
        approvals.APPROVAL_REPLAYED,
        record.override_id,
        transitions_before=before,
        consumed_by=used.promotion["id"],
    )


# --- scope -------------------------------------------------------------------------------------------


def test_a_token_for_another_candidate_is_refused(ledger: GovernedLedger, baseline: Baseline) -> None:
    other = ledger.candidates[1]
    ledger.promote(other, "live_l1")  # the evaluation its approver reviews (denied: a stage skip)
    record, token = ledger.approve(other, "live_l1")
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_WRONG_CANDIDATE, record.override_id
    )


@pytest.mark.parametrize(("stage", "role"), [("live_l2", "head_of_trading"), ("paper", "risk_officer")])
def test_a_token_for_another_stage_is_refused(
    ledger: GovernedLedger, baseline: Baseline, stage: str, role: str
) -> None:
    record, token = ledger.approve(ledger.candidates[0], stage, role=role)
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_WRONG_MODE, record.override_id
    )


def test_a_correctly_signed_record_from_a_role_that_may_not_approve_live_is_refused(
    ledger: GovernedLedger, baseline: Baseline
) -> None:
    """`mint_approval` refuses a risk officer for a live stage, so the record is forged straight into
    `approval_overrides`, signed with the real secret: verification must refuse it on its own."""
    champion, role = ledger.candidates[0], approvals.ROLE_RISK_OFFICER
    engine = ledger.engine()
    with engine.begin() as conn, pytest.raises(ApprovalRefusedError, match=f"role {role!r} may not approve"):
        mint_approval(
            conn,
            ApprovalConfig(
                candidate_id=champion,
                target_stage="live_l1",
                approver="x@torghut",
                approver_role=role,
                reason="r",
            ),
            secret=SECRET.encode(),
            policy_checksum=ledger.governance().policy().checksum(),
            now=dt.datetime.now(dt.UTC),
        )
    engine.dispose()
    record, token = _forge_record(ledger, candidate_id=champion, target_mode="live_l1", role=role)
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_ROLE_NOT_ALLOWED, record.override_id
    )


# --- the stored record is what was signed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "tamper"),
    [
        pytest.param("reason", lambda row: "rubber stamp", id="reason"),
        pytest.param(  # resurrect an expired approval
            "expires_at", lambda row: row["expires_at"] + dt.timedelta(days=7), id="expires_at"
        ),
        pytest.param("scope", lambda row: {**row["scope"], "symbols": ["AAPL", "TSLA"]}, id="scope"),
    ],
)
def test_an_approval_edited_in_the_ledger_after_minting_is_refused(
    ledger: GovernedLedger, baseline: Baseline, column: str, tamper: Callable[[dict[str, Any]], Any]
) -> None:
    minted_at = dt.datetime.now(dt.UTC) - (
        dt.timedelta(hours=2) if column == "expires_at" else dt.timedelta()
    )
    record, token = ledger.approve(ledger.candidates[0], "live_l1", now=minted_at, hours=1)
    (row,) = ledger.rows("approval_overrides", override_id=record.override_id)
    t = schema.approval_overrides
    engine = ledger.engine()
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.override_id == record.override_id).values({column: tamper(row)}))
    engine.dispose()
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_SIGNATURE_INVALID, record.override_id
    )


# --- the verifier's secret ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("too-short-secret", id="short"),
        pytest.param("", id="empty"),
        pytest.param(None, id="unset"),
    ],
)
def test_without_a_usable_secret_every_token_is_refused(
    ledger: GovernedLedger, baseline: Baseline, secret: str | None
) -> None:
    record, token = ledger.approve(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token, approval_secret=secret, allow_dev_secret=False)
    assert_refused(ledger, baseline, result, approvals.APPROVAL_SECRET_MISSING, None)
    (stored,) = ledger.rows("approval_overrides", override_id=record.override_id)
    assert stored["used_at"] is None


def test_the_dev_secret_fallback_does_not_verify_a_token_signed_with_the_real_secret(
    ledger: GovernedLedger, baseline: Baseline, tmp_path: Path
) -> None:
    record, token = ledger.approve(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token, approval_secret=None, allow_dev_secret=True, dagster_home=str(tmp_path))
    assert_refused(ledger, baseline, result, approvals.APPROVAL_SIGNATURE_INVALID, record.override_id)


# --- arbitrary token text ----------------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
RECORD = approvals.new_record(
    candidate_id="cand-fuzz",
    target_mode=Stage.LIVE_L1.value,
    symbols=("AAPL",),
    approver="cio@torghut",
    approver_role=approvals.ROLE_HEAD_OF_TRADING,
    reason="fuzz target",
    policy_checksum="p" * 64,
    gate_evaluation_id="ge-1",
    now=NOW - dt.timedelta(hours=1),
    override_id="wpao-fuzz",
)
VALID = approvals.mint_token(RECORD, SECRET.encode())
HEX = "0123456789abcdef"


def _mutations(valid: str) -> st.SearchStrategy[str]:
    n = len(valid)
    return st.one_of(
        st.tuples(st.integers(0, n - 1), st.characters()).map(
            lambda p: valid[: p[0]] + p[1] + valid[p[0] + 1 :]
        ),
        st.integers(0, n - 1).map(lambda i: valid[:i] + valid[i + 1 :]),
        st.tuples(st.integers(0, n), st.characters()).map(lambda p: valid[: p[0]] + p[1] + valid[p[0] :]),
        st.text(min_size=1, max_size=40).map(lambda s: valid + s),
        st.integers(1, n - 1).map(lambda k: valid[:k]),
        st.sampled_from([valid.upper(), valid.swapcase(), valid.replace(".", ":"), valid * 2]),
    )


def _near_valid() -> st.SearchStrategy[str]:
    override_ids = st.one_of(
        st.just(RECORD.override_id), st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True)
    )
    signatures = st.one_of(st.text(alphabet=HEX, min_size=64, max_size=64), st.text(max_size=70))
    return st.builds(lambda o, s: f"{approvals.TOKEN_PREFIX}{o}.{s}", override_ids, signatures)


HOSTILE_TEXT = st.one_of(
    st.text(),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.text(min_size=500, max_size=5000),
    _near_valid(),
    _mutations(VALID).filter(lambda t: t != VALID),
)


def _lookup(override_id: str) -> approvals.ApprovalRecord | None:
    return RECORD if override_id == RECORD.override_id else None


@settings(max_examples=600, deadline=None)
@given(token=HOSTILE_TEXT)
@example(token="")
@example(token="wpat-")
@example(token="wpat-.")
@example(token=f"wpat-{RECORD.override_id}.{'0' * 64}")
@example(token="wpat-" + "a" * 129 + "." + "0" * 64)
@example(token=VALID + "\x00")
@example(token="\x00" * 10_000)
def test_verify_token_never_raises_and_never_accepts_arbitrary_text(token: str) -> None:
    verdict = approvals.verify_token(
        token,
        secret=SECRET.encode(),
        record_lookup=_lookup,
        candidate_id=RECORD.candidate_id,
        target_mode=RECORD.scope.target_mode,
        policy_checksum=RECORD.policy_checksum,
        now=NOW,
        used_override_ids=set(),
    )
    assert not verdict.valid and verdict.reason != approvals.APPROVAL_VALID


def test_the_fuzz_target_token_itself_verifies() -> None:
    """Guards the property test above: its record, secret and clock do accept the genuine token."""
    verdict = approvals.verify_token(
        VALID,
        secret=SECRET.encode(),
        record_lookup=_lookup,
        candidate_id=RECORD.candidate_id,
        target_mode=RECORD.scope.target_mode,
        policy_checksum=RECORD.policy_checksum,
        now=NOW,
        used_override_ids=set(),
    )
    assert verdict.valid


def test_ledger_backed_verification_refuses_arbitrary_text_for_a_stored_approval(
    ledger: GovernedLedger,
) -> None:
    champion = ledger.candidates[0]
    record, _ = ledger.approve(champion, "live_l1")
    governance = ledger.governance()
    policy = governance.policy()
    same_override = st.text(alphabet=HEX, min_size=64, max_size=64).map(
        lambda s: f"{approvals.TOKEN_PREFIX}{record.override_id}.{s}"
    )
    engine = ledger.engine()

    @settings(max_examples=150, deadline=None)
    @given(token=st.one_of(HOSTILE_TEXT, same_override))
    def refused(token: str) -> None:
        with engine.connect() as conn:
            verdict = _verify_approval(
                conn,
                token,
                governance=governance,
                candidate_id=champion,
                stage=Stage.LIVE_L1,
                policy=policy,
                now=dt.datetime.now(dt.UTC),
            )
        assert verdict is None or not verdict.valid
        assert verdict is not None or not token.strip()  # only a blank token counts as "none presented"

    try:
        refused()
    finally:
        engine.dispose()
    (stored,) = ledger.rows("approval_overrides", override_id=record.override_id)
    assert stored["used_at"] is None
