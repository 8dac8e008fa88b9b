"""Bring your own strategy: the interface a strategy implements, how a reference to one is resolved, and
how it is called so that a broken strategy fails its own lane window and nothing else (docs/strategies.md).

Why a small interface. The pipeline needs exactly one thing from a strategy: for each row of a signal frame,
buy, sell or hold. Sizing, risk limits, the session-close flatten, the backtest and the ledger stay the
pipeline's, so a strategy cannot bypass them, and a plug-in written against this module needs nothing but
pandas and numpy.

Why an import path. A lane names its strategy as a string (`ema_trend`, `desk_strategies:BollingerReversion`),
so a desk ships its strategy as an ordinary Python package installed next to this one; nothing here has to
change, and the reference string is the strategy's identity in the ledger (`StrategySpec.strategy_id` =
uuid5(reference, version)).

Why calls are guarded. A plug-in is someone else's code running inside a lane window: it may raise, return
garbage or hang. Each call gets its own copy of the frame, runs in a worker thread under a time budget, and
its answer is checked before the pipeline uses it; any failure raises a `StrategyRunError` naming the
strategy, the lane window and the problem, which the Dagster layer turns into a failure of that window
only.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import math
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import ClassVar, Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from torghut_assets.domain.strategies import (
    BUILTIN_STRATEGIES,
    STRATEGY_TYPES,
    BuiltinStrategy,
    SortedColumns,
    StrategySpec,
    bar_layout,
    sorted_columns,
    sorted_frame,
)

DEFAULT_TIMEOUT_SECONDS = 30.0
"""Per-call time budget of a plug-in (`TORGHUT_STRATEGY_TIMEOUT_SECONDS`)."""

SIZING_PARAM = "notional_per_trade"
DEFAULT_NOTIONAL_PER_TRADE = 1000.0
"""Every strategy has `notional_per_trade`: the pipeline sizes orders with it (decisions and backtest). A
strategy may declare it to choose its own default; otherwise it gets this one."""

MAX_REF_LENGTH = 64  # ledger `strategies.strategy_type`
MAX_VERSION_LENGTH = 32  # ledger `strategies.version`
STRATEGY_MEMBERS = ("name", "version", "default_params", "default_grid", "actions")
ACTIONS = (-1, 0, 1)

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_IMPORT_PATH = re.compile(rf"({_IDENTIFIER}(?:\.{_IDENTIFIER})*):({_IDENTIFIER}(?:\.{_IDENTIFIER})*)")
_VERSION = re.compile(rf"[0-9][0-9A-Za-z.+_-]{{0,{MAX_VERSION_LENGTH - 1}}}")

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
    each naming the reference and the key at fault."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class StrategyRunError(RuntimeError):
    """A strategy call failed. `code` is the machine-readable reason, `strategy` the reference and version,
    `window` the lane window being computed (when the caller said, see `strategy_scope`)."""

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


# --- resolution ------------------------------------------------------------------------------------------

_RESOLVED: dict[str, tuple[ModuleType, Strategy]] = {}


def resolve_strategy(ref: str) -> Strategy:
    """The strategy a reference names: a built-in name (`legacy_macd_rsi`, `ema_trend`) or an import path
    `package.module:attribute`, whose attribute is a Strategy instance or a class building one with no
    arguments. Raises `StrategyLoadError` listing every problem with it.

    A plug-in is resolved once per import of its module (a module imported again, e.g. after being
    removed from `sys.modules`, is resolved again)."""
    if not isinstance(ref, str) or not ref.strip():
        raise StrategyLoadError([f"strategy reference {ref!r} is empty"])
    builtin = BUILTIN_STRATEGIES.get(ref)
    if builtin is not None:
        return builtin
    if len(ref) > MAX_REF_LENGTH:
        raise StrategyLoadError([f"strategy {ref!r}: reference is longer than {MAX_REF_LENGTH} characters"])
    match = _IMPORT_PATH.fullmatch(ref)
    if match is None:
        raise StrategyLoadError(
            [
                f"strategy {ref!r} is not a built-in ({', '.join(STRATEGY_TYPES)}) nor an import path "
                "'package.module:attribute'"
            ]
        )
    module_name, attribute = match.groups()
    cached = _RESOLVED.get(ref)
    if cached is not None and sys.modules.get(module_name) is cached[0]:
        return cached[1]
    module = _import(ref, module_name)
    found = _attribute(ref, module, attribute)
    strategy = _instance(ref, found)
    problems = declaration_problems(ref, strategy)
    if problems:
        raise StrategyLoadError(problems)
    resolved = cast(Strategy, strategy)
    _RESOLVED[ref] = (module, resolved)
    return resolved


def _import(ref: str, module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise StrategyLoadError(
            [f"strategy {ref!r}: module {module_name!r} cannot be imported ({type(exc).__name__}: {exc})"]
        ) from exc
    except Exception as exc:  # a module that raises while importing: any exception, named
        raise StrategyLoadError(
            [f"strategy {ref!r}: importing module {module_name!r} raised {type(exc).__name__}: {exc}"]
        ) from exc


def _attribute(ref: str, module: ModuleType, attribute: str) -> object:
    found: object = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise StrategyLoadError(
                [f"strategy {ref!r}: module {module.__name__!r} has no attribute {attribute!r}"]
            )
        found = getattr(found, part)
    return found


def _instance(ref: str, found: object) -> object:
    if not isinstance(found, type):
        return found
    try:
        return found()
    except Exception as exc:
        raise StrategyLoadError(
            [
                f"strategy {ref!r}: class {found.__name__} cannot be built without arguments "
                f"({type(exc).__name__}: {exc}); point at an instance or a zero-argument class"
            ]
        ) from exc


def _finite_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )


def declaration_problems(ref: str, strategy: object) -> list[str]:
    """What makes `strategy` unusable as the strategy `ref` names, one message per problem."""
    missing = [m for m in STRATEGY_MEMBERS if not hasattr(strategy, m)]
    if missing:
        return [
            f"strategy {ref!r}: {type(strategy).__name__} is not a Strategy: missing {', '.join(missing)} "
            "(docs/strategies.md)"
        ]
    problems: list[str] = []
    if not callable(strategy.actions):  # type: ignore[attr-defined]
        problems.append(f"strategy {ref!r}: actions is not callable")
    name = strategy.name  # type: ignore[attr-defined]
    if not isinstance(name, str) or not name.strip():
        problems.append(f"strategy {ref!r}: name {name!r} is not a non-empty string")
    version = strategy.version  # type: ignore[attr-defined]
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        problems.append(
            f"strategy {ref!r}: version {version!r} is not a version string "
            f"(1-{MAX_VERSION_LENGTH} letters, digits, '.', '+', '-', '_', starting with a digit, "
            "e.g. '0.1.0')"
        )
    params = strategy.default_params  # type: ignore[attr-defined]
    declared: set[str] = {SIZING_PARAM}
    if not isinstance(params, Mapping):
        problems.append(f"strategy {ref!r}: default_params is a {type(params).__name__}, not a mapping")
    else:
        for key, value in params.items():
            if not isinstance(key, str) or not key:
                problems.append(f"strategy {ref!r}: default_params key {key!r} is not a parameter name")
                continue
            declared.add(key)
            if not _finite_number(value):
                problems.append(
                    f"strategy {ref!r}: default_params[{key!r}] = {value!r} is not a finite number"
                )
    grid = strategy.default_grid  # type: ignore[attr-defined]
    problems += _grid_problems(ref, declared, grid, "default_grid")
    return problems


def _grid_problems(ref: str, declared: set[str], grid: object, what: str) -> list[str]:
    if not isinstance(grid, Mapping):
        return [f"strategy {ref!r}: {what} is a {type(grid).__name__}, not a mapping of parameter to values"]
    problems = []
    names = ", ".join(sorted(declared))
    for key, values in grid.items():
        if key not in declared:
            problems.append(
                f"strategy {ref!r}: {what} axis {key!r} is not a parameter of the strategy ({names})"
            )
        elif isinstance(values, str | bytes) or not isinstance(values, Sequence):
            problems.append(f"strategy {ref!r}: {what} axis {key!r} is {values!r}, not a list of numbers")
        elif len(values) == 0:
            problems.append(f"strategy {ref!r}: {what} axis {key!r} is empty")
        else:
            bad = [v for v in values if not _finite_number(v)]
            if bad:
                problems.append(
                    f"strategy {ref!r}: {what} axis {key!r} holds {', '.join(map(repr, bad))}, "
                    "not finite numbers"
                )
    return problems


def declared_params(strategy: Strategy) -> dict[str, float]:
    """Every parameter of the strategy at its default, `notional_per_trade` included."""
    return {
        SIZING_PARAM: DEFAULT_NOTIONAL_PER_TRADE,
        **{k: float(v) for k, v in strategy.default_params.items()},
    }


def _param_problems(ref: str, declared: Mapping[str, float], params: object) -> list[str]:
    if params is None:
        return []
    if not isinstance(params, Mapping):
        return [f"strategy {ref!r}: params is a {type(params).__name__}, not a mapping of parameter to value"]
    problems = []
    for key, value in params.items():
        if key not in declared:
            problems.append(
                f"strategy {ref!r}: parameter {key!r} is not declared by the strategy "
                f"({', '.join(sorted(declared))})"
            )
        elif not _finite_number(value):
            problems.append(f"strategy {ref!r}: parameter {key!r} = {value!r} is not a finite number")
    return problems


def strategy_problems(
    ref: str, params: Mapping[str, float] | None, grid: Mapping[str, Sequence[float]] | None
) -> list[str]:
    """Every problem with using strategy `ref` with these parameter overrides and this research grid, at
    once, one message per problem, each naming the reference and the key: an unknown or unloadable
    reference (then nothing else can be checked), a parameter or grid axis the strategy does not declare,
    an empty axis, a value that is not a finite number. Empty when all is well."""
    try:
        strategy = resolve_strategy(ref)
    except StrategyLoadError as exc:
        return list(exc.problems)
    declared = declared_params(strategy)
    problems = _param_problems(ref, declared, params)
    if grid is not None:
        problems += _grid_problems(ref, set(declared), grid, "grid")
    return problems


# --- specs -----------------------------------------------------------------------------------------------


def strategy_label(spec: StrategySpec) -> str:
    return f"{spec.strategy_type}@{spec.version}"


def strategy_spec(ref: str, params: Mapping[str, float] | None = None) -> StrategySpec:
    """`strategies.default_strategy`: the reference at its declared defaults, `params` overriding."""
    strategy = resolve_strategy(ref)
    declared = declared_params(strategy)
    problems = _param_problems(ref, declared, params)
    if problems:
        raise StrategyLoadError(problems)
    values = {**declared, **{k: float(v) for k, v in (params or {}).items()}}
    return StrategySpec(name=ref, strategy_type=ref, version=strategy.version, params=tuple(values.items()))


def strategy_grid(ref: str) -> dict[str, tuple[float, ...]]:
    """`strategies.default_grid`: the strategy's declared research grid."""
    return {k: tuple(float(v) for v in values) for k, values in resolve_strategy(ref).default_grid.items()}


