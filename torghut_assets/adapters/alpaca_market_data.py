"""Signals from Alpaca's historical minute bars (alpaca-py `StockHistoricalDataClient`).

Signals are computed exactly as the simulator computes them (`compute_signals` over bars from the
session open), so a window is the same rows whatever window boundaries the pipeline chose, and the
two sources are interchangeable downstream.

Bars carry no quotes, so `spread_bps` is an assumed constant (`default_spread_bps`) and the order-book
columns derived from it are modelled, not observed. `ingest_ts` is `event_ts + INGEST_LATENCY_MS`:
the real arrival time of a historical fetch is the wall clock, which would make re-runs differ.

Alpaca's minute bars include extended hours and its `end` parameter is inclusive; only
regular-session bars in the half-open range asked for are kept, matching the simulator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from urllib3.exceptions import ReadTimeoutError

from torghut_assets.adapters.signal_source import BAR_COLUMNS, SignalSourceUnavailable
from torghut_assets.domain.indicators import compute_signals
from torghut_assets.domain.market_calendar import (
    exchange_date,
    market_minutes,
    previous_sessions,
    session_bounds,
)
from torghut_assets.domain.signal_frame import UTC_TS, empty_signal_frame

SOURCE = "alpaca"
INGEST_LATENCY_MS = 1_000
# alpaca-py retries 429/504 three times with 3 s sleeps by default; one short retry keeps a rate-limit
# blip survivable while a failing server still answers within roughly 2 x timeout per page.
RETRY_ATTEMPTS = 1
RETRY_WAIT_SECONDS = 0.5

_ONE_MINUTE = pd.Timedelta(minutes=1)
_ERROR_EXCERPT_CHARS = 200


class _TimeoutSession(requests.Session):
    """alpaca-py never passes `timeout`, and requests waits forever without one."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__()
        self.timeout_seconds = timeout_seconds

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_seconds
        return super().request(method, url, *args, **kwargs)


