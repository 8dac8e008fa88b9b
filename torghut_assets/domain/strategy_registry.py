"""Bring your own strategy: how a reference to a strategy is resolved, and the spec built from it
(docs/strategies.md). The interface a strategy implements is `strategy_interface`, its checks
`strategy_validation`, the guarded call `strategy_calls`.

Why an import path. A lane names its strategy as a string (`ema_trend`, `desk_strategies:BollingerReversion`),
so a desk ships its strategy as an ordinary Python package installed next to this one; nothing here has to
change, and the reference string is the strategy's identity in the ledger (`StrategySpec.strategy_id` =
uuid5(reference, version)).

Why a spec refuses another version: actions computed by one version of a strategy must never be recorded
under another version's id, so every spec is checked against the installed strategy before it is used.
"""

from __future__ import annotations

import importlib
import itertools
import re
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import cast

from torghut_assets.domain.strategies import BUILTIN_STRATEGIES, STRATEGY_TYPES, StrategySpec
from torghut_assets.domain.strategy_interface import Strategy, StrategyLoadError
from torghut_assets.domain.strategy_validation import (
    declaration_problems,
    declared_params,
    grid_problems,
    param_problems,
)

MAX_REF_LENGTH = 64  # ledger `strategies.strategy_type`

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_IMPORT_PATH = re.compile(rf"({_IDENTIFIER}(?:\.{_IDENTIFIER})*):({_IDENTIFIER}(?:\.{_IDENTIFIER})*)")

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
    problems = param_problems(ref, declared, params)
    if grid is not None:
        problems += grid_problems(ref, set(declared), grid, "grid")
    return problems


# --- specs -----------------------------------------------------------------------------------------------


def strategy_label(spec: StrategySpec) -> str:
    """How messages and worker threads name a strategy: the version says which code answered."""
    return f"{spec.strategy_type}@{spec.version}"


def strategy_spec(ref: str, params: Mapping[str, float] | None = None) -> StrategySpec:
    """`strategies.default_strategy`: the reference at its declared defaults, `params` overriding."""
    strategy = resolve_strategy(ref)
    declared = declared_params(strategy)
    problems = param_problems(ref, declared, params)
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
    problems = grid_problems(spec.strategy_type, {k for k, _ in spec.params}, axes, "grid")
    if problems:
        raise StrategyLoadError(problems)
    names = sorted(axes)
    values = [tuple(float(v) for v in axes[n]) for n in names]
    return [spec.with_params(**dict(zip(names, combo, strict=True))) for combo in itertools.product(*values)]


__all__ = [
    "MAX_REF_LENGTH",
    "resolve_strategy",
    "spec_grid",
    "strategy_for",
    "strategy_grid",
    "strategy_label",
    "strategy_problems",
    "strategy_spec",
]
