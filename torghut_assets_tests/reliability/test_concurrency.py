"""Concurrent writers on SQLite and PostgreSQL (issue 11, part 3).

- Two processes materializing the same lane-window partition at once leave exactly the rows one clean
  run leaves: no duplicates, no half-written partition, one evidence entry per piece of evidence.
- Two promotions of the same candidate racing to paper land at most one rollout transition; the loser
  is denied (SQLite serializes the transactions) or fails on the unique (lane, seq) (PostgreSQL), and
  every decision that committed has its promotion row, gate evaluation and evidence entries.
- The evidence chain stays linear under concurrent appenders: seq 1..n, no gap, no fork.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from torghut_assets.defs.governance.promotion import PromotionConfig
from torghut_assets.defs.launchpad import TargetStage
from torghut_assets.ledger import rollout_store, schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import ChainVerification, append_entry, verify_chain
from torghut_assets.services.promotion import PromotionRefusedError, PromotionResult, run_promotion
from torghut_assets_tests.defs.governance_harness import LANE, GovernedLedger
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window
from torghut_assets_tests.reliability.governed_snapshot import BACKENDS, fresh_ledger_url, governed_copy

REPO_ROOT = Path(__file__).parents[2]
ALL_TABLES = tuple(t.name for t in schema.metadata.sorted_tables)
# Wall-clock bookkeeping, not content: when an evidence entry / the strategy registry row was written.
WALL_CLOCK_COLUMNS = {
    "evidence_log": ("recorded_at", "created_at"),
    "strategies": ("created_at", "updated_at"),
}

RACER = """
import json, sys, time
from pathlib import Path
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window
url, root, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
ready.touch()
while not go.exists():
    time.sleep(0.002)
started = time.time()
try:
    result = materialize_window(url, root, "macd_rsi", OPEN_WINDOW)
    outcome = {"ok": result.success, "error": None}
except Exception as exc:
    outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
print("RACER-OUTCOME " + json.dumps({**outcome, "started": started, "finished": time.time()}))
"""


@dataclass(frozen=True)
class RacerOutcome:
    returncode: int
    ok: bool
    error: str | None
    stderr_tail: str
    started: float
    finished: float


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            dumped = {}
            for name in ALL_TABLES:
                table = schema.metadata.tables[name]
                columns = [c for c in table.columns if c.name not in WALL_CLOCK_COLUMNS.get(name, ())]
                rows = conn.execute(sa.select(*columns).order_by(table.c.id))
                dumped[name] = [tuple(r) for r in rows]
            return dumped
    finally:
        engine.dispose()


def _chain(url: str, *, deep: bool = True) -> ChainVerification:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return verify_chain(conn, recompute=live_recompute(conn) if deep else None)
    finally:
        engine.dispose()


def _evidence_seqs(url: str) -> list[int]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            log = schema.evidence_log
            return [int(s) for s in conn.execute(sa.select(log.c.seq).order_by(log.c.seq)).scalars()]
    finally:
        engine.dispose()


def _race_with_a_subprocess(
    url: str, artifacts: Path, work: Path, while_it_starts: Callable[[], object]
) -> list[RacerOutcome]:
    """Materialize the window in this process and in a child process released at the same instant.

    The child imports Dagster and the code location first (~2 s); `while_it_starts` runs meanwhile.
    """
    go, ready = work / "go", work / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", RACER, url, str(artifacts), str(ready), str(go)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        while_it_starts()
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        go.touch()
        started = time.time()
        try:
            ok, error = materialize_window(url, artifacts, "macd_rsi", OPEN_WINDOW).success, None
        except Exception as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        here = RacerOutcome(0 if ok else 1, ok, error, "", started, time.time())
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    line = next((x for x in out.splitlines() if x.startswith("RACER-OUTCOME ")), None)
    parsed = json.loads(line.removeprefix("RACER-OUTCOME ")) if line else {}
    child = RacerOutcome(
        proc.returncode,
        bool(parsed.get("ok")),
        parsed.get("error"),
        err[-2000:],
        float(parsed.get("started", 0.0)),
        float(parsed.get("finished", 0.0)),
    )
    return [here, child]


# --- (a) the same lane-window partition materialized by two runs at once ---------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def two_ledgers(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(reference, race): two empty migrated ledgers of the same backend."""
    reference = fresh_ledger_url(request, tmp_path, backend)
    race = fresh_ledger_url(request, tmp_path, backend)
    yield next(reference), next(race)
    for gen in (reference, race):
        gen.close()


