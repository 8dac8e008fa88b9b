"""The promotion timeline: every stage change per lane (what was live when), each lane's current stage,
and the rollbacks and halts with their incidents.

Why a use case: the timeline asset and its sensor read the rollout log and the incidents the same way
the promotion and rollback use cases wrote them; the asset only renders this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from torghut_assets.domain.lane_rollout import LaneRollout
from torghut_assets.domain.stages import TransitionType
from torghut_assets.ledger import rollback_incidents, rollout_store
from torghut_assets.ledger.rollout_store import StoredTransition


@dataclass(frozen=True)
class PromotionTimeline:
    history: list[StoredTransition]
    current: dict[str, LaneRollout]  # every lane that ever moved
    incidents: list[dict[str, Any]]

    @property
    def lanes_promoted(self) -> int:
        return sum(1 for s in self.current.values() if s.active is not None)

    @property
    def lanes_halted(self) -> int:
        return sum(1 for s in self.current.values() if s.halted)

    def count(self, transition_type: TransitionType) -> int:
        return sum(1 for h in self.history if h.transition.transition_type == transition_type)

    def transition_types(self) -> dict[str, str]:
        """transition id → its type, to name each incident's transition."""
        return {h.transition_id: str(h.transition.transition_type) for h in self.history}


def load_timeline(engine: Engine) -> PromotionTimeline:
    with engine.connect() as conn:
        return PromotionTimeline(
            history=rollout_store.lane_history(conn),
            current=rollout_store.current_stages(conn),
            incidents=rollback_incidents.incidents(conn),
        )


def transition_count(engine: Engine) -> int:
    """How many transitions the rollout log holds: the timeline is stale when this grew."""
    with engine.connect() as conn:
        return rollout_store.transition_count(conn)