class AlpacaBarsSignalSource:
    """A SignalSource over Alpaca's `/v2/stocks/bars` (1-minute, unadjusted) for a fixed universe."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        universe: tuple[str, ...],
        url_override: str | None = None,
        timeout_seconds: float = 10.0,
        default_spread_bps: float = 2.0,
        feed: str = "iex",
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("Alpaca API key missing: set APCA_API_KEY_ID")
        if not secret_key or not secret_key.strip():
            raise ValueError("Alpaca secret key missing: set APCA_API_SECRET_KEY")
        if not universe:
            raise ValueError("universe must name at least one symbol")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        self.universe = tuple(universe)
        self.feed = DataFeed(feed)
        self.timeout_seconds = timeout_seconds
        self.default_spread_bps = default_spread_bps
        self.base_url = (url_override or "https://data.alpaca.markets").rstrip("/")
        self._secret_key = secret_key
        self._api_key = api_key
        self._client = StockHistoricalDataClient(
            api_key=api_key, secret_key=secret_key, url_override=self.base_url
        )
        # Private attributes of alpaca's RESTClient: its constructor exposes neither a session nor
        # (for the data client) the retry settings, and ignores a retry count of 0.
        self._client._session.close()
        self._client._session = _TimeoutSession(timeout_seconds)
        self._client._retry = RETRY_ATTEMPTS
        self._client._retry_wait = RETRY_WAIT_SECONDS  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"AlpacaBarsSignalSource(base_url={self.base_url!r}, feed={self.feed.value!r}, "
            f"universe={self.universe!r}, timeout_seconds={self.timeout_seconds})"
        )

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Signals with `event_ts` in [start, end), indicators warmed up from the session open."""
        first_bar, end_bar = start - _ONE_MINUTE, end - _ONE_MINUTE
        bounds = session_bounds(exchange_date(first_bar))
        if bounds is not None and bounds[0] < first_bar < bounds[1]:
            first_bar = bounds[0]
        bars = self.bars(first_bar, end_bar)
        if bars.empty:
            return empty_signal_frame()
        latency = pd.Series(INGEST_LATENCY_MS, index=bars.index, dtype=np.int64)
        signals = compute_signals(bars, source=SOURCE, ingest_latency_ms=latency)
        in_window = (signals["event_ts"] >= start) & (signals["event_ts"] < end)
        return signals.loc[in_window].reset_index(drop=True)

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Regular-session bars with `ts` in [start, end) by (ts, symbol); no request when none can exist."""
        minutes = market_minutes(start, end)
        if len(minutes) == 0:
            return _empty_bars()
        frame = self._request_bars(minutes[0], minutes[-1])
        return frame.loc[frame["ts"].isin(minutes)].reset_index(drop=True)

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None:
        """Close of the newest bar closed by `as_of`, looking only at the latest session with a closed bar.

        One request bounded to that session; an older session is not searched, so a symbol universe
        that printed nothing today (or an API outage of the day) reads as None, not as yesterday.
        """
        last_start = as_of.tz_convert("UTC").floor(_ONE_MINUTE) - _ONE_MINUTE
        today = exchange_date(as_of)
        for day in (today, *previous_sessions(today, 1)):
            bounds = session_bounds(day)
            if bounds is not None and bounds[0] <= last_start:
                break
        else:
            return None
        newest_bar = min(last_start, bounds[1] - _ONE_MINUTE)
        frame = self.bars(bounds[0], newest_bar + _ONE_MINUTE)
        if frame.empty:
            return None
        return pd.Timestamp(frame["ts"].max() + _ONE_MINUTE).as_unit("us")

    def _request_bars(self, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
        """Bars with start in [first, last] (Alpaca's `end` is inclusive), extended hours included."""
        minutes_spanned = int((last - first) // _ONE_MINUTE) + 1
        request = StockBarsRequest(
            symbol_or_symbols=list(self.universe),
            timeframe=TimeFrame.Minute,
            start=first.to_pydatetime(),
            end=last.to_pydatetime(),
            # At most one bar per symbol and minute: the cap also guarantees the page loop ends.
            limit=minutes_spanned * len(self.universe),
            adjustment=Adjustment.RAW,
            feed=self.feed,
        )
        barset = self._get_bars(request)
        try:
            return _bar_frame(barset, self.default_spread_bps)
        except (ValueError, TypeError, OverflowError) as exc:
            raise SignalSourceUnavailable("source_payload_invalid", self._redact(str(exc))) from None

    def _get_bars(self, request: StockBarsRequest) -> BarSet:
        where = f"{self.base_url}/v2/stocks/bars"
        try:
            barset = self._client.get_stock_bars(request)
        except requests.Timeout as exc:
            raise _timeout(where, self.timeout_seconds) from exc
        except requests.ConnectionError as exc:
            if any(isinstance(arg, ReadTimeoutError) for arg in exc.args):
                raise _timeout(where, self.timeout_seconds) from exc
            raise SignalSourceUnavailable("source_unavailable", f"cannot reach {where}") from exc
        except APIError as exc:
            status = exc.status_code
            body = self._redact(str(exc))[:_ERROR_EXCERPT_CHARS]
            reason = "source_auth_failed" if status in (401, 403) else f"source_http_{status or 'unknown'}"
            raise SignalSourceUnavailable(reason, f"HTTP {status} from {where}: {body}") from None
        except requests.JSONDecodeError:
            raise SignalSourceUnavailable("source_payload_invalid", f"{where} answered non-JSON") from None
        except requests.RequestException as exc:
            raise SignalSourceUnavailable("source_unavailable", f"{where}: {type(exc).__name__}") from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # alpaca-py's page loop and pydantic models fail this way on a payload of the wrong shape.
            detail = self._redact(f"{where}: {type(exc).__name__}: {exc}")[:_ERROR_EXCERPT_CHARS]
            raise SignalSourceUnavailable("source_payload_invalid", detail) from None
        if not isinstance(barset, BarSet):
            raise SignalSourceUnavailable("source_payload_invalid", f"{where}: unexpected {type(barset)}")
        return barset

    def _redact(self, text: str) -> str:
        """Both credentials: an upstream (or a proxy) may echo the request's key headers in its error body."""
        return text.replace(self._secret_key, "***").replace(self._api_key, "***")


def _timeout(where: str, seconds: float) -> SignalSourceUnavailable:
    return SignalSourceUnavailable("source_timeout", f"no answer from {where} within {seconds} s")


def _bar_frame(barset: BarSet, spread_bps: float) -> pd.DataFrame:
    """BarSet -> BAR_COLUMNS; a bar without vwap gets the typical price, duplicates keep the last."""
    rows = [
        (bar.symbol, bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap)
        for series in barset.data.values()
        for bar in series
    ]
    if not rows:
        return _empty_bars()
    frame = pd.DataFrame(rows, columns=["symbol", "ts", "open", "high", "low", "close", "volume", "vwap"])
    frame["vwap"] = pd.to_numeric(frame["vwap"], errors="raise").astype("float64")
    prices = frame[["open", "high", "low", "close", "volume"]].astype("float64")
    if not np.isfinite(prices.to_numpy()).all() or (prices["volume"] < 0).any():
        raise ValueError("bars contain non-finite prices or volumes, or negative volume")
    typical = (prices["high"] + prices["low"] + prices["close"]) / 3.0
    frame = frame.assign(
        symbol=frame["symbol"].astype(str),
        ts=pd.to_datetime(frame["ts"], utc=True).astype(UTC_TS),
        volume=np.rint(prices["volume"]).astype(np.int64),
        vwap=frame["vwap"].where(np.isfinite(frame["vwap"]), typical),
        spread_bps=float(spread_bps),
    )
    frame = frame.drop_duplicates(["symbol", "ts"], keep="last")
    return frame.sort_values(["ts", "symbol"], kind="mergesort")[list(BAR_COLUMNS)].reset_index(drop=True)


def _empty_bars() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype="float64") for c in BAR_COLUMNS})
    return frame.assign(
        symbol=pd.Series([], dtype=str),
        ts=pd.Series([], dtype=UTC_TS),
        volume=pd.Series([], dtype=np.int64),
    )[list(BAR_COLUMNS)]
