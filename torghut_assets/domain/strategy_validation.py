"""The checks a strategy and its use must pass before any lane trades it (docs/strategies.md).

Why checks of their own: a plug-in is someone else's code, and what it declares (its version, parameters,
research grid) becomes ledger identity and run config. A bad declaration must be refused when the lane
catalog loads, with every problem named at once, not discovered as a wrong order id or a crashed window.
The same rules judge a lane's overrides and a research grid, so the catalog and research agree on what a
strategy accepts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from torghut_assets.domain.strategy_interface import DEFAULT_NOTIONAL_PER_TRADE, SIZING_PARAM, Strategy

MAX_VERSION_LENGTH = 32  # ledger `strategies.version`
STRATEGY_MEMBERS = ("name", "version", "default_params", "default_grid", "actions")

_VERSION = re.compile(rf"[0-9][0-9A-Za-z.+_-]{{0,{MAX_VERSION_LENGTH - 1}}}")


def finite_number(value: object) -> bool:
    """Booleans and NaN are refused: a parameter or grid value becomes part of a candidate's id and of a
    decision's hash, where `True` or NaN would silently never match again."""
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
    members = {m: getattr(strategy, m) for m in STRATEGY_MEMBERS}
    problems: list[str] = []
    if not callable(members["actions"]):
        problems.append(f"strategy {ref!r}: actions is not callable")
    problems += _identity_problems(ref, members["name"], members["version"])
    declared, default_problems = _default_param_problems(ref, members["default_params"])
    problems += default_problems
    problems += grid_problems(ref, declared, members["default_grid"], "default_grid")
    return problems


def _identity_problems(ref: str, name: object, version: object) -> list[str]:
    """The name shows in messages and the version in every id, so both must be usable strings."""
    problems = []
    if not isinstance(name, str) or not name.strip():
        problems.append(f"strategy {ref!r}: name {name!r} is not a non-empty string")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        problems.append(
            f"strategy {ref!r}: version {version!r} is not a version string "
            f"(1-{MAX_VERSION_LENGTH} letters, digits, '.', '+', '-', '_', starting with a digit, "
            "e.g. '0.1.0')"
        )
    return problems


def _default_param_problems(ref: str, params: object) -> tuple[set[str], list[str]]:
    """The parameter names the strategy declares (sizing always among them, since the pipeline sets it)
    and what is wrong with its defaults; the names are what its grid axes are checked against."""
    declared: set[str] = {SIZING_PARAM}
    if not isinstance(params, Mapping):
        return declared, [f"strategy {ref!r}: default_params is a {type(params).__name__}, not a mapping"]
    problems = []
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            problems.append(f"strategy {ref!r}: default_params key {key!r} is not a parameter name")
            continue
        declared.add(key)
        if not finite_number(value):
            problems.append(f"strategy {ref!r}: default_params[{key!r}] = {value!r} is not a finite number")
    return declared, problems


def grid_problems(ref: str, declared: set[str], grid: object, what: str) -> list[str]:
    """A research grid's problems: each axis must be a declared parameter with a non-empty list of finite
    numbers (`what` names the grid in messages: the strategy's `default_grid` or a lane's `grid`)."""
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
            bad = [v for v in values if not finite_number(v)]
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


def param_problems(ref: str, declared: Mapping[str, float], params: object) -> list[str]:
    """A lane's parameter overrides may only set what the strategy declares, to finite numbers: an unknown
    key would otherwise be ignored by the strategy yet still change the candidate's id."""
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
        elif not finite_number(value):
            problems.append(f"strategy {ref!r}: parameter {key!r} = {value!r} is not a finite number")
    return problems


__all__ = [
    "MAX_VERSION_LENGTH",
    "STRATEGY_MEMBERS",
    "declaration_problems",
    "declared_params",
    "finite_number",
    "grid_problems",
    "param_problems",
]
