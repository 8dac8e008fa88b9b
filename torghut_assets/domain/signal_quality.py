"""Signal admission and empty-window classification.

Bad rows never reach decisions: each is rejected with a reason and counted, so a feed that degrades
shows up as rising rejection counts rather than as silently missing trades.
"""

from __future__ import annotations

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
    TEXT_MAX_LENGTH,
    VERSION_RANGE,
)
from torghut_assets.domain.universe_policy import SYMBOL_PATTERN

REJECT_MISSING_COLUMN = "missing_column"
REJECT_INVALID_PRICE = "invalid_price"
REJECT_UNKNOWN_SYMBOL = "unknown_symbol"
REJECT_OUTSIDE_WINDOW = "outside_window"
REJECT_DUPLICATE = "duplicate_signal"
REJECT_INVALID_TIMESTAMP = "invalid_timestamp"
REJECT_INVALID_FIELD = "invalid_field"

INTEGER_COLUMNS = ("seq", "is_final", "version", "volume")
NULLABLE_INT_COLUMNS = ("imbalance_bid_sz", "imbalance_ask_sz")
_INT64_BOUND = 2.0**63

NO_SIGNALS_IN_WINDOW = "no_signals_in_window"
CURSOR_AHEAD_OF_STREAM = "cursor_ahead_of_stream"
MARKET_CLOSED = "market_closed"
ALL_ROWS_REJECTED = "all_rows_rejected"


class SignalContractError(ValueError):
    """The source returned something that is not a signal frame at all (not a row-level problem)."""


@dataclass(frozen=True)
class AdmittedSignals:
    frame: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


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
    frame = raw[list(SIGNAL_COLUMNS)].reset_index(drop=True)  # a duplicated index would misalign masks
    known = {s for s in universe if isinstance(s, str) and SYMBOL_PATTERN.fullmatch(s)}
    rejected: dict[str, int] = {}

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        count = int(mask.sum())
        if count:
            rejected[reason] = rejected.get(reason, 0) + count
            frame = frame[~mask]

    present = frame[list(PRICE_COLUMNS)].notna()
    frame = frame.assign(
        event_ts=_utc(frame["event_ts"]),
        ingest_ts=_utc(frame["ingest_ts"]),
        **{c: _numeric(frame[c]).astype("float64") for c in (*PRICE_COLUMNS, *INDICATOR_COLUMNS)},
        **{c: _numeric(frame[c]) for c in INTEGER_COLUMNS},
        **{c: _nullable_int(_numeric(frame[c])) for c in NULLABLE_INT_COLUMNS},
    )
    drop(frame["event_ts"].isna() | frame["ingest_ts"].isna(), REJECT_INVALID_TIMESTAMP)
    drop(~frame["symbol"].astype(str).isin(known), REJECT_UNKNOWN_SYMBOL)
    not_int64 = pd.concat([~_whole_int64(frame[c]) for c in INTEGER_COLUMNS], axis=1).any(axis=1)
    not_text = pd.concat([~_storable_text(frame[c], n) for c, n in TEXT_MAX_LENGTH.items()], axis=1)
    drop(not_int64 | not_text.any(axis=1), REJECT_INVALID_FIELD)
    version_ok = frame["version"].between(*VERSION_RANGE)
    drop((frame["seq"] < 0) | ~frame["is_final"].isin([0, 1]) | ~version_ok, REJECT_INVALID_FIELD)
    drop(frame["volume"] < 0, REJECT_INVALID_FIELD)
    corrupt = pd.Series(False, index=frame.index)
    for column in PRICE_COLUMNS:
        corrupt |= present.loc[frame.index, column] & ~_valid_price(frame[column])
    resolved = _resolved_price(frame)
    drop(corrupt | resolved.isna(), REJECT_INVALID_PRICE)
    resolved = resolved[frame.index]
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
    return AdmittedSignals(frame=SIGNAL_SCHEMA.validate(frame), rejected=rejected)


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


def _resolved_price(frame: pd.DataFrame) -> pd.Series:
    """The reference's price fallback for *missing* values: `price`, else `close`, else `vwap`.

    A present but impossible price (≤ 0, ±inf, unparseable, outside [MIN_PRICE, MAX_PRICE)) is corruption
    and rejects the row instead.
    """
    resolved = pd.Series(np.nan, index=frame.index, dtype="float64")
    for column in reversed(PRICE_COLUMNS):
        resolved = frame[column].where(_valid_price(frame[column]), resolved)
    return resolved


def classify_empty_window(
    *,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    newest_signal_ts: pd.Timestamp | None,
    market_open_in_window: bool,
    rejected_total: int,
) -> tuple[str, float | None]:
    """Reason and lag for a window with zero admitted signals (domain.md §3, bounded-fetch rules).

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
