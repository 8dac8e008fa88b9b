"""A run process killed mid-materialization (issue 11, part 1), on SQLite and PostgreSQL.

A child process materializes the lane window and SIGKILLs itself at one of four points:

- `signal_write`: the window's signal rows are written inside the open transaction, not yet committed;
- `candidate_sweep`: three of the sixteen candidates are backtested, nothing of the sweep is stored;
- `before_stress`: candidates and fold metrics are computed and the stress replays have just started;
- `chain_write`: the one transaction that commits the research chain has written the candidates, not the
  rest, and is not committed.

The rules: the killed run leaves exactly the partitions it committed, each whole (nothing of the killed
transaction survives, and nothing of the research chain but the run row that opening the run
committed), its research run still `running`, an evidence chain that verifies and is a
prefix of the clean run's chain, and no session or lock that would block the next run. Re-running the
window then converges on the ledger of one uninterrupted run (compared on a separate database): the same
rows, the same evidence chain entry for entry, no duplicate natural keys, a chain that verifies.

Compared modulo wall-clock bookkeeping only (`fault_harness.WALL_CLOCK_COLUMNS`).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from torghut_assets_tests.defs.lane_window_harness import materialize_window
from torghut_assets_tests.reliability.fault_harness import (
    LANE,
    UPSTREAM_TABLES,
    WINDOW,
    CleanWindow,
    LedgerFactory,
    LedgerState,
    PostgresLedgers,
    SqliteLedgers,
    differing_tables,
    observe,
    shared_postgres_url,
    writers_released,
)

REPO_ROOT = Path(__file__).parents[2]
CRASH_MARKER = "CRASH-POINT-REACHED"
CHILD = (
    "import sys\n"
    "from torghut_assets_tests.reliability.test_crash_recovery import run_until_killed\n"
    "run_until_killed(*sys.argv[1:])\n"
)


@dataclasses.dataclass(frozen=True)
class CrashPoint:
    name: str
    committed: frozenset[str]  # tables holding the window's rows when the process dies
    run_status: str | None  # research_runs.status the killed run leaves behind
    chain_entries: int  # evidence entries committed before the kill

    def __str__(self) -> str:
        return self.name


SIGNAL_WRITE = CrashPoint("signal_write", frozenset(), None, 0)
CANDIDATE_SWEEP = CrashPoint(
    "candidate_sweep", UPSTREAM_TABLES | {"research_runs"}, "running", chain_entries=1
)
# The research chain is committed in one transaction: whatever was computed or written of it before the
# kill, only the opened run (`running`, one chain entry) survives.
BEFORE_STRESS = CrashPoint("before_stress", UPSTREAM_TABLES | {"research_runs"}, "running", chain_entries=1)
CHAIN_WRITE = CrashPoint("chain_write", UPSTREAM_TABLES | {"research_runs"}, "running", chain_entries=1)
CRASH_POINTS = (SIGNAL_WRITE, CANDIDATE_SWEEP, BEFORE_STRESS, CHAIN_WRITE)


def _die(point: str) -> None:
    print(f"{CRASH_MARKER} {point}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def run_until_killed(point: str, ledger_url: str, artifacts: str) -> None:
    """Child process body: arm the crash point, materialize the window, and die when it is reached."""
    import torghut_assets.domain.research_evaluation as evaluation
    import torghut_assets.services.research_chain as research_chain
    import torghut_assets.services.signal_ingest as signals_asset

    if point == SIGNAL_WRITE.name:
        write = signals_asset.replace_lane_window

        def write_signals_then_die(conn: Any, table: Any, *args: Any, **kwargs: Any) -> int:
            written = write(conn, table, *args, **kwargs)
            if table.name == "signals":
                _die(point)  # the rows went to the database; the ingest verdict and COMMIT never do
            return written

        signals_asset.replace_lane_window = write_signals_then_die  # type: ignore[assignment]
    elif point == CANDIDATE_SWEEP.name:
        sweep = evaluation.evaluate_candidates

        def die_after_three_candidates(frame: Any, specs: Any, **kwargs: Any) -> Any:
            sweep(frame, specs[:3], **kwargs)
            _die(point)

        evaluation.evaluate_candidates = die_after_three_candidates
    elif point == BEFORE_STRESS.name:

        def die_instead_of_stressing(*args: Any, **kwargs: Any) -> Any:
            _die(point)

        evaluation.evaluate_stress = die_instead_of_stressing
    elif point == CHAIN_WRITE.name:
        write_research = research_chain.replace_lane_window

        def write_candidates_then_die(conn: Any, table: Any, *args: Any, **kwargs: Any) -> int:
            written = write_research(conn, table, *args, **kwargs)
            if table.name == "research_candidates" and written:
                _die(point)  # inside the chain's transaction: folds, stress, request and COMMIT never come
            return written

        research_chain.replace_lane_window = write_candidates_then_die  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown crash point {point!r}")
    materialize_window(ledger_url, Path(artifacts), LANE, WINDOW)
    print("RUN-COMPLETED", flush=True)


@dataclasses.dataclass(frozen=True)
class CrashOutcome:
    point: CrashPoint
    child: subprocess.CompletedProcess[str]
    after_crash: LedgerState
    released: bool  # no lingering session (PostgreSQL) / write lock (SQLite) after the kill
    after_rerun: LedgerState
    clean: LedgerState

    def child_output(self) -> str:
        return f"exit {self.child.returncode}\n{self.child.stdout}\n{self.child.stderr[-3000:]}"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledgers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LedgerFactory]:
    if request.param == "sqlite":
        yield SqliteLedgers(tmp_path_factory.mktemp("ledgers"))
        return
    factory = PostgresLedgers(shared_postgres_url(), template=request.getfixturevalue("postgres_template"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="module", params=CRASH_POINTS, ids=str)
def crash(
    request: pytest.FixtureRequest, ledgers: LedgerFactory, window_artifacts: Path, clean_window: CleanWindow
) -> CrashOutcome:
    """Kill a run at the crash point, observe the ledger, re-run the window in-process, observe again."""
    point: CrashPoint = request.param
    clean = clean_window.state(ledgers)
    url = ledgers.create()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, point.name, url, str(window_artifacts)],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    released = writers_released(url)
    after_crash = observe(url)
    materialize_window(url, window_artifacts, LANE, WINDOW)
    return CrashOutcome(point, child, after_crash, released, observe(url), clean)


def test_the_run_process_dies_by_sigkill_at_the_crash_point(crash: CrashOutcome) -> None:
    assert crash.child.returncode == -signal.SIGKILL, crash.child_output()
    assert f"{CRASH_MARKER} {crash.point}" in crash.child.stdout, crash.child_output()


def test_a_killed_run_leaves_only_the_partitions_it_committed(crash: CrashOutcome) -> None:
    assert crash.after_crash.nonempty_tables() == crash.point.committed


def test_every_partition_a_killed_run_committed_is_whole(crash: CrashOutcome) -> None:
    finished = tuple(sorted(crash.point.committed - {"research_runs"}))
    assert differing_tables(crash.after_crash.rows, crash.clean.rows, finished) == {}


def test_a_killed_run_leaves_its_research_run_running(crash: CrashOutcome) -> None:
    assert crash.after_crash.run_status == crash.point.run_status


def test_the_chain_a_killed_run_leaves_verifies_and_is_a_prefix_of_the_clean_chain(
    crash: CrashOutcome,
) -> None:
    chain = crash.after_crash.chain
    assert chain.ok, chain.breaks
    assert chain.entries_checked == crash.point.chain_entries
    clean_prefix = crash.clean.rows["evidence_log"][: crash.point.chain_entries]
    assert crash.after_crash.rows["evidence_log"] == clean_prefix


def test_a_killed_run_holds_no_session_or_lock_that_blocks_the_next_run(crash: CrashOutcome) -> None:
    assert crash.released


def test_rerunning_the_window_reproduces_the_clean_ledger(crash: CrashOutcome) -> None:
    assert crash.after_rerun.run_status == "passed"
    assert differing_tables(crash.after_rerun.rows, crash.clean.rows) == {}


def test_rerunning_the_window_appends_exactly_the_clean_runs_evidence_chain(crash: CrashOutcome) -> None:
    assert crash.after_rerun.rows["evidence_log"] == crash.clean.rows["evidence_log"]


def test_rerunning_the_window_leaves_no_duplicate_natural_keys_or_repeated_evidence(
    crash: CrashOutcome,
) -> None:
    assert crash.after_rerun.duplicate_keys == {}
    assert crash.after_rerun.repeated_evidence == 0


def test_the_evidence_chain_verifies_against_the_live_rows_after_the_rerun(crash: CrashOutcome) -> None:
    chain = crash.after_rerun.chain
    assert chain.ok, chain.breaks
