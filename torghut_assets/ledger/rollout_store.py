"""The per-lane rollout log (`rollout_transitions`): load a lane's state, append a transition.

`seq` is per lane and unique, so two writers racing on the same lane cannot both append the same
step: the second insert fails and its transaction (with the promotion row it carried) rolls back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.lane_rollout import (
    STATUS_BY_TYPE,
    LaneRollout,
    Transition,
    TransitionStatus,
    replay_lane,
    transition_type,
)
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc

table = schema.rollout_transitions


@dataclass(frozen=True)
class StoredTransition:
    seq: int
    transition_id: str
    transition: Transition
    from_candidate_id: str | None
    status: TransitionStatus
    reason_codes: list[str]
    evidence_hash: str


def _stored(row: sa.RowMapping) -> StoredTransition:
    at = as_utc(row["at"])
    if at is None:
        raise ValueError(f"rollout transition {row['transition_id']} has no timestamp")
    return StoredTransition(
        seq=int(row["seq"]),
        transition_id=str(row["transition_id"]),
        transition=Transition(
            lane=str(row["lane"]),
            transition_type=transition_type(row["transition_type"]),
            candidate_id=row["candidate_id"],
            from_stage=Stage(row["from_stage"]),
            to_stage=Stage(row["to_stage"]),
            at=at.to_pydatetime(),
            reason=str(row["reason"]),
            actor=str(row["actor"]),
        ),
        from_candidate_id=row["from_candidate_id"],
        status=TransitionStatus(row["status"]),
        reason_codes=list(row["reason_codes_json"] or []),
        evidence_hash=str(row["evidence_hash"]),
    )


def lane_history(conn: Connection, lane: str | None = None) -> list[StoredTransition]:
    query = sa.select(table).order_by(table.c.lane, table.c.seq)
    if lane is not None:
        query = query.where(table.c.lane == lane)
    return [_stored(row) for row in conn.execute(query).mappings()]


def load_lane(conn: Connection, lane: str) -> tuple[LaneRollout, int]:
    """The lane's state and its last seq (0 for a lane that never moved)."""
    history = lane_history(conn, lane)
    return replay_lane(lane, (h.transition for h in history)), (history[-1].seq if history else 0)


def append_transition(
    conn: Connection,
    transition: Transition,
    *,
    after_seq: int,
    from_candidate_id: str | None = None,
    gate_results: Sequence[Mapping[str, Any]] | None = None,
    reason_codes: Sequence[str] = (),
    blocking_gate: str | None = None,
) -> dict[str, Any]:
    """Insert the transition as step `after_seq + 1` of its lane; returns the row (with its evidence hash)."""
    transition_id = transition.transition_id()
    evidence = {
        "transition_id": transition_id,
        "lane": transition.lane,
        "seq": after_seq + 1,
        "transition_type": transition.transition_type,
        "candidate_id": transition.candidate_id,
        "from_candidate_id": from_candidate_id,
        "from_stage": transition.from_stage.value,
        "to_stage": transition.to_stage.value,
        "gate_results": list(gate_results or []),
        "reason_codes": list(reason_codes),
        "blocking_gate": blocking_gate,
        "actor": transition.actor,
        "reason": transition.reason,
        "at": transition.at,
    }
    row = {
        "id": row_id("rollout_transitions", transition_id),
        "transition_id": transition_id,
        "lane": transition.lane,
        "seq": after_seq + 1,
        "candidate_id": transition.candidate_id,
        "from_candidate_id": from_candidate_id,
        "from_stage": transition.from_stage.value,
        "to_stage": transition.to_stage.value,
        "transition_type": transition.transition_type,
        "status": STATUS_BY_TYPE[transition.transition_type],
        "gate_results_json": list(gate_results or []),
        "reason_codes_json": list(reason_codes),
        "blocking_gate": blocking_gate,
        "evidence_hash": sha256_hex(evidence),
        "actor": transition.actor,
        "reason": transition.reason,
        "at": transition.at,
        "created_at": transition.at,
    }
    conn.execute(table.insert().values(**row))
    return row


def state_at(conn: Connection, lane: str, at: dt.datetime) -> LaneRollout:
    """The lane as it stood at `at`: what a window ending then traded under (replays stay stable)."""
    return replay_lane(lane, (h.transition for h in lane_history(conn, lane) if h.transition.at <= at))


def histories_by_lane(conn: Connection) -> dict[str, list[StoredTransition]]:
    """The whole log in one read, grouped per lane in recorded order."""
    by_lane: dict[str, list[StoredTransition]] = {}
    for stored in lane_history(conn):
        by_lane.setdefault(stored.transition.lane, []).append(stored)
    return by_lane


def current_stages(conn: Connection) -> dict[str, LaneRollout]:
    """Every lane that ever moved, with its current state."""
    return {
        lane: replay_lane(lane, (h.transition for h in history))
        for lane, history in histories_by_lane(conn).items()
    }


def transition_count(conn: Connection) -> int:
    """How many transitions the log holds (it only grows)."""
    t = schema.rollout_transitions
    return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
