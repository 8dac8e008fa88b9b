"""The operator metrics the reference exposed on `/metrics`, as plain samples computed from ledger totals.

Counters are ledger totals, not in-process increments: any process (the sensor writing the textfile,
the `metrics serve` command, the `route_metrics` asset) computes the same figures from the same rows,
and a restart loses nothing. Re-materializing a window replaces its rows, so a total can step down;
Prometheus reads that as a counter reset, which `rate()` handles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

COUNTER, GAUGE = "counter", "gauge"

SIGNALS_INGESTED = "torghut_signals_ingested"
SIGNALS_REJECTED = "torghut_signals_rejected"
DECISIONS = "torghut_trade_decisions"
ROUTE_TRANSITIONS = "torghut_execution_route_transitions"
FALLBACKS = "torghut_execution_fallbacks"
CONTINUITY_ALERT = "torghut_signal_continuity_alert_active"
EMERGENCY_STOP = "torghut_emergency_stop_active"
LLM_ERROR_RATIO = "torghut_llm_error_ratio"
LLM_REVIEWS = "torghut_llm_reviews_attempted"
GENERATED_AT = "torghut_metrics_generated_timestamp_seconds"

FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    SIGNALS_INGESTED: (COUNTER, "Signals admitted into lane windows, per lane.", ("lane",)),
    SIGNALS_REJECTED: (
        COUNTER,
        "Signals rejected at ingest (duplicates included), per reason.",
        ("lane", "reason"),
    ),
    DECISIONS: (COUNTER, "Trade decisions recorded, per lane and status.", ("lane", "status")),
    ROUTE_TRANSITIONS: (
        COUNTER,
        "Executions by expected (selected) and actual (placing) adapter.",
        ("expected_adapter", "actual_adapter"),
    ),
    FALLBACKS: (COUNTER, "Executions that fell back to another adapter, per fallback reason.", ("reason",)),
    CONTINUITY_ALERT: (GAUGE, "1 while the lane's signal continuity alert is latched.", ("lane",)),
    EMERGENCY_STOP: (GAUGE, "1 while the lane's emergency stop is active.", ("lane",)),
    LLM_ERROR_RATIO: (GAUGE, "LLM advisory error ratio over the error-budget window.", ("lane",)),
    LLM_REVIEWS: (GAUGE, "LLM advisory reviews attempted over the error-budget window.", ("lane",)),
    GENERATED_AT: (GAUGE, "Unix time these figures were computed from the ledger.", ()),
}


@dataclass(frozen=True)
class Sample:
    family: str
    labels: tuple[tuple[str, str], ...]
    value: float

    @property
    def kind(self) -> str:
        return FAMILIES[self.family][0]


@dataclass(frozen=True)
class LaneFigures:
    """One lane's totals; `continuity` is (alert latched, emergency stop), None if never evaluated."""

    lane: str
    signals_ingested: int = 0
    signals_rejected: Mapping[str, int] | None = None
    decisions: Mapping[str, int] | None = None
    continuity: tuple[bool, bool] | None = None
    llm_error_ratio: float = 0.0
    llm_reviews_attempted: int = 0


def route_samples(
    by_adapter: Iterable[Mapping[str, Any]], fallback_reason_totals: Mapping[str, int]
) -> list[Sample]:
    """From `profitability.executions_by_adapter` over all time: one series per route and reason."""
    samples = [
        Sample(
            ROUTE_TRANSITIONS,
            (
                ("expected_adapter", str(row["expected_adapter"])),
                ("actual_adapter", str(row["actual_adapter"])),
            ),
            float(row["execution_count"]),
        )
        for row in by_adapter
    ]
    samples += [
        Sample(FALLBACKS, (("reason", reason),), float(n))
        for reason, n in sorted(fallback_reason_totals.items())
    ]
    return samples


def lane_samples(lanes: Iterable[LaneFigures]) -> list[Sample]:
    samples: list[Sample] = []
    for figures in sorted(lanes, key=lambda f: f.lane):
        lane = (("lane", figures.lane),)
        samples.append(Sample(SIGNALS_INGESTED, lane, float(figures.signals_ingested)))
        samples += [
            Sample(SIGNALS_REJECTED, (*lane, ("reason", reason)), float(n))
            for reason, n in sorted((figures.signals_rejected or {}).items())
        ]
        samples += [
            Sample(DECISIONS, (*lane, ("status", status)), float(n))
            for status, n in sorted((figures.decisions or {}).items())
        ]
        if figures.continuity is not None:
            latched, stopped = figures.continuity
            samples.append(Sample(CONTINUITY_ALERT, lane, 1.0 if latched else 0.0))
            samples.append(Sample(EMERGENCY_STOP, lane, 1.0 if stopped else 0.0))
        samples.append(Sample(LLM_ERROR_RATIO, lane, figures.llm_error_ratio))
        samples.append(Sample(LLM_REVIEWS, lane, float(figures.llm_reviews_attempted)))
    return samples


def generated_at(epoch_seconds: float) -> Sample:
    return Sample(GENERATED_AT, (), epoch_seconds)


def metadata_figures(samples: Iterable[Sample]) -> dict[str, float | int]:
    """Flat `family/label,...` keys for asset metadata, so the UI plots each series over time; counters
    and 0/1 gauges as ints, ratios as floats, the generation time left out (it is the event time)."""
    figures: dict[str, float | int] = {}
    for sample in samples:
        if sample.family == GENERATED_AT:
            continue
        short = sample.family.removeprefix("torghut_")
        key = "/".join([short, *(value for _, value in sample.labels)])
        figures[key] = sample.value if sample.family == LLM_ERROR_RATIO else int(sample.value)
    return figures


def fingerprint(samples: Iterable[Sample]) -> tuple[tuple[str, tuple[tuple[str, str], ...], float], ...]:
    """What changed between two computations, ignoring when they were made."""
    return tuple(sorted((s.family, s.labels, s.value) for s in samples if s.family != GENERATED_AT))
