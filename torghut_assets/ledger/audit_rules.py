"""Auditable rows (`table_contracts.audit_rules`): the writers' guard and the nightly check's query.

A promotion decision, a skipped research run, a gate evaluation, a rollback or halt incident is only
evidence if it carries what makes it auditable: its rationale and reasons, its evidence bundle, the
artifact that explains a skip (docs/reconciliation.md, "Auditable rows"). Every writer of these tables
calls `require_auditable` before it writes, so the ledger only holds an unauditable row when something
wrote around the writers (by hand, an older version, an edit afterwards); the nightly
`audit_rows_complete` check (`unauditable_rows`) then names it.

Why one module: the guard and the check judge the same rule objects, so a writer refuses exactly what
the nightly check would name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.ledger import schema
from torghut_assets.ledger.table_contracts import AuditRules, audit_rules, audit_rules_for
from torghut_assets.ledger.writes import to_native


class UnauditableRow(ValueError):
    """A writer was handed a row missing what makes it auditable; nothing was written."""

    def __init__(self, table: str, problems: list[str]) -> None:
        super().__init__(f"refusing to write unauditable {table} rows: " + "; ".join(problems))
        self.table = table
        self.problems = problems


def row_label(audit: AuditRules, row: Mapping[str, Any]) -> str:
    """`<table> <label>=<value>, ...`: how a finding names the row."""
    return f"{audit.table} " + ", ".join(f"{c}={row.get(c)}" for c in audit.label_columns)


def problems(audit: AuditRules, row: Mapping[str, Any]) -> list[str]:
    """Each audit rule the row breaks, as `<column>: <rule>`."""
    return [
        f"{column}: {rule.describe()}" for column, rule in audit.rules if rule.violated(row.get(column), row)
    ]


def require_auditable(table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Raise `UnauditableRow` naming every broken audit rule of every row (a table without audit rules
    has nothing to break)."""
    audit = audit_rules_for(table)
    if audit is None:
        return
    found = [f"{row_label(audit, row)}: {problem}" for row in rows for problem in problems(audit, row)]
    if found:
        raise UnauditableRow(table, found)


def _columns(audit: AuditRules) -> list[str]:
    named = [*audit.label_columns, *(column for column, _ in audit.rules)]
    named += [when[0] for _, rule in audit.rules if (when := getattr(rule, "when", None)) is not None]
    return list(dict.fromkeys(named))


def unauditable_rows(
    conn: Connection, since: dt.datetime, until: dt.datetime
) -> tuple[dict[str, int], list[str]]:
    """Rows examined per audited table whose `time_column` falls in [since, until), and one
    `<row label>: <column>: <rule>` per broken rule. The rules are judged in Python (the same objects
    the writers use): JSON emptiness has no portable SQL, and a day holds a few hundred such rows."""
    examined: dict[str, int] = {}
    failing: list[str] = []
    for audit in audit_rules():
        table = schema.metadata.tables[audit.table]
        time = table.c[audit.time_column]
        query = (
            sa.select(*(table.c[c] for c in _columns(audit)))
            .where(time >= to_native(since), time < to_native(until))
            .order_by(time, table.c.id)
        )
        rows = [dict(r) for r in conn.execute(query).mappings()]
        examined[audit.table] = len(rows)
        failing += [f"{row_label(audit, row)}: {p}" for row in rows for p in problems(audit, row)]
    return examined, failing
