"""Signal admission and empty-window classification.

Bad rows never reach decisions: each is rejected with a reason and counted, so a feed that degrades
shows up as rising rejection counts rather than as silently missing trades. Rows are judged one by one:
a bad cell rejects its own row, never the window, and every row the source read is either admitted or
counted under exactly one reason (admitted + rejected == `AdmittedSignals.source_rows`).

Reasons, in the order they are checked (the first failing one counts): `invalid_timestamp` (no usable
`event_ts`/`ingest_ts`), `invalid_symbol` (not a well-formed symbol at all: not a string, lower case,
blanks, `/`, longer than 16; the reference's `normalize_symbol` refusal, ingest.py's `invalid_symbol`),
`unknown_symbol` (well formed but outside the universe), `invalid_field` (a bookkeeping value the ledger
cannot hold, or a numeric cell that is not a number at all), `invalid_price` (no usable price, see
`reference_price`), `outside_window`, `duplicate_signal` (every extra copy of a key, including stored
versions a source read past: `SUPERSEDED_VERSIONS_ATTR`).

The admitted batch is then judged as a whole (duplicate ratio, per-field null rate, p95 staleness, schema
version) by `feature_quality.evaluate_feature_quality`; a batch that fails decides nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from torghut_assets.domain.signal_frame import (
    INDICATOR_COLUMNS,
    KEY_COLUMNS,
    MAX_PRICE,
    MIN_PRICE,
    PRICE_COLUMNS,
    SIGNAL_COLUMNS,
    SIGNAL_SCHEMA,
    SUPERSEDED_VERSIONS_ATTR,
    TEXT_MAX_LENGTH,
    VERSION_RANGE,
)
from torghut_assets.domain.universe_policy import SYMBOL_PATTERN

REJECT_MISSING_COLUMN = "missing_column"
REJECT_INVALID_PRICE = "invalid_price"
REJECT_INVALID_SYMBOL = "invalid_symbol"
REJECT_UNKNOWN_SYMBOL = "unknown_symbol"
REJECT_OUTSIDE_WINDOW = "outside_window"
REJECT_DUPLICATE = "duplicate_signal"
REJECT_INVALID_TIMESTAMP = "invalid_timestamp"
REJECT_INVALID_FIELD = "invalid_field"

REJECTION_REASONS: tuple[str, ...] = (
    REJECT_INVALID_TIMESTAMP,
    REJECT_INVALID_SYMBOL,
    REJECT_UNKNOWN_SYMBOL,
    REJECT_INVALID_FIELD,
    REJECT_INVALID_PRICE,
    REJECT_OUTSIDE_WINDOW,
    REJECT_DUPLICATE,
)
"""Every reason a row can be rejected with, in the order admission checks them."""

INTEGER_COLUMNS = ("seq", "is_final", "version", "volume")
NULLABLE_INT_COLUMNS = ("imbalance_bid_sz", "imbalance_ask_sz")
_INT64_BOUND = 2.0**63

IMBALANCE_MIDPOINT = "imbalance_midpoint"
PRICE_SOURCES: tuple[str, ...] = ("price", "vwap_session", "vwap_w5m", "vwap", IMBALANCE_MIDPOINT, "close")
"""Where a row's price comes from, first present wins: the reference's flat-row order (ingest.py
`_payload_from_flat_row` → `_ensure_price_value`, read by features.py `extract_price`). `close` is last:
the reference copies it into the payload but fills `price` from the VWAPs or the quote midpoint first."""

NO_SIGNALS_IN_WINDOW = "no_signals_in_window"
CURSOR_AHEAD_OF_STREAM = "cursor_ahead_of_stream"
MARKET_CLOSED = "market_closed"
ALL_ROWS_REJECTED = "all_rows_rejected"


class SignalContractError(ValueError):
    """The source returned something that is not a signal frame at all (not a row-level problem)."""


@dataclass(frozen=True)
class AdmittedSignals:
    """The admitted frame, rejections by reason, and what the source read: `source_rows` is every row
    judged (the frame's rows plus the `superseded_versions` the source read past), so
    `len(frame) + rejected_total == source_rows` always holds for an `admit_signals` result."""

    frame: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    source_rows: int = 0
    superseded_versions: int = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def accounted(self) -> bool:
        """Every row the source read is admitted or counted under one reason."""
        return len(self.frame) + self.rejected_total == self.source_rows


def admit_signals(
    raw: pd.DataFrame, *, window_start: pd.Timestamp, window_end: pd.Timestamp, universe: Collection[str]
) -> AdmittedSignals:
    """Keep the rows that may drive decisions; count the others by reason (first failing reason wins)."""
    if not isinstance(raw, pd.DataFrame):
        raise SignalContractError(f"signal source returned {type(raw).__name__}, not a DataFrame")
    missing = [c for c in SIGNAL_COLUMNS if c not in raw.columns]
    if missing:
        raise SignalContractError(f"signal source frame lacks columns {missing}")
    repeated = sorted({str(c) for c in raw.columns[raw.columns.duplicated()] if c in SIGNAL_COLUMNS})
    if repeated:
        raise SignalContractError(f"signal source frame repeats columns {repeated}")
    superseded = _superseded_versions(raw)
    frame = raw[list(SIGNAL_COLUMNS)].reset_index(drop=True)  # a duplicated index would misalign masks
    source_rows = len(frame) + superseded
    known = {s for s in universe if isinstance(s, str) and SYMBOL_PATTERN.fullmatch(s)}
    rejected: dict[str, int] = {REJECT_DUPLICATE: superseded} if superseded else {}

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        count = int(mask.sum())
        if count:
            rejected[reason] = rejected.get(reason, 0) + count
            frame = frame[~mask]

    present = frame[list(PRICE_COLUMNS)].notna()
    not_a_number = pd.concat(
        [_unparseable(frame[c]) for c in (*INDICATOR_COLUMNS, *NULLABLE_INT_COLUMNS)], axis=1
    ).any(axis=1)
    derived = reference_price(frame)
    frame = frame.assign(
        event_ts=_utc(frame["event_ts"]),
        ingest_ts=_utc(frame["ingest_ts"]),
        **{c: _numeric(frame[c]).astype("float64") for c in (*PRICE_COLUMNS, *INDICATOR_COLUMNS)},
        **{c: _numeric(frame[c]) for c in INTEGER_COLUMNS},
        **{c: _nullable_int(_numeric(frame[c])) for c in NULLABLE_INT_COLUMNS},
    )
    drop(frame["event_ts"].isna() | frame["ingest_ts"].isna(), REJECT_INVALID_TIMESTAMP)
    drop(~well_formed_symbol(frame["symbol"]), REJECT_INVALID_SYMBOL)
    drop(~frame["symbol"].isin(known), REJECT_UNKNOWN_SYMBOL)
    not_int64 = pd.concat([~_whole_int64(frame[c]) for c in INTEGER_COLUMNS], axis=1).any(axis=1)
    not_text = pd.concat([~_storable_text(frame[c], n) for c, n in TEXT_MAX_LENGTH.items()], axis=1)
    drop(not_int64 | not_text.any(axis=1) | not_a_number[frame.index], REJECT_INVALID_FIELD)
    version_ok = frame["version"].between(*VERSION_RANGE)
    drop((frame["seq"] < 0) | ~frame["is_final"].isin([0, 1]) | ~version_ok, REJECT_INVALID_FIELD)
    drop(frame["volume"] < 0, REJECT_INVALID_FIELD)
    corrupt = pd.Series(False, index=frame.index)
    for column in PRICE_COLUMNS:
        corrupt |= present.loc[frame.index, column] & ~_valid_price(frame[column])
    drop(corrupt | ~_valid_price(derived[frame.index]), REJECT_INVALID_PRICE)
    resolved = derived[frame.index]
    frame = frame.assign(
        price=resolved,
        close=frame["close"].where(_valid_price(frame["close"]), resolved),
        vwap=frame["vwap"].where(_valid_price(frame["vwap"]), resolved),
        **{c: frame[c].where(np.isfinite(frame[c])) for c in INDICATOR_COLUMNS},
        **{c: frame[c].astype("int64") for c in INTEGER_COLUMNS},
        **{c: frame[c].round().astype("Int64") for c in NULLABLE_INT_COLUMNS},
        **{c: frame[c].astype(str) for c in ("symbol", *TEXT_MAX_LENGTH)},
    )
    drop((frame["event_ts"] < window_start) | (frame["event_ts"] >= window_end), REJECT_OUTSIDE_WINDOW)
    frame = frame.sort_values([*KEY_COLUMNS, "ingest_ts"], kind="mergesort")
    drop(frame.duplicated(subset=list(KEY_COLUMNS), keep="last"), REJECT_DUPLICATE)
    frame = frame.sort_values(["event_ts", "symbol", "seq"], kind="mergesort").reset_index(drop=True)
    return AdmittedSignals(
        frame=SIGNAL_SCHEMA.validate(frame),
        rejected=rejected,
        source_rows=source_rows,
        superseded_versions=superseded,
    )


def well_formed_symbol(values: pd.Series) -> pd.Series:
    """True where the value is a string matching `SYMBOL_PATTERN` exactly (no stripping or upper-casing:
    a feed that sends ` aapl` is malformed, not a different spelling of AAPL)."""
    return pd.Series(
        [isinstance(v, str) and SYMBOL_PATTERN.fullmatch(v) is not None for v in values],
        index=values.index,
        dtype=bool,
    )


def reference_price(frame: pd.DataFrame) -> pd.Series:
    """Each row's price as the reference derives it (`PRICE_SOURCES`); NaN where no source is present.

    The first *present* source wins, valid or not: a present but impossible value (≤ 0, non-finite,
    unparseable, outside [MIN_PRICE, MAX_PRICE)) is returned as is (or NaN) so that admission rejects
    the row rather than falling through to a later source. "Present" follows what the reference sees: a
    `price`/`close`/`vwap` cell is present when not null; an indicator (`vwap_session`, `vwap_w5m`, the
    quote sides) only when finite, because ClickHouse's JSON output (the reference's wire format) turns
    NaN and ±inf into null. The midpoint needs both `imbalance_bid_px` and `imbalance_ask_px`.
    """
    price = pd.Series(np.nan, index=frame.index, dtype="float64")
    chosen = pd.Series(False, index=frame.index, dtype=bool)
    for source in PRICE_SOURCES:
        if source == IMBALANCE_MIDPOINT:
            value = (_finite(frame["imbalance_bid_px"]) + _finite(frame["imbalance_ask_px"])) / 2.0
            present = value.notna()
        elif source in PRICE_COLUMNS:
            value = _numeric(frame[source]).astype("float64")
            present = frame[source].notna()
        else:
            value = _finite(frame[source])
            present = value.notna()
        take = present & ~chosen
        price = price.mask(take, value)
        chosen |= take
    return price


def _superseded_versions(raw: pd.DataFrame) -> int:
    count = raw.attrs.get(SUPERSEDED_VERSIONS_ATTR, 0)
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise SignalContractError(f"{SUPERSEDED_VERSIONS_ATTR} must be a non-negative integer, not {count!r}")
    return int(count)


def _utc(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return parsed.astype("datetime64[us, UTC]")


def _numeric(values: pd.Series) -> pd.Series:
    """A real-valued series; unparseable, complex or beyond-float values become NaN instead of raising."""
    try:
        numbers = pd.to_numeric(values, errors="coerce")
    except (OverflowError, TypeError, ValueError):
        numbers = None
    if numbers is None or numbers.dtype.kind not in "biuf":
        numbers = pd.Series([_real(v) for v in values], index=values.index, dtype="float64")
    return numbers


def _finite(values: pd.Series) -> pd.Series:
    floats = _numeric(values).astype("float64")
    return floats.where(np.isfinite(floats))


def _unparseable(values: pd.Series) -> pd.Series:
    """True where a cell holds something that is not a number at all (`abc`, `[1]`, bytes, 1+1j, an
    integer beyond float). Missing cells and NaN/±inf in any spelling are not: optional values that are
    missing or non-finite are stored as NULL, as the reference (ClickHouse JSON) sees them."""
    suspect = values.notna() & _numeric(values).isna()
    if not suspect.any():
        return pd.Series(False, index=values.index, dtype=bool)
    junk = [bool(s) and not _spells_nan(v) for s, v in zip(suspect, values, strict=True)]
    return pd.Series(junk, index=values.index, dtype=bool)


def _spells_nan(value: object) -> bool:
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return False


def _real(value: object) -> float:
    if isinstance(value, complex | np.complexfloating):
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _whole_int64(values: pd.Series) -> pd.Series:
    """True where the value is a whole number that fits int64 (1.5, ±inf, 2**70 and NaN do not)."""
    if values.dtype.kind in "bi":
        return values.notna()
    floats = values.astype("float64")
    fits = np.isfinite(floats) & (floats == np.floor(floats)) & (floats >= -_INT64_BOUND)
    return pd.Series(fits & (floats < _INT64_BOUND), index=values.index)


def _nullable_int(values: pd.Series) -> pd.Series:
    """Order-book sizes: NaN where the value cannot be an int64 (±inf, beyond range); rounded otherwise."""
    if values.dtype.kind in "bi":
        return values
    floats = values.astype("float64")
    return floats.where(np.isfinite(floats) & (floats.abs() < _INT64_BOUND))


def _storable_text(values: pd.Series, max_length: int) -> pd.Series:
    """A string of at most `max_length` characters that both ledgers can store (no NUL, valid UTF-8)."""
    return pd.Series([_text_ok(v, max_length) for v in values], index=values.index, dtype=bool)


def _text_ok(value: object, max_length: int) -> bool:
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _valid_price(values: pd.Series) -> pd.Series:
    in_range = np.isfinite(values) & (values >= MIN_PRICE) & (values < MAX_PRICE)
    return pd.Series(in_range, index=values.index)


def classify_empty_window(
    *,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    newest_signal_ts: pd.Timestamp | None,
    market_open_in_window: bool,
    rejected_total: int,
) -> tuple[str, float | None]:
    """Reason and lag for a window with zero admitted signals (docs/lane-window.md, bounded-fetch rules).

    `newest_signal_ts` is the newest signal at or before the window end, so the answer for a past window
    does not change with the wall clock.
    """
    if rejected_total > 0:
        return ALL_ROWS_REJECTED, None
    if not market_open_in_window:
        lag = None if newest_signal_ts is None else max(0.0, (window_end - newest_signal_ts).total_seconds())
        return MARKET_CLOSED, lag
    if newest_signal_ts is None:
        return NO_SIGNALS_IN_WINDOW, None
    if window_start > newest_signal_ts:
        return CURSOR_AHEAD_OF_STREAM, max(0.0, (window_end - newest_signal_ts).total_seconds())
    return NO_SIGNALS_IN_WINDOW, None
