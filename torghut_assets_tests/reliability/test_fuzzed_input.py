"""Fuzzed input (issue 11, part 4): hostile signal batches, environments and Launchpad configs.

Rules under test:

- Signal admission is total. Whatever a source returns, every row is either admitted clean or counted
  under exactly one rejection reason; only a frame that is not a signal frame at all (a missing or
  repeated column, not a DataFrame) raises, as `SignalContractError` naming the problem.
- The admitted frame satisfies SIGNAL_SCHEMA, which also bounds values to what the ledger stores
  faithfully, so no hostile value reaches the `signals` table on SQLite or PostgreSQL.
- `load_settings` answers any environment with a `Settings` or a `SettingsError` listing every
  problem; Launchpad configs are refused with Dagster or pydantic validation errors naming the field, or
  by the step's first checks with one sentence naming it (`LaunchpadRefusal`).

Batches are corruptions of a real simulated window (2026-03-03 15:00-16:00 UTC, eight symbols).
Example counts are tuned so the pure-domain fuzz stays under ~30 s; it still runs thousands of hostile
cells per session.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import pydantic
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.adapters.signal_source import SignalSource
from torghut_assets.adapters.sql_signal_source import create_ta_signals_table, write_ta_signals
from torghut_assets.defs.governance.approvals import ApprovalConfig, approval_overrides
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.governance.promotion import PromotionConfig
from torghut_assets.defs.governance.rollback import RollbackConfig, rollback_job
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.launchpad import LaunchpadRefusal
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.defs.routing.route_controls import RouteControlConfig, set_route_control
from torghut_assets.domain.gates import GatePolicy
from torghut_assets.domain.signal_frame import (
    INDICATOR_COLUMNS,
    KEY_COLUMNS,
    MAX_PRICE,
    MIN_PRICE,
    PRICE_COLUMNS,
    SIGNAL_COLUMNS,
    SIGNAL_SCHEMA,
    TEXT_MAX_LENGTH,
)
from torghut_assets.domain.signal_quality import (
    ALL_ROWS_REJECTED,
    INTEGER_COLUMNS,
    NULLABLE_INT_COLUMNS,
    REJECT_DUPLICATE,
    REJECT_INVALID_FIELD,
    REJECT_INVALID_PRICE,
    REJECT_INVALID_SYMBOL,
    REJECT_INVALID_TIMESTAMP,
    REJECT_OUTSIDE_WINDOW,
    REJECT_UNKNOWN_SYMBOL,
    AdmittedSignals,
    SignalContractError,
    admit_signals,
)
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.settings import Settings, SettingsError, load_settings
from torghut_assets_tests.defs.governance_harness import resolved_promotion_job

WINDOW_START = pd.Timestamp("2026-03-03 15:00", tz="UTC")
WINDOW_END = WINDOW_START + pd.Timedelta(hours=1)
SIMULATOR = MarketSimulator()
UNIVERSE: tuple[str, ...] = SIMULATOR.universe
CLEAN_WINDOW = SIMULATOR.signals(WINDOW_START, WINDOW_END)
REASONS = frozenset(
    {
        REJECT_INVALID_TIMESTAMP,
        REJECT_INVALID_SYMBOL,
        REJECT_UNKNOWN_SYMBOL,
        REJECT_INVALID_FIELD,
        REJECT_INVALID_PRICE,
        REJECT_OUTSIDE_WINDOW,
        REJECT_DUPLICATE,
    }
)
NAN, INF = float("nan"), float("inf")

FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def admit(frame: pd.DataFrame) -> AdmittedSignals:
    return admit_signals(frame, window_start=WINDOW_START, window_end=WINDOW_END, universe=UNIVERSE)


# --- hostile values ----------------------------------------------------------------------------------

_ODD_OBJECTS: list[object] = [None, pd.NaT, NAN, [1.0], {"v": 1}, b"\xff\xfe", ("tuple",)]
_NUMBERS = st.one_of(
    st.sampled_from(
        [
            INF,
            -INF,
            0.0,
            -0.0,
            -1.0,
            1e-12,  # positive, but zero at the ledger's 8 decimals
            5e13,  # beyond the ledger's Numeric(20, 8)
            1e308,
            10**400,  # beyond float
            -(10**30),
            complex(1, 1),
            decimal.Decimal("NaN"),
            decimal.Decimal("-Infinity"),
            decimal.Decimal("1e500"),
            "",
            "abc",
            "NaN",
            "-5",
            "1e400",
            "12.5",
            "💥",
            *_ODD_OBJECTS,
        ]
    ),
    st.floats(),
    st.integers(),
    st.decimals().filter(lambda d: not d.is_snan()),  # no driver returns a signalling NaN
    st.text(max_size=12),
)
_INTEGERS = st.one_of(
    st.sampled_from(
        [
            INF,
            -INF,
            -1,
            2,
            1.5,
            2**31,  # beyond the ledger's Integer `version`
            2**63,
            2**70,
            -(2**63) - 1,
            1e30,
            "x",
            "7",
            "",
            decimal.Decimal("2.5"),
            *_ODD_OBJECTS,
        ]
    ),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.text(max_size=6),
    st.booleans(),
)
_TIMESTAMPS = st.one_of(
    st.sampled_from(
        [
            "",
            "garbage",
            "2026-13-45T99:00:00",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00",
            "+275760-09-13",
            0,
            -1,
            1e20,
            INF,
            *_ODD_OBJECTS,
        ]
    ),
    st.datetimes(
        min_value=dt.datetime(1600, 1, 1),
        max_value=dt.datetime(2300, 1, 1),
        timezones=st.none()
        | st.sampled_from([dt.UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]),
    ),
    st.datetimes(  # near the window, so some land inside it and collide with real keys
        min_value=dt.datetime(2026, 3, 3, 14, 0),
        max_value=dt.datetime(2026, 3, 3, 17, 0),
        timezones=st.just(dt.UTC),
    ).map(lambda t: t.replace(second=0, microsecond=0)),
    st.text(max_size=30),
    st.integers(),
)
_SYMBOLS = st.one_of(
    st.sampled_from(UNIVERSE),  # a valid symbol on another row's key: a potential duplicate
    st.sampled_from(
        [
            "",
            "aapl",
            " AAPL",
            "AAPL\n",
            "A" * 17,
            "A" * 4000,
            "ZZZZ",
            "BRK/B",
            "😀🚀",
            "ÄAPL",
            "\x00",
            "\ud800",
            5,
            1.5,
            *_ODD_OBJECTS,
        ]
    ),
    st.text(max_size=40),
)
_TEXTS = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.sampled_from(["\x00", "\ud800", "x" * 65, "y" * 17, "🚀" * 16, 5, NAN, b"bytes", ["list"]]),
)


def hostile_value(column: str) -> st.SearchStrategy[object]:
    if column in ("event_ts", "ingest_ts"):
        return _TIMESTAMPS
    if column == "symbol":
        return _SYMBOLS
    if column in TEXT_MAX_LENGTH:
        return _TEXTS
    if column in (*INTEGER_COLUMNS, *NULLABLE_INT_COLUMNS):
        return _INTEGERS
    return _NUMBERS


def _with_cell(frame: pd.DataFrame, row: int, column: str, value: object) -> pd.DataFrame:
    """Set one cell to any Python object (lists and tuples included) without pandas unpacking it."""
    values = frame[column].astype(object).tolist()
    values[row] = value
    out = frame.copy()
    out[column] = pd.Series(values, index=frame.index, dtype=object)
    return out


@dataclass(frozen=True)
class HostileBatch:
    frame: pd.DataFrame
    corrupted_rows: int
    clean_keys: tuple[tuple[str, pd.Timestamp, int], ...]


@st.composite
def hostile_batches(draw: st.DrawFn) -> HostileBatch:
    """Up to 40 rows of the clean window, stored typed / as objects / as text (a CSV-like source), with
    up to two hostile cells per row, a few exact duplicate rows and, sometimes, repeated index labels."""
    picks = sorted(draw(st.lists(st.integers(0, len(CLEAN_WINDOW) - 1), max_size=40, unique=True)))
    origin = CLEAN_WINDOW.iloc[picks].reset_index(drop=True)
    layout = draw(st.sampled_from(["typed", "object", "text"]))
    frame = {"typed": origin, "object": origin.astype(object), "text": origin.astype(str)}[layout]
    corrupted: set[int] = set()
    if len(frame):
        cells = st.tuples(st.integers(0, len(frame) - 1), st.sampled_from(SIGNAL_COLUMNS))
        for row, column in draw(st.lists(cells, max_size=2 * len(frame))):
            frame = _with_cell(frame, row, column, draw(hostile_value(column)))
            corrupted.add(row)
        copies = draw(st.lists(st.integers(0, len(frame) - 1), max_size=5))
        frame = pd.concat([frame, frame.iloc[copies]], ignore_index=True)
        corrupted |= {len(origin) + i for i, row in enumerate(copies) if row in corrupted}
        copied = set(copies)
    else:
        copied = set()
    if draw(st.booleans()):
        frame.index = pd.Index([7] * len(frame))  # e.g. a concat without ignore_index
    clean_keys = tuple(
        (str(r.symbol), pd.Timestamp(r.event_ts), int(r.seq))
        for i, r in enumerate(origin.itertuples(index=False))
        if i not in corrupted and i not in copied
    )
    return HostileBatch(frame=frame, corrupted_rows=len(corrupted), clean_keys=clean_keys)


# --- admission of hostile batches ----------------------------------------------------------------


@settings(FUZZ, max_examples=50)
@given(batch=hostile_batches())
def test_every_hostile_row_is_admitted_clean_or_counted_under_one_reason(batch: HostileBatch) -> None:
    admitted = admit(batch.frame)
    assert set(admitted.rejected) <= REASONS
    assert all(count > 0 for count in admitted.rejected.values())
    assert len(admitted.frame) + admitted.rejected_total == len(batch.frame)


@settings(FUZZ, max_examples=50)
@given(batch=hostile_batches())
def test_the_admitted_frame_satisfies_the_schema_and_holds_no_bad_value(batch: HostileBatch) -> None:
    frame = admit(batch.frame).frame
    SIGNAL_SCHEMA.validate(frame)
    for column in PRICE_COLUMNS:
        prices = frame[column].to_numpy(dtype="float64")
        assert np.isfinite(prices).all() and (prices >= MIN_PRICE).all() and (prices < MAX_PRICE).all()
    assert not np.isinf(frame[list(INDICATOR_COLUMNS)].to_numpy(dtype="float64")).any()
    assert set(frame["symbol"]) <= set(UNIVERSE)
    assert frame["event_ts"].between(WINDOW_START, WINDOW_END, inclusive="left").all()
    assert not frame.duplicated(subset=list(KEY_COLUMNS)).any()
    assert frame["is_final"].isin([0, 1]).all() and (frame["seq"] >= 0).all() and (frame["volume"] >= 0).all()
    for column, limit in TEXT_MAX_LENGTH.items():
        assert all(isinstance(v, str) and len(v) <= limit and "\x00" not in v for v in frame[column])


@settings(FUZZ, max_examples=50)
@given(batch=hostile_batches())
def test_only_corrupted_or_duplicated_rows_are_rejected(batch: HostileBatch) -> None:
    admitted = admit(batch.frame)
    kept = set(zip(admitted.frame["symbol"], admitted.frame["event_ts"], admitted.frame["seq"], strict=True))
    assert set(batch.clean_keys) <= kept, "a clean row was lost (only a duplicate may displace it)"
    not_duplicates = admitted.rejected_total - admitted.rejected.get(REJECT_DUPLICATE, 0)
    assert not_duplicates <= batch.corrupted_rows


@settings(FUZZ, max_examples=25)
@given(batch=hostile_batches())
def test_index_labels_do_not_change_what_is_admitted(batch: HostileBatch) -> None:
    relabelled = batch.frame.set_axis(pd.Index([0] * len(batch.frame)), axis=0)
    expected, actual = admit(batch.frame.reset_index(drop=True)), admit(relabelled)
    pd.testing.assert_frame_equal(actual.frame, expected.frame)
    assert actual.rejected == expected.rejected


@settings(FUZZ, max_examples=30)
@given(
    column=st.sampled_from(SIGNAL_COLUMNS),
    filler=st.sampled_from([None, NAN, "", "garbage", INF, -1, [1], b"\x00"]),
)
def test_a_whole_column_of_the_wrong_type_is_rejected_row_by_row_never_raised(
    column: str, filler: object
) -> None:
    frame = CLEAN_WINDOW.iloc[:24].copy()
    frame[column] = pd.Series([filler] * len(frame), index=frame.index, dtype=object)
    admitted = admit(frame)
    assert len(admitted.frame) + admitted.rejected_total == len(frame)
    SIGNAL_SCHEMA.validate(admitted.frame)


@settings(FUZZ, max_examples=300)
@given(missing=st.sets(st.sampled_from(SIGNAL_COLUMNS), min_size=1))
def test_a_frame_lacking_signal_columns_is_a_contract_error_naming_them(missing: set[str]) -> None:
    with pytest.raises(SignalContractError) as raised:
        admit(CLEAN_WINDOW.iloc[:5].drop(columns=sorted(missing)))
    assert all(f"'{column}'" in str(raised.value) for column in missing)


@pytest.mark.parametrize(
    "returned",
    [None, [], {"symbol": ["AAPL"]}, "symbol,event_ts\nAAPL,2026-03-03", np.zeros((3, 3))],
    ids=["none", "list", "dict", "csv-text", "ndarray"],
)
def test_a_source_answer_that_is_not_a_frame_is_a_contract_error(returned: object) -> None:
    with pytest.raises(SignalContractError, match="not a DataFrame"):
        admit(returned)  # type: ignore[arg-type]


def test_a_repeated_signal_column_is_a_contract_error_naming_it() -> None:
    frame = pd.concat([CLEAN_WINDOW.iloc[:5], CLEAN_WINDOW.iloc[:5][["close"]]], axis=1)
    with pytest.raises(SignalContractError, match="repeats columns \\['close'\\]"):
        admit(frame)


# --- hostile batches through the real `signals` asset, on both backends ------------------------------

E2E_DAY = "2026-03-03"


@dataclass(frozen=True)
class LedgerCase:
    """A hostile batch for one window, with the rejections it must produce (known by construction)."""

    window_start: pd.Timestamp
    frame: pd.DataFrame
    rejected: dict[str, int]
    source: str = "injected"  # or "sql": written to a SQLite `ta_signals` table first


def _window(hour: int) -> pd.Timestamp:
    return pd.Timestamp(f"{E2E_DAY} {hour:02d}:00", tz="UTC")


def _clean(start: pd.Timestamp, rows: int = 40) -> pd.DataFrame:
    return SIMULATOR.signals(start, start + pd.Timedelta(hours=1)).iloc[:rows].reset_index(drop=True)


def _corrupt(frame: pd.DataFrame, cells: list[tuple[int, str, object]]) -> pd.DataFrame:
    for row, column, value in cells:
        frame = _with_cell(frame, row, column, value)
    return frame


def _prices_case() -> LedgerCase:
    start = _window(15)
    no_price_at_all = [
        (0, column, value)
        for column, value in (("price", NAN), ("close", None), ("vwap", NAN), ("vwap_session", None))
    ] + [(0, "vwap_w5m", INF), (0, "imbalance_bid_px", NAN)]
    cells = [
        *no_price_at_all,
        (1, "price", INF),
        (2, "price", -INF),
        (3, "price", 0.0),
        (4, "price", -12.5),
        (5, "price", 1e-12),
        (6, "price", 5e13),
        (7, "price", "abc"),
        (8, "close", -1.0),
        (9, "vwap", decimal.Decimal("-Infinity")),
    ]
    return LedgerCase(start, _corrupt(_clean(start), cells), {REJECT_INVALID_PRICE: 10})


def _types_case() -> LedgerCase:
    start = _window(16)
    cells: list[tuple[int, str, object]] = [
        (0, "event_ts", None),
        (1, "ingest_ts", "garbage"),
        (2, "event_ts", [2026, 3, 3]),
        (3, "seq", "x"),
        (4, "volume", "12abc"),
        (5, "seq", 1.5),
        (6, "volume", 2**70),
        (7, "is_final", INF),
        (8, "is_final", 2),
        (9, "price", {"px": 1}),
    ]
    rejected = {REJECT_INVALID_TIMESTAMP: 3, REJECT_INVALID_FIELD: 6, REJECT_INVALID_PRICE: 1}
    return LedgerCase(start, _corrupt(_clean(start), cells), rejected)


def _identity_case() -> LedgerCase:
    start = _window(17)
    clean = _clean(start)
    cells: list[tuple[int, str, object]] = [
        (0, "symbol", "😀🚀"),
        (1, "symbol", "A" * 40),
        (2, "symbol", "aapl"),
        (3, "symbol", "AAPL\n"),
        (4, "symbol", "ZZZZ"),
        (5, "event_ts", start - pd.Timedelta(minutes=1)),
        (6, "event_ts", start + pd.Timedelta(hours=1)),
        (7, "event_ts", "9999-12-31T00:00:00Z"),
    ]
    frame = _corrupt(clean, cells)
    later = clean.iloc[[20]].assign(ingest_ts=clean["ingest_ts"].iloc[20] + pd.Timedelta(seconds=5))
    frame = pd.concat([frame, clean.iloc[[10, 11]], later], ignore_index=True)
    rejected = {
        REJECT_INVALID_SYMBOL: 4,  # emoji, 40 characters, lower case, trailing newline
        REJECT_UNKNOWN_SYMBOL: 1,  # ZZZZ: well formed, not in the universe
        REJECT_OUTSIDE_WINDOW: 3,
        REJECT_DUPLICATE: 3,
    }
    return LedgerCase(start, frame, rejected)


def _storage_case() -> LedgerCase:
    """Values that pass a naive check but that the ledger cannot hold (PostgreSQL refuses them)."""
    start = _window(18)
    cells: list[tuple[int, str, object]] = [
        (0, "source", "x" * 65),
        (1, "window_size", "PT1M\x00"),
        (2, "source", "\ud800"),
        (3, "version", 2**40),
        (4, "source", None),
        (5, "imbalance_bid_sz", INF),  # an order-book size is optional: nulled, the row stays
        (6, "imbalance_ask_sz", 1e30),
        (7, "rsi14", INF),  # so is an indicator
    ]
    return LedgerCase(start, _corrupt(_clean(start), cells), {REJECT_INVALID_FIELD: 5})


def _all_bad_case() -> LedgerCase:
    start = _window(19)
    frame = _clean(start, rows=16).assign(price=-1.0)
    return LedgerCase(start, frame, {REJECT_INVALID_PRICE: 16})


def _sql_case() -> LedgerCase:
    """Typed hostile rows in a SQLite `ta_signals` table (NaN is stored as NULL, so it is resolved)."""
    start = _window(20)
    clean = _clean(start)
    cells: list[tuple[int, str, object]] = [
        (0, "price", INF),
        (1, "price", -3.0),
        (2, "price", 0.0),
        (3, "close", 5e13),
        (4, "symbol", "🚀"),
        (5, "symbol", "TOOLONGSYMBOL1234567"),
        (6, "is_final", 7),
    ]
    frame = pd.concat([_corrupt(clean, cells), clean.iloc[[30]]], ignore_index=True)
    rejected = {
        REJECT_INVALID_PRICE: 4,
        REJECT_INVALID_SYMBOL: 2,
        REJECT_INVALID_FIELD: 1,
        REJECT_DUPLICATE: 1,
    }
    return LedgerCase(start, frame, rejected, source="sql")


CASES: dict[str, Callable[[], LedgerCase]] = {
    "prices": _prices_case,
    "types": _types_case,
    "identity": _identity_case,
    "storage": _storage_case,
    "all_bad": _all_bad_case,
    "sql": _sql_case,
}


class InjectedSource:
    """A SignalSource answering every window with one hostile frame."""

    name: ClassVar[str] = "hostile"

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.frame.copy()

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None:
        return None

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return SIMULATOR.bars(start, end)


INJECTED: dict[str, pd.DataFrame] = {}


class InjectedMarketData(MarketDataResource):
    """The production resource with its source swapped for `INJECTED[case]` (universe: static)."""

    case: str = ""

    def _build_adapter(self) -> SignalSource:
        return InjectedSource(INJECTED[self.case])


@dataclass
class Materialized:
    url: str
    cases: dict[str, LedgerCase] = field(default_factory=dict)
    results: dict[str, dg.ExecuteInProcessResult] = field(default_factory=dict)


@pytest.fixture(scope="module")
def materialized(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Materialized]:
    """Every case materialized once per backend, each in its own lane window."""
    root = tmp_path_factory.mktemp("hostile")
    done = Materialized(url=module_ledger_url)
    for name, build in CASES.items():
        case = build()
        if case.source == "sql":
            source_url = f"sqlite:///{root / 'ta.sqlite'}"
            engine = create_ledger_engine(source_url)
            create_ta_signals_table(engine)
            write_ta_signals(engine, case.frame)
            engine.dispose()
            market_data: MarketDataResource = MarketDataResource(source="sql", sql_url=source_url)
        else:
            INJECTED[name] = case.frame
            market_data = InjectedMarketData(case=name)
        done.cases[name] = case
        done.results[name] = dg.materialize(
            [signals],
            partition_key=lane_window_key("macd_rsi", case.window_start),
            resources={
                "ledger": LedgerResource(database_url=module_ledger_url, artifact_root=str(root)),
                "market_data": market_data,
                "broker": BrokerResource(),
                "trading_session": TradingSessionResource(),
            },
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    yield done


def _utc(value: object) -> pd.Timestamp:
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _stored(url: str, table: sa.Table, window_column: str, start: pd.Timestamp) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(table).where(
                table.c.lane == "macd_rsi", table.c[window_column] == start.to_pydatetime()
            )
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_batch_never_fails_the_signals_run(materialized: Materialized, case: str) -> None:
    assert materialized.results[case].success


@pytest.mark.parametrize("case", list(CASES))
def test_no_hostile_value_reaches_the_ledger(materialized: Materialized, case: str) -> None:
    start = materialized.cases[case].window_start
    rows = _stored(materialized.url, schema.signals, "lane_window_start", start)
    for row in rows:
        for column in PRICE_COLUMNS:
            assert row[column] is not None and math.isfinite(row[column]) and row[column] >= MIN_PRICE
        assert row["symbol"] in UNIVERSE
        assert start <= _utc(row["event_ts"]) < start + pd.Timedelta(hours=1)
        assert all(row[c] is None or math.isfinite(row[c]) for c in INDICATOR_COLUMNS)
        assert "\x00" not in row["source"] + row["window_size"]
    keys = [(r["symbol"], pd.Timestamp(r["event_ts"]), r["seq"]) for r in rows]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("case", list(CASES))
def test_the_ingest_verdict_counts_every_rejection_by_reason(materialized: Materialized, case: str) -> None:
    expected = materialized.cases[case]
    (verdict,) = _stored(
        materialized.url, schema.signal_ingest_windows, "window_start", expected.window_start
    )
    stored = _stored(materialized.url, schema.signals, "lane_window_start", expected.window_start)
    assert verdict["rejected_by_reason"] == expected.rejected
    assert verdict["rejected_total"] == sum(expected.rejected.values())
    assert verdict["signals_total"] == len(stored) == len(expected.frame) - verdict["rejected_total"]


def test_a_batch_without_one_admissible_row_is_an_all_rows_rejected_window(
    materialized: Materialized,
) -> None:
    start = materialized.cases["all_bad"].window_start
    (verdict,) = _stored(materialized.url, schema.signal_ingest_windows, "window_start", start)
    assert (verdict["signals_total"], verdict["no_signal_reason"]) == (0, ALL_ROWS_REJECTED)


def test_text_in_a_numeric_sql_source_column_rejects_its_row_not_the_window(
    ledger_url: str, tmp_path: Path
) -> None:
    """A typed database cannot hold this; a lenient one (SQLite) can. The bad cell costs its own row
    (`invalid_price`, as unparseable prices from any source are) and the other nine are admitted."""
    start = _window(15)
    source_url = f"sqlite:///{tmp_path / 'ta.sqlite'}"
    engine = create_ledger_engine(source_url)
    create_ta_signals_table(engine)
    write_ta_signals(engine, _clean(start, rows=10))
    with engine.begin() as conn:
        conn.execute(sa.text("update ta_signals set price = 'not-a-price' where rowid = 3"))
    engine.dispose()
    result = dg.materialize(
        [signals],
        partition_key=lane_window_key("macd_rsi", start),
        resources={
            "ledger": LedgerResource(database_url=ledger_url, artifact_root=str(tmp_path)),
            "market_data": MarketDataResource(source="sql", sql_url=source_url),
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    (verdict,) = _stored(ledger_url, schema.signal_ingest_windows, "window_start", start)
    assert (verdict["signals_total"], verdict["no_signal_reason"]) == (9, None)
    assert verdict["rejected_by_reason"] == {REJECT_INVALID_PRICE: 1}
    assert len(_stored(ledger_url, schema.signals, "lane_window_start", start)) == 9


# --- malformed environments -------------------------------------------------------------------------

SETTINGS_KEYS: dict[str, list[str]] = {
    "TORGHUT_ENV": ["dev", "production", "PRODUCTION ", "staging"],
    "TORGHUT_SIGNAL_SOURCE": ["simulator", "sql", "alpaca", "kafka"],
    "TORGHUT_SIGNAL_SOURCE_URL": ["postgresql+psycopg2://torghut@db/ta", "not a url"],
    "TRADING_SIGNAL_TABLE": ["ta_signals", "torghut.ta_signals"],
    "TRADING_UNIVERSE_SOURCE": ["static", "jangar", "Jangar", "file"],
    "TRADING_UNIVERSE_STATIC_SYMBOLS": ["AAPL,MSFT", "aapl, ,msft", "BRK/B", ",,,"],
    "JANGAR_SYMBOLS_URL": ["http://jangar.internal/symbols", "   "],
    "TRADING_MODE": ["paper", "live", "LIVE", "sim"],
    "TORGHUT_LANE_MODES": ["macd_rsi=paper", "macd_rsi=live", "ema_trend=replay,macd_rsi=paper", "x=y", "="],
    "TRADING_PLANNED_DECISION_TIMEOUT_SECONDS": ["600", "0", "-1", "5.0", "1e3", "ten"],
    "TORGHUT_OPEN_WINDOW_INTERVAL_SECONDS": ["15", "4", "301", "15.0"],
    "APCA_API_KEY_ID": ["PKTEST", " "],
    "APCA_API_SECRET_KEY": ["not-a-real-secret", ""],
    "APCA_API_DATA_URL": ["http://127.0.0.1:1"],
    "APCA_API_BASE_URL": ["http://127.0.0.1:1"],
    "TRADING_LEAN_RUNNER_URL": ["http://lean:8080", "ftp://lean"],
    "TRADING_EXECUTION_ADAPTER_POLICY": ["all", "allowlist", "some"],
    "TRADING_EXECUTION_ADAPTER_SYMBOLS": ["AAPL", "", "💥"],
    "TRADING_EXECUTION_FALLBACK_ADAPTER": ["alpaca", "none", "lean"],
    "TORGHUT_RECONCILIATION_TIMEZONE": [
        "America/New_York",
        "UTC",
        "Mars/Olympus",
        "../../etc/passwd",
        "\x00",
    ],
    "TORGHUT_GATE_POLICY_PATH": ["", "/nonexistent/gates.toml", "/", "\x00", "x" * 5000],
    "TORGHUT_APPROVAL_SECRET": ["short", "test-approval-secret-0123456789abcdef", "🔑" * 9],
    "TORGHUT_APPROVERS_PATH": ["", "/nonexistent/approvers.toml", "/", "\x00", "x" * 5000],
}
_ENV_VALUE = st.text(max_size=40) | st.sampled_from(["", " ", "\x00", "é" * 300])


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    keys = draw(st.sets(st.sampled_from(sorted(SETTINGS_KEYS))))
    return {k: draw(st.sampled_from(SETTINGS_KEYS[k]) | _ENV_VALUE) for k in sorted(keys)}


@settings(FUZZ, max_examples=1000)
@given(env=environments())
def test_any_environment_loads_as_settings_or_a_settings_error_listing_every_problem(
    env: dict[str, str],
) -> None:
    try:
        loaded = load_settings(env)
    except SettingsError as error:
        assert error.problems, "a SettingsError must list at least one problem"
        assert all(problem in str(error) for problem in error.problems)
        return
    assert isinstance(loaded, Settings)
    assert (loaded.profile, loaded.trading_mode) in {
        (p, m) for p in ("dev", "production") for m in ("paper", "live")
    }
    assert loaded.signal_source in ("simulator", "sql", "alpaca") and loaded.static_symbols


_TOML_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats().map(
        lambda f: "nan" if math.isnan(f) else ("inf" if f == INF else "-inf" if f == -INF else repr(f))
    ),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=10).map(
        lambda s: '"' + s.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    ),
    st.just("[1, 2]"),
    st.just('["a", 3]'),
    st.just("{ nested = 1 }"),
    st.just("2026-03-03T15:00:00Z"),
)
_POLICY_KEYS = [*sorted(GatePolicy().as_dict()), "unknown_key"]


@settings(FUZZ, max_examples=300)
@given(
    document=st.lists(
        st.tuples(st.sampled_from(_POLICY_KEYS), _TOML_VALUES), max_size=6, unique_by=lambda kv: kv[0]
    )
    | st.text(max_size=60)
    | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
)
def test_a_malformed_gate_policy_file_is_a_settings_problem_naming_the_file(
    document: list[tuple[str, str]] | str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    text = document if isinstance(document, str) else "\n".join(f"{k} = {v}" for k, v in document)
    path = tmp_path_factory.getbasetemp() / "gates-fuzz.toml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        load_settings({"TORGHUT_GATE_POLICY_PATH": str(path)})
    except SettingsError as error:
        assert all(p.startswith("TORGHUT_GATE_POLICY_PATH=") for p in error.problems)


# --- malformed Launchpad configs ---------------------------------------------------------------------

_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@dataclass(frozen=True)
class Launchpad:
    """Where a config is typed in: the job, the op/asset reading it, and its pydantic model."""

    job: Callable[[], dg.JobDefinition]
    node: str
    model: type[dg.Config]
    valid: Mapping[str, Any]
    first_step: Callable[[Any], object] = lambda config: config  # the step's checks before any read

    def run_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"ops": {self.node: {"config": dict(config)}}}


def _approval_job() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[approval_overrides],
        jobs=[dg.define_asset_job("approve", selection=[approval_overrides])],
        resources={"ledger": LedgerResource(), "governance": GovernanceResource()},
    )
    return defs.resolve_job_def("approve")


LAUNCHPADS: dict[str, Launchpad] = {
    "promotion": Launchpad(
        resolved_promotion_job,
        "promotion_decision",
        PromotionConfig,
        {"candidate_id": "cand-1", "target_stage": "paper", "requester": "ops@torghut"},
    ),
    "rollback": Launchpad(
        lambda: rollback_job,
        "apply_rollback",
        RollbackConfig,
        {"lane": "macd_rsi", "action": "halt", "actor": "ops@torghut", "reason": "drill"},
        lambda config: config.request(),
    ),
    "approval": Launchpad(
        _approval_job,
        "approval_overrides",
        ApprovalConfig,
        {
            "candidate_id": "cand-1",
            "target_stage": "paper",
            "approver": "risk@torghut",
            "approver_role": "risk_officer",
            "reason": "reviewed",
        },
        lambda config: config.request(),
    ),
    "route_control": Launchpad(
        lambda: set_route_control,
        "record_route_control",
        RouteControlConfig,
        {"control": "lean_kill_switch", "enabled": True, "reason": "drill", "operator": "ops@torghut"},
        lambda config: config.request(),
    ),
}


_NEAR_MISSES = ["live_l9", "Paper", "shadow", "nope", "HALT", "manual_review:aapl", "manual_review:", "💥"]


@st.composite
def hostile_configs(draw: st.DrawFn, pad: Launchpad) -> dict[str, Any]:
    """The valid config with some fields replaced, dropped, or joined by unknown keys."""
    fields = sorted(pad.model.model_fields)
    config: dict[str, Any] = dict(pad.valid)
    for name in draw(st.sets(st.sampled_from(fields), min_size=1, max_size=2)):
        action = draw(st.sampled_from(["replace", "drop", "blank", "text"]))
        if action == "drop":
            config.pop(name, None)
        elif action == "blank":
            config[name] = draw(st.sampled_from(["", "   ", "\t\n"]))
        elif action == "text":
            config[name] = draw(st.text(max_size=30) | st.sampled_from(_NEAR_MISSES))
        else:
            config[name] = draw(_ANY_JSON)
    if draw(st.integers(0, 4)) == 0:
        config[draw(st.text(min_size=1, max_size=8))] = draw(_ANY_JSON)
    return config


def _launch(pad: Launchpad, job: dg.JobDefinition, config: dict[str, Any]) -> dg.Config:
    """What the Launchpad does before the op body reads anything: Dagster checks the run config against
    the schema, the op builds the pydantic model from it, and the step's first checks run."""
    resolved = dg.validate_run_config(job, pad.run_config(config))
    model = pad.model(**resolved["ops"][pad.node]["config"])
    pad.first_step(model)
    return model


