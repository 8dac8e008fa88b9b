"""Migration 0012 moves what used to be updated in place into the append-only tables, on both databases:
an approval's use from its `approval_overrides` row to `approval_uses`, and a candidate's lifecycle from
its `research_candidates` row to its first `candidate_lifecycle_events` row (docs/ledger.md)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from torghut_assets.ledger import approval_store, promotion_records
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade

BEFORE = "0011_approval_used_outcome"
USED_AT = dt.datetime(2026, 3, 3, 16, 5, tzinfo=dt.UTC)
PROMOTION_ID = "7c1e0f4a-2b3d-4c5e-8f90-a1b2c3d4e5f6"
CHAMPION, CHALLENGER = "cand-6ef6679ce68b-2827e2bd", "cand-6ef6679ce68b-4c66d526"


def _approval(override_id: str, token_sha256: str, **use: object) -> dict[str, object]:
    return {
        "id": f"00000000-0000-4000-8000-00000000000{override_id[-1]}",
        "override_id": override_id,
        "candidate_id": CHAMPION,
        "approver": "cio@torghut",
        "approver_role": "head_of_trading",
        "reason": "reviewed the paper fills of the last week",
        "scope": {"candidate_id": CHAMPION, "target_mode": "live_l1", "symbols": []},
        "policy_checksum": "c" * 64,
        "expires_at": USED_AT + dt.timedelta(hours=20),
        "token_sha256": token_sha256,
        "created_at": USED_AT - dt.timedelta(hours=1),
        **use,
    }


def _candidate(candidate_id: str, role: str, status: str) -> dict[str, object]:
    return {
        "id": f"00000000-0000-4000-9000-{len(role):012d}",
        "run_id": "6ef6679ce68beabb65483255",
        "candidate_id": candidate_id,
        "lifecycle_role": role,
        "lifecycle_status": status,
        "lane": "macd_rsi",
        "window_start": dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC),
        "created_at": dt.datetime(2026, 3, 3, 16, tzinfo=dt.UTC),
    }


def test_upgrading_moves_approval_uses_and_candidate_lifecycles_into_the_append_only_tables(
    empty_ledger_url: str,
) -> None:
    engine = create_ledger_engine(empty_ledger_url)
    try:
        upgrade(engine, BEFORE)
        metadata = sa.MetaData()
        overrides = sa.Table("approval_overrides", metadata, autoload_with=engine)
        candidates = sa.Table("research_candidates", metadata, autoload_with=engine)
        with engine.begin() as conn:
            conn.execute(
                overrides.insert(),
                [
                    _approval(
                        "appr-1",
                        "a" * 64,
                        used_at=USED_AT,
                        used_by_promotion_id=PROMOTION_ID,
                        used_outcome="deny",
                    ),
                    _approval("appr-2", "b" * 64, used_at=None, used_by_promotion_id=None, used_outcome=None),
                ],
            )
            conn.execute(
                candidates.insert(),
                [
                    _candidate(CHAMPION, "champion", "active"),
                    _candidate(CHALLENGER, "challenger", "evaluated"),
                ],
            )

        upgrade(engine)

        with engine.connect() as conn:
            spent, unused = approval_store.use_of(conn, "appr-1"), approval_store.use_of(conn, "appr-2")
            lifecycles = promotion_records.current_lifecycles(conn, [CHAMPION, CHALLENGER])
            events = conn.execute(
                sa.text("select candidate_id, revision from candidate_lifecycle_events")
            ).all()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("approval_overrides")}
    finally:
        engine.dispose()
    assert spent is not None and (spent.promotion_id, spent.outcome, spent.at) == (
        PROMOTION_ID,
        "deny",
        USED_AT,
    )
    assert unused is None
    assert {"used_at", "used_by_promotion_id", "used_outcome"}.isdisjoint(columns)
    assert lifecycles == {CHAMPION: ("champion", "active"), CHALLENGER: ("challenger", "evaluated")}
    assert [tuple(e) for e in events] == [(CHAMPION, 1)]  # a researched-only candidate needs no event
