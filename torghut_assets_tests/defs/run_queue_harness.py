"""The real run queue, in-process: an instance built from a shipped profile, the code location loaded in
this process, and the queued-run daemon stepped one iteration at a time.

The run launcher only records what the daemon launched, so a launched run stays in progress until the
test says it finished: what is under test is the queue's decision, not the run's body.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.remote_representation.external_data import PartitionTagsSnap
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.daemon import get_default_daemon_logger
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from torghut_assets.defs.lane_window.jobs import LANE_WINDOW_ASSETS as LANE_WINDOW_SELECTION

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_PROFILE = REPO_ROOT / "dagster.yaml"
PRODUCTION_PROFILE = REPO_ROOT / "deploy" / "dagster.production.yaml"
LOCATION = "torghut_assets"
RECORDING_LAUNCHER = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}


def load_profile(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


class RunQueue:
    """Launch, backfill, step the daemon, finish runs; read statuses."""

    def __init__(self, context: WorkspaceProcessContext) -> None:
        self._context = context
        self._daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        self.instance = context.instance

    def _location(self) -> CodeLocation:
        return self._context.create_request_context().get_code_location(LOCATION)

    def launch(
        self, job_name: str, partition_key: str | None = None, run_config: Mapping[str, Any] | None = None
    ) -> str:
        """What the Launchpad does: the job's tags plus the partition's tags, then submit to the queue."""
        location = self._location()
        (repo,) = location.get_repositories().values()
        remote_job = location.get_job(
            JobSubsetSelector(
                location_name=LOCATION, repository_name=repo.name, job_name=job_name, op_selection=None
            )
        )
        tags = dict(remote_job.tags)
        if partition_key is not None:
            snap = location.get_partition_tags_from_repo(repo.handle, job_name, partition_key, self.instance)
            assert isinstance(snap, PartitionTagsSnap), snap
            tags.update(snap.tags)
        plan = location.get_execution_plan(
            remote_job, dict(run_config or {}), step_keys_to_execute=None, known_state=None
        ).execution_plan_snapshot
        run = self.instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config=dict(run_config or {}),
            resolved_op_selection=None,
            step_keys_to_execute=plan.step_keys_to_execute,
            op_selection=None,
            status=None,
            root_run_id=None,
            parent_run_id=None,
            tags=tags,
            job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_selection=None,
            asset_check_selection=None,
            asset_graph=repo.asset_graph,
        )
        return self.instance.submit_run(run.run_id, self._context.create_request_context()).run_id

    def backfill(self, partition_keys: list[str]) -> list[str]:
        """An asset backfill of the lane-window assets, submitted by one backfill-daemon iteration.

        Returns the run ids in the order of `partition_keys`.
        """
        backfill_id = f"bf{time.time_ns()}"
        workspace = self._context.create_request_context()
        self.instance.add_backfill(
            PartitionBackfill.from_asset_partitions(
                backfill_id=backfill_id,
                asset_graph=workspace.asset_graph,
                partition_names=partition_keys,
                asset_selection=list(LANE_WINDOW_SELECTION.resolve(workspace.asset_graph)),
                backfill_timestamp=time.time(),
                tags={},
                dynamic_partitions_store=self.instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config=None,
            )
        )
        list(execute_backfill_iteration(self._context, get_default_daemon_logger("BackfillDaemon")))
        runs = self.instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
        by_partition = {run.tags[PARTITION_NAME_TAG]: run.run_id for run in runs}
        return [by_partition[key] for key in partition_keys]

    def tick(self) -> None:
        """One iteration of the queued-run daemon."""
        list(self._daemon.run_iteration(self._context))

    def finish(self, run_id: str) -> None:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        event = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)
        self.instance.report_dagster_event(event, run_id=run_id)

    def statuses(self, *run_ids: str) -> list[DagsterRunStatus]:
        runs = {run.run_id: run.status for run in self.instance.get_runs(RunsFilter(run_ids=list(run_ids)))}
        return [runs[run_id] for run_id in run_ids]


@contextmanager
def run_queue(home: Path, profile: Mapping[str, Any]) -> Iterator[RunQueue]:
    """A queue under `home` with the profile's coordinator and limits, on embedded (SQLite) storage."""
    config = {key: value for key, value in profile.items() if key != "storage"}
    (home / "dagster.yaml").write_text(yaml.safe_dump({**config, "run_launcher": RECORDING_LAUNCHER}))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="torghut_assets.definitions", attribute="defs"),
        location_name=LOCATION,
    )
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as context,
    ):
        yield RunQueue(context)
