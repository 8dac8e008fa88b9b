"""How a gate finding reads its figure and limit from the evidence, policy and parity report it was judged on.

Shared by the reason-code catalogues (`domain/gate_explanations.py` and the modules it draws on) and
the finding assembly (`domain/gate_findings.py`), so both render a value the same way: a missing
figure reads "missing", a non-number says so, and a limit names the policy key an operator would
change. Pure and display-only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from torghut_assets.domain.gates import GateEvidence, GatePolicy, TargetMode

POLICY_FILE = "torghut_assets/policy/gates.toml"


@dataclass(frozen=True)
class RouteParityFigures:
    """The route-parity report gate 3 read: how many LEAN/Alpaca pairs it compared and why it failed."""

    report_id: str
    pair_count: int
    min_pairs: int | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FindingContext:
    """What a finding is read against: the gate evidence, the policy, the target stage, the parity report."""

    evidence: GateEvidence
    policy: GatePolicy
    target: TargetMode
    parity: RouteParityFigures | None


@dataclass(frozen=True)
class Explanation:
    """How to read one reason code: figure and limit are drawn from the evidence and policy."""

    figure: Callable[[FindingContext], str]
    limit: Callable[[FindingContext], str]
    cause: str
    fix: str


def num(value: object, fmt: str = "{:.4g}") -> str:
    """A figure as text, saying so when it is missing, not a number, or not finite."""
    if value is None:
        return "missing"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} (not a number)"
    if not math.isfinite(value):
        return f"{value} (not finite)"
    return fmt.format(value)


def field_figure(name: str, fmt: str = "{:.4g}", unit: str = "") -> Callable[[FindingContext], str]:
    """The evidence field `name` as a figure, with its unit when it has a value."""

    def figure(ctx: FindingContext) -> str:
        value = getattr(ctx.evidence, name, None)
        text = num(value, fmt)
        return f"{text} {unit}".strip() if value is not None and unit else text

    return figure


def policy_limit(op: str, key: str, fmt: str = "{:.4g}", unit: str = "") -> Callable[[FindingContext], str]:
    """The policy key `key` as a limit (`<= 0.05 (max_null_rate)`), naming the key to change."""

    def limit(ctx: FindingContext) -> str:
        text = f"{op} {fmt.format(getattr(ctx.policy, key))}"
        return f"{text} {unit}".strip() + f" ({key})"

    return limit


def const(text: str) -> Callable[[FindingContext], str]:
    """A figure or limit that does not depend on the evidence."""
    return lambda _ctx: text


def flag(name: str) -> Callable[[FindingContext], str]:
    """The boolean evidence field `name` as `true`/`false`, or `missing`."""

    def figure(ctx: FindingContext) -> str:
        value = getattr(ctx.evidence, name, None)
        return "missing" if value is None else str(value).lower()

    return figure


def policy_key(key: str) -> str:
    """Where an operator changes the policy key `key`."""
    return f"`{key}` in {POLICY_FILE}"


def above_maximum(
    name: str, key: str, what: str, fix: str, fmt: str = "{:.4g}", unit: str = ""
) -> Explanation:
    """A threshold code whose figure is above the policy maximum `key`."""
    return Explanation(
        field_figure(name, fmt, unit),
        policy_limit("<=", key, fmt, unit),
        f"{what[0].upper() + what[1:]} is above the policy maximum.",
        fix,
    )


def below_minimum(
    name: str, key: str, what: str, fix: str, fmt: str = "{:.4g}", unit: str = ""
) -> Explanation:
    """A threshold code whose figure is below the policy minimum `key`."""
    return Explanation(
        field_figure(name, fmt, unit),
        policy_limit(">=", key, fmt, unit),
        f"{what[0].upper() + what[1:]} is below the policy minimum.",
        fix,
    )


def fold_count(ctx: FindingContext) -> str:
    """How many out-of-sample folds the walk-forward record has."""
    folds = ctx.evidence.fold_net_pnls
    return "missing" if folds is None else f"{len(folds)} folds"


def fold_floor(ctx: FindingContext) -> str:
    """The fold floor: one fold for shadow, `min_folds` (at least one) otherwise."""
    if ctx.target == TargetMode.SHADOW:
        return ">= 1 fold (shadow)"
    return f">= {max(ctx.policy.min_folds, 1)} folds (min_folds)"


def negative_ratio(ctx: FindingContext) -> str:
    """How many folds lost money, as a count and a share."""
    folds = ctx.evidence.fold_net_pnls
    if not folds:
        return "missing"
    negative = sum(1 for v in folds if v < 0)
    return f"{negative} of {len(folds)} folds negative ({negative / len(folds):.0%})"


def parity_figure(ctx: FindingContext) -> str:
    """The pairs the route-parity report compared, or the pass flag when no report figures were read."""
    parity = ctx.parity
    if parity is None:
        return flag("route_parity_passed")(ctx)
    return f"{parity.pair_count} paired executions (report {parity.report_id})"


def parity_limit(ctx: FindingContext) -> str:
    """The pair floor the route-parity report needed, when it recorded one."""
    parity = ctx.parity
    if parity is None or parity.min_pairs is None:
        return "a passing report"
    return f">= {parity.min_pairs} pairs, within the parity thresholds"


def parity_cause_and_fix(ctx: FindingContext) -> tuple[str, str]:
    """Cause and fix from the parity report's own reasons (too few pairs is the common one)."""
    parity = ctx.parity
    if parity is None:
        return (
            "The latest route-parity report failed.",
            "Materialize `route_parity` once LEAN and Alpaca agree on the parity symbols.",
        )
    reasons = [r.partition(":")[0] for r in parity.reasons]
    if "parity_insufficient_pairs" in reasons:
        floor = parity.min_pairs if parity.min_pairs is not None else "enough"
        cause = (
            f"The latest route-parity report compared only {parity.pair_count} LEAN/Alpaca pairs, fewer "
            f"than the {floor} it needs to judge the routes"
        )
        others = [r for r in parity.reasons if not r.startswith("parity_insufficient_pairs")]
        cause += f" (also: {', '.join(others)})." if others else "."
        fix = (
            f"Let the lane windows plan at least {floor} decisions on the parity symbols "
            "(lane_window_job), then materialize `route_parity` (its `max_pairs` config must allow "
            f"{floor} or more) and re-run the promotion."
        )
        return cause, fix
    return (
        f"The latest route-parity report failed: {', '.join(parity.reasons) or 'no reason recorded'}.",
        "Resolve the LEAN/Alpaca disagreement the report names (its artifact lists every pair), then "
        "materialize `route_parity` again.",
    )
