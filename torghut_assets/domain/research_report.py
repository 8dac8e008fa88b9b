"""The run's evaluation report (reference artifact `backtest/evaluation-report`) and its markdown view.

Built from the stored rows with numbers at 8 decimals, so the same report comes out of SQLite,
PostgreSQL (numeric(28,10)) and a replay, and its content hash can be compared byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

REPORT_SCHEMA = "torghut.research-evaluation.v1"
_NUMBER_DIGITS = 8
_STORED_DIGITS = 10  # what the ledger keeps; rounding through it first avoids double-rounding drift
_FOLD_FIELDS = (
    "fold_name",
    "fold_order",
    "test_start",
    "test_end",
    "decision_count",
    "trade_count",
    "gross_pnl",
    "net_pnl",
    "max_drawdown",
    "turnover_ratio",
    "cost_bps",
    "regime_label",
)


def _number(value: Any) -> Any:
    if isinstance(value, float):
        rounded = round(round(value, _STORED_DIGITS), _NUMBER_DIGITS)
        return 0.0 if rounded == 0 else rounded
    if isinstance(value, Mapping):
        return {str(k): _number(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_number(v) for v in value]
    return value


def evaluation_report(
    run: Mapping[str, Any],
    candidates: Sequence[Mapping[str, Any]],
    folds: Sequence[Mapping[str, Any]],
    stress: Sequence[Mapping[str, Any]],
    promotion: Mapping[str, Any] | None,
    overfitting: Mapping[str, Mapping[str, object]],
) -> dict[str, Any]:
    folds_by_candidate: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(folds, key=lambda r: (str(r["candidate_id"]), int(r["fold_order"]))):
        folds_by_candidate.setdefault(str(row["candidate_id"]), []).append({f: row[f] for f in _FOLD_FIELDS})
    stress_by_candidate: dict[str, dict[str, Any]] = {}
    for row in stress:
        stress_by_candidate.setdefault(str(row["candidate_id"]), {})[str(row["stress_case"])] = {
            "metric_bundle": row["metric_bundle"],
            "pessimistic_pnl_delta": row["pessimistic_pnl_delta"],
        }
    report = {
        "schema_version": REPORT_SCHEMA,
        "run_id": run["run_id"],
        "lane": run["lane"],
        "window_start": run["window_start"],
        "window_end": run["window_end"],
        "dataset_version": run["dataset_version"],
        "feature_spec_hash": run["feature_spec_hash"],
        "research_settings_checksum": run["runner_binary_hash"],
        "policy_checksum": run["policy_checksum"],
        "candidates": [
            {
                "candidate_id": c["candidate_id"],
                "candidate_hash": c["candidate_hash"],
                "parameter_set": c["parameter_set"],
                "lookback_metrics": c["metadata_bundle"]["lookback_metrics"],
                "folds": folds_by_candidate.get(str(c["candidate_id"]), []),
                "stress": stress_by_candidate.get(str(c["candidate_id"]), {}),
                "overfitting": overfitting.get(str(c["candidate_id"]), {}),
            }
            for c in sorted(candidates, key=lambda c: str(c["candidate_id"]))
        ],
        "promotion": None
        if promotion is None
        else {
            "candidate_id": promotion["candidate_id"],
            "requested_mode": promotion["requested_mode"],
            "approved_mode": promotion["approved_mode"],
            "decision_action": promotion["decision_action"],
            "decision_rationale": promotion["decision_rationale"],
        },
    }
    return dict(_number(report))


def evaluation_markdown(report: Mapping[str, Any], top: int = 10) -> str:
    """A human summary: the champion, the best candidates by mean fold PnL, and the caveat."""
    rows = []
    for cand in report["candidates"]:
        nets = [f["net_pnl"] for f in cand["folds"] if f.get("net_pnl") is not None]
        mean = sum(nets) / len(nets) if nets else 0.0
        rows.append((mean, cand))
    rows.sort(key=lambda item: (-item[0], item[1]["candidate_id"]))
    promotion = report.get("promotion") or {}
    lines = [
        f"# Research run `{report['run_id']}` — {report['lane']} {report['window_start']}",
        "",
        f"dataset `{report['dataset_version'][:16]}…` · {len(report['candidates'])} candidates · "
        f"promotion: **{promotion.get('decision_action', 'none')}** "
        f"(requested `{promotion.get('requested_mode')}`, approved `{promotion.get('approved_mode')}`)",
        "",
        "| candidate | params | folds | mean fold net | PSR | DSR |",
        "|---|---|---|---|---|---|",
    ]
    for mean, cand in rows[:top]:
        ovf = cand.get("overfitting") or {}
        lines.append(
            f"| {cand['candidate_id']} | {cand['parameter_set'].get('params')} | {len(cand['folds'])} | "
            f"{mean:.2f} | {ovf.get('psr')} | {ovf.get('dsr')} |"
        )
    lines += ["", "Backtest evidence only: no claim of future profitability."]
    return "\n".join(lines)