def strategy_for(spec: StrategySpec) -> Strategy:
    """The strategy a spec was built from, refusing a spec of another version: actions computed by version
    B must never be recorded under version A's id."""
    strategy = resolve_strategy(spec.strategy_type)
    if strategy.version != spec.version:
        raise StrategyLoadError(
            [
                f"strategy {spec.strategy_type!r}: version {spec.version} was asked for but version "
                f"{strategy.version} is installed"
            ]
        )
    return strategy


def spec_grid(spec: StrategySpec, grid: Mapping[str, Sequence[float]] | None = None) -> list[StrategySpec]:
    """`strategies.parameter_grid`."""
    strategy = strategy_for(spec)
    axes: Mapping[str, Sequence[float]] = strategy.default_grid if grid is None else grid
    problems = _grid_problems(spec.strategy_type, {k for k, _ in spec.params}, axes, "grid")
    if problems:
        raise StrategyLoadError(problems)
    names = sorted(axes)
    values = [tuple(float(v) for v in axes[n]) for n in names]
    return [spec.with_params(**dict(zip(names, combo, strict=True))) for combo in itertools.product(*values)]


# --- calls -----------------------------------------------------------------------------------------------


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
    """The answer as int8 actions, or `StrategyOutputError` saying what is wrong with it."""

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
    "DEFAULT_TIMEOUT_SECONDS",
    "SIZING_PARAM",
    "Strategy",
    "StrategyFailedError",
    "StrategyLoadError",
    "StrategyOutputError",
    "StrategyRunError",
    "StrategyScope",
    "StrategyTimeoutError",
    "checked_actions",
    "current_scope",
    "declared_params",
    "resolve_strategy",
    "run_strategy",
    "strategy_for",
    "strategy_problems",
    "strategy_scope",
    "strategy_spec",
]
