"""A promotion decides on a window's candidate and writes its rows under that window (the decision, a
denial, a spent approval, the candidate's lifecycle); none of it is the window's research output, so the
window's replay still matches, through the CLI and through `replay_job`.

The governed ledger: one researched lane window (macd_rsi, Tuesday 2026-03-03 15:00 UTC) with passing
route parity and fresh readiness drills, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg
import pytest

from torghut_assets_tests.defs.governance_harness import (
    GovernedLedger,
    build_governed_ledger,
    launch_promotion,
    verdict_metadata,
)
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW
from torghut_assets_tests.defs.replay_harness import LANE, cli_replay, job_replay

Replay = Callable[[GovernedLedger], bool]


def _cli_matches(ledger: GovernedLedger) -> bool:
    return cli_replay(ledger.url, ledger.root / "artifacts") == 0


def _job_matches(ledger: GovernedLedger) -> bool:
    return job_replay(ledger.url, ledger.root / "artifacts").success


FRONT_DOORS = [pytest.param(_cli_matches, id="cli"), pytest.param(_job_matches, id="replay_job")]


@pytest.fixture(scope="module")
def governed_ledger(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> GovernedLedger:
    return build_governed_ledger(module_ledger_url, tmp_path_factory.mktemp("governed"))


@pytest.fixture
def ledger(governed_ledger: GovernedLedger) -> Iterator[GovernedLedger]:
    governed_ledger.reset()
    yield governed_ledger
    governed_ledger.reset()


def _promotion_job(ledger: GovernedLedger, stage: str, token: str | None = None) -> dg.ExecuteInProcessResult:
    config = {"candidate_id": ledger.candidates[0], "target_stage": stage, "requester": "quant@torghut"}
    if token is not None:
        config["approval_token"] = token
    return launch_promotion(ledger.resources(), config)


def _decisions_under_the_window(ledger: GovernedLedger) -> list[str]:
    """What the promotion job wrote under the window: its decisions (the window's own request excluded)."""
    rows = ledger.rows("research_promotions", lane=LANE, window_start=OPEN_WINDOW.to_pydatetime())
    return sorted(str(r["decision_action"]) for r in rows if r["approver"] == "torghut_gates")


@pytest.mark.parametrize("replay_matches", FRONT_DOORS)
def test_the_replay_matches_after_an_allowed_promotion(
    ledger: GovernedLedger, replay_matches: Replay
) -> None:
    assert _promotion_job(ledger, "paper").success
    assert _decisions_under_the_window(ledger) == ["promote"]
    assert replay_matches(ledger)


@pytest.mark.parametrize("replay_matches", FRONT_DOORS)
def test_the_replay_matches_after_a_denied_promotion(ledger: GovernedLedger, replay_matches: Replay) -> None:
    assert _promotion_job(ledger, "paper").success
    denied = _promotion_job(ledger, "live")  # no approval: denied, a recorded verdict
    assert denied.success and verdict_metadata(denied)["decision"].startswith("DENY:")
    assert _decisions_under_the_window(ledger) == ["deny", "promote"]
    assert replay_matches(ledger)


@pytest.mark.parametrize("replay_matches", FRONT_DOORS)
def test_the_replay_matches_after_a_live_promotion_that_spent_an_approval(
    ledger: GovernedLedger, replay_matches: Replay
) -> None:
    assert _promotion_job(ledger, "paper").success
    _, token = ledger.approve(ledger.candidates[0], "live_l1")
    assert _promotion_job(ledger, "live", token).success
    assert len(ledger.rows("approval_overrides")) == 1
    assert replay_matches(ledger)
