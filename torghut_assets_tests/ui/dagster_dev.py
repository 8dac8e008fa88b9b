"""A real `dagster dev` on a fresh instance and ledger, as an operator gets from `make dev`, for the UI tests.

Everything lives in one temporary folder: the Dagster home (SQLite storage, the repo's `dagster.yaml`), the
ledger (migrated with `torghut-assets db upgrade`) and the evidence artifacts. The server runs in its own
process group, so stopping it also stops the webserver, the daemon, the code server and any run worker.
As in `make dev`, the server behind `torghut-assets artifacts serve` (here on a thread of this process, on
a free port) serves the artifacts, and `dagster dev` gets its URL as TORGHUT_ARTIFACT_BASE_URL, so artifact
links and plots open in the browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from torghut_assets.adapters.artifact_server import ArtifactServer
from torghut_assets.ledger.engine import create_ledger_engine

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "torghut_assets"
REPOSITORY = "__repository__"
READY_WITHIN_S = 180.0
RUN_FINISHES_WITHIN_S = 240.0
LAUNCHED_WITHIN_S = 60.0
DAGSTER_DEV = [str(BIN / "dagster"), "dev", "-h", "127.0.0.1"]
FINISHED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})

WORKSPACE_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on Error { message }
} }
"""
RUNS_OF_JOB = """
query Runs($filter: RunsFilter!) { runsOrError(filter: $filter) { ... on Runs { results { runId status } } } }
"""
RUN_STATUS = "query RunStatus($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"
ASSET_NODES = "{ assetNodes { assetKey { path } groupName } }"
# The once-per-instance community prompt would otherwise cover the first page a fresh instance shows.
COMMUNITY_PROMPT_SEEN = "mutation { setNuxSeen }"


class DagsterDevError(RuntimeError):
    """The server did not come up, or a run could not be launched or did not finish."""


def _interruptible() -> None:
    """`dagster dev` shuts down cleanly on SIGTERM by treating it as SIGINT, which a shell's background job
    (e.g. a CI step started with `&`) would otherwise inherit as ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DagsterDev:
    root: Path
    port: int
    seed: bool = False
    process: subprocess.Popen[bytes] | None = None
    artifact_server: ArtifactServer | None = None

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.root / 'ledger.sqlite'}"

    @property
    def log_path(self) -> Path:
        return self.root / "dagster-dev.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifact_root(self) -> Path:
        return self.root / "artifacts"

    def environment(self) -> dict[str, str]:
        served = {"TORGHUT_ARTIFACT_BASE_URL": self.artifact_server.base_url} if self.artifact_server else {}
        return {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "TORGHUT_DATABASE_URL": self.ledger_url,
            "TORGHUT_ARTIFACT_ROOT": str(self.artifact_root),
            **served,
        }

    def start(self) -> None:
        """Fresh instance, migrated ledger and served artifact root, then `dagster dev`; returns once the code
        location loaded."""
        self.home.mkdir(parents=True)
        self.artifact_server = ArtifactServer(self.artifact_root).start()
        shutil.copy(REPO / "dagster.yaml", self.home / "dagster.yaml")
        upgrade = subprocess.run(
            [str(BIN / "torghut-assets"), "db", "upgrade"],
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        if upgrade.returncode != 0:
            raise DagsterDevError(f"torghut-assets db upgrade failed:\n{upgrade.stdout}{upgrade.stderr}")
        if self.seed:
            self._run_cli("dev-seed")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*DAGSTER_DEV, "-p", str(self.port), "-w", str(REPO / "workspace.yaml")],
                cwd=self.root,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_interruptible,
            )
        self._wait_until_loaded()
        self.graphql(COMMUNITY_PROMPT_SEEN)

    def _run_cli(self, *args: str) -> None:
        """`torghut-assets ARGS` against this instance, as `make dev` runs it; its output goes to the log."""
        with self.log_path.open("ab") as log:
            done = subprocess.run(
                [str(BIN / "torghut-assets"), *args],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if done.returncode != 0:
            raise DagsterDevError(f"torghut-assets {' '.join(args)} failed:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left of it (run workers included); stop
        the artifact server."""
        if self.artifact_server is not None:
            self.artifact_server.stop()
            self.artifact_server = None
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self._signal_group(signal.SIGKILL)
        self.process.wait()

    def _signal_group(self, signum: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + READY_WITHIN_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                raise DagsterDevError(f"dagster dev exited with {code}:\n{self.log_tail()}")
            entries = self._location_entries()
            loaded = [e for e in entries if e["name"] == LOCATION and e["loadStatus"] == "LOADED"]
            if loaded:
                error = loaded[0]["locationOrLoadError"]
                if error["__typename"] == "PythonError":
                    raise DagsterDevError(f"code location failed to load: {error['message']}")
                return
            time.sleep(1)
        raise DagsterDevError(f"code location not loaded after {READY_WITHIN_S:.0f} s:\n{self.log_tail()}")

    def _location_entries(self) -> list[dict[str, Any]]:
        try:
            workspace = self.graphql(WORKSPACE_STATUS)["workspaceOrError"]
        except (urllib.error.URLError, ConnectionError, DagsterDevError):
            return []
        return list(workspace.get("locationEntries") or [])

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
        if body.get("errors"):
            raise DagsterDevError(f"GraphQL errors: {body['errors']}")
        return dict(body["data"])

    def asset_groups(self) -> dict[str, str]:
        """Asset key (`a/b`) → group, as the webserver serves them."""
        nodes = self.graphql(ASSET_NODES)["assetNodes"]
        return {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}

    def launch_run(
        self, job: str, *, tags: dict[str, str] | None = None, run_config: dict[str, Any] | None = None
    ) -> str:
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        result = self.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise DagsterDevError(f"{job} not launched: {result}")
        return str(result["run"]["runId"])

    def wait_for_run(self, run_id: str) -> str:
        """The run's final status (queued runs wait for the daemon, so this can take a while)."""
        deadline = time.monotonic() + RUN_FINISHES_WITHIN_S
        while time.monotonic() < deadline:
            status = str(self.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]["status"])
            if status in FINISHED:
                return status
            time.sleep(1)
        raise DagsterDevError(f"run {run_id} not finished after {RUN_FINISHES_WITHIN_S:.0f} s")

    def runs_of(self, job: str | None = None, tags: dict[str, str] | None = None) -> list[str]:
        """Ids of the runs (newest first) of the job, or of any job, carrying every tag given."""
        run_filter: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        if job is not None:
            run_filter["pipelineName"] = job
        runs = self.graphql(RUNS_OF_JOB, {"filter": run_filter})["runsOrError"]["results"]
        return [str(run["runId"]) for run in runs]

    def new_run(self, before: set[str], job: str | None = None, tags: dict[str, str] | None = None) -> str:
        """The run a UI gesture just launched: the first one of the job/tags not in `before`."""
        deadline = time.monotonic() + LAUNCHED_WITHIN_S
        while time.monotonic() < deadline:
            launched = [run for run in self.runs_of(job, tags) if run not in before]
            if launched:
                return launched[0]
            time.sleep(0.5)
        raise DagsterDevError(f"no new run of {job or 'any job'} {tags or ''} in {LAUNCHED_WITHIN_S:.0f} s")

    def ledger_rows(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
        engine = create_ledger_engine(self.ledger_url)
        try:
            with engine.connect() as conn:
                return [dict(row) for row in conn.execute(sa.select(table).where(*where)).mappings()]
        finally:
            engine.dispose()