def test_two_processes_materializing_one_window_leave_exactly_one_clean_runs_rows(
    two_ledgers: tuple[str, str], tmp_path: Path
) -> None:
    reference, race = two_ledgers
    artifacts = tmp_path / "artifacts"  # shared: rows reference artifacts by path
    outcomes = _race_with_a_subprocess(
        race,
        artifacts,
        tmp_path,
        while_it_starts=lambda: materialize_window(reference, artifacts, "macd_rsi", OPEN_WINDOW),
    )

    # Neither run fails: writers serialize (SQLite BEGIN IMMEDIATE; PostgreSQL row locks on the upsert
    # by id, the advisory lock on the evidence chain), and the later one rewrites the same rows.
    assert [(o.returncode, o.ok, o.error) for o in outcomes] == [(0, True, None)] * 2, [
        o.stderr_tail for o in outcomes
    ]
    here, child = outcomes
    assert max(here.started, child.started) < min(here.finished, child.finished)  # the runs overlapped
    raced, clean = _dump(race), _dump(reference)
    assert {k: len(v) for k, v in raced.items()} == {k: len(v) for k, v in clean.items()}
    assert raced == clean
    chain = _chain(race)
    assert chain.ok, chain.breaks[:5]
    assert _evidence_seqs(race) == list(range(1, chain.entries_checked + 1))


# --- (b) two promotions of the same candidate to paper at once ------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def governed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GovernedLedger]:
    yield from governed_copy(request, tmp_path_factory)


@pytest.fixture
def ledger(governed: GovernedLedger) -> Iterator[GovernedLedger]:
    governed.reset()
    yield governed
    governed.reset()


@dataclass
class RaceResult:
    results: list[PromotionResult]
    errors: list[BaseException]
    both_read_a_stale_lane: bool


