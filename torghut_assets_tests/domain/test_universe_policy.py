from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.domain.universe_policy import (
    FAILURE_CAUSES,
    JANGAR_CACHE_HIT,
    JANGAR_FETCH_FAILED,
    JANGAR_FETCH_OK,
    JANGAR_HTTP_ERROR,
    JANGAR_PAYLOAD_EMPTY,
    SETTING_JANGAR_URL,
    SETTING_SOURCE,
    UNIVERSE_SOURCE_UNAVAILABLE,
    FetchFailure,
    FetchOutcome,
    UniversePolicyError,
    UniverseSnapshot,
    UniverseStatus,
    blocks_decisions,
    cache_stale,
    check_universe_policy,
    require_universe_policy,
    resolve_with_cache,
    static_snapshot,
    unavailable_reason,
    using_stale_cache,
)

NOW = pd.Timestamp("2026-02-26 15:00", tz="UTC")


def seconds_ago(seconds: float) -> pd.Timestamp:
    return NOW - pd.Timedelta(seconds=seconds)


def jangar(symbols: tuple[str, ...], fetched_at: pd.Timestamp = NOW) -> UniverseSnapshot:
    return UniverseSnapshot(
        symbols=symbols, source="jangar", status="ok", reason=JANGAR_FETCH_OK, fetched_at=fetched_at
    )


class CountingFetch:
    def __init__(self, outcome: FetchOutcome) -> None:
        self.outcome = outcome
        self.calls = 0

    def __call__(self) -> FetchOutcome:
        self.calls += 1
        return self.outcome


# -- cache rules ------------------------------------------------------------------------------------------


def test_fresh_fetch_is_ok_with_jangar_fetch_ok() -> None:
    snapshot = resolve_with_cache(jangar(("MSFT", "AAPL")), None, NOW)
    assert (snapshot.status, snapshot.reason, snapshot.source) == (
        UniverseStatus.OK,
        JANGAR_FETCH_OK,
        "jangar",
    )
    assert snapshot.symbols == ("AAPL", "MSFT")
    assert snapshot.age_seconds == 0.0


def test_cache_younger_than_ttl_is_a_cache_hit_without_fetching() -> None:
    fetch = CountingFetch(jangar(("TSLA",)))
    snapshot = resolve_with_cache(fetch, jangar(("AAPL",), seconds_ago(299)), NOW)
    assert fetch.calls == 0
    assert (snapshot.status, snapshot.reason, snapshot.symbols) == (
        UniverseStatus.OK,
        JANGAR_CACHE_HIT,
        ("AAPL",),
    )
    assert snapshot.age_seconds == 299


def test_cache_at_ttl_is_refreshed() -> None:
    fetch = CountingFetch(jangar(("TSLA",)))
    snapshot = resolve_with_cache(fetch, jangar(("AAPL",), seconds_ago(300)), NOW)
    assert fetch.calls == 1
    assert (snapshot.reason, snapshot.symbols) == (JANGAR_FETCH_OK, ("TSLA",))


def test_failure_with_cache_at_most_900_s_old_reuses_it_degraded() -> None:
    cached = jangar(("AAPL", "MSFT"), seconds_ago(900))
    snapshot = resolve_with_cache(FetchFailure(JANGAR_HTTP_ERROR, "HTTP 500"), cached, NOW)
    assert snapshot.status == UniverseStatus.DEGRADED
    assert snapshot.reason == "jangar_http_error_using_stale_cache"
    assert snapshot.symbols == ("AAPL", "MSFT")
    assert (snapshot.fetched_at, snapshot.age_seconds) == (cached.fetched_at, 900)
    assert snapshot.detail == "HTTP 500"


def test_failure_with_cache_older_than_900_s_is_error_cache_stale_without_symbols() -> None:
    cached = jangar(("AAPL",), seconds_ago(901))
    snapshot = resolve_with_cache(FetchFailure(JANGAR_FETCH_FAILED), cached, NOW)
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.ERROR, "jangar_fetch_failed_cache_stale")
    assert snapshot.symbols == ()
    assert snapshot.age_seconds == 901


def test_failure_without_any_cache_is_error_with_the_bare_cause() -> None:
    # reference universe.py `_fallback_from_cache`: no cache -> status error, reason = the cause itself
    snapshot = resolve_with_cache(FetchFailure(JANGAR_FETCH_FAILED), None, NOW)
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.ERROR, JANGAR_FETCH_FAILED)
    assert (snapshot.fetched_at, snapshot.age_seconds) == (None, None)


def test_stale_reuse_ages_from_the_original_fetch_not_from_the_reuse() -> None:
    first = resolve_with_cache(FetchFailure(JANGAR_FETCH_FAILED), jangar(("AAPL",), seconds_ago(800)), NOW)
    later = NOW + pd.Timedelta(seconds=200)
    second = resolve_with_cache(FetchFailure(JANGAR_FETCH_FAILED), first, later)
    assert second.status == UniverseStatus.ERROR


