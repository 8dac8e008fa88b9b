"""Was a lane window's landing late? Judged only for runs that could have landed on time.

A window's signals can first land when the window closes; the deadline is 30 minutes after that. A run
requested while the deadline still stood (the hourly schedule's run for the window that just closed, or
an operator's run of the open or just-closed window) is the window's live landing, and its lateness is
the check time minus the window end. A run requested after the deadline had passed (a backfill, the
`dev-seed`, a re-materialization of an old window) could not have been on time whatever it did, so its
lateness says nothing about the pipeline: it is recorded as not judged rather than as a failure. The
schedule's own run is dated by its scheduled tick, so a tick the daemon launched late still counts as
the live landing it was meant to be, and fails when it landed late.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

LANDING_DEADLINE = pd.Timedelta(minutes=30)


class LandingVerdict(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    NOT_JUDGED_BACKFILL = "not_judged_backfill_of_closed_window"


@dataclass(frozen=True)
class LandingJudgement:
    verdict: LandingVerdict
    lateness: pd.Timedelta  # check time minus window end (negative while the window is open)
    deadline: pd.Timedelta

    @property
    def passed(self) -> bool:
        """Only a live landing after its deadline fails; a backfill is not judged, so it passes."""
        return self.verdict is not LandingVerdict.LATE

    @property
    def note(self) -> str:
        if self.verdict is LandingVerdict.NOT_JUDGED_BACKFILL:
            return "not judged: backfill of a closed window (requested after its landing deadline)"
        if self.verdict is LandingVerdict.LATE:
            return "live landing after the deadline: the window's decisions were made on stale signals"
        return "live landing within the deadline"


def judge_landing(
    window_end: pd.Timestamp,
    requested_at: pd.Timestamp,
    checked_at: pd.Timestamp,
    deadline: pd.Timedelta = LANDING_DEADLINE,
) -> LandingJudgement:
    """Judge a window's landing: `requested_at` is when its run was asked for, `checked_at` when it landed."""
    lateness = checked_at - window_end
    if requested_at > window_end + deadline:
        return LandingJudgement(LandingVerdict.NOT_JUDGED_BACKFILL, lateness, deadline)
    verdict = LandingVerdict.ON_TIME if lateness <= deadline else LandingVerdict.LATE
    return LandingJudgement(verdict, lateness, deadline)
