"""Walk-forward folds counted in bars, not wall-clock minutes.

The reference cut folds in minutes over a continuous range (docs/research.md); counting observed bar times
instead means overnight and weekend gaps never produce empty train or test windows. The purge gap between
train and test keeps indicator warm-up and one-bar execution delay of the last training bars from leaking
into the test window.

Every boundary is a bar time taken from the data, ends exclusive: an end is the first bar *not* in the
window (the next bar's time), or the last bar + 1 minute when the window runs to the end of the data, so
`start <= event_ts < end` selects exactly the window's bars.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from torghut_assets.domain.strategies import utc_index


class WalkForwardMode(StrEnum):
    """Sliding: each fold trains on the `train_bars` before its test window. Expanding: on every bar
    from the start of the data."""

    SLIDING = "sliding"
    EXPANDING = "expanding"


_BAR = pd.Timedelta(minutes=1)


@dataclass(frozen=True)
class Fold:
    fold_name: str
    fold_order: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def as_dict(self) -> dict[str, object]:
        return {
            "fold_name": self.fold_name,
            "fold_order": self.fold_order,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "test_start": self.test_start,
            "test_end": self.test_end,
        }


def walk_forward_folds(
    bar_times: pd.DatetimeIndex,
    *,
    train_bars: int = 60,
    test_bars: int = 30,
    step_bars: int = 30,
    purge_bars: int = 5,
    mode: WalkForwardMode = WalkForwardMode.SLIDING,
) -> list[Fold]:
    """Sliding: train = bars [s, s+train). Expanding: train = bars [0, s+train). Then `purge_bars` skipped
    bars, then test = the next `test_bars`; s advances by `step_bars` until a test window would need bars
    beyond the data. Fewer bars than one fold needs gives no folds."""
    for arg, value, minimum in (
        ("train_bars", train_bars, 1),
        ("test_bars", test_bars, 1),
        ("step_bars", step_bars, 1),
        ("purge_bars", purge_bars, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"{arg} must be an integer >= {minimum}, got {value!r}")
    if mode not in tuple(WalkForwardMode):
        raise ValueError(f"mode must be 'sliding' or 'expanding', got {mode!r}")

    times = utc_index(bar_times).dropna().unique().sort_values()
    n = len(times)

    def bound(position: int) -> pd.Timestamp:
        return pd.Timestamp(times[position]) if position < n else pd.Timestamp(times[n - 1]) + _BAR

    folds: list[Fold] = []
    s = 0
    while s + train_bars + purge_bars + test_bars <= n:
        test_first = s + train_bars + purge_bars
        order = len(folds) + 1
        folds.append(
            Fold(
                fold_name=f"fold_{order}",
                fold_order=order,
                train_start=bound(0 if mode == WalkForwardMode.EXPANDING else s),
                train_end=bound(s + train_bars),
                test_start=bound(test_first),
                test_end=bound(test_first + test_bars),
            )
        )
        s += step_bars
    return folds


__all__ = ["Fold", "WalkForwardMode", "walk_forward_folds"]