def _race_promotions(
    ledger: GovernedLedger, candidate_id: str, monkeypatch: pytest.MonkeyPatch, racers: int = 2
) -> RaceResult:
    """Run `racers` promotions at once and hold each at its in-transaction read of the lane until all
    have read it: the interleaving where every racer decides on the same, stale lane.

    On SQLite that interleaving cannot happen (BEGIN IMMEDIATE holds the other racers before their
    read), so the first racer gives up waiting after 2 s; PostgreSQL racers wait up to 60 s for each
    other, so a slow machine cannot turn the race into a sequential run."""
    barrier = threading.Barrier(racers)
    waits = {"sqlite": 2.0, "postgresql": 60.0}
    reads = threading.local()
    stale = threading.Event()
    real_load_lane = rollout_store.load_lane

    def load_lane(conn: sa.Connection, lane: str) -> Any:
        loaded = real_load_lane(conn, lane)
        reads.count = getattr(reads, "count", 0) + 1
        if reads.count == 2:  # the second read is the one inside the decision's write transaction
            try:
                barrier.wait(timeout=waits[conn.dialect.name])
                stale.set()
            except threading.BrokenBarrierError:
                pass
        return loaded

    monkeypatch.setattr(rollout_store, "load_lane", load_lane)
    results: list[PromotionResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(racers)

    def promote() -> None:
        res = ledger.resources()
        start.wait()
        try:
            results.append(
                run_promotion(
                    PromotionConfig(
                        candidate_id=candidate_id, target_stage=TargetStage.paper, requester="quant@torghut"
                    ),
                    ledger=res["ledger"],
                    market_data=res["market_data"],
                    research_settings=res["research_settings"],
                    governance=res["governance"],
                    now=dt.datetime.now(dt.UTC),
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            res["ledger"].engine.dispose()

    threads = [threading.Thread(target=promote) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return RaceResult(results, errors, stale.is_set())


@dataclass(frozen=True)
class PaperRace:
    """Two promotions of the best candidate to paper, raced once per backend, and the ledger after."""

    candidate_id: str
    race: RaceResult
    transitions: list[dict[str, Any]]
    promotions: dict[str, dict[str, Any]]
    gate_evaluation_ids: set[str]
    evidence_kinds: list[str]
    lifecycle: tuple[str, str]
    chain: ChainVerification
    evidence_seqs: list[int]


@pytest.fixture(scope="module")
def paper_race(governed: GovernedLedger) -> Iterator[PaperRace]:
    champion = governed.candidates[0]
    governed.reset()
    with pytest.MonkeyPatch.context() as patch:
        race = _race_promotions(governed, champion, patch)
    yield PaperRace(
        candidate_id=champion,
        race=race,
        transitions=governed.rows("rollout_transitions", lane=LANE),
        promotions={p["id"]: p for p in governed.rows("research_promotions", approver="torghut_gates")},
        gate_evaluation_ids={str(g["id"]) for g in governed.rows("gate_evaluations", candidate_id=champion)},
        evidence_kinds=governed.evidence_kinds(),
        lifecycle=governed.lifecycle(champion),
        chain=_chain(governed.url),
        evidence_seqs=_evidence_seqs(governed.url),
    )
    governed.reset()


def test_two_simultaneous_promotions_to_paper_record_exactly_one_advance(paper_race: PaperRace) -> None:
    assert [
        (t["seq"], t["transition_type"], t["candidate_id"], t["to_stage"]) for t in paper_race.transitions
    ] == [(1, "advance", paper_race.candidate_id, "paper")]
    winners = [r for r in paper_race.race.results if r.outcome.allowed]
    assert len(winners) == 1 and winners[0].transition is not None
    assert winners[0].transition["transition_id"] == paper_race.transitions[0]["transition_id"]
    assert len(paper_race.race.results) + len(paper_race.race.errors) == 2
    assert paper_race.lifecycle == ("champion", "active")


def test_the_losing_promotion_is_denied_or_fails_on_the_unique_lane_seq(
    paper_race: PaperRace, governed: GovernedLedger
) -> None:
    race = paper_race.race
    if governed.url.startswith("sqlite"):
        # BEGIN IMMEDIATE: the second decision transaction cannot start until the first commits, so the
        # racers never both read the lane; the loser re-decides on the promoted lane and is denied.
        assert not race.both_read_a_stale_lane and not race.errors
        (loser,) = [r for r in race.results if not r.outcome.allowed]
        assert loser.outcome.action == "deny" and loser.transition is None
        assert "stage_not_next_step" in loser.outcome.reason_codes, loser.outcome.reason_codes
    else:
        # READ COMMITTED: both decided on the stale lane; the second insert of (lane, seq=1) waits for
        # the first commit, then violates the unique key and its whole transaction rolls back.
        assert race.both_read_a_stale_lane
        (error,) = race.errors
        assert isinstance(error, PromotionRefusedError), repr(error)
        assert "changed concurrently" in str(error)
        cause = error.__cause__
        assert isinstance(cause, sa.exc.IntegrityError) and "rollout_transitions" in str(cause)
        assert len(race.results) == 1 and race.results[0].outcome.allowed


def test_every_committed_promotion_decision_has_its_rows_and_evidence(paper_race: PaperRace) -> None:
    committed = {r.promotion["id"]: r for r in paper_race.race.results}
    assert set(paper_race.promotions) == set(committed)  # a rolled-back decision left no row
    for promotion_id, result in committed.items():
        assert paper_race.promotions[promotion_id]["decision_action"] == result.outcome.action
    assert paper_race.gate_evaluation_ids == {str(r.gate_evaluation["id"]) for r in paper_race.race.results}
    assert paper_race.evidence_kinds.count("promotion_decision") == len(committed)
    assert paper_race.evidence_kinds.count("gate_evaluation") == len(committed)
    assert paper_race.evidence_kinds.count("rollout_transition") == 1


def test_racing_promotions_leave_a_linear_verified_evidence_chain(paper_race: PaperRace) -> None:
    assert paper_race.evidence_seqs == list(range(1, len(paper_race.evidence_seqs) + 1))
    assert paper_race.chain.ok, paper_race.chain.breaks[:5]
    assert paper_race.chain.entries_checked == len(paper_race.evidence_seqs)


# --- (c) the evidence chain stays linear under concurrent appenders --------------------------------


def test_concurrent_evidence_appends_extend_one_linear_chain(ledger: GovernedLedger) -> None:
    writers, per_writer = 6, 12
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def append(writer: int) -> None:
        engine = create_ledger_engine(ledger.url)
        try:
            start.wait()
            for i in range(per_writer):
                with engine.begin() as conn:
                    append_entry(
                        conn,
                        entry_kind="concurrency_probe",
                        subject=f"writer-{writer}",
                        content={"writer": writer, "i": i},
                        recorded_at=dt.datetime.now(dt.UTC),
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=append, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors[:3]
    seqs = _evidence_seqs(ledger.url)
    assert seqs == list(range(1, ledger.evidence_seq + writers * per_writer + 1))
    assert ledger.evidence_kinds().count("concurrency_probe") == writers * per_writer
    chain = _chain(ledger.url)
    assert chain.ok and chain.head_seq == seqs[-1], chain.breaks[:5]
