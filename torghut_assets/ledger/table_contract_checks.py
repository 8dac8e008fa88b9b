"""Evaluate table contracts (`ledger/table_contracts.py`) on stored rows.

`check_partition` reads one lane window of a table and judges every rule of its contract on those rows:
the column rules row by row, the row rules (`NotBefore`), and uniqueness (the natural key, `Unique`,
`UniqueTogether`) among the rows read. The blocking partition checks of the lane-window assets
(`defs/lane_window/table_checks.py`) are this, per table the asset writes. A window that wrote no rows
has nothing to violate and passes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.table_contracts import (
    ColumnRule,
    NotBefore,
    Severity,
    TableContract,
    Unique,
    UniqueTogether,
)

MAX_EXAMPLES = 3
_MAX_VALUE_CHARS = 80  # a quoted sha256 (66) fits

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    """Rows of `table` breaking one rule: `column` names the column(s), `rule` the rule's name."""

    table: str
    column: str
    rule: str
    severity: Severity
    rows: int
    description: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableVerdict:
    table: str
    rows: int
    rules: int
    violations: tuple[Violation, ...]

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "warn")


def read_partition(
    conn: Connection, contract: TableContract, lane: str, window_start: dt.datetime
) -> list[Row]:
    """The table's rows of one lane window, as `queries.window_rows` returns them (UTC-aware datetimes,
    numerics as floats, JSON decoded)."""
    if contract.partition_column is None:
        raise ValueError(f"{contract.table} is not partitioned by lane window")
    return list(queries.window_rows(conn, schema.metadata.tables[contract.table], lane, window_start))


def check_partition(
    conn: Connection, contract: TableContract, lane: str, window_start: dt.datetime
) -> TableVerdict:
    return evaluate(contract, read_partition(conn, contract, lane, window_start))


def evaluate(contract: TableContract, rows: Sequence[Row]) -> TableVerdict:
    """Judge every rule of `contract` on `rows`; violations come in the contract's rule order."""
    violations: list[Violation] = []
    rules = contract.all_rules()
    for column, rule in rules:
        if isinstance(rule, Unique):
            bad = _duplicates(rows, (column,), None)
        elif isinstance(rule, UniqueTogether):  # and the natural key
            bad = _duplicates(rows, rule.columns, rule.scope)
        elif isinstance(rule, ColumnRule):
            bad = [row for row in rows if rule.violated(row.get(column), row)]
        elif isinstance(rule, NotBefore):
            bad = [row for row in rows if rule.violated(row)]
        else:
            raise TypeError(f"{contract.table}: unknown rule {rule!r}")
        if bad:
            violations.append(
                Violation(
                    table=contract.table,
                    column=column,
                    rule=rule.name,
                    severity=rule.severity,
                    rows=len(bad),
                    description=rule.describe(),
                    examples=_examples(contract, column, bad),
                )
            )
    return TableVerdict(contract.table, len(rows), len(rules), tuple(violations))


def _duplicates(rows: Iterable[Row], columns: Sequence[str], scope: tuple[str, Any] | None) -> list[Row]:
    """Rows whose key another row shares (keys with a NULL part are never equal, as in SQL)."""
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in rows:
        if scope is not None and row.get(scope[0]) != scope[1]:
            continue
        key = tuple(row.get(c) for c in columns)
        if any(part is None for part in key):
            continue
        groups[key].append(row)
    return [row for group in groups.values() if len(group) > 1 for row in group]


def _short(value: Any) -> str:
    text = value.isoformat() if isinstance(value, dt.datetime) else repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _examples(contract: TableContract, column: str, rows: Sequence[Row]) -> tuple[str, ...]:
    """Up to MAX_EXAMPLES distinct offending values, each with the row's label (`client_order_id`, ...)."""
    label = contract.label_column
    columns = [c.strip() for c in column.split(",")]
    seen: dict[str, None] = {}
    for row in rows:
        values = ", ".join(_short(row.get(c)) for c in columns)
        text = values if label in columns else f"{label}={_short(row.get(label))}: {values}"
        seen.setdefault(text)
        if len(seen) == MAX_EXAMPLES:
            break
    return tuple(seen)


def violations_markdown(verdicts: Sequence[TableVerdict]) -> str:
    """A small markdown table of the violations, or a one-line all-clear naming the rows checked."""
    rows = sum(v.rows for v in verdicts)
    tables = ", ".join(f"`{v.table}`" for v in verdicts)
    violations = [x for v in verdicts for x in v.violations]
    if not violations:
        if rows == 0:
            return f"0 rows in {tables}: the window wrote none, nothing to violate."
        return f"No violation in {rows} rows of {tables}."
    lines = [
        "| table | column | rule | severity | rows | examples |",
        "|---|---|---|---|---|---|",
    ]
    for x in violations:
        examples = "<br>".join(_cell(e) for e in x.examples)
        lines.append(
            f"| `{x.table}` | `{x.column}` | {x.rule}: {_cell(x.description)} "
            f"| {x.severity} | {x.rows} | {examples} |"
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
