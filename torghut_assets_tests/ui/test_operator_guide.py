"""The README's operator guide, walked step by step in a browser on a fresh `make dev` instance.

The server is seeded exactly as `make dev` seeds it (`torghut-assets dev-seed`), then each test is one step
of the guide, in the guide's order, with the names and inputs the README gives: launch a window, look at
its research, run the readiness drills and route parity, ask for paper (denied: the gate table is on the
run), approve, ask again (allowed), halt and resume the lane, open each report. Every step is photographed
into the module's screenshot folder. Skip with `-m 'not ui'`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from torghut_assets.ledger import schema
from torghut_assets_tests.ui.browser import run_id_of, type_run_config
from torghut_assets_tests.ui.dagster_dev import LOCATION, DagsterDev, free_port

pytestmark = [pytest.mark.ui, pytest.mark.timeout(1800)]

Screenshot = Callable[[str], Path]
LANE = "macd_rsi"
WINDOW = "2026-03-03-15:00"
RUN_FINISHES_MS = 240_000
REQUESTER = "pm.macd@torghut.example"
APPROVER = "risk.officer@torghut.example"

PROMOTION = """\
ops:
  promotion_decision:
    config:
      candidate_id: {candidate}
      target_stage: paper
      requester: {requester}
      reason: first paper trial of the macd_rsi lane
"""
PROMOTION_WITH_APPROVAL = PROMOTION + "      approval_token: {token}\n"
APPROVAL = """\
ops:
  approval_overrides:
    config:
      candidate_id: {candidate}
      target_stage: paper
      approver: {approver}
      approver_role: risk_officer
      reason: runbook review scheduled; paper trial approved meanwhile
"""
LANE_ACTION = """\
ops:
  apply_rollback:
    config:
      lane: macd_rsi
      action: {action}
      actor: {actor}
      reason: {reason}
