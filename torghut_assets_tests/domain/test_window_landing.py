"""Lateness is judged only for a live landing; a backfill of a closed window is recorded as not judged."""

import pandas as pd

from torghut_assets.domain.window_landing import LandingVerdict, judge_landing

WINDOW_END = pd.Timestamp("2026-03-03 16:00", tz="UTC")


def test_a_live_landing_within_the_deadline_is_on_time() -> None:
    judgement = judge_landing(
        WINDOW_END, WINDOW_END + pd.Timedelta(minutes=5), WINDOW_END + pd.Timedelta(minutes=7)
    )
    assert judgement.verdict is LandingVerdict.ON_TIME and judgement.passed


def test_a_live_landing_after_the_deadline_is_late_and_fails() -> None:
    judgement = judge_landing(
        WINDOW_END, WINDOW_END + pd.Timedelta(minutes=5), WINDOW_END + pd.Timedelta(minutes=45)
    )
    assert judgement.verdict is LandingVerdict.LATE and not judgement.passed


def test_a_backfill_requested_after_the_deadline_is_not_judged_and_passes() -> None:
    later = WINDOW_END + pd.Timedelta(days=3)
    judgement = judge_landing(WINDOW_END, later, later + pd.Timedelta(minutes=2))
    assert judgement.verdict is LandingVerdict.NOT_JUDGED_BACKFILL and judgement.passed
    assert judgement.note.startswith("not judged: backfill of a closed window")
