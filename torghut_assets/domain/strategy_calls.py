"""How a strategy is called so that a broken one fails its own lane window and nothing else
(docs/strategies.md).

Why calls are guarded. A plug-in is someone else's code running inside a lane window: it may raise, return
garbage or hang. Each call gets its own copy of the frame, runs in a worker thread under a time budget, and
its answer is checked before the pipeline uses it; any failure raises a `StrategyRunError` naming the
strategy, the lane window and the problem, which the Dagster layer turns into a failure of that window
only. Built-in strategies are trusted package code and skip the guard, which keeps research over large
grids fast.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from torghut_assets.domain.strategies import (
    BuiltinStrategy,
    SortedColumns,
    StrategySpec,
    bar_layout,
    sorted_columns,
    sorted_frame,
)
from torghut_assets.domain.strategy_interface import (
    DEFAULT_TIMEOUT_SECONDS,
    Actions,
    Strategy,
    StrategyFailedError,
    StrategyOutputError,
    StrategyTimeoutError,
)
from torghut_assets.domain.strategy_registry import strategy_for, strategy_label

ACTIONS = (-1, 0, 1)


@dataclass(frozen=True)
class StrategyScope:
    """Where strategy calls happen: the lane window (for messages) and the per-call time budget."""

    window: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


_DEFAULT_SCOPE = StrategyScope()
_SCOPE: ContextVar[StrategyScope | None] = ContextVar("torghut_strategy_scope", default=None)


@contextlib.contextmanager
def strategy_scope(
    *, window: str | None = None, timeout_seconds: float | None = None
) -> Iterator[StrategyScope]:
    """Strategy calls inside the block name `window` in their errors and get `timeout_seconds` each.

    A context variable rather than parameters: the calls happen deep inside research, stress and decision
    code that has no business knowing about lane windows or time budgets."""
    current = current_scope()
    budget = current.timeout_seconds if timeout_seconds is None else float(timeout_seconds)
    if not math.isfinite(budget) or budget <= 0:
        raise ValueError(
            f"strategy time budget must be a positive number of seconds, not {timeout_seconds!r}"
        )
    token = _SCOPE.set(StrategyScope(window if window is not None else current.window, budget))
    try:
        yield current_scope()
    finally:
        _SCOPE.reset(token)


def current_scope() -> StrategyScope:
    """Outside any `strategy_scope` a call still gets the default budget: no call runs unbounded."""
    return _SCOPE.get() or _DEFAULT_SCOPE


def _call_with_budget(call: Callable[[], object], label: str, scope: StrategyScope) -> object:
    """Run `call` in a daemon worker thread and wait at most the scope's budget.

    A thread cannot be killed from inside the process: a strategy that overruns is abandoned, not stopped.
    Its thread runs on in the background until it returns (its answer is then dropped); being a daemon
    thread it never keeps the process from exiting. The window fails at once with `strategy_timeout`."""
    outcome: dict[str, object] = {}
    finished = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # reported to the caller, whatever it is
            outcome["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=work, name=f"strategy {label}", daemon=True)
    worker.start()
    if not finished.wait(scope.timeout_seconds):
        raise StrategyTimeoutError(
            label,
            f"no answer within {scope.timeout_seconds:g} s (TORGHUT_STRATEGY_TIMEOUT_SECONDS); the call is "
            "abandoned, its thread cannot be stopped",
            scope.window,
        )
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise StrategyFailedError(label, f"raised {type(error).__name__}: {error}", scope.window) from error
    return outcome.get("value")


def checked_actions(raw: object, rows: int, label: str, window: str | None = None) -> Actions:
    """The answer as int8 actions, or `StrategyOutputError` saying what is wrong with it: first its
    shape (one value per row, in the frame's order), then its values."""
    values = _one_value_per_row(raw, rows, label, window)
    return _valid_actions(values, rows, label, window)


def _one_value_per_row(raw: object, rows: int, label: str, window: str | None) -> np.ndarray:
    """A Series is accepted only on the frame's own RangeIndex: another index would mean the strategy
    reordered or dropped rows, and its answer would be applied to the wrong bars."""

    def bad(problem: str) -> StrategyOutputError:
        return StrategyOutputError(label, problem, window)

    if raw is None:
        raise bad(f"returned None; expected {rows} actions in {{-1, 0, 1}}")
    if isinstance(raw, pd.DataFrame):
        raise bad(
            f"returned a DataFrame of shape {raw.shape}; expected {rows} actions (a Series or 1-d array)"
        )
    if isinstance(raw, pd.Series):
        if not raw.index.equals(pd.RangeIndex(len(raw))):
            raise bad("returned a Series whose index is not the frame's RangeIndex (0..n-1)")
        raw = raw.to_numpy()
    try:
        values = np.asarray(raw)
    except (TypeError, ValueError) as exc:
        raise bad(f"returned a {type(raw).__name__} that is not an array of actions ({exc})") from None
    if values.ndim != 1:
        raise bad(f"returned {type(raw).__name__} of shape {values.shape}; expected ({rows},)")
    if len(values) != rows:
        raise bad(f"returned {len(values)} actions for {rows} rows")
    return values


def _valid_actions(values: np.ndarray, rows: int, label: str, window: str | None) -> Actions:
    """Only -1, 0 and +1 become orders; NaN or a 2 is refused rather than rounded, since guessing what a
    strategy meant would trade on an answer it never gave."""

    def bad(problem: str) -> StrategyOutputError:
        return StrategyOutputError(label, problem, window)

    if values.dtype.kind not in "iuf":
        raise bad(f"returned non-numeric actions (dtype {values.dtype}); expected -1, 0 or 1 per row")
    floats = values.astype(np.float64)
    missing = np.flatnonzero(np.isnan(floats))
    if len(missing):
        raise bad(f"returned NaN for {len(missing)} of {rows} rows (first at row {int(missing[0])})")
    wrong = ~np.isin(floats, ACTIONS)
    if wrong.any():
        shown = ", ".join(f"{v:g}" for v in np.unique(floats[wrong])[:5])
        raise bad(
            f"returned {int(wrong.sum())} action(s) outside {{-1, 0, 1}} (values {shown}; first at row "
            f"{int(np.flatnonzero(wrong)[0])})"
        )
    out: Actions = floats.astype(np.int8)
    return out


def run_strategy(strategy: Strategy, spec: StrategySpec, frame: pd.DataFrame) -> Actions:
    """One guarded call: `frame` must already be sorted with a RangeIndex (see `Strategy`); the strategy gets
    its own copy of it and a read-only view of the spec's parameters, within the scope's time budget, and
    its answer is checked. Raises `StrategyRunError`."""
    scope = current_scope()
    label = strategy_label(spec)
    own = frame.copy(deep=False)  # copy-on-write: the strategy's writes never reach `frame`
    params = MappingProxyType(dict(spec.params))
    raw = _call_with_budget(lambda: strategy.actions(own, params), label, scope)
    return checked_actions(raw, len(frame), label, scope.window)


def spec_actions(signals: pd.DataFrame, spec: StrategySpec) -> pd.Series:
    """`strategies.strategy_actions`."""
    strategy = strategy_for(spec)
    layout = bar_layout(signals)
    out = np.zeros(len(signals), dtype=np.int8)
    if not len(signals):
        pass  # no rows, no actions: a strategy is never asked about an empty frame
    elif isinstance(strategy, BuiltinStrategy):
        out[layout.order] = strategy.actions_in_order(sorted_columns(signals, layout), dict(spec.params))
    else:
        out[layout.order] = run_strategy(strategy, spec, sorted_frame(signals, layout.order))
    return pd.Series(out, index=signals.index, name="action", dtype="int8")


def spec_actions_in_order(columns: SortedColumns, spec: StrategySpec) -> Actions:
    """`strategies.actions_in_order`."""
    strategy = strategy_for(spec)
    if isinstance(strategy, BuiltinStrategy):
        return strategy.actions_in_order(columns, dict(spec.params))
    if not len(columns.price):
        return np.zeros(0, dtype=np.int8)
    return run_strategy(strategy, spec, columns.sorted_frame())


__all__ = [
    "StrategyScope",
    "checked_actions",
    "current_scope",
    "run_strategy",
    "spec_actions",
    "spec_actions_in_order",
    "strategy_scope",
]
