"""Reconciliation at scale on PostgreSQL: the project's set-based checks vs one hand-written anti-join
per link, over a generated ledger (default 100 k runs, 1 M executions). Prints times and ratios.

Usage: .venv/bin/python bench/reconciliation_scale.py [--runs 100000] [--executions 1000000]
(needs PostgreSQL; TORGHUT_BENCH_POSTGRES_URL, default postgresql+psycopg2://postgres@127.0.0.1:5432/test)
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from torghut_assets.ledger import reconciliation as rec
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade

START = "2026-01-05 00:00:00+00"

GENERATE = """
INSERT INTO strategies (id, name, strategy_type, version)
  VALUES ('00000000-0000-0000-0000-000000000001', 'bench@1', 'bench', '1');
INSERT INTO research_runs (id, run_id, run_kind, status, lane, window_start, window_end, dataset_version, created_at)
  SELECT md5('run'||g)::uuid, substr(md5('run'||g), 1, 24), 'lane_window', 'passed',
         CASE WHEN g % 2 = 0 THEN 'macd_rsi' ELSE 'ema_trend' END,
         timestamptz '{start}' + (g / 2) * interval '1 hour', timestamptz '{start}' + (g / 2 + 1) * interval '1 hour',
         md5('ds'||g), now()
  FROM generate_series(1, {runs}) g;
INSERT INTO research_candidates (id, run_id, candidate_id, lane, window_start, created_at)
  SELECT md5('cand'||g)::uuid, r.run_id, 'cand-'||r.run_id, r.lane, r.window_start, now()
  FROM generate_series(1, {runs}) g JOIN research_runs r ON r.id = md5('run'||g)::uuid;
INSERT INTO research_fold_metrics (id, candidate_id, fold_name, fold_order, train_start, train_end, test_start, test_end,
                                   lane, window_start, created_at)
  SELECT md5('fold'||c.candidate_id||f)::uuid, c.candidate_id, 'fold_'||f, f, c.window_start, c.window_start,
         c.window_start, c.window_start, c.lane, c.window_start, now()
  FROM research_candidates c CROSS JOIN generate_series(1, 3) f;
INSERT INTO research_stress_metrics (id, candidate_id, stress_case, lane, window_start, created_at)
  SELECT md5('stress'||c.candidate_id||s)::uuid, c.candidate_id, s, c.lane, c.window_start, now()
  FROM research_candidates c CROSS JOIN unnest(ARRAY['spread','volatility','liquidity','halt']) s;
INSERT INTO research_promotions (id, candidate_id, run_id, approver_role, decision_action, approve_reason,
                                 lane, window_start, created_at)
  SELECT md5('promo'||r.run_id)::uuid, 'cand-'||r.run_id, r.run_id, 'autonomous_scheduler', 'hold', '{{}}',
         r.lane, r.window_start, now()
  FROM research_runs r;
INSERT INTO trade_decisions (id, strategy_id, symbol, timeframe, decision_json, decision_hash, lane, window_start,
                             signal_event_ts, signal_seq, created_at)
  SELECT md5('dec'||g)::uuid, '00000000-0000-0000-0000-000000000001', 'AAPL', '1Min', '{{}}', md5('dec'||g)||md5('x'||g),
         CASE WHEN g % 2 = 0 THEN 'macd_rsi' ELSE 'ema_trend' END,
         timestamptz '{start}' + ((g % {runs}) / 2) * interval '1 hour', timestamptz '{start}', 0, now()
  FROM generate_series(1, {executions}) g;
INSERT INTO executions (id, trade_decision_id, alpaca_account_label, alpaca_order_id, client_order_id, symbol, side,
                        order_type, time_in_force, submitted_qty, status, execution_expected_adapter,
                        execution_actual_adapter, lane, window_start, created_at)
  SELECT md5('exe'||g)::uuid, md5('dec'||g)::uuid, 'paper', 'sim-'||g, md5('dec'||g)||md5('x'||g), 'AAPL', 'buy',
         'market', 'day', 1, 'filled', 'simulator', 'simulator',
         CASE WHEN g % 2 = 0 THEN 'macd_rsi' ELSE 'ema_trend' END,
         timestamptz '{start}' + ((g % {runs}) / 2) * interval '1 hour', now()
  FROM generate_series(1, {executions}) g;
