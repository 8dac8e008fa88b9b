"""The lateness check on a real run: a live landing of an old window fails, a backfill is not judged."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from torghut_assets.defs.lane_window.checks import (
    SCHEDULED_EXECUTION_TIME_TAG,
    signals_landed_before_deadline,
)
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")


def _lateness_check(ledger_url: str, tmp_path: Path, tags: dict[str, str]) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [signals, signals_landed_before_deadline],
        partition_key=lane_window_key("macd_rsi", OPEN_WINDOW),
        resources=resources(ledger_url, tmp_path),
        instance=dg.DagsterInstance.ephemeral(),
        tags=tags,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_a_live_landing_of_a_window_long_closed_fails_as_late(ledger_url: str, tmp_path: Path) -> None:
    tick = (OPEN_WINDOW + pd.Timedelta(hours=1, minutes=5)).isoformat()
    evaluation = _lateness_check(ledger_url, tmp_path, {SCHEDULED_EXECUTION_TIME_TAG: tick})
    assert not evaluation.passed
    assert evaluation.metadata["verdict"].value == "late"


def test_a_backfill_of_a_closed_window_passes_as_not_judged(ledger_url: str, tmp_path: Path) -> None:
    evaluation = _lateness_check(ledger_url, tmp_path, {})
    assert evaluation.passed and evaluation.metadata["judged"].value is False
    assert str(evaluation.metadata["note"].value).startswith("not judged: backfill of a closed window")
