"""The ledger database lost in the middle of a lane-window run (issue 11, part 2), on a private server.

The production job (`lane_window_job`, with its failure hook) runs the window; inside `research_runs`,
in the one transaction that commits the window's research chain, right after a partition's rows were
written (before the other partitions, the evidence entries and COMMIT), the database goes away:

- `server_stopped`: `pg_ctl stop -m immediate` during the fold-metrics write, i.e. a server crash (no
  checkpoint; the restart replays WAL);
- `backend_terminated`: `pg_terminate_backend` on the run's own connection, from a separate admin
  connection, during the candidate write; the server stays up.

The rules: the run fails at `research_runs` with the driver's connection error as Dagster records it;
once the server is back, the ledger holds exactly the partitions committed before the fault, each whole,
and nothing of the research chain but the run row its opening committed; that row says `failed` if the
ledger was still writable for the failure hook (else `running`), and the evidence chain verifies against
the live rows. A retry of the failed steps (Dagster's re-execution from
failure) then succeeds and leaves the rows and the current evidence of one uninterrupted run, without
duplicate natural keys.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._utils.error import SerializableErrorInfo

import torghut_assets.services.research_chain as research_assets
from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.jobs import lane_window_job
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets_tests.defs.lane_window_harness import resources
from torghut_assets_tests.reliability.fault_harness import (
    LANE,
    UPSTREAM_TABLES,
    WINDOW,
    CleanWindow,
    LedgerState,
    PostgresLedgers,
    PrivatePostgres,
    differing_tables,
    observe,
    writers_released,
)

pytestmark = pytest.mark.postgres

# libpq's words for a connection the server dropped (which one depends on who notices first).
CONNECTION_LOST = re.compile(
    r"server closed the connection unexpectedly|terminating connection|connection to server .* failed"
)
CHAIN_STEP = "research_runs"  # computes and commits the whole research chain
RESEARCH_STEPS = (
    CHAIN_STEP,
    "research_candidates",
    "research_fold_metrics",
    "research_stress_metrics",
    "research_promotions",
)


@dataclasses.dataclass(frozen=True)
class Loss:
    name: str
    during: str  # the table being written, in the chain's transaction, when the database goes away
    committed: frozenset[str]  # tables holding the window's rows after the fault
    run_status: str  # research_runs.status after the fault
    chain_entries: int  # evidence entries after the fault
    retried: tuple[str, ...]  # the steps a re-execution from failure runs

    def __str__(self) -> str:
        return self.name


SERVER_STOPPED = Loss(
    "server_stopped",
    "research_fold_metrics",
    UPSTREAM_TABLES | {"research_runs"},  # the candidates written before it went with the transaction
    run_status="running",  # the failure hook cannot reach a stopped server
    chain_entries=1,  # research_run (running), from opening the run
    retried=RESEARCH_STEPS,
)
BACKEND_TERMINATED = Loss(
    "backend_terminated",
    "research_candidates",
    UPSTREAM_TABLES | {"research_runs"},
    run_status="failed",  # the hook reconnects and marks the run failed
    chain_entries=2,  # research_run (running), research_run (failed)
    retried=RESEARCH_STEPS,
)


@dataclasses.dataclass(frozen=True)
class LossOutcome:
    loss: Loss
    fault_fired: bool
    failed_steps: list[str]
    failure: str  # the failed step's error as Dagster recorded it, causes included
    server_down_after_run: bool
    after_loss: LedgerState
    released: bool
    retried_steps: list[str]
    retry_succeeded: bool
    after_retry: LedgerState
    clean: LedgerState


def _run_job(url: str, artifacts: Path, steps: list[str] | None = None) -> dg.ExecuteInProcessResult:
    job = dg.Definitions(
        assets=LANE_WINDOW_ASSETS, jobs=[lane_window_job], resources=resources(url, artifacts)
    ).resolve_job_def("lane_window_job")
    return job.execute_in_process(
        partition_key=lane_window_key(LANE, WINDOW),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        asset_selection=None if steps is None else [dg.AssetKey(step) for step in steps],
    )


def _not_succeeded(result: dg.ExecuteInProcessResult) -> list[str]:
    """What Dagster's re-execution from failure runs: every step without a success, in job order."""
    succeeded = {event.step_key for event in result.get_step_success_events()}
    names = [asset.key.to_user_string() for asset in LANE_WINDOW_ASSETS]
    return [name for name in names if name not in succeeded]


def _error_text(error: SerializableErrorInfo | None) -> str:
    parts: list[str] = []
    while error is not None:
        parts.append(error.message)
        error = error.cause or error.context
    return "\n".join(parts)


