"""Route selection and route normalization (domain.md §6): which venue an order is meant for, and what
the ledger records about where it actually went.

The reference recorded an allowlist policy but sent every symbol to LEAN; here the policy is enforced,
and a misconfiguration routes away from LEAN rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LEAN = "lean"
ALPACA = "alpaca"
SIMULATOR = "simulator"
UNKNOWN = "unknown"
POLICIES = ("all", "allowlist")


class RoutingConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RoutingPolicy:
    primary_adapter: str = LEAN
    fallback_adapter: str | None = ALPACA
    policy: str = "all"
    allowlist_symbols: frozenset[str] = field(default_factory=frozenset)
    manual_review_fallback_threshold: int = 3

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise RoutingConfigError(
                f"TRADING_EXECUTION_ADAPTER_POLICY={self.policy!r} is not one of {', '.join(POLICIES)}"
            )
        if self.manual_review_fallback_threshold < 1:
            raise RoutingConfigError("manual review threshold must be >= 1")


@dataclass(frozen=True)
class RouteChoice:
    """`expected_adapter` is the venue the order is meant for; `bypass_reason` says why LEAN was skipped."""

    expected_adapter: str
    fallback_adapter: str | None
    bypass_reason: str | None = None


def select_route(
    symbol: str,
    policy: RoutingPolicy,
    *,
    available: frozenset[str],
    lean_kill_switch: bool,
    lean_healthy: bool,
    manual_review: frozenset[str],
) -> RouteChoice:
    """Pick the venue for one order; the first rule that sends the order away from LEAN names the reason."""
    non_lean = policy.fallback_adapter if policy.fallback_adapter in available else None
    if non_lean is None:
        non_lean = next((a for a in (ALPACA, SIMULATOR) if a in available), None)
    if non_lean is None and LEAN not in available:
        raise RoutingConfigError("no execution venue configured (LEAN runner URL, Alpaca keys or simulator)")
    fallback = non_lean if non_lean != LEAN else None

    def away(reason: str) -> RouteChoice:
        if non_lean is None:
            raise RoutingConfigError(f"LEAN is unusable ({reason}) and no other venue is configured")
        return RouteChoice(expected_adapter=non_lean, fallback_adapter=None, bypass_reason=reason)

    if policy.primary_adapter != LEAN:
        return RouteChoice(expected_adapter=policy.primary_adapter, fallback_adapter=None)
    if LEAN not in available:
        return away("lean_runner_url_missing")
    if lean_kill_switch:
        return away("lean_kill_switch_enabled")
    if policy.policy == "allowlist" and not policy.allowlist_symbols:
        return away("lean_allowlist_empty_misconfigured")
    if policy.policy == "allowlist" and symbol not in policy.allowlist_symbols:
        return away("symbol_not_in_lean_allowlist")
    if symbol in manual_review:
        return away("symbol_in_manual_review")
    if not lean_healthy:
        return away("lean_runner_unhealthy")
    return RouteChoice(expected_adapter=LEAN, fallback_adapter=fallback)


@dataclass(frozen=True)
class RouteRecord:
    expected_adapter: str
    actual_adapter: str
    fallback_count: int
    fallback_reason: str | None


def normalize_route(
    expected: str | None, actual: str | None, fallback_count: int, fallback_reason: str | None
) -> RouteRecord:
    """The reference's normalization: defaults, `alpaca_fallback` → `alpaca`, and reason iff count > 0."""
    expected_name = (expected or "").strip().lower() or UNKNOWN
    actual_name = (actual or "").strip().lower() or expected_name
    if actual_name == "alpaca_fallback":
        actual_name = ALPACA
    count = max(0, int(fallback_count))
    if expected_name != actual_name:
        count = max(count, 1)
    reason = fallback_reason if count > 0 else None
    if count > 0 and not reason:
        reason = f"fallback_from_{expected_name}_to_{actual_name}"
    return RouteRecord(expected_name, actual_name, count, reason)


def symbols_for_manual_review(fallbacks_by_symbol: Mapping[str, int], threshold: int) -> frozenset[str]:
    """≥ `threshold` fallbacks for one symbol within a window ⇒ that symbol needs a human (domain.md §6)."""
    return frozenset(symbol for symbol, count in fallbacks_by_symbol.items() if count >= threshold)
