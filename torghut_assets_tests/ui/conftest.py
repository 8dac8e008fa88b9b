"""Fixtures of the browser acceptance tests: one `dagster dev` and one Chromium per module.

- `dagster_ui`: `dagster dev` on a free port with a fresh Dagster home, ledger and artifact root
  (`dagster_dev.py`); stopped with its whole process group at the end of the module.
- `page`: a new tab of a module-wide headless Chromium (`browser.py`) on that server; `screenshot(name)`
  saves a step's picture under the module's screenshot folder (printed at the end of the session), and
  every test's last screen is saved as well, which is what a failure needs.
- `materialized_window`, `gate_evaluated_candidate`: what a test needs in the ledger, made the operator's
  way, through the webserver's GraphQL API and the daemon (`scenario.py` names the window).

Without Chromium the tests are skipped, or fail with `TORGHUT_REQUIRE_UI=1` (CI).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from playwright.sync_api import BrowserContext, Page

from torghut_assets.defs.lane_window.partitions import lane_window_from_key, lane_window_partitions
from torghut_assets.ledger import schema
from torghut_assets.ledger.writes import to_native
from torghut_assets_tests.ui.browser import chromium, chromium_executable
from torghut_assets_tests.ui.dagster_dev import DagsterDev, free_port
from torghut_assets_tests.ui.scenario import LANE, PARTITION, MaterializedWindow

GATE_REVIEWER = "risk.committee@torghut.example"


def ui_unavailable(message: str) -> NoReturn:
    if os.environ.get("TORGHUT_REQUIRE_UI") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    executable = chromium_executable()
    if executable is None:
        ui_unavailable("chromium is not installed: `make ui-deps` (apt-get install chromium chromium-driver)")
    return executable


@pytest.fixture(scope="module")
def dagster_ui(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    server = DagsterDev(root=tmp_path_factory.mktemp("dagster-dev"), port=free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(
    chromium_path: str, dagster_ui: DagsterDev, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    with chromium(chromium_path, tmp_path_factory.mktemp("chromium-profile"), dagster_ui.url) as context:
        yield context


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-screenshots", numbered=False)


@pytest.fixture
def page(browser: BrowserContext, screenshot_dir: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    request.node.user_properties.append(("ui_screenshots", str(screenshot_dir)))
    tab = browser.new_page()
    yield tab
    tab.screenshot(path=screenshot_dir / f"{request.node.name}-last.png")
    tab.close()


@pytest.fixture
def screenshot(page: Page, screenshot_dir: Path, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    taken = itertools.count(1)

    def take(step: str) -> Path:
        path = screenshot_dir / f"{request.node.name}-{next(taken):02d}-{step}.png"
        page.screenshot(path=path)
        return path

    return take


@pytest.fixture(scope="module")
def materialized_window(dagster_ui: DagsterDev) -> MaterializedWindow:
    """`lane_window_job` for PARTITION, launched through the webserver and run by the daemon."""
    run_id = dagster_ui.launch_run(
        "lane_window_job", tags=dict(lane_window_partitions.get_tags_for_partition_key(PARTITION))
    )
    status = dagster_ui.wait_for_run(run_id)
    assert status == "SUCCESS", f"lane_window_job {PARTITION} ended {status}:\n{dagster_ui.log_tail()}"
    t = schema.research_candidates
    start = to_native(lane_window_from_key(PARTITION).start)
    rows = dagster_ui.ledger_rows(t, t.c.lane == LANE, t.c.window_start == start)
    assert rows, f"run {run_id} wrote no research candidates for {PARTITION}"
    return MaterializedWindow(run_id=run_id, candidates=sorted(row["candidate_id"] for row in rows))


@pytest.fixture(scope="module")
def gate_evaluated_candidate(dagster_ui: DagsterDev, materialized_window: MaterializedWindow) -> str:
    """A candidate whose gates were evaluated (an approval names the evaluation it overrides)."""
    candidate = materialized_window.candidates[0]
    run_id = dagster_ui.launch_run(
        "promotion_job",
        run_config={
            "ops": {
                "promotion_decision": {
                    "config": {"candidate_id": candidate, "target_stage": "paper", "requester": GATE_REVIEWER}
                }
            }
        },
    )
    dagster_ui.wait_for_run(run_id)  # a fresh ledger denies (a verdict); the evaluation is recorded
    t = schema.gate_evaluations
    evaluations = dagster_ui.ledger_rows(t, t.c.candidate_id == candidate)
    assert evaluations, f"promotion run {run_id} evaluated nothing"
    return candidate
