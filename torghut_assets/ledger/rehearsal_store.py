"""Operational rehearsals (`operational_rehearsals`): kill-switch and rollback dry runs, runbook review.

Gate 4 reads the latest rehearsal of each kind; one older than the policy allows counts as missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import canonical_value, sha256_hex
from torghut_assets.domain.gate_evidence import Readiness
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc

KILL_SWITCH = "kill_switch_dry_run"
ROLLBACK = "rollback_dry_run"
RUNBOOK = "runbook_review"
KINDS = (KILL_SWITCH, ROLLBACK, RUNBOOK)

table = schema.operational_rehearsals


def record_rehearsal(
    conn: Connection, *, kind: str, passed: bool, detail: dict[str, Any], actor: str, at: dt.datetime
) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown rehearsal kind {kind!r}")
    content = {"kind": kind, "passed": passed, "detail": detail, "actor": actor, "at": at}
    evidence_hash = sha256_hex(content)
    row = {
        "id": row_id("operational_rehearsals", evidence_hash),
        "rehearsal_id": "wprh-" + evidence_hash[:24],
        "kind": kind,
        "passed": passed,
        "detail": canonical_value(detail),
        "actor": actor,
        "at": at,
        "evidence_hash": evidence_hash,
        "created_at": at,
    }
    conn.execute(table.insert().values(**row))
    return row


def latest_by_kind(conn: Connection) -> dict[str, dict[str, Any]]:
    latest = sa.select(table.c.kind, sa.func.max(table.c.at).label("at")).group_by(table.c.kind).subquery()
    query = sa.select(table).join(latest, sa.and_(table.c.kind == latest.c.kind, table.c.at == latest.c.at))
    return {str(r["kind"]): dict(r) for r in conn.execute(query).mappings()}


def readiness(conn: Connection, *, now: dt.datetime, max_age: dt.timedelta) -> Readiness:
    """Fresh rehearsal outcomes; stale or absent ones are None (missing evidence)."""
    fresh: dict[str, bool] = {}
    for kind, row in latest_by_kind(conn).items():
        at = as_utc(row["at"])
        if at is not None and now - max_age <= at.to_pydatetime() <= now:
            fresh[kind] = bool(row["passed"])
    drills = [fresh.get(KILL_SWITCH), fresh.get(ROLLBACK)]
    return Readiness(
        operational_ready=None if None in drills else all(d is True for d in drills),
        runbook_validated=fresh.get(RUNBOOK),
        kill_switch_dry_run_passed=fresh.get(KILL_SWITCH),
        rollback_dry_run_passed=fresh.get(ROLLBACK),
    )