def _names_a_field(message: str, config: Mapping[str, Any], pad: Launchpad) -> bool:
    return any(name in message for name in (*pad.model.model_fields, *config))


@pytest.mark.parametrize("pad_name", list(LAUNCHPADS))
def test_the_valid_launchpad_config_is_accepted(pad_name: str) -> None:
    pad = LAUNCHPADS[pad_name]
    assert isinstance(_launch(pad, pad.job(), dict(pad.valid)), pad.model)


@pytest.mark.parametrize("pad_name", list(LAUNCHPADS))
def test_a_malformed_launchpad_config_is_refused_with_an_error_naming_the_field(pad_name: str) -> None:
    pad = LAUNCHPADS[pad_name]
    job = pad.job()

    @settings(FUZZ, max_examples=250)
    @given(config=hostile_configs(pad))
    def check(config: dict[str, Any]) -> None:
        try:
            _launch(pad, job, config)
        except dg.DagsterInvalidConfigError as error:
            assert error.errors and all(_names_a_field(e.message, config, pad) for e in error.errors)
        except pydantic.ValidationError as error:
            assert all(str(e["loc"][0]) in pad.model.model_fields for e in error.errors())
        except LaunchpadRefusal as refusal:
            sentence = str(refusal.description)
            assert _names_a_field(sentence, config, pad) and "\n" not in sentence

    check()
