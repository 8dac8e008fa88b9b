"""Operator alerts: what each governance event says, which incident it belongs to, and its Slack message.

An alert belongs to one incident, named by its kind, lane and an id that the event already carries (the
window a continuity latch opened in, the rollback incident row, the reconciliation day and check...).
The incident key is what makes delivery exactly-once across runs and processes: the ledger records
each key once, so the same incident seen again (a re-run, a retried tick, a second process) never
pages twice. The message is plain Slack-compatible JSON (`text` + Block Kit `blocks`) so the webhook
can be Slack, Mattermost, or anything that accepts the same shape.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from torghut_assets.domain.continuity import ContinuityTransition

CONTINUITY_LATCHED = "continuity_latched"
CONTINUITY_RECOVERED = "continuity_recovered"
EMERGENCY_STOP = "emergency_stop"
RECONCILIATION_FAILED = "reconciliation_failed"
LLM_ERROR_BUDGET_SPENT = "llm_error_budget_spent"
LIVE_PROMOTION_DENIED = "live_promotion_denied"
LANE_ROLLBACK = "lane_rollback"
EVIDENCE_CHAIN_HEAD = "evidence_chain_head"

CRITICAL, WARNING, RESOLVED, NOTICE = "critical", "warning", "resolved", "notice"

MAX_KEY_CHARS = 200
HEADER_CHARS = 150  # Slack: header text ≤ 150
SECTION_CHARS = 3000  # Slack: section text ≤ 3000
FIELD_CHARS = 2000  # Slack: each field ≤ 2000
MAX_FIELDS = 10  # Slack: ≤ 10 fields per section
SOURCE = "torghut_assets"


@dataclass(frozen=True)
class Alert:
    kind: str
    incident_id: str
    severity: str
    title: str
    lane: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    detail: str = ""

    @property
    def incident_key(self) -> str:
        return incident_key(self.kind, self.lane, self.incident_id)


def incident_key(kind: str, lane: str | None, incident_id: str) -> str:
    """`kind:lane:id`, bounded in length (a long id keeps its head and gains a digest of the whole)."""
    key = f"{kind}:{lane or '-'}:{incident_id}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[: MAX_KEY_CHARS - 65]}~{digest}"


def distinct(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per incident key, the first seen, in order."""
    seen: dict[str, Alert] = {}
    for alert in alerts:
        seen.setdefault(alert.incident_key, alert)
    return list(seen.values())


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(alert: Alert) -> dict[str, Any]:
    """`{"text", "blocks"}` within Slack's block limits; `text` is the notification fallback."""
    label = alert.severity.upper()
    text = _clip(f"[{label}] {alert.title}", HEADER_CHARS)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": False}}
    ]
    if alert.detail:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(_escape(alert.detail), SECTION_CHARS)},
            }
        )
    facts = (("lane", alert.lane),) if alert.lane else ()
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{_escape(name)}*\n{_escape(value)}", FIELD_CHARS)}
        for name, value in (*facts, *alert.facts)
    ]
    for start in range(0, len(fields), MAX_FIELDS):
        blocks.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(f"{SOURCE} · incident `{_escape(alert.incident_key)}`", 2000),
                }
            ],
        }
    )
    return {"text": text, "blocks": blocks}