ANALYZE;
"""

BASELINE = [
    "SELECT r.run_id FROM research_runs r WHERE r.status <> 'skipped' AND NOT EXISTS "
    "(SELECT 1 FROM research_candidates c WHERE c.run_id = r.run_id)",
    "SELECT r.run_id FROM research_runs r WHERE r.status <> 'skipped' AND NOT EXISTS "
    "(SELECT 1 FROM research_promotions p WHERE p.run_id = r.run_id AND p.approver_role = 'autonomous_scheduler')",
    "SELECT c.candidate_id FROM research_candidates c LEFT JOIN (SELECT candidate_id, count(*) n FROM "
    "research_fold_metrics GROUP BY candidate_id) f USING (candidate_id) WHERE coalesce(f.n, 0) < 3",
    "SELECT c.candidate_id FROM research_candidates c LEFT JOIN (SELECT candidate_id, count(DISTINCT stress_case) n "
    "FROM research_stress_metrics GROUP BY candidate_id) s USING (candidate_id) WHERE coalesce(s.n, 0) < 4",
    "SELECT c.candidate_id FROM research_candidates c WHERE NOT EXISTS (SELECT 1 FROM research_runs r "
    "WHERE r.run_id = c.run_id)",
    "SELECT f.candidate_id FROM research_fold_metrics f WHERE NOT EXISTS (SELECT 1 FROM research_candidates c "
    "WHERE c.candidate_id = f.candidate_id)",
    "SELECT s.candidate_id FROM research_stress_metrics s WHERE NOT EXISTS (SELECT 1 FROM research_candidates c "
    "WHERE c.candidate_id = s.candidate_id)",
    "SELECT p.run_id FROM research_promotions p WHERE NOT EXISTS (SELECT 1 FROM research_runs r "
    "WHERE r.run_id = p.run_id)",
    "SELECT e.client_order_id FROM executions e WHERE NOT EXISTS (SELECT 1 FROM trade_decisions d "
    "WHERE d.id = e.trade_decision_id)",
    "SELECT e.client_order_id FROM executions e WHERE e.execution_actual_adapter IN ('unknown', '')",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    args = parser.parse_args()
    admin_url = os.environ.get(
        "TORGHUT_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    )
    name = f"torghut_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_ledger_engine(make_url(admin_url).set(database=name).render_as_string(False))
    try:
        upgrade(engine)
        started = time.perf_counter()
        raw = engine.raw_connection()
        try:
            raw.cursor().execute(GENERATE.format(start=START, runs=args.runs, executions=args.executions))
            raw.commit()
        finally:
            raw.close()
        print(
            f"generated {args.runs} runs / {args.executions} executions in {time.perf_counter() - started:.1f} s"
        )
        since = pd.Timestamp(START).to_pydatetime()
        until = (pd.Timestamp(START) + pd.Timedelta(hours=args.runs)).to_pydatetime()
        started = time.perf_counter()
        with engine.connect() as conn:
            findings = [
                rec.research_chain(conn, since, until),
                rec.orphans(conn, since, until),
                rec.route_provenance(conn, since, until),
            ]
        project = time.perf_counter() - started
        started = time.perf_counter()
        with engine.connect() as conn:
            for query in BASELINE:
                conn.execute(sa.text(query)).fetchall()
        baseline = time.perf_counter() - started
        print("findings:", {f.check: (f.passed, f.examined, f.failing) for f in findings})
        print(
            f"project checks: {project:.2f} s   hand-written anti-joins: {baseline:.2f} s   "
            f"ratio: {project / baseline:.2f}"
        )
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
