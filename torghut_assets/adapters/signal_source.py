"""The interface every signal source implements, and the errors that classify a failed fetch.

Sources return *raw* frames in the `ta_signals` shape (SIGNAL_COLUMNS); admission (rejecting bad rows
with a reason) happens in the domain, once, for every source alike. A source that cannot answer at all
raises `SignalSourceUnavailable` with a reason code, which the pipeline records as a classified empty
window instead of crashing.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pandas as pd

from torghut_assets.domain.indicators import BAR_COLUMNS

__all__ = ["BAR_COLUMNS", "SignalSource", "SignalSourceUnavailable"]


class SignalSourceUnavailable(RuntimeError):
    """The source could not be read (down, timed out, misconfigured, unauthorized, garbage payload).

    `reason` is a stable code (e.g. `source_unavailable`, `source_timeout`, `source_auth_failed`,
    `source_payload_invalid`, `clickhouse_url_missing`) that ends up as the window's `no_signal_reason`.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@runtime_checkable
class SignalSource(Protocol):
    @property
    def name(self) -> str:
        """The source's name in provenance (a class constant in every source)."""
        ...

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Raw signal rows with `event_ts` in [start, end), SIGNAL_COLUMNS, possibly containing bad rows."""
        ...

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None:
        """Newest signal `event_ts` at or before `as_of` (None if the stream is empty)."""
        ...

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Minute bars (BAR_COLUMNS, `ts` = bar start) the simulated paper broker fills against."""
        ...
