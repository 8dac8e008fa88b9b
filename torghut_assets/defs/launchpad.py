"""What the Launchpad may be asked, typed so that Dagster refuses known-bad input before a run starts.

Dagster validates a config `Enum` when the run is launched (the Launchpad marks a misspelled stage,
lane, action or role as an error and will not launch), so every closed vocabulary is an enum here: the
target stage, the lane (the catalog's lanes, read when the code location loads), the rollback action and
the approver's role. What Dagster's config schema cannot express (a non-blank text, the form of a window
key) is checked by the first step, which refuses with one sentence naming the field and the expected
form instead of a stack trace from deep inside the pipeline.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum, StrEnum
from typing import NoReturn

import dagster as dg
import pandas as pd

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.domain.approvals import ROLE_HEAD_OF_TRADING, ROLE_RISK_OFFICER
from torghut_assets.domain.lane_window_keys import KEY_DELIMITER, WINDOW_KEY_FORMAT, window_start_from_key
from torghut_assets.domain.lanes import WINDOW_LENGTH
from torghut_assets.domain.stages import TransitionType
from torghut_assets.domain.universe_policy import SYMBOL_PATTERN

WINDOW_KEY_EXAMPLE = "2026-03-03-15:00"
WINDOW_KEY_FORM = "YYYY-MM-DD-HH:00 (the window's UTC start hour)"
TIME_EXAMPLE = "2026-03-04T07:30:00Z"


class TargetStage(StrEnum):
    """A stage a promotion may ask for; `live` means the candidate's next live stage."""

    paper = "paper"
    live = "live"
    live_l1 = "live_l1"
    live_l2 = "live_l2"
    live_l3 = "live_l3"


class ApprovalStage(StrEnum):
    """The one stage an approval unlocks (never the relative `live`)."""

    paper = "paper"
    live_l1 = "live_l1"
    live_l2 = "live_l2"
    live_l3 = "live_l3"


class ApproverRole(StrEnum):
    risk_officer = ROLE_RISK_OFFICER
    head_of_trading = ROLE_HEAD_OF_TRADING


class LaneAction(StrEnum):
    """What `rollback_job` may do to a lane."""

    rollback = TransitionType.ROLLBACK.value
    halt = TransitionType.HALT.value
    resume = TransitionType.RESUME.value


def _lane_enum() -> type[Enum]:
    lanes = sorted(configured_catalog().lanes)
    return Enum("Lane", {lane: lane for lane in lanes}, type=str)  # type: ignore[return-value]


Lane: type[Enum] = _lane_enum()
"""The catalog's lanes as a config enum (rebuilt when the code location reloads with a new catalog)."""


class LaunchpadRefusal(dg.Failure):
    """Known-bad Launchpad input, refused by the first step with one sentence and no retry."""

    def __init__(self, sentence: str) -> None:
        super().__init__(description=sentence, allow_retries=False)


def refuse(sentence: str) -> NoReturn:
    raise LaunchpadRefusal(sentence)


def required_text(field: str, value: str | None) -> str:
    """The field's text with surrounding blanks removed; blank is refused, naming the field."""
    text = (value or "").strip()
    if not text:
        refuse(f"{field} is required and must not be blank.")
    return text


def window_start_field(field: str, value: str) -> pd.Timestamp:
    """A window key typed into the Launchpad, as a UTC hour start; anything else is refused with the form."""
    text = value.strip()
    if KEY_DELIMITER in text:
        refuse(
            f"{field} {value!r} is a lane-window key: give the lane in its own field and here only the "
            f"window, {WINDOW_KEY_FORM}, e.g. {WINDOW_KEY_EXAMPLE}."
        )
    refusal = f"{field} {value!r} is not a window key: expected {WINDOW_KEY_FORM}, e.g. {WINDOW_KEY_EXAMPLE}."
    try:
        start = window_start_from_key(text)
    except (ValueError, TypeError):
        refuse(refusal)
    if start.minute != 0 or start.strftime(WINDOW_KEY_FORMAT) != text:
        refuse(refusal)
    return start


def time_field(field: str, value: str) -> pd.Timestamp:
    """An ISO 8601 time with its zone, in UTC; a malformed or zone-less time is refused with the form (a
    time without a zone is ambiguous, so it is never guessed)."""
    refusal = f"{field} {value!r} is not a time: expected ISO 8601 with a zone, e.g. {TIME_EXAMPLE}."
    try:
        at = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        refuse(refusal)
    if at.tzinfo is None:
        refuse(refusal)
    return pd.Timestamp(at).tz_convert("UTC")


def closed_window_start(field: str, value: str, now: pd.Timestamp) -> pd.Timestamp:
    """A window key naming a window that exists and has closed: one before the catalog's first window, or
    one still open or in the future, is refused with the range that is accepted."""
    start = window_start_field(field, value)
    first = configured_catalog().window_start
    if start < window_start_from_key(first):
        refuse(f"{field} {value!r} is before the catalog's first window {first}: pick {first} or later.")
    if start + WINDOW_LENGTH > now:
        refuse(
            f"{field} {value!r} has not closed yet (now is {now:%Y-%m-%d %H:%M} UTC): pick a closed window."
        )
    return start


def ticker(field: str, value: str) -> str:
    """A symbol as the ledger stores it (upper case, e.g. AAPL or BRK-B); anything else is refused."""
    text = value.strip()
    if not SYMBOL_PATTERN.fullmatch(text):
        refuse(
            f"{field} {value!r} is not a symbol: expected upper-case letters and digits, e.g. AAPL or BRK-B."
        )
    return text


def lane_name(value: Enum | str) -> str:
    """The lane a config enum member (or its text) names."""
    return str(value.value if isinstance(value, Enum) else value)