def _iso(value: dt.datetime | pd.Timestamp | str) -> str:
    """One spelling per instant (UTC, `Z`), so the same latch seen twice yields the same key."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat().replace("+00:00", "Z")


def continuity_alert(
    *,
    lane: str,
    transition: str,
    window_start: dt.datetime | pd.Timestamp | str,
    latched_window: dt.datetime | pd.Timestamp | str,
    reason: str | None,
    detail: Sequence[str] = (),
) -> Alert | None:
    """The alert for one continuity transition, or None for transitions nobody is paged for
    (refreshes, recovery progress, escalations of a stop that already paged).

    A latch and its recovery share the latch id (the window the alert latched in), so the recovery
    message names the incident it closes.
    """
    window, latch = _iso(window_start), _iso(latched_window)
    if transition == ContinuityTransition.LATCHED:
        return Alert(
            kind=CONTINUITY_LATCHED,
            incident_id=latch,
            severity=CRITICAL,
            title=f"Signal continuity alert latched on {lane}",
            lane=lane,
            facts=(
                ("reason", reason or "unknown"),
                *((("cause", "; ".join(detail)),) if detail else ()),
                ("latched in window", latch),
            ),
            detail="Signals are missing or stale while they should flow. Live promotion is refused for "
            "this lane until the alert clears (2 consecutive signal-bearing windows).",
        )
    if transition == ContinuityTransition.CLEARED:
        return Alert(
            kind=CONTINUITY_RECOVERED,
            incident_id=latch,
            severity=RESOLVED,
            title=f"Signal continuity recovered on {lane}",
            lane=lane,
            facts=(("latched in window", latch), ("cleared in window", window)),
            detail="Signals flow again; the continuity latch is cleared.",
        )
    if transition == ContinuityTransition.EMERGENCY_TRIGGERED:
        return Alert(
            kind=EMERGENCY_STOP,
            incident_id=window,
            severity=CRITICAL,
            title=f"Emergency stop on {lane}",
            lane=lane,
            facts=(("reasons", "; ".join(detail) or "unknown"), ("since window", window)),
            detail="New decisions are rejected on this lane. Staleness reasons recover automatically "
            "after clean windows; any other reason needs a human.",
        )
    return None


def reconciliation_alert(
    *, check: str, checked_day: str, examined: int, failing: int, keys: Sequence[str]
) -> Alert:
    listed = "\n".join(f"• {k}" for k in keys[:10])
    return Alert(
        kind=RECONCILIATION_FAILED,
        incident_id=f"{checked_day}:{check}",
        severity=WARNING,
        title=f"Reconciliation check failed: {check}",
        facts=(("check", check), ("day", checked_day), ("failing", f"{failing} of {examined}")),
        detail=f"The nightly reconciliation found {failing} failing item(s).\n{listed}".strip(),
    )


def llm_budget_alert(
    *, lane: str, window_start: dt.datetime | pd.Timestamp, budget: Mapping[str, Any]
) -> Alert:
    window = _iso(window_start)
    counts = budget.get("counts") or {}
    return Alert(
        kind=LLM_ERROR_BUDGET_SPENT,
        incident_id=window,
        severity=WARNING,
        title=f"LLM error budget spent on {lane}",
        lane=lane,
        facts=(
            ("window", window),
            ("error rate", str(budget.get("error_rate"))),
            ("mismatch rate", str(budget.get("mismatch_rate"))),
            ("reviews", str(counts.get("attempted", "?"))),
            ("reasons", ", ".join(budget.get("reasons") or ()) or "—"),
        ),
        detail="The advisory is forced to shadow for this window and live promotion of the lane is "
        "blocked while the budget stays spent.",
    )


def promotion_denied_alert(
    *,
    candidate_id: str,
    lane: str,
    from_stage: str,
    requested_stage: str,
    reason_codes: Sequence[str],
    blocking_gates: Sequence[str],
    requester: str,
    promotion_id: str,
) -> Alert:
    """One incident per (candidate, stage, reasons): the same denial asked again does not page again."""
    reasons = sorted(reason_codes)
    digest = hashlib.sha256("\n".join(reasons).encode("utf-8")).hexdigest()[:16]
    return Alert(
        kind=LIVE_PROMOTION_DENIED,
        incident_id=f"{candidate_id}:{requested_stage}:{digest}",
        severity=WARNING,
        title=f"Live promotion denied: {candidate_id} → {requested_stage}",
        lane=lane,
        facts=(
            ("candidate", candidate_id),
            ("stage", f"{from_stage} → {requested_stage}"),
            ("requested by", requester),
            ("blocking gates", ", ".join(blocking_gates) or "—"),
            ("promotion row", promotion_id),
        ),
        detail="Reasons:\n" + "\n".join(f"• {r}" for r in reasons[:20]),
    )


def rollback_alert(
    *,
    lane: str,
    action: str,
    incident_id: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    actor: str,
    trigger: str,
    reason: str,
) -> Alert:
    def placement(state: Mapping[str, Any]) -> str:
        halted = " (halted)" if state.get("halted") else ""
        return f"{state.get('candidate_id') or 'none'} @ {state.get('stage')}{halted}"

    return Alert(
        kind=LANE_ROLLBACK,
        incident_id=incident_id,
        severity=CRITICAL,
        title=f"Lane {lane}: {action} ({trigger})",
        lane=lane,
        facts=(
            ("action", action),
            ("trigger", trigger),
            ("by", actor),
            ("before", placement(before)),
            ("after", placement(after)),
        ),
        detail=f"Reason: {reason}",
    )


def chain_head_alert(*, seq: int, entry_hash: str, recorded_at: str | None, published_at: str) -> Alert:
    """The nightly publication of the evidence chain's head: a copy outside the ledger, so a chain later
    truncated or rewritten is caught by comparing with it (docs/evidence-pack.md). One message per head."""
    return Alert(
        kind=EVIDENCE_CHAIN_HEAD,
        incident_id=f"{seq}:{entry_hash}",
        severity=NOTICE,
        title=f"Evidence chain head: seq {seq}",
        facts=(
            ("seq", str(seq)),
            ("entry_hash", entry_hash),
            ("recorded_at", recorded_at or "—"),
            ("published_at", published_at),
        ),
        detail="Keep this message: an evidence pack or a later reconciliation is checked against it "
        "(`torghut-assets evidence verify-pack --published-head SEQ:HASH`).",
    )


@dataclass(frozen=True)
class DeliveryReport:
    """What happened to each incident key handed to the alert sender; never contains the webhook URL."""

    webhook_configured: bool
    sent: tuple[str, ...] = ()
    already_sent: tuple[str, ...] = ()
    recorded_only: tuple[str, ...] = ()
    retry_pending: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def quiet(self) -> bool:
        return not (self.sent or self.already_sent or self.recorded_only or self.retry_pending or self.errors)

    def summary(self) -> str:
        if self.quiet:
            return "no alert"
        parts = [
            f"{len(self.sent)} sent" if self.sent else "",
            f"{len(self.already_sent)} already sent" if self.already_sent else "",
            f"{len(self.retry_pending)} to retry ({', '.join(self.errors)})" if self.retry_pending else "",
            f"{len(self.recorded_only)} recorded, not sent: TORGHUT_ALERT_WEBHOOK_URL is unset"
            if self.recorded_only
            else "",
        ]
        if self.errors and not self.retry_pending:
            parts.append(f"alerting failed ({', '.join(self.errors)})")
        return "alerts: " + "; ".join(p for p in parts if p)

    def as_json(self) -> dict[str, Any]:
        return {
            "webhook": "configured" if self.webhook_configured else "not configured",
            "sent": list(self.sent),
            "already_sent": list(self.already_sent),
            "recorded_only": list(self.recorded_only),
            "retry_pending": list(self.retry_pending),
            "errors": list(self.errors),
            "summary": self.summary(),
        }
