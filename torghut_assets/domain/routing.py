"""Route selection and route normalization (docs/routing.md): which venue an order is meant for, and what
the ledger records about where it actually went.

The reference recorded an allowlist policy but sent every symbol to LEAN; here the policy is enforced,
and a misconfiguration routes away from LEAN rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Venue(StrEnum):
    """An execution venue (route) by the name the ledger records for it."""

    LEAN = "lean"
    ALPACA = "alpaca"
    SIMULATOR = "simulator"
    UNKNOWN = "unknown"  # a route whose expected venue was never recorded (`normalize_route`)


class RoutingScope(StrEnum):
    """`TRADING_EXECUTION_ADAPTER_POLICY`: which symbols LEAN is tried for."""

    ALL = "all"
    ALLOWLIST = "allowlist"


POLICIES: tuple[RoutingScope, ...] = tuple(RoutingScope)


class RoutingConfigError(ValueError):
    pass


def routing_scope(value: str) -> RoutingScope:
    """The policy named by a setting; anything else is a configuration error naming the choices."""
    if value not in POLICIES:
        raise RoutingConfigError(
            f"TRADING_EXECUTION_ADAPTER_POLICY={value!r} is not one of {', '.join(POLICIES)}"
        )
    return RoutingScope(value)


@dataclass(frozen=True)
class RoutingPolicy:
    primary_adapter: Venue = Venue.LEAN
    fallback_adapter: Venue | None = Venue.ALPACA
    policy: RoutingScope = RoutingScope.ALL
    allowlist_symbols: frozenset[str] = field(default_factory=frozenset)
    manual_review_fallback_threshold: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", routing_scope(self.policy))
        if self.manual_review_fallback_threshold < 1:
            raise RoutingConfigError("manual review threshold must be >= 1")


LEAN_RUNNER_UNHEALTHY = "lean_runner_unhealthy"
LEAN_DISABLED_LIVE_WITHOUT_FALLBACK = "lean_disabled_live_without_fallback"


@dataclass(frozen=True)
class RouteChoice:
    """`expected_adapter` is the venue the order is meant for; `bypass_reason` says why LEAN was skipped
    by configuration; `primary_unavailable` says why the expected venue is known to be down, so the order
    counts as an attempt there that fell back (or failed, without a fallback)."""

    expected_adapter: Venue
    fallback_adapter: Venue | None
    bypass_reason: str | None = None
    primary_unavailable: str | None = None


def select_route(
    symbol: str,
    policy: RoutingPolicy,
    *,
    available: frozenset[str],
    lean_kill_switch: bool,
    lean_healthy: bool,
    manual_review: frozenset[str],
    live: bool = False,
) -> RouteChoice:
    """Pick the venue for one order; the first rule that sends the order away from LEAN names the reason.

    Fallback `none` means no second venue at all. A LEAN runner that fails its health check is not
    routed around silently: the order is a LEAN attempt that fell back with `lean_runner_unhealthy`, so
    the fallback ratio and the live canary see the outage. Live mode without a fallback does not use LEAN
    at all (the reference's build rule).
    """
    direct = next((a for a in (Venue.ALPACA, Venue.SIMULATOR) if a in available), None)
    if policy.fallback_adapter is None:
        fallback = None
    elif policy.fallback_adapter in available:
        fallback = policy.fallback_adapter
    else:
        fallback = Venue.SIMULATOR if Venue.SIMULATOR in available else None
    if direct is None and Venue.LEAN not in available:
        raise RoutingConfigError("no execution venue configured (LEAN runner URL, Alpaca keys or simulator)")

    def away(reason: str) -> RouteChoice:
        if direct is None:
            raise RoutingConfigError(f"LEAN is unusable ({reason}) and no other venue is configured")
        return RouteChoice(expected_adapter=direct, fallback_adapter=None, bypass_reason=reason)

    if policy.primary_adapter != Venue.LEAN:
        return RouteChoice(expected_adapter=policy.primary_adapter, fallback_adapter=None)
    if Venue.LEAN not in available:
        return away("lean_runner_url_missing")
    if lean_kill_switch:
        return away("lean_kill_switch_enabled")
    if policy.policy == RoutingScope.ALLOWLIST and not policy.allowlist_symbols:
        return away("lean_allowlist_empty_misconfigured")
    if policy.policy == RoutingScope.ALLOWLIST and symbol not in policy.allowlist_symbols:
        return away("symbol_not_in_lean_allowlist")
    if symbol in manual_review:
        return away("symbol_in_manual_review")
    if live and fallback is None:
        return away(LEAN_DISABLED_LIVE_WITHOUT_FALLBACK)
    if not lean_healthy:
        return RouteChoice(Venue.LEAN, fallback, primary_unavailable=LEAN_RUNNER_UNHEALTHY)
    return RouteChoice(expected_adapter=Venue.LEAN, fallback_adapter=fallback)


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
    expected_name = (expected or "").strip().lower() or Venue.UNKNOWN.value
    actual_name = (actual or "").strip().lower() or expected_name
    if actual_name == "alpaca_fallback":
        actual_name = Venue.ALPACA.value
    count = max(0, int(fallback_count))
    if expected_name != actual_name:
        count = max(count, 1)
    reason = fallback_reason if count > 0 else None
    if count > 0 and not reason:
        reason = f"fallback_from_{expected_name}_to_{actual_name}"
    return RouteRecord(expected_name, actual_name, count, reason)


def symbols_for_manual_review(fallbacks_by_symbol: Mapping[str, int], threshold: int) -> frozenset[str]:
    """≥ `threshold` fallbacks for one symbol within a window ⇒ that symbol needs a human."""
    return frozenset(symbol for symbol, count in fallbacks_by_symbol.items() if count >= threshold)
