"""Deterministic benchmark data: minute-bar signals for N synthetic symbols over N sessions.

Prices are seeded geometric random walks with realistic minute volumes and quoted spreads; the
indicators come from the project's own `compute_signals`, so a generated frame is exactly what the
research assets replay. Same arguments, same frame, on any machine.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from torghut_assets.domain.indicators import compute_signals
from torghut_assets.domain.market_calendar import is_session_day, session_minutes

FIRST_SESSION = dt.date(2025, 3, 3)
SESSIONS_PER_YEAR = 252


def sessions(count: int, first: dt.date = FIRST_SESSION) -> list[dt.date]:
    days: list[dt.date] = []
    day = first
    while len(days) < count:
        if is_session_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def symbols(count: int) -> list[str]:
    return [f"S{i:03d}" for i in range(count)]


def minute_bars(n_symbols: int, n_sessions: int, seed: int = 7) -> pd.DataFrame:
    """Bars in (ts, symbol) order; volumes are large enough that a 1-lot strategy never hits a cap."""
    days = sessions(n_sessions)
    minutes = session_minutes(days[0]).append([session_minutes(d) for d in days[1:]])
    names = symbols(n_symbols)
    rng = np.random.default_rng(seed)
    t, s = len(minutes), n_symbols
    base = rng.uniform(20.0, 400.0, size=s)
    sigma = rng.uniform(4e-4, 1.6e-3, size=s)
    log_ret = rng.standard_normal((t, s)) * sigma + rng.standard_normal((t, 1)) * 3e-4
    close = base * np.exp(np.cumsum(log_ret, axis=0))
    open_ = np.vstack([base, close[:-1]])
    wiggle = np.abs(rng.standard_normal((t, s))) * sigma * close
    spread_bps = rng.uniform(0.5, 4.0, size=(t, s))
    volume = rng.integers(200_000, 1_500_000, size=(t, s))
    frame = pd.DataFrame(
        {
            "symbol": np.tile(np.array(names, dtype=object), t),
            "ts": np.repeat(minutes, s),
            "open": open_.ravel(),
            "high": (np.maximum(open_, close) + wiggle).ravel(),
            "low": (np.minimum(open_, close) - wiggle).ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
            "vwap": ((open_ + close) / 2.0).ravel(),
            "spread_bps": spread_bps.ravel(),
        }
    )
    frame["symbol"] = frame["symbol"].astype(str)
    return frame


def minute_signals(n_symbols: int, n_sessions: int, seed: int = 7) -> pd.DataFrame:
    return compute_signals(minute_bars(n_symbols, n_sessions, seed), source="bench")
