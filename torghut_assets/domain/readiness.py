"""The roadmap's acceptance criteria as computed pass/fail verdicts with their numbers.

Each criterion is a pure function of figures the ledger layer measured; a missing figure fails the
criterion (fail closed), so removing the evidence behind any one of them turns it red.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torghut_assets.domain.gates import TargetMode

SCHEMA_VERSION = "torghut.readiness-report.v1"
PAPER_OR_BETTER = (TargetMode.PAPER, TargetMode.LIVE)


@dataclass(frozen=True)
class ReadinessFigures:
    signals_24h: int
    decisions_24h: int
    executions_24h: int
    complete_research_sets_24h: int
    executions_missing_route_24h: int
    paper_period_days: int
    paper_period_net_realized_pnl: float | None
    paper_period_executions: int
    latest_recommended_mode: str | None
    latest_gate_evaluation_id: str | None
    evidence_entries: int
    evidence_chain_ok: bool | None
    evidence_breaks: int


@dataclass(frozen=True)
class Criterion:
    """A verdict, the numbers behind it, and `figure`: the key of the detail the rule turns on, which a
    report shows beside the verdict."""

    criterion_id: str
    passed: bool
    detail: dict[str, Any]
    figure: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "criterion_id": self.criterion_id,
            "passed": self.passed,
            "figure": self.figure,
            "detail": self.detail,
        }


def evaluate_readiness(f: ReadinessFigures) -> list[Criterion]:
    pnl = f.paper_period_net_realized_pnl
    return [
        Criterion(
            "signals_total_24h_positive", f.signals_24h > 0, {"signals_total": f.signals_24h}, "signals_total"
        ),
        Criterion(
            "new_trade_decisions_24h",
            f.decisions_24h > 0,
            {"trade_decisions": f.decisions_24h},
            "trade_decisions",
        ),
        Criterion("new_executions_24h", f.executions_24h > 0, {"executions": f.executions_24h}, "executions"),
        Criterion(
            "complete_research_row_set_24h",
            f.complete_research_sets_24h >= 1,
            {"complete_runs": f.complete_research_sets_24h},
            "complete_runs",
        ),
        Criterion(
            "stable_route_metadata_24h",
            f.executions_24h > 0 and f.executions_missing_route_24h == 0,
            {"executions": f.executions_24h, "missing_route_metadata": f.executions_missing_route_24h},
            "missing_route_metadata",
        ),
        Criterion(
            "paper_period_net_realized_pnl_positive",
            pnl is not None and pnl > 0,
            {
                "paper_period_market_days": f.paper_period_days,
                "net_realized_pnl_after_costs": pnl,
                "executions": f.paper_period_executions,
            },
            "net_realized_pnl_after_costs",
        ),
        Criterion(
            "gate_report_recommends_paper_or_better",
            f.latest_recommended_mode in PAPER_OR_BETTER,
            {
                "recommended_mode": f.latest_recommended_mode,
                "gate_evaluation_id": f.latest_gate_evaluation_id,
            },
            "recommended_mode",
        ),
        Criterion(
            "evidence_chain_stored_and_verified",
            f.evidence_entries > 0 and f.evidence_chain_ok is True,
            {"entries": f.evidence_entries, "ok": f.evidence_chain_ok, "breaks": f.evidence_breaks},
            "ok",
        ),
    ]


def readiness_report(f: ReadinessFigures, *, as_of: str, period_start: str) -> dict[str, Any]:
    criteria = evaluate_readiness(f)
    return {
        "schema_version": SCHEMA_VERSION,
        "as_of": as_of,
        "paper_period_start": period_start,
        "ready": all(c.passed for c in criteria),
        "criteria": [c.as_dict() for c in criteria],
        "caveats": ["acceptance_criteria_are_evidence_not_a_profitability_forecast"],
    }
