"""A lane added by editing only the catalog file: it appears as partitions of the reloaded code location and
runs windows, research, gates and promotion like the built-in lanes; a second account on the same strategy
keeps its own decision hashes and positions.

The catalog is read once per process (as a code location is, on each load), so the reload is a fresh
interpreter with `TORGHUT_LANE_CATALOG` pointing at the edited file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from torghut_assets.catalog_loader import DEFAULT_LANE_CATALOG_PATH
from torghut_assets_tests.desk_package import DESK_PACKAGE_ROOT

REPO = Path(__file__).resolve().parents[2]

# The shipped catalog, plus a second account and two lanes: the desk's own strategy, and the built-in
# macd_rsi strategy again on the second account.
ADDED = """
[accounts.desk2]
description = "A second, simulated account."
equity = 100000.0

[lanes.bollinger]
description = "The desk's own strategy, from its own package."
strategy = "desk_strategies:BollingerReversion"
account = "desk2"

[lanes.bollinger.research]
grid = { band_buffer_bps = [0.0, 5.0] }

[lanes.macd_rsi_desk2]
description = "macd_rsi's strategy, traded for the second account."
strategy = "legacy_macd_rsi"
account = "desk2"
"""

SCRIPT = r"""
import datetime as dt, json, sys
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.definitions import defs
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.services.broker_account import ledger_positions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.governance.promotion import PromotionConfig
from torghut_assets.domain.routing import Venue
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade
from torghut_assets.services.promotion import run_promotion
from torghut_assets_tests.defs.governance_harness import GovernedLedger, live_enabled_policy
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window, resources

root = Path(sys.argv[1])
url = f"sqlite:///{root}/ledger.db"
engine = create_ledger_engine(url)
upgrade(engine)
job = defs.resolve_job_def("lane_window_job")
out = {
    "checksum": configured_catalog().checksum,
    "lane_keys": sorted(job.partitions_def.get_partitions_def_for_dimension("lane").get_partition_keys()),
}
materialize_window(url, root / "artifacts", "bollinger", OPEN_WINDOW)
base = resources(url, root / "artifacts")
for lane in ("macd_rsi", "macd_rsi_desk2"):
    dg.materialize(
        [signals, trade_decisions, executions],
        partition_key=lane_window_key(lane, OPEN_WINDOW),
        resources=base,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
with engine.connect() as conn:
    rows = lambda sql: [dict(r) for r in conn.execute(sa.text(sql)).mappings()]
    out["runs"] = rows("select lane, strategy_type, status, lane_catalog_checksum from research_runs")
    out["candidates"] = rows("select lane, candidate_id from research_candidates order by candidate_id")
    out["decisions"] = rows(
        "select lane, alpaca_account_label as account, decision_hash, decision_json from trade_decisions"
    )
    out["executions"] = rows(
        "select lane, alpaca_account_label as account, symbol, side, filled_qty from executions"
    )
ledger = GovernedLedger(url=url, root=root, evidence_seq=0, candidates=[])
live_enabled_policy(root / "gates-live-enabled.toml")
candidate = out["candidates"][0]["candidate_id"]
result = ledger.promote(candidate, "paper")
out["promotion"] = {"action": result.outcome.action, "gates": [g.gate_id for g in result.report.gates]}
out["gate_evaluations"] = [r["candidate_id"] for r in ledger.rows("gate_evaluations")]
out["promotions"] = [r["decision_action"] for r in ledger.rows("research_promotions", candidate_id=candidate)]
ledger_res = base["ledger"]
out["positions"] = {
    label: ledger_positions(ledger_res, frozenset({Venue.SIMULATOR}), frozenset({label}))
    for label in ("paper", "desk2")
}
print("RESULT " + json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def reloaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("desk")
    catalog = root / "desk.toml"
    catalog.write_text(DEFAULT_LANE_CATALOG_PATH.read_text(encoding="utf-8") + ADDED, encoding="utf-8")
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("TORGHUT_", "TRADING_", "APCA_", "LLM_"))
        },
        "TORGHUT_LANE_CATALOG": str(catalog),
        "DAGSTER_HOME": str(root),
        "PYTHONPATH": os.pathsep.join([str(DESK_PACKAGE_ROOT), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True, env=env, timeout=300
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    result["catalog_bytes"] = catalog.read_bytes()
    return result


def test_the_new_lane_is_a_partition_of_the_reloaded_code_location(reloaded: dict[str, Any]) -> None:
    assert reloaded["lane_keys"] == ["bollinger", "ema_trend", "macd_rsi", "macd_rsi_desk2"]


def test_the_new_lane_runs_its_window_and_research_with_its_own_strategy_and_grid(
    reloaded: dict[str, Any],
) -> None:
    (run,) = [r for r in reloaded["runs"] if r["lane"] == "bollinger"]
    assert (run["strategy_type"], run["status"]) == ("desk_strategies:BollingerReversion", "passed")
    assert len([c for c in reloaded["candidates"] if c["lane"] == "bollinger"]) == 2  # the catalog's grid
    assert [d for d in reloaded["decisions"] if d["lane"] == "bollinger"]


def test_the_new_lane_goes_through_gates_and_promotion(reloaded: dict[str, Any]) -> None:
    candidate_gates = reloaded["promotion"]["gates"]
    assert candidate_gates and reloaded["gate_evaluations"]  # evaluated and recorded, whatever the verdict
    assert reloaded["promotion"]["action"] in reloaded["promotions"]


def test_rows_record_the_catalog_checksum(reloaded: dict[str, Any]) -> None:
    import hashlib

    checksum = hashlib.sha256(reloaded["catalog_bytes"]).hexdigest()
    assert reloaded["checksum"] == checksum
    assert {r["lane_catalog_checksum"] for r in reloaded["runs"]} == {checksum}
    payloads = [
        d["decision_json"] if isinstance(d["decision_json"], dict) else json.loads(d["decision_json"])
        for d in reloaded["decisions"]
    ]
    assert {p["lane_catalog"]["checksum"] for p in payloads} == {checksum}


def test_two_accounts_on_one_strategy_have_their_own_hashes_and_positions(reloaded: dict[str, Any]) -> None:
    by_lane: dict[str, list[dict[str, Any]]] = {}
    for d in reloaded["decisions"]:
        by_lane.setdefault(d["lane"], []).append(d)
    paper, desk2 = by_lane["macd_rsi"], by_lane["macd_rsi_desk2"]
    assert paper and len(paper) == len(desk2)
    assert {d["account"] for d in paper} == {"paper"} and {d["account"] for d in desk2} == {"desk2"}
    assert not {d["decision_hash"] for d in paper} & {d["decision_hash"] for d in desk2}
    # Positions are per account: each label's are the net of its own fills (bollinger trades desk2 too).
    for label, held in reloaded["positions"].items():
        net: dict[str, float] = {}
        for e in reloaded["executions"]:
            if e["account"] == label:
                sign = 1.0 if e["side"] == "buy" else -1.0
                net[e["symbol"]] = net.get(e["symbol"], 0.0) + sign * float(e["filled_qty"] or 0.0)
        assert held == pytest.approx(net), label
    assert reloaded["positions"]["paper"] != reloaded["positions"]["desk2"]
