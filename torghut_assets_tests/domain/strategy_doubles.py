"""Strategies that misbehave, or record what they were given, for the strategy interface tests. Each is
referenced by import path (`torghut_assets_tests.domain.strategy_doubles:Raising`), as a lane would."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

MODULE = "torghut_assets_tests.domain.strategy_doubles"
RELEASE = threading.Event()
"""Set it to let a `Slow` call that the test abandoned finish (so no thread outlives the test run)."""


def ref(attribute: str) -> str:
    return f"{MODULE}:{attribute}"


class _Double:
    name = "double"
    version = "1.0.0"
    default_params: Mapping[str, float] = {"threshold": 1.0}
    default_grid: Mapping[str, Sequence[float]] = {"threshold": (1.0, 2.0)}

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        return np.zeros(len(signals), dtype=np.int8)


class Holding(_Double):
    """A well-behaved strategy that never trades."""


class Raising(_Double):
    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        raise ZeroDivisionError("the desk's model divided by zero")


class WrongLength(_Double):
    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        return np.zeros(len(signals) + 1, dtype=np.int8)


class Nans(_Double):
    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        out = np.zeros(len(signals))
        out[1] = np.nan
        return out


class OutOfRange(_Double):
    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        return np.full(len(signals), 2)


class Words(_Double):
    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        return ["buy"] * len(signals)


class Nothing(_Double):
    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        return None


class Slow(_Double):
    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        RELEASE.wait(30)
        return np.zeros(len(signals), dtype=np.int8)


class Mutating(_Double):
    """Vandalises the frame it is given, and answers buy everywhere."""

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        signals["price"] = -1.0
        signals.loc[0, "symbol"] = "ZZZZ"
        signals.sort_values("price", inplace=True)
        return np.ones(len(signals), dtype=np.int8)


class Recording(_Double):
    """Keeps what it was given; buys on the rows whose `macd` is above `threshold`."""

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []
        self.params: list[Mapping[str, float]] = []

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        self.frames.append(signals)
        self.params.append(params)
        return (signals["macd"].to_numpy() > params["threshold"]).astype(np.int8)


recording = Recording()


class SeriesAnswer(_Double):
    """Answers a Series on the frame's own index (allowed)."""

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        return pd.Series(np.where(signals["macd"] > params["threshold"], 1, 0), index=signals.index)


class NotAStrategy:
    name = "half"
    version = "1.0.0"


class NeedsArguments(_Double):
    def __init__(self, model_path: str) -> None:
        self.model_path = model_path


class BadVersion(_Double):
    version = "latest"


class BadDefaults(_Double):
    default_params: Mapping[str, float] = {"threshold": float("nan"), "window": "twenty"}  # type: ignore[dict-item]
    default_grid: Mapping[str, Sequence[float]] = {"threshold": (), "lookback": (1.0,)}


class Renamed(Holding):
    """The same code under another import path: another strategy, with another id."""


class NextVersion(Holding):
    version = "1.1.0"


class FailsOnHistory(_Double):
    """Fine within one session (trading), raises when handed several (research's lookback)."""

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        days = pd.DatetimeIndex(signals["event_ts"]).tz_convert("America/New_York").normalize().nunique()
        if days > 1:
            raise RuntimeError(f"cannot handle {days} sessions at once")
        return np.zeros(len(signals), dtype=np.int8)


class SlowOnHistory(_Double):
    """Quick within one session (trading), stalls when handed several (research's lookback)."""

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> object:
        if pd.DatetimeIndex(signals["event_ts"]).tz_convert("America/New_York").normalize().nunique() > 1:
            RELEASE.wait(30)
        return np.zeros(len(signals), dtype=np.int8)