def _lose_database(loss: Loss, server: PrivatePostgres, conn: sa.Connection) -> None:
    if loss is SERVER_STOPPED:
        server.stop("immediate")
        return
    pid = conn.exec_driver_sql("select pg_backend_pid()").scalar_one()
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as other:
            # With a timeout, pg_terminate_backend waits until the backend has exited.
            terminated = other.execute(sa.select(sa.func.pg_terminate_backend(pid, 10_000))).scalar_one()
    finally:
        admin.dispose()
    assert terminated, f"backend {pid} did not terminate"


@pytest.fixture(scope="module", params=[SERVER_STOPPED, BACKEND_TERMINATED], ids=str)
def loss(
    request: pytest.FixtureRequest,
    private_postgres_cluster: PrivatePostgres,
    private_ledgers: PostgresLedgers,
    window_artifacts: Path,
    clean_window: CleanWindow,
) -> Iterator[LossOutcome]:
    """Run the window, lose the database mid-write, bring it back, observe, retry from failure, observe."""
    loss: Loss = request.param
    server = private_postgres_cluster
    if not server.running:
        server.start()
    clean = clean_window.state(private_ledgers)
    url = private_ledgers.create()
    fired: list[bool] = []
    write = research_assets.replace_lane_window

    def write_then_lose_database(conn: sa.Connection, table: sa.Table, *args: Any, **kwargs: Any) -> int:
        written = write(conn, table, *args, **kwargs)
        if table.name == loss.during and not fired:
            fired.append(True)
            _lose_database(loss, server, conn)
        return written

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(research_assets, "replace_lane_window", write_then_lose_database)
        failed = _run_job(url, window_artifacts)
    down = not server.running
    if down:
        server.start()
    released = writers_released(url)
    after_loss = observe(url)
    retry_steps = _not_succeeded(failed)
    retry = _run_job(url, window_artifacts, retry_steps)
    failures = failed.get_step_failure_events()
    yield LossOutcome(
        loss=loss,
        fault_fired=bool(fired),
        failed_steps=[event.step_key or "" for event in failures],
        failure="\n".join(_error_text(event.step_failure_data.error) for event in failures),
        server_down_after_run=down,
        after_loss=after_loss,
        released=released,
        retried_steps=retry_steps,
        retry_succeeded=retry.success,
        after_retry=observe(url),
        clean=clean,
    )


def test_the_database_goes_away_inside_the_research_stage(loss: LossOutcome) -> None:
    assert loss.fault_fired
    assert loss.server_down_after_run == (loss.loss is SERVER_STOPPED)


def test_losing_the_database_fails_the_step_with_the_drivers_connection_error(loss: LossOutcome) -> None:
    assert loss.failed_steps == [CHAIN_STEP]
    assert "OperationalError" in loss.failure, loss.failure
    assert CONNECTION_LOST.search(loss.failure), loss.failure


def test_a_lost_write_leaves_only_the_partitions_committed_before_it(loss: LossOutcome) -> None:
    assert loss.after_loss.nonempty_tables() == loss.loss.committed


def test_every_partition_committed_before_the_loss_is_whole(loss: LossOutcome) -> None:
    finished = tuple(sorted(loss.loss.committed - {"research_runs"}))
    assert differing_tables(loss.after_loss.rows, loss.clean.rows, finished) == {}


def test_the_run_is_marked_failed_wherever_the_ledger_is_still_writable(loss: LossOutcome) -> None:
    assert loss.after_loss.run_status == loss.loss.run_status


def test_the_evidence_chain_verifies_against_the_live_rows_after_the_loss(loss: LossOutcome) -> None:
    chain = loss.after_loss.chain
    assert chain.ok, chain.breaks
    assert chain.entries_checked == loss.loss.chain_entries


def test_no_session_of_the_failed_run_lingers(loss: LossOutcome) -> None:
    assert loss.released


def test_a_retry_from_failure_reruns_only_the_failed_and_blocked_steps_and_succeeds(
    loss: LossOutcome,
) -> None:
    assert loss.retried_steps == list(loss.loss.retried)
    assert loss.retry_succeeded


def test_a_retry_after_recovery_reproduces_the_clean_ledger(loss: LossOutcome) -> None:
    assert loss.after_retry.run_status == "passed"
    assert differing_tables(loss.after_retry.rows, loss.clean.rows) == {}
    assert loss.after_retry.current_evidence == loss.clean.current_evidence


def test_a_retry_after_recovery_leaves_no_duplicate_natural_keys_or_repeated_evidence(
    loss: LossOutcome,
) -> None:
    assert loss.after_retry.duplicate_keys == {}
    assert loss.after_retry.repeated_evidence == 0


def test_the_evidence_chain_verifies_against_the_live_rows_after_the_retry(loss: LossOutcome) -> None:
    chain = loss.after_retry.chain
    assert chain.ok, chain.breaks