def test_empty_payload_is_the_jangar_payload_empty_cause() -> None:
    no_cache = resolve_with_cache(jangar(()), None, NOW)
    assert (no_cache.status, no_cache.reason) == (UniverseStatus.ERROR, JANGAR_PAYLOAD_EMPTY)
    with_cache = resolve_with_cache(jangar(("??", "")), jangar(("AAPL",), seconds_ago(400)), NOW)
    assert (with_cache.status, with_cache.reason) == (
        UniverseStatus.DEGRADED,
        using_stale_cache(JANGAR_PAYLOAD_EMPTY),
    )
    assert with_cache.symbols == ("AAPL",)


def test_resolve_rejects_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_with_cache(jangar(("AAPL",)), None, pd.Timestamp("2026-02-26 15:00"))


# -- symbols -----------------------------------------------------------------------------------------------


def test_symbols_are_upper_cased_deduplicated_sorted_and_invalid_ones_counted() -> None:
    raw = (" msft", "AAPL", "aapl", "brk.b", "BRK/B", "", "1ABC", "A" * 17, "A" * 16, "brk-b", "-X", ".X")
    snapshot = UniverseSnapshot(symbols=raw, source="jangar", status="ok", reason=JANGAR_FETCH_OK)
    # the reference's normalize_symbol: alphanumeric first, then [A-Za-z0-9._-]; `/` (crypto) refused here
    assert snapshot.symbols == ("1ABC", "A" * 16, "AAPL", "BRK-B", "BRK.B", "MSFT")
    assert snapshot.rejected_symbols == 5


def test_non_string_symbols_are_rejected_not_crashing() -> None:
    raw: tuple[object, ...] = ("AAPL", 7, None)
    snapshot = UniverseSnapshot(symbols=raw, source="jangar", status="ok", reason=JANGAR_FETCH_OK)  # type: ignore[arg-type]
    assert (snapshot.symbols, snapshot.rejected_symbols) == (("AAPL",), 2)


def test_rebuilding_a_snapshot_does_not_double_count_rejections() -> None:
    snapshot = UniverseSnapshot(symbols=("AAPL", "$$"), source="jangar", status="ok", reason=JANGAR_FETCH_OK)
    assert resolve_with_cache(snapshot, None, NOW).rejected_symbols == 1


def test_status_must_agree_with_reason() -> None:
    with pytest.raises(ValueError, match="implies status"):
        UniverseSnapshot(
            symbols=("AAPL",), source="jangar", status="ok", reason=using_stale_cache(JANGAR_HTTP_ERROR)
        )
    with pytest.raises(ValueError, match="unknown universe reason"):
        UniverseSnapshot(symbols=("AAPL",), source="jangar", status="ok", reason="fine")


# -- configuration policy ---------------------------------------------------------------------------------


def test_production_refuses_a_static_list_naming_trading_universe_source() -> None:
    problems = check_universe_policy(
        profile="production",
        source="static",
        static_symbols=("AAPL",),
        trading_enabled=False,
        live_enabled=False,
    )
    assert len(problems) == 1
    assert SETTING_SOURCE in problems[0] and "production" in problems[0] and "jangar" in problems[0]


def test_dev_accepts_a_static_list_with_trading_disabled_or_paper_simulator() -> None:
    for trading_enabled in (False, True):
        assert (
            check_universe_policy(
                profile="dev",
                source="static",
                static_symbols=("AAPL",),
                trading_enabled=trading_enabled,
                live_enabled=False,
            )
            == []
        )


def test_static_list_is_refused_with_live_trading_even_in_dev() -> None:
    problems = check_universe_policy(
        profile="dev", source="static", static_symbols=("AAPL",), trading_enabled=True, live_enabled=True
    )
    assert len(problems) == 1 and "live" in problems[0]


def test_jangar_requires_a_url() -> None:
    problems = check_universe_policy(
        profile="production",
        source="jangar",
        static_symbols=None,
        trading_enabled=True,
        live_enabled=True,
        jangar_url="  ",
    )
    assert len(problems) == 1 and SETTING_JANGAR_URL in problems[0]
    assert (
        check_universe_policy(
            profile="production",
            source="jangar",
            static_symbols=None,
            trading_enabled=True,
            live_enabled=True,
            jangar_url="http://jangar/api/symbols",
        )
        == []
    )


def test_all_problems_are_listed_together_in_one_error() -> None:
    with pytest.raises(UniversePolicyError) as caught:
        require_universe_policy(
            profile="production", source="static", static_symbols=(), trading_enabled=True, live_enabled=True
        )
    error = caught.value
    assert isinstance(error, ValueError)
    assert len(error.problems) == 3  # production needs jangar; static with live; empty static list
    assert all(problem in str(error) for problem in error.problems)
    assert "3 problem(s)" in str(error)


