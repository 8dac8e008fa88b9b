"""What an operator sees in the Dagster UI, checked in headless Chromium against a real `dagster dev`.

One server and one browser serve the whole module (see conftest.py); every step is photographed into the
module's screenshot folder, printed at the end of the session. Skip these tests with `-m 'not ui'`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from torghut_assets.definitions import LANE_WINDOW_ASSETS, defs
from torghut_assets.ledger import schema
from torghut_assets_tests.ui.browser import run_id_of, type_run_config
from torghut_assets_tests.ui.dagster_dev import LOCATION, DagsterDev
from torghut_assets_tests.ui.scenario import PARTITION, MaterializedWindow

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

Screenshot = Callable[[str], Path]
# At laptop width the lane-window chain is drawn zoomed out, with names cut short; a wide screen shows it
# at the zoom level where every node carries its full name.
WIDE_SCREEN: ViewportSize = {"width": 3200, "height": 1200}
TALL_SCREEN: ViewportSize = {"width": 1600, "height": 3200}
RUN_FINISHES_MS = 240_000

PROMOTION_REQUEST = """\
ops:
  promotion_decision:
    config:
      candidate_id: {candidate}
      target_stage: paper
      requester: pm.macd@torghut.example
      reason: first paper trial of the macd_rsi lane
"""
APPROVER = "risk.officer@torghut.example"
APPROVAL_REQUEST = """\
ops:
  approval_overrides:
    config:
      candidate_id: {candidate}
      target_stage: paper
      approver: {approver}
      approver_role: risk_officer
      reason: paper trial while the continuity alert is investigated
      symbols: [AAPL, MSFT]
      expires_in_hours: 4
"""


def test_catalog_lists_every_asset_the_code_location_defines(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot
) -> None:
    defined = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert set(dagster_ui.asset_groups()) == defined

    page.set_viewport_size(TALL_SCREEN)  # the catalog draws only the rows on screen
    page.goto("/assets")
    for key in sorted(defined):
        expect(page.get_by_title(key, exact=True)).to_be_visible()
    screenshot("catalog")


def test_lane_window_lineage_shows_every_step_of_the_window(
    dagster_ui: DagsterDev, page: Page, screenshot: Screenshot
) -> None:
    chain = {asset.key.to_user_string() for asset in LANE_WINDOW_ASSETS}
    assert {key for key, group in dagster_ui.asset_groups().items() if group == "lane_window"} == chain

    page.set_viewport_size(WIDE_SCREEN)
    page.goto(f"/locations/{LOCATION}/asset-groups/lane_window")
    for key in sorted(chain):
        expect(page.get_by_text(key, exact=True)).to_be_visible()
    screenshot("lane-window-lineage")


def test_materialized_window_shows_its_row_count_and_markdown_summary(
    materialized_window: MaterializedWindow, page: Page, screenshot: Screenshot
) -> None:
    run_id, candidates = materialized_window.run_id, materialized_window.candidates
    page.goto("/assets/research_candidates?view=events")
    expect(page.get_by_text(f"Partition {PARTITION} materialized in run {run_id[:8]}")).to_be_visible()
    row_count = page.get_by_role("row").filter(has=page.get_by_text("dagster/row_count", exact=True))
    expect(row_count).to_contain_text(str(len(candidates)))
    screenshot("materialization-metadata")

    summary = page.get_by_role("row").filter(has=page.get_by_text("summary", exact=True)).first
    expect(summary.locator("strong").first).to_have_text(f"{len(candidates)} candidates")
    listed = summary.locator("table td").filter(has_text="cand-").all_inner_texts()
    assert listed, "the summary lists no candidate"
    assert {text.strip() for text in listed} <= set(candidates)
    screenshot("markdown-summary")


def _promotion_launchpad(page: Page) -> Locator:
    """This server holds one window and no readiness or parity evidence, so Dagster first asks to confirm
    materializing with unmaterialized upstream assets."""
    page.goto("/assets/promotion_decision")
    page.get_by_role("button", name="Materialize").first.click()
    page.get_by_role("button", name="Confirm").click()
    return page.get_by_role("dialog")


def test_a_misspelled_stage_is_refused_by_the_launchpad_before_the_run_starts(
    materialized_window: MaterializedWindow, page: Page, screenshot: Screenshot
) -> None:
    candidate = materialized_window.candidates[-1]
    launchpad = _promotion_launchpad(page)
    type_run_config(page, launchpad, PROMOTION_REQUEST.format(candidate=candidate).replace("paper", "papr"))
    expect(launchpad.get_by_text("target_stage", exact=False).first).to_be_visible()
    expect(launchpad.get_by_text("No errors")).not_to_be_visible()
    expect(launchpad.get_by_role("button", name="Materialize")).to_be_disabled()
    screenshot("misspelled-stage")


def test_a_blank_requester_is_refused_by_the_first_step_in_one_sentence(
    dagster_ui: DagsterDev, materialized_window: MaterializedWindow, page: Page, screenshot: Screenshot
) -> None:
    candidate = materialized_window.candidates[-1]
    launchpad = _promotion_launchpad(page)
    blank = PROMOTION_REQUEST.format(candidate=candidate).replace("pm.macd@torghut.example", '" "')
    type_run_config(page, launchpad, blank)
    expect(launchpad.get_by_text("No errors")).to_be_visible()
    launchpad.get_by_role("button", name="Materialize").click()
    run_id = run_id_of(page)
    assert dagster_ui.wait_for_run(run_id) == "FAILURE"
    expect(page.get_by_text("requester is required and must not be blank.").first).to_be_visible(
        timeout=RUN_FINISHES_MS
    )
    screenshot("blank-requester")


def test_approval_override_minted_from_the_launchpad_is_recorded_for_the_candidate(
    dagster_ui: DagsterDev, gate_evaluated_candidate: str, page: Page, screenshot: Screenshot
) -> None:
    candidate = gate_evaluated_candidate
    page.goto("/assets/approval_overrides")
    page.get_by_role("button", name="Materialize").first.click()
    launchpad = page.get_by_role("dialog")
    type_run_config(page, launchpad, APPROVAL_REQUEST.format(candidate=candidate, approver=APPROVER))
    expect(launchpad.get_by_text("No errors")).to_be_visible()
    screenshot("launchpad")

    launchpad.get_by_role("button", name="Materialize").click()
    run_id = run_id_of(page)
    assert dagster_ui.wait_for_run(run_id) == "SUCCESS"
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_FINISHES_MS)
    t = schema.approval_overrides
    [approval] = dagster_ui.ledger_rows(t, t.c.candidate_id == candidate)
    assert (approval["approver"], approval["approver_role"]) == (APPROVER, "risk_officer")
    assert approval["scope"]["target_mode"] == "paper"
    minted = f"approval {approval['override_id']} minted for {candidate} → paper"
    expect(page.get_by_text(minted)).to_be_visible()
    screenshot("approval-run")

    page.goto("/assets/approval_overrides?view=events")
    expect(page.get_by_text(f"materialized in run {run_id[:8]}")).to_be_visible()
    summary = page.get_by_role("row").filter(has=page.get_by_text("summary", exact=True))
    expect(summary.locator("strong").first).to_have_text(APPROVER)
    expect(summary.get_by_role("cell", name=approval["override_id"], exact=True)).to_be_visible()
    screenshot("approval-summary")
