"""Route selection and normalization (docs/routing.md)."""

from __future__ import annotations

import pytest

from torghut_assets.domain.routing import (
    RoutingConfigError,
    RoutingPolicy,
    normalize_route,
    select_route,
    symbols_for_manual_review,
)

BOTH = frozenset({"lean", "alpaca"})


def choose(symbol: str = "AAPL", policy: RoutingPolicy | None = None, **overrides: object):
    kwargs: dict[str, object] = {
        "available": BOTH,
        "lean_kill_switch": False,
        "lean_healthy": True,
        "manual_review": frozenset(),
    }
    kwargs.update(overrides)
    return select_route(symbol, policy or RoutingPolicy(), **kwargs)  # type: ignore[arg-type]


def test_lean_first_with_alpaca_as_fallback() -> None:
    choice = choose()
    assert (choice.expected_adapter, choice.fallback_adapter, choice.bypass_reason) == (
        "lean",
        "alpaca",
        None,
    )


def test_kill_switch_sends_every_symbol_to_the_fallback() -> None:
    choice = choose(lean_kill_switch=True)
    assert (choice.expected_adapter, choice.bypass_reason) == ("alpaca", "lean_kill_switch_enabled")


def test_allowlist_policy_is_enforced_per_symbol() -> None:
    policy = RoutingPolicy(policy="allowlist", allowlist_symbols=frozenset({"SPY"}))
    assert choose("SPY", policy).expected_adapter == "lean"
    assert choose("AAPL", policy).bypass_reason == "symbol_not_in_lean_allowlist"


def test_an_empty_allowlist_is_a_misconfiguration_that_routes_away_from_lean() -> None:
    choice = choose(policy=RoutingPolicy(policy="allowlist"))
    assert (choice.expected_adapter, choice.bypass_reason) == ("alpaca", "lean_allowlist_empty_misconfigured")


def test_unknown_policy_is_refused_naming_the_setting() -> None:
    with pytest.raises(RoutingConfigError, match="TRADING_EXECUTION_ADAPTER_POLICY"):
        RoutingPolicy(policy="some")


def test_missing_runner_url_routes_to_alpaca() -> None:
    assert choose(available=frozenset({"alpaca"})).bypass_reason == "lean_runner_url_missing"


def test_an_unhealthy_runner_is_a_lean_attempt_that_falls_back_with_its_reason() -> None:
    choice = choose(lean_healthy=False)
    assert (choice.expected_adapter, choice.fallback_adapter, choice.primary_unavailable) == (
        "lean",
        "alpaca",
        "lean_runner_unhealthy",
    )


def test_fallback_none_never_names_a_second_venue() -> None:
    choice = choose(policy=RoutingPolicy(fallback_adapter=None))
    assert (choice.expected_adapter, choice.fallback_adapter) == ("lean", None)
    unhealthy = choose(policy=RoutingPolicy(fallback_adapter=None), lean_healthy=False)
    assert (unhealthy.expected_adapter, unhealthy.fallback_adapter) == ("lean", None)


def test_fallback_none_does_not_fall_back_to_the_simulator_either() -> None:
    choice = choose(policy=RoutingPolicy(fallback_adapter=None), available=frozenset({"lean", "simulator"}))
    assert choice.fallback_adapter is None


def test_live_mode_without_a_fallback_does_not_use_lean_as_in_the_reference() -> None:
    choice = choose(policy=RoutingPolicy(fallback_adapter=None), live=True)
    assert (choice.expected_adapter, choice.bypass_reason) == (
        "alpaca",
        "lean_disabled_live_without_fallback",
    )


def test_live_mode_with_a_fallback_keeps_lean_first() -> None:
    assert choose(live=True).expected_adapter == "lean"


def test_symbol_in_manual_review_skips_lean() -> None:
    assert choose(manual_review=frozenset({"AAPL"})).bypass_reason == "symbol_in_manual_review"


def test_fallback_none_leaves_lean_without_fallback() -> None:
    choice = choose(policy=RoutingPolicy(fallback_adapter=None), available=frozenset({"lean"}))
    assert (choice.expected_adapter, choice.fallback_adapter) == ("lean", None)


def test_no_venue_at_all_is_a_configuration_error() -> None:
    with pytest.raises(RoutingConfigError, match="no execution venue"):
        choose(available=frozenset())


def test_laptop_without_venues_routes_to_the_simulator() -> None:
    choice = choose(available=frozenset({"simulator"}))
    assert (choice.expected_adapter, choice.bypass_reason) == ("simulator", "lean_runner_url_missing")


@pytest.mark.parametrize(
    ("expected", "actual", "count", "reason", "record"),
    [
        (None, None, 0, None, ("unknown", "unknown", 0, None)),
        ("lean", None, 0, None, ("lean", "lean", 0, None)),
        ("lean", "alpaca_fallback", 0, None, ("lean", "alpaca", 1, "fallback_from_lean_to_alpaca")),
        (
            "lean",
            "alpaca",
            1,
            "lean_submit_order_timeout",
            ("lean", "alpaca", 1, "lean_submit_order_timeout"),
        ),
        ("lean", "lean", 0, "stale_reason", ("lean", "lean", 0, None)),
        ("LEAN ", "Alpaca", 2, None, ("lean", "alpaca", 2, "fallback_from_lean_to_alpaca")),
    ],
)
def test_route_normalization_follows_the_reference(expected, actual, count, reason, record) -> None:
    normalized = normalize_route(expected, actual, count, reason)
    assert (
        normalized.expected_adapter,
        normalized.actual_adapter,
        normalized.fallback_count,
        normalized.fallback_reason,
    ) == record


def test_three_fallbacks_on_one_symbol_in_a_window_need_manual_review() -> None:
    assert symbols_for_manual_review({"AAPL": 3, "MSFT": 2}, 3) == frozenset({"AAPL"})
