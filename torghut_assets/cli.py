"""`torghut-assets`: operator commands that are not Dagster runs (migrations, dev seeding)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from torghut_assets.ledger.engine import LedgerConfigError, create_ledger_engine, default_database_url


def _url(explicit: str | None) -> str:
    return explicit or os.environ.get("TORGHUT_DATABASE_URL") or default_database_url()


def _db_upgrade(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.migrate import current_revision, upgrade

    engine = create_ledger_engine(_url(args.url))
    upgrade(engine, args.revision)
    print(f"ledger {engine.url.render_as_string(hide_password=True)} at revision {current_revision(engine)}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.migrate import current_revision, head_revision

    engine = create_ledger_engine(_url(args.url))
    current, head = current_revision(engine), head_revision()
    print(f"current={current or 'none'} head={head}")
    return 0 if current == head else 1


def _dev_seed(args: argparse.Namespace) -> int:
    from torghut_assets.dev_seed import seed_recent_windows

    for line in seed_recent_windows(windows=args.windows, market_windows=args.market_windows):
        print(line)
    return 0


def _evidence_verify(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.evidence_digests import live_recompute
    from torghut_assets.ledger.evidence_log import verify_chain

    engine = create_ledger_engine(_url(args.url))
    with engine.connect() as conn:
        result = verify_chain(conn, recompute=None if args.shallow else live_recompute(conn))
    print(
        f"evidence chain {'OK' if result.ok else 'BROKEN'}: {result.entries_checked} entries, "
        f"head seq {result.head_seq} hash {result.head_hash}"
    )
    for problem in result.breaks[:50]:
        print(f"  seq {problem.seq}: {problem.problem}")
    return 0 if result.ok else 1


def _replay(args: argparse.Namespace) -> int:
    import pandas as pd

    from torghut_assets.definitions import default_resources
    from torghut_assets.defs.partitions import lane_window_from_key
    from torghut_assets.defs.replay import record_replay, replay_window

    resources = default_resources()
    ledger = resources["ledger"]
    if args.url:
        ledger = ledger.model_copy(update={"database_url": args.url})  # type: ignore[attr-defined]
    window = lane_window_from_key(f"{args.lane}|{args.window}")
    report = replay_window(
        ledger, resources["market_data"], resources["research_settings"].settings(), window
    )  # type: ignore[attr-defined]
    recorded = record_replay(ledger, report, pd.Timestamp.now(tz="UTC"))
    print(
        f"{window.label()} run {report.run_id}: {'MATCH' if report.matched else 'MISMATCH'} "
        f"({report.rows_compared} rows compared)"
    )
    for diff in report.differences[:50]:
        print(f"  {diff.table}.{diff.field} [{diff.row}]: stored={diff.stored!r} replayed={diff.replayed!r}")
    print(f"report: {recorded['artifact']['path']}")
    return 0 if report.matched else 1


def _emergency_stop_clear(args: argparse.Namespace) -> int:
    import datetime as dt

    from torghut_assets.domain.continuity import EmergencyStopNotActive
    from torghut_assets.domain.lanes import UnknownLaneError, lane_config
    from torghut_assets.services.emergency_stop import ClearanceSource, clear_lane_emergency_stop

    try:
        lane_config(args.lane)
        engine = create_ledger_engine(_url(args.url))
        with engine.begin() as conn:
            cleared = clear_lane_emergency_stop(
                conn,
                lane=args.lane,
                actor=args.actor,
                reason=args.reason,
                source=ClearanceSource.CLI,
                at=dt.datetime.now(dt.UTC),
            )
    except (UnknownLaneError, EmergencyStopNotActive, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"emergency stop on {cleared.lane} cleared by {cleared.actor}: "
        f"{', '.join(cleared.cleared_reasons) or '(no reasons recorded)'}; clearance {cleared.clearance_id}"
    )
    return 0


def _approve(args: argparse.Namespace) -> int:
    import datetime as dt

    from torghut_assets.defs.approvals import (
        ApprovalConfig,
        ApprovalRefusedError,
        mint_approval,
        record_approval_refusal,
    )
    from torghut_assets.defs.governance_resource import GovernanceConfigError, GovernanceResource
    from torghut_assets.settings import load_settings

    settings = load_settings()
    governance = GovernanceResource(
        policy_path=settings.gate_policy_path,
        approval_secret=os.environ.get("TORGHUT_APPROVAL_SECRET") or None,
        allow_dev_secret=settings.profile != "production",
    )
    config = ApprovalConfig(
        candidate_id=args.candidate,
        target_stage=args.stage,
        approver=args.approver,
        approver_role=args.role,
        reason=args.reason,
        symbols=[s for s in (args.symbols or "").split(",") if s.strip()],
        expires_in_hours=args.expires_in_hours,
    )
    engine = create_ledger_engine(_url(args.url))
    now = dt.datetime.now(dt.UTC)
    try:
        secret, source = governance.secret()
        with engine.begin() as conn:
            record, token, reviewed = mint_approval(
                conn, config, secret=secret, policy_checksum=governance.policy().checksum(), now=now
            )
    except (ApprovalRefusedError, GovernanceConfigError) as exc:
        with engine.begin() as conn:
            record_approval_refusal(conn, config, str(exc), now)
        print(f"approval refused: {exc}", file=sys.stderr)
        return 1
    print(f"override {record.override_id} for {record.candidate_id} -> {record.scope.target_mode}")
    print(f"reviewed gate evaluation {reviewed['id']}; expires {record.expires_at.isoformat()}")
    print(f"signed with the {source} secret")
    print(token)
    return 0


def _config_check(args: argparse.Namespace) -> int:
    from torghut_assets.config_report import check_report

    lines, ok = check_report(os.environ)
    print("\n".join(lines).lstrip("\n"))
    return 0 if ok else 1


def _metrics_serve(args: argparse.Namespace) -> int:
    import datetime as dt

    from torghut_assets.adapters.prometheus_text import serve
    from torghut_assets.defs.route_metrics import compute_samples
    from torghut_assets.domain.route_metrics import Sample
    from torghut_assets.settings import load_settings

    policy = load_settings().llm_policy
    engine = create_ledger_engine(_url(args.url))

    def compute() -> list[Sample]:
        with engine.connect() as conn:
            return compute_samples(conn, dt.datetime.now(dt.UTC), policy)

    server, thread = serve(compute, host=args.host, port=args.port)
    print(f"serving http://{args.host}:{server.server_port}/metrics from the ledger", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="torghut-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="ledger schema migrations").add_subparsers(
        dest="db_command", required=True
    )
    up = db.add_parser("upgrade", help="migrate the ledger to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument(
        "--url", help="SQLAlchemy URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    up.set_defaults(func=_db_upgrade)
    cur = db.add_parser("current", help="print the ledger revision; exit 1 if behind head")
    cur.add_argument("--url")
    cur.set_defaults(func=_db_current)
    evidence = sub.add_parser("evidence", help="hash-chained evidence log").add_subparsers(
        dest="evidence_command", required=True
    )
    verify = evidence.add_parser("verify", help="walk the chain; exit 1 on any break or tampered row")
    verify.add_argument("--url")
    verify.add_argument(
        "--shallow", action="store_true", help="chain only; skip recomputing live row digests"
    )
    verify.set_defaults(func=_evidence_verify)
    replay = sub.add_parser("replay", help="recompute a lane window's research and compare with the ledger")
    replay.add_argument("--lane", required=True)
    replay.add_argument("--window", required=True, help="window start, e.g. 2026-03-03-15:00 (UTC)")
    replay.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    replay.set_defaults(func=_replay)
    stop = sub.add_parser("emergency-stop", help="a lane's emergency stop").add_subparsers(
        dest="emergency_stop_command", required=True
    )
    clear = stop.add_parser(
        "clear", help="clear a latched emergency stop (attributed, explained, recorded as evidence)"
    )
    clear.add_argument("--lane", required=True)
    clear.add_argument("--actor", required=True, help="who clears it, e.g. oncall@desk")
    clear.add_argument("--reason", required=True, help="why trading may resume")
    clear.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    clear.set_defaults(func=_emergency_stop_clear)
    approve = sub.add_parser(
        "approve", help="mint a signed, single-use approval override; prints the token on the last line"
    )
    approve.add_argument("--candidate", required=True)
    approve.add_argument("--stage", required=True, help="paper | live_l1 | live_l2 | live_l3")
    approve.add_argument("--approver", required=True)
    approve.add_argument("--role", required=True, help="risk_officer | head_of_trading")
    approve.add_argument("--reason", required=True)
    approve.add_argument("--symbols", help="comma-separated symbols in scope")
    approve.add_argument("--expires-in-hours", type=float, default=24.0)
    approve.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    approve.set_defaults(func=_approve)
    config = sub.add_parser("config", help="environment variables").add_subparsers(
        dest="config_command", required=True
    )
    check = config.add_parser(
        "check", help="print every variable in effect (secrets masked); exit 1 listing problems if invalid"
    )
    check.set_defaults(func=_config_check)
    metrics = sub.add_parser("metrics", help="operator metrics (Prometheus text)").add_subparsers(
        dest="metrics_command", required=True
    )
    serve = metrics.add_parser("serve", help="serve /metrics, computed from the ledger on every scrape")
    serve.add_argument("--port", type=int, default=9464)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 to expose)")
    serve.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    serve.set_defaults(func=_metrics_serve)
    seed = sub.add_parser("dev-seed", help="materialize recent lane windows into the local Dagster instance")
    seed.add_argument("--windows", type=int, default=2, help="most recent closed windows per lane")
    seed.add_argument(
        "--market-windows", type=int, default=3, help="most recent market-hours windows per lane"
    )
    seed.set_defaults(func=_dev_seed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LedgerConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
