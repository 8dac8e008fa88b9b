"""Reading one value of the lane catalog: the problem list every check writes to, and the typed readers
(table, number, string) that report instead of raising.

Why report instead of raise: a desk editing the catalog should see every mistake of the file in one
`CatalogError`, each as `<file>: lane '<lane>': <key>: <problem>`, not fix them one load at a time. So
each reader records what is wrong and returns None, and the caller carries on with the next key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CatalogProblems:
    """Every problem found so far, each already prefixed with the file and where in it."""

    source: str
    found: list[str] = field(default_factory=list)

    def add(self, where: str | None, key: str, problem: str) -> None:
        """`where` is `lane '<name>'` or `account '<label>'`, None for a top-level key."""
        self.found.append(
            f"{self.source}: {where}: {key}: {problem}" if where else f"{self.source}: {key}: {problem}"
        )


def type_name(value: object) -> str:
    """TOML's words for a value's type, since that is what the desk wrote."""
    return {bool: "a boolean", str: "a string", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def table(value: object, report: CatalogProblems, where: str | None, key: str) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    report.add(where, key, f"must be a table, got {type_name(value)}")
    return None


def unknown_keys(
    found: Mapping[str, Any], known: Sequence[str], report: CatalogProblems, where: str | None, prefix: str
) -> None:
    """A misspelt key would otherwise be silently ignored and its default used instead."""
    for key in sorted(set(found) - set(known)):
        report.add(where, f"{prefix}{key}", f"unknown key (known: {', '.join(known)})")


def number(
    value: object,
    report: CatalogProblems,
    where: str | None,
    key: str,
    *,
    integer: bool = False,
    minimum: float = 0.0,
    strict: bool = True,
    maximum: float | None = None,
) -> float | None:
    """A finite number (an integral one when `integer`) within [minimum, maximum] (> minimum when strict)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        report.add(where, key, f"must be {'an integer' if integer else 'a number'}, got {type_name(value)}")
        return None
    found = float(value)
    if not math.isfinite(found):
        report.add(where, key, f"must be finite, got {value!r}")
        return None
    if integer and not found.is_integer():
        report.add(where, key, f"must be a whole number, got {value!r}")
        return None
    if found < minimum or (strict and found == minimum):
        report.add(where, key, f"must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
        return None
    if maximum is not None and found > maximum:
        report.add(where, key, f"must be at most {maximum:g}, got {value!r}")
        return None
    return found


def string(value: object, report: CatalogProblems, where: str | None, key: str) -> str | None:
    """A non-empty string, stripped: a blank strategy or account name can never be resolved."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    report.add(
        where,
        key,
        f"must be a non-empty string, got {'an empty one' if isinstance(value, str) else type_name(value)}",
    )
    return None


def text(value: object, report: CatalogProblems, where: str | None, key: str) -> str:
    """Free text such as a description: any string, else reported and left empty."""
    if isinstance(value, str):
        return value
    report.add(where, key, f"must be a string, got {type_name(value)}")
    return ""


def flag(value: object, report: CatalogProblems, where: str | None, key: str) -> bool | None:
    """A TOML boolean only: `"false"` as a string is truthy in Python and would mean the opposite."""
    if isinstance(value, bool):
        return value
    report.add(where, key, f"must be true or false, got {type_name(value)}")
    return None


def float_table(value: object, report: CatalogProblems, where: str, key: str) -> dict[str, float]:
    """A table of any finite numbers (a lane's params: their meaning is the strategy's to check)."""
    found = table(value, report, where, key)
    out: dict[str, float] = {}
    for name, raw in (found or {}).items():
        parsed = number(raw, report, where, f"{key}.{name}", minimum=-math.inf)
        if parsed is not None:
            out[name] = parsed
    return out


def section(
    lane: Mapping[str, Any], name: str, known: Sequence[str], report: CatalogProblems, where: str
) -> dict[str, Any]:
    """An optional sub-table of a lane with its unknown keys reported; empty when absent or not a table."""
    if name not in lane:
        return {}
    found = table(lane[name], report, where, name)
    if found is None:
        return {}
    unknown_keys(found, known, report, where, f"{name}.")
    return found


__all__ = [
    "CatalogProblems",
    "flag",
    "float_table",
    "number",
    "section",
    "string",
    "table",
    "text",
    "type_name",
    "unknown_keys",
]
