"""The contract between the pipeline and a strategy: what a strategy must be, and how each way of failing is
named (docs/strategies.md).

Why a small interface. The pipeline needs exactly one thing from a strategy: for each row of a signal frame,
buy, sell or hold. Sizing, risk limits, the session-close flatten, the backtest and the ledger stay the
pipeline's, so a strategy cannot bypass them, and a plug-in written against this module needs nothing but
pandas and numpy.

Why the errors live here rather than beside the code that raises them: the lane catalog, research, the
CLI and the Dagster layer all tell "this reference cannot be used" (configuration) from "this call went
wrong" (one lane window) without needing to know how a strategy is resolved or called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

DEFAULT_TIMEOUT_SECONDS = 30.0
"""Per-call time budget of a plug-in (`TORGHUT_STRATEGY_TIMEOUT_SECONDS`)."""

SIZING_PARAM = "notional_per_trade"
DEFAULT_NOTIONAL_PER_TRADE = 1000.0
"""Every strategy has `notional_per_trade`: the pipeline sizes orders with it (decisions and backtest). A
strategy may declare it to choose its own default; otherwise it gets this one."""

Actions = npt.NDArray[np.int8]


@runtime_checkable
class Strategy(Protocol):
    """What a strategy is: a name, a version, its parameters with their defaults and research grid, and a
    function from a signal frame to actions. Structural: a plug-in need not import or subclass this.

    * `name`: a human-readable name (messages, docs). The ledger identity is the reference the lane
      uses (the import path), not this name, so two desks may both call theirs "reversion".
    * `version`: 1-32 characters, starting with a digit (`0.1.0`). Bump it whenever `actions` can
      answer differently: the version is in the strategy id, the research run and candidate ids, and
      the replay lock, so evidence of one version is never credited to another.
    * `default_params`: every parameter `actions` reads, as finite floats. A lane or a research grid can
      set only these (and `notional_per_trade`, which the pipeline sizes orders with).
    * `default_grid`: the values research tries per parameter, when a lane does not say otherwise.
    * `actions(signals, params)`: one action per row of `signals`, -1 sell / 0 hold / +1 buy.

    The frame `actions` receives is the lane window's signal frame (the `ta_signals` columns: `symbol`,
    `event_ts`, `seq`, `price`, `macd`, `rsi14`, `boll_upper`, ...; docs/signal-sources.md) sorted by
    (symbol, event_ts, seq) with a fresh RangeIndex: row i of the answer is row i of the frame. It is the
    strategy's own copy (copy-on-write), so mutating it cannot change what the pipeline or another
    candidate sees. `params` is a read-only mapping of floats holding every declared parameter. Rows of
    one symbol are consecutive; a trading session is the America/New_York date of `event_ts`, and a
    strategy comparing a bar with the previous one should not compare across symbols or sessions. It
    must be causal: a row's action may depend on that row and earlier rows only (research replays it
    over history, trading over the session so far, and both must agree).
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def default_params(self) -> Mapping[str, float]: ...

    @property
    def default_grid(self) -> Mapping[str, Sequence[float]]: ...

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> npt.ArrayLike: ...


class StrategyLoadError(ValueError):
    """A strategy reference cannot be used: configuration, not data. `problems` lists every problem found,
    each naming the reference and the key at fault, so a desk fixes its catalog in one pass."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class StrategyRunError(RuntimeError):
    """A strategy call failed. `code` is the machine-readable reason, `strategy` the reference and version,
    `window` the lane window being computed (when the caller said, see `strategy_calls.strategy_scope`):
    enough for the Dagster layer to fail that window alone and say why."""

    code: ClassVar[str] = "strategy_error"

    def __init__(self, strategy: str, problem: str, window: str | None = None) -> None:
        self.strategy = strategy
        self.problem = problem
        self.window = window
        where = f" in lane window {window}" if window else ""
        super().__init__(f"{self.code}: strategy {strategy}{where}: {problem}")


class StrategyFailedError(StrategyRunError):
    """The strategy raised; the original exception is the `__cause__`."""

    code = "strategy_failed"


class StrategyOutputError(StrategyRunError):
    """The strategy answered, but not one action in {-1, 0, +1} per row."""

    code = "strategy_output_invalid"


class StrategyTimeoutError(StrategyRunError):
    """The strategy did not answer within its time budget."""

    code = "strategy_timeout"


__all__ = [
    "DEFAULT_NOTIONAL_PER_TRADE",
    "DEFAULT_TIMEOUT_SECONDS",
    "SIZING_PARAM",
    "Actions",
    "Strategy",
    "StrategyFailedError",
    "StrategyLoadError",
    "StrategyOutputError",
    "StrategyRunError",
    "StrategyTimeoutError",
]
