"""The one shape every signal source returns: a `ta_signals`-like frame.

Column names follow the reference's ClickHouse `torghut.ta_signals` table so SQL written against the
reference still reads the ledger. Timestamps are `datetime64[us, UTC]` (what pandas 3 produces).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from torghut_assets.domain.evidence import frame_content_hash
from torghut_assets.domain.universe_policy import SYMBOL_PATTERN

KEY_COLUMNS: tuple[str, ...] = ("symbol", "event_ts", "seq")

INDICATOR_COLUMNS: tuple[str, ...] = (
    "macd",
    "macd_signal",
    "macd_hist",
    "ema12",
    "ema26",
    "rsi14",
    "boll_mid",
    "boll_upper",
    "boll_lower",
    "vwap_session",
    "vwap_w5m",
    "imbalance_spread",
    "imbalance_bid_px",
    "imbalance_ask_px",
    "vol_realized_w60s",
)

PRICE_COLUMNS: tuple[str, ...] = ("price", "close", "vwap")
"""Price columns of the frame (and the ledger). The real `ta_signals` table has none of them: its price is
derived (`signal_quality.reference_price`); only local copies and the other sources carry them."""

SIGNAL_COLUMNS: tuple[str, ...] = (
    "symbol",
    "event_ts",
    "seq",
    "ingest_ts",
    "is_final",
    "source",
    "window_size",
    "version",
    *PRICE_COLUMNS,
    "volume",
    *INDICATOR_COLUMNS,
    "imbalance_bid_sz",
    "imbalance_ask_sz",
)

UTC_TS = pd.DatetimeTZDtype(unit="us", tz="UTC")

SUPERSEDED_VERSIONS_ATTR = "superseded_versions"
"""`frame.attrs` key: stored versions of the frame's keys that the source read past (a ReplacingMergeTree
keeps several versions of one key until a merge; the source returns only the latest). Admission counts
them as `duplicate_signal`, so admitted + rejected equals every row the source read for the window."""

# What the ledger stores faithfully (prices Numeric(20, 8), `version` Integer, `source` String(64),
# `window_size` String(16)): a value outside these bounds is not a signal, and admission rejects it.
MIN_PRICE = 1e-8
MAX_PRICE = 1e9
VERSION_RANGE = (-(2**31), 2**31 - 1)
TEXT_MAX_LENGTH = {"source": 64, "window_size": 16}

_positive = pa.Check.in_range(MIN_PRICE, MAX_PRICE, include_max=False)
_finite_or_null = pa.Check(lambda s: ~s.isin([float("inf"), float("-inf")]), element_wise=False)

SIGNAL_SCHEMA = pa.DataFrameSchema(
    {
        "symbol": pa.Column(str, pa.Check.str_matches(rf"(?:{SYMBOL_PATTERN.pattern})\Z")),
        "event_ts": pa.Column(UTC_TS),
        "seq": pa.Column("int64", pa.Check.ge(0)),
        "ingest_ts": pa.Column(UTC_TS),
        "is_final": pa.Column("int64", pa.Check.isin([0, 1])),
        "source": pa.Column(str, pa.Check.str_length(max_value=TEXT_MAX_LENGTH["source"])),
        "window_size": pa.Column(str, pa.Check.str_length(max_value=TEXT_MAX_LENGTH["window_size"])),
        "version": pa.Column("int64", pa.Check.in_range(*VERSION_RANGE)),
        "price": pa.Column("float64", [_positive, _finite_or_null]),
        "close": pa.Column("float64", [_positive, _finite_or_null]),
        "vwap": pa.Column("float64", [_positive, _finite_or_null]),
        "volume": pa.Column("int64", pa.Check.ge(0)),
        **{c: pa.Column("float64", _finite_or_null, nullable=True) for c in INDICATOR_COLUMNS},
        "imbalance_bid_sz": pa.Column("Int64", nullable=True),
        "imbalance_ask_sz": pa.Column("Int64", nullable=True),
    },
    unique=list(KEY_COLUMNS),
    strict=True,
    ordered=False,
    name="ta_signals",
)


def empty_signal_frame() -> pd.DataFrame:
    """A zero-row frame with the exact dtypes, so empty windows flow through the same code path."""
    frame = pd.DataFrame({c: pd.Series([], dtype="float64") for c in SIGNAL_COLUMNS})
    frame["symbol"] = frame["symbol"].astype(str)
    frame["source"] = frame["source"].astype(str)
    frame["window_size"] = frame["window_size"].astype(str)
    frame["event_ts"] = pd.Series([], dtype=UTC_TS)
    frame["ingest_ts"] = pd.Series([], dtype=UTC_TS)
    for col in ("seq", "is_final", "version", "volume"):
        frame[col] = frame[col].astype("int64")
    for col in ("imbalance_bid_sz", "imbalance_ask_sz"):
        frame[col] = frame[col].astype("Int64")
    return frame[list(SIGNAL_COLUMNS)]


def dataset_version(frame: pd.DataFrame) -> str:
    """Content hash of a signal frame: the window's and the research run's `dataset_version`."""
    return frame_content_hash(frame, list(SIGNAL_COLUMNS))
