"""Signal arrival → order accepted by the venue, for paper lanes on the open-window loop.

A writer thread releases one simulated session's signal rows into a SQLite `ta_signals` table as their
time comes (time runs `--speed` times faster than the wall clock, so an hour of session fits in minutes;
the latency is measured on the wall clock, from the row's insert to the venue's acceptance). Two runs in
the same process:

- project: the real `advance_open_windows` tick (the body of `open_window_sensor`: signals → decisions →
  LLM advisory (off) → executions) every `--interval` wall seconds (15, the sensor's default), against a
  recording stub venue;
- baseline: the reference's loop floor — a poller that reads new rows every 5 s (TRADING_POLL_MS=5000)
  and does nothing else; its latency for the same signals is what the reference's interval alone costs.

Usage: python -m bench.open_window_latency [--quick] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

SESSION_OPEN = pd.Timestamp("2026-03-03 14:30", tz="UTC")
START = pd.Timestamp("2026-03-03 15:00", tz="UTC")
REFERENCE_POLL_SECONDS = 5.0
TARGET_P95_SECONDS = 30.0


@dataclass
class Clock:
    """Session time running `speed` times faster than the wall clock from `wall0`."""

    start: pd.Timestamp
    speed: float
    wall0: float = field(default_factory=time.monotonic)

    def now(self) -> pd.Timestamp:
        elapsed = pd.Timedelta(seconds=(time.monotonic() - self.wall0) * self.speed)
        return (self.start + elapsed).floor("ms")


class Writer(threading.Thread):
    """Inserts each row when session time reaches its event_ts; remembers the wall time of each insert."""

    def __init__(self, engine: Any, rows: pd.DataFrame, clock: Clock, until: pd.Timestamp) -> None:
        super().__init__(daemon=True)
        self.engine, self.rows, self.clock, self.until = engine, rows, clock, until
        self.arrived: dict[tuple[str, pd.Timestamp], float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        from torghut_assets.adapters.sql_signal_source import write_ta_signals

        pending = self.rows.sort_values("event_ts").reset_index(drop=True)
        cursor = 0
        while cursor < len(pending) and self.clock.now() < self.until:
            now = self.clock.now()
            upto = int((pending["event_ts"] <= now).sum())
            if upto > cursor:
                batch = pending.iloc[cursor:upto]
                write_ta_signals(self.engine, batch)
                wall = time.monotonic()
                for symbol, ts in zip(batch["symbol"], batch["event_ts"], strict=True):
                    self.arrived[(str(symbol), pd.Timestamp(ts))] = wall
                cursor = upto
            time.sleep(0.05)
        self.done.set()


def _signals(minutes: int) -> pd.DataFrame:
    from torghut_assets.adapters.market_simulator import MarketSimulator

    frame = MarketSimulator().signals(SESSION_OPEN, START + pd.Timedelta(minutes=minutes))
    keep = [c for c in frame.columns if c not in ("price", "close", "vwap", "lane", "window_start")]
    return frame[keep]


def _setup(home: Path) -> tuple[str, str]:
    from torghut_assets.adapters.sql_signal_source import create_ta_signals_table
    from torghut_assets.ledger.engine import create_ledger_engine
    from torghut_assets.ledger.migrate import upgrade

    ledger_url = f"sqlite:///{home / 'ledger.db'}"
    signal_url = f"sqlite:///{home / 'signals.db'}"
    engine = create_ledger_engine(ledger_url)
    upgrade(engine)
    engine.dispose()
    import sqlalchemy as sa

    signal_engine = sa.create_engine(signal_url)
    create_ta_signals_table(signal_engine)
    signal_engine.dispose()
    return ledger_url, signal_url


def _project(minutes: int, speed: float, interval: float) -> dict[str, Any]:
    import sqlalchemy as sa

    from bench.recording_venue import RecordingBroker
    from torghut_assets.defs.alerts import AlertsResource
    from torghut_assets.defs.lane_window.open_window import advance_open_windows
    from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
    from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
    from torghut_assets.defs.resources import LedgerResource, MarketDataResource
    from torghut_assets.ledger import schema
    from torghut_assets.ledger.engine import create_ledger_engine

    home = Path(tempfile.mkdtemp(prefix="torghut-bench-loop-"))
    ledger_url, signal_url = _setup(home)
    signal_engine = sa.create_engine(signal_url)
    rows = _signals(minutes)
    clock = Clock(START, speed)
    until = START + pd.Timedelta(minutes=minutes)
    writer = Writer(signal_engine, rows[rows["event_ts"] >= START], clock, until)
    write_prefix(signal_engine, rows[rows["event_ts"] < START])
    broker = RecordingBroker()
    resources = {
        "ledger": LedgerResource(database_url=ledger_url, artifact_root=str(home / "artifacts")),
        "market_data": MarketDataResource(source="sql", sql_url=signal_url),
        "broker": broker,
        "trading_session": TradingSessionResource(lane_modes="macd_rsi=paper,ema_trend=paper"),
        "llm": LLMAdvisoryResource(),
        "alerts": AlertsResource(),
    }
    writer.start()
    ticks: list[float] = []
    while not writer.done.is_set():
        began = time.monotonic()
        advance_open_windows(resources, clock.now())
        ticks.append(time.monotonic() - began)
        time.sleep(max(0.0, interval - (time.monotonic() - began)))
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        decisions = {
            r.decision_hash: (r.symbol, pd.Timestamp(r.signal_event_ts).tz_localize("UTC"))
            for r in conn.execute(sa.select(schema.trade_decisions))
        }
        expired = sum(
            1
            for (status, payload) in conn.execute(
                sa.select(schema.trade_decisions.c.status, schema.trade_decisions.c.decision_json)
            )
            if status == "rejected" and "submission" in (payload or {})
        )
    engine.dispose()
    sent = {
        decisions[cid]: accepted
        for cid, accepted in broker.recorder.accepted_at.items()
        if cid in decisions and decisions[cid] in writer.arrived
    }
    latencies = [accepted - writer.arrived[key] for key, accepted in sent.items()]
    return {
        "latencies": latencies,
        "ticks": ticks,
        "expired": expired,
        "orders": len(latencies),
        "keys": set(sent),
    }


def write_prefix(engine: Any, rows: pd.DataFrame) -> None:
    from torghut_assets.adapters.sql_signal_source import write_ta_signals

    if not rows.empty:
        write_ta_signals(engine, rows)


def _baseline(minutes: int, speed: float, keys: set[tuple[str, pd.Timestamp]] | None) -> dict[str, Any]:
    import sqlalchemy as sa

    from torghut_assets.adapters.sql_signal_source import SqlSignalSource

    home = Path(tempfile.mkdtemp(prefix="torghut-bench-poll-"))
    _, signal_url = _setup(home)
    signal_engine = sa.create_engine(signal_url)
    rows = _signals(minutes)
    clock = Clock(START, speed)
    writer = Writer(
        signal_engine, rows[rows["event_ts"] >= START], clock, START + pd.Timedelta(minutes=minutes)
    )
    source = SqlSignalSource(signal_url)
    seen: dict[tuple[str, pd.Timestamp], float] = {}
    cursor = START
    writer.start()
    ticks: list[float] = []
    while not writer.done.is_set():
        began = time.monotonic()
        now = clock.now()
        frame = source.fetch_window(cursor, now)
        wall = time.monotonic()
        for symbol, ts in zip(frame["symbol"], frame["event_ts"], strict=True):
            seen.setdefault((str(symbol), pd.Timestamp(ts)), wall)
        cursor = now
        ticks.append(wall - began)
        time.sleep(max(0.0, REFERENCE_POLL_SECONDS - (time.monotonic() - began)))
    wanted = keys if keys else set(seen)
    latencies = [seen[k] - writer.arrived[k] for k in wanted if k in seen and k in writer.arrived]
    return {"latencies": latencies, "ticks": ticks, "expired": 0, "orders": len(latencies)}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)  # nearest rank, as the 72 h report's p95
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--interval", type=float, default=15.0, help="loop interval (wall seconds)")
    parser.add_argument("--speed", type=float, default=20.0, help="session seconds per wall second")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="torghut-bench-home-"))
    minutes = 40 if args.quick else 59
    project = _project(minutes, args.speed, args.interval)
    baseline = _baseline(minutes, args.speed, project["keys"])
    p50, p95 = _pct(project["latencies"], 0.5), _pct(project["latencies"], 0.95)
    b50, b95 = _pct(baseline["latencies"], 0.5), _pct(baseline["latencies"], 0.95)
    tick50, tick95 = _pct(project["ticks"], 0.5), _pct(project["ticks"], 0.95)
    table = (
        f"Session: {minutes} min of simulated signals (2 paper lanes, {len(project['ticks'])} ticks) at "
        f"{args.speed:g}× session speed; loop interval {args.interval:g} s (project) vs the reference's "
        f"{REFERENCE_POLL_SECONDS:g} s poll (baseline).\n\n"
        "| Side | Orders / rows | p50 s | p95 s | tick p50 s | tick p95 s | expired |\n|---|---:|---:|---:|---:|---:|---:|\n"
        f"| project: open-window loop → stub venue | {project['orders']} | {p50:.2f} | {p95:.2f} | "
        f"{tick50:.2f} | {tick95:.2f} | {project['expired']} |\n"
        f"| baseline: 5 s poll, read only, same signals | {baseline['orders']} | {b50:.2f} | {b95:.2f} | "
        f"{_pct(baseline['ticks'], 0.5):.3f} | {_pct(baseline['ticks'], 0.95):.3f} | 0 |\n\n"
        f"Ratio p95 project / baseline: **{p95 / b95:.2f}×**. Target p95 ≤ {TARGET_P95_SECONDS:g} s: "
        f"**{'met' if p95 <= TARGET_P95_SECONDS else 'missed'}**. Bound: the wait for the next tick "
        f"(uniform in [0, {args.interval:g}] s) plus one tick ({tick50:.2f} s p50, {tick95:.2f} s p95).\n"
    )
    print(table)
    if args.write:
        from bench.run import write_section

        write_section(args.write, f"bench:{'quick' if args.quick else 'full'}:open_window_latency", table)
    return 0 if p95 <= TARGET_P95_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