"""


@dataclass
class Walk:
    """What the guide's earlier steps leave for the later ones."""

    champion: str = ""
    denied_run: str = ""
    token: str = ""
    done: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def dagster_ui(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """`make dev` on a fresh machine: migrate, seed, serve (overrides conftest's unseeded server)."""
    server = DagsterDev(root=tmp_path_factory.mktemp("make-dev"), port=free_port(), seed=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def walk() -> Walk:
    return Walk()


def _materialize_with_config(page: Page, asset: str, yaml_text: str) -> str:
    """The asset page's Materialize button opens the Launchpad (the config has required fields)."""
    page.goto(f"/assets/{asset}")
    page.get_by_role("button", name="Materialize").first.click()
    launchpad = page.get_by_role("dialog")
    type_run_config(page, launchpad, yaml_text)
    expect(launchpad.get_by_text("No errors")).to_be_visible()
    launchpad.get_by_role("button", name="Materialize").click()
    return run_id_of(page)


def _materialize(page: Page, dagster_ui: DagsterDev, asset: str) -> str:
    """Materialize an asset whose config is all defaults: one click on its page; the run is the new one."""
    before = set(dagster_ui.runs_of())
    page.goto(f"/assets/{asset}")
    page.get_by_role("button", name="Materialize").first.click()
    return dagster_ui.new_run(before)


def _launch_job(page: Page, job: str, yaml_text: str) -> str:
    page.goto(f"/locations/{LOCATION}/jobs/{job}/playground")
    type_run_config(page, page, yaml_text)
    expect(page.get_by_text("No errors")).to_be_visible()
    page.get_by_role("button", name="Launch Run").click()
    return run_id_of(page)


def _inline_image(page: Page, alt: str) -> Locator:
    """The first image whose alt text matches, scrolled into view and loaded from the artifact server."""
    image = page.get_by_role("img", name=re.compile(alt)).first
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    image.element_handle().wait_for_element_state("stable")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return image


def test_1_launch_a_window_from_the_lane_window_group(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot, walk: Walk
) -> None:
    partition = {"dagster/partition/lane": LANE, "dagster/partition/window": WINDOW}
    before = set(dagster_ui.runs_of(tags=partition))
    page.goto(f"/locations/{LOCATION}/asset-groups/lane_window")
    page.get_by_role("button", name="Materialize all").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Select a partition or create one").first.click()
    page.get_by_text(LANE, exact=True).first.click()
    window = dialog.get_by_placeholder("ex: ", exact=False)
    window.fill(WINDOW)
    window.press("Enter")
    screenshot("partition-dialog")
    dialog.get_by_role("button", name="Launch 1 run").click()

    run_id = dagster_ui.new_run(before, tags=partition)
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS", dagster_ui.log_tail()
    page.goto(f"/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_FINISHES_MS)
    screenshot("window-run")
    walk.done.append("window")


def test_2_research_shows_every_candidate_and_the_champion_equity_curve(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot, walk: Walk
) -> None:
    page.goto("/assets/research_candidates?view=events")
    expect(page.get_by_text(f"Partition {LANE}|{WINDOW}", exact=False).first).to_be_visible()
    champion_row = page.get_by_role("row").filter(has=page.get_by_text("champion_candidate_id", exact=True))
    walk.champion = champion_row.get_by_text("cand-", exact=False).first.inner_text().strip()
    assert walk.champion.startswith("cand-")
    _inline_image(page, r"^champion cand-\S+ equity curve$")
    expect(page.get_by_role("columnheader", name="sharpe").first).to_be_visible()
    screenshot("research-candidates")

    run_id = _materialize_leaderboard(page, dagster_ui)
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS", dagster_ui.log_tail()
    page.goto("/assets/research_leaderboard?view=events")
    _inline_image(page, f"^{LANE} research leaderboard$")
    screenshot("research-leaderboard")


def _materialize_leaderboard(page: Page, dagster_ui: DagsterDev) -> str:
    partition = {"dagster/partition": LANE}
    before = set(dagster_ui.runs_of(tags=partition))
    page.goto("/assets/research_leaderboard")
    page.get_by_role("button", name="Materialize").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Select a partition or create one").first.click()
    page.get_by_text(LANE, exact=True).first.click()
    dialog.get_by_role("button", name="Launch 1 run").click()
    return dagster_ui.new_run(before, tags=partition)


def test_3_readiness_drills_and_route_parity_are_materialized(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot
) -> None:
    readiness = _materialize(page, dagster_ui, "operational_readiness")
    assert dagster_ui.wait_for_run(readiness) == "SUCCESS", dagster_ui.log_tail()
    parity = _materialize(page, dagster_ui, "route_parity")
    assert dagster_ui.wait_for_run(parity) == "SUCCESS", dagster_ui.log_tail()
    page.goto("/assets/route_parity?view=events")
    screenshot("route-parity")


def test_4_promotion_to_paper_is_denied_with_the_gate_table_on_the_run(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot, walk: Walk
) -> None:
    run_id = _materialize_with_config(
        page, "promotion_decision", PROMOTION.format(candidate=walk.champion, requester=REQUESTER)
    )
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS", "a denied promotion is a verdict, not a failed run"
    page.goto(f"/runs/{run_id}")
    gates = page.get_by_role("table").filter(has_text="fix").first
    expect(gates).to_be_visible(timeout=RUN_FINISHES_MS)
    expect(gates.get_by_role("row").filter(has_text="FAIL").first).to_contain_text("runbook")
    expect(page.get_by_text("DENY:", exact=False).first).to_be_visible()
    screenshot("denied-run-gate-table")
    walk.denied_run = run_id

    promotions = schema.research_promotions
    [row] = [
        r
        for r in dagster_ui.ledger_rows(promotions, promotions.c.candidate_id == walk.champion)
        if (r["evidence_bundle"] or {}).get("dagster_run_id") == run_id
    ]
    assert row["decision_action"] == "deny"
    reasons = json.loads(row["deny_reason"])["reason_codes"]
    assert reasons == ["gate4_operational_readiness:runbook_not_validated"], "the README's deny"

    page.goto("/assets/promotion_decision")
    expect(page.get_by_role("table").filter(has_text="fix").first).to_be_visible()
    screenshot("promotion-decision-asset")


def test_5_an_approval_lets_the_promotion_through(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot, walk: Walk
) -> None:
    run_id = _materialize_with_config(
        page, "approval_overrides", APPROVAL.format(candidate=walk.champion, approver=APPROVER)
    )
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS", dagster_ui.log_tail()
    [token_file] = sorted((dagster_ui.home / "approval_tokens").glob("*.token"))
    walk.token = token_file.read_text().strip()
    screenshot("approval-minted")

    promotion = PROMOTION_WITH_APPROVAL.format(candidate=walk.champion, requester=REQUESTER, token=walk.token)
    run_id = _materialize_with_config(page, "promotion_decision", promotion)
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS", dagster_ui.log_tail()
    page.goto(f"/runs/{run_id}")
    expect(page.get_by_text("ALLOW:", exact=False).first).to_be_visible(timeout=RUN_FINISHES_MS)
    screenshot("allowed-run")


@pytest.mark.parametrize("action", ["halt", "resume"])
def test_6_halt_then_resume_the_lane(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot, action: str
) -> None:
    config = LANE_ACTION.format(action=action, actor=APPROVER, reason=f"{action} drill from the guide")
    run_id = _launch_job(page, "rollback_job", config)
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS", dagster_ui.log_tail()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_FINISHES_MS)
    screenshot(f"lane-{action}")
    transitions = schema.rollout_transitions
    rows = dagster_ui.ledger_rows(transitions, transitions.c.lane == LANE, transitions.c.actor == APPROVER)
    assert action in {row["transition_type"] for row in rows}


@pytest.mark.parametrize(
    ("report", "headline"),
    [("profitability_runtime", "closed-trade net PnL"), ("readiness_report", "READY")],
)
def test_7_each_report_opens_with_its_verdict_in_words(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot, report: str, headline: str
) -> None:
    run_id = _materialize(page, dagster_ui, report)
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS", dagster_ui.log_tail()
    page.goto(f"/assets/{report}?view=events")
    expect(page.get_by_text(headline, exact=False).first).to_be_visible()
    screenshot(report)