def test_unknown_profile_and_source_are_both_reported() -> None:
    problems = check_universe_policy(
        profile="staging", source="csv", static_symbols=None, trading_enabled=False, live_enabled=False
    )
    assert len(problems) == 2
    assert "staging" in problems[0] and "csv" in problems[1]


# -- decision blocking ------------------------------------------------------------------------------------


def test_error_or_empty_universe_blocks_decisions_degraded_does_not() -> None:
    error = resolve_with_cache(FetchFailure(JANGAR_FETCH_FAILED), None, NOW)
    degraded = resolve_with_cache(FetchFailure(JANGAR_FETCH_FAILED), jangar(("AAPL",), seconds_ago(600)), NOW)
    empty_static = static_snapshot((), now=NOW)
    assert blocks_decisions(error) == UNIVERSE_SOURCE_UNAVAILABLE
    assert blocks_decisions(error, require_non_empty=False) == UNIVERSE_SOURCE_UNAVAILABLE
    assert blocks_decisions(empty_static) == UNIVERSE_SOURCE_UNAVAILABLE
    assert blocks_decisions(empty_static, require_non_empty=False) is None
    assert blocks_decisions(degraded) is None
    assert blocks_decisions(jangar(("AAPL",))) is None


# -- property ---------------------------------------------------------------------------------------------

symbol_lists = st.lists(st.sampled_from(["AAPL", "msft", "BRK.B", "", "bad/sym", "NVDA"]), max_size=5)
cached_snapshots = st.none() | st.builds(
    lambda symbols, age: jangar(tuple(symbols), seconds_ago(age)),
    symbol_lists,
    st.floats(min_value=-60, max_value=5000, allow_nan=False),
)
failures = st.builds(FetchFailure, st.sampled_from(FAILURE_CAUSES), st.text(max_size=10))
empty_payloads = st.builds(lambda junk: jangar(tuple(junk)), st.lists(st.sampled_from(["", "x/y", "-9"])))


@settings(max_examples=300, deadline=None)
@given(
    failure=failures | empty_payloads,
    cached=cached_snapshots,
    lazy=st.booleans(),
    ttl=st.floats(min_value=1, max_value=600),
    extra=st.floats(min_value=0, max_value=1200),
)
def test_resolved_snapshot_is_never_ok_when_the_fresh_fetch_failed(
    failure: FetchOutcome, cached: UniverseSnapshot | None, lazy: bool, ttl: float, extra: float
) -> None:
    fetch = CountingFetch(failure)
    fresh: FetchOutcome | Callable[[], FetchOutcome] = fetch if lazy else failure
    snapshot = resolve_with_cache(fresh, cached, NOW, cache_ttl_seconds=ttl, stale_max_seconds=ttl + extra)
    fetched = fetch.calls == 1 or not lazy
    if fetched:
        assert snapshot.status != UniverseStatus.OK
        cause = failure.cause if isinstance(failure, FetchFailure) else JANGAR_PAYLOAD_EMPTY
        assert snapshot.reason in (using_stale_cache(cause), cache_stale(cause), cause)
        assert (snapshot.status == UniverseStatus.ERROR) == (snapshot.symbols == ())
        assert (snapshot.reason == cause) == (cached is None or not cached.symbols)
    else:
        assert snapshot.reason == JANGAR_CACHE_HIT


def test_the_halt_reason_keeps_the_universe_status_and_reason() -> None:
    stale = resolve_with_cache(FetchFailure(JANGAR_HTTP_ERROR), jangar(("AAPL",), seconds_ago(901)), NOW)
    cold = resolve_with_cache(FetchFailure(JANGAR_HTTP_ERROR), None, NOW)
    assert unavailable_reason(stale) == "universe_source_unavailable:error:jangar_http_error_cache_stale"
    assert unavailable_reason(cold) == "universe_source_unavailable:error:jangar_http_error"
    longest = max((cache_stale(c) for c in FAILURE_CAUSES), key=len)
    # fits signal_ingest_windows.no_signal_detail
    assert len(f"universe_source_unavailable:error:{longest}") <= 128


def test_a_bare_cause_is_an_error_reason_and_never_carries_symbols() -> None:
    for cause in FAILURE_CAUSES:
        assert UniverseSnapshot((), "jangar", UniverseStatus.ERROR, cause).reason == cause
        with pytest.raises(ValueError):
            UniverseSnapshot(("AAPL",), "jangar", UniverseStatus.ERROR, cause)
        with pytest.raises(ValueError):
            UniverseSnapshot(("AAPL",), "jangar", UniverseStatus.DEGRADED, cause)
